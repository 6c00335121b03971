//! The maturity tables as data frames (columns as their contracts in `schemas/maturity_*.toml`).

use polars::prelude::*;

use super::survey::Answer;
use super::{DIMENSIONS, DimensionScore, LEVELS, METHOD_VERSION, Params, RoleScore, level};
use crate::error::{InternalError, PolarsContext};

fn common(n: usize, run_id: &str) -> Vec<Column> {
    vec![
        Series::new("method_version".into(), vec![METHOD_VERSION; n]).into(),
        Series::new("run_id".into(), vec![run_id; n]).into(),
    ]
}

fn strings<'a>(name: &str, v: impl Iterator<Item = &'a str>) -> Column {
    Series::new(name.into(), v.collect::<Vec<_>>()).into()
}

/// `maturity_responses`: (survey id, region, round, answer).
pub fn responses(
    rows: &[(&str, &str, &str, &Answer)],
    run_id: &str,
) -> Result<DataFrame, InternalError> {
    let n = rows.len();
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let answered: Vec<Option<i32>> = rows
        .iter()
        .map(|r| {
            r.3.answered
                .and_then(|d| i32::try_from((d - epoch).num_days()).ok())
        })
        .collect();
    let mut columns = common(n, run_id);
    columns.extend([
        strings("region", rows.iter().map(|r| r.1)),
        strings("round", rows.iter().map(|r| r.2)),
        strings(
            "respondent_key",
            rows.iter().map(|r| r.3.respondent.as_str()),
        ),
        strings("role", rows.iter().map(|r| r.3.role)),
        Series::new("answered".into(), answered)
            .cast(&DataType::Date)
            .context("building answer dates")?
            .into(),
        strings("item_id", rows.iter().map(|r| r.3.item.as_str())),
        strings("dimension_id", rows.iter().map(|r| r.3.dimension.as_str())),
        strings("answer_type", rows.iter().map(|r| r.3.answer_type.as_str())),
        Series::new(
            "value".into(),
            rows.iter().map(|r| r.3.value).collect::<Vec<_>>(),
        )
        .into(),
        strings("raw", rows.iter().map(|r| r.3.raw.as_str())),
        strings("source", rows.iter().map(|r| r.0)),
    ]);
    DataFrame::new(n, columns).context("building `maturity_responses`")
}

/// `maturity_role_scores`.
pub fn role_scores(rows: &[RoleScore], run_id: &str) -> Result<DataFrame, InternalError> {
    let n = rows.len();
    let mut columns = common(n, run_id);
    columns.extend([
        strings("region", rows.iter().map(|r| r.region.as_str())),
        strings("round", rows.iter().map(|r| r.round.as_str())),
        strings("dimension_id", rows.iter().map(|r| r.dimension.as_str())),
        strings("role", rows.iter().map(|r| r.role)),
        Series::new(
            "n".into(),
            rows.iter()
                .map(|r| i64::try_from(r.n).unwrap_or(i64::MAX))
                .collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "mean".into(),
            rows.iter().map(|r| r.mean).collect::<Vec<_>>(),
        )
        .into(),
    ]);
    DataFrame::new(n, columns).context("building `maturity_role_scores`")
}

/// A dimension's data score and blend, aligned with its [`DimensionScore`].
pub type Blend = (Option<f64>, super::signals::Blended);

/// `maturity_dimension_scores`.
pub fn dimension_scores(
    rows: &[DimensionScore],
    blends: &[Blend],
    run_id: &str,
) -> Result<DataFrame, InternalError> {
    let n = rows.len();
    let f = |name: &str, g: &dyn Fn(&DimensionScore) -> Option<f64>| -> Column {
        Series::new(name.into(), rows.iter().map(g).collect::<Vec<_>>()).into()
    };
    let name = |d: &str, i: usize| {
        DIMENSIONS
            .iter()
            .find(|x| x.0 == d)
            .map_or("", |x| if i == 1 { x.1 } else { x.2 })
    };
    let lv = |r: &DimensionScore| r.score.map(level);
    let lv_name = |r: &DimensionScore, en: bool| {
        lv(r).map(|l| {
            let (fi, e) = LEVELS[usize::from(l - 1)];
            if en { e } else { fi }
        })
    };
    let mut columns = common(n, run_id);
    columns.extend([
        strings("region", rows.iter().map(|r| r.region.as_str())),
        strings("round", rows.iter().map(|r| r.round.as_str())),
        strings("dimension_id", rows.iter().map(|r| r.dimension.as_str())),
        strings("name_fi", rows.iter().map(|r| name(&r.dimension, 1))),
        strings("name_en", rows.iter().map(|r| name(&r.dimension, 2))),
        Series::new(
            "n".into(),
            rows.iter()
                .map(|r| i64::try_from(r.n).unwrap_or(i64::MAX))
                .collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "roles".into(),
            rows.iter()
                .map(|r| i64::try_from(r.roles).unwrap_or(i64::MAX))
                .collect::<Vec<_>>(),
        )
        .into(),
        f("survey_score", &|r| r.score),
        Series::new(
            "level".into(),
            rows.iter()
                .map(|r| lv(r).map(i16::from))
                .collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "level_name_fi".into(),
            rows.iter().map(|r| lv_name(r, false)).collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "level_name_en".into(),
            rows.iter().map(|r| lv_name(r, true)).collect::<Vec<_>>(),
        )
        .into(),
        f("mean", &|r| r.mean),
        f("median", &|r| r.median),
        f("sd", &|r| r.sd),
        f("iqr", &|r| r.iqr),
        f("ci_low", &|r| r.ci.map(|c| c.0)),
        f("ci_high", &|r| r.ci.map(|c| c.1)),
        Series::new(
            "ci_method".into(),
            rows.iter().map(|r| r.ci_method).collect::<Vec<_>>(),
        )
        .into(),
        f("rwg", &|r| r.rwg),
        f("satisfaction", &|r| r.satisfaction),
        f("dissatisfaction", &|r| r.dissatisfaction),
        f("target", &|r| r.target),
        f("dev_need", &|r| r.dev_need),
        f("priority", &|r| r.priority),
        Series::new(
            "data_score".into(),
            blends.iter().map(|b| b.0).collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "data_level".into(),
            blends.iter().map(|b| b.1.data_level).collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "final_score".into(),
            blends.iter().map(|b| b.1.final_score).collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "final_level".into(),
            blends
                .iter()
                .map(|b| b.1.final_score.map(|x| i16::from(level(x))))
                .collect::<Vec<_>>(),
        )
        .into(),
        f("national_median", &|r| national(rows, blends, r).0),
        f("national_q1", &|r| national(rows, blends, r).1),
        f("national_q3", &|r| national(rows, blends, r).2),
        Series::new(
            "reliability".into(),
            rows.iter()
                .zip(blends)
                .map(|(r, b)| {
                    if b.1.source == Some("data_only") {
                        "indicative"
                    } else {
                        r.reliability
                    }
                })
                .collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "flags".into(),
            rows.iter()
                .zip(blends)
                .map(|(r, b)| {
                    let all: Vec<&str> = r.flags.iter().chain(&b.1.flags).copied().collect();
                    (!all.is_empty()).then(|| all.join(", "))
                })
                .collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "source".into(),
            blends.iter().map(|b| b.1.source).collect::<Vec<_>>(),
        )
        .into(),
    ]);
    DataFrame::new(n, columns).context("building `maturity_dimension_scores`")
}

/// Median and quartiles of the final scores of every region in the same dimension and round.
fn national(
    rows: &[DimensionScore],
    blends: &[Blend],
    r: &DimensionScore,
) -> (Option<f64>, Option<f64>, Option<f64>) {
    let mut v: Vec<f64> = rows
        .iter()
        .zip(blends)
        .filter(|(o, _)| o.dimension == r.dimension && o.round == r.round)
        .filter_map(|(_, b)| b.1.final_score)
        .collect();
    v.sort_by(f64::total_cmp);
    let q = |p| crate::stages::derive::compare::quantile(&v, p);
    (q(0.5), q(0.25), q(0.75))
}

/// `maturity_signals`: ((region, round), as-of date, signals).
pub fn signals(
    rows: &[(
        (String, String),
        chrono::NaiveDate,
        Vec<super::signals::Signal>,
    )],
    run_id: &str,
) -> Result<DataFrame, InternalError> {
    let flat: Vec<(&str, &str, chrono::NaiveDate, &super::signals::Signal)> = rows
        .iter()
        .flat_map(|((r, round), d, s)| s.iter().map(move |x| (r.as_str(), round.as_str(), *d, x)))
        .collect();
    let n = flat.len();
    let mut columns = common(n, run_id);
    columns.extend([
        strings("region", flat.iter().map(|r| r.0)),
        strings("round", flat.iter().map(|r| r.1)),
        date_col("as_of", flat.iter().map(|r| Some(r.2)).collect())?,
        strings("signal", flat.iter().map(|r| r.3.id)),
        strings("name", flat.iter().map(|r| r.3.name)),
        Series::new(
            "numerator".into(),
            flat.iter().map(|r| r.3.numerator).collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "denominator".into(),
            flat.iter().map(|r| r.3.denominator).collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "value".into(),
            flat.iter().map(|r| r.3.value).collect::<Vec<_>>(),
        )
        .into(),
    ]);
    DataFrame::new(n, columns).context("building `maturity_signals`")
}

/// `maturity_overall`: one row per region and round.
pub fn overall(
    rows: &[DimensionScore],
    blends: &[Blend],
    p: &super::signals::BlendParams,
    run_id: &str,
) -> Result<DataFrame, InternalError> {
    let mut keys: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.region.as_str(), r.round.as_str()))
        .collect();
    keys.dedup();
    let mut score = Vec::new();
    let mut lvl = Vec::new();
    let mut count = Vec::new();
    let mut weakest = Vec::new();
    let mut weakest_score = Vec::new();
    for (region, round) in &keys {
        let finals: Vec<(&str, f64)> = rows
            .iter()
            .zip(blends)
            .filter(|(r, _)| r.region == *region && r.round == *round)
            .filter_map(|(r, b)| Some((r.dimension.as_str(), b.1.final_score?)))
            .collect();
        let s = (finals.len() >= p.min_dimensions).then(|| {
            finals.iter().map(|f| f.1).sum::<f64>()
                / f64::from(u32::try_from(finals.len()).unwrap_or(1))
        });
        let min = finals.iter().min_by(|a, b| a.1.total_cmp(&b.1)).copied();
        score.push(s);
        // The weakest link: no more than one level above the weakest dimension.
        lvl.push(
            s.zip(min)
                .map(|(s, m)| i16::from(level(s).min(level(m.1) + 1))),
        );
        count.push(i64::try_from(finals.len()).unwrap_or(i64::MAX));
        weakest.push(min.map(|m| m.0));
        weakest_score.push(min.map(|m| m.1));
    }
    let n = keys.len();
    let mut columns = common(n, run_id);
    columns.extend([
        strings("region", keys.iter().map(|k| k.0)),
        strings("round", keys.iter().map(|k| k.1)),
        Series::new("dimensions".into(), count).into(),
        Series::new("overall_score".into(), score).into(),
        Series::new("overall_level".into(), lvl).into(),
        Series::new("weakest_dimension".into(), weakest).into(),
        Series::new("weakest_score".into(), weakest_score).into(),
    ]);
    DataFrame::new(n, columns).context("building `maturity_overall`")
}

/// `maturity_method_params`.
pub fn method_params(
    params: &Params,
    roadmap: &super::roadmap::RoadmapParams,
    blend: &super::signals::BlendParams,
    run_id: &str,
) -> Result<DataFrame, InternalError> {
    let mut rows = params.rows();
    rows.extend(roadmap.rows());
    rows.extend(blend.rows());
    let n = rows.len();
    let mut columns = common(n, run_id);
    columns.extend([
        strings("param", rows.iter().map(|r| r.0.as_str())),
        strings("value", rows.iter().map(|r| r.1.as_str())),
    ]);
    DataFrame::new(n, columns).context("building `maturity_method_params`")
}

fn days(d: Option<chrono::NaiveDate>) -> Option<i32> {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    d.and_then(|d| i32::try_from((d - epoch).num_days()).ok())
}

fn date_col(name: &str, v: Vec<Option<chrono::NaiveDate>>) -> Result<Column, InternalError> {
    Ok(
        Series::new(name.into(), v.into_iter().map(days).collect::<Vec<_>>())
            .cast(&DataType::Date)
            .context("building a date column")?
            .into(),
    )
}

fn count(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A roadmap of a region: (source id, region, roadmap, progress per dimension).
pub type RoadmapRows = (
    String,
    String,
    super::roadmap::Roadmap,
    Vec<super::roadmap::Progress>,
);

/// `roadmap_actions`, `roadmap_milestones`, `roadmap_progress`.
pub fn roadmap(
    rows: &[RoadmapRows],
    as_of: chrono::NaiveDate,
    run_id: &str,
) -> Result<(DataFrame, DataFrame, DataFrame), InternalError> {
    use super::roadmap::Status;
    let actions: Vec<(&str, &str, &super::roadmap::Action)> = rows
        .iter()
        .flat_map(|(id, region, rm, _)| {
            rm.actions
                .iter()
                .map(move |a| (id.as_str(), region.as_str(), a))
        })
        .collect();
    let n = actions.len();
    let mut a_cols = common(n, run_id);
    a_cols.extend([
        strings("region", actions.iter().map(|a| a.1)),
        strings("source", actions.iter().map(|a| a.0)),
        strings("action_id", actions.iter().map(|a| a.2.id.as_str())),
        strings("title", actions.iter().map(|a| a.2.title.as_str())),
        Series::new(
            "dimensions".into(),
            actions
                .iter()
                .map(|a| a.2.dimensions.join(", "))
                .collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "owner".into(),
            actions
                .iter()
                .map(|a| a.2.owner.clone())
                .collect::<Vec<_>>(),
        )
        .into(),
        date_col(
            "start",
            actions.iter().map(|a| a.2.start.map(|p| p.start)).collect(),
        )?,
        Series::new(
            "start_precision".into(),
            actions
                .iter()
                .map(|a| a.2.start.map(|p| p.precision.as_str()))
                .collect::<Vec<_>>(),
        )
        .into(),
        date_col(
            "due",
            actions.iter().map(|a| a.2.due.map(|p| p.end)).collect(),
        )?,
        Series::new(
            "due_precision".into(),
            actions
                .iter()
                .map(|a| a.2.due.map(|p| p.precision.as_str()))
                .collect::<Vec<_>>(),
        )
        .into(),
        strings("status", actions.iter().map(|a| a.2.status.as_str())),
        Series::new(
            "target_level".into(),
            actions.iter().map(|a| a.2.target_level).collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "target_year".into(),
            actions
                .iter()
                .map(|a| a.2.target_year.and_then(|y| i16::try_from(y).ok()))
                .collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "metric".into(),
            actions
                .iter()
                .map(|a| a.2.metric.clone())
                .collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "target_value".into(),
            actions.iter().map(|a| a.2.target_value).collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "effort".into(),
            actions.iter().map(|a| a.2.effort).collect::<Vec<_>>(),
        )
        .into(),
    ]);
    let actions_df = DataFrame::new(n, a_cols).context("building `roadmap_actions`")?;

    let ms: Vec<(&str, &str, &super::roadmap::Milestone)> = rows
        .iter()
        .flat_map(|(id, region, rm, _)| {
            rm.milestones
                .iter()
                .map(move |m| (id.as_str(), region.as_str(), m))
        })
        .collect();
    let n = ms.len();
    let live = |m: &super::roadmap::Milestone| m.status != Status::Cancelled;
    let due = |m: &super::roadmap::Milestone| live(m) && m.planned.is_some_and(|p| p.end <= as_of);
    let done = |m: &super::roadmap::Milestone| {
        m.status == Status::Done || m.done_on.is_some_and(|d| d.end <= as_of)
    };
    let mut m_cols = common(n, run_id);
    m_cols.extend([
        strings("region", ms.iter().map(|m| m.1)),
        strings("source", ms.iter().map(|m| m.0)),
        strings("milestone_id", ms.iter().map(|m| m.2.id.as_str())),
        strings("action_id", ms.iter().map(|m| m.2.action.as_str())),
        strings("title", ms.iter().map(|m| m.2.title.as_str())),
        date_col(
            "planned",
            ms.iter().map(|m| m.2.planned.map(|p| p.end)).collect(),
        )?,
        Series::new(
            "planned_precision".into(),
            ms.iter()
                .map(|m| m.2.planned.map(|p| p.precision.as_str()))
                .collect::<Vec<_>>(),
        )
        .into(),
        date_col(
            "done_on",
            ms.iter().map(|m| m.2.done_on.map(|p| p.end)).collect(),
        )?,
        Series::new(
            "done_precision".into(),
            ms.iter()
                .map(|m| m.2.done_on.map(|p| p.precision.as_str()))
                .collect::<Vec<_>>(),
        )
        .into(),
        strings("status", ms.iter().map(|m| m.2.status.as_str())),
        date_col("as_of", vec![Some(as_of); n])?,
        Series::new(
            "due".into(),
            ms.iter().map(|m| due(m.2)).collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "done".into(),
            ms.iter().map(|m| done(m.2)).collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "late".into(),
            ms.iter()
                .map(|m| due(m.2) && !done(m.2))
                .collect::<Vec<_>>(),
        )
        .into(),
    ]);
    let milestones_df = DataFrame::new(n, m_cols).context("building `roadmap_milestones`")?;

    let pr: Vec<(&str, &super::roadmap::Progress)> = rows
        .iter()
        .flat_map(|(_, region, _, p)| p.iter().map(move |x| (region.as_str(), x)))
        .collect();
    let n = pr.len();
    let f = |name: &str, g: &dyn Fn(&super::roadmap::Progress) -> Option<f64>| -> Column {
        Series::new(name.into(), pr.iter().map(|p| g(p.1)).collect::<Vec<_>>()).into()
    };
    let i = |name: &str, g: &dyn Fn(&super::roadmap::Progress) -> usize| -> Column {
        Series::new(
            name.into(),
            pr.iter().map(|p| count(g(p.1))).collect::<Vec<_>>(),
        )
        .into()
    };
    let mut p_cols = common(n, run_id);
    p_cols.extend([
        strings("region", pr.iter().map(|p| p.0)),
        strings("dimension_id", pr.iter().map(|p| p.1.dimension.as_str())),
        date_col("as_of", vec![Some(as_of); n])?,
        i("milestones", &|p| p.total),
        i("due", &|p| p.due),
        i("done", &|p| p.done),
        i("done_on_time", &|p| p.done_on_time),
        i("late", &|p| p.late),
        Series::new(
            "max_overdue_days".into(),
            pr.iter().map(|p| p.1.max_overdue_days).collect::<Vec<_>>(),
        )
        .into(),
        f("pct_done", &|p| p.pct_done),
        f("spi", &|p| p.spi),
        f("progress_pct", &|p| p.progress_pct),
        f("target_level", &|p| p.target_level),
        Series::new(
            "target_year".into(),
            pr.iter()
                .map(|p| p.1.target_year.and_then(|y| i16::try_from(y).ok()))
                .collect::<Vec<_>>(),
        )
        .into(),
        f("baseline_score", &|p| p.baseline),
        f("current_score", &|p| p.current),
        f("gap", &|p| p.gap),
        f("gap_closed_pct", &|p| p.gap_closed_pct),
        f("slope", &|p| p.slope),
        Series::new(
            "trend_method".into(),
            pr.iter().map(|p| p.1.trend_method).collect::<Vec<_>>(),
        )
        .into(),
        f("projected_year", &|p| p.projected_year),
        Series::new(
            "converging".into(),
            pr.iter().map(|p| p.1.converging).collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "on_track".into(),
            pr.iter().map(|p| p.1.on_track).collect::<Vec<_>>(),
        )
        .into(),
        strings("rag", pr.iter().map(|p| p.1.rag)),
    ]);
    let progress_df = DataFrame::new(n, p_cols).context("building `roadmap_progress`")?;
    Ok((actions_df, milestones_df, progress_df))
}
