//! The extract stage: fetch raw payloads and archive each one unchanged.
//!
//! Payloads come from local files (the offline sample, a region's own files) or over HTTP
//! ([`crate::http`], [`sotkanet`], [`pxweb`]). Every payload is stored under
//! `<cache>/raw/<sha256>` exactly as received (written once: the name is the content) and a JSON
//! line is appended to `<cache>/raw/index` saying which request (method, URL, body) produced
//! which sha256, with the status, `ETag`, `Last-Modified`, `Content-Type` and time, so that a run
//! can be traced to, revalidated against (conditional GET) and replayed from (`--offline`) the
//! bytes it used.

pub mod pxweb;
pub mod sotkanet;

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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

/// A payload of a source, with the request (or file) it came from.
#[derive(Debug)]
pub struct SourcePayload {
    /// `METHOD URL` or `file://<path>`.
    pub request: String,
    /// What it is to the source: `data`, `metadata`, `config`, `regions`, `file`.
    pub role: &'static str,
    /// How it was obtained: `file`, `downloaded`, `not-modified`, `archive`.
    pub origin: &'static str,
    /// The payload.
    pub payload: Payload,
}

impl SourcePayload {
    /// A payload fetched over HTTP (or from the archive for it).
    pub fn new(
        req: &crate::http::Request,
        fetched: crate::http::Fetched,
        role: &'static str,
    ) -> SourcePayload {
        SourcePayload {
            request: req.line(),
            role,
            origin: match fetched.origin {
                crate::http::Origin::Downloaded => "downloaded",
                crate::http::Origin::NotModified => "not-modified",
                crate::http::Origin::Archive => "archive",
            },
            payload: fetched.payload,
        }
    }
}

/// The raw payload archive.
#[derive(Debug, Clone)]
pub struct Archive {
    root: PathBuf,
}

/// A line of `<cache>/raw/index`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexEntry {
    /// `file://<absolute path>`, or `METHOD URL`.
    pub request: String,
    /// The POST body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// sha256 of the payload.
    pub sha256: String,
    /// Its size.
    pub bytes: usize,
    /// HTTP status (200, or 304 when the archived copy was revalidated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `ETag` of the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// `Last-Modified` of the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// `Content-Type` of the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// When it was received (or revalidated).
    pub retrieved_at: DateTime<Utc>,
}

/// What the HTTP layer knows about a response, for the index.
#[derive(Debug, Clone)]
pub struct ResponseMeta {
    /// `METHOD URL`.
    pub request: String,
    /// The POST body.
    pub body: Option<String>,
    /// HTTP status.
    pub status: u16,
    /// `ETag`.
    pub etag: Option<String>,
    /// `Last-Modified`.
    pub last_modified: Option<String>,
    /// `Content-Type`.
    pub content_type: Option<String>,
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

    /// Stores a local file's payload (if not already there) and records where it came from.
    pub fn store(&self, request: &str, payload: &Payload) -> Result<(), InternalError> {
        self.append(
            &IndexEntry {
                request: request.to_owned(),
                body: None,
                sha256: payload.sha256.clone(),
                bytes: payload.bytes.len(),
                status: None,
                etag: None,
                last_modified: None,
                content_type: None,
                retrieved_at: payload.retrieved_at,
            },
            payload,
        )
    }

    /// Stores an HTTP response's payload (if not already there) and records its request and
    /// response headers.
    pub fn record(&self, meta: &ResponseMeta, payload: &Payload) -> Result<(), InternalError> {
        self.append(
            &IndexEntry {
                request: meta.request.clone(),
                body: meta.body.clone(),
                sha256: payload.sha256.clone(),
                bytes: payload.bytes.len(),
                status: Some(meta.status),
                etag: meta.etag.clone(),
                last_modified: meta.last_modified.clone(),
                content_type: meta.content_type.clone(),
                retrieved_at: payload.retrieved_at,
            },
            payload,
        )
    }

    /// The latest index entry for a request whose payload is still in the archive.
    pub fn lookup(
        &self,
        request: &str,
        body: Option<&str>,
    ) -> Result<Option<IndexEntry>, InternalError> {
        let index = self.root.join("index");
        let text = match fs_err::read_to_string(&index) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(crate::publish::write_error(&index, e)),
        };
        // A line cut short by a crash (the last one) is skipped, not fatal.
        Ok(text
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<IndexEntry>(l).ok())
            .find(|e| {
                e.request == request
                    && e.body.as_deref() == body
                    && self.path_of(&e.sha256).exists()
            }))
    }

    /// When a payload was first archived (its earliest index entry).
    pub fn first_seen(&self, sha256: &str) -> Option<DateTime<Utc>> {
        let text = fs_err::read_to_string(self.root.join("index")).ok()?;
        text.lines()
            .filter_map(|l| serde_json::from_str::<IndexEntry>(l).ok())
            .filter(|e| e.sha256 == sha256)
            .map(|e| e.retrieved_at)
            .min()
    }

    /// Reads an archived payload back, verifying that its bytes still have their sha256.
    pub fn load(
        &self,
        sha256: &str,
        retrieved_at: DateTime<Utc>,
    ) -> Result<Payload, InternalError> {
        let path = self.path_of(sha256);
        let bytes = fs_err::read(&path).map_err(|e| crate::publish::write_error(&path, e))?;
        let actual = sha256_hex(&bytes);
        if actual != sha256 {
            return Err(InternalError::Invariant(format!(
                "archived payload `{}` is corrupt: its sha256 is {actual}",
                path.display()
            )));
        }
        Ok(Payload {
            bytes,
            sha256: actual,
            retrieved_at,
        })
    }

    fn append(&self, entry: &IndexEntry, payload: &Payload) -> Result<(), InternalError> {
        let target = self.path_of(&payload.sha256);
        if !target.exists() {
            crate::publish::write_atomic(&target, &payload.bytes)?;
        }
        let line = serde_json::to_string(entry)
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
    let bytes = fs_err::read(path).map_err(missing)?;
    Ok(Payload {
        sha256: sha256_hex(&bytes),
        bytes,
        retrieved_at: modified.unwrap_or_else(Utc::now),
    })
}
