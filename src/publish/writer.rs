//! Parquet files written with polars' page encoders (polars-parquet) directly, for every table
//! `run` publishes and for `convert`.
//!
//! polars' own `ParquetWriter` gets the same pages from the same encoders, but on the way it
//! hashes every value of every text column to find out whether dictionary encoding pays (an
//! estimate of the distinct count, then a grouping of the whole column): on the 6.8 million
//! rows of the national benchmark's `indicators` that was about a quarter of the publish stage.
//! Here a text column is dictionary-encoded by runs — a row equal to the one before it takes
//! its key without a hash, and the tables come in runs (an indicator's block, a region's
//! years) — and is written plain when its values hardly repeat, as polars decides (more than
//! 3 distinct values in 4, beyond 128 rows). Its Arrow type in the file stays text: readers
//! get the same columns as from polars' writer. Dictionary columns (polars categoricals, the
//! JSON-stat batches of `convert`) go to their pages as they are; floats are written plain (a
//! measured value rarely repeats, and a dictionary attempt costs a distinct-count estimate per
//! page); everything else takes polars' choice.
//!
//! Each column of a row group is encoded and compressed on its own thread of the pool, then the
//! row group is written in column order. Row groups hold [`ROW_GROUP_ROWS`] rows, as polars'.

use std::collections::HashMap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::{ArrayRef, CompatLevel, DataFrame, PolarsError, PolarsResult, SchemaExt};
use polars_arrow::array::{Array, DictionaryArray, PrimitiveArray, Utf8ViewArray};
use polars_arrow::datatypes::{ArrowDataType, ArrowSchemaRef, Field, IntegerType};
use polars_parquet::parquet::error::ParquetError;
use polars_parquet::write::{
    CompressedPage, CompressionOptions, Compressor, DynIter, DynStreamingIterator, Encoding,
    FileWriter, KeyValue, Page, ParquetType, StatisticsOptions, Version, WriteOptions, ZstdLevel,
    array_to_columns, array_to_pages, fallible_streaming_iterator, get_dtype_encoding,
    schema_to_metadata_key, to_nested,
};
use rayon::prelude::*;

use super::write_error;
use crate::error::InternalError;

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

/// A Parquet file being written: the schema is fixed when it is created, row groups are
/// appended, and [`ParquetFile::finish`] writes the footer and fsyncs.
pub struct ParquetFile {
    path: PathBuf,
    /// Buffered: the writer emits page headers and the footer in many small writes.
    writer: FileWriter<BufWriter<std::fs::File>>,
    schema: ArrowSchemaRef,
    options: WriteOptions,
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
        let file = BufWriter::with_capacity(1 << 20, file.into_parts().0);
        let writer = FileWriter::try_new(file, (*schema).clone(), options)
            .map_err(|e| write_error(path, e))?;
        Ok(ParquetFile {
            path: path.to_path_buf(),
            writer,
            schema,
            options,
            rows: 0,
        })
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
                    let array = column
                        .as_materialized_series()
                        .rechunk()
                        .to_arrow(0, CompatLevel::newest());
                    match array.as_any().downcast_ref::<Utf8ViewArray>() {
                        Some(text) => text_dictionary(text).map_or(array, |d| d.boxed()),
                        None => array,
                    }
                })
                .collect::<Vec<ArrayRef>>();
            self.write_arrays(len, &arrays)?;
            offset += len;
        }
        Ok(())
    }

    /// Writes Arrow arrays (one per field of the schema, `height` rows each) as one row group.
    /// A text field may come as a dictionary of text with 32-bit keys (it is written
    /// dictionary-encoded); a plain text array is written plain.
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
        for (field, array) in self.schema.iter_values().zip(arrays) {
            if !fits(field, array.dtype()) || array.len() != height {
                return Err(InternalError::Invariant(format!(
                    "column `{}` of a row group is {:?} with {} rows, the table's is {:?} with {height}",
                    field.name,
                    array.dtype(),
                    array.len(),
                    field.dtype()
                )));
            }
        }
        if height == 0 {
            return Ok(());
        }
        let options = self.options;
        let fields: Vec<&Field> = self.schema.iter_values().collect();
        let columns = arrays
            .par_iter()
            .zip(self.writer.parquet_schema().fields())
            .zip(fields)
            .map(|((array, parquet_type), field)| {
                let encoding = encoding(field, array.dtype());
                column_pages(array.as_ref(), parquet_type, options, &encoding)?
                    .into_iter()
                    .map(|pages| {
                        let pages =
                            pages.map(|p| p.map_err(|e| ParquetError::OutOfSpec(e.to_string())));
                        Compressor::new(pages, options.compression, Vec::new())
                            .collect::<Result<Vec<CompressedPage>, _>>()
                            .map_err(PolarsError::from)
                    })
                    .collect::<PolarsResult<Vec<_>>>()
            })
            .collect::<PolarsResult<Vec<_>>>()
            .map_err(|e| write_error(&self.path, e))?;
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
    pub fn finish(mut self, metadata: Vec<(String, String)>) -> Result<usize, InternalError> {
        let mut key_value = vec![schema_to_metadata_key(&self.schema)];
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

/// Whether an array of `dtype` can fill `field`: the same type, or text as a dictionary.
fn fits(field: &Field, dtype: &ArrowDataType) -> bool {
    field.dtype() == dtype
        || (field.dtype() == &ArrowDataType::Utf8View && is_text_dictionary(dtype))
}

fn is_text_dictionary(dtype: &ArrowDataType) -> bool {
    matches!(dtype, ArrowDataType::Dictionary(IntegerType::UInt32, values, _)
        if **values == ArrowDataType::Utf8View)
}

/// The Parquet encoding of a column: dictionary for a dictionary array, plain for floats and
/// for text handed over plain (see the module doc), polars' choice otherwise.
fn encoding(field: &Field, dtype: &ArrowDataType) -> Vec<Encoding> {
    match dtype {
        ArrowDataType::Dictionary(..) => vec![Encoding::RleDictionary],
        ArrowDataType::Float64 | ArrowDataType::Float32 | ArrowDataType::Utf8View => {
            vec![Encoding::Plain]
        }
        _ => get_dtype_encoding(field.dtype()),
    }
}

/// A text column as a dictionary (distinct values in the order first seen, a 32-bit key per
/// row), or `None` when more than 3 values in 4 are distinct beyond 128 rows: then plain
/// encoding is the better choice, as polars' writer decides. A row equal to the row before it
/// takes that row's key without a lookup.
fn text_dictionary(array: &Utf8ViewArray) -> Option<DictionaryArray<u32>> {
    let len = array.len();
    let most = if len > 128 { len / 4 * 3 } else { len };
    let mut keys: Vec<u32> = Vec::with_capacity(len);
    let mut distinct: Vec<&str> = Vec::new();
    let mut index: HashMap<&str, u32> = HashMap::new();
    let mut previous: Option<(&str, u32)> = None;
    for value in array {
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
    let keys = PrimitiveArray::new(
        ArrowDataType::UInt32,
        keys.into(),
        array.validity().cloned(),
    );
    let values = Utf8ViewArray::from_slice_values(&distinct);
    DictionaryArray::try_new(
        ArrowDataType::Dictionary(
            IntegerType::UInt32,
            Box::new(ArrowDataType::Utf8View),
            false,
        ),
        keys,
        values.boxed(),
    )
    .ok()
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
        CategoricalPhysical, Categories, Column, DataType, IntoColumn, IntoSeries, ParquetReader,
        SerReader, Series, UInt32Chunked,
    };

    fn keys_and_values(d: &DictionaryArray<u32>) -> (Vec<Option<u32>>, Vec<String>) {
        let values = d.values().as_any().downcast_ref::<Utf8ViewArray>().unwrap();
        (
            d.keys().iter().map(Option::<&u32>::copied).collect(),
            values.values_iter().map(str::to_owned).collect(),
        )
    }

    /// Keys in the order values are first seen; a run, a value seen again after others, and a
    /// null (which keeps its place in the validity) each keyed right.
    #[test]
    fn text_dictionary_keys_by_first_sight() {
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
        let d = text_dictionary(&array).unwrap();
        let (keys, values) = keys_and_values(&d);
        assert_eq!(values, ["b", "a", "c"]);
        assert_eq!(
            keys,
            [Some(0), Some(0), Some(1), None, Some(0), Some(2), Some(1)]
        );
    }

    /// Beyond 128 rows, more than 3 distinct values in 4 are written plain; exactly 3 in 4
    /// still get a dictionary, and short columns always do.
    #[test]
    fn text_dictionary_gives_up_on_mostly_distinct_text() {
        let texts = |n: usize, distinct: usize| {
            let rows: Vec<String> = (0..n).map(|i| format!("v{}", i % distinct)).collect();
            Utf8ViewArray::from_slice_values(&rows)
        };
        assert!(text_dictionary(&texts(400, 301)).is_none());
        assert_eq!(
            text_dictionary(&texts(400, 300)).unwrap().values().len(),
            300
        );
        assert_eq!(
            text_dictionary(&texts(100, 100)).unwrap().values().len(),
            100
        );
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

    /// A frame of text (repeating and mostly distinct, with nulls), categorical, integer and
    /// float columns over three row groups reads back equal, with the same Arrow types; text
    /// that repeats is dictionary-encoded, text that does not is plain, as are floats.
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
                category.into_column(),
                Column::new(
                    "year".into(),
                    (0..n)
                        .map(|i| 2000 + i16::try_from(i % 20).unwrap())
                        .collect::<Vec<_>>(),
                ),
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
            assert!(dictionary(2), "categorical: {:?}", e[2]);
            assert!(!dictionary(4), "floats: {:?}", e[4]);
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
