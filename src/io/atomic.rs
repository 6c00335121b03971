//! Atomic writes: a file is written beside its target under a temporary name, fsynced and renamed
//! into place, and the folder fsynced, so that a reader sees the old file or the new one, never
//! half of one, and a crash after the call cannot forget the rename. Every write error names its
//! path.

use std::io::Write;
use std::path::Path;

use crate::error::InternalError;

/// An output that could not be written or read back, naming its path.
pub(crate) fn write_error(
    path: &Path,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> InternalError {
    InternalError::Write {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

/// Writes bytes to `path` atomically: a temporary file beside it, fsync, rename, fsync folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), InternalError> {
    write_atomic_as(path, bytes, false)
}

/// [`write_atomic`] for a file only its owner may read (mode 0600 on Unix, from the moment it
/// exists): the raw archive's payloads.
pub fn write_atomic_private(path: &Path, bytes: &[u8]) -> Result<(), InternalError> {
    write_atomic_as(path, bytes, true)
}

/// Creates `dir` (and its parents) if needed; with `private`, a folder only its owner may open
/// (0700 on Unix), also when it already existed.
pub fn create_dir(dir: &Path, private: bool) -> Result<(), InternalError> {
    fs_err::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| write_error(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

/// Opens a new file for writing, readable by its owner only when `private` (0600 on Unix).
pub fn create_file(path: &Path, private: bool) -> std::io::Result<fs_err::File> {
    let mut options = fs_err::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use fs_err::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    options.open(path)
}

fn write_atomic_as(path: &Path, bytes: &[u8], private: bool) -> Result<(), InternalError> {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    // A temporary name of its own per call: two threads may write the same file at once (the
    // archive, when two sources read byte-identical files in one batch); each renames its own
    // complete copy into place.
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut f = create_file(&tmp, private)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs_err::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs_err::remove_file(&tmp);
    }
    result.map_err(|e| write_error(path, e))
}

pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    // Makes the renames themselves durable; without it a crash could forget them.
    fs_err::File::open(dir)?.sync_all()
}
