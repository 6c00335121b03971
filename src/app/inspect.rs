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

/// A Parquet file's footer, or the error naming the file.
fn footer(path: &Path) -> Result<crate::io::parquet::ParquetMeta, Error> {
    if !path.exists() {
        return Err(SourceError::Missing {
            source_id: "inspect".to_owned(),
            path: path.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        }
        .into());
    }
    Ok(
        read_parquet_metadata(path).map_err(|e| SourceError::Malformed {
            path: path.to_path_buf(),
            location: "footer".to_owned(),
            message: format!("not a readable Parquet file: {e}"),
        })?,
    )
}

/// The first `rows` rows of a Parquet file.
fn first_rows(path: &Path, rows: usize) -> Result<DataFrame, Error> {
    let file = fs_err::File::open(path).map_err(|e| write_error(path, e))?;
    Ok(ParquetReader::new(file.into_parts().0)
        .with_slice(Some((0, rows)))
        .finish()
        .map_err(|e| SourceError::Malformed {
            path: path.to_path_buf(),
            location: "data".to_owned(),
            message: e.to_string(),
        })?)
}

/// The lines `inspect` prints.
pub fn inspect(path: &Path, rows: usize) -> Result<Vec<String>, Error> {
    let meta = footer(path)?;
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
    let df = first_rows(path, rows)?;
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

/// `inspect --format json`: the file, its rows, schema (name, type, nullable), key-value metadata
/// and its first `rows` rows as objects (numbers as numbers, nulls as null, anything else as
/// text).
pub fn inspect_json(path: &Path, rows: usize) -> Result<serde_json::Value, Error> {
    let meta = footer(path)?;
    let schema: Vec<serde_json::Value> = meta
        .schema
        .fields()
        .iter()
        .map(|f| {
            serde_json::json!({
                "name": f.name(),
                "type": f.data_type().to_string(),
                "nullable": f.is_nullable(),
            })
        })
        .collect();
    let metadata: serde_json::Map<String, serde_json::Value> = meta
        .key_value
        .iter()
        .filter(|(k, _)| k.as_str() != "ARROW:schema")
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let df = first_rows(path, rows)?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut first = Vec::new();
    for i in 0..df.height() {
        let row = df
            .get_row(i)
            .map_err(|e| InternalError::Invariant(e.to_string()))?;
        let object: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .zip(row.0.iter())
            .map(|(n, v)| (n.clone(), json_cell(v)))
            .collect();
        first.push(serde_json::Value::Object(object));
    }
    Ok(serde_json::json!({
        "file": path.display().to_string(),
        "rows": meta.rows,
        "schema": schema,
        "metadata": metadata,
        "first_rows": first,
    }))
}

/// A cell as JSON: numbers as numbers, booleans as booleans, null as null, the rest as the
/// text `inspect` prints.
fn json_cell(v: &polars::prelude::AnyValue<'_>) -> serde_json::Value {
    use polars::prelude::AnyValue;
    match v {
        AnyValue::Null => serde_json::Value::Null,
        AnyValue::Boolean(b) => serde_json::Value::Bool(*b),
        v if v.is_primitive_numeric() => v
            .extract::<f64>()
            .and_then(serde_json::Number::from_f64)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        v => serde_json::Value::String(cell_text(v)),
    }
}
