//! The columnar pass 2 used by `convert` and the pipeline: cells straight into `observations`
//! batches.
//!
//! Mapping a cell on its own ([`super::DatasetMapper::map`]) builds an observation of a dozen
//! strings. For a national table of millions of cells that allocation dominates, so this path computes
//! everything that depends on a category once per dataset (the region, resolved to its canonical
//! code; the period and its year; sex; age; the unit) as keys into the document's dictionaries.
//! A batch holds per cell only its value, status key and `breakdown` key, and the cells'
//! positions as spans of consecutive positions: every other column follows from a position
//! (a category's key repeats for as many cells as its dimension's stride), so it is built from
//! the spans when the batch is written, one column at a time, off the reading thread. Every text
//! column is a dictionary over the document's distinct values (keys are those codes, so the
//! Parquet writer stores them as they are, with no per-row hashing). On the national population
//! table of `benches/jsonstat.sh` this took peak memory from 44 to 36 MB and the reading thread's
//! work per cell down to a number, a status and an append.
//!
//! A dataset whose regions all resolve, whose periods all have a year, whose sex categories
//! all map and which has no dimension left to `breakdown` takes its cells without working out
//! their coordinates at all.
//!
//! Cells the fast path does not handle (a value given as text, a period without a year, an
//! unmapped sex code, a region that does not resolve) are mapped on their own and handed to the
//! sink as single rows or quarantine entries (the sink resolves their regions), so they land
//! after the batch their neighbours are in.

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
    CellStatus, DatasetInfo, DatasetMapper, DimensionRoles, Input, Plan, PlanSink, PositionMap,
    pass2, plan,
};
use crate::error::SourceError;
use crate::model::columns::{KeyedColumn, KeyedRows, ObservationColumns};
use crate::model::intern::{Distinct, NULL};
use crate::model::observation::{RegionId, Sex, SourceKind};
use crate::stages::normalize::{DecodeContext, ObservationSink};

/// A resolved region (canonical code, level), or the quarantine rule and reason.
pub type Resolution = Result<(String, &'static str), (&'static str, String)>;

/// How the column path resolves regions and rejects rows; supplied by the caller, which owns the
/// registry (the conform stage).
pub struct ColumnOptions<'a> {
    /// Canonical code and level of a published region id, or the quarantine rule and reason.
    pub resolve_region: &'a dyn Fn(&RegionId) -> Resolution,
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
                .map(|p| crate::model::observation::year_of_period(p))
                .collect(),
            periods,
            sexes,
            ages,
        }
    }
}

/// The statuses of one dataset's cells, as `status` keys (`status_label` follows from the
/// status: [`Layout::status_label`]).
enum Statuses {
    None,
    /// Every cell.
    All(u32),
    /// By position (a status array).
    PerCell(Vec<u32>),
    /// Listed positions (a status object, held by the dataset's mapper): the key of each of its
    /// distinct statuses.
    Sparse(Vec<u32>),
}

impl Statuses {
    /// The dataset's statuses, and its `status_label` key per `status` key (`NULL` where the
    /// dataset has no such status, or the status no label).
    fn new(m: &DatasetMapper, status: &mut Dict, label: &mut Dict) -> (Statuses, Vec<u32>) {
        let mut labels: Vec<u32> = Vec::new();
        let mut key = |s: &str| {
            let l = m.status_label(s).map_or(NULL, |l| label.insert(&l));
            let s = status.insert(s);
            let at = s as usize;
            if labels.len() <= at {
                labels.resize(at + 1, NULL);
            }
            labels[at] = l;
            s
        };
        let statuses = match &m.status {
            CellStatus::None => Statuses::None,
            CellStatus::All(s) => Statuses::All(key(s)),
            CellStatus::PerCell(items) => {
                let mut memo: HashMap<&str, u32> = HashMap::new();
                Statuses::PerCell(
                    items
                        .iter()
                        .map(|i| match &i.0 {
                            Some(s) => *memo.entry(s.as_str()).or_insert_with(|| key(s)),
                            None => NULL,
                        })
                        .collect(),
                )
            }
            CellStatus::Sparse(sparse) => {
                Statuses::Sparse(sparse.symbols.iter().map(|s| key(s)).collect())
            }
        };
        (statuses, labels)
    }

    /// The `status` key of the cell at `pos` of the dataset whose statuses are `status`
    /// (`entry`: the cell's entry in a status object, [`DatasetMapper::status_entry`]); `NULL`
    /// for none.
    fn at(&self, status: &CellStatus, pos: usize, entry: Option<usize>) -> u32 {
        match (self, status) {
            (Statuses::All(s), _) => *s,
            (Statuses::PerCell(keys), _) => keys.get(pos).copied().unwrap_or(NULL),
            (Statuses::Sparse(keys), CellStatus::Sparse(sparse)) => entry
                .and_then(|at| sparse.symbol_of(at))
                .and_then(|i| keys.get(i).copied())
                .unwrap_or(NULL),
            _ => NULL,
        }
    }
}

/// A column that follows from a cell's position in its dataset: the key of the category of one
/// dimension (`along`: that dimension's stride and size), or one key for every cell.
struct Axis<T> {
    along: Option<(usize, usize)>,
    keys: Vec<T>,
}

impl<T: Copy> Axis<T> {
    fn constant(key: T) -> Axis<T> {
        Axis {
            along: None,
            keys: vec![key],
        }
    }

    /// The keys of dimension `dim` of `m` (`None`: the dataset has no such dimension, and
    /// `keys` holds its one key).
    fn of(m: &DatasetMapper, dim: Option<usize>, keys: Vec<T>) -> Axis<T> {
        Axis {
            along: dim.map(|k| (m.strides[k], m.dims[k].categories.len())),
            keys,
        }
    }

    /// Appends the keys of the `rows` cells from position `first` on: runs of one category's
    /// key, as many as the dimension's stride.
    fn extend(&self, out: &mut Vec<T>, first: usize, mut rows: usize) {
        let Some((stride, size)) = self.along else {
            out.resize(out.len() + rows, self.keys[0]);
            return;
        };
        let mut at = (first / stride) % size;
        if stride == 1 {
            while rows > 0 {
                let take = (size - at).min(rows);
                out.extend_from_slice(&self.keys[at..at + take]);
                rows -= take;
                at = 0;
            }
            return;
        }
        let mut left = stride - first % stride;
        while rows > 0 {
            let take = left.min(rows);
            out.resize(out.len() + take, self.keys[at]);
            rows -= take;
            at = if at + 1 == size { 0 } else { at + 1 };
            left = stride;
        }
    }
}

/// How one dataset's columns follow from its cells' positions: every column but `value`,
/// `status` and `breakdown` (which the batch holds per row) and `abs_value` and `retrieved_at`
/// (the same for every dataset).
struct Layout {
    source: Axis<u32>,
    dataset: Axis<u32>,
    raw_sha256: Axis<u32>,
    measure: Axis<u32>,
    unit: Axis<u32>,
    region: Axis<u32>,
    region_level: Axis<u32>,
    period: Axis<u32>,
    year: Axis<i16>,
    sex: Axis<u32>,
    age: Axis<u32>,
    /// The `status_label` key of each `status` key the dataset has.
    status_label: Vec<u32>,
}

/// What the reading thread needs of one dataset for each cell: whether the cell can be taken
/// as it is, its status and its `breakdown` key.
struct Keys {
    /// Whether some cells need their coordinates: a region that does not resolve, a period
    /// without a year, an unmapped sex, or dimensions left to `breakdown`. When not, every
    /// cell is taken without working out where it is.
    checked: bool,
    /// The year of each period (`None`: the period has none; [`Layout::year`] holds 0 there).
    year: Vec<Option<i16>>,
    statuses: Statuses,
    /// Combination of the other dimensions' positions -> `breakdown` key, and the last one.
    breakdown_of: PositionMap<u32>,
    last_breakdown: Option<(usize, u32)>,
    /// Category position of the last cell in each dimension, and the position that follows it.
    coords: Vec<usize>,
    next_pos: Option<usize>,
}

impl Keys {
    /// The keys of a dataset, and its layout.
    fn new(m: &DatasetMapper, t: &Tables, dicts: &mut Dicts, raw_sha256: &str) -> (Keys, Layout) {
        let all = |dict: &mut Dict, values: &[String]| -> Vec<u32> {
            values.iter().map(|v| dict.insert(v)).collect()
        };
        let opt = |dict: &mut Dict, v: Option<&str>| v.map_or(NULL, |v| dict.insert(v));
        let source = dicts.source.insert(t.source);
        let dataset = dicts.dataset.insert(&t.dataset);
        let raw_sha256 = dicts.raw_sha256.insert(raw_sha256);
        let measure = all(&mut dicts.measure, &t.measures);
        let unit: Vec<u32> = t
            .units
            .iter()
            .map(|u| opt(&mut dicts.unit, u.as_deref()))
            .collect();
        let region: Vec<u32> = t
            .regions
            .iter()
            .map(|r| opt(&mut dicts.region, r.as_ref().ok().map(|(c, _)| c.as_str())))
            .collect();
        let region_level: Vec<u32> = t
            .regions
            .iter()
            .map(|r| opt(&mut dicts.region_level, r.as_ref().ok().map(|(_, l)| *l)))
            .collect();
        let period = all(&mut dicts.period, &t.periods);
        let sex: Vec<u32> = t
            .sexes
            .iter()
            .map(|s| opt(&mut dicts.sex, s.map(Sex::as_str)))
            .collect();
        let age = all(&mut dicts.age, &t.ages);
        let (statuses, status_label) = Statuses::new(m, &mut dicts.status, &mut dicts.status_label);
        let layout = Layout {
            source: Axis::constant(source),
            dataset: Axis::constant(dataset),
            raw_sha256: Axis::constant(raw_sha256),
            measure: Axis::of(m, m.measure, measure),
            unit: Axis::of(m, m.measure, unit),
            region: Axis::of(m, m.region, region),
            region_level: Axis::of(m, m.region, region_level),
            period: Axis::of(m, Some(m.time), period),
            year: Axis::of(
                m,
                Some(m.time),
                t.years.iter().map(|y| y.unwrap_or_default()).collect(),
            ),
            sex: Axis::of(m, m.sex, sex),
            age: Axis::of(m, m.age, age),
            status_label,
        };
        let keys = Keys {
            checked: !m.others.is_empty()
                || layout.region.keys.contains(&NULL)
                || layout.sex.keys.contains(&NULL)
                || t.years.contains(&None),
            year: t.years.clone(),
            statuses,
            breakdown_of: PositionMap::default(),
            last_breakdown: None,
            coords: vec![0; m.dims.len()],
            next_pos: None,
        };
        (keys, layout)
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

/// A run of cells of one dataset at consecutive positions, which are consecutive rows of a batch.
struct Span {
    dataset: usize,
    first: usize,
    rows: usize,
}

/// Keys of a column as runs of equal keys: (first row, key), each run lasting until the next
/// one's first row. `status` is mostly null and `breakdown` mostly one key, so a batch holds a
/// few runs where it would hold a key per row.
#[derive(Default)]
struct KeyRuns(Vec<(usize, u32)>);

impl KeyRuns {
    fn push(&mut self, row: usize, key: u32) {
        if self.0.last().is_none_or(|r| r.1 != key) {
            self.0.push((row, key));
        }
    }

    /// A key per row, for `rows` rows.
    fn expand(&self, rows: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(rows);
        for (i, (first, key)) in self.0.iter().enumerate() {
            let end = self.0.get(i + 1).map_or(rows, |next| next.0);
            debug_assert_eq!(out.len(), *first);
            out.resize(end, *key);
        }
        out
    }
}

/// The cells of the current batch: per row its value; its `status` and `breakdown` keys as
/// runs; the rows' positions as spans, from which every other column follows ([`Layout`]).
#[derive(Default)]
struct Batch {
    spans: Vec<Span>,
    value: Vec<f64>,
    present: MutableBitmap,
    status: KeyRuns,
    breakdown: KeyRuns,
}

impl Batch {
    /// An empty batch with room for `rows` cells, so that pushing never reallocates.
    fn with_capacity(rows: usize) -> Batch {
        Batch {
            spans: Vec::new(),
            value: Vec::with_capacity(rows),
            present: MutableBitmap::with_capacity(rows),
            status: KeyRuns::default(),
            breakdown: KeyRuns::default(),
        }
    }

    fn len(&self) -> usize {
        self.value.len()
    }

    fn push(
        &mut self,
        dataset: usize,
        pos: usize,
        value: Option<f64>,
        status: u32,
        breakdown: u32,
    ) {
        match self.spans.last_mut() {
            Some(s) if s.dataset == dataset && s.first + s.rows == pos => s.rows += 1,
            _ => self.spans.push(Span {
                dataset,
                first: pos,
                rows: 1,
            }),
        }
        let row = self.len();
        self.status.push(row, status);
        self.breakdown.push(row, breakdown);
        self.value.push(value.unwrap_or_default());
        self.present.push(value.is_some());
    }
}

struct ColumnSink<'a, S> {
    mappers: &'a mut [DatasetMapper],
    ctx: &'a DecodeContext,
    opts: &'a ColumnOptions<'a>,
    keys: Vec<Keys>,
    dicts: Dicts,
    values: Arc<DictValues>,
    layouts: Arc<Vec<Layout>>,
    schema: ArrowSchemaRef,
    batch: Batch,
    sink: &'a mut S,
}

impl<S: ObservationSink> ColumnSink<'_, S> {
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
        self.sink.batch(ArrowBatch::new(
            self.schema.clone(),
            cells,
            self.layouts.clone(),
            self.values.clone(),
            self.opts.retrieved_at_micros,
        ))?;
        // The next batch's room is taken once the writer has this one: two batches alive, not
        // three.
        self.batch = Batch::with_capacity(self.opts.batch_rows);
        Ok(())
    }

    /// A cell the fast path does not take: mapped on its own, and handed to the sink as a row
    /// (which resolves its region) or as a quarantine entry.
    fn slow(&mut self, d: usize, pos: usize, cell: &Cell) -> Result<(), String> {
        match self.mappers[d].map(pos, cell, self.ctx) {
            Err(q) => self.sink.quarantine(q),
            Ok(raw) => self.sink.row(raw),
        }
    }
}

impl<S: ObservationSink> CellSink for ColumnSink<'_, S> {
    #[allow(clippy::many_single_char_names)] // d, m, k, b: dataset, mapper, keys, batch.
    fn cell(&mut self, d: usize, pos: usize, cell: Cell) -> Result<(), String> {
        let value = match cell {
            Cell::Number(v) if v.is_finite() => Some(v),
            Cell::Null => None,
            // Text, and a number too large for a float: mapped on their own (and quarantined).
            Cell::Number(_) | Cell::Text(_) => return self.slow(d, pos, &cell),
        };
        let entry = self.mappers[d].status_entry(pos);
        let m = &self.mappers[d];
        let k = &mut self.keys[d];
        let breakdown = if k.checked {
            k.seek(m, pos);
            let at = |dim: Option<usize>| dim.map_or(0, |i| k.coords[i]);
            let (region, time, sex) = (at(m.region), k.coords[m.time], at(m.sex));
            let l = &self.layouts[d];
            // An unresolved region, a period without a year or an unmapped sex: the row path.
            if l.region.keys[region] == NULL || k.year[time].is_none() || l.sex.keys[sex] == NULL {
                return self.slow(d, pos, &cell);
            }
            if m.others.is_empty() {
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
            }
        } else {
            0
        };
        let status = k.statuses.at(&m.status, pos, entry);
        let b = &mut self.batch;
        b.push(d, pos, value, status, breakdown);
        if b.len() >= self.opts.batch_rows {
            self.flush_batch()?;
        }
        Ok(())
    }
}

impl<S: ObservationSink> PlanSink for ColumnSink<'_, S> {
    fn mappers(&self) -> &[DatasetMapper] {
        self.mappers
    }
}

/// One batch of `observations`: the cells' values, statuses and breakdowns, and the spans of
/// positions from which [`ArrowBatch::column`] builds every other column, in the contract's
/// column order. Building the columns is left to the consumer (`convert`'s writer, one column
/// at a time as it encodes them), off the thread that reads the cells.
pub struct ArrowBatch {
    /// Column names and types (the same for every batch of a document).
    pub schema: ArrowSchemaRef,
    spans: Vec<Span>,
    value: PrimitiveArray<f64>,
    status: KeyRuns,
    breakdown: KeyRuns,
    layouts: Arc<Vec<Layout>>,
    values: Arc<DictValues>,
    retrieved_at_micros: i64,
}

impl ArrowBatch {
    fn new(
        schema: ArrowSchemaRef,
        cells: Batch,
        layouts: Arc<Vec<Layout>>,
        values: Arc<DictValues>,
        retrieved_at_micros: i64,
    ) -> ArrowBatch {
        ArrowBatch {
            schema,
            spans: cells.spans,
            value: PrimitiveArray::new(
                ArrowDataType::Float64,
                cells.value.into(),
                cells.present.into(),
            ),
            status: cells.status,
            breakdown: cells.breakdown,
            layouts,
            values,
            retrieved_at_micros,
        }
    }

    /// Rows.
    pub fn height(&self) -> usize {
        self.value.len()
    }

    /// Column `i` of [`ArrowBatch::schema`].
    pub fn column(&self, i: usize) -> Result<ArrayRef, polars::prelude::PolarsError> {
        let v = &*self.values;
        let n = self.height();
        let text = |keys, values| dictionary(PrimitiveArray::from_vec(keys), values);
        match i {
            0 => text(self.expand(|l| &l.source), &v.source),
            1 => text(self.expand(|l| &l.dataset), &v.dataset),
            2 => text(self.expand(|l| &l.measure), &v.measure),
            3 => text(self.expand(|l| &l.region), &v.region),
            4 => text(self.expand(|l| &l.region_level), &v.region_level),
            5 => text(self.expand(|l| &l.period), &v.period),
            6 => Ok(PrimitiveArray::from_vec(self.expand(|l| &l.year)).boxed()),
            7 => text(self.expand(|l| &l.sex), &v.sex),
            8 => text(self.expand(|l| &l.age), &v.age),
            9 => text(self.breakdown.expand(n), &v.breakdown),
            10 => Ok(self.value.clone().boxed()),
            // All null, built here: polars' own null array borrows a shared zeroed buffer of 8 MB.
            11 => Ok(PrimitiveArray::new(
                ArrowDataType::Float64,
                vec![0.0f64; n].into(),
                Some(Bitmap::from_u8_vec(vec![0; n.div_ceil(8)], n)),
            )
            .boxed()),
            12 => text(self.status.expand(n), &v.status),
            13 => text(self.status_label(&self.status.expand(n)), &v.status_label),
            14 => text(self.expand(|l| &l.unit), &v.unit),
            15 => text(self.expand(|l| &l.raw_sha256), &v.raw_sha256),
            16 => Ok(PrimitiveArray::from_vec(vec![self.retrieved_at_micros; n])
                .to(timestamp_type())
                .boxed()),
            _ => Err(polars::prelude::polars_err!(
                OutOfBounds: "column {i} of the {} of `observations`", self.schema.len()
            )),
        }
    }

    /// A column that follows from the cells' positions, row by row.
    fn expand<T: Copy>(&self, axis: fn(&Layout) -> &Axis<T>) -> Vec<T> {
        let mut out = Vec::with_capacity(self.height());
        for s in &self.spans {
            axis(&self.layouts[s.dataset]).extend(&mut out, s.first, s.rows);
        }
        out
    }

    /// `status_label` keys: each row's status's label in its dataset (`status`: a key per row).
    fn status_label(&self, status: &[u32]) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.height());
        for s in &self.spans {
            let labels = &self.layouts[s.dataset].status_label;
            let at = out.len();
            out.extend(
                status[at..at + s.rows]
                    .iter()
                    .map(|k| labels.get(*k as usize).copied().unwrap_or(NULL)),
            );
        }
        out
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
        let v = &self.values;
        let keyed = |keys, values| KeyedColumn { keys, values };
        let axes: [fn(&Layout) -> &Axis<u32>; 10] = [
            |l| &l.source,
            |l| &l.dataset,
            |l| &l.measure,
            |l| &l.region,
            |l| &l.region_level,
            |l| &l.period,
            |l| &l.sex,
            |l| &l.age,
            |l| &l.unit,
            |l| &l.raw_sha256,
        ];
        let [
            source,
            dataset,
            measure,
            region,
            region_level,
            period,
            sex,
            age,
            unit,
            raw_sha256,
        ] = axes.map(|axis| self.expand(axis));
        let n = self.height();
        let (status, breakdown) = (self.status.expand(n), self.breakdown.expand(n));
        let (year, status_label) = (self.expand(|l| &l.year), self.status_label(&status));
        let present = self
            .value
            .validity()
            .cloned()
            .unwrap_or_else(|| Bitmap::new_with_value(true, self.height()));
        out.append_keyed(&KeyedRows {
            source: keyed(&source, &v.source),
            dataset: keyed(&dataset, &v.dataset),
            measure: keyed(&measure, &v.measure),
            region: keyed(&region, &v.region),
            region_level: keyed(&region_level, &v.region_level),
            period: keyed(&period, &v.period),
            year: &year,
            sex: keyed(&sex, &v.sex),
            age: keyed(&age, &v.age),
            breakdown: keyed(&breakdown, &v.breakdown),
            value: self.value.values(),
            present: &present,
            status: keyed(&status, &v.status),
            status_label: keyed(&status_label, &v.status_label),
            unit: keyed(&unit, &v.unit),
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
    keys: PrimitiveArray<u32>,
    values: &Utf8ViewArray,
) -> Result<ArrayRef, polars::prelude::PolarsError> {
    let keys = if keys.values().contains(&NULL) {
        keys.values_iter()
            .map(|k| (*k != NULL).then_some(*k))
            .collect()
    } else {
        keys
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

/// Decodes a document into `observations` batches handed to `sink`, with what cannot be used
/// handed over as it is found.
pub fn decode_columns<S: ObservationSink>(
    input: Input<'_>,
    roles: &DimensionRoles,
    ctx: &DecodeContext,
    opts: &ColumnOptions<'_>,
    sink: &mut S,
) -> Result<Vec<DatasetInfo>, SourceError> {
    let planned = plan_columns(input, roles, ctx)?;
    decode_planned(planned, input, ctx, opts, sink)
}

/// A document read once and validated, with a mapper per dataset: what [`decode_planned`]
/// decodes.
pub struct ColumnPlan(Plan);

/// The first pass of [`decode_columns`]: reading, validating and mapping the document. It uses
/// neither `ctx.raw_sha256` nor the regions, so a caller can work those out meanwhile.
pub fn plan_columns(
    input: Input<'_>,
    roles: &DimensionRoles,
    ctx: &DecodeContext,
) -> Result<ColumnPlan, SourceError> {
    Ok(ColumnPlan(plan(input, roles, ctx)?))
}

/// The second pass of [`decode_columns`], on a plan of the same `input`.
pub fn decode_planned<S: ObservationSink>(
    planned: ColumnPlan,
    input: Input<'_>,
    ctx: &DecodeContext,
    opts: &ColumnOptions<'_>,
    sink: &mut S,
) -> Result<Vec<DatasetInfo>, SourceError> {
    let mut plan = planned.0;
    let mut dicts = Dicts::default();
    // A dataset without other dimensions has the empty breakdown, key 0.
    dicts.breakdown.insert("");
    let (keys, layouts): (Vec<Keys>, Vec<Layout>) = plan
        .mappers
        .iter()
        .map(|m| Keys::new(m, &Tables::new(m, opts), &mut dicts, &ctx.raw_sha256))
        .unzip();
    let mut sink = ColumnSink {
        mappers: &mut plan.mappers,
        ctx,
        opts,
        keys,
        values: Arc::new(DictValues::new(&dicts)),
        layouts: Arc::new(layouts),
        dicts,
        schema: schema(),
        batch: Batch::with_capacity(opts.batch_rows),
        sink,
    };
    pass2(input, plan.form, &plan.pointers, ctx, &mut sink)?;
    sink.flush_batch().map_err(|e| SourceError::Malformed {
        path: ctx.file.clone().into(),
        location: "/value".into(),
        message: e,
    })?;
    Ok(plan.infos())
}

#[cfg(test)]
mod tests;
