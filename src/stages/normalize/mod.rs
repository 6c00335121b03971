//! The normalize stage: raw payloads -> rows of the canonical `observations` table.
//!
//! One decoder per format ([`sotkanet`], [`jsonstat`]). A decoder fails as a whole only when the
//! payload cannot be read at all (truncated JSON, a CSV without the expected header); a row that
//! cannot be used becomes a [`QuarantineEntry`] with its location (JSON pointer or `file:line`)
//! and a reason, and decoding goes on. Values are never invented: an absent or null value stays
//! `None`, with its status where the payload gives one.
//!
//! Every decoder writes into one [`ObservationSink`] and returns nothing but what the payload
//! says about itself. Column paths (JSON-stat, Sotkanet `/json` as THL writes it) resolve each
//! distinct region identifier once, with the resolver the caller hands them (it needs the
//! registry and, for Sotkanet, the `/regions` payload); a row handed over on its own keeps the
//! identifier as published ([`RegionId`]) and the sink resolves it, or quarantines it with the
//! conform stage's reason.

pub mod jsonstat;
pub mod regionfile;
pub mod sotkanet;
mod sotkanet_rows;
pub mod thl_cube;

use std::collections::HashMap;

use crate::error::SourceError;
use crate::model::columns::{BATCH_ROWS, ObservationColumns};
use crate::model::observation::Provenance;
use crate::model::observation::{RawObservation, RegionId, Sex, SourceKind};
use crate::model::quarantine::QuarantineEntry;
use crate::model::regions::Level;
use crate::model::regions::resolve::{RegionResolver, unresolved};
use jsonstat::columns::ArrowBatch;

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
    /// The last year a Sotkanet row may be for (the run's as-of year): THL publishes no
    /// statistics ahead, so a later year is a broken row (`year_in_future`). `None`: no bound
    /// (`convert`, which has no as-of date).
    pub latest_year: Option<i16>,
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

/// Where a decoder puts what it reads. Every decoder of observations (JSON-stat, Sotkanet
/// `/json` and `/csv`) writes into one of these and into nothing else: rows it has already laid
/// out in columns with their regions resolved, single rows with the region as published (the
/// sink resolves them, or quarantines those that do not resolve), and rows it cannot use.
/// [`Collect`] keeps everything in memory (`run`); `convert` streams batches to its Parquet
/// writer.
pub trait ObservationSink {
    /// A batch a columnar decoder built (JSON-stat), regions resolved.
    fn batch(&mut self, batch: ArrowBatch) -> Result<(), String>;
    /// Rows in columns, regions resolved (Sotkanet `/json` as THL publishes it).
    fn columns(&mut self, columns: ObservationColumns) -> Result<(), String>;
    /// One decoded row with its region as published.
    fn row(&mut self, row: RawObservation) -> Result<(), String>;
    /// A row that cannot be used, with its location and reason.
    fn quarantine(&mut self, entry: QuarantineEntry) -> Result<(), String>;
}

/// A region resolved (canonical code and level), or the quarantine rule and reason.
type Resolution = Result<(String, Level), (&'static str, String)>;

/// A sink that keeps a payload's rows in memory: the `run`'s sink.
pub struct Collect<'a> {
    resolver: &'a RegionResolver<'a>,
    provenance: &'a Provenance<'a>,
    /// Each distinct region identifier of single rows, resolved once.
    regions: HashMap<RegionId, Resolution>,
    out: Decoded,
}

impl<'a> Collect<'a> {
    /// An empty sink resolving single rows' regions with `resolver`.
    pub fn new(resolver: &'a RegionResolver<'a>, provenance: &'a Provenance<'a>) -> Self {
        Collect {
            resolver,
            provenance,
            regions: HashMap::new(),
            out: Decoded::default(),
        }
    }

    /// What was collected.
    pub fn finish(self) -> Decoded {
        self.out
    }
}

impl ObservationSink for Collect<'_> {
    fn batch(&mut self, batch: ArrowBatch) -> Result<(), String> {
        batch.append_to(&mut self.out.resolved);
        Ok(())
    }

    fn columns(&mut self, columns: ObservationColumns) -> Result<(), String> {
        self.out.resolved.append(columns);
        Ok(())
    }

    fn row(&mut self, row: RawObservation) -> Result<(), String> {
        // Looked up before inserting: the entry API would clone every row's id.
        if !self.regions.contains_key(&row.region) {
            let resolved = self.resolver.resolve(&row.region);
            self.regions.insert(row.region.clone(), resolved);
        }
        match &self.regions[&row.region] {
            Ok((code, level)) => self
                .out
                .resolved
                .push_row(&row, code, *level, self.provenance),
            Err((rule, reason)) => {
                let entry = unresolved(&row, self.provenance, rule, reason.clone());
                self.out.quarantine.push(entry);
            }
        }
        Ok(())
    }

    fn quarantine(&mut self, entry: QuarantineEntry) -> Result<(), String> {
        self.out.quarantine.push(entry);
        Ok(())
    }
}

/// What a payload decoded to.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Rows, regions resolved, in `observations` columns.
    pub resolved: ObservationColumns,
    /// Rows that could not be used.
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

/// Decodes one data payload into `sink`: the one dispatch from a format to its decoder, for
/// `run` and `convert` alike. Returns what the payload's datasets say about themselves.
///
/// JSON-stat and Sotkanet `/json` take their column paths (regions resolved as the rows are
/// read, each distinct value looked up once): a national run is tens of millions of rows, and
/// building a dozen strings a row dominated it. A Sotkanet `/json` payload with any row the
/// typed reader does not take is read again by the loose reader, which quarantines that row
/// with its JSON pointer.
pub fn decode_payload(
    format: PayloadFormat,
    bytes: &[u8],
    roles: &jsonstat::DimensionRoles,
    ctx: &DecodeContext,
    resolver: &RegionResolver<'_>,
    provenance: &Provenance<'_>,
    sink: &mut impl ObservationSink,
) -> Result<Vec<jsonstat::DatasetInfo>, SourceError> {
    match format {
        PayloadFormat::SotkanetJson => {
            sotkanet::decode_json(bytes, ctx, resolver, provenance, sink)?;
            Ok(Vec::new())
        }
        PayloadFormat::SotkanetCsv => {
            sotkanet::decode_csv(bytes, ctx, sink)?;
            Ok(Vec::new())
        }
        PayloadFormat::Jsonstat => {
            let resolve = |id: &RegionId| resolver.resolve(id).map(|(c, l)| (c, l.as_str()));
            let options = jsonstat::columns::ColumnOptions {
                resolve_region: &resolve,
                retrieved_at_micros: provenance.retrieved_at.timestamp_micros(),
                batch_rows: BATCH_ROWS,
            };
            jsonstat::columns::decode_columns(
                jsonstat::Input::Bytes(bytes),
                roles,
                ctx,
                &options,
                sink,
            )
        }
    }
}

/// The error of a sink that refused what a decoder handed it, at `location` of `ctx`'s file.
pub(crate) fn sink_failed(ctx: &DecodeContext, location: &str, message: String) -> SourceError {
    SourceError::Malformed {
        path: ctx.file.clone().into(),
        location: location.to_owned(),
        message,
    }
}
