//! A row that could not be used, with where it was and why: every stage quarantines rows as
//! [`QuarantineEntry`] values, and the run writes them as `quarantine/<table>.parquet`
//! ([`quarantine_frame`]).

use polars::prelude::{Column, DataFrame, NamedFrom, Series};

use crate::error::{InternalError, PolarsContext};

/// A row that could not be used, with where it was and why.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineEntry {
    /// Stage that rejected it (`normalize`, `conform`, ...).
    pub stage: &'static str,
    /// Source id in the pipeline.
    pub source: String,
    /// sha256 of the archived payload.
    pub raw_sha256: String,
    /// `file:line` or `file#/json/pointer`.
    pub location: String,
    /// Short machine-readable rule name.
    pub rule: &'static str,
    /// Human-readable reason.
    pub reason: String,
    /// The offending input as text.
    pub record: String,
}

/// A `quarantine` table from entries.
pub fn quarantine_frame(
    entries: &[QuarantineEntry],
    run_id: &str,
) -> Result<DataFrame, InternalError> {
    let e = entries;
    DataFrame::new(
        e.len(),
        vec![
            text_column("stage", e.iter().map(|e| e.stage)),
            text_column("source", e.iter().map(|e| e.source.as_str())),
            text_column("raw_sha256", e.iter().map(|e| e.raw_sha256.as_str())),
            text_column("location", e.iter().map(|e| e.location.as_str())),
            text_column("rule", e.iter().map(|e| e.rule)),
            text_column("reason", e.iter().map(|e| e.reason.as_str())),
            text_column("record", e.iter().map(|e| e.record.as_str())),
            text_column("run_id", e.iter().map(|_| run_id)),
        ],
    )
    .context("building `quarantine`")
}

fn text_column<'a>(name: &str, values: impl Iterator<Item = &'a str>) -> Column {
    Series::new(name.into(), values.collect::<Vec<_>>()).into()
}
