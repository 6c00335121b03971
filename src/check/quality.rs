//! Data-quality checks declared in a pipeline file (`[[checks]]`), run on the finished tables
//! before anything is published.
//!
//! Kinds: `not_null`, `unique`, `accepted_values`, `relationship` (every value a region code of
//! the registry), `range`, `row_count`, `coverage` (expected regions × years present) and
//! `freshness` (latest year in a column, or a source's own update date). Each has a severity:
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
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{ColumnContract, ColumnType, Contract};
use crate::error::{InternalError, PolarsContext};

/// How bad a failing check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Reported; the outputs are published.
    Warn,
    /// Nothing is published; the run exits 1.
    #[default]
    Error,
}

impl Severity {
    /// The name used in pipeline files.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Warn => "warn",
            Severity::Error => "error",
        }
    }
}

/// The kinds of check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// `columns` have no nulls.
    NotNull,
    /// `columns` together identify a row.
    Unique,
    /// `column` takes only `values`.
    AcceptedValues,
    /// `column` holds only region codes the registry knows.
    Relationship,
    /// `column` lies within `min`..=`max`.
    Range,
    /// The table has `min`..=`max` rows.
    RowCount,
    /// A row for every region of `regions` and year of `years`.
    Coverage,
    /// The latest `column` year is at most `max_age_years` old, or `source` was updated within
    /// `max_age_days`.
    Freshness,
}

impl CheckKind {
    /// The name used in pipeline files.
    pub fn name(self) -> &'static str {
        match self {
            CheckKind::NotNull => "not_null",
            CheckKind::Unique => "unique",
            CheckKind::AcceptedValues => "accepted_values",
            CheckKind::Relationship => "relationship",
            CheckKind::Range => "range",
            CheckKind::RowCount => "row_count",
            CheckKind::Coverage => "coverage",
            CheckKind::Freshness => "freshness",
        }
    }
}

/// Which regions a coverage check expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RegionSet {
    /// `focus`, `counties` or `municipalities` (of the reference year).
    Named(NamedRegions),
    /// Explicit region codes.
    Codes(Vec<String>),
}

/// Named region sets.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamedRegions {
    /// The pipeline's focus regions.
    Focus,
    /// Every wellbeing services county (and Helsinki).
    Counties,
    /// Every municipality of the reference year.
    Municipalities,
}

/// `[[checks]]`: one declared data-quality check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Unique name: used in messages, the manifest and the quarantine file name.
    pub name: Spanned<String>,
    /// What is checked.
    pub kind: Spanned<CheckKind>,
    /// `warn` or `error` (default).
    #[serde(default)]
    pub severity: Severity,
    /// The table checked (any published table).
    #[serde(default)]
    pub table: Option<Spanned<String>>,
    /// Columns (`not_null`, `unique`).
    #[serde(default)]
    pub columns: Option<Spanned<Vec<String>>>,
    /// Column (`accepted_values`, `relationship`, `range`, `freshness`).
    #[serde(default)]
    pub column: Option<Spanned<String>>,
    /// Only rows whose columns equal these values (as text).
    #[serde(default, rename = "where")]
    pub filter: Option<Spanned<BTreeMap<String, String>>>,
    /// Accepted values.
    #[serde(default)]
    pub values: Option<Vec<String>>,
    /// Lower bound (`range`: value; `row_count`: rows).
    #[serde(default)]
    pub min: Option<f64>,
    /// Upper bound.
    #[serde(default)]
    pub max: Option<f64>,
    /// Regions expected (`coverage`).
    #[serde(default)]
    pub regions: Option<Spanned<RegionSet>>,
    /// Years expected (`coverage`; default the pipeline's years).
    #[serde(default)]
    pub years: Option<Vec<i16>>,
    /// Oldest accepted latest year, as years before the run's `--as-of` year (`freshness`).
    #[serde(default)]
    pub max_age_years: Option<u16>,
    /// Source whose update date is checked (`freshness`).
    #[serde(default)]
    pub source: Option<Spanned<String>>,
    /// Oldest accepted update, in days before `--as-of` (`freshness`).
    #[serde(default)]
    pub max_age_days: Option<u32>,
}

/// Tables a check can name: every published table.
pub const CHECKABLE_TABLES: [&str; 18] = [
    "observations",
    "regions",
    "crosswalk",
    "mergers",
    "indicator_catalogue",
    "indicators",
    "kpa",
    "comparisons",
    "region_profile",
    "maturity_responses",
    "maturity_role_scores",
    "maturity_signals",
    "maturity_overall",
    "maturity_dimension_scores",
    "maturity_method_params",
    "roadmap_actions",
    "roadmap_milestones",
    "roadmap_progress",
];

impl CheckConfig {
    /// `columns` (empty when absent: validation requires it where it is used).
    fn column_list(&self) -> Vec<String> {
        self.columns
            .as_ref()
            .map(|c| c.get_ref().clone())
            .unwrap_or_default()
    }

    /// `column` (empty when absent: validation requires it where it is used).
    fn column_name(&self) -> &str {
        self.column
            .as_ref()
            .map(|c| c.get_ref().as_str())
            .unwrap_or_default()
    }

    /// Checks the fields the kind needs and only those, and that the table, its columns and
    /// the source exist. Returns the span to point at and the message.
    pub fn validate(
        &self,
        sources: &BTreeSet<&str>,
    ) -> Result<(), (std::ops::Range<usize>, String)> {
        let name = self.name.get_ref();
        let kind = *self.kind.get_ref();
        let fail =
            |span: std::ops::Range<usize>, m: String| Err((span, format!("check `{name}`: {m}")));
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return fail(
                self.name.span(),
                "a check's name uses letters, digits, `_` and `-` only (it names a file)".into(),
            );
        }
        let given: [(&str, bool); 11] = [
            ("table", self.table.is_some()),
            ("columns", self.columns.is_some()),
            ("column", self.column.is_some()),
            ("values", self.values.is_some()),
            ("min", self.min.is_some()),
            ("max", self.max.is_some()),
            ("regions", self.regions.is_some()),
            ("years", self.years.is_some()),
            ("max_age_years", self.max_age_years.is_some()),
            ("source", self.source.is_some()),
            ("max_age_days", self.max_age_days.is_some()),
        ];
        let (required, optional): (&[&str], &[&str]) = match kind {
            CheckKind::NotNull | CheckKind::Unique => (&["table", "columns"], &[]),
            CheckKind::AcceptedValues => (&["table", "column", "values"], &[]),
            CheckKind::Relationship => (&["table", "column"], &[]),
            CheckKind::Range | CheckKind::RowCount if self.min.is_none() && self.max.is_none() => {
                return fail(
                    self.kind.span(),
                    format!("a `{}` check needs `min`, `max` or both", kind.name()),
                );
            }
            CheckKind::Range => (&["table", "column"], &["min", "max"]),
            CheckKind::RowCount => (&["table"], &["min", "max"]),
            CheckKind::Coverage => (&["table", "regions"], &["years"]),
            CheckKind::Freshness if self.source.is_some() => (&["source", "max_age_days"], &[]),
            CheckKind::Freshness => (&["table", "column", "max_age_years"], &[]),
        };
        for (field, present) in given {
            if required.contains(&field) && !present {
                return fail(
                    self.kind.span(),
                    format!("a `{}` check needs `{field}`", kind.name()),
                );
            }
            if present && !required.contains(&field) && !optional.contains(&field) {
                return fail(
                    self.kind.span(),
                    format!("`{field}` does not apply to a `{}` check", kind.name()),
                );
            }
        }
        if self.filter.is_some() && self.table.is_none() {
            return fail(self.kind.span(), "`where` needs a table".into());
        }
        if let (Some(min), Some(max)) = (self.min, self.max)
            && min
                .partial_cmp(&max)
                .is_none_or(|o| o == std::cmp::Ordering::Greater)
        {
            return fail(
                self.kind.span(),
                format!("`min` {min} is above `max` {max}"),
            );
        }
        if let Some(s) = &self.source
            && !sources.contains(s.get_ref().as_str())
        {
            return fail(s.span(), format!("no source has id `{}`", s.get_ref()));
        }
        let Some(table) = &self.table else {
            return Ok(());
        };
        let t = table.get_ref();
        if !CHECKABLE_TABLES.contains(&t.as_str()) {
            return fail(
                table.span(),
                format!(
                    "unknown table `{t}`; one of: {}",
                    CHECKABLE_TABLES.join(", ")
                ),
            );
        }
        let contract = Contract::for_table(t).map_err(|e| (table.span(), e.to_string()))?;
        let has = |c: &str| {
            contract.extra_columns.is_some() || contract.columns.iter().any(|k| k.name == c)
        };
        let mut named: Vec<(&str, std::ops::Range<usize>)> = Vec::new();
        if let Some(cs) = &self.columns {
            if cs.get_ref().is_empty() {
                return fail(cs.span(), "`columns` is empty".into());
            }
            named.extend(cs.get_ref().iter().map(|c| (c.as_str(), cs.span())));
        }
        if let Some(c) = &self.column {
            named.push((c.get_ref(), c.span()));
        }
        if let Some(f) = &self.filter {
            named.extend(f.get_ref().keys().map(|c| (c.as_str(), f.span())));
        }
        if kind == CheckKind::Coverage {
            named.extend([("region", table.span()), ("year", table.span())]);
        }
        for (c, span) in named {
            if !has(c) {
                return fail(span, format!("table `{t}` has no column `{c}`"));
            }
        }
        Ok(())
    }
}

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
    checks: &[CheckConfig],
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
        let name = c.name.get_ref().clone();
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
                kind: *c.kind.get_ref(),
                severity: c.severity,
                table: c.table.as_ref().map(|t| t.get_ref().clone()),
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
    c: &CheckConfig,
    tables: &BTreeMap<&str, &DataFrame>,
    ctx: &CheckContext<'_>,
) -> Result<Found, InternalError> {
    let ctxerr = |what: &str| format!("check `{}`: {what}", c.name.get_ref());
    if let (CheckKind::Freshness, Some(source), Some(days)) =
        (c.kind.get_ref(), &c.source, c.max_age_days)
    {
        let id = source.get_ref();
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
    let table = table.get_ref();
    // A table the run did not produce (e.g. no KPA source) has no rows.
    let contract = Contract::for_table(table)?;
    let produced = tables.get(table.as_str());
    let row_level = matches!(
        c.kind.get_ref(),
        CheckKind::NotNull
            | CheckKind::Unique
            | CheckKind::AcceptedValues
            | CheckKind::Relationship
            | CheckKind::Range
    );
    let df = match (produced, &c.filter) {
        (Some(df), Some(f)) => filtered(df, f.get_ref())?,
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
            f.get_ref()
                .iter()
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
    match c.kind.get_ref() {
        CheckKind::NotNull => {
            let cols = c.column_list();
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
            let cols = c.column_list();
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
            let name = c.column_name();
            let accepted: BTreeSet<&str> = c.values.iter().flatten().map(String::as_str).collect();
            let relationship = *c.kind.get_ref() == CheckKind::Relationship;
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
            let name = c.column_name();
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
            let regions: Vec<&str> = match c.regions.as_ref().map(Spanned::get_ref) {
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
                },
                ColumnContract {
                    name: "year".into(),
                    kind: ColumnType::Int16,
                    nullable: false,
                    description: "Year expected".into(),
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
            let name = c.column_name();
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
