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

/// `maturity_dimension_scores`.
pub fn dimension_scores(rows: &[DimensionScore], run_id: &str) -> Result<DataFrame, InternalError> {
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
        strings("reliability", rows.iter().map(|r| r.reliability)),
        Series::new(
            "flags".into(),
            rows.iter()
                .map(|r| (!r.flags.is_empty()).then(|| r.flags.join(", ")))
                .collect::<Vec<_>>(),
        )
        .into(),
        strings("source", rows.iter().map(|_| "survey")),
    ]);
    DataFrame::new(n, columns).context("building `maturity_dimension_scores`")
}

/// `maturity_method_params`.
pub fn method_params(params: &Params, run_id: &str) -> Result<DataFrame, InternalError> {
    let rows = params.rows();
    let n = rows.len();
    let mut columns = common(n, run_id);
    columns.extend([
        strings("param", rows.iter().map(|r| r.0.as_str())),
        strings("value", rows.iter().map(|r| r.1.as_str())),
    ]);
    DataFrame::new(n, columns).context("building `maturity_method_params`")
}
