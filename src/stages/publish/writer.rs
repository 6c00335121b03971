//! Parquet files written with polars' page encoders (polars-parquet) directly, for every table
//! `run` publishes and for `convert`.
//!
//! polars' own `ParquetWriter` gets the same pages from the same encoders, but on the way it
//! hashes every value of every text column, and of every 64-bit integer column whose range is
//! wide (timestamps), to find out whether dictionary encoding pays (an estimate of the distinct
//! count, then a grouping of the whole column): on the national benchmark's 6.8 million
//! `indicators` and 22 million `observations` that was about a third of the publish stage.
//! Here such a column is dictionary-encoded by runs — a row equal to the one before it takes
//! its key without a hash, and the tables come in runs (an indicator's block, a region's years,
//! a source's retrieval time) — and is written plain when its values hardly repeat, as polars
//! decides (more than 3 distinct values in 4, beyond 128 rows). Its Arrow type in the file
//! stays what it was: readers get the same columns as from polars' writer. Dictionary columns
//! (polars categoricals, the JSON-stat batches of `convert`) go to their pages as they are;
//! floats are written plain (a measured value rarely repeats, and a dictionary attempt costs a
//! distinct-count estimate per page); everything else takes polars' choice.
//!
//! Each column of a row group is encoded and compressed on a thread of its own — rayon's pool,
//! or for a writer that has a thread to itself the writing thread and plain threads spawned
//! for the row group ([`Encoders`]) — then the row group is written in column order. Row groups
//! hold [`ROW_GROUP_ROWS`] rows, as polars'.

use std::collections::{BTreeMap, HashMap};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::{
    ArrayRef, CompatLevel, DataFrame, DataType, PolarsError, PolarsResult, SchemaExt, Series,
};
use polars_arrow::array::{Array, DictionaryArray, PrimitiveArray, Utf8ViewArray};
use polars_arrow::bitmap::Bitmap;
use polars_arrow::datatypes::{
    ArrowDataType, ArrowSchemaRef, Field, IntegerType, PhysicalType, PrimitiveType,
};
use polars_parquet::parquet::error::ParquetError;
use polars_parquet::write::{
    CompressedPage, CompressionOptions, Compressor, DynIter, DynStreamingIterator, Encoding,
    FileWriter, KeyValue, Page, ParquetType, StatisticsOptions, Version, WriteOptions, ZstdLevel,
    array_to_columns, array_to_pages, fallible_streaming_iterator, get_dtype_encoding,
    schema_to_metadata_key, to_nested,
};
use rayon::prelude::*;

use crate::error::InternalError;
use crate::io::atomic::write_error;

/// Rows per row group of a frame (polars' default, 512²).
pub const ROW_GROUP_ROWS: usize = 512 * 512;

/// zstd, min/max and null-count statistics, format version 1: polars' defaults. `zstd_level`
/// `None` is zstd's default level (3).
pub fn write_options(zstd_level: Option<i32>) -> WriteOptions {
    WriteOptions {
        statistics: StatisticsOptions::default(),
        version: Version::V1,
        compression: CompressionOptions::Zstd(zstd_level.and_then(|l| ZstdLevel::try_new(l).ok())),
        data_page_size: None,
    }
}

/// Which threads encode the columns of a row group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoders {
    /// rayon's pool, shared with whatever else is being written at the time (`run` writes its
    /// tables together, a table per core), while the writing thread waits.
    Pool,
    /// The writing thread itself and as many more plain threads as make rayon's thread count
    /// ([`crate::io::parallel::map`]), for a writer with a thread of its own (`convert`'s, fed
    /// batches by the decoding thread): as fast as the pool, with one busy thread and, under
    /// glibc, one allocator arena fewer (each thread that allocates keeps an arena of its own).
    Own,
}

/// A Parquet file being written: the schema is fixed when it is created, row groups are
/// appended, and [`ParquetFile::finish`] writes the footer and fsyncs.
pub struct ParquetFile {
    path: PathBuf,
    /// Buffered: the writer emits page headers and the footer in many small writes.
    writer: FileWriter<BufWriter<std::fs::File>>,
    schema: ArrowSchemaRef,
    options: WriteOptions,
    encoders: Encoders,
    rows: usize,
}

impl ParquetFile {
    /// Creates (or truncates) `path` for a table of `schema`.
    pub fn create(
        path: &Path,
        schema: ArrowSchemaRef,
        options: WriteOptions,
    ) -> Result<ParquetFile, InternalError> {
        let file = fs_err::File::create(path).map_err(|e| write_error(path, e))?;
        let file = BufWriter::with_capacity(1 << 18, file.into_parts().0);
        let writer = FileWriter::try_new(file, (*schema).clone(), options)
            .map_err(|e| write_error(path, e))?;
        Ok(ParquetFile {
            path: path.to_path_buf(),
            writer,
            schema,
            options,
            encoders: Encoders::Pool,
            rows: 0,
        })
    }

    /// Encodes row groups on `encoders` from now on ([`Encoders::Pool`] unless set).
    #[must_use]
    pub fn encoded_on(mut self, encoders: Encoders) -> ParquetFile {
        self.encoders = encoders;
        self
    }

    /// Writes a frame of the file's schema in row groups of [`ROW_GROUP_ROWS`].
    pub fn write_frame(&mut self, df: &DataFrame) -> Result<(), InternalError> {
        let height = df.height();
        let mut offset = 0;
        while offset < height {
            let len = ROW_GROUP_ROWS.min(height - offset);
            let part = df.slice(i64::try_from(offset).unwrap_or(i64::MAX), len);
            let arrays = part
                .columns()
                .par_iter()
                .map(|column| {
                    let series = column.as_materialized_series();
                    categorical(series)
                        .unwrap_or_else(|| series.rechunk().to_arrow(0, CompatLevel::newest()))
                })
                .collect::<Vec<ArrayRef>>();
            self.write_arrays(len, &arrays)?;
            offset += len;
        }
        Ok(())
    }

    /// Writes Arrow arrays (one per field of the schema, `height` rows each) as one row group.
    /// A text or 64-bit integer field may come as a dictionary of its type with 32-bit keys, or
    /// as it is: then it is dictionary-encoded by runs, or written plain.
    pub fn write_arrays(
        &mut self,
        height: usize,
        arrays: &[ArrayRef],
    ) -> Result<(), InternalError> {
        if arrays.len() != self.schema.len() {
            return Err(InternalError::Invariant(format!(
                "{} arrays for the {} columns of `{}`",
                arrays.len(),
                self.schema.len(),
                self.path.display()
            )));
        }
        self.write_columns(height, |i| Ok(arrays[i].clone()))
    }

    /// Writes one row group of `height` rows whose column `i` is `column(i)`, as
    /// [`ParquetFile::write_arrays`] does; each column is made on the thread that encodes it, so
    /// only the columns being encoded are held at once.
    pub fn write_columns(
        &mut self,
        height: usize,
        column: impl Fn(usize) -> Result<ArrayRef, InternalError> + Sync,
    ) -> Result<(), InternalError> {
        if height == 0 {
            return Ok(());
        }
        let options = self.options;
        let fields: Vec<(usize, (&Field, &ParquetType))> = self
            .schema
            .iter_values()
            .zip(self.writer.parquet_schema().fields())
            .enumerate()
            .collect();
        let encode = |(i, (field, parquet_type)): (usize, (&Field, &ParquetType))| {
            let array = column(i)?;
            if !fits(field, array.dtype()) || array.len() != height {
                return Err(InternalError::Invariant(format!(
                    "column `{}` of a row group is {:?} with {} rows, the table's is {:?} with {height}",
                    field.name,
                    array.dtype(),
                    array.len(),
                    field.dtype()
                )));
            }
            // Text and 64-bit integers handed over as they are: by runs, or plain.
            let runs = by_runs(array.as_ref());
            let array = runs.as_ref().unwrap_or(&array);
            let encoding = encoding(array.dtype());
            column_pages(array.as_ref(), parquet_type, options, &encoding)
                .and_then(|columns| {
                    columns
                        .into_iter()
                        .map(|pages| {
                            let pages = pages
                                .map(|p| p.map_err(|e| ParquetError::OutOfSpec(e.to_string())));
                            Compressor::new(pages, options.compression, Vec::new())
                                .collect::<Result<Vec<CompressedPage>, _>>()
                                .map_err(PolarsError::from)
                        })
                        .collect::<PolarsResult<Vec<_>>>()
                })
                .map_err(|e| write_error(&self.path, e))
        };
        let columns = match self.encoders {
            Encoders::Pool => fields.into_par_iter().map(encode).collect::<Vec<_>>(),
            Encoders::Own => crate::io::parallel::map(fields, encode),
        }
        .into_iter()
        .collect::<Result<Vec<_>, InternalError>>()?;
        let row_group = DynIter::new(columns.iter().flatten().map(|pages| {
            Ok(DynStreamingIterator::new(
                fallible_streaming_iterator::convert(pages.iter().map(Ok::<_, PolarsError>)),
            ))
        }));
        self.writer
            .write(height as u64, row_group)
            .map_err(|e| write_error(&self.path, e))?;
        self.rows += height;
        Ok(())
    }

    /// Writes the footer — the Arrow schema, then `metadata` — and fsyncs the file.
    pub fn finish(self, metadata: Vec<(String, String)>) -> Result<usize, InternalError> {
        self.finish_described(metadata, &BTreeMap::new())
    }

    /// As [`ParquetFile::finish`], with each column's description: the Arrow schema in the
    /// footer (`ARROW:schema`, what pyarrow, polars and `DuckDB` read) carries `metadata` as its
    /// schema metadata and each description as its field's `description`, besides the Parquet
    /// key-value metadata itself.
    pub fn finish_described(
        mut self,
        metadata: Vec<(String, String)>,
        descriptions: &BTreeMap<String, String>,
    ) -> Result<usize, InternalError> {
        let mut key_value = vec![arrow_schema_key(&self.schema, &metadata, descriptions)];
        key_value.extend(metadata.into_iter().map(|(key, value)| KeyValue {
            key,
            value: Some(value),
        }));
        self.writer
            .end(Some(key_value))
            .map_err(|e| write_error(&self.path, e))?;
        let file = self
            .writer
            .into_inner()
            .into_inner()
            .map_err(|e| write_error(&self.path, e.into_error()))?;
        file.sync_all().map_err(|e| write_error(&self.path, e))?;
        Ok(self.rows)
    }
}

/// Whether an array of `dtype` can fill `field`: the same type, or for text and 64-bit
/// integers (timestamps among them) a dictionary of that type with 32-bit keys.
fn fits(field: &Field, dtype: &ArrowDataType) -> bool {
    field.dtype() == dtype
        || (by_runs_type(field.dtype())
            && matches!(dtype, ArrowDataType::Dictionary(IntegerType::UInt32, values, _)
                if **values == *field.dtype()))
}

/// Whether columns of this type are dictionary-encoded by runs here ([`by_runs`]).
fn by_runs_type(dtype: &ArrowDataType) -> bool {
    matches!(dtype.to_physical_type(), PhysicalType::Utf8View)
        || dtype.to_physical_type() == PhysicalType::Primitive(PrimitiveType::Int64)
}

/// The Parquet encoding of a column's array: dictionary for a dictionary array, plain for
/// floats and for text or 64-bit integers that stayed as they were (see the module doc), polars'
/// choice otherwise (the array then has its field's type: [`fits`]).
fn encoding(dtype: &ArrowDataType) -> Vec<Encoding> {
    match dtype {
        ArrowDataType::Dictionary(..) => vec![Encoding::RleDictionary],
        ArrowDataType::Float64 | ArrowDataType::Float32 => vec![Encoding::Plain],
        dtype if by_runs_type(dtype) => vec![Encoding::Plain],
        _ => get_dtype_encoding(dtype),
    }
}

/// A text or 64-bit integer column dictionary-encoded by runs ([`dictionary_by_runs`]), or
/// `None` when it is of another type or its values hardly repeat.
fn by_runs(array: &dyn Array) -> Option<ArrayRef> {
    if let Some(text) = array.as_any().downcast_ref::<Utf8ViewArray>() {
        let (keys, distinct) = dictionary_by_runs(text.len(), text.iter())?;
        return dictionary(
            text.dtype(),
            keys,
            text.validity(),
            Utf8ViewArray::from_slice_values(&distinct).boxed(),
        );
    }
    let ints = array.as_any().downcast_ref::<PrimitiveArray<i64>>()?;
    let (keys, distinct) = dictionary_by_runs(ints.len(), ints.iter().map(Option::<&i64>::copied))?;
    let values = PrimitiveArray::<i64>::from_vec(distinct).to(ints.dtype().clone());
    dictionary(ints.dtype(), keys, ints.validity(), values.boxed())
}

/// A categorical column as polars exports it — an Arrow dictionary of the categories its rows
/// use, keyed in the order first used — but with each row's key found by indexing a table of the
/// categories, where polars' export inserts every row into a hash set. `None` for any other
/// column (and, were it ever so, for a key the mapping does not have: polars' export decides).
fn categorical(series: &Series) -> Option<ArrayRef> {
    let DataType::Categorical(_, mapping) = series.dtype() else {
        return None;
    };
    let physical = series.cat32().ok()?.physical().rechunk();
    let keys = physical.downcast_as_array();
    let mut ours = vec![u32::MAX; mapping.num_cats_upper_bound()];
    let mut used: Vec<&str> = Vec::new();
    let mut out: Vec<u32> = Vec::with_capacity(keys.len());
    for key in keys {
        let Some(&key) = key else {
            out.push(0);
            continue;
        };
        let slot = ours.get_mut(usize::try_from(key).ok()?)?;
        if *slot == u32::MAX {
            *slot = u32::try_from(used.len()).ok()?;
            used.push(mapping.cat_to_str(key)?);
        }
        out.push(*slot);
    }
    dictionary(
        &ArrowDataType::Utf8View,
        out,
        keys.validity(),
        Utf8ViewArray::from_slice_values(&used).boxed(),
    )
}

/// A dictionary array of `dtype` values with 32-bit keys.
fn dictionary(
    dtype: &ArrowDataType,
    keys: Vec<u32>,
    validity: Option<&Bitmap>,
    values: ArrayRef,
) -> Option<ArrayRef> {
    let keys = PrimitiveArray::new(ArrowDataType::UInt32, keys.into(), validity.cloned());
    DictionaryArray::try_new(
        ArrowDataType::Dictionary(IntegerType::UInt32, Box::new(dtype.clone()), false),
        keys,
        values,
    )
    .ok()
    .map(DictionaryArray::boxed)
}

/// A column's values as a dictionary: a 32-bit key per row (0 where the row is null; the
/// validity stays the column's) and the distinct values in the order first seen; `None` when
/// more than 3 values in 4 are distinct beyond 128 rows, where plain encoding is the better
/// choice, as polars' writer decides. A row equal to the row before it takes that row's key
/// without a lookup.
fn dictionary_by_runs<T: Copy + Eq + std::hash::Hash>(
    len: usize,
    rows: impl Iterator<Item = Option<T>>,
) -> Option<(Vec<u32>, Vec<T>)> {
    let most = if len > 128 { len / 4 * 3 } else { len };
    let mut keys: Vec<u32> = Vec::with_capacity(len);
    let mut distinct: Vec<T> = Vec::new();
    let mut index: HashMap<T, u32> = HashMap::new();
    let mut previous: Option<(T, u32)> = None;
    for value in rows {
        let Some(value) = value else {
            keys.push(0);
            continue;
        };
        let key = match previous {
            Some((p, key)) if p == value => key,
            _ => {
                let next = u32::try_from(distinct.len()).ok()?;
                let key = *index.entry(value).or_insert(next);
                if key == next {
                    distinct.push(value);
                    if distinct.len() > most {
                        return None;
                    }
                }
                key
            }
        };
        previous = Some((value, key));
        keys.push(key);
    }
    Some((keys, distinct))
}

/// The pages of one column of a row group. A flat column (every column of the canonical tables)
/// goes straight to its pages: polars' general path first splits an array into leaves and gives a
/// leaf with no value at all a validity that borrows a shared zeroed buffer of 8 MiB, allocated and
/// filled the first time (the always-null `abs_value` of a JSON-stat table would cost that much
/// resident memory on its own). Nested columns take the general path.
fn column_pages(
    array: &dyn Array,
    parquet_type: &ParquetType,
    options: WriteOptions,
    encoding: &[Encoding],
) -> PolarsResult<Vec<DynIter<'static, PolarsResult<Page>>>> {
    if let (ParquetType::PrimitiveType(primitive), [encoding]) = (parquet_type, encoding) {
        let nested = to_nested(array, parquet_type)?;
        if let [leaf] = nested.as_slice()
            && leaf.len() == 1
        {
            return Ok(vec![array_to_pages(
                array,
                primitive.clone(),
                leaf,
                options,
                *encoding,
            )?]);
        }
    }
    array_to_columns(array, parquet_type.clone(), options, encoding)
}

/// The `ARROW:schema` key: the Arrow schema with `metadata` as its custom metadata and the
/// descriptions on its fields, serialised as polars-parquet serialises it (an IPC schema message
/// with the legacy length prefix, base64). A schema with list or struct types is written as
/// polars-parquet writes it, without them (mittari's tables have none).
fn arrow_schema_key(
    schema: &ArrowSchemaRef,
    metadata: &[(String, String)],
    descriptions: &BTreeMap<String, String>,
) -> KeyValue {
    use base64::Engine as _;
    use polars_arrow::datatypes::Metadata;
    use polars_arrow::io::ipc::write::{default_ipc_fields, schema_to_bytes};
    // polars-parquet converts nested fields (marking empty structs) before it serialises them;
    // a dictionary (mittari's text columns) needs no conversion.
    let nested = |f: &polars_arrow::datatypes::Field| {
        f.dtype.is_nested() && !matches!(f.dtype, ArrowDataType::Dictionary(..))
    };
    if schema.iter_values().any(nested) {
        return schema_to_metadata_key(schema);
    }
    let described: polars_arrow::datatypes::ArrowSchema = schema
        .iter_values()
        .map(|f| {
            let mut f = f.clone();
            if let Some(d) = descriptions.get(f.name.as_str()) {
                let mut m: Metadata = f.metadata.as_deref().cloned().unwrap_or_default();
                m.insert("description".into(), d.as_str().into());
                f.metadata = Some(Arc::new(m));
            }
            (f.name.clone(), f)
        })
        .collect();
    let custom: Metadata = metadata
        .iter()
        .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
        .collect();
    let bytes = schema_to_bytes(
        &described,
        &default_ipc_fields(described.iter_values()),
        Some(&custom),
    );
    let mut prefixed = Vec::with_capacity(bytes.len() + 8);
    prefixed.extend_from_slice(&[255u8, 255, 255, 255]);
    prefixed.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
    prefixed.extend_from_slice(&bytes);
    KeyValue {
        key: "ARROW:schema".to_owned(),
        value: Some(base64::engine::general_purpose::STANDARD.encode(&prefixed)),
    }
}

/// The Arrow schema of a frame as written to Parquet.
pub fn arrow_schema(df: &DataFrame) -> ArrowSchemaRef {
    Arc::new(df.schema().to_arrow(CompatLevel::newest()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ::parquet::file::reader::{FileReader, SerializedFileReader};
    use polars::prelude::{
        CategoricalPhysical, Categories, Column, IntoColumn, IntoSeries, NamedFrom, ParquetReader,
        SerReader, UInt32Chunked,
    };
    use polars_arrow::datatypes::TimeUnit;

    fn keys_and_values(array: &ArrayRef) -> (Vec<Option<u32>>, Vec<String>) {
        let d = array
            .as_any()
            .downcast_ref::<DictionaryArray<u32>>()
            .unwrap();
        let values = d.values().as_any().downcast_ref::<Utf8ViewArray>().unwrap();
        (
            d.keys().iter().map(Option::<&u32>::copied).collect(),
            values.values_iter().map(str::to_owned).collect(),
        )
    }

    /// Keys in the order values are first seen; a run, a value seen again after others, and a
    /// null (which keeps its place in the validity) each keyed right; for text and timestamps.
    #[test]
    fn dictionaries_key_by_first_sight() {
        let rows = [
            Some("b"),
            Some("b"),
            Some("a"),
            None,
            Some("b"),
            Some("c"),
            Some("a"),
        ];
        let array = Utf8ViewArray::from_slice(rows);
        let (keys, values) = keys_and_values(&by_runs(&array).unwrap());
        assert_eq!(values, ["b", "a", "c"]);
        let expected = [Some(0), Some(0), Some(1), None, Some(0), Some(2), Some(1)];
        assert_eq!(keys, expected);

        let stamp = ArrowDataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let times = PrimitiveArray::<i64>::from([
            Some(9),
            Some(9),
            Some(-4),
            None,
            Some(9),
            Some(7),
            Some(-4),
        ])
        .to(stamp.clone());
        let d = by_runs(&times).unwrap();
        let d = d.as_any().downcast_ref::<DictionaryArray<u32>>().unwrap();
        assert_eq!(
            d.keys()
                .iter()
                .map(Option::<&u32>::copied)
                .collect::<Vec<_>>(),
            expected
        );
        assert_eq!(d.values().dtype(), &stamp);
        let values = d
            .values()
            .as_any()
            .downcast_ref::<PrimitiveArray<i64>>()
            .unwrap();
        assert_eq!(values.values().as_slice(), [9, -4, 7]);
        assert!(
            by_runs(&PrimitiveArray::<i32>::from_slice([1, 1])).is_none(),
            "other types"
        );
    }

    /// A categorical column becomes the Arrow array polars' own export makes of it: only the
    /// categories used (not `unused`), keyed in the order first used, nulls kept.
    #[test]
    fn categoricals_export_as_polars_does() {
        let categories = Categories::new("t.e".into(), "mittari".into(), CategoricalPhysical::U32);
        let mapping = categories.mapping();
        let ids: Vec<u32> = ["unused", "z", "a", "m"]
            .iter()
            .map(|c| mapping.insert_cat(c).unwrap())
            .collect();
        let rows = [
            Some(ids[3]),
            None,
            Some(ids[1]),
            Some(ids[3]),
            Some(ids[2]),
            None,
        ];
        let keys = Series::new("c".into(), rows.to_vec());
        let series =
            Series::from_cats_and_dtype(&keys, &DataType::Categorical(categories, mapping), true)
                .unwrap();
        let ours = categorical(&series).unwrap();
        let theirs = series.to_arrow(0, CompatLevel::newest());
        assert_eq!(ours.dtype(), theirs.dtype());
        let (ours, theirs) = (
            ours.as_any()
                .downcast_ref::<DictionaryArray<u32>>()
                .unwrap(),
            theirs
                .as_any()
                .downcast_ref::<DictionaryArray<u32>>()
                .unwrap(),
        );
        assert_eq!(ours.keys(), theirs.keys());
        let strings = |d: &DictionaryArray<u32>| -> Vec<String> {
            let v = d.values().as_any().downcast_ref::<Utf8ViewArray>().unwrap();
            v.values_iter().map(str::to_owned).collect()
        };
        assert_eq!(strings(ours), ["m", "z", "a"]);
        assert_eq!(strings(ours), strings(theirs));
        assert!(categorical(&Series::new("s".into(), ["x"])).is_none());
    }

    /// Beyond 128 rows, more than 3 distinct values in 4 are written plain; exactly 3 in 4
    /// still get a dictionary, and short columns always do.
    #[test]
    fn dictionaries_give_up_on_mostly_distinct_values() {
        let texts = |n: usize, distinct: usize| {
            let rows: Vec<String> = (0..n).map(|i| format!("v{}", i % distinct)).collect();
            Utf8ViewArray::from_slice_values(&rows)
        };
        let len = |a: Option<ArrayRef>| keys_and_values(&a.unwrap()).1.len();
        assert!(by_runs(&texts(400, 301)).is_none());
        assert_eq!(len(by_runs(&texts(400, 300))), 300);
        assert_eq!(len(by_runs(&texts(100, 100))), 100);
    }

    /// The encodings of each column chunk of row group `rg`.
    fn encodings(path: &Path, rg: usize) -> Vec<Vec<String>> {
        let reader =
            SerializedFileReader::new(fs_err::File::open(path).unwrap().into_parts().0).unwrap();
        let meta = reader.metadata().row_group(rg).clone();
        meta.columns()
            .iter()
            .map(|c| c.encodings().map(|e| format!("{e:?}")).collect())
            .collect()
    }

    /// A frame of text (repeating and mostly distinct, with nulls, and all null), categorical,
    /// integer, timestamp and float columns over three row groups reads back equal, with the
    /// same Arrow types; text and timestamps that repeat are dictionary-encoded, text that does not is
    /// plain, as are floats.
    #[test]
    fn frames_read_back_equal_in_row_groups() {
        let n = ROW_GROUP_ROWS * 2 + 1000;
        let repeating: Vec<Option<String>> = (0..n)
            .map(|i| (i % 97 != 5).then(|| format!("region-{}", (i / 10) % 40)))
            .collect();
        let distinct: Vec<String> = (0..n).map(|i| format!("row {i}")).collect();
        let categories = Categories::new("t.c".into(), "mittari".into(), CategoricalPhysical::U32);
        let mapping = categories.mapping();
        let (x, y) = (
            mapping.insert_cat("x").unwrap(),
            mapping.insert_cat("y").unwrap(),
        );
        let ids = UInt32Chunked::from_vec(
            "category".into(),
            (0..n).map(|i| if i % 3 == 0 { x } else { y }).collect(),
        )
        .into_series();
        let category =
            Series::from_cats_and_dtype(&ids, &DataType::Categorical(categories, mapping), true)
                .unwrap();
        let df = DataFrame::new(
            n,
            vec![
                Column::new("repeating".into(), repeating),
                Column::new("distinct".into(), distinct),
                Column::new("none".into(), vec![None::<&str>; n]),
                category.into_column(),
                Column::new(
                    "year".into(),
                    (0..n)
                        .map(|i| 2000 + i16::try_from(i % 20).unwrap())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "retrieved_at".into(),
                    (0..n)
                        .map(|i| i64::try_from(i / 1000).unwrap() * 1_000_003)
                        .collect::<Vec<_>>(),
                )
                .cast(&DataType::Datetime(
                    polars::prelude::TimeUnit::Microseconds,
                    Some(polars::prelude::TimeZone::UTC),
                ))
                .unwrap(),
                Column::new(
                    "value".into(),
                    (0..n)
                        .map(|i| {
                            (i % 11 != 0).then_some(f64::from(u32::try_from(i).unwrap()) / 7.0)
                        })
                        .collect::<Vec<_>>(),
                ),
            ],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let mut file = ParquetFile::create(&path, arrow_schema(&df), write_options(None)).unwrap();
        file.write_frame(&df).unwrap();
        assert_eq!(file.finish(Vec::new()).unwrap(), n);

        let back = ParquetReader::new(fs_err::File::open(&path).unwrap().into_parts().0)
            .finish()
            .unwrap();
        assert_eq!(back.schema(), df.schema());
        assert!(back.equals_missing(&df));
        let reader =
            SerializedFileReader::new(fs_err::File::open(&path).unwrap().into_parts().0).unwrap();
        let groups: Vec<usize> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|rg| usize::try_from(rg.num_rows()).unwrap())
            .collect();
        assert_eq!(groups, [ROW_GROUP_ROWS, ROW_GROUP_ROWS, 1000]);
        for rg in 0..3 {
            let e = encodings(&path, rg);
            let dictionary = |c: usize| e[c].iter().any(|e| e == "RLE_DICTIONARY");
            assert!(dictionary(0), "repeating text: {:?}", e[0]);
            assert!(!dictionary(1), "distinct text: {:?}", e[1]);
            assert!(dictionary(3), "categorical: {:?}", e[3]);
            assert!(dictionary(5), "timestamps: {:?}", e[5]);
            assert!(!dictionary(6), "floats: {:?}", e[6]);
        }
    }

    /// A row group whose arrays do not fit the schema is refused before anything is written.
    #[test]
    fn arrays_of_another_type_are_refused() {
        let df = DataFrame::new(1, vec![Column::new("a".into(), ["x"])]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let mut file = ParquetFile::create(&path, arrow_schema(&df), write_options(None)).unwrap();
        let ints: ArrayRef = PrimitiveArray::<i32>::from_slice([1]).boxed();
        let err = file.write_arrays(1, &[ints]).unwrap_err().to_string();
        assert!(err.contains("column `a`"), "{err}");
        let text: ArrayRef = Utf8ViewArray::from_slice_values(["x", "y"]).boxed();
        assert!(
            file.write_arrays(1, &[text]).is_err(),
            "two rows where one was said"
        );
    }
}
