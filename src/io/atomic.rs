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
        let mut f = fs_err::File::create(&tmp)?;
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
