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

use crate::error::SourceError;
use crate::model::columns::BATCH_ROWS;
use crate::model::observation::Provenance;
use crate::model::observation::{RawObservation, RegionId, Sex, SourceKind};
use crate::model::quarantine::QuarantineEntry;
use crate::model::regions::resolve::{RegionResolver, unresolved};

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

/// The payload formats that hold observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// THL Sotkanet `/json`.
    SotkanetJson,
    /// THL Sotkanet `/csv`.
    SotkanetCsv,
    /// JSON-stat (every form).
    Jsonstat,
}

/// Decodes one data payload: the one dispatch from a format to its decoder, for `run` and
/// `convert` alike. JSON-stat and Sotkanet `/json` take their column paths (regions resolved as
/// the rows are read, each distinct value looked up once, see [`Decoded::resolved`]): a national
/// run is tens of millions of rows, and building a dozen strings a row dominated it. A Sotkanet
/// `/json` payload with any row the typed reader does not take goes through the loose reader,
/// which quarantines that row with its JSON pointer.
pub fn decode_payload(
    format: PayloadFormat,
    bytes: &[u8],
    roles: &jsonstat::DimensionRoles,
    ctx: &DecodeContext,
    resolver: &RegionResolver<'_>,
    provenance: &Provenance<'_>,
) -> Result<Decoded, SourceError> {
    Ok(match format {
        PayloadFormat::SotkanetJson => {
            match sotkanet::decode_json_resolved(bytes, ctx, resolver, provenance) {
                Some(decoded) => decoded,
                None => sotkanet::decode_json(bytes, ctx)?,
            }
        }
        PayloadFormat::SotkanetCsv => sotkanet::decode_csv(bytes, ctx)?,
        PayloadFormat::Jsonstat => {
            let resolve = |id: &RegionId| resolver.resolve(id).map(|(c, l)| (c, l.as_str()));
            let reject =
                |raw: &RawObservation, rule, reason| unresolved(raw, provenance, rule, reason);
            let options = jsonstat::columns::ColumnOptions {
                resolve_region: &resolve,
                reject_region: &reject,
                retrieved_at_micros: provenance.retrieved_at.timestamp_micros(),
                batch_rows: BATCH_ROWS,
            };
            let mut out = Decoded::default();
            out.datasets = jsonstat::columns::decode_columns(
                jsonstat::Input::Bytes(bytes),
                roles,
                ctx,
                &options,
                |q| keep(&mut out.quarantine, q),
                |batch| {
                    batch.append_to(&mut out.resolved);
                    Ok(())
                },
                |r| keep(&mut out.rows, r),
            )?;
            out
        }
    })
}

/// A decoder's sink that keeps what it is handed.
#[allow(clippy::unnecessary_wraps)] // The decoders' sinks may fail.
fn keep<T>(into: &mut Vec<T>, item: T) -> Result<(), String> {
    into.push(item);
    Ok(())
}
