//! One run at a time per output folder.
//!
//! A run takes `<out>/.mittari.lock`, created exclusively, holding its pid, run id and start
//! time, and removes it when it ends (also on failure). A second run on the same folder waits up
//! to `--wait` seconds for it, then stops with a message naming the holder. A lock whose process
//! no longer exists (a run killed with SIGKILL, a machine that rebooted) is stale: it is taken
//! over, with a warning. Whether a process exists is read from `/proc/<pid>` where there is one;
//! elsewhere a lock older than a day is taken as stale.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::error::{ConfigError, Error, InternalError};

/// What a lock file says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// The run.
    pub run_id: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

/// A held lock; released on drop.
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
    /// The folder, when taking the lock created it (removed again if the run left it empty).
    created: Option<PathBuf>,
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        let _ = fs_err::remove_file(&self.path);
        if let Some(dir) = &self.created {
            // Only succeeds when empty: a failed first run leaves no folder behind.
            let _ = fs_err::remove_dir(dir);
        }
    }
}

fn alive(h: &Holder) -> bool {
    let proc = Path::new("/proc");
    if proc.join("self").exists() {
        proc.join(h.pid.to_string()).exists()
    } else {
        Utc::now() - h.started_at < chrono::Duration::days(1)
    }
}

/// Takes the lock of `out` for `run_id`, waiting up to `wait` for another run to finish.
pub fn acquire(out: &Path, run_id: &str, wait: Duration) -> Result<OutputLock, Error> {
    let created = (!out.exists()).then(|| out.to_path_buf());
    fs_err::create_dir_all(out).map_err(|e| crate::publish::write_error(out, e))?;
    let path = out.join(".mittari.lock");
    let me = Holder {
        pid: std::process::id(),
        run_id: run_id.to_owned(),
        started_at: Utc::now(),
    };
    let text = serde_json::to_string(&me)
        .map_err(|e| InternalError::Invariant(format!("lock file: {e}")))?;
    let deadline = Instant::now() + wait;
    let mut said_waiting = false;
    loop {
        match fs_err::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(text.as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(|e| crate::publish::write_error(&path, e))?;
                return Ok(OutputLock { path, created });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(crate::publish::write_error(&path, e).into()),
        }
        let holder: Option<Holder> = fs_err::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        match holder {
            Some(h) if !alive(&h) => {
                warn!(pid = h.pid, run_id = %h.run_id, path = %path.display(), "Taking over a stale lock (its process is gone)");
                let _ = fs_err::remove_file(&path);
            }
            Some(h) if Instant::now() < deadline => {
                if !said_waiting {
                    info!(pid = h.pid, run_id = %h.run_id, "Waiting for another run on this output folder");
                    said_waiting = true;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Some(h) => {
                return Err(ConfigError::Busy {
                    message: format!(
                        "output folder `{}` is in use by run {} (pid {}, started {}); wait for it with `--wait SECONDS`, or choose another `--out`",
                        out.display(),
                        h.run_id,
                        h.pid,
                        h.started_at.format("%Y-%m-%d %H:%M:%SZ")
                    ),
                }
                .into());
            }
            // Being written right now, or unreadable: look again shortly.
            None if Instant::now() < deadline + Duration::from_secs(1) => {
                std::thread::sleep(Duration::from_millis(100));
            }
            None => {
                return Err(ConfigError::Busy {
                    message: format!(
                        "output folder `{}` has a lock file `{}` that cannot be read; remove it if no run is active",
                        out.display(),
                        path.display()
                    ),
                }
                .into());
            }
        }
    }
}
