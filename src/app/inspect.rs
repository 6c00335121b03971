//! `mittari inspect FILE.parquet`: schema, row count, key-value metadata and first rows.
//!
//! The schema and metadata are read with arrow-rs (as the contract check does); the rows with
//! polars. Rows are printed tab-separated under a header, so the output can be piped.

use std::path::Path;

use polars::prelude::*;

use crate::error::{Error, InternalError, SourceError};
use crate::io::atomic::write_error;
use crate::io::parquet::read_parquet_metadata;

/// A cell as text. Timestamps are formatted here (RFC 3339): polars' own formatter needs its
/// time-zone feature for zoned values, which mittari does not build.
fn cell_text(v: &AnyValue<'_>) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => (*s).to_owned(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Datetime(t, unit, tz) => timestamp_text(*t, *unit, tz.map(|z| z.as_str())),
        AnyValue::DatetimeOwned(t, unit, tz) => {
            timestamp_text(*t, *unit, tz.as_deref().map(|z| z.as_str()))
        }
        other => other.to_string(),
    }
}

fn timestamp_text(t: i64, unit: TimeUnit, zone: Option<&str>) -> String {
    let micros = match unit {
        TimeUnit::Nanoseconds => t.div_euclid(1000),
        TimeUnit::Microseconds => t,
        TimeUnit::Milliseconds => t.saturating_mul(1000),
    };
    match (chrono::DateTime::from_timestamp_micros(micros), zone) {
        (Some(d), Some("UTC")) => d.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        (Some(d), Some(z)) => format!("{} {z}", d.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f")),
        (Some(d), None) => d.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
        (None, _) => t.to_string(),
    }
}

/// The lines `inspect` prints.
pub fn inspect(path: &Path, rows: usize) -> Result<Vec<String>, Error> {
    if !path.exists() {
        return Err(SourceError::Missing {
            source_id: "inspect".to_owned(),
            path: path.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        }
        .into());
    }
    let meta = read_parquet_metadata(path).map_err(|e| SourceError::Malformed {
        path: path.to_path_buf(),
        location: "footer".to_owned(),
        message: format!("not a readable Parquet file: {e}"),
    })?;
    let mut lines = vec![
        format!("file: {}", path.display()),
        format!("rows: {}", meta.rows),
        "schema:".to_owned(),
    ];
    for f in meta.schema.fields() {
        lines.push(format!(
            "  {}: {}{}",
            f.name(),
            f.data_type(),
            if f.is_nullable() { "" } else { " (not null)" }
        ));
    }
    lines.push("metadata:".to_owned());
    for (k, v) in meta
        .key_value
        .iter()
        .filter(|(k, _)| k.as_str() != "ARROW:schema")
    {
        lines.push(format!("  {k} = {v}"));
    }
    let file = fs_err::File::open(path).map_err(|e| write_error(path, e))?;
    let df = ParquetReader::new(file.into_parts().0)
        .with_slice(Some((0, rows)))
        .finish()
        .map_err(|e| SourceError::Malformed {
            path: path.to_path_buf(),
            location: "data".to_owned(),
            message: e.to_string(),
        })?;
    lines.push(format!("first {} rows:", df.height()));
    lines.push(
        df.get_column_names()
            .iter()
            .map(|n| n.as_str())
            .collect::<Vec<_>>()
            .join("\t"),
    );
    for i in 0..df.height() {
        let row = df
            .get_row(i)
            .map_err(|e| InternalError::Invariant(e.to_string()))?;
        let cells: Vec<String> = row.0.iter().map(cell_text).collect();
        lines.push(cells.join("\t"));
    }
    Ok(lines)
}
