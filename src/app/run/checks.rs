//! The check gate: the pipeline's declared checks run on every finished table before anything is
//! staged, and the cross-source comparisons; a failure of error severity stops the run, with the
//! failing rows written beside the failed run's manifest.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;
use tracing::{info, warn};

use super::prepare::Prepared;
use crate::app::manifest::InputRecord;
use crate::error::{Error, InternalError};
use crate::stages::check::{CheckContext, CheckRun, CheckStatus, run_checks};

/// Runs the pipeline's `[[checks]]` on the finished tables.
pub(crate) fn run_declared_checks(
    p: &Prepared,
    tables: &BTreeMap<&str, &DataFrame>,
    inputs: &[InputRecord],
    as_of: chrono::NaiveDate,
    strict: bool,
) -> Result<Vec<CheckRun>, Error> {
    let f = &p.pipeline.file;
    if p.pipeline.checks.is_empty() {
        return Ok(Vec::new());
    }
    let known_regions: std::collections::BTreeSet<String> =
        p.registry.regions().map(|r| r.code.clone()).collect();
    let counties: Vec<String> = p.crosswalk.members().keys().cloned().collect();
    let municipalities: Vec<String> = p.crosswalk.members().values().flatten().cloned().collect();
    let focus: Vec<String> = f.regions.focus.clone();
    let source_updated: BTreeMap<String, Option<chrono::NaiveDate>> = inputs
        .iter()
        .map(|i| (i.source.clone(), declared_update(i)))
        .collect();
    let ctx = CheckContext {
        known_regions: &known_regions,
        focus: &focus,
        counties: &counties,
        municipalities: &municipalities,
        years: &f.pipeline.years,
        as_of,
        source_updated: &source_updated,
    };
    let runs = run_checks(&p.pipeline.checks, tables, &ctx, strict)?;
    for r in &runs {
        let o = &r.outcome;
        match o.status {
            CheckStatus::Pass => info!(check = %o.name, "Check passed: {}", o.message),
            CheckStatus::Warn => {
                warn!(check = %o.name, rows = o.failing_rows, "Check failed (warning): {}", o.message);
            }
            CheckStatus::Fail => {
                warn!(check = %o.name, rows = o.failing_rows, "Check failed: {}", o.message);
            }
        }
    }
    Ok(runs)
}

/// The latest update date an input declares: JSON-stat `updated` of its datasets, Sotkanet
/// `data-updated` of its indicator metadata.
pub(crate) fn declared_update(input: &InputRecord) -> Option<chrono::NaiveDate> {
    let parse = |s: &str| chrono::NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok();
    input
        .datasets
        .iter()
        .filter_map(|d| d.updated.as_deref().and_then(parse))
        .chain(
            input
                .metadata
                .as_ref()
                .and_then(|m| m.get("data-updated"))
                .and_then(serde_json::Value::as_str)
                .and_then(parse),
        )
        .max()
}

/// Stops the run when a check failed: the failing rows go beside the failed run's manifest
/// (`_runs/<run_id>/quarantine/checks/<name>.parquet`), nothing is published.
pub(crate) fn gate(
    checks: &mut [CheckRun],
    out: &Path,
    run_id: &str,
    pipeline: &str,
) -> Result<Option<crate::error::CheckError>, InternalError> {
    if !checks.iter().any(|c| c.outcome.status == CheckStatus::Fail) {
        return Ok(None);
    }
    let mut failed = Vec::new();
    for c in checks.iter_mut() {
        if let (Some(rows), Some(contract)) = (&mut c.rows, &c.contract) {
            let rel = format!(
                "_runs/{run_id}/quarantine/checks/{}.parquet",
                c.outcome.name
            );
            let path = out.join(&rel);
            if let Some(dir) = path.parent() {
                fs_err::create_dir_all(dir).map_err(|e| crate::io::atomic::write_error(dir, e))?;
            }
            contract.check_frame(rows)?;
            crate::stages::publish::write_parquet(
                rows,
                &path,
                contract.parquet_metadata(run_id, pipeline),
            )?;
            c.outcome.quarantine = Some(rel);
        }
        if c.outcome.status == CheckStatus::Fail {
            failed.push(&c.outcome);
        }
    }
    let first = failed[0];
    let look = first.quarantine.as_ref().map_or_else(
        || format!("_runs/{run_id}.json"),
        |q| format!("{q} and _runs/{run_id}.json"),
    );
    let others = if failed.len() > 1 {
        format!(
            " ({} more failed: {})",
            failed.len() - 1,
            failed[1..]
                .iter()
                .map(|o| o.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        String::new()
    };
    let message = format!(
        "{}: {}{others}; nothing was published, the previous outputs are unchanged; see {} in `{}`",
        first.kind.name(),
        first.message,
        look,
        out.display()
    );
    Ok(Some(crate::error::CheckError {
        check: first.name.clone(),
        message,
        failed: failed.len(),
    }))
}

/// A cross-source comparison beyond its tolerance fails the run before anything is published.
pub(crate) fn check_crosschecks(
    results: &[crate::stages::derive::CrossCheckResult],
    config: &[crate::model::config::CrossCheckConfig],
) -> Result<(), Error> {
    for c in config {
        let name = &c.name;
        let mine: Vec<_> = results.iter().filter(|r| &r.check == name).collect();
        let bad: Vec<_> = mine.iter().filter(|r| r.status == "mismatch").collect();
        let compared = mine.iter().filter(|r| r.status != "not_comparable").count();
        info!(check = %name, compared, mismatches = bad.len(), "Cross-source check");
        if !bad.is_empty() {
            let examples: Vec<String> = bad
                .iter()
                .take(5)
                .map(|r| {
                    format!(
                        "{} {}: computed {} vs published {} (difference {})",
                        r.region,
                        r.year,
                        r.computed.unwrap_or_default(),
                        r.published.unwrap_or_default(),
                        r.difference.unwrap_or_default()
                    )
                })
                .collect();
            return Err(crate::error::CheckError {
                check: name.clone(),
                message: format!(
                    "{} of {compared} county and country figures summed from `{}/{}` differ from the published `{}/{}` by more than {}: {}{}; nothing was published",
                    bad.len(),
                    c.computed.dataset,
                    c.computed.measure,
                    c.published.dataset,
                    c.published.measure,
                    c.tolerance,
                    examples.join("; "),
                    if bad.len() > examples.len() { "; ..." } else { "" }
                ),
                failed: 1,
            }
            .into());
        }
    }
    Ok(())
}
