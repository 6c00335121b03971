//! Incremental reruns: `_runs/state.json` says what the last successful run read and wrote, so
//! that a rerun with nothing changed costs (almost) nothing.
//!
//! A run is up to date, and `run` rewrites nothing, when all of these hold:
//! - the *run key* is the same: mittari's version and build id (a hash of its sources, contracts
//!   and registry), the pipeline file's and catalogue's sha256, `--strict`, every local file the
//!   pipeline names resolved to an absolute path (a copy of the pipeline in another folder reads
//!   other files), the survey salt hashed with the survey files' bytes (when the pipeline has
//!   surveys; never the salt alone, which a reader could test guesses against) and the `--as-of`
//!   date (when the pipeline has roadmaps or freshness checks, whose results depend on the
//!   date);
//! - every local file the last run read is unchanged: same size and modification time, or, when
//!   those differ, the same sha256 (a `touch` alone does not cause a rebuild);
//! - every web payload is the same: the conditional requests are sent, and each answer (a 304
//!   served from the archive, or a 200) has the sha256 recorded last time;
//! - every output the last run listed is still there with its size and modification time.
//!
//! Anything else rebuilds, and `--force` rebuilds regardless. A rebuild recomputes every table,
//! but an output whose content is the same as before is left in place untouched (see
//! [`crate::stages::publish::Publisher`]): changing one source rewrites only the tables it reaches, and
//! the result is the same as a full rebuild into an empty folder.
//!
//! Pipelines without live sources decide from file metadata alone, before reading any source;
//! pipelines with live sources decide after the requests (and decoding) but before deriving.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::error::InternalError;
use crate::stages::publish::OutputDep;

/// A local file a run read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDep {
    /// Absolute path.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Modification time, nanoseconds since 1970 (0 when the file system has none).
    pub modified_ns: u64,
    /// sha256 of the content.
    pub sha256: String,
}

impl FileDep {
    /// Whether the file still has this content (by metadata, or by hash when that differs).
    fn unchanged(&self) -> bool {
        let path = Path::new(&self.path);
        match crate::io::file_stat(path) {
            Some(s) if s == (self.bytes, self.modified_ns) => true,
            Some((bytes, _)) if bytes == self.bytes => {
                crate::io::hash::sha256_file(path).is_ok_and(|(sha, _)| sha == self.sha256)
            }
            _ => false,
        }
    }
}

/// A web payload a run used.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PayloadDep {
    /// The request line.
    pub request: String,
    /// sha256 of the payload.
    pub sha256: String,
}

/// `_runs/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// The run key (see the module documentation).
    pub key: String,
    /// The run that wrote this state.
    pub run_id: String,
    /// Local files read.
    pub files: Vec<FileDep>,
    /// Web payloads used.
    pub payloads: Vec<PayloadDep>,
    /// Outputs.
    pub outputs: Vec<OutputDep>,
}

fn path(out: &Path) -> std::path::PathBuf {
    out.join("_runs").join("state.json")
}

impl State {
    /// The state of the last successful run, if there is a readable one.
    pub fn load(out: &Path) -> Option<State> {
        let p = path(out);
        let bytes = fs_err::read(&p).ok()?;
        match serde_json::from_slice(&bytes) {
            Ok(s) => Some(s),
            Err(e) => {
                warn!(
                    "Ignoring `{}` ({e}): the run rebuilds everything",
                    p.display()
                );
                None
            }
        }
    }

    /// Writes the state atomically.
    pub fn save(&self, out: &Path) -> Result<(), InternalError> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| InternalError::Invariant(format!("serialising the run state: {e}")))?;
        crate::io::atomic::write_atomic(&path(out), &json)
    }

    /// Whether the local files and outputs are as this state recorded them. The run key and web
    /// payloads are compared by the caller.
    pub fn files_and_outputs_unchanged(&self, out: &Path) -> bool {
        self.files.iter().all(FileDep::unchanged) && self.outputs.iter().all(|o| o.intact(out))
    }
}

/// The run key: what besides the inputs decides a run's outputs.
pub fn run_key(parts: &[(&str, &str)]) -> String {
    let mut text = format!(
        "mittari {} build {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("MITTARI_BUILD_ID")
    );
    for (k, v) in parts {
        text.push_str(k);
        text.push('=');
        text.push_str(v);
        text.push('\n');
    }
    crate::io::hash::sha256_hex(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_unchanged_by_metadata_or_by_hash() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.csv");
        fs_err::write(&p, b"x;1\n").unwrap();
        let (bytes, modified_ns) = crate::io::file_stat(&p).unwrap();
        let dep = FileDep {
            path: p.display().to_string(),
            bytes,
            modified_ns,
            sha256: crate::io::hash::sha256_hex(b"x;1\n"),
        };
        assert!(dep.unchanged());
        // Same size, other time, same content: unchanged (by hash).
        let moved = FileDep {
            modified_ns: modified_ns.wrapping_sub(1_000_000_000),
            ..dep.clone()
        };
        assert!(moved.unchanged());
        // Same size, other time, other content: changed.
        let other = FileDep {
            sha256: crate::io::hash::sha256_hex(b"x;2\n"),
            ..moved
        };
        assert!(!other.unchanged());
        fs_err::remove_file(&p).unwrap();
        assert!(!dep.unchanged());
    }

    #[test]
    fn the_run_key_depends_on_every_part() {
        let a = run_key(&[("pipeline", "1"), ("strict", "false")]);
        assert_eq!(a, run_key(&[("pipeline", "1"), ("strict", "false")]));
        assert_ne!(a, run_key(&[("pipeline", "1"), ("strict", "true")]));
        assert_ne!(a, run_key(&[("pipeline", "2"), ("strict", "false")]));
    }
}
