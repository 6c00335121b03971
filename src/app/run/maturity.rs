//! The inputs of the assess stage: survey exports and roadmap workbooks read and scored, and the
//! evidence from the run's own tables (indicator values, breakdowns, cost figures, cross-source
//! checks) that the data signals are computed from.

use std::collections::HashMap;

use polars::prelude::*;
use tracing::{info, warn};

use super::new_run_id;
use super::prepare::Prepared;
use super::tables::Table;
use crate::archive::Archive;
use crate::error::{Error, InternalError, PolarsContext};
use crate::model::quarantine::QuarantineEntry;
use crate::model::quarantine::quarantine_frame;
use crate::stages::normalize::DecodeContext;

/// The maturity tables of a run.
pub(crate) struct Maturity {
    pub(crate) overall: DataFrame,
    pub(crate) signals: DataFrame,
    pub(crate) responses: DataFrame,
    pub(crate) roles: DataFrame,
    pub(crate) dimensions: DataFrame,
    pub(crate) params: DataFrame,
    pub(crate) quarantine: DataFrame,
    pub(crate) roadmap: Option<(DataFrame, DataFrame, DataFrame)>,
    /// Surveys that gave no answers.
    pub(crate) warnings: Vec<String>,
    /// The survey and roadmap files read.
    pub(crate) inputs: Vec<crate::app::manifest::LocalFileRecord>,
}

/// A local file's record for the manifest.
fn local_record(
    id: &str,
    path: &std::path::Path,
    payload: &crate::archive::Payload,
) -> crate::app::manifest::LocalFileRecord {
    crate::app::manifest::LocalFileRecord {
        source: id.to_owned(),
        path: path.display().to_string(),
        sha256: payload.sha256.clone(),
        bytes: payload.bytes.len() as u64,
    }
}

impl Maturity {
    /// The maturity and roadmap tables, in the order they are staged, their quarantine last.
    pub(crate) fn into_tables(self) -> Vec<Table> {
        let mut out = vec![
            Table::new("maturity_responses", self.responses),
            Table::new("maturity_role_scores", self.roles),
            Table::new("maturity_signals", self.signals),
            Table::new("maturity_overall", self.overall),
            Table::new("maturity_dimension_scores", self.dimensions),
            Table::new("maturity_method_params", self.params),
        ];
        if let Some((actions, milestones, progress)) = self.roadmap {
            out.extend([
                Table::new("roadmap_actions", actions),
                Table::new("roadmap_milestones", milestones),
                Table::new("roadmap_progress", progress),
            ]);
        }
        out.push(Table::quarantine("quarantine/maturity", self.quarantine));
        out
    }
}

/// What the data signals read from the run.
pub(crate) struct Evidence<'a> {
    pub(crate) indicators: &'a DataFrame,
    pub(crate) observations: &'a DataFrame,
    pub(crate) kpa: Option<&'a DataFrame>,
    pub(crate) crosschecks: &'a [crate::stages::derive::CrossCheckResult],
}

/// Reads every survey export and roadmap (archiving them), scores them per region and round, and
/// computes the data signals from the run's own tables.
pub(crate) fn assess(
    p: &Prepared,
    archive: &Archive,
    run_id: &str,
    as_of: chrono::NaiveDate,
    evidence: &Evidence<'_>,
) -> Result<Option<Maturity>, Error> {
    use crate::io::tabular::{Encoding, rows_of, workbook};
    use crate::stages::assess::Params;
    use crate::stages::assess::{aggregate, roadmap, survey, tables};
    let surveys = &p.pipeline.file.surveys;
    if surveys.is_empty() && p.pipeline.file.roadmaps.is_empty() {
        return Ok(None);
    }
    let salt = std::env::var(crate::env_vars::MITTARI_SURVEY_SALT)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            warn!(
                "{} is not set: respondent keys are salted with a random value and differ between runs",
                crate::env_vars::MITTARI_SURVEY_SALT
            );
            crate::io::hash::sha256_hex(new_run_id().as_bytes())
        });
    let params = Params::default();
    let mut answers = Vec::new();
    let mut quarantine = Vec::new();
    let mut dims = Vec::new();
    let mut roles = Vec::new();
    let mut warnings = Vec::new();
    // Survey and roadmap files are recorded by their sha256, never copied into the archive.
    let mut inputs = Vec::new();
    for sv in surveys {
        let id = &sv.id;
        let map_path = p.pipeline.resolve(&sv.question_map);
        let map_payload = p.read(id, &map_path)?;
        let map_file = map_path.display().to_string();
        let map = survey::read_question_map(
            &rows_of(&map_payload.bytes, &map_file, Encoding::Auto, None)?,
            &map_file,
        )?;
        let path = p.pipeline.resolve(&sv.path);
        let payload = p.read(id, &path)?;
        let file = path.display().to_string();
        inputs.push(local_record(id, &path, &payload));
        let rows = rows_of(&payload.bytes, &file, sv.encoding, None)?;
        let ctx = DecodeContext {
            source_id: id.clone(),
            dataset: String::new(),
            file: file.clone(),
            raw_sha256: payload.sha256.clone(),
            unit: None,
            latest_year: None,
        };
        let reject =
            |location, rule, reason, record| ctx.quarantine(location, rule, reason, record);
        let (got, rejected, (d, r)) = if sv.granularity
            == crate::model::config::Granularity::Aggregated
        {
            let (freqs, rejected) = survey::read_frequencies(&rows, &map, &file, &reject)?;
            info!(survey = %id, cells = freqs.len(), quarantined = rejected.len(), "Read aggregated survey");
            let scores = crate::stages::assess::aggregate_frequencies(
                &sv.region, &sv.round, &freqs, &params,
            );
            (Vec::new(), rejected, scores)
        } else {
            let how = survey::ResponseFile {
                header_rows: sv.header_rows,
                map: &map,
                salt: &salt,
                file: &file,
                complete_rows: !crate::io::tabular::is_workbook(&payload.bytes),
                latest: as_of,
            };
            let (got, rejected) = survey::read_responses(&rows, &how, &reject)?;
            info!(survey = %id, answers = got.len(), quarantined = rejected.len(), "Read survey");
            let scores = aggregate(&sv.region, &sv.round, &got, &params);
            (got, rejected, scores)
        };
        if !rejected.is_empty() {
            warn!(survey = %id, "{}", crate::model::quarantine::summary(&rejected));
        }
        if got.is_empty() && d.is_empty() {
            let warning = format!(
                "survey `{id}` gave no answers: {} has no maturity scores for round {}",
                sv.region, sv.round
            );
            warn!(survey = %id, "{warning}");
            warnings.push(warning);
        }
        dims.extend(d);
        roles.extend(r);
        quarantine.extend(rejected);
        answers.push((sv, got));
    }
    // Roadmaps: progress per region and dimension at the as-of date, over the region's rounds.
    let rparams = roadmap::RoadmapParams::default();
    let mut rm_rows = Vec::new();
    for r in &p.pipeline.file.roadmaps {
        let id = &r.id;
        let region = &r.region;
        let (actions_rows, milestone_rows, file) =
            if let Some(path) = &r.path {
                let path = p.pipeline.resolve(path);
                let payload = p.read(id, &path)?;
                inputs.push(local_record(id, &path, &payload));
                let file = path.display().to_string();
                (
                    workbook::sheet(&payload.bytes, &file, Some("Toimenpiteet"))?,
                    workbook::sheet(&payload.bytes, &file, Some("Virstanpylväät"))?,
                    file,
                )
            } else {
                let mut read =
                    |rel: &std::path::PathBuf| -> Result<Vec<crate::io::tabular::XRow>, Error> {
                        let path = p.pipeline.resolve(rel);
                        let payload = p.read(id, &path)?;
                        inputs.push(local_record(id, &path, &payload));
                        Ok(rows_of(
                            &payload.bytes,
                            &path.display().to_string(),
                            r.encoding,
                            None,
                        )?)
                    };
                let a =
                    read(r.actions.as_ref().ok_or_else(|| {
                        InternalError::Invariant("roadmap without actions".into())
                    })?)?;
                let m = read(r.milestones.as_ref().ok_or_else(|| {
                    InternalError::Invariant("roadmap without milestones".into())
                })?)?;
                (
                    a,
                    m,
                    p.pipeline
                        .resolve(r.actions.as_deref().unwrap_or(std::path::Path::new("")))
                        .display()
                        .to_string(),
                )
            };
        let rm = roadmap::read(&actions_rows, &milestone_rows, &file)?;
        let before = quarantine.len();
        for (location, reason) in &rm.rejected {
            quarantine.push(QuarantineEntry {
                stage: "assess",
                source: id.clone(),
                raw_sha256: String::new(),
                location: location.clone(),
                rule: "unusable_roadmap_row",
                reason: reason.clone(),
                record: String::new(),
            });
        }
        if quarantine.len() > before {
            warn!(roadmap = %id, "{}", crate::model::quarantine::summary(&quarantine[before..]));
        }
        let mut progress = Vec::new();
        for (d, _, _) in crate::stages::assess::DIMENSIONS {
            if !rm
                .actions
                .iter()
                .any(|a| a.dimensions.iter().any(|x| x == d))
            {
                continue;
            }
            let rounds = round_scores(&dims, &answers, region, d);
            progress.push(roadmap::progress(
                d,
                &rm.actions,
                &rm.milestones,
                &rounds,
                as_of,
                &rparams,
            ));
        }
        info!(roadmap = %id, actions = rm.actions.len(), milestones = rm.milestones.len(), "Read roadmap");
        rm_rows.push((id.clone(), region.clone(), rm, progress));
    }
    let rows: Vec<(&str, &str, &str, &survey::Answer)> = answers
        .iter()
        .flat_map(|(sv, a)| {
            a.iter()
                .map(move |x| (sv.id.as_str(), sv.region.as_str(), sv.round.as_str(), x))
        })
        .collect();
    // Data signals per region and round (at the round's date), blending, overall scores.
    let bparams = crate::stages::assess::signals::BlendParams::default();
    let values = indicator_values(evidence.indicators)?;
    let (by_sex, by_age) = breakdowns(evidence.observations, &p.pipeline.file.indicators)?;
    let kpa_facts = kpa_facts(evidence.kpa, archive)?;
    let mut signal_rows = Vec::new();
    let mut blends = Vec::new();
    for d in &dims {
        let key = (d.region.clone(), d.round.clone());
        if !signal_rows.iter().any(|(k, _, _)| *k == key) {
            let date = round_date(&answers, &d.region, &d.round);
            let rm = rm_rows.iter().find(|r| r.1 == d.region).map(|r| &r.2);
            let (facts, deliveries) = kpa_facts.get(&d.region).cloned().unwrap_or_default();
            let inputs = crate::stages::assess::signals::Inputs {
                values: &values,
                by_sex: by_sex.clone(),
                by_age: by_age.clone(),
                kpa: facts,
                deliveries,
                crosschecks: evidence
                    .crosschecks
                    .iter()
                    .filter(|c| c.region == d.region)
                    .map(|c| c.status)
                    .collect(),
                national_classes: p
                    .pipeline
                    .file
                    .kpa
                    .as_ref()
                    .and_then(|k| k.national_classes.as_deref()),
                actions: rm.map_or(&[], |r| r.actions.as_slice()),
                milestones: rm.map_or(&[], |r| r.milestones.as_slice()),
            };
            let sig = crate::stages::assess::signals::signals(&d.region, date, &inputs);
            signal_rows.push((key.clone(), date, sig));
        }
        let sig = &signal_rows
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|x| &x.2)
            .cloned()
            .unwrap_or_default();
        let data =
            crate::stages::assess::signals::data_score(&d.dimension, sig, bparams.min_signals);
        let has_s11 = sig.iter().any(|s| s.id == "S11" && s.value.is_some());
        blends.push((
            data,
            crate::stages::assess::signals::blend(&d.dimension, d.score, data, has_s11, &bparams),
        ));
    }
    Ok(Some(Maturity {
        responses: tables::responses(&rows, run_id)?,
        roles: tables::role_scores(&roles, run_id)?,
        overall: tables::overall(&dims, &blends, &bparams, run_id)?,
        signals: tables::signals(&signal_rows, run_id)?,
        dimensions: tables::dimension_scores(&dims, &blends, run_id)?,
        params: tables::method_params(&params, &rparams, &bparams, run_id)?,
        quarantine: quarantine_frame(&quarantine, run_id)?,
        roadmap: if rm_rows.is_empty() {
            None
        } else {
            Some(tables::roadmap(&rm_rows, as_of, run_id)?)
        },
        warnings,
        inputs,
    }))
}

/// The date of a round: the median answer date, else 1 July of the round's year.
pub(crate) fn round_date(
    answers: &[(
        &crate::model::config::SurveyConfig,
        Vec<crate::stages::assess::survey::Answer>,
    )],
    region: &str,
    round: &str,
) -> chrono::NaiveDate {
    let mut dates: Vec<chrono::NaiveDate> = answers
        .iter()
        .filter(|(sv, _)| sv.region == region && sv.round == round)
        .flat_map(|(_, a)| a.iter().filter_map(|x| x.answered))
        .collect();
    dates.sort_unstable();
    dates.get(dates.len() / 2).copied().unwrap_or_else(|| {
        round
            .trim()
            .parse::<i32>()
            .ok()
            .and_then(|y| chrono::NaiveDate::from_ymd_opt(y, 7, 1))
            .unwrap_or_default()
    })
}

/// Every indicator value of the run, for the data signals.
pub(crate) fn indicator_values(
    df: &DataFrame,
) -> Result<Vec<crate::stages::assess::signals::Value>, Error> {
    let s = |c: &str| -> Result<Vec<Option<String>>, Error> {
        Ok(df
            .column(c)
            .context("reading indicators")?
            .str()
            .context("reading indicators")?
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect())
    };
    let (ind, region, level) = (s("indicator")?, s("region")?, s("region_level")?);
    let year: Vec<Option<i16>> = df
        .column("year")
        .context("reading indicators")?
        .i16()
        .context("reading indicators")?
        .iter()
        .collect();
    let value: Vec<Option<f64>> = df
        .column("value")
        .context("reading indicators")?
        .f64()
        .context("reading indicators")?
        .iter()
        .collect();
    Ok((0..df.height())
        .filter_map(|i| {
            Some(crate::stages::assess::signals::Value {
                indicator: ind[i].clone()?,
                region: region[i].clone()?,
                level: level[i].clone()?,
                year: year[i]?,
                value: value[i],
            })
        })
        .collect())
}

/// (indicator, region) pairs with observations by sex, and by age.
#[allow(clippy::type_complexity)]
pub(crate) fn breakdowns(
    obs: &DataFrame,
    indicators: &[crate::model::config::IndicatorConfig],
) -> Result<
    (
        std::collections::BTreeSet<(String, String)>,
        std::collections::BTreeSet<(String, String)>,
    ),
    Error,
> {
    let pairs = |column: &str| -> Result<std::collections::BTreeSet<(String, String)>, Error> {
        let df = obs
            .clone()
            .lazy()
            .filter(col(column).cast(DataType::String).neq(lit("total")))
            .select([
                col("dataset").cast(DataType::String),
                col("measure").cast(DataType::String),
                col("region").cast(DataType::String),
            ])
            .unique(None, UniqueKeepStrategy::First)
            .collect()
            .context("reading breakdowns")?;
        let s = |c: &str| -> Result<Vec<String>, Error> {
            Ok(df
                .column(c)
                .context("reading breakdowns")?
                .str()
                .context("reading breakdowns")?
                .iter()
                .map(|v| v.unwrap_or_default().to_owned())
                .collect())
        };
        let (ds, ms, rs) = (s("dataset")?, s("measure")?, s("region")?);
        let mut out = std::collections::BTreeSet::new();
        for i in 0..df.height() {
            for ind in indicators
                .iter()
                .filter(|x| x.numerator.dataset == ds[i] && x.numerator.measure == ms[i])
            {
                out.insert((ind.id.clone(), rs[i].clone()));
            }
        }
        Ok(out)
    };
    Ok((pairs("sex")?, pairs("age")?))
}

/// Per region: KPA facts (year, class, complete) and its files' deliveries.
#[allow(clippy::type_complexity)]
pub(crate) fn kpa_facts(
    kpa: Option<&DataFrame>,
    archive: &Archive,
) -> Result<
    HashMap<
        String,
        (
            Vec<crate::stages::assess::signals::KpaFact>,
            Vec<crate::stages::assess::signals::Delivery>,
        ),
    >,
    Error,
> {
    let mut out: HashMap<
        String,
        (
            Vec<crate::stages::assess::signals::KpaFact>,
            Vec<crate::stages::assess::signals::Delivery>,
        ),
    > = HashMap::new();
    let Some(df) = kpa else { return Ok(out) };
    let text = |c: &str| -> Result<Vec<String>, Error> {
        Ok(df
            .column(c)
            .context("reading kpa")?
            .str()
            .context("reading kpa")?
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect())
    };
    let floats = |c: &str| -> Result<Vec<Option<f64>>, Error> {
        Ok(df
            .column(c)
            .context("reading kpa")?
            .f64()
            .context("reading kpa")?
            .iter()
            .collect())
    };
    let (region, class, sha) = (text("region")?, text("service_class")?, text("raw_sha256")?);
    let year: Vec<i16> = df
        .column("year")
        .context("reading kpa")?
        .i16()
        .context("reading kpa")?
        .iter()
        .map(Option::unwrap_or_default)
        .collect();
    let (per_1000, per_client, adjusted) = (
        floats("clients_per_1000")?,
        floats("cost_per_client")?,
        floats("cost_per_capita_need_adjusted")?,
    );
    let mut last: HashMap<(String, String), i16> = HashMap::new();
    for i in 0..df.height() {
        let e = out.entry(region[i].clone()).or_default();
        e.0.push(crate::stages::assess::signals::KpaFact {
            year: year[i],
            class: class[i].clone(),
            complete: per_1000[i].is_some() && per_client[i].is_some() && adjusted[i].is_some(),
        });
        let l = last
            .entry((region[i].clone(), sha[i].clone()))
            .or_insert(year[i]);
        *l = (*l).max(year[i]);
    }
    for ((r, sha), y) in last {
        if let Some(first) = archive.first_seen(&sha) {
            out.entry(r)
                .or_default()
                .1
                .push(crate::stages::assess::signals::Delivery {
                    last_year: y,
                    delivered: first.date_naive(),
                });
        }
    }
    Ok(out)
}

/// A region's survey scores of a dimension by round, oldest first, at the round's fractional
/// year (the median answer date, else the middle of the round's year).
pub(crate) fn round_scores(
    dims: &[crate::stages::assess::DimensionScore],
    answers: &[(
        &crate::model::config::SurveyConfig,
        Vec<crate::stages::assess::survey::Answer>,
    )],
    region: &str,
    dimension: &str,
) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = dims
        .iter()
        .filter(|d| d.region == region && d.dimension == dimension)
        .filter_map(|d| {
            let score = d.score?;
            let mut dates: Vec<chrono::NaiveDate> = answers
                .iter()
                .filter(|(sv, _)| sv.region == region && sv.round == d.round)
                .flat_map(|(_, a)| a.iter().filter_map(|x| x.answered))
                .collect();
            dates.sort_unstable();
            let t = match dates.get(dates.len() / 2) {
                Some(day) => crate::stages::assess::roadmap::fractional_year(*day),
                None => d.round.trim().parse::<f64>().ok()? + 0.5,
            };
            Some((t, score))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}
