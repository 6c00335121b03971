//! The report of a run whose pipeline has `[report]`: the tables handed to
//! [`crate::stages::report`], with the run's sources as the report credits them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use polars::prelude::DataFrame;

use super::prepare::Prepared;
use super::tables::Table;
use crate::app::manifest::{Credit, InputRecord};
use crate::error::Error;
use crate::stages::report::{Lang, ReportFile, ReportInput, SourceLine, build};

/// The licence a producer publishes its open data under, where mittari knows it (THL and
/// Statistics Finland: CC BY 4.0).
fn licence(producer: &str) -> Option<String> {
    let p = producer.to_lowercase();
    let open = crate::app::indicators::names_thl(producer)
        || p.contains("tilastokeskus")
        || p.contains("statistics finland")
        || p.contains("statistikcentralen");
    open.then(|| "CC BY 4.0".to_owned())
}

/// The sources as the report lists them: one line per input with observations.
fn sources(inputs: &[InputRecord], credits: &[Credit]) -> Vec<SourceLine> {
    inputs
        .iter()
        .filter_map(|i| {
            let dataset = i.dataset.clone()?;
            let credit = credits.iter().find(|c| c.datasets.contains(&dataset));
            let producer = credit.map_or_else(|| i.source.clone(), |c| c.producer.clone());
            let updated = i.datasets.iter().find_map(|d| d.updated.clone());
            let retrieved = i.payloads.iter().map(|p| p.retrieved_at).max();
            Some(SourceLine {
                source: i.source.clone(),
                licence: licence(&producer),
                producer,
                via: credit.map_or_else(String::new, |c| c.via.clone()),
                datasets: vec![dataset],
                date: updated
                    .map(|u| u.chars().take(10).collect())
                    .or_else(|| retrieved.map(|r| r.format("%Y-%m-%d").to_string())),
                synthetic: i.synthetic,
            })
        })
        .collect()
}

/// The report's files, or none when the pipeline has no `[report]`.
pub(crate) fn files(
    p: &Prepared,
    tables: &[Table],
    inputs: &[InputRecord],
    credits: &[Credit],
    run_id: &str,
    started_at: DateTime<Utc>,
) -> Result<Vec<ReportFile>, Error> {
    let f = &p.pipeline.file;
    let Some(cfg) = &f.report else {
        return Ok(Vec::new());
    };
    let languages: Vec<Lang> = cfg.languages.iter().filter_map(|l| Lang::of(l)).collect();
    let by_name: BTreeMap<&str, &DataFrame> = tables
        .iter()
        .filter(|t| t.contract != "quarantine")
        .map(|t| (t.path, &t.frame))
        .collect();
    let peers = f
        .comparison
        .as_ref()
        .map_or_else(|| f.regions.focus.clone(), |c| c.peers.clone());
    let sources = sources(inputs, credits);
    let input = ReportInput {
        pipeline: &f.pipeline.name,
        run_id,
        date: started_at.format("%Y-%m-%d").to_string(),
        languages: &languages,
        focus: &f.regions.focus,
        peers: &peers,
        need_indicator: p.pipeline.need_indicator(),
        registry: &p.registry,
        tables: &by_name,
        sources: &sources,
        population: f
            .population
            .as_ref()
            .map(|pop| (pop.dataset.as_str(), pop.measure.as_str())),
    };
    Ok(build(&input)?)
}
