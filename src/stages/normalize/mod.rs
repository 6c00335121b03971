//! The normalize stage: raw payloads -> rows of the canonical `observations` table.
//!
//! One decoder per format ([`sotkanet`], [`jsonstat`]). A decoder fails as a whole only when the
//! payload cannot be read at all (truncated JSON, a CSV without the expected header); a row that
//! cannot be used becomes a [`QuarantineEntry`] with its location (JSON pointer or `file:line`)
//! and a reason, and decoding goes on. Values are never invented: an absent or null value stays
//! `None`, with its status where the payload gives one.
//!
//! Decoders keep the region identifier as published ([`RegionId`]); the conform stage maps it to
//! a canonical code, because that needs the registry and, for Sotkanet, the `/regions` payload.

pub mod jsonstat;
pub mod regionfile;
pub mod sotkanet;
mod sotkanet_rows;

use crate::model::observation::{RawObservation, RegionId, Sex, SourceKind};
use crate::model::quarantine::QuarantineEntry;

/// What a decoder needs to know about the payload it decodes.
#[derive(Debug, Clone)]
pub struct DecodeContext {
    /// Source id in the pipeline.
    pub source_id: String,
    /// Dataset id the rows belong to.
    pub dataset: String,
    /// The payload's file, as shown in messages.
    pub file: String,
    /// sha256 of the payload.
    pub raw_sha256: String,
    /// Unit to use where the payload has none.
    pub unit: Option<String>,
}

impl DecodeContext {
    /// A quarantine entry for this payload.
    pub fn quarantine(
        &self,
        location: String,
        rule: &'static str,
        reason: String,
        record: String,
    ) -> QuarantineEntry {
        QuarantineEntry {
            stage: "normalize",
            source: self.source_id.clone(),
            raw_sha256: self.raw_sha256.clone(),
            location,
            rule,
            reason,
            record,
        }
    }
}

/// The result of decoding one payload.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Rows that decoded.
    pub rows: Vec<RawObservation>,
    /// Rows that decoded straight into columns with their regions resolved (the column paths of
    /// JSON-stat and Sotkanet `/json`); their quarantine entries are in `quarantine`.
    pub resolved: crate::model::columns::ObservationColumns,
    /// Rows that did not.
    pub quarantine: Vec<QuarantineEntry>,
    /// What the payload's datasets say about themselves (JSON-stat: label, notes, warnings).
    pub datasets: Vec<jsonstat::DatasetInfo>,
}
