//! The extract stage: fetch raw payloads and archive each one unchanged.
//!
//! Payloads come from local files (the offline sample, a region's own files) or over HTTP
//! ([`crate::http`], [`sotkanet`], [`pxweb`], [`thl_cube`]). Every payload is stored unchanged in the raw
//! archive ([`crate::archive`]), so that a run can be traced to, revalidated against (conditional
//! GET) and replayed from (`--offline`) the bytes it used.

pub mod pxweb;
pub mod sotkanet;
pub mod thl_cube;

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::archive::Payload;
use crate::error::SourceError;
use crate::io::hash::sha256_hex;

/// What a payload is to its source (`role` in the manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PayloadRole {
    /// Rows: a data answer or a local data file.
    Data,
    /// What the source says about itself: a table's variables, an indicator's metadata.
    Metadata,
    /// The API's limits (`?config`).
    Config,
}

/// How a payload was obtained (`origin` in the manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PayloadOrigin {
    /// Read from a local file.
    File,
    /// Downloaded now.
    Downloaded,
    /// Revalidated: the server answered 304 and the archived copy was used.
    NotModified,
    /// Answered from the archive without a request (`--offline`).
    Archive,
    /// Not asked for: the archived copy was reused because the source said its data had not
    /// changed (a Sotkanet indicator whose `data-updated` is the archived metadata's).
    Reused,
}

/// A payload of a source, with the request (or file) it came from.
#[derive(Debug)]
pub struct SourcePayload {
    /// `METHOD URL` or `file://<path>`.
    pub request: String,
    /// What it is to the source.
    pub role: PayloadRole,
    /// How it was obtained.
    pub origin: PayloadOrigin,
    /// The payload.
    pub payload: Payload,
}

impl SourcePayload {
    /// A payload fetched over HTTP (or from the archive for it).
    pub fn new(
        req: &crate::http::Request,
        fetched: crate::http::Fetched,
        role: PayloadRole,
    ) -> SourcePayload {
        SourcePayload {
            request: req.line(),
            role,
            origin: match fetched.origin {
                crate::http::Origin::Downloaded => PayloadOrigin::Downloaded,
                crate::http::Origin::NotModified => PayloadOrigin::NotModified,
                crate::http::Origin::Archive => PayloadOrigin::Archive,
                crate::http::Origin::Reused => PayloadOrigin::Reused,
            },
            payload: fetched.payload,
        }
    }
}

/// Reads a local file as a payload. Its `retrieved_at` is the file's modification time: the
/// version of the file that was read, which stays the same from run to run while the file does
/// (so that an unchanged input gives byte-identical tables); the time of reading is in the run
/// manifest.
pub fn read_file(source_id: &str, path: &Path) -> Result<Payload, SourceError> {
    let missing = |e| SourceError::Missing {
        source_id: source_id.to_owned(),
        path: path.to_path_buf(),
        source: e,
    };
    let modified = fs_err::metadata(path)
        .map_err(missing)?
        .modified()
        .ok()
        .map(DateTime::<Utc>::from);
    let bytes = crate::io::read_regular(path).map_err(missing)?;
    Ok(Payload {
        sha256: sha256_hex(&bytes),
        bytes,
        retrieved_at: modified.unwrap_or_else(Utc::now),
    })
}
