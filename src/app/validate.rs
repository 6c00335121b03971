//! `mittari validate`: the pipeline parsed and checked, every input file read and decoded, and the
//! plan printed (sources, the requests live sources will send, regions, years, indicators,
//! outputs), without writing anything or touching the network.

use std::collections::HashMap;
use std::path::Path;

use crate::app::run::output_target;
use crate::app::run::prepare::prepare;
use crate::app::run::sources::{Mode, planned_requests, read_and_decode};
use crate::error::Error;
use crate::model::config::SourceFormat;

/// The plan `mittari validate` prints.
pub fn validate(path: &Path) -> Result<Vec<String>, Error> {
    let p = prepare(path)?;
    let f = &p.pipeline.file;
    let meta = &f.pipeline;
    let (sources, region_payloads) = read_and_decode(&p, Mode::Plan)?;
    let mut lines = vec![
        format!(
            "pipeline `{}` ({}, sha256 {})",
            meta.name,
            p.pipeline.path.display(),
            &p.pipeline.sha256[..12]
        ),
        format!(
            "reference year {}: {} municipalities in {} counties",
            meta.reference_year,
            p.crosswalk.municipality_count(),
            p.crosswalk.members().len()
        ),
        format!(
            "years: {}",
            meta.years
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "focus regions:".to_owned(),
    ];
    for code in &f.regions.focus {
        if let Some(r) = p.registry.get(code) {
            lines.push(format!("  {} {} ({})", r.code, r.name_fi, r.name_en));
        }
    }
    lines.push("sources:".to_owned());
    for s in &sources {
        let label = format!(
            "  {} [{}{}] {}",
            s.config.id,
            s.config.format.name(),
            s.config
                .dataset
                .as_ref()
                .map(|d| format!(" {d}"))
                .unwrap_or_default(),
            s.origin,
        );
        if let Some(fetch) = &s.config.fetch {
            lines.push(format!(
                "{label}: not fetched by `validate`; `run` will send:"
            ));
            lines.extend(
                planned_requests(&p, s.config, fetch)
                    .into_iter()
                    .map(|r| format!("    {r}")),
            );
            continue;
        }
        let detail = if s.config.format == SourceFormat::SotkanetRegions {
            format!(
                "{} regions",
                region_payloads.get(&s.config.id).map_or(0, HashMap::len)
            )
        } else {
            let rows: usize = s.parts.iter().map(|(_, d)| d.resolved.len()).sum::<usize>()
                + s.kpa.iter().map(|(_, rows)| rows.len()).sum::<usize>();
            let q: usize = s.parts.iter().map(|(_, d)| d.quarantine.len()).sum();
            format!("{rows} rows, {q} quarantined")
        };
        let (bytes, sha) = s
            .payloads
            .first()
            .zip(s.sizes.first())
            .map_or((0, ""), |(sp, n)| (*n, &sp.payload.sha256[..12]));
        lines.push(format!("{label} ({bytes} bytes, sha256 {sha}): {detail}"));
    }
    lines.push("indicators:".to_owned());
    for ind in &f.indicators {
        let measure = |d: &crate::model::config::MeasureRef| {
            format!("{}/{}.{}", d.dataset, d.measure, d.field.column())
        };
        let den = match (&ind.denominator, &ind.weight) {
            (Some(d), _) => format!(" / {}", measure(d)),
            (None, Some(w)) => format!(" weighted by {}", measure(w)),
            (None, None) => String::new(),
        };
        lines.push(format!(
            "  {} [{:?}] {}/{}.{}{den} × {} ({}): {}",
            ind.id,
            ind.aggregation,
            ind.numerator.dataset,
            ind.numerator.measure,
            ind.numerator.field.column(),
            ind.scale,
            ind.unit,
            ind.title_en
        ));
    }
    if let Some(c) = &p.pipeline.catalogue {
        lines.push(format!(
            "catalogue {} version {} (sha256 {}): {} indicators derived (listed above), {} skipped{}",
            c.path.display(),
            c.version,
            &c.sha256[..12],
            c.used.len(),
            c.skipped.len(),
            if c.skipped.is_empty() {
                String::new()
            } else {
                format!(
                    ": {}",
                    c.skipped
                        .iter()
                        .map(|(id, why)| format!("{id} ({why})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
    }
    if let Some(pop) = &f.population {
        lines.push(format!(
            "population structure from {}/{} ({}): bands {}; changes over {} years{}",
            pop.dataset,
            pop.measure,
            pop.sex,
            pop.bands
                .iter()
                .map(|b| crate::stages::derive::population::band_label(b))
                .collect::<Vec<_>>()
                .join(", "),
            pop.changes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            pop.projection
                .as_ref()
                .map(|p| format!("; projection {}/{}", p.dataset, p.measure))
                .unwrap_or_default()
        ));
    }
    for c in &f.crosschecks {
        lines.push(format!(
            "cross-check {}: {}/{} summed from municipalities = published {}/{} (tolerance {})",
            c.name,
            c.computed.dataset,
            c.computed.measure,
            c.published.dataset,
            c.published.measure,
            c.tolerance
        ));
    }
    for c in &p.pipeline.checks {
        let scope = match (&c.table, &c.source) {
            (Some(t), _) => format!("on `{t}`"),
            (None, Some(s)) => format!("on source `{s}`"),
            (None, None) => String::new(),
        };
        lines.push(format!(
            "check {} ({}): {} {scope}",
            c.name,
            c.severity.name(),
            c.kind.name()
        ));
    }
    let out = output_target(&p.pipeline, None);
    lines.push(format!(
        "outputs in {}: observations, regions, crosswalk, mergers, indicators, reconciliation, indicator_catalogue, comparisons, region_profile, quarantine/observations, quarantine/indicators{}",
        out.display(),
        if f.output.csv { " (+ CSV twins under csv/)" } else { "" }
    ));
    lines.push("nothing written".to_owned());
    Ok(lines)
}

/// `validate --format json`: the plan as one object — the pipeline, the regions and years, each
/// source (its file with rows and quarantine counts, or the requests a run will send), the
/// indicators, the checks and the outputs — after the same checks as [`validate`].
pub fn validate_json(path: &Path) -> Result<serde_json::Value, Error> {
    use serde_json::json;
    let p = prepare(path)?;
    let f = &p.pipeline.file;
    let meta = &f.pipeline;
    let (sources, region_payloads) = read_and_decode(&p, Mode::Plan)?;
    let sources: Vec<serde_json::Value> = sources
        .iter()
        .map(|s| {
            let mut o = json!({
                "id": s.config.id,
                "format": s.config.format.name(),
                "dataset": s.config.dataset,
                "origin": s.origin,
            });
            if let Some(fetch) = &s.config.fetch {
                o["requests"] = json!(planned_requests(&p, s.config, fetch));
            } else if s.config.format == SourceFormat::SotkanetRegions {
                o["regions"] = json!(region_payloads.get(&s.config.id).map_or(0, HashMap::len));
            } else {
                let rows: usize = s.parts.iter().map(|(_, d)| d.resolved.len()).sum::<usize>()
                    + s.kpa.iter().map(|(_, rows)| rows.len()).sum::<usize>();
                let quarantined: usize = s.parts.iter().map(|(_, d)| d.quarantine.len()).sum();
                o["rows"] = json!(rows);
                o["quarantined"] = json!(quarantined);
                o["sha256"] = json!(s.payloads.first().map(|sp| sp.payload.sha256.clone()));
            }
            o
        })
        .collect();
    let indicators: Vec<serde_json::Value> = f
        .indicators
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "aggregation": format!("{:?}", i.aggregation).to_lowercase(),
                "unit": i.unit,
                "title_fi": i.title_fi,
                "title_en": i.title_en,
                "numerator": format!("{}/{}.{}", i.numerator.dataset, i.numerator.measure, i.numerator.field.column()),
            })
        })
        .collect();
    let checks: Vec<serde_json::Value> = p
        .pipeline
        .checks
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "kind": c.kind.name(),
                "severity": c.severity.name(),
                "table": c.table,
            })
        })
        .collect();
    Ok(json!({
        "pipeline": {
            "name": meta.name,
            "path": p.pipeline.path.display().to_string(),
            "sha256": p.pipeline.sha256,
        },
        "reference_year": meta.reference_year,
        "years": meta.years,
        "focus": f.regions.focus,
        "sources": sources,
        "indicators": indicators,
        "checks": checks,
        "output": {
            "dir": output_target(&p.pipeline, None).display().to_string(),
            "csv": f.output.csv,
        },
        "written": false,
    }))
}
