//! The output folder as a series of complete versions, one of which is current.
//!
//! ```text
//! <out>/.versions/<run_id>/          a published run's whole set of outputs, and its manifest
//! <out>/.versions/<run_id>.staging/  a run's set while it is written (with a marker file)
//! <out>/current -> .versions/<run_id>
//! <out>/indicators.parquet -> current/indicators.parquet     (one link per top-level name)
//! <out>/csv -> current/csv,  <out>/quarantine -> current/quarantine
//! <out>/_runs/                       manifests, history, state (a folder of its own)
//! ```
//!
//! A run writes its set into a staging folder, renames it to `.versions/<run_id>` and then
//! replaces the link `current` in one `rename`: that is the commit. Before it, every name in the
//! folder reads the previous run's set; after it, the new one; no instant, and no crash, shows a
//! mix. (A reader that opens several files while a run commits may still get one from each set:
//! to read one set for certain, resolve `current` once and read below what it names.) An output
//! whose content has not changed is hard-linked from the previous version, so it keeps its
//! inode and modification time.
//!
//! mittari deletes only what it made: in old versions the files their own manifest lists,
//! staging folders that hold its marker file, links that point into `current`, and (when it
//! first moves an older folder to this layout) files the previous run's state lists. It never
//! follows a link while deleting, and a name it did not write is moved aside with a warning, or
//! left, rather than removed.

use std::path::{Path, PathBuf};

use crate::error::InternalError;
use crate::io::atomic::{sync_dir, write_error};

/// The folder of versions.
pub(super) const VERSIONS: &str = ".versions";
/// The link to the current version.
pub(super) const CURRENT: &str = "current";
/// The marker file of a staging folder.
const MARKER: &str = ".mittari-staging";
/// The suffix of a staging folder.
const STAGING: &str = ".staging";

/// Whether `name` is a run id as mittari makes them (`20261206T053022Z-26602c`).
fn is_run_id(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 23
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && b[16] == b'-'
        && b[17..].iter().all(u8::is_ascii_hexdigit)
}

/// `<out>/.versions`, created if needed; an error if something else (a link, a file) has the
/// name.
pub(super) fn versions_dir(out: &Path) -> Result<PathBuf, InternalError> {
    let dir = out.join(VERSIONS);
    match fs_err::symlink_metadata(&dir) {
        Ok(m) if m.is_dir() => Ok(dir),
        Ok(_) => Err(write_error(
            &dir,
            "it is not a folder (mittari keeps its versions in a folder of its own and does not \
             follow a link there)",
        )),
        Err(_) => {
            crate::io::atomic::create_dir(&dir, false)?;
            Ok(dir)
        }
    }
}

/// Creates this run's staging folder with its marker.
pub(super) fn create_staging(out: &Path, run_id: &str) -> Result<PathBuf, InternalError> {
    let staging = versions_dir(out)?.join(format!("{run_id}{STAGING}"));
    crate::io::atomic::create_dir(&staging, false)?;
    crate::io::atomic::write_atomic(&staging.join(MARKER), run_id.as_bytes())?;
    Ok(staging)
}

/// The version `current` names, if it is a link into `.versions`.
pub fn current_version(out: &Path) -> Option<String> {
    let target = fs_err::read_link(out.join(CURRENT)).ok()?;
    let mut parts = target.components();
    let first = parts.next()?.as_os_str().to_str()?;
    let name = parts.next()?.as_os_str().to_str()?;
    (first == VERSIONS && parts.next().is_none() && is_run_id(name)).then(|| name.to_owned())
}

/// Removes the staging folders of runs killed before they committed (call it holding the output
/// folder's lock): only folders named like a run's staging that hold mittari's marker file.
pub fn clear_stale_staging(out: &Path) {
    let Ok(dir) = versions_dir(out) else { return };
    let Ok(entries) = fs_err::read_dir(&dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(STAGING) else {
            continue;
        };
        let path = e.path();
        let ours = is_run_id(id)
            && fs_err::symlink_metadata(&path).is_ok_and(|m| m.is_dir())
            && fs_err::symlink_metadata(path.join(MARKER)).is_ok_and(|m| m.is_file());
        if ours {
            tracing::info!(folder = %path.display(), "Removing a killed run's staging folder");
            // `remove_dir_all` does not follow links inside the folder.
            let _ = fs_err::remove_dir_all(&path);
        }
    }
}

/// Renames the staging folder to the version's own name.
pub(super) fn seal(staging: &Path, out: &Path, run_id: &str) -> Result<PathBuf, InternalError> {
    let _ = fs_err::remove_file(staging.join(MARKER));
    let version = out.join(VERSIONS).join(run_id);
    fs_err::rename(staging, &version).map_err(|e| write_error(&version, e))?;
    let versions = out.join(VERSIONS);
    sync_dir(&versions).map_err(|e| write_error(&versions, e))?;
    Ok(version)
}

/// Points `current` at the version `run_id`, in one rename: the commit.
pub(super) fn swap(out: &Path, run_id: &str) -> Result<(), InternalError> {
    let link = out.join(format!(".{CURRENT}-{run_id}"));
    let _ = fs_err::remove_file(&link);
    std::os::unix::fs::symlink(Path::new(VERSIONS).join(run_id), &link)
        .map_err(|e| write_error(&link, e))?;
    let current = out.join(CURRENT);
    if fs_err::symlink_metadata(&current).is_ok_and(|m| !m.file_type().is_symlink()) {
        return Err(write_error(
            &current,
            "it is not mittari's link to the current version; rename or remove it",
        ));
    }
    fs_err::rename(&link, &current).map_err(|e| write_error(&current, e))?;
    sync_dir(out).map_err(|e| write_error(out, e))
}

/// What the top-level link of `name` points at.
fn link_target(name: &str) -> PathBuf {
    Path::new(CURRENT).join(name)
}

/// Makes every top-level name of the version a link through `current`, and removes mittari's
/// links to names the version no longer has. A name held by a real file or folder is replaced
/// when every file in it is one that `listed` says the previous run wrote (a folder of the
/// layout before versions); anything else is moved aside to `<name>.kept-<run_id>` with a
/// warning. Returns the names moved aside.
pub(super) fn link_names(
    out: &Path,
    version: &Path,
    run_id: &str,
    listed: &dyn Fn(&str) -> bool,
) -> Result<Vec<String>, InternalError> {
    let mut names = Vec::new();
    for e in fs_err::read_dir(version)
        .map_err(|e| write_error(version, e))?
        .filter_map(Result::ok)
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name != "manifest.json" {
            names.push(name);
        }
    }
    let mut moved = Vec::new();
    for name in &names {
        let path = out.join(name);
        let target = link_target(name);
        match fs_err::symlink_metadata(&path) {
            Err(_) => {}
            Ok(m) if m.file_type().is_symlink() => {
                if fs_err::read_link(&path).is_ok_and(|t| t == target) {
                    continue;
                }
            }
            Ok(m) => {
                if !only_listed(out, name, &m, listed) {
                    let aside = out.join(format!("{name}.kept-{run_id}"));
                    fs_err::rename(&path, &aside).map_err(|e| write_error(&aside, e))?;
                    tracing::warn!(
                        "`{}` held files mittari did not write: moved to `{}`",
                        path.display(),
                        aside.display()
                    );
                    moved.push(aside.display().to_string());
                } else if m.is_dir() {
                    fs_err::remove_dir_all(&path).map_err(|e| write_error(&path, e))?;
                }
            }
        }
        // A new link beside the name, renamed over it: a file of the old layout is replaced in
        // one step.
        let fresh = out.join(format!(".{name}.link-{run_id}"));
        let _ = fs_err::remove_file(&fresh);
        std::os::unix::fs::symlink(&target, &fresh).map_err(|e| write_error(&fresh, e))?;
        fs_err::rename(&fresh, &path).map_err(|e| write_error(&path, e))?;
    }
    // mittari's links to names this version does not have would dangle.
    for e in fs_err::read_dir(out)
        .map_err(|e| write_error(out, e))?
        .filter_map(Result::ok)
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if names.contains(&name) {
            continue;
        }
        if fs_err::read_link(e.path()).is_ok_and(|t| t == link_target(&name)) {
            fs_err::remove_file(e.path()).map_err(|err| write_error(&e.path(), err))?;
        }
    }
    sync_dir(out).map_err(|e| write_error(out, e))?;
    Ok(moved)
}

/// Whether a real file or folder at a top-level name holds only files the previous run wrote.
fn only_listed(
    out: &Path,
    name: &str,
    m: &std::fs::Metadata,
    listed: &dyn Fn(&str) -> bool,
) -> bool {
    if m.is_file() {
        return listed(name);
    }
    let mut stack = vec![out.join(name)];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs_err::read_dir(&dir) else {
            return false;
        };
        for e in entries.filter_map(Result::ok) {
            let path = e.path();
            let Ok(meta) = fs_err::symlink_metadata(&path) else {
                return false;
            };
            let relative = path
                .strip_prefix(out)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            if meta.is_dir() {
                stack.push(path);
            } else if !meta.is_file() || !listed(&relative) {
                return false;
            }
        }
    }
    true
}

/// Removes versions other than `keep` (the current one and the one before it): in folders named
/// like run ids (never through a link), the files their own `manifest.json` lists and the
/// manifest, then the folders left empty. A version holding anything else stays, with a warning.
pub(super) fn remove_old(out: &Path, keep: &[&str]) -> Result<(), InternalError> {
    let dir = out.join(VERSIONS);
    for e in fs_err::read_dir(&dir)
        .map_err(|e| write_error(&dir, e))?
        .filter_map(Result::ok)
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let version = e.path();
        if !is_run_id(&name)
            || keep.contains(&name.as_str())
            || !fs_err::symlink_metadata(&version).is_ok_and(|m| m.is_dir())
        {
            continue;
        }
        let manifest = version.join("manifest.json");
        let listed: Vec<String> = fs_err::read(&manifest)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|m| {
                m["outputs"].as_array().map(|outputs| {
                    outputs
                        .iter()
                        .filter_map(|o| o["path"].as_str().map(str::to_owned))
                        .collect()
                })
            })
            .unwrap_or_default();
        for relative in &listed {
            let path = version.join(relative);
            // Only a regular file inside the version (`..` in a path is not followed).
            let inside = !relative.split('/').any(|p| p == ".." || p.is_empty());
            if inside && fs_err::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                fs_err::remove_file(&path).map_err(|e| write_error(&path, e))?;
            }
        }
        let _ = fs_err::remove_file(&manifest);
        remove_empty_dirs(&version);
        if version.exists() {
            tracing::warn!(
                folder = %version.display(),
                "An old version holds files mittari did not write: kept"
            );
        }
    }
    Ok(())
}

/// Removes the folders below `dir`, and `dir`, that are empty (bottom up); never follows a link.
fn remove_empty_dirs(dir: &Path) {
    if let Ok(entries) = fs_err::read_dir(dir) {
        for e in entries.filter_map(Result::ok) {
            if fs_err::symlink_metadata(e.path()).is_ok_and(|m| m.is_dir()) {
                remove_empty_dirs(&e.path());
            }
        }
    }
    // Fails, and so keeps the folder, unless it is empty.
    let _ = fs_err::remove_dir(dir);
}

/// A fault injected at a step of the commit, for the tests that prove every step safe: with
/// `MITTARI_FAULT=<step>` the step fails, with `MITTARI_FAULT=<step>:kill` the process is
/// killed there (SIGKILL). Only in debug builds: a release binary ignores the variable.
pub(super) fn fault(step: &str) -> Result<(), InternalError> {
    #[cfg(debug_assertions)]
    if let Ok(spec) = std::env::var("MITTARI_FAULT") {
        let (at, how) = spec.split_once(':').unwrap_or((spec.as_str(), "fail"));
        if at == step {
            if how == "kill" {
                let _ = signal_hook::low_level::raise(signal_hook::consts::SIGKILL);
            }
            return Err(InternalError::Invariant(format!(
                "fault injected at `{step}` (MITTARI_FAULT)"
            )));
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_recognised() {
        assert!(is_run_id("20261206T053022Z-26602c"));
        for not in [
            "20261206T053022Z-26602",
            "x0261206T053022Z-26602c",
            "..",
            "current",
            "",
        ] {
            assert!(!is_run_id(not), "{not}");
        }
    }
}
