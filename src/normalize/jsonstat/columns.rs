//! The columnar pass 2 used by `convert`: cells straight into `observations` batches.
//!
//! The row path ([`super::decode_with`]) builds an observation of a dozen strings per cell. For
//! a national table of millions of cells that allocation dominates, so this path computes
//! everything that depends on a category once per dataset (the region, resolved to its canonical
//! code; the period and its year; sex; age; the unit) and stores per cell only small integer codes
//! into those tables, the value and a status code. Each batch becomes polars columns in one go;
//! columns that are constant for the dataset (`source`, `dataset`, `raw_sha256`,
//! `retrieved_at`) are scalar columns.
//!
//! Cells the fast path does not handle (a value given as text, a period without a year, an
//! unmapped sex code, a region that does not resolve) go through the row path's mapping, so their
//! quarantine entries and observations are exactly the row path's. Text values that decode are
//! handed to `slow_rows`, so they land in a later batch than their neighbours.

use std::collections::HashMap;

use polars::prelude::*;

use super::stream::{Cell, CellSink};
use super::{DatasetInfo, DatasetMapper, DimensionRoles, Input, PlanSink, pass2, plan};
use crate::error::SourceError;
use crate::normalize::{DecodeContext, QuarantineEntry, RawObservation, RegionId, Sex, SourceKind};

/// A resolved region (canonical code, level), or the quarantine rule and reason.
pub type Resolution = Result<(String, &'static str), (&'static str, String)>;

/// How the column path resolves regions and rejects rows; supplied by the caller, which owns the
/// registry (the conform stage).
pub struct ColumnOptions<'a> {
    /// Canonical code and level of a published region id, or the quarantine rule and reason.
    pub resolve_region: &'a dyn Fn(&RegionId) -> Resolution,
    /// The quarantine entry of an observation whose region did not resolve.
    pub reject_region: &'a dyn Fn(&RawObservation, &'static str, String) -> QuarantineEntry,
    /// When the payload was retrieved, in microseconds since the epoch (UTC).
    pub retrieved_at_micros: i64,
    /// Rows per batch.
    pub batch_rows: usize,
}

const NO_STATUS: u32 = u32::MAX;

/// Per-dataset tables, indexed by category position.
struct Tables {
    dataset: String,
    source: &'static str,
    measures: Vec<String>,
    units: Vec<Option<String>>,
    regions: Vec<Resolution>,
    periods: Vec<String>,
    years: Vec<Option<i16>>,
    sexes: Vec<Option<Sex>>,
    ages: Vec<String>,
    breakdowns: Vec<String>,
    breakdown_of: HashMap<usize, u32>,
    statuses: Vec<String>,
    status_labels: Vec<Option<String>>,
    status_of: HashMap<String, u32>,
}

impl Tables {
    fn new(m: &DatasetMapper, opts: &ColumnOptions<'_>) -> Tables {
        let cats = |k: Option<usize>| k.map(|k| m.dims[k].categories.clone());
        let measures = cats(m.measure).unwrap_or_else(|| vec!["value".to_owned()]);
        let region_ids: Vec<RegionId> = match m.region {
            Some(k) => m.dims[k]
                .categories
                .iter()
                .map(|c| RegionId::Code(c.clone()))
                .collect(),
            None => vec![RegionId::Code(m.region_code.clone().unwrap_or_default())],
        };
        let periods = m.dims[m.time].categories.clone();
        let sexes = match m.sex {
            Some(k) => m.dims[k].categories.iter().map(|c| m.sex_of(c)).collect(),
            None => vec![Some(Sex::Total)],
        };
        let ages = match m.age {
            Some(k) => m.dims[k]
                .categories
                .iter()
                .map(|a| super::age_of(a).to_owned())
                .collect(),
            None => vec!["total".to_owned()],
        };
        Tables {
            source: SourceKind::of_dataset(&m.dataset).as_str(),
            dataset: m.dataset.clone(),
            measures,
            units: m.units.clone(),
            regions: region_ids
                .iter()
                .map(|r| (opts.resolve_region)(r))
                .collect(),
            years: periods
                .iter()
                .map(|p| crate::normalize::year_of_period(p))
                .collect(),
            periods,
            sexes,
            ages,
            breakdowns: Vec::new(),
            breakdown_of: HashMap::new(),
            statuses: Vec::new(),
            status_labels: Vec::new(),
            status_of: HashMap::new(),
        }
    }
}

/// Codes of the cells of the current batch.
#[derive(Default)]
struct Batch {
    measure: Vec<u32>,
    region: Vec<u32>,
    time: Vec<u32>,
    sex: Vec<u32>,
    age: Vec<u32>,
    breakdown: Vec<u32>,
    value: Vec<Option<f64>>,
    status: Vec<u32>,
}

impl Batch {
    fn len(&self) -> usize {
        self.value.len()
    }
}

struct ColumnSink<'a, F, G> {
    mappers: &'a mut [DatasetMapper],
    ctx: &'a DecodeContext,
    opts: &'a ColumnOptions<'a>,
    tables: Vec<Tables>,
    dicts: Dicts,
    current: Option<usize>,
    batch: Batch,
    quarantine: &'a mut Vec<QuarantineEntry>,
    flush: F,
    slow_rows: G,
}

fn code(i: usize) -> u32 {
    // Category counts are bounded by `size`, which the validator checked fits in memory.
    u32::try_from(i).unwrap_or(u32::MAX - 1)
}

impl<F, G> ColumnSink<'_, F, G>
where
    F: FnMut(DataFrame) -> Result<(), String>,
    G: FnMut(RawObservation) -> Result<(), String>,
{
    fn flush_batch(&mut self) -> Result<(), String> {
        let Some(d) = self.current else { return Ok(()) };
        if self.batch.len() == 0 {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let df =
            frame(&self.tables[d], &self.dicts, d, &batch, self.opts).map_err(|e| e.to_string())?;
        (self.flush)(df)
    }

    /// A cell the fast path does not take: the row path decides (and quarantines).
    fn slow(&mut self, d: usize, pos: usize, cell: &Cell) -> Result<(), String> {
        match self.mappers[d].map(pos, cell, self.ctx) {
            Err(q) => self.quarantine.push(q),
            Ok(raw) => match (self.opts.resolve_region)(&raw.region) {
                Err((rule, reason)) => self
                    .quarantine
                    .push((self.opts.reject_region)(&raw, rule, reason)),
                Ok(_) => (self.slow_rows)(raw)?,
            },
        }
        Ok(())
    }
}

impl<F, G> CellSink for ColumnSink<'_, F, G>
where
    F: FnMut(DataFrame) -> Result<(), String>,
    G: FnMut(RawObservation) -> Result<(), String>,
{
    fn cell(&mut self, d: usize, pos: usize, cell: Cell) -> Result<(), String> {
        if self.current != Some(d) {
            self.flush_batch()?;
            self.current = Some(d);
        }
        let value = match cell {
            Cell::Number(v) => Some(v),
            Cell::Null => None,
            Cell::Text(_) => return self.slow(d, pos, &cell),
        };
        self.mappers[d].mark_seen(pos);
        let m = &self.mappers[d];
        let t = &mut self.tables[d];
        let region = m.region.map_or(0, |k| m.index(k, pos));
        let time = m.index(m.time, pos);
        let sex = m.sex.map_or(0, |k| m.index(k, pos));
        if t.regions[region].is_err() || t.years[time].is_none() || t.sexes[sex].is_none() {
            return self.slow(d, pos, &cell);
        }
        let breakdown = if m.others.is_empty() {
            0
        } else {
            let combo = m.others.iter().fold(0usize, |acc, k| {
                acc * m.dims[*k].categories.len() + m.index(*k, pos)
            });
            let next = code(t.breakdowns.len());
            *t.breakdown_of.entry(combo).or_insert_with(|| {
                t.breakdowns.push(
                    m.others
                        .iter()
                        .map(|k| format!("{}={}", m.dims[*k].id, m.coord(*k, pos)))
                        .collect::<Vec<_>>()
                        .join(";"),
                );
                next
            })
        };
        let status = match m.status(pos) {
            None => NO_STATUS,
            Some(s) => {
                let next = code(t.statuses.len());
                *t.status_of.entry(s.to_owned()).or_insert_with(|| {
                    t.statuses.push(s.to_owned());
                    t.status_labels.push(m.status_label(s));
                    next
                })
            }
        };
        let b = &mut self.batch;
        b.measure
            .push(code(m.measure.map_or(0, |k| m.index(k, pos))));
        b.region.push(code(region));
        b.time.push(code(time));
        b.sex.push(code(sex));
        b.age.push(code(m.age.map_or(0, |k| m.index(k, pos))));
        b.breakdown.push(breakdown);
        b.value.push(value);
        b.status.push(status);
        if b.len() >= self.opts.batch_rows {
            self.flush_batch()?;
        }
        Ok(())
    }
}

impl<F, G> PlanSink for ColumnSink<'_, F, G>
where
    F: FnMut(DataFrame) -> Result<(), String>,
    G: FnMut(RawObservation) -> Result<(), String>,
{
    fn mappers(&self) -> &[DatasetMapper] {
        self.mappers
    }
}

/// One dictionary-encoded column: the document's distinct values as a polars `Categorical` of
/// its own (32-bit codes, category `i` = the `i`th distinct value), and for each dataset the code
/// of each entry of its table (`None`: null).
///
/// The Parquet writer stores a categorical column as a dictionary page plus integer keys; a plain
/// string column would make it hash every value of every row to find the same dictionary.
struct Dict {
    dtype: DataType,
    codes: Vec<Vec<Option<u32>>>,
}

impl Dict {
    /// `tables[d]` lists dataset `d`'s values by table position.
    fn new(tables: &[Vec<Option<&str>>]) -> PolarsResult<Dict> {
        let categories = Categories::random("mittari".into(), CategoricalPhysical::U32);
        let mapping = categories.mapping();
        let codes = tables
            .iter()
            .map(|values| {
                values
                    .iter()
                    .map(|v| v.map(|v| mapping.insert_cat(v)).transpose())
                    .collect::<PolarsResult<Vec<_>>>()
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        Ok(Dict {
            dtype: DataType::Categorical(categories, mapping),
            codes,
        })
    }

    /// A column of dataset `d`'s values at table positions `positions`.
    fn column(&self, name: &str, d: usize, positions: &[u32]) -> PolarsResult<Column> {
        let codes = &self.codes[d];
        let ids = if codes.iter().all(Option::is_some) {
            // No nulls possible: a plain vector, no validity to build.
            let codes: Vec<u32> = codes.iter().map(|c| c.unwrap_or_default()).collect();
            UInt32Chunked::from_vec(
                name.into(),
                positions.iter().map(|p| codes[*p as usize]).collect(),
            )
        } else {
            UInt32Chunked::from_iter_options(
                name.into(),
                positions.iter().map(|p| codes[*p as usize]),
            )
        }
        .into_series();
        Ok(Series::from_cats_and_dtype(&ids, &self.dtype, true)?.into())
    }

    /// A column holding dataset `d`'s only value `n` times.
    fn constant(&self, name: &str, d: usize, n: usize) -> PolarsResult<Column> {
        self.column(name, d, &vec![0; n])
    }
}

/// The dictionary-encoded columns of a document: every string column whose values are known
/// before the cells are read. `status` and `status_label` (mostly null, and a text cell can
/// carry a symbol of its own) stay plain, as does `breakdown` when a dataset has other
/// dimensions (their combinations are found as the cells come).
struct Dicts {
    source: Dict,
    dataset: Dict,
    measure: Dict,
    region: Dict,
    region_level: Dict,
    period: Dict,
    sex: Dict,
    age: Dict,
    unit: Dict,
    raw_sha256: Dict,
    /// The empty breakdown, when no dataset has other dimensions.
    no_breakdown: Option<Dict>,
}

impl Dicts {
    fn new<'a>(
        tables: &'a [Tables],
        mappers: &[DatasetMapper],
        ctx: &'a DecodeContext,
    ) -> PolarsResult<Dicts> {
        fn all(v: &[String]) -> Vec<Option<&str>> {
            v.iter().map(|s| Some(s.as_str())).collect()
        }
        let dict = |f: &dyn Fn(&'a Tables) -> Vec<Option<&'a str>>| {
            Dict::new(&tables.iter().map(f).collect::<Vec<_>>())
        };
        Ok(Dicts {
            source: dict(&|t| vec![Some(t.source)])?,
            dataset: dict(&|t| vec![Some(t.dataset.as_str())])?,
            measure: dict(&|t| all(&t.measures))?,
            region: dict(&|t| {
                t.regions
                    .iter()
                    .map(|r| r.as_ref().ok().map(|(c, _)| c.as_str()))
                    .collect()
            })?,
            region_level: dict(&|t| {
                t.regions
                    .iter()
                    .map(|r| r.as_ref().ok().map(|(_, l)| *l))
                    .collect()
            })?,
            period: dict(&|t| all(&t.periods))?,
            sex: dict(&|t| t.sexes.iter().map(|s| s.map(Sex::as_str)).collect())?,
            age: dict(&|t| all(&t.ages))?,
            unit: dict(&|t| t.units.iter().map(Option::as_deref).collect())?,
            raw_sha256: dict(&|_| vec![Some(ctx.raw_sha256.as_str())])?,
            no_breakdown: if mappers.iter().all(|m| m.others.is_empty()) {
                Some(dict(&|_| vec![Some("")])?)
            } else {
                None
            },
        })
    }
}

/// The `observations` columns of one batch of dataset `d`, in the contract's order.
fn frame(
    t: &Tables,
    dicts: &Dicts,
    d: usize,
    b: &Batch,
    opts: &ColumnOptions<'_>,
) -> PolarsResult<DataFrame> {
    let n = b.len();
    let status = |i: &u32| (*i != NO_STATUS).then(|| t.statuses[*i as usize].as_str());
    let status_label = |i: &u32| {
        if *i == NO_STATUS {
            None
        } else {
            t.status_labels[*i as usize].as_deref()
        }
    };
    let years: Vec<i16> = b
        .time
        .iter()
        .map(|i| t.years[*i as usize].unwrap_or_default())
        .collect();
    let breakdown = match &dicts.no_breakdown {
        Some(dict) => dict.constant("breakdown", d, n)?,
        None => StringChunked::from_iter_values(
            "breakdown".into(),
            b.breakdown
                .iter()
                .map(|i| t.breakdowns.get(*i as usize).map_or("", String::as_str)),
        )
        .into_series()
        .into(),
    };
    let columns = vec![
        dicts.source.constant("source", d, n)?,
        dicts.dataset.constant("dataset", d, n)?,
        dicts.measure.column("measure", d, &b.measure)?,
        dicts.region.column("region", d, &b.region)?,
        dicts.region_level.column("region_level", d, &b.region)?,
        dicts.period.column("period", d, &b.time)?,
        Int16Chunked::from_vec("year".into(), years)
            .into_series()
            .into(),
        dicts.sex.column("sex", d, &b.sex)?,
        dicts.age.column("age", d, &b.age)?,
        breakdown,
        Float64Chunked::from_iter_options("value".into(), b.value.iter().copied())
            .into_series()
            .into(),
        Column::full_null("abs_value".into(), n, &DataType::Float64),
        StringChunked::from_iter_options("status".into(), b.status.iter().map(status))
            .into_series()
            .into(),
        StringChunked::from_iter_options("status_label".into(), b.status.iter().map(status_label))
            .into_series()
            .into(),
        dicts.unit.column("unit", d, &b.measure)?,
        dicts.raw_sha256.constant("raw_sha256", d, n)?,
        Column::new_scalar(
            "retrieved_at".into(),
            Scalar::new_datetime(
                opts.retrieved_at_micros,
                TimeUnit::Microseconds,
                Some(TimeZone::UTC),
            ),
            n,
        ),
    ];
    DataFrame::new(n, columns)
}

/// Decodes a document into `observations` batches handed to `flush`, quarantining what cannot be
/// used into `quarantine`; cells given as text that decode go to `slow_rows`.
pub fn decode_columns<F, G>(
    input: Input<'_>,
    roles: &DimensionRoles,
    ctx: &DecodeContext,
    opts: &ColumnOptions<'_>,
    quarantine: &mut Vec<QuarantineEntry>,
    flush: F,
    slow_rows: G,
) -> Result<Vec<DatasetInfo>, SourceError>
where
    F: FnMut(DataFrame) -> Result<(), String>,
    G: FnMut(RawObservation) -> Result<(), String>,
{
    let mut plan = plan(input, roles, ctx)?;
    let tables: Vec<Tables> = plan.mappers.iter().map(|m| Tables::new(m, opts)).collect();
    let dicts = Dicts::new(&tables, &plan.mappers, ctx).map_err(|e| SourceError::Malformed {
        path: ctx.file.clone().into(),
        location: String::new(),
        message: format!("building the column dictionaries: {e}"),
    })?;
    let mut sink = ColumnSink {
        mappers: &mut plan.mappers,
        ctx,
        opts,
        tables,
        dicts,
        current: None,
        batch: Batch::default(),
        quarantine,
        flush,
        slow_rows,
    };
    pass2(input, plan.form, &plan.pointers, ctx, &mut sink)?;
    sink.flush_batch().map_err(|e| SourceError::Malformed {
        path: ctx.file.clone().into(),
        location: "/value".into(),
        message: e,
    })?;
    Ok(plan.infos())
}
