//! The raw payload archive: every payload a run used, stored unchanged under
//! `<cache>/raw/<sha256>` (written once: the name is the content), and a JSON line appended to
//! `<cache>/raw/index` saying which request (method, URL, body) produced which sha256, with the
//! status, `ETag`, `Last-Modified`, `Content-Type` and time. A run can so be traced to,
//! revalidated against (conditional GET) and replayed from (`--offline`) the bytes it used.
//!
//! The archive sits below [`crate::http`] (which serves conditional and offline requests from it)
//! and above the io helpers: the extract stage, the HTTP client and the sequencer all reach it.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::InternalError;
use crate::io::hash::sha256_hex;

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
            Err(e) => return Err(crate::io::atomic::write_error(&index, e)),
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

    /// Removes the archived payload with this sha256 when its bytes no longer have it (the next
    /// copy archived under the name is then written fresh); whether it did.
    pub fn discard_if_corrupt(&self, sha256: &str) -> bool {
        let path = self.path_of(sha256);
        let corrupt = fs_err::read(&path).is_ok_and(|bytes| sha256_hex(&bytes) != sha256);
        corrupt && fs_err::remove_file(&path).is_ok()
    }

    /// Reads an archived payload back, verifying that its bytes still have their sha256.
    pub fn load(
        &self,
        sha256: &str,
        retrieved_at: DateTime<Utc>,
    ) -> Result<Payload, InternalError> {
        let path = self.path_of(sha256);
        let bytes = fs_err::read(&path).map_err(|e| crate::io::atomic::write_error(&path, e))?;
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
        // Payloads and their index are the owner's alone: folders 0700, files 0600.
        crate::io::atomic::create_dir(&self.root, true)?;
        let target = self.path_of(&payload.sha256);
        if !target.exists() {
            crate::io::atomic::write_atomic_private(&target, &payload.bytes)?;
        }
        let line = serde_json::to_string(entry)
            .map_err(|e| InternalError::Invariant(format!("archive index line: {e}")))?;
        let index = self.root.join("index");
        let write = || -> std::io::Result<()> {
            let mut options = fs_err::OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            {
                use fs_err::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut f = options.open(&index)?;
            // One write per line: concurrent appenders cannot interleave inside a line.
            f.write_all(format!("{line}\n").as_bytes())
        };
        write().map_err(|e| crate::io::atomic::write_error(&index, e))
    }
}
