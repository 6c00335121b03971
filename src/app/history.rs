//! Run history: every run of an output folder, successful or not, in `<out>/_runs/`.
//!
//! A successful run's manifest is `_runs/<run_id>.json` (written by the publisher); a failed run
//! gets one too, with its status, exit code and error. Every run adds a row to
//! `_runs/history.parquet` (start, end, status, exit code, rows per table, quarantined rows,
//! checks failed, error), rewritten atomically while the run still holds the folder's lock.
//! `mittari runs` prints the latest rows.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use polars::prelude::*;

use crate::error::{InternalError, PolarsContext};
use crate::model::contract::Contract;

/// One run.
#[derive(Debug, Clone)]
pub struct RunRow {
    /// Run id.
    pub run_id: String,
    /// The pipeline file.
    pub pipeline: String,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub finished_at: DateTime<Utc>,
    /// `success` or `failed`.
    pub status: &'static str,
    /// Exit code.
    pub exit_code: i16,
    /// Rows per output table.
    pub rows: BTreeMap<String, usize>,
    /// Rows quarantined.
    pub quarantined: usize,
    /// Checks of error severity that failed.
    pub checks_failed: i64,
    /// The error, for a failed run.
    pub error: Option<String>,
    /// Declared checks' outcomes of a run stopped by a check (for its manifest).
    pub checks: Vec<crate::stages::check::CheckOutcome>,
    /// Whether the run's outputs were published (a run can fail after its commit).
    pub published: bool,
}

fn frame(r: &RunRow) -> Result<DataFrame, InternalError> {
    let micros = |t: DateTime<Utc>| -> Result<Column, InternalError> {
        Ok(
            Int64Chunked::from_vec("t".into(), vec![t.timestamp_micros()])
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_series()
                .into(),
        )
    };
    let rows = serde_json::to_string(&r.rows)
        .map_err(|e| InternalError::Invariant(format!("history row: {e}")))?;
    DataFrame::new(
        1,
        vec![
            Series::new("run_id".into(), [r.run_id.as_str()]).into(),
            Series::new("pipeline".into(), [r.pipeline.as_str()]).into(),
            micros(r.started_at)?.with_name("started_at".into()),
            micros(r.finished_at)?.with_name("finished_at".into()),
            Series::new("status".into(), [r.status]).into(),
            Series::new("exit_code".into(), [r.exit_code]).into(),
            Series::new("rows".into(), [rows.as_str()]).into(),
            Series::new(
                "quarantined".into(),
                [i64::try_from(r.quarantined).unwrap_or(i64::MAX)],
            )
            .into(),
            Series::new("checks_failed".into(), [r.checks_failed]).into(),
            Series::new("error".into(), [r.error.as_deref()]).into(),
        ],
    )
    .context("building a history row")
}

/// Adds a run to `<out>/_runs/history.parquet` (and writes a failed run's manifest).
pub fn record(out: &Path, r: &RunRow) -> Result<(), InternalError> {
    let dir = out.join("_runs");
    let manifest_path = dir.join(format!("{}.json", r.run_id));
    // A run that failed after publishing keeps the manifest of what it published.
    if r.status == "failed" && !(r.published && manifest_path.exists()) {
        let manifest = serde_json::json!({
            "run_id": r.run_id,
            "mittari_version": env!("CARGO_PKG_VERSION"),
            "pipeline_path": r.pipeline,
            "started_at": r.started_at,
            "finished_at": r.finished_at,
            "status": r.status,
            "exit_code": r.exit_code,
            "error": r.error,
            "checks": r.checks,
            "note": if r.published {
                "the outputs were published (`current` names this run); a step after publishing failed"
            } else {
                "nothing was published; the previous outputs are unchanged"
            },
        });
        let bytes = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| InternalError::Invariant(format!("failure manifest: {e}")))?;
        crate::io::atomic::write_atomic(&manifest_path, &bytes)?;
    }
    let path = dir.join("history.parquet");
    let mut df = frame(r)?;
    if path.exists() {
        let old = read(&path)?;
        df = old.vstack(&df).context("appending to the run history")?;
    }
    let contract = Contract::for_table("run_history")?;
    contract.check_frame(&df)?;
    let tmp = dir.join(format!(".history.parquet.tmp-{}", std::process::id()));
    crate::stages::publish::write_parquet(
        &df,
        &tmp,
        contract.parquet_metadata(&r.run_id, &r.pipeline),
    )?;
    fs_err::rename(&tmp, &path).map_err(|e| crate::io::atomic::write_error(&path, e))
}

/// Reads a history file.
pub fn read(path: &Path) -> Result<DataFrame, InternalError> {
    let f = fs_err::File::open(path).map_err(|e| crate::io::atomic::write_error(path, e))?;
    ParquetReader::new(f.into_parts().0)
        .finish()
        .context("reading the run history")
}

/// The run history of an output folder, or the error saying it has none.
fn history_of(out: &Path) -> Result<DataFrame, crate::error::Error> {
    let path = out.join("_runs/history.parquet");
    if !path.exists() {
        return Err(crate::error::ConfigError::Usage {
            message: format!(
                "no run history in `{}` (no run has used this output folder)",
                out.display()
            ),
        }
        .into());
    }
    Ok(read(&path)?)
}

/// The latest `n` runs of an output folder as lines of a table.
pub fn list(out: &Path, limit: usize) -> Result<Vec<String>, crate::error::Error> {
    let df = history_of(out)?;
    let text = |c: &str| -> Result<Vec<String>, InternalError> {
        let col = df
            .column(c)
            .context("reading the run history")?
            .cast(&DataType::String)
            .context("reading the run history")?;
        Ok(col
            .str()
            .context("reading the run history")?
            .iter()
            .map(|v| v.unwrap_or("").to_owned())
            .collect())
    };
    let (id, status, code, quarantined) = (
        text("run_id")?,
        text("status")?,
        text("exit_code")?,
        text("quarantined")?,
    );
    let rows = text("rows")?;
    let time = |c: &str| -> Result<Vec<Option<DateTime<Utc>>>, InternalError> {
        let col = df.column(c).context("reading the run history")?;
        let micros = col
            .datetime()
            .context("reading the run history")?
            .physical()
            .clone();
        Ok(micros
            .iter()
            .map(|m| m.and_then(DateTime::from_timestamp_micros))
            .collect())
    };
    let (started, finished) = (time("started_at")?, time("finished_at")?);
    let mut lines = vec![
        "started\tseconds\tstatus\texit\tobservations\tindicators\tquarantined\trun_id".to_owned(),
    ];
    let total = df.height();
    for i in total.saturating_sub(limit)..total {
        let secs = match (started[i], finished[i]) {
            (Some(a), Some(b)) => {
                let ms = (b - a).num_milliseconds();
                format!("{}.{}", ms / 1000, (ms % 1000) / 100)
            }
            _ => String::new(),
        };
        let counts: BTreeMap<String, usize> = serde_json::from_str(&rows[i]).unwrap_or_default();
        let get = |t: &str| counts.get(t).map(ToString::to_string).unwrap_or_default();
        lines.push(format!(
            "{}\t{secs}\t{}\t{}\t{}\t{}\t{}\t{}",
            started[i]
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default(),
            status[i],
            code[i],
            get("observations"),
            get("indicators"),
            quarantined[i],
            id[i]
        ));
    }
    Ok(lines)
}

/// `runs --format json`: the latest `limit` runs (latest last), each an object of the history's
/// columns (times in RFC 3339, `rows` as the object it is).
pub fn list_json(out: &Path, limit: usize) -> Result<serde_json::Value, crate::error::Error> {
    let df = history_of(out)?;
    let what = "reading the run history";
    let total = df.height();
    let mut runs = Vec::new();
    for i in total.saturating_sub(limit)..total {
        let mut object = serde_json::Map::new();
        for c in df.columns() {
            let name = c.name().to_string();
            let v = c.get(i).context(what)?;
            let json = match v {
                AnyValue::Null => serde_json::Value::Null,
                AnyValue::Boolean(b) => serde_json::Value::Bool(b),
                AnyValue::Datetime(micros, _, _) | AnyValue::DatetimeOwned(micros, _, _) => {
                    DateTime::from_timestamp_micros(micros).map_or(serde_json::Value::Null, |t| {
                        serde_json::Value::String(
                            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        )
                    })
                }
                v if v.is_primitive_numeric() => {
                    v.extract::<i64>().map_or(serde_json::Value::Null, |n| {
                        serde_json::Value::Number(n.into())
                    })
                }
                v => {
                    let text = v.get_str().map_or_else(|| v.to_string(), str::to_owned);
                    // `rows` and `checks` are JSON in the history: given as what they are.
                    serde_json::from_str(&text)
                        .ok()
                        .filter(|j: &serde_json::Value| j.is_object() || j.is_array())
                        .unwrap_or(serde_json::Value::String(text))
                }
            };
            object.insert(name, json);
        }
        runs.push(serde_json::Value::Object(object));
    }
    Ok(serde_json::Value::Array(runs))
}
