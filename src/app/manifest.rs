//! The run manifest: `_runs/<run_id>.json`, written last, saying exactly what went in and out.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::stages::extract::{PayloadOrigin, PayloadRole};
use crate::stages::publish::OutputRecord;

/// Everything a reader needs to trust (or question) one run's outputs.
#[derive(Debug, Serialize)]
pub struct RunManifest {
    /// Unique id of the run.
    pub run_id: String,
    /// mittari's version.
    pub mittari_version: String,
    /// The pipeline's name.
    pub pipeline: String,
    /// The pipeline file.
    pub pipeline_path: String,
    /// sha256 of the pipeline file.
    pub pipeline_sha256: String,
    /// Reference year of the regional division.
    pub reference_year: i16,
    /// Years derived.
    pub years: Vec<i16>,
    /// Regions of interest.
    pub focus_regions: Vec<String>,
    /// Start time (UTC).
    pub started_at: DateTime<Utc>,
    /// End time (UTC).
    pub finished_at: DateTime<Utc>,
    /// `success`.
    pub status: String,
    /// Every input and its payloads.
    pub inputs: Vec<InputRecord>,
    /// Who produced the figures, through whom they came, and which datasets are theirs (each
    /// table's share is in its Parquet metadata, `mittari.attribution`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attribution: Vec<Credit>,
    /// The survey and roadmap files read: path and sha256 only. They are not copied into the
    /// raw archive, because survey exports name their respondents.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub maturity_inputs: Vec<LocalFileRecord>,
    /// What a reader should know before trusting the outputs: sources and surveys that gave no
    /// rows (every figure that needs them is missing).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The indicator catalogue used: file, version, sha256, entries derived and skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalogue: Option<serde_json::Value>,
    /// Every comparison of the pipeline's cross-source checks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub crosschecks: Vec<crate::stages::derive::CrossCheckResult>,
    /// Every declared check's outcome.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::stages::check::CheckOutcome>,
    /// What the HTTP client did (absent when no source is fetched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<crate::http::Stats>,
    /// Every output file.
    pub outputs: Vec<OutputRecord>,
    /// Quarantined rows per stage and rule.
    pub quarantine: Vec<QuarantineCount>,
    /// Per-indicator coverage.
    pub indicators: Vec<IndicatorSummary>,
    /// Wall time per stage, in milliseconds.
    pub timings_ms: Vec<(String, u128)>,
}

/// A local file recorded by its sha256 alone.
#[derive(Debug, Clone, Serialize)]
pub struct LocalFileRecord {
    /// The survey or roadmap id in the pipeline.
    pub source: String,
    /// The file.
    pub path: String,
    /// sha256 of its bytes.
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
}

/// One input payload.
#[derive(Debug, Serialize)]
pub struct InputRecord {
    /// Source id in the pipeline.
    pub source: String,
    /// Payload format.
    pub format: String,
    /// Dataset id, for sources with observations.
    pub dataset: Option<String>,
    /// The file read, or `fetch from <api>`.
    pub origin: String,
    /// Every payload the source used, each archived under its sha256.
    pub payloads: Vec<PayloadRecord>,
    /// Sotkanet: the indicator's metadata (title, value type, decimals, range, update date).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// Whether the pipeline marks the data synthetic.
    pub synthetic: bool,
    /// Rows decoded into `observations`.
    pub rows: usize,
    /// Rows quarantined.
    pub quarantined: usize,
    /// JSON-stat: each dataset's label, source, update time, notes and validation warnings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<crate::stages::normalize::jsonstat::DatasetInfo>,
}

/// One producer's figures in a run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Credit {
    /// The organisation that produced the figures.
    pub producer: String,
    /// Through whom they came (a service and its address, or a file).
    pub via: String,
    /// The run's datasets of this producer.
    pub datasets: Vec<String>,
    /// Produced by another organisation than the service's own (THL for Sotkanet).
    pub third_party: bool,
    /// What a user of the figures must know (Sotkanet's terms for third-party indicators).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One payload of an input.
#[derive(Debug, Serialize)]
pub struct PayloadRecord {
    /// `file://<path>` or `METHOD URL`.
    pub request: String,
    /// `data`, `metadata`, `config`.
    pub role: PayloadRole,
    /// `file`, `downloaded`, `not-modified` (304: the archived copy), `archive` (`--offline`).
    pub origin: PayloadOrigin,
    /// sha256 of its bytes (the archive key).
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// When it was received.
    pub retrieved_at: DateTime<Utc>,
}

/// Quarantined rows of one stage and rule.
#[derive(Debug, Serialize)]
pub struct QuarantineCount {
    /// Stage.
    pub stage: String,
    /// Rule.
    pub rule: String,
    /// Rows.
    pub rows: usize,
}

/// How complete one indicator came out.
#[derive(Debug, Serialize)]
pub struct IndicatorSummary {
    /// Indicator id.
    pub indicator: String,
    /// Rows in `indicators`.
    pub rows: usize,
    /// Rows with a value.
    pub with_value: usize,
    /// Rows without a value (see their `flags`).
    pub without_value: usize,
}
