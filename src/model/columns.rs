//! The observation columns: the one sink every decoder writes into, and the `observations`
//! frame built from it. Text columns are interned as they are pushed (a region code or dataset id
//! repeats on most rows), rows are kept in arrival order and sorted once by their keys when the
//! frame is built.

use polars::prelude::*;
use polars_arrow::array::Utf8ViewArray;
use polars_arrow::bitmap::Bitmap;
use rayon::iter::{IntoParallelIterator, ParallelIterator};
use rayon::slice::ParallelSliceMut;

use crate::error::{InternalError, PolarsContext};
use crate::model::intern::{Distinct, NULL};
use crate::model::observation::{Provenance, RawObservation, SourceKind};
use crate::model::quarantine::QuarantineEntry;
use crate::model::regions::Level;

/// Rows per Parquet batch (and row group) when streaming. On the national population table of
/// `benches/jsonstat.sh` (writes buffered), 64 Ki rows converted as fast as 128 Ki with 12 MB
/// less peak memory, and 32 Ki saved 4 MB more but was about 5 % slower.
pub const BATCH_ROWS: usize = 64 * 1024;

/// A string column kept as its distinct values and a code per row.
///
/// Observations repeat a handful of datasets, measures, regions, periods and ages millions of
/// times; keeping each distinct string once (and 4 bytes a row) is what keeps a national run in
/// memory, and sorting by codes ranked once replaces millions of string comparisons.
#[derive(Debug, Default)]
struct Interned {
    distinct: Distinct,
    /// Per row; [`NULL`] for a missing value.
    codes: Vec<u32>,
}

impl Interned {
    fn push(&mut self, value: &str) {
        // Consecutive rows mostly repeat the previous row's value: compare before hashing.
        let code = match self.codes.last() {
            Some(&last) if last != NULL && *self.distinct.values()[last as usize] == *value => last,
            _ => self.distinct.code_of(value),
        };
        self.codes.push(code);
    }

    fn push_opt(&mut self, value: Option<&str>) {
        match value {
            Some(v) => self.push(v),
            None => self.codes.push(NULL),
        }
    }

    /// Appends rows given as keys into a dictionary of their own: each key used is looked up
    /// once, the rows are then a table look-up each. Values no row uses are not added.
    fn extend_keyed(&mut self, column: &KeyedColumn<'_>) {
        let mut ours: Vec<Option<u32>> = vec![None; column.values.len()];
        self.codes.reserve(column.keys.len());
        for &key in column.keys {
            let code = match key {
                NULL => NULL,
                key => *ours[key as usize].get_or_insert_with(|| {
                    self.distinct.code_of(column.values.value(key as usize))
                }),
            };
            self.codes.push(code);
        }
    }

    /// Each distinct value's rank in byte order (the order polars sorts strings in).
    fn ranks(&self) -> Vec<u32> {
        let values = self.distinct.values();
        let mut order: Vec<u32> = (0..values.len())
            .map(|i| u32::try_from(i).unwrap_or(NULL))
            .collect();
        order.sort_unstable_by(|&a, &b| values[a as usize].cmp(&values[b as usize]));
        let mut ranks = vec![0; order.len()];
        for (rank, &code) in order.iter().enumerate() {
            ranks[code as usize] = u32::try_from(rank).unwrap_or(NULL);
        }
        ranks
    }

    /// The column with rows in the given order, dictionary-encoded: a polars `Categorical` of
    /// the distinct values (an Arrow dictionary in Parquet), 4 bytes a row. A plain string
    /// column would take a 16-byte view a row and make the Parquet writer hash every value to
    /// find the dictionary again.
    fn series(&self, name: &str, rows: &[u32]) -> Result<Series, InternalError> {
        let context = || format!("building `{name}`");
        // Named, not random: the name goes into the Parquet file's metadata, and the same input
        // should give the same file.
        let categories = Categories::new(
            format!("observations.{name}").into(),
            "mittari".into(),
            CategoricalPhysical::U32,
        );
        let mapping = categories.mapping();
        let to_category = self
            .distinct
            .values()
            .iter()
            .map(|v| mapping.insert_cat(v))
            .collect::<PolarsResult<Vec<u32>>>()
            .context(context())?;
        // Codes to category ids, with a validity only where a row is missing.
        let ids: Vec<u32> = rows
            .iter()
            .map(|&r| match self.codes[r as usize] {
                NULL => 0,
                code => to_category[code as usize],
            })
            .collect();
        let validity = self.codes.contains(&NULL).then(|| {
            rows.iter()
                .map(|&r| self.codes[r as usize] != NULL)
                .collect::<Bitmap>()
        });
        let ids = UInt32Chunked::from_vec_validity(name.into(), ids, validity).into_series();
        Series::from_cats_and_dtype(&ids, &DataType::Categorical(categories, mapping), true)
            .context(context())
    }
}

/// Observations with their regions resolved, in column form.
#[derive(Debug, Default)]
pub struct ObservationColumns {
    source: Interned,
    dataset: Interned,
    measure: Interned,
    region: Interned,
    region_level: Interned,
    period: Interned,
    year: Vec<i16>,
    sex: Interned,
    age: Interned,
    breakdown: Interned,
    value: Vec<Option<f64>>,
    abs_value: Vec<Option<f64>>,
    status: Interned,
    status_label: Interned,
    unit: Interned,
    raw_sha256: Interned,
    retrieved_at: Vec<i64>,
}

/// The status of a key whose rows disagree (see [`ObservationColumns::into_frame_one_per_key`]):
/// mittari's own code, next to the publishers' symbols.
pub const CONFLICT: &str = "conflict";

/// The values of a dictionary, by key.
pub trait Dictionary {
    /// The value of `key` (which must be below the dictionary's length).
    fn value(&self, key: usize) -> &str;
    /// Number of values.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Dictionary for Utf8ViewArray {
    fn value(&self, key: usize) -> &str {
        Utf8ViewArray::value(self, key)
    }
    fn len(&self) -> usize {
        polars_arrow::array::Array::len(self)
    }
}

impl Dictionary for Distinct {
    fn value(&self, key: usize) -> &str {
        &self.values()[key]
    }
    fn len(&self) -> usize {
        self.values().len()
    }
}

/// A text column of a decoder's batch: per row a key into the batch's own dictionary `values`
/// ([`NULL`] for a missing value).
pub struct KeyedColumn<'a> {
    /// Per row.
    pub keys: &'a [u32],
    /// The dictionary.
    pub values: &'a dyn Dictionary,
}

/// The text columns of `observations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // The column names.
pub enum Text {
    Source,
    Dataset,
    Measure,
    Region,
    RegionLevel,
    Period,
    Sex,
    Age,
    Breakdown,
    Status,
    StatusLabel,
    Unit,
    RawSha256,
}

/// One row given as codes of [`ObservationColumns`]' own dictionaries (see
/// [`ObservationColumns::code`]): what a decoder that looks each distinct value up once pushes.
#[derive(Debug, Clone, Copy)]
pub struct CodedRow {
    /// Per [`Text`] column, in its order.
    pub text: [u32; 13],
    /// `year`.
    pub year: i16,
    /// `value`.
    pub value: Option<f64>,
    /// `abs_value`.
    pub abs_value: Option<f64>,
    /// `retrieved_at`, microseconds since the epoch (UTC).
    pub retrieved_at_micros: i64,
}

/// Rows of `observations` as a columnar decoder hands them over: text columns as keys into
/// dictionaries of the decoder's, regions already resolved to canonical codes. `abs_value` is
/// missing and `retrieved_at` the same for every row.
pub struct KeyedRows<'a> {
    /// `source`.
    pub source: KeyedColumn<'a>,
    /// `dataset`.
    pub dataset: KeyedColumn<'a>,
    /// `measure`.
    pub measure: KeyedColumn<'a>,
    /// `region`.
    pub region: KeyedColumn<'a>,
    /// `region_level`.
    pub region_level: KeyedColumn<'a>,
    /// `period`.
    pub period: KeyedColumn<'a>,
    /// `year`.
    pub year: &'a [i16],
    /// `sex`.
    pub sex: KeyedColumn<'a>,
    /// `age`.
    pub age: KeyedColumn<'a>,
    /// `breakdown`.
    pub breakdown: KeyedColumn<'a>,
    /// Per row; meaningful where `present` is set.
    pub value: &'a [f64],
    /// `present`.
    pub present: &'a Bitmap,
    /// `status`.
    pub status: KeyedColumn<'a>,
    /// `status_label`.
    pub status_label: KeyedColumn<'a>,
    /// `unit`.
    pub unit: KeyedColumn<'a>,
    /// `raw_sha256`.
    pub raw_sha256: KeyedColumn<'a>,
    /// `retrieved_at_micros`.
    pub retrieved_at_micros: i64,
}

impl ObservationColumns {
    /// Appends rows whose regions a columnar decoder has resolved (JSON-stat's column path).
    pub fn append_keyed(&mut self, rows: &KeyedRows<'_>) {
        let n = rows.year.len();
        let keyed = [
            &rows.source,
            &rows.dataset,
            &rows.measure,
            &rows.region,
            &rows.region_level,
            &rows.period,
            &rows.sex,
            &rows.age,
            &rows.breakdown,
            &rows.status,
            &rows.status_label,
            &rows.unit,
            &rows.raw_sha256,
        ];
        for (column, keyed) in self.texts_mut().into_iter().zip(keyed) {
            debug_assert_eq!(keyed.keys.len(), n, "every column has a key per row");
            column.extend_keyed(keyed);
        }
        self.year.extend_from_slice(rows.year);
        self.value.extend(
            rows.value
                .iter()
                .enumerate()
                .map(|(i, &v)| rows.present.get_bit(i).then_some(v)),
        );
        self.abs_value.resize(self.abs_value.len() + n, None);
        self.retrieved_at
            .resize(self.retrieved_at.len() + n, rows.retrieved_at_micros);
    }

    /// The column of `observations` a [`Text`] names.
    fn text(&mut self, column: Text) -> &mut Interned {
        match column {
            Text::Source => &mut self.source,
            Text::Dataset => &mut self.dataset,
            Text::Measure => &mut self.measure,
            Text::Region => &mut self.region,
            Text::RegionLevel => &mut self.region_level,
            Text::Period => &mut self.period,
            Text::Sex => &mut self.sex,
            Text::Age => &mut self.age,
            Text::Breakdown => &mut self.breakdown,
            Text::Status => &mut self.status,
            Text::StatusLabel => &mut self.status_label,
            Text::Unit => &mut self.unit,
            Text::RawSha256 => &mut self.raw_sha256,
        }
    }

    /// The text columns, in [`Text`] order.
    fn texts_mut(&mut self) -> [&mut Interned; 13] {
        [
            &mut self.source,
            &mut self.dataset,
            &mut self.measure,
            &mut self.region,
            &mut self.region_level,
            &mut self.period,
            &mut self.sex,
            &mut self.age,
            &mut self.breakdown,
            &mut self.status,
            &mut self.status_label,
            &mut self.unit,
            &mut self.raw_sha256,
        ]
    }

    /// The text columns, in [`Text`] order.
    fn texts(&self) -> [&Interned; 13] {
        [
            &self.source,
            &self.dataset,
            &self.measure,
            &self.region,
            &self.region_level,
            &self.period,
            &self.sex,
            &self.age,
            &self.breakdown,
            &self.status,
            &self.status_label,
            &self.unit,
            &self.raw_sha256,
        ]
    }

    /// The code of `value` in `column` ([`NULL`] for a missing value), numbering it if new.
    pub fn code(&mut self, column: Text, value: Option<&str>) -> u32 {
        value.map_or(NULL, |v| self.text(column).distinct.code_of(v))
    }

    /// Appends a row given as codes from [`ObservationColumns::code`].
    pub fn push_coded(&mut self, row: &CodedRow) {
        for (column, &code) in self.texts_mut().into_iter().zip(&row.text) {
            column.codes.push(code);
        }
        self.year.push(row.year);
        self.value.push(row.value);
        self.abs_value.push(row.abs_value);
        self.retrieved_at.push(row.retrieved_at_micros);
    }

    /// Appends another set of columns (a payload decoded on a worker thread): each of its
    /// distinct values is looked up once, its rows are then a table look-up a column.
    pub fn append(&mut self, other: ObservationColumns) {
        if self.is_empty() {
            *self = other;
            return;
        }
        for (column, theirs) in self.texts_mut().into_iter().zip(other.texts()) {
            column.extend_keyed(&KeyedColumn {
                keys: &theirs.codes,
                values: &theirs.distinct,
            });
        }
        self.year.extend_from_slice(&other.year);
        self.value.extend_from_slice(&other.value);
        self.abs_value.extend_from_slice(&other.abs_value);
        self.retrieved_at.extend_from_slice(&other.retrieved_at);
    }

    /// Appends one row whose region resolved to `code` at `level`.
    pub fn push_row(
        &mut self,
        row: &RawObservation,
        region: &str,
        level: Level,
        provenance: &Provenance<'_>,
    ) {
        self.source
            .push(SourceKind::of_dataset(&row.dataset).as_str());
        self.dataset.push(&row.dataset);
        self.measure.push(&row.measure);
        self.region.push(region);
        self.region_level.push(level.as_str());
        self.period.push(&row.period);
        self.year.push(row.year);
        self.sex.push(row.sex.as_str());
        self.age.push(&row.age);
        self.breakdown.push(&row.breakdown);
        self.value.push(row.value);
        self.abs_value.push(row.abs_value);
        self.status.push_opt(row.status.as_deref());
        self.status_label.push_opt(row.status_label.as_deref());
        self.unit.push_opt(row.unit.as_deref());
        self.raw_sha256.push(provenance.raw_sha256);
        self.retrieved_at
            .push(provenance.retrieved_at.timestamp_micros());
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.year.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.year.is_empty()
    }

    /// The rows so far as an `observations` frame in arrival order, leaving this empty (for
    /// writing in batches).
    pub fn take_frame(&mut self) -> Result<DataFrame, InternalError> {
        let rows = (0..self.len()).map(row_index).collect::<Vec<u32>>();
        std::mem::take(self).frame(&rows)
    }

    /// The `observations` table, sorted by dataset, measure, region, period, sex, age,
    /// breakdown (byte order; rows equal in all seven keep their arrival order).
    pub fn into_frame(self) -> Result<DataFrame, InternalError> {
        let rows = self.sorted_rows();
        self.frame(&rows)
    }

    /// [`ObservationColumns::into_frame`] with one row per key (dataset, measure, region,
    /// period, sex, age, breakdown): a row repeated as it is (value, absolute value, status,
    /// its label and unit alike) is kept once and each repeat quarantined (`duplicate_row`); rows
    /// of one key that disagree are all quarantined (`conflicting_duplicate`) and the key keeps
    /// one row whose values are missing, with the status [`CONFLICT`], so that a sum over it is
    /// missing too rather than short of a part. Never a sum of both. `source_of` names the
    /// pipeline source of a payload's sha256.
    pub fn into_frame_one_per_key(
        mut self,
        source_of: &dyn Fn(&str) -> String,
    ) -> Result<(DataFrame, Vec<QuarantineEntry>), InternalError> {
        let sorted = self.sorted_rows();
        let keys = self.key_columns();
        let key_of = |r: u32| keys.map(|k| k.codes[r as usize]);
        let same_values = |a: u32, b: u32| {
            let (a, b) = (a as usize, b as usize);
            let bits = |v: Option<f64>| v.map(f64::to_bits);
            bits(self.value[a]) == bits(self.value[b])
                && bits(self.abs_value[a]) == bits(self.abs_value[b])
                && [&self.status, &self.status_label, &self.unit]
                    .iter()
                    .all(|c| c.codes[a] == c.codes[b])
        };
        let mut kept = Vec::with_capacity(sorted.len());
        let mut repeats: Vec<(u32, &'static str)> = Vec::new();
        let mut conflicting: Vec<u32> = Vec::new();
        for run in sorted.chunk_by(|a, b| key_of(*a) == key_of(*b)) {
            let first = run[0];
            kept.push(first);
            if run.len() == 1 {
                continue;
            }
            if run.iter().all(|&r| same_values(first, r)) {
                repeats.extend(run[1..].iter().map(|&r| (r, "duplicate_row")));
            } else {
                repeats.extend(run.iter().map(|&r| (r, "conflicting_duplicate")));
                conflicting.push(first);
            }
        }
        let quarantine = repeats
            .iter()
            .map(|&(r, rule)| self.duplicate_entry(r, rule, source_of))
            .collect();
        // The status and its label enter the dictionaries only when a key needs them.
        if !conflicting.is_empty() {
            self.mark_conflicting(&conflicting);
        }
        Ok((self.frame(&kept)?, quarantine))
    }

    /// Leaves each of `rows` missing, with the status [`CONFLICT`] and its label.
    fn mark_conflicting(&mut self, rows: &[u32]) {
        let conflict = self.code(Text::Status, Some(CONFLICT));
        let label = self.code(
            Text::StatusLabel,
            Some("rows of this key disagree: all quarantined, the value left missing"),
        );
        for &r in rows {
            let r = r as usize;
            self.value[r] = None;
            self.abs_value[r] = None;
            self.status.codes[r] = conflict;
            self.status_label.codes[r] = label;
        }
    }

    /// The quarantine entry of a repeated row.
    fn duplicate_entry(
        &self,
        row: u32,
        rule: &'static str,
        source_of: &dyn Fn(&str) -> String,
    ) -> QuarantineEntry {
        fn text(c: &Interned, r: usize) -> &str {
            match c.codes[r] {
                NULL => "",
                code => &c.distinct.values()[code as usize],
            }
        }
        let r = row as usize;
        let text = |c| text(c, r);
        let sha = text(&self.raw_sha256);
        let key = format!(
            "{} {} {} {} sex={} age={}{}",
            text(&self.dataset),
            text(&self.measure),
            text(&self.region),
            text(&self.period),
            text(&self.sex),
            text(&self.age),
            match text(&self.breakdown) {
                "" => String::new(),
                b => format!(" {b}"),
            }
        );
        let reason = if rule == "duplicate_row" {
            format!("{key} is published again with the same values: kept once")
        } else {
            format!(
                "{key} is published more than once with different values: its value is left missing"
            )
        };
        QuarantineEntry {
            stage: "normalize",
            source: source_of(sha),
            raw_sha256: sha.to_owned(),
            location: format!("observations: {key}"),
            rule,
            reason,
            record: format!(
                "value={:?};abs_value={:?};status={}",
                self.value[r],
                self.abs_value[r],
                text(&self.status)
            ),
        }
    }

    /// The columns that identify an observation, in `observations` order: dataset, measure,
    /// region, period, sex, age, breakdown.
    fn key_columns(&self) -> [&Interned; 7] {
        [
            &self.dataset,
            &self.measure,
            &self.region,
            &self.period,
            &self.sex,
            &self.age,
            &self.breakdown,
        ]
    }

    /// Row numbers in `observations` order: each key column's values are ranked once, and the
    /// rows sorted by their seven ranks. The ranks and the row number are packed into one 128-bit
    /// key when they fit (each rank in as many bits as its column's distinct count needs; they do
    /// fit unless a run has millions of distinct values): half the bytes to move and one integer
    /// comparison instead of up to eight.
    fn sorted_rows(&self) -> Vec<u32> {
        self.sorted_rows_with(true)
    }

    /// [`ObservationColumns::sorted_rows`], packing the keys only if `pack` (the tests check
    /// one way against the other).
    fn sorted_rows_with(&self, pack: bool) -> Vec<u32> {
        let columns = self.key_columns();
        let ranks: Vec<Vec<u32>> = columns.iter().map(|c| c.ranks()).collect();
        let widths: Vec<u32> = ranks
            .iter()
            .map(|r| u32::BITS - u32::try_from(r.len()).unwrap_or(u32::MAX).leading_zeros())
            .collect();
        let rank = |k: usize, row: usize| ranks[k][columns[k].codes[row] as usize];
        if pack && widths.iter().sum::<u32>() + u32::BITS <= u128::BITS {
            let mut keys: Vec<u128> = (0..self.len())
                .map(|row| {
                    let key = (0..columns.len()).fold(0u128, |key, k| {
                        (key << widths[k]) | u128::from(rank(k, row))
                    });
                    (key << u32::BITS) | u128::from(row_index(row))
                })
                .collect();
            keys.par_sort_unstable();
            // The low 32 bits are the row number.
            #[allow(clippy::cast_possible_truncation)]
            return keys.into_iter().map(|k| k as u32).collect();
        }
        let mut keys: Vec<([u32; 7], u32)> = (0..self.len())
            .map(|row| (std::array::from_fn(|k| rank(k, row)), row_index(row)))
            .collect();
        // The row number is part of the key: unstable sorting keeps arrival order among equals.
        keys.par_sort_unstable();
        keys.into_iter().map(|(_, row)| row).collect()
    }

    fn frame(self, rows: &[u32]) -> Result<DataFrame, InternalError> {
        // Each column is let go as soon as its copy in row order is made: the frame and the
        // columns it comes from are never all held at once (at national scale, two gigabytes
        // each).
        let ObservationColumns {
            source,
            dataset,
            measure,
            region,
            region_level,
            period,
            year,
            sex,
            age,
            breakdown,
            value,
            abs_value,
            status,
            status_label,
            unit,
            raw_sha256,
            retrieved_at,
        } = self;
        let gather_f64 = |name: &str, v: Vec<Option<f64>>| {
            Float64Chunked::from_iter_options(name.into(), rows.iter().map(|&r| v[r as usize]))
                .into_series()
        };
        let value = gather_f64("value", value);
        let abs_value = gather_f64("abs_value", abs_value);
        let retrieved_at = Int64Chunked::from_iter_values(
            "retrieved_at".into(),
            rows.iter().map(|&r| retrieved_at[r as usize]),
        )
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_series();
        let year =
            Int16Chunked::from_iter_values("year".into(), rows.iter().map(|&r| year[r as usize]))
                .into_series();
        // The text columns are built in parallel (each a gather and a dictionary).
        let text = vec![
            ("source", source),
            ("dataset", dataset),
            ("measure", measure),
            ("region", region),
            ("region_level", region_level),
            ("period", period),
            ("sex", sex),
            ("age", age),
            ("breakdown", breakdown),
            ("status", status),
            ("status_label", status_label),
            ("unit", unit),
            ("raw_sha256", raw_sha256),
        ];
        let mut text: Vec<Column> = text
            .into_par_iter()
            .map(|(name, column)| column.series(name, rows).map(Column::from))
            .collect::<Result<_, InternalError>>()?;
        // In contract order.
        let mut take = |n: usize| text.drain(..n).collect::<Vec<Column>>();
        let mut columns = take(6);
        columns.push(year.into());
        columns.extend(take(3));
        columns.push(value.into());
        columns.push(abs_value.into());
        columns.extend(take(4));
        columns.push(retrieved_at.into());
        DataFrame::new(rows.len(), columns).context("building `observations`")
    }
}

/// A row number as stored in the sort keys.
fn row_index(row: usize) -> u32 {
    u32::try_from(row).expect("fewer than 2^32 observation rows in one run")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::observation::{RegionId, Sex};
    use crate::model::regions::Registry;
    use crate::model::regions::resolve::RegionResolver;
    use chrono::DateTime;

    #[test]
    fn sorted_by_ranks_as_polars_sorts() {
        let registry = Registry::builtin().unwrap();
        let resolver = RegionResolver {
            registry: &registry,
            sotkanet_regions: None,
        };
        let provenance = Provenance {
            source_id: "s",
            raw_sha256: "abc",
            retrieved_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        };
        let pick = |choices: &[&str]| choices[fastrand::usize(..choices.len())].to_owned();
        fastrand::seed(7);
        let rows: Vec<RawObservation> = (0..3000)
            .map(|i| RawObservation {
                dataset: pick(&["sotkanet:9", "sotkanet:10", "statfin:vaesto", "a"]),
                measure: pick(&["1", "10", "2", "väestö"]),
                region: RegionId::Code(pick(&["KU091", "KU020", "HVA12", "SSS", "049"])),
                period: pick(&["2020", "2021", "2020M01"]),
                year: 2020,
                sex: [Sex::Total, Sex::Male, Sex::Female][fastrand::usize(..3)],
                age: pick(&["total", "0", "10", "9"]),
                breakdown: pick(&["", "x=1"]),
                value: (i % 7 != 0).then(|| f64::from(i)),
                abs_value: (i % 3 == 0).then(|| f64::from(i) * 2.0),
                status: (i % 7 == 0).then(|| "..".to_owned()),
                status_label: None,
                unit: (i % 2 == 0).then(|| "%".to_owned()),
                location: format!("row {i}"),
            })
            .collect();
        let mut columns = ObservationColumns::default();
        let push_all = |columns: &mut ObservationColumns, rows: &[RawObservation]| {
            for row in rows {
                let (code, level) = resolver.resolve(&row.region).unwrap();
                columns.push_row(row, &code, level, &provenance);
            }
        };
        push_all(&mut columns, &rows);
        let arrival = columns.take_frame().unwrap();
        assert!(columns.is_empty());
        assert_eq!(arrival.height(), rows.len());
        let value = arrival.column("value").unwrap().f64().unwrap();
        let text = |name: &str| {
            arrival
                .column(name)
                .unwrap()
                .cast(&DataType::String)
                .unwrap()
        };
        let (status, region) = (text("status"), text("region"));
        let (status, region) = (status.str().unwrap(), region.str().unwrap());
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(value.get(i), row.value);
            assert_eq!(status.get(i), row.status.as_deref());
        }
        assert_eq!(
            region.get(
                rows.iter()
                    .position(|r| r.region == RegionId::Code("049".into()))
                    .unwrap()
            ),
            Some("KU049")
        );

        // Categorical columns compare as text only: each frame has categories of its own.
        let as_text = |df: &DataFrame| {
            let columns = df
                .columns()
                .iter()
                .map(|c| match c.dtype() {
                    DataType::Categorical(..) => c.cast(&DataType::String).unwrap(),
                    _ => c.clone(),
                })
                .collect();
            DataFrame::new(df.height(), columns).unwrap()
        };
        assert!(matches!(
            arrival.column("region").unwrap().dtype(),
            DataType::Categorical(..)
        ));
        let arrival = as_text(&arrival);
        let expected = arrival
            .clone()
            .lazy()
            .sort(
                [
                    "dataset",
                    "measure",
                    "region",
                    "period",
                    "sex",
                    "age",
                    "breakdown",
                ],
                SortMultipleOptions::default().with_maintain_order(true),
            )
            .collect()
            .unwrap();
        push_all(&mut columns, &rows);
        assert_eq!(
            columns.sorted_rows_with(true),
            columns.sorted_rows_with(false),
            "packed keys sort as the ranks do"
        );
        let sorted = as_text(&columns.into_frame().unwrap());
        assert!(sorted.equals_missing(&expected));
        assert!(
            !sorted.equals_missing(&arrival),
            "the rows were not in order already"
        );
    }
}
