//! The extract stage: fetch raw payloads and archive each one unchanged.
//!
//! This version reads local files (the offline sample and region-supplied files). Every payload is
//! stored under `<cache>/raw/<sha256>` exactly as read (written once: the name is the content) and
//! a line is appended to `<cache>/raw/index` saying which request produced which sha256 and when,
//! so that a run can be traced to, and later replayed from, the bytes it used.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{InternalError, SourceError};
use crate::hash::sha256_hex;

/// A payload as read, with its identity.
#[derive(Debug)]
pub struct Payload {
    /// The bytes, unchanged.
    pub bytes: Vec<u8>,
    /// Their sha256.
    pub sha256: String,
    /// When they were read.
    pub retrieved_at: DateTime<Utc>,
}

/// The raw payload archive.
#[derive(Debug, Clone)]
pub struct Archive {
    root: PathBuf,
}

#[derive(Serialize)]
struct IndexLine<'a> {
    request: &'a str,
    sha256: &'a str,
    bytes: usize,
    retrieved_at: DateTime<Utc>,
}

impl Archive {
    /// An archive rooted at `<cache>`.
    pub fn new(cache: &Path) -> Archive {
        Archive {
            root: cache.join("raw"),
        }
    }

    /// Where a payload with this sha256 is stored.
    pub fn path_of(&self, sha256: &str) -> PathBuf {
        self.root.join(sha256)
    }

    /// Stores a payload (if not already there) and records the request that produced it.
    pub fn store(&self, request: &str, payload: &Payload) -> Result<(), InternalError> {
        let target = self.path_of(&payload.sha256);
        if !target.exists() {
            crate::publish::write_atomic(&target, &payload.bytes)?;
        }
        let line = serde_json::to_string(&IndexLine {
            request,
            sha256: &payload.sha256,
            bytes: payload.bytes.len(),
            retrieved_at: payload.retrieved_at,
        })
        .map_err(|e| InternalError::Invariant(format!("archive index line: {e}")))?;
        let index = self.root.join("index");
        let write = || -> std::io::Result<()> {
            let mut f = fs_err::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&index)?;
            // One write per line: concurrent appenders cannot interleave inside a line.
            f.write_all(format!("{line}\n").as_bytes())
        };
        write().map_err(|e| crate::publish::write_error(&index, e))
    }
}

/// Reads a local file as a payload.
pub fn read_file(source_id: &str, path: &Path) -> Result<Payload, SourceError> {
    let bytes = fs_err::read(path).map_err(|e| SourceError::Missing {
        source_id: source_id.to_owned(),
        path: path.to_path_buf(),
        source: e,
    })?;
    Ok(Payload {
        sha256: sha256_hex(&bytes),
        bytes,
        retrieved_at: Utc::now(),
    })
}
