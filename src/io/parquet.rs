//! Reading Parquet files back with arrow-rs, the reader independent of the polars writer: a
//! file's schema, row count and key-value metadata, and a hash of its data that ignores which run
//! wrote it.

use std::collections::BTreeMap;
use std::path::Path;

use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::error::InternalError;
use crate::io::atomic::write_error;

/// What a Parquet file says about itself, read with arrow-rs.
#[derive(Debug)]
pub struct ParquetMeta {
    /// The Arrow schema.
    pub schema: arrow_schema::Schema,
    /// Number of rows.
    pub rows: usize,
    /// File-level key-value metadata.
    pub key_value: BTreeMap<String, String>,
}

/// Reads a Parquet file's footer with arrow-rs.
pub fn read_parquet_metadata(path: &Path) -> Result<ParquetMeta, InternalError> {
    let file = fs_err::File::open(path).map_err(|e| write_error(path, e))?;
    let reader =
        SerializedFileReader::new(file.into_parts().0).map_err(|e| write_error(path, e))?;
    let meta = reader.metadata().file_metadata();
    let schema =
        parquet::arrow::parquet_to_arrow_schema(meta.schema_descr(), meta.key_value_metadata())
            .map_err(|e| write_error(path, e))?;
    let key_value = meta
        .key_value_metadata()
        .into_iter()
        .flatten()
        .filter_map(|kv| Some((kv.key.clone(), kv.value.clone()?)))
        .collect();
    Ok(ParquetMeta {
        schema,
        rows: usize::try_from(meta.num_rows()).unwrap_or_default(),
        key_value,
    })
}

/// sha256 of a Parquet file's data: its column chunks, in file order, except those of a
/// `run_id` column (which names the run that wrote the row, not what the row says). Two files of
/// the same frame written by the same build then have the same hash whichever run wrote them,
/// although their bytes differ in `run_id` and the footer's key-value metadata.
pub fn parquet_content_sha256(path: &Path) -> Result<String, InternalError> {
    use sha2::Digest;
    use std::io::{Read, Seek, SeekFrom};
    let mut file = fs_err::File::open(path).map_err(|e| write_error(path, e))?;
    let reader =
        SerializedFileReader::new(file.file().try_clone().map_err(|e| write_error(path, e))?)
            .map_err(|e| write_error(path, e))?;
    let mut ranges = Vec::new();
    for rg in reader.metadata().row_groups() {
        for c in rg.columns() {
            if c.column_path().string() != "run_id" {
                ranges.push(c.byte_range());
            }
        }
    }
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    for (start, len) in ranges {
        hasher.update(len.to_le_bytes());
        file.seek(SeekFrom::Start(start))
            .map_err(|e| write_error(path, e))?;
        let mut left = len;
        while left > 0 {
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
            file.read_exact(&mut buf[..n])
                .map_err(|e| write_error(path, e))?;
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
    }
    Ok(hex::encode(hasher.finalize()))
}
