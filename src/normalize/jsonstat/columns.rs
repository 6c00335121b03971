//! The columnar pass 2 used by `convert` and the pipeline: cells straight into `observations`
//! batches.
//!
//! The row path ([`super::decode_with`]) builds an observation of a dozen strings per cell. For
//! a national table of millions of cells that allocation dominates, so this path computes
//! everything that depends on a category once per dataset (the region, resolved to its canonical
//! code; the period and its year; sex; age; the unit) and stores per cell only small integer codes
//! into those tables, the value and a status code. Each batch becomes Arrow arrays in one go: every
//! text column is a dictionary over the document's distinct values (keys are those codes, so the
//! Parquet writer stores them as they are, with no per-row hashing), and the columns that are
//! constant for the dataset (`source`, `dataset`, `raw_sha256`, `retrieved_at`) repeat one key.
//!
//! Cells the fast path does not handle (a value given as text, a period without a year, an
//! unmapped sex code, a region that does not resolve) go through the row path's mapping, so their
//! quarantine entries and observations are exactly the row path's. Text values that decode are
//! handed to `slow_rows`, so they land in a later batch than their neighbours.

use std::collections::HashMap;
use std::sync::Arc;

use polars::prelude::{ArrayRef, PlSmallStr};
use polars_arrow::array::{DictionaryArray, PrimitiveArray, Utf8ViewArray};
use polars_arrow::bitmap::{Bitmap, MutableBitmap};
use polars_arrow::datatypes::{
    ArrowDataType, ArrowSchema, ArrowSchemaRef, Field, IntegerType, TimeUnit,
};

use super::stream::{Cell, CellSink};
use super::{
    CellStatus, DatasetInfo, DatasetMapper, DimensionRoles, Input, PlanSink, PositionMap, pass2,
    plan,
};
use crate::error::SourceError;
use crate::intern::{Distinct, NULL};
use crate::normalize::{DecodeContext, QuarantineEntry, RawObservation, RegionId, Sex, SourceKind};
use crate::regions::conform::{KeyedColumn, KeyedRows, ObservationColumns};

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
        }
    }
}

/// The statuses of one dataset's cells, as (`status` key, `status_label` key).
enum Statuses {
    None,
    /// Every cell.
    All(u32, u32),
    /// By position (a status array).
    PerCell(Vec<(u32, u32)>),
    /// Listed positions (a status object), sorted, and where the last lookup ended: cells mostly
    /// come in order, so a lookup is usually one comparison.
    Sparse {
        entries: Vec<(usize, u32, u32)>,
        cursor: usize,
    },
}

impl Statuses {
    fn new(m: &DatasetMapper, status: &mut Dict, label: &mut Dict) -> Statuses {
        let mut keys = |s: &str| {
            let l = m.status_label(s).map_or(NULL, |l| label.insert(&l));
            (status.insert(s), l)
        };
        match &m.status {
            CellStatus::None => Statuses::None,
            CellStatus::All(s) => {
                let (s, l) = keys(s);
                Statuses::All(s, l)
            }
            CellStatus::PerCell(items) => {
                let mut memo: HashMap<&str, (u32, u32)> = HashMap::new();
                Statuses::PerCell(
                    items
                        .iter()
                        .map(|i| match &i.0 {
                            Some(s) => *memo.entry(s.as_str()).or_insert_with(|| keys(s)),
                            None => (NULL, NULL),
                        })
                        .collect(),
                )
            }
            CellStatus::Sparse(statuses) => {
                let mut entries: Vec<(usize, u32, u32)> = statuses
                    .iter()
                    .map(|(pos, s)| {
                        let (s, l) = keys(s);
                        (*pos, s, l)
                    })
                    .collect();
                entries.sort_unstable_by_key(|e| e.0);
                Statuses::Sparse { entries, cursor: 0 }
            }
        }
    }

    /// (`status` key, `status_label` key) of the cell at `pos`; `NULL` for none.
    fn at(&mut self, pos: usize) -> (u32, u32) {
        match self {
            Statuses::None => (NULL, NULL),
            Statuses::All(s, l) => (*s, *l),
            Statuses::PerCell(keys) => keys.get(pos).copied().unwrap_or((NULL, NULL)),
            Statuses::Sparse { entries, cursor } => {
                let behind = *cursor > 0 && entries[*cursor - 1].0 >= pos;
                if behind || entries.get(*cursor).is_some_and(|e| e.0 < pos) {
                    *cursor = entries.partition_point(|e| e.0 < pos);
                }
                match entries.get(*cursor) {
                    Some(e) if e.0 == pos => (e.1, e.2),
                    _ => (NULL, NULL),
                }
            }
        }
    }
}

/// Dictionary keys of one dataset's table entries, per column (`NULL` for none), and where the
/// last cell was.
struct Keys {
    source: u32,
    dataset: u32,
    raw_sha256: u32,
    measure: Vec<u32>,
    unit: Vec<u32>,
    region: Vec<u32>,
    region_level: Vec<u32>,
    period: Vec<u32>,
    year: Vec<Option<i16>>,
    sex: Vec<u32>,
    age: Vec<u32>,
    statuses: Statuses,
    /// Combination of the other dimensions' positions -> `breakdown` key, and the last one.
    breakdown_of: PositionMap<u32>,
    last_breakdown: Option<(usize, u32)>,
    /// Category position of the last cell in each dimension, and the position that follows it.
    coords: Vec<usize>,
    next_pos: Option<usize>,
}

impl Keys {
    fn new(m: &DatasetMapper, t: &Tables, dicts: &mut Dicts, raw_sha256: &str) -> Keys {
        let all = |dict: &mut Dict, values: &[String]| -> Vec<u32> {
            values.iter().map(|v| dict.insert(v)).collect()
        };
        let opt = |dict: &mut Dict, v: Option<&str>| v.map_or(NULL, |v| dict.insert(v));
        Keys {
            source: dicts.source.insert(t.source),
            dataset: dicts.dataset.insert(&t.dataset),
            raw_sha256: dicts.raw_sha256.insert(raw_sha256),
            measure: all(&mut dicts.measure, &t.measures),
            unit: t
                .units
                .iter()
                .map(|u| opt(&mut dicts.unit, u.as_deref()))
                .collect(),
            region: t
                .regions
                .iter()
                .map(|r| opt(&mut dicts.region, r.as_ref().ok().map(|(c, _)| c.as_str())))
                .collect(),
            region_level: t
                .regions
                .iter()
                .map(|r| opt(&mut dicts.region_level, r.as_ref().ok().map(|(_, l)| *l)))
                .collect(),
            period: all(&mut dicts.period, &t.periods),
            year: t.years.clone(),
            sex: t
                .sexes
                .iter()
                .map(|s| opt(&mut dicts.sex, s.map(Sex::as_str)))
                .collect(),
            age: all(&mut dicts.age, &t.ages),
            statuses: Statuses::new(m, &mut dicts.status, &mut dicts.status_label),
            breakdown_of: PositionMap::default(),
            last_breakdown: None,
            coords: vec![0; m.dims.len()],
            next_pos: None,
        }
    }

    /// Moves `coords` to the cell at `pos`: one step of an odometer when cells come in order
    /// (the last dimension varies fastest), else from the strides.
    fn seek(&mut self, m: &DatasetMapper, pos: usize) {
        if self.next_pos == Some(pos) {
            for k in (0..self.coords.len()).rev() {
                self.coords[k] += 1;
                if self.coords[k] < m.dims[k].categories.len() {
                    break;
                }
                self.coords[k] = 0;
            }
        } else {
            for (k, c) in self.coords.iter_mut().enumerate() {
                *c = m.index(k, pos);
            }
        }
        self.next_pos = Some(pos + 1);
    }
}

/// Keys and values of the cells of the current batch.
#[derive(Default)]
struct Batch {
    /// Runs of cells of one dataset: its index, and the end of the run (exclusive).
    runs: Vec<(usize, usize)>,
    measure: Vec<u32>,
    region: Vec<u32>,
    region_level: Vec<u32>,
    period: Vec<u32>,
    year: Vec<i16>,
    sex: Vec<u32>,
    age: Vec<u32>,
    breakdown: Vec<u32>,
    value: Vec<f64>,
    present: MutableBitmap,
    status: Vec<u32>,
    status_label: Vec<u32>,
    unit: Vec<u32>,
}

impl Batch {
    /// An empty batch with room for `rows` cells, so that pushing never reallocates.
    fn with_capacity(rows: usize) -> Batch {
        Batch {
            runs: Vec::new(),
            measure: Vec::with_capacity(rows),
            region: Vec::with_capacity(rows),
            region_level: Vec::with_capacity(rows),
            period: Vec::with_capacity(rows),
            year: Vec::with_capacity(rows),
            sex: Vec::with_capacity(rows),
            age: Vec::with_capacity(rows),
            breakdown: Vec::with_capacity(rows),
            value: Vec::with_capacity(rows),
            present: MutableBitmap::with_capacity(rows),
            status: Vec::with_capacity(rows),
            status_label: Vec::with_capacity(rows),
            unit: Vec::with_capacity(rows),
        }
    }

    fn len(&self) -> usize {
        self.value.len()
    }

    /// Keys of a column that is constant within a dataset, from the runs.
    fn constant(&self, constants: &[[u32; 3]], key: impl Fn(&[u32; 3]) -> u32) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.len());
        for (d, end) in &self.runs {
            out.resize(*end, key(&constants[*d]));
        }
        out
    }
}

struct ColumnSink<'a, F, G, Q> {
    mappers: &'a mut [DatasetMapper],
    ctx: &'a DecodeContext,
    opts: &'a ColumnOptions<'a>,
    keys: Vec<Keys>,
    dicts: Dicts,
    values: Arc<DictValues>,
    constants: Arc<Vec<[u32; 3]>>,
    schema: ArrowSchemaRef,
    batch: Batch,
    quarantine: Q,
    flush: F,
    slow_rows: G,
}

impl<F, G, Q> ColumnSink<'_, F, G, Q>
where
    F: FnMut(ArrowBatch) -> Result<(), String>,
    G: FnMut(RawObservation) -> Result<(), String>,
    Q: FnMut(QuarantineEntry) -> Result<(), String>,
{
    fn flush_batch(&mut self) -> Result<(), String> {
        if self.batch.len() == 0 {
            return Ok(());
        }
        let cells = std::mem::take(&mut self.batch);
        // Only `breakdown` can have grown since the last batch.
        if self.values.breakdown.len() != self.dicts.breakdown.len() {
            let mut values = (*self.values).clone();
            values.breakdown = self.dicts.breakdown.array();
            self.values = Arc::new(values);
        }
        (self.flush)(ArrowBatch {
            schema: self.schema.clone(),
            cells,
            constants: self.constants.clone(),
            values: self.values.clone(),
            retrieved_at_micros: self.opts.retrieved_at_micros,
        })?;
        // The next batch's room is taken once the writer has this one: two batches alive, not
        // three.
        self.batch = Batch::with_capacity(self.opts.batch_rows);
        Ok(())
    }

    /// A cell the fast path does not take: the row path decides (and quarantines).
    fn slow(&mut self, d: usize, pos: usize, cell: &Cell) -> Result<(), String> {
        match self.mappers[d].map(pos, cell, self.ctx) {
            Err(q) => (self.quarantine)(q),
            Ok(raw) => match (self.opts.resolve_region)(&raw.region) {
                Err((rule, reason)) => {
                    (self.quarantine)((self.opts.reject_region)(&raw, rule, reason))
                }
                Ok(_) => (self.slow_rows)(raw),
            },
        }
    }
}

impl<F, G, Q> CellSink for ColumnSink<'_, F, G, Q>
where
    F: FnMut(ArrowBatch) -> Result<(), String>,
    G: FnMut(RawObservation) -> Result<(), String>,
    Q: FnMut(QuarantineEntry) -> Result<(), String>,
{
    #[allow(clippy::many_single_char_names)] // d, m, k, b: dataset, mapper, keys, batch.
    fn cell(&mut self, d: usize, pos: usize, cell: Cell) -> Result<(), String> {
        let value = match cell {
            Cell::Number(v) => Some(v),
            Cell::Null => None,
            Cell::Text(_) => return self.slow(d, pos, &cell),
        };
        self.mappers[d].mark_seen(pos);
        let m = &self.mappers[d];
        let k = &mut self.keys[d];
        k.seek(m, pos);
        let at = |dim: Option<usize>| dim.map_or(0, |i| k.coords[i]);
        let (region, time, sex) = (at(m.region), k.coords[m.time], at(m.sex));
        // An unresolved region, a period without a year or an unmapped sex: the row path.
        if k.region[region] == NULL || k.year[time].is_none() || k.sex[sex] == NULL {
            return self.slow(d, pos, &cell);
        }
        let (measure, age) = (at(m.measure), at(m.age));
        let breakdown = if m.others.is_empty() {
            0
        } else {
            let combo = m.others.iter().fold(0usize, |acc, i| {
                acc * m.dims[*i].categories.len() + k.coords[*i]
            });
            match k.last_breakdown {
                Some((c, key)) if c == combo => key,
                _ => {
                    let dict = &mut self.dicts.breakdown;
                    let key = *k.breakdown_of.entry(combo).or_insert_with(|| {
                        dict.insert(
                            &m.others
                                .iter()
                                .map(|i| format!("{}={}", m.dims[*i].id, m.coord(*i, pos)))
                                .collect::<Vec<_>>()
                                .join(";"),
                        )
                    });
                    k.last_breakdown = Some((combo, key));
                    key
                }
            }
        };
        let (status, status_label) = k.statuses.at(pos);
        let b = &mut self.batch;
        let end = b.len() + 1;
        match b.runs.last_mut() {
            Some((last, run_end)) if *last == d => *run_end = end,
            _ => b.runs.push((d, end)),
        }
        b.measure.push(k.measure[measure]);
        b.region.push(k.region[region]);
        b.region_level.push(k.region_level[region]);
        b.period.push(k.period[time]);
        b.year.push(k.year[time].unwrap_or_default());
        b.sex.push(k.sex[sex]);
        b.age.push(k.age[age]);
        b.breakdown.push(breakdown);
        b.value.push(value.unwrap_or_default());
        b.present.push(value.is_some());
        b.status.push(status);
        b.status_label.push(status_label);
        b.unit.push(k.unit[measure]);
        if b.len() >= self.opts.batch_rows {
            self.flush_batch()?;
        }
        Ok(())
    }
}

impl<F, G, Q> PlanSink for ColumnSink<'_, F, G, Q>
where
    F: FnMut(ArrowBatch) -> Result<(), String>,
    G: FnMut(RawObservation) -> Result<(), String>,
    Q: FnMut(QuarantineEntry) -> Result<(), String>,
{
    fn mappers(&self) -> &[DatasetMapper] {
        self.mappers
    }
}

/// One batch of `observations`: the cells' keys and values, which [`ArrowBatch::arrays`] turns
/// into Arrow arrays in the contract's column order. That last step is left to the consumer
/// (`convert`'s writer thread), off the thread that reads the cells.
pub struct ArrowBatch {
    /// Column names and types (the same for every batch of a document).
    pub schema: ArrowSchemaRef,
    cells: Batch,
    /// Per dataset: its `source`, `dataset` and `raw_sha256` keys.
    constants: Arc<Vec<[u32; 3]>>,
    values: Arc<DictValues>,
    retrieved_at_micros: i64,
}

impl ArrowBatch {
    /// Rows.
    pub fn height(&self) -> usize {
        self.cells.len()
    }

    /// The arrays, one per column of [`ArrowBatch::schema`].
    pub fn arrays(self) -> Result<Vec<ArrayRef>, polars::prelude::PolarsError> {
        let (b, v) = (self.cells, &self.values);
        let n = b.len();
        let [source, dataset, raw_sha256] =
            [0, 1, 2].map(|i| b.constant(&self.constants, |c| c[i]));
        let value = PrimitiveArray::new(ArrowDataType::Float64, b.value.into(), b.present.into());
        // All null, built here: polars' own null array borrows a shared zeroed buffer of 8 MB.
        let abs_value = PrimitiveArray::new(
            ArrowDataType::Float64,
            vec![0.0f64; n].into(),
            Some(Bitmap::from_u8_vec(vec![0; n.div_ceil(8)], n)),
        );
        Ok(vec![
            dictionary(source, &v.source)?,
            dictionary(dataset, &v.dataset)?,
            dictionary(b.measure, &v.measure)?,
            dictionary(b.region, &v.region)?,
            dictionary(b.region_level, &v.region_level)?,
            dictionary(b.period, &v.period)?,
            PrimitiveArray::from_vec(b.year).boxed(),
            dictionary(b.sex, &v.sex)?,
            dictionary(b.age, &v.age)?,
            dictionary(b.breakdown, &v.breakdown)?,
            value.boxed(),
            abs_value.boxed(),
            dictionary(b.status, &v.status)?,
            dictionary(b.status_label, &v.status_label)?,
            dictionary(b.unit, &v.unit)?,
            dictionary(raw_sha256, &v.raw_sha256)?,
            PrimitiveArray::from_vec(vec![self.retrieved_at_micros; n])
                .to(timestamp_type())
                .boxed(),
        ])
    }
}

impl std::fmt::Debug for ArrowBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrowBatch")
            .field("rows", &self.height())
            .finish_non_exhaustive()
    }
}

impl ArrowBatch {
    /// Appends the batch's rows to the run's observation columns (the pipeline's conform stage).
    pub fn append_to(self, out: &mut ObservationColumns) {
        let (b, v) = (&self.cells, &self.values);
        let [source, dataset, raw_sha256] =
            [0, 1, 2].map(|i| b.constant(&self.constants, |c| c[i]));
        let keyed = |keys, values| KeyedColumn { keys, values };
        out.append_keyed(&KeyedRows {
            source: keyed(&source, &v.source),
            dataset: keyed(&dataset, &v.dataset),
            measure: keyed(&b.measure, &v.measure),
            region: keyed(&b.region, &v.region),
            region_level: keyed(&b.region_level, &v.region_level),
            period: keyed(&b.period, &v.period),
            year: &b.year,
            sex: keyed(&b.sex, &v.sex),
            age: keyed(&b.age, &v.age),
            breakdown: keyed(&b.breakdown, &v.breakdown),
            value: &b.value,
            present: &b.present,
            status: keyed(&b.status, &v.status),
            status_label: keyed(&b.status_label, &v.status_label),
            unit: keyed(&b.unit, &v.unit),
            raw_sha256: keyed(&raw_sha256, &v.raw_sha256),
            retrieved_at_micros: self.retrieved_at_micros,
        });
    }
}

/// The Arrow type of every text column: a dictionary of 32-bit keys over UTF-8 views, which is
/// what polars exports a 32-bit categorical column as (so frames and these batches can share a
/// file).
fn text_type() -> ArrowDataType {
    ArrowDataType::Dictionary(
        IntegerType::UInt32,
        Box::new(ArrowDataType::Utf8View),
        false,
    )
}

fn timestamp_type() -> ArrowDataType {
    ArrowDataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The `observations` schema of the batches.
fn schema() -> ArrowSchemaRef {
    let field = |name: &str, dtype: ArrowDataType| {
        (PlSmallStr::from(name), Field::new(name.into(), dtype, true))
    };
    let text = |name: &str| field(name, text_type());
    Arc::new(ArrowSchema::from_iter([
        text("source"),
        text("dataset"),
        text("measure"),
        text("region"),
        text("region_level"),
        text("period"),
        field("year", ArrowDataType::Int16),
        text("sex"),
        text("age"),
        text("breakdown"),
        field("value", ArrowDataType::Float64),
        field("abs_value", ArrowDataType::Float64),
        text("status"),
        text("status_label"),
        text("unit"),
        text("raw_sha256"),
        field("retrieved_at", timestamp_type()),
    ]))
}

/// The distinct values of one text column of a document, in the order they were first met (a
/// value's key is its place in that order).
#[derive(Default)]
struct Dict(Distinct);

impl Dict {
    fn insert(&mut self, value: &str) -> u32 {
        self.0.code_of(value)
    }

    fn len(&self) -> usize {
        self.0.values().len()
    }

    /// The values as an Arrow array.
    fn array(&self) -> Utf8ViewArray {
        Utf8ViewArray::from_slice_values(self.0.values())
    }
}

/// A dictionary column of `keys` (`NULL`: null) over `values`.
fn dictionary(
    keys: Vec<u32>,
    values: &Utf8ViewArray,
) -> Result<ArrayRef, polars::prelude::PolarsError> {
    let keys = if keys.contains(&NULL) {
        keys.iter().map(|k| (*k != NULL).then_some(*k)).collect()
    } else {
        PrimitiveArray::from_vec(keys)
    };
    Ok(DictionaryArray::try_new(text_type(), keys, values.clone().boxed())?.boxed())
}

/// The values of every dictionary, as Arrow arrays shared by the batches.
#[derive(Clone)]
struct DictValues {
    source: Utf8ViewArray,
    dataset: Utf8ViewArray,
    measure: Utf8ViewArray,
    region: Utf8ViewArray,
    region_level: Utf8ViewArray,
    period: Utf8ViewArray,
    sex: Utf8ViewArray,
    age: Utf8ViewArray,
    breakdown: Utf8ViewArray,
    status: Utf8ViewArray,
    status_label: Utf8ViewArray,
    unit: Utf8ViewArray,
    raw_sha256: Utf8ViewArray,
}

impl DictValues {
    fn new(d: &Dicts) -> DictValues {
        DictValues {
            source: d.source.array(),
            dataset: d.dataset.array(),
            measure: d.measure.array(),
            region: d.region.array(),
            region_level: d.region_level.array(),
            period: d.period.array(),
            sex: d.sex.array(),
            age: d.age.array(),
            breakdown: d.breakdown.array(),
            status: d.status.array(),
            status_label: d.status_label.array(),
            unit: d.unit.array(),
            raw_sha256: d.raw_sha256.array(),
        }
    }
}

/// The dictionaries of a document's text columns. All but `breakdown` (whose combinations are
/// found as the cells come) are complete before the first cell is read.
#[derive(Default)]
struct Dicts {
    source: Dict,
    dataset: Dict,
    measure: Dict,
    region: Dict,
    region_level: Dict,
    period: Dict,
    sex: Dict,
    age: Dict,
    breakdown: Dict,
    status: Dict,
    status_label: Dict,
    unit: Dict,
    raw_sha256: Dict,
}

/// Decodes a document into `observations` batches handed to `flush`, handing what cannot be used
/// to `quarantine` as it is found; cells given as text that decode go to `slow_rows`.
pub fn decode_columns<F, G, Q>(
    input: Input<'_>,
    roles: &DimensionRoles,
    ctx: &DecodeContext,
    opts: &ColumnOptions<'_>,
    quarantine: Q,
    flush: F,
    slow_rows: G,
) -> Result<Vec<DatasetInfo>, SourceError>
where
    F: FnMut(ArrowBatch) -> Result<(), String>,
    G: FnMut(RawObservation) -> Result<(), String>,
    Q: FnMut(QuarantineEntry) -> Result<(), String>,
{
    let mut plan = plan(input, roles, ctx)?;
    let mut dicts = Dicts::default();
    // A dataset without other dimensions has the empty breakdown, key 0.
    dicts.breakdown.insert("");
    let keys = plan
        .mappers
        .iter()
        .map(|m| Keys::new(m, &Tables::new(m, opts), &mut dicts, &ctx.raw_sha256))
        .collect::<Vec<Keys>>();
    let constants = keys
        .iter()
        .map(|k| [k.source, k.dataset, k.raw_sha256])
        .collect();
    let mut sink = ColumnSink {
        mappers: &mut plan.mappers,
        ctx,
        opts,
        keys,
        values: Arc::new(DictValues::new(&dicts)),
        constants: Arc::new(constants),
        dicts,
        schema: schema(),
        batch: Batch::with_capacity(opts.batch_rows),
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
