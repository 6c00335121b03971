//! Helpers every layer may use, depending only on [`crate::error`]: atomic file writes, sha256
//! hashing, reading Parquet files back, reading workbooks and delimited text, and the thread
//! helper that maps work over the cores.

pub mod atomic;
pub mod hash;
pub mod parallel;
pub mod parquet;
pub mod tabular;

use std::path::Path;
use std::time::UNIX_EPOCH;

/// A file's size and modification time (nanoseconds since 1970, 0 where the file system keeps
/// none); `None` when it cannot be read. What incremental reruns compare before hashing.
pub fn file_stat(path: &Path) -> Option<(u64, u64)> {
    let m = fs_err::metadata(path).ok()?;
    let modified = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    Some((m.len(), modified))
}

/// A file of this repository, for unit tests. `CARGO_MANIFEST_DIR` is read when the test runs
/// (cargo sets it then) rather than as compiled in: a test binary reused from a shared target
/// folder may have been built from another checkout.
#[cfg(test)]
pub(crate) fn repo_file(relative: &str) -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(
            || env!("CARGO_MANIFEST_DIR").into(),
            std::path::PathBuf::from,
        )
        .join(relative)
}

/// Opens an input file for reading, refusing anything but a regular file (or a link to one): a
/// FIFO would block the run forever while it holds the output folder's lock, and a device such as
/// `/dev/zero` would never end.
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let metadata = fs_err::metadata(path)?;
    if !metadata.is_file() {
        let kind = if metadata.is_dir() {
            "a folder"
        } else {
            "a FIFO, socket or device"
        };
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("it is {kind}, not a regular file; mittari reads regular files only"),
        ));
    }
    fs_err::File::open(path).map(|f| f.into_parts().0)
}

/// Reads an input file whole; see [`open_regular`].
pub fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    open_regular(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}
