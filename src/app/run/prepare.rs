//! A pipeline loaded for a run or for `validate`: the checked pipeline, the region registry and
//! the crosswalk of its reference year, and a record of every local file read (for the run
//! state, see [`crate::app::state`]).

use std::path::{Path, PathBuf};

use crate::archive::Payload;
use crate::error::{Error, SourceError};
use crate::model::config::Pipeline;
use crate::model::regions::{Crosswalk, Registry};
use crate::stages::extract::read_file;

/// A pipeline checked against the registry, ready to run.
pub struct Prepared {
    /// The pipeline.
    pub pipeline: Pipeline,
    /// The registry.
    pub registry: Registry,
    /// The reference year's crosswalk.
    pub crosswalk: Crosswalk,
    /// The run's as-of date (`None` for `validate`, which plans a run of any day).
    pub as_of: Option<chrono::NaiveDate>,
    /// Every local file read so far, for the run state.
    reads: std::sync::Mutex<Vec<crate::app::state::FileDep>>,
}

impl Prepared {
    /// Reads a local input file, recording it for the run state (see [`crate::app::state`]).
    pub(crate) fn read(&self, source_id: &str, path: &Path) -> Result<Payload, SourceError> {
        // Metadata first: a change while reading then shows as a change next time.
        let stat = crate::io::file_stat(path);
        let payload = read_file(source_id, path)?;
        if let Some((bytes, modified_ns)) = stat
            && let Ok(mut reads) = self.reads.lock()
        {
            reads.push(crate::app::state::FileDep {
                path: absolute(path).display().to_string(),
                bytes,
                modified_ns,
                sha256: payload.sha256.clone(),
            });
        }
        Ok(payload)
    }

    pub(crate) fn files_read(&self) -> Vec<crate::app::state::FileDep> {
        let mut files = self.reads.lock().map(|r| r.clone()).unwrap_or_default();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup();
        files
    }
}

/// Loads a pipeline and checks what needs the registry: reference year and focus regions.
pub fn prepare(path: &Path) -> Result<Prepared, Error> {
    let pipeline = Pipeline::load(path)?;
    let registry = Registry::builtin()?;
    let meta = &pipeline.file.pipeline;
    let crosswalk = registry.crosswalk(meta.reference_year).map_err(|m| {
        pipeline.error_at_key(
            "pipeline.reference_year",
            format!("`pipeline.reference_year`: {m}"),
        )
    })?;
    let peers = pipeline.file.comparison.iter().flat_map(|c| {
        c.peers
            .iter()
            .enumerate()
            .map(|(i, p)| ("peer", format!("comparison.peers.{i}"), p))
    });
    let focus = pipeline.file.regions.focus.iter().enumerate();
    let focus = focus.map(|(i, f)| ("focus", format!("regions.focus.{i}"), f));
    // The region a region's own file is about: a code the registry does not know would publish
    // figures for a region that does not exist.
    let file = &pipeline.file;
    let own = file
        .sources
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some(("source", format!("sources.{i}.region"), s.region.as_ref()?)))
        .chain(
            file.surveys
                .iter()
                .enumerate()
                .map(|(i, s)| ("survey", format!("surveys.{i}.region"), &s.region)),
        )
        .chain(
            file.roadmaps
                .iter()
                .enumerate()
                .map(|(i, r)| ("roadmap", format!("roadmaps.{i}.region"), &r.region)),
        );
    for (what, key, f) in focus.chain(peers).chain(own) {
        if registry.get(f).is_none() {
            return Err(pipeline
                .error_at_key(
                    &key,
                    format!("{what} region `{f}` is not in the region registry (codes look like `HVA12`, `KU740`, `SSS`)"),
                )
                .into());
        }
    }
    Ok(Prepared {
        pipeline,
        registry,
        crosswalk,
        as_of: None,
        reads: std::sync::Mutex::default(),
    })
}

pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
