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
    tables: Vec<Option<Tables>>,
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
        let t = self.tables[d]
            .as_ref()
            .ok_or("no tables for the current dataset")?;
        let df = frame(t, &batch, self.ctx, self.opts).map_err(|e| e.to_string())?;
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
        if self.tables[d].is_none() {
            self.tables[d] = Some(Tables::new(&self.mappers[d], self.opts));
        }
        let value = match cell {
            Cell::Number(v) => Some(v),
            Cell::Null => None,
            Cell::Text(_) => return self.slow(d, pos, &cell),
        };
        self.mappers[d].mark_seen(pos);
        let m = &self.mappers[d];
        let Some(t) = self.tables[d].as_mut() else {
            return Err("no tables".into());
        };
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

fn strings(name: &str, codes: &[u32], table: &[String]) -> Column {
    StringChunked::from_iter_values(
        name.into(),
        codes.iter().map(|c| table[*c as usize].as_str()),
    )
    .into_series()
    .into()
}

fn scalar_str(name: &str, value: &str, len: usize) -> Column {
    Column::new_scalar(
        name.into(),
        Scalar::new(DataType::String, AnyValue::StringOwned(value.into())),
        len,
    )
}

/// The `observations` columns of one batch, in the contract's order.
fn frame(
    t: &Tables,
    b: &Batch,
    ctx: &DecodeContext,
    opts: &ColumnOptions<'_>,
) -> PolarsResult<DataFrame> {
    let n = b.len();
    let region = |i: &u32| {
        t.regions[*i as usize]
            .as_ref()
            .map_or(("", ""), |(c, l)| (c.as_str(), *l))
    };
    let sex = |i: &u32| t.sexes[*i as usize].map_or("", Sex::as_str);
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
    let columns = vec![
        scalar_str("source", t.source, n),
        scalar_str("dataset", &t.dataset, n),
        strings("measure", &b.measure, &t.measures),
        StringChunked::from_iter_values("region".into(), b.region.iter().map(|i| region(i).0))
            .into_series()
            .into(),
        StringChunked::from_iter_values(
            "region_level".into(),
            b.region.iter().map(|i| region(i).1),
        )
        .into_series()
        .into(),
        strings("period", &b.time, &t.periods),
        Int16Chunked::from_vec("year".into(), years)
            .into_series()
            .into(),
        StringChunked::from_iter_values("sex".into(), b.sex.iter().map(sex))
            .into_series()
            .into(),
        strings("age", &b.age, &t.ages),
        if t.breakdowns.is_empty() {
            scalar_str("breakdown", "", n)
        } else {
            strings("breakdown", &b.breakdown, &t.breakdowns)
        },
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
        StringChunked::from_iter_options(
            "unit".into(),
            b.measure.iter().map(|i| t.units[*i as usize].as_deref()),
        )
        .into_series()
        .into(),
        scalar_str("raw_sha256", &ctx.raw_sha256, n),
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
    let n = plan.mappers.len();
    let mut sink = ColumnSink {
        mappers: &mut plan.mappers,
        ctx,
        opts,
        tables: (0..n).map(|_| None).collect(),
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
