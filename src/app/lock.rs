//! One run at a time per output folder, by an advisory file lock.
//!
//! A run opens `<out>/.mittari.lock` (creating it when missing) and takes an exclusive lock on it
//! with the standard library's `File::try_lock` (`flock` on Unix, `LockFileEx` on Windows). The
//! operating system releases that lock when the process ends, however it ends, so a lock left by
//! a killed run, a reboot or a container restart (where the next run may even get the same pid)
//! is never mistaken for a live one: nothing here reads a pid to decide. The file itself stays
//! in place between runs; while held it names the holder's run id, pid and start time (emptied
//! on release), which is only information: for the message a second run prints, and for the log
//! line of a run that finds the file naming a run which died holding it.
//!
//! A second run on the same folder waits up to `--wait` seconds, then stops with a message naming
//! the holder (exit 5, its own code: retrying later is safe). After taking the lock, a run checks that the path still names the file it
//! locked (the folder's first run removes the file and the folder again when it leaves nothing
//! else behind); if not, it opens the new file and tries again, so two runs can never hold locks
//! on two different files of one folder.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::error::{ConfigError, Error, InternalError};
use crate::io::atomic::write_error;

/// What a held lock file says about its holder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// The run.
    pub run_id: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

/// A held lock; released on drop (and by the operating system if the process dies).
#[derive(Debug)]
pub struct OutputLock {
    file: fs_err::File,
    path: PathBuf,
    /// The folder, when taking the lock created it (removed again if the run left it empty).
    created: Option<PathBuf>,
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        if let Some(dir) = &self.created {
            // A failed first run leaves no folder behind. The file goes while still locked;
            // a run that opened it meanwhile finds the path changed and opens a new one.
            let only_the_lock = fs_err::read_dir(dir)
                .is_ok_and(|d| d.filter_map(Result::ok).all(|e| e.path() == self.path));
            if only_the_lock {
                let _ = fs_err::remove_file(&self.path);
                let _ = fs_err::remove_dir(dir);
            }
        }
        // Emptied on release: a lock file that names a run when its lock is free was left by a
        // run that died while holding it.
        let _ = self.file.set_len(0);
        let _ = self.file.file().unlock();
    }
}

/// Whether `path` still names the file `file` has open.
#[cfg(unix)]
fn same_file(file: &fs_err::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs_err::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &fs_err::File, path: &Path) -> bool {
    path.exists()
}

fn read_holder(file: &mut fs_err::File) -> Option<Holder> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// Takes the lock of `out` for `run_id`, waiting up to `wait` for another run to finish.
pub fn acquire(out: &Path, run_id: &str, wait: Duration) -> Result<OutputLock, Error> {
    let created = (!out.exists()).then(|| out.to_path_buf());
    fs_err::create_dir_all(out).map_err(|e| write_error(out, e))?;
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
        let mut file = fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| write_error(&path, e))?;
        match file.file().try_lock() {
            Ok(()) if same_file(&file, &path) => {
                if let Some(earlier) = read_holder(&mut file) {
                    info!(run_id = %earlier.run_id, pid = earlier.pid, "The lock file names an earlier run that is no longer running; taking the lock");
                }
                let write = |f: &mut fs_err::File| -> std::io::Result<()> {
                    f.set_len(0)?;
                    f.rewind()?;
                    f.write_all(text.as_bytes())?;
                    f.sync_all()
                };
                write(&mut file).map_err(|e| write_error(&path, e))?;
                return Ok(OutputLock {
                    file,
                    path,
                    created,
                });
            }
            // The path was removed or replaced after it was opened: open it again.
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = read_holder(&mut file);
                if Instant::now() >= deadline {
                    let who = holder.map_or_else(
                        || "another run".to_owned(),
                        |h| {
                            format!(
                                "run {} (pid {}, started {})",
                                h.run_id,
                                h.pid,
                                h.started_at.format("%Y-%m-%d %H:%M:%SZ")
                            )
                        },
                    );
                    return Err(ConfigError::Busy {
                        message: format!(
                            "output folder `{}` is in use by {who}; wait for it with `--wait SECONDS`, or choose another `--out`",
                            out.display()
                        ),
                    }
                    .into());
                }
                if !said_waiting {
                    let (pid, run) = holder.map_or((0, String::new()), |h| (h.pid, h.run_id));
                    info!(pid, run_id = %run, "Waiting for another run on this output folder");
                    said_waiting = true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(write_error(&path, e).into()),
        }
    }
}
