//! Data-quality checks declared in a pipeline file (`[[checks]]`), run on the finished tables
//! before anything is published.
//!
//! Kinds: `not_null`, `unique`, `accepted_values`, `relationship` (every value a region code of
//! the registry), `range`, `row_count`, `coverage` (expected regions × years present),
//! `freshness` (latest year in a column, or a source's own update date), `known_value` (a figure
//! the pipeline pins with its reference) and `regions_agree` (two codes of one area, see
//! `agree.rs`). Each has a severity:
//! `warn` is reported and published with the outputs; `error` (or any failure under `--strict`)
//! stops the run before publishing.
//!
//! Choices where the issue is silent, as dbt and Great Expectations make them: a null passes
//! `accepted_values`, `relationship` and `range` (`not_null` is the check for nulls); `where`
//! narrows a check to rows whose columns equal the given values (compared as text); `coverage`
//! asks for a row per (region, year), whatever its value (pair it with `not_null` on `value`);
//! rows with a null key are not duplicates for `unique`.
//!
//! A failing check's rows are kept in full, after three columns `check_name`, `check_severity`
//! and `check_reason`: published as `quarantine/checks/<name>.parquet` for a warning, or written
//! beside the failed run's manifest as `_runs/<run_id>/quarantine/checks/<name>.parquet` when
//! the run is stopped.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use serde::Serialize;

use crate::error::{InternalError, PolarsContext};
use crate::model::config::checks::{Check, CheckKind, NamedRegions, RegionSet, Severity};
use crate::model::contract::{ColumnContract, ColumnType, Contract};

mod agree;

/// What checks compare against besides the tables.
pub struct CheckContext<'a> {
    /// Every region code the registry knows (any level, any year), and `SSS`.
    pub known_regions: &'a BTreeSet<String>,
    /// The pipeline's focus regions.
    pub focus: &'a [String],
    /// Counties of the reference year.
    pub counties: &'a [String],
    /// Municipalities of the reference year.
    pub municipalities: &'a [String],
    /// The pipeline's years.
    pub years: &'a [i16],
    /// The run's date.
    pub as_of: NaiveDate,
    /// The latest update date each source declares (JSON-stat `updated`, Sotkanet
    /// `data-updated`), `None` when it declares none.
    pub source_updated: &'a BTreeMap<String, Option<NaiveDate>>,
}

/// `pass`, `warn` or `fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Nothing failed.
    Pass,
    /// Failed with severity `warn`.
    Warn,
    /// Failed with severity `error`, or `warn` under `--strict`.
    Fail,
}

/// One check's result, as the manifest reports it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutcome {
    /// The check's name.
    pub name: String,
    /// Its kind.
    pub kind: CheckKind,
    /// Its declared severity.
    pub severity: Severity,
    /// The table checked.
    pub table: Option<String>,
    /// `pass`, `warn` or `fail`.
    pub status: CheckStatus,
    /// Rows that failed (for `coverage`, region-year pairs missing; 0 for checks of a whole
    /// table or source).
    pub failing_rows: usize,
    /// What was found.
    pub message: String,
    /// Up to five failing rows.
    pub sample: Vec<serde_json::Value>,
    /// Where the failing rows are, relative to the output folder.
    pub quarantine: Option<String>,
}

/// A check's outcome and its failing rows (with the three `check_*` columns first).
pub struct CheckRun {
    /// The outcome.
    pub outcome: CheckOutcome,
    /// The failing rows, when the check is about rows and some failed.
    pub rows: Option<DataFrame>,
    /// The contract of `rows`.
    pub contract: Option<Contract>,
}

/// Runs every check on the tables; `strict` makes warnings failures.
pub fn run_checks(
    checks: &[Check],
    tables: &BTreeMap<&str, &DataFrame>,
    ctx: &CheckContext<'_>,
    strict: bool,
) -> Result<Vec<CheckRun>, InternalError> {
    let mut runs = Vec::with_capacity(checks.len());
    for c in checks {
        let found = evaluate(c, tables, ctx)?;
        let failed = found.failed || found.reasons.as_ref().is_some_and(|r| !r.1.is_empty());
        let status = match (failed, c.severity, strict) {
            (false, _, _) => CheckStatus::Pass,
            (true, Severity::Warn, false) => CheckStatus::Warn,
            _ => CheckStatus::Fail,
        };
        let name = c.name.clone();
        let (rows, contract, failing_rows) = match found.reasons {
            Some((frame, reasons, columns)) if !reasons.is_empty() => {
                let n = reasons.len();
                let severity = c.severity.name();
                let mut cols: Vec<Column> = vec![
                    Column::new("check_name".into(), vec![name.as_str(); n]),
                    Column::new("check_severity".into(), vec![severity; n]),
                    Column::new("check_reason".into(), reasons),
                ];
                cols.extend(frame.columns().iter().cloned());
                let df = DataFrame::new(n, cols).context("building a check's failing rows")?;
                let contract = rows_contract(&name, columns);
                (Some(df), Some(contract), n)
            }
            _ => (None, None, 0),
        };
        let sample = match &rows {
            Some(df) => sample(df)?,
            None => Vec::new(),
        };
        runs.push(CheckRun {
            outcome: CheckOutcome {
                name,
                kind: c.kind,
                severity: c.severity,
                table: c.table.clone(),
                status,
                failing_rows,
                message: found.message,
                sample,
                quarantine: None,
            },
            rows,
            contract,
        });
    }
    Ok(runs)
}

/// The contract of a check's failing rows: the three `check_*` columns, then the table's
/// columns, all nullable.
fn rows_contract(name: &str, columns: Vec<ColumnContract>) -> Contract {
    let text = |n: &str, d: &str| ColumnContract {
        name: n.to_owned(),
        kind: ColumnType::String,
        nullable: false,
        description: d.to_owned(),
        unit: None,
    };
    let mut all = vec![
        text("check_name", "The check that failed"),
        text("check_severity", "Its severity: warn or error"),
        text("check_reason", "Why this row failed"),
    ];
    all.extend(columns.into_iter().map(|c| ColumnContract {
        nullable: true,
        ..c
    }));
    Contract {
        table: format!("check:{name}"),
        schema_version: 1,
        description: format!("Rows that failed check `{name}`"),
        columns: all,
        extra_columns: None,
    }
}

/// What one check found.
struct Found {
    /// A whole-table or source condition failed.
    failed: bool,
    message: String,
    /// Failing rows, one reason each, and the contract columns of those rows.
    reasons: Option<(DataFrame, Vec<String>, Vec<ColumnContract>)>,
}

fn evaluate(
    c: &Check,
    tables: &BTreeMap<&str, &DataFrame>,
    ctx: &CheckContext<'_>,
) -> Result<Found, InternalError> {
    let ctxerr = |what: &str| format!("check `{}`: {what}", c.name);
    if let (CheckKind::Freshness, Some(source), Some(days)) = (&c.kind, &c.source, c.max_age_days) {
        let id = source;
        let (failed, message) = match ctx.source_updated.get(id).copied().flatten() {
            Some(date) => {
                let age = (ctx.as_of - date).num_days();
                (
                    age > i64::from(days),
                    format!(
                        "source `{id}` was updated on {date}, {age} days before {} (limit {days})",
                        ctx.as_of
                    ),
                )
            }
            None => (
                true,
                format!(
                    "source `{id}` declares no update date (JSON-stat `updated` or Sotkanet `data-updated`)"
                ),
            ),
        };
        return Ok(Found {
            failed,
            message,
            reasons: None,
        });
    }
    let Some(table) = &c.table else {
        return Err(InternalError::Invariant(ctxerr("no table")));
    };
    // A table the run did not produce (e.g. no KPA source) has no rows.
    let contract = Contract::for_table(table)?;
    let produced = tables.get(table.as_str());
    let row_level = matches!(
        &c.kind,
        CheckKind::NotNull
            | CheckKind::Unique
            | CheckKind::AcceptedValues
            | CheckKind::Relationship
            | CheckKind::Range
            | CheckKind::KnownValue
            | CheckKind::RegionsAgree
    );
    let df = match (produced, &c.filter) {
        (Some(df), Some(f)) => filtered(df, f)?,
        (Some(df), None) => (*df).clone(),
        (None, _) if row_level => {
            return Ok(Found {
                failed: false,
                message: format!("the run produced no `{table}` table: no rows to check"),
                reasons: None,
            });
        }
        (None, _) => DataFrame::empty(),
    };
    let scope = match &c.filter {
        Some(f) => format!(
            "`{table}` where {}",
            f.iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => format!("`{table}`"),
    };
    let table_columns = |df: &DataFrame| -> Vec<ColumnContract> {
        df.get_column_names()
            .iter()
            .map(|n| {
                contract
                    .columns
                    .iter()
                    .find(|k| k.name == n.as_str())
                    .cloned()
                    .unwrap_or_else(|| ColumnContract {
                        name: n.to_string(),
                        kind: contract.extra_columns.unwrap_or(ColumnType::Float64),
                        nullable: true,
                        description: "Indicator value".to_owned(),
                        unit: None,
                    })
            })
            .collect()
    };
    let rows = |mask: BooleanChunked, reasons: Vec<String>| -> Result<Found, InternalError> {
        let failing = df.filter(&mask).context("selecting failing rows")?;
        let n = failing.height();
        let cols = table_columns(&failing);
        Ok(Found {
            failed: false,
            message: format!("{n} of {} rows of {scope} fail", df.height()),
            reasons: Some((failing, reasons, cols)),
        })
    };
    match &c.kind {
        CheckKind::NotNull => {
            let cols = c.columns.clone();
            let nulls: Vec<BooleanChunked> = cols
                .iter()
                .map(|n| Ok(column(&df, n)?.is_null()))
                .collect::<Result<_, InternalError>>()?;
            let mut reasons = Vec::new();
            let mask: BooleanChunked = (0..df.height())
                .map(|i| {
                    let null: Vec<&str> = cols
                        .iter()
                        .zip(&nulls)
                        .filter(|(_, m)| m.get(i).unwrap_or(false))
                        .map(|(n, _)| n.as_str())
                        .collect();
                    if null.is_empty() {
                        false
                    } else {
                        reasons.push(format!("null in {}", quoted(&null)));
                        true
                    }
                })
                .collect();
            rows(mask, reasons)
        }
        CheckKind::Unique => {
            let cols = c.columns.clone();
            let keys: Vec<StringChunked> = cols
                .iter()
                .map(|n| text(&df, n))
                .collect::<Result<_, _>>()?;
            let key_of =
                |i: usize| -> Option<Vec<&str>> { keys.iter().map(|k| k.get(i)).collect() };
            let mut counts: std::collections::HashMap<Vec<&str>, usize> =
                std::collections::HashMap::new();
            for i in 0..df.height() {
                if let Some(k) = key_of(i) {
                    *counts.entry(k).or_default() += 1;
                }
            }
            let mut reasons = Vec::new();
            let mask: BooleanChunked = (0..df.height())
                .map(|i| match key_of(i).and_then(|k| counts.get(&k).copied()) {
                    Some(n) if n > 1 => {
                        reasons.push(format!(
                            "key ({}) occurs {n} times",
                            quoted(&cols.iter().map(String::as_str).collect::<Vec<_>>())
                        ));
                        true
                    }
                    _ => false,
                })
                .collect();
            rows(mask, reasons)
        }
        CheckKind::AcceptedValues | CheckKind::Relationship => {
            let name = c.column.as_str();
            let accepted: BTreeSet<&str> = c.values.iter().flatten().map(String::as_str).collect();
            let relationship = c.kind == CheckKind::Relationship;
            let values = text(&df, name)?;
            let mut reasons = Vec::new();
            let mask: BooleanChunked = values
                .iter()
                .map(|v| match v {
                    Some(v) if relationship && !ctx.known_regions.contains(v) => {
                        reasons.push(format!(
                            "`{name}` = `{v}` is not a region code of the registry"
                        ));
                        true
                    }
                    Some(v) if !relationship && !accepted.contains(v) => {
                        reasons.push(format!("`{name}` = `{v}` is not an accepted value"));
                        true
                    }
                    _ => false,
                })
                .collect();
            rows(mask, reasons)
        }
        CheckKind::Range => {
            let name = c.column.as_str();
            let values = column(&df, name)?
                .cast(&DataType::Float64)
                .context("reading a range check's column")?;
            let values = values.f64().context("reading a range check's column")?;
            let (lo, hi) = (
                c.min.unwrap_or(f64::NEG_INFINITY),
                c.max.unwrap_or(f64::INFINITY),
            );
            let mut reasons = Vec::new();
            let mask: BooleanChunked = values
                .iter()
                .map(|v| match v {
                    Some(v) if !(lo..=hi).contains(&v) => {
                        reasons.push(format!("`{name}` = {v} is outside [{lo}, {hi}]"));
                        true
                    }
                    _ => false,
                })
                .collect();
            rows(mask, reasons)
        }
        CheckKind::KnownValue => {
            let name = c.column.as_str();
            let expected = c.expected.unwrap_or_default();
            let reference = c.reference.as_deref().unwrap_or_default();
            if df.height() == 0 {
                return Ok(Found {
                    failed: true,
                    message: format!(
                        "{scope} has no row: the known value {expected} ({reference}) has nothing to compare with"
                    ),
                    reasons: None,
                });
            }
            let values = column(&df, name)?
                .cast(&DataType::Float64)
                .context("reading a known_value check's column")?;
            let values = values
                .f64()
                .context("reading a known_value check's column")?;
            let mut reasons = Vec::new();
            let mask: BooleanChunked = values
                .iter()
                .map(|v| match v {
                    Some(v) if (v - expected).abs() <= c.tolerance => false,
                    Some(v) => {
                        reasons.push(format!(
                            "`{name}` = {v}, but {reference} gives {expected} (tolerance {})",
                            c.tolerance
                        ));
                        true
                    }
                    None => {
                        reasons.push(format!("`{name}` is missing; {reference} gives {expected}"));
                        true
                    }
                })
                .collect();
            rows(mask, reasons)
        }
        CheckKind::RegionsAgree => {
            let (mask, reasons) = agree::regions_agree(c, &df, tables)?;
            rows(mask, reasons)
        }
        CheckKind::RowCount => {
            let n = df.height();
            #[allow(clippy::cast_precision_loss)]
            let x = n as f64;
            let failed = c.min.is_some_and(|m| x < m) || c.max.is_some_and(|m| x > m);
            Ok(Found {
                failed,
                message: format!("{scope} has {n} rows; expected {}", bounds(c.min, c.max)),
                reasons: None,
            })
        }
        CheckKind::Coverage => {
            let regions: Vec<&str> = match c.regions.as_ref() {
                Some(RegionSet::Named(NamedRegions::Focus)) => {
                    ctx.focus.iter().map(String::as_str).collect()
                }
                Some(RegionSet::Named(NamedRegions::Counties)) => {
                    ctx.counties.iter().map(String::as_str).collect()
                }
                Some(RegionSet::Named(NamedRegions::Municipalities)) => {
                    ctx.municipalities.iter().map(String::as_str).collect()
                }
                Some(RegionSet::Codes(codes)) => codes.iter().map(String::as_str).collect(),
                None => Vec::new(),
            };
            let years = c.years.as_deref().unwrap_or(ctx.years);
            let present: BTreeSet<(String, i64)> = if df.height() == 0 {
                BTreeSet::new()
            } else {
                let r = text(&df, "region")?;
                let y = column(&df, "year")?
                    .cast(&DataType::Int64)
                    .context("reading `year`")?;
                let y = y.i64().context("reading `year`")?;
                r.iter()
                    .zip(y.iter())
                    .filter_map(|(r, y)| Some((r?.to_owned(), y?)))
                    .collect()
            };
            let mut missing: Vec<(&str, i16)> = Vec::new();
            for r in &regions {
                for y in years {
                    if !present.contains(&((*r).to_owned(), i64::from(*y))) {
                        missing.push((r, *y));
                    }
                }
            }
            let n = missing.len();
            let expected = regions.len() * years.len();
            let reasons: Vec<String> = missing
                .iter()
                .map(|(r, y)| format!("no row for region {r}, year {y}"))
                .collect();
            let frame = DataFrame::new(
                n,
                vec![
                    Column::new(
                        "region".into(),
                        missing.iter().map(|m| m.0).collect::<Vec<_>>(),
                    ),
                    Column::new(
                        "year".into(),
                        missing.iter().map(|m| m.1).collect::<Vec<_>>(),
                    ),
                ],
            )
            .context("listing missing region-years")?;
            let cols = vec![
                ColumnContract {
                    name: "region".into(),
                    kind: ColumnType::String,
                    nullable: false,
                    description: "Region expected".into(),
                    unit: None,
                },
                ColumnContract {
                    name: "year".into(),
                    kind: ColumnType::Int16,
                    nullable: false,
                    description: "Year expected".into(),
                    unit: None,
                },
            ];
            Ok(Found {
                failed: false,
                message: format!(
                    "{} of {expected} expected region-years present in {scope}; {n} missing",
                    expected - n
                ),
                reasons: Some((frame, reasons, cols)),
            })
        }
        CheckKind::Freshness => {
            let name = c.column.as_str();
            let max_age = i64::from(c.max_age_years.unwrap_or_default());
            let oldest = i64::from(ctx.as_of.year()) - max_age;
            let latest = if df.height() == 0 {
                None
            } else {
                column(&df, name)?
                    .cast(&DataType::Int64)
                    .context("reading a freshness check's column")?
                    .i64()
                    .context("reading a freshness check's column")?
                    .max()
            };
            let (failed, message) = match latest {
                Some(y) => (
                    y < oldest,
                    format!(
                        "latest `{name}` in {scope} is {y}; at least {oldest} expected ({max_age} years before {})",
                        ctx.as_of.year()
                    ),
                ),
                None => (true, format!("{scope} has no `{name}` value")),
            };
            Ok(Found {
                failed,
                message,
                reasons: None,
            })
        }
    }
}

fn bounds(min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("{a} to {b}"),
        (Some(a), None) => format!("at least {a}"),
        (None, Some(b)) => format!("at most {b}"),
        (None, None) => "any number".to_owned(),
    }
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn column<'a>(df: &'a DataFrame, name: &str) -> Result<&'a Column, InternalError> {
    df.column(name)
        .map_err(|e| InternalError::Invariant(format!("check column `{name}`: {e}")))
}

/// A column as text (numbers and dates as polars prints them).
fn text(df: &DataFrame, name: &str) -> Result<StringChunked, InternalError> {
    let col = column(df, name)?;
    // Zoned timestamps print only with a polars feature mittari does not build: compare them as
    // their physical integers.
    let col = if matches!(col.dtype(), DataType::Datetime(..)) {
        col.cast(&DataType::Int64)
            .context("reading a timestamp column")?
    } else {
        col.clone()
    };
    Ok(col
        .cast(&DataType::String)
        .context("reading a check's column as text")?
        .str()
        .context("reading a check's column as text")?
        .clone())
}

/// The rows whose columns equal the given values, compared as text.
fn filtered(df: &DataFrame, filter: &BTreeMap<String, String>) -> Result<DataFrame, InternalError> {
    let mut mask = BooleanChunked::full("mask".into(), true, df.height());
    for (name, want) in filter {
        let values = text(df, name)?;
        let m: BooleanChunked = values.iter().map(|v| v == Some(want.as_str())).collect();
        mask = &mask & &m;
    }
    df.filter(&mask).context("narrowing a check with `where`")
}

/// The first five rows as JSON objects (numbers as numbers, text as text, anything else as
/// polars prints it).
fn sample(df: &DataFrame) -> Result<Vec<serde_json::Value>, InternalError> {
    let head = df.head(Some(5));
    let mut rows = vec![serde_json::Map::new(); head.height()];
    for col in head.columns() {
        for (i, row) in rows.iter_mut().enumerate() {
            let v = match col.get(i).context("sampling failing rows")? {
                AnyValue::Null => serde_json::Value::Null,
                AnyValue::Boolean(b) => serde_json::Value::Bool(b),
                AnyValue::String(s) => serde_json::Value::String(s.to_owned()),
                AnyValue::StringOwned(s) => serde_json::Value::String(s.to_string()),
                // Every timestamp in mittari's tables is UTC (and polars prints zoned ones
                // only with a feature mittari does not build).
                AnyValue::Datetime(v, unit, _) | AnyValue::DatetimeOwned(v, unit, _) => {
                    let micros = match unit {
                        TimeUnit::Nanoseconds => v / 1000,
                        TimeUnit::Microseconds => v,
                        TimeUnit::Milliseconds => v * 1000,
                    };
                    chrono::DateTime::from_timestamp_micros(micros).map_or(
                        serde_json::Value::Null,
                        |t| {
                            serde_json::Value::String(
                                t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                            )
                        },
                    )
                }
                v if v.is_primitive_numeric() => v
                    .extract::<f64>()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number),
                v => serde_json::Value::String(
                    v.get_str().map_or_else(|| v.to_string(), str::to_owned),
                ),
            };
            row.insert(col.name().to_string(), v);
        }
    }
    Ok(rows.into_iter().map(serde_json::Value::Object).collect())
}
