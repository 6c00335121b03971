//! Population structure per region and year, from population by single year of age.
//!
//! The pipeline's `[population]` names a dataset of population by age (and sex), e.g. StatFin
//! 11re. Its municipal rows are placed in the reference division and summed, like every count,
//! to municipalities, counties and the country (a level is empty unless all of its
//! municipalities are there). From those sums, for every region and year:
//!
//! | indicator | value |
//! |---|---|
//! | `population_total` | persons, all ages |
//! | `population_<band>` | persons in each band (`0_6`, ..., `85plus`; bands configurable) |
//! | `population_share_<band>` | band / total × 100 |
//! | `dependency_ratio_demographic` | (aged 0–14 + aged 65 and over) / aged 15–64 × 100 |
//! | `dependency_ratio_old_age` | aged 65 and over / aged 15–64 × 100 |
//! | `population_total_change_<k>y_pct`, `population_<band>_change_<k>y_pct` | (this year / k years earlier − 1) × 100 |
//!
//! Changes use whatever earlier years the dataset has, even outside the pipeline's `years`;
//! only the pipeline's years are written. With a `projection`, the same rows are computed from
//! it for the projection's own years, with ids prefixed `projected_`.
//!
//! Ages are read from the `age` column: a single year (`7`, `007`), an open class (`100-`,
//! `85+`) or a range (`75-79`). A row whose age cannot be read, or whose range straddles a band
//! or the 15/65 limits of the dependency ratios, is quarantined with the reason, never spread.

use std::collections::BTreeMap;

use polars::prelude::*;

use super::{DeriveInput, levels};
use crate::error::{InternalError, PolarsContext};
use crate::model::config::PopulationConfig;
use crate::model::quarantine::QuarantineEntry;
use crate::model::regions::Level;

/// An age class: `from` to `to` inclusive, `to` `None` for "and over".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgeClass {
    /// Lowest age.
    pub from: u16,
    /// Highest age, `None` for an open class.
    pub to: Option<u16>,
}

/// Reads an age category: `7`, `007`, `100-`, `85+`, `75-79`, `075-079`.
pub fn parse_age(code: &str) -> Option<AgeClass> {
    let code = code.trim();
    let num = |s: &str| -> Option<u16> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if let Some(from) = code.strip_suffix('-').or_else(|| code.strip_suffix('+')) {
        return Some(AgeClass {
            from: num(from)?,
            to: None,
        });
    }
    if let Some((a, b)) = code.split_once('-') {
        let (from, to) = (num(a)?, num(b)?);
        return (to >= from).then_some(AgeClass { from, to: Some(to) });
    }
    let age = num(code)?;
    Some(AgeClass {
        from: age,
        to: Some(age),
    })
}

/// Which of `groups` (`[from, to]` or `[from]`) holds the whole class, if one does.
pub(super) fn group_of(class: AgeClass, groups: &[(u16, Option<u16>)]) -> Option<usize> {
    groups.iter().position(|(from, to)| {
        class.from >= *from
            && match (class.to, to) {
                (_, None) => true,
                (Some(c), Some(t)) => c <= *t,
                (None, Some(_)) => false,
            }
    })
}

/// The dependency ratios' groups: 0–14, 15–64, 65 and over.
const DEPENDENCY: [(u16, Option<u16>); 3] = [(0, Some(14)), (15, Some(64)), (65, None)];

/// A band's label in indicator ids: `0_6`, `85plus`.
pub fn band_label(band: &[u16]) -> String {
    match band {
        [from, to] => format!("{from}_{to}"),
        [from] => format!("{from}plus"),
        _ => String::from("invalid"),
    }
}

/// The municipal rows of a population measure for one sex (no breakdown).
pub(super) fn population_rows(
    input: &DeriveInput<'_>,
    dataset: &str,
    measure: &str,
    sex: &str,
) -> LazyFrame {
    input
        .observations
        .clone()
        .lazy()
        .filter(
            col("dataset")
                .eq(lit(dataset))
                .and(col("measure").eq(lit(measure)))
                .and(col("sex").eq(lit(sex)))
                .and(col("breakdown").eq(lit("")))
                .and(col("region_level").eq(lit(Level::Municipality.as_str()))),
        )
        .with_columns(super::key_columns_as_text())
}

/// Population-structure indicator rows (columns as `finish` gives) and quarantined rows.
pub(crate) fn population_frames(
    cfg: &PopulationConfig,
    input: &DeriveInput<'_>,
    crosswalk: &DataFrame,
    expected: &super::Expected<'_>,
) -> Result<(Vec<LazyFrame>, Vec<QuarantineEntry>), InternalError> {
    let (mut frames, mut quarantine) = structure(
        cfg,
        &cfg.dataset,
        &cfg.measure,
        "",
        Some(input.years),
        input,
        crosswalk,
        expected,
    )?;
    if let Some(p) = &cfg.projection {
        let (f, q) = structure(
            cfg,
            &p.dataset,
            &p.measure,
            "projected_",
            None,
            input,
            crosswalk,
            expected,
        )?;
        frames.extend(f);
        quarantine.extend(q);
    }
    Ok((frames, quarantine))
}

#[allow(clippy::too_many_arguments)]
fn structure(
    cfg: &PopulationConfig,
    dataset: &str,
    measure: &str,
    prefix: &str,
    years: Option<&[i16]>,
    input: &DeriveInput<'_>,
    crosswalk: &DataFrame,
    expected: &super::Expected<'_>,
) -> Result<(Vec<LazyFrame>, Vec<QuarantineEntry>), InternalError> {
    let rows = population_rows(input, dataset, measure, &cfg.sex)
        .filter(col("age").neq(lit("total")))
        .select([
            col("region"),
            col("year"),
            col("age").cast(DataType::String),
            col("value").alias("x"),
            col("raw_sha256").cast(DataType::String),
            col("period").cast(DataType::String),
        ])
        .collect()
        .context("reading population by age")?;

    // Each distinct age category: its band and dependency group, or why it cannot be used.
    let bands: Vec<(u16, Option<u16>)> = cfg
        .bands
        .iter()
        .map(|b| (b[0], b.get(1).copied()))
        .collect();
    let ages = rows.column("age").context("reading ages")?;
    let mut distinct: Vec<String> = ages
        .str()
        .context("reading ages")?
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect();
    distinct.sort();
    distinct.dedup();
    let mut map_age = Vec::new();
    let mut map_band: Vec<Option<u32>> = Vec::new();
    let mut map_dep: Vec<Option<u32>> = Vec::new();
    let mut rejected: BTreeMap<String, String> = BTreeMap::new();
    for a in &distinct {
        let Some(class) = parse_age(a) else {
            rejected.insert(
                a.clone(),
                format!("age `{a}` is not a single year, `N-` / `N+` or a range `N-M`"),
            );
            continue;
        };
        let (band, dep) = (group_of(class, &bands), group_of(class, &DEPENDENCY));
        if band.is_none() || dep.is_none() {
            rejected.insert(
                a.clone(),
                format!(
                    "age class `{a}` does not fall inside one population band ({}) and one of \
                     0-14, 15-64, 65+; it is not split",
                    cfg.bands
                        .iter()
                        .map(|b| band_label(b))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            continue;
        }
        map_age.push(a.clone());
        map_band.push(band.and_then(|b| u32::try_from(b).ok()));
        map_dep.push(dep.and_then(|d| u32::try_from(d).ok()));
    }
    let quarantine = rejected_rows(&rows, &rejected, dataset, measure, input)?;
    let mapping = df!("age" => map_age, "band" => map_band, "dep" => map_dep)
        .context("building the age mapping")?;
    let parts = rows
        .lazy()
        .join(
            mapping.lazy(),
            [col("age")],
            [col("age")],
            JoinArgs::new(JoinType::Inner),
        )
        .join(
            crosswalk.clone().lazy(),
            [col("region")],
            [col("code")],
            JoinArgs::new(JoinType::Inner),
        );
    let group = |filter: Expr| -> Result<LazyFrame, InternalError> {
        levels(
            parts.clone().filter(filter).select([
                col("region"),
                col("year"),
                col("x"),
                col("muni"),
                col("county"),
            ]),
            expected,
        )
    };
    let source = format!("{dataset}/{measure}");
    let keep = |lf: LazyFrame| match years {
        Some(y) => lf.filter(super::year_filter(y)),
        None => lf,
    };
    let mut frames = Vec::new();
    let total = group(lit(true))?;
    let mut counts = vec![(
        format!("{prefix}population_total"),
        total.clone(),
        "all ages".to_owned(),
    )];
    for (i, b) in cfg.bands.iter().enumerate() {
        let label = band_label(b);
        let band = group(col("band").eq(lit(u32::try_from(i).unwrap_or(u32::MAX))))?;
        counts.push((
            format!("{prefix}population_{label}"),
            band.clone(),
            format!("aged {}", label.replace('_', "-").replace("plus", "+")),
        ));
        frames.push(keep(ratio(
            &format!("{prefix}population_share_{label}"),
            band,
            total.clone(),
            100.0,
            "%",
            format!(
                "population share: sum({source}, aged {}) / sum({source}, all ages) × 100",
                label.replace('_', "-").replace("plus", "+")
            ),
        )));
    }
    for (id, lf, what) in &counts {
        frames.push(keep(finish(
            lf.clone()
                .with_column(lit(NULL).cast(DataType::Float64).alias("d")),
            id,
            col("x"),
            "persons",
            format!(
                "population: sum({source}, {what}) over municipalities of the {} division",
                input.crosswalk.reference_year
            ),
            col("x_flag"),
        )));
        for k in &cfg.changes {
            frames.push(keep(change(id, lf.clone(), *k, &source)));
        }
    }
    let dep = |i: u32| group(col("dep").eq(lit(i)));
    let (young, working, old) = (dep(0)?, dep(1)?, dep(2)?);
    let dependants = young
        .join(
            old.clone(),
            [col("region"), col("region_level"), col("year")],
            [col("region"), col("region_level"), col("year")],
            JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
        )
        .select([
            col("region"),
            col("region_level"),
            col("year"),
            (col("x") + col("x_right")).alias("x"),
            concat_str([col("x_flag"), col("x_flag_right")], "; ", true).alias("x_flag"),
        ])
        // `concat_str` gives "" when both flags are null.
        .with_column(
            when(col("x_flag").eq(lit("")))
                .then(lit(NULL).cast(DataType::String))
                .otherwise(col("x_flag"))
                .alias("x_flag"),
        );
    frames.push(keep(ratio(
        &format!("{prefix}dependency_ratio_demographic"),
        dependants,
        working.clone(),
        100.0,
        "per 100 aged 15-64",
        format!("demographic dependency ratio: (sum({source}, aged 0-14) + sum({source}, aged 65+)) / sum({source}, aged 15-64) × 100"),
    )));
    frames.push(keep(ratio(
        &format!("{prefix}dependency_ratio_old_age"),
        old,
        working,
        100.0,
        "per 100 aged 15-64",
        format!(
            "old-age dependency ratio: sum({source}, aged 65+) / sum({source}, aged 15-64) × 100"
        ),
    )));
    Ok((frames, quarantine))
}

/// Rows `numerator / denominator × scale` from two level frames.
fn ratio(
    id: &str,
    num: LazyFrame,
    den: LazyFrame,
    scale: f64,
    unit: &str,
    method: String,
) -> LazyFrame {
    let joined = num.join(
        den.select([
            col("region"),
            col("region_level"),
            col("year"),
            col("x").alias("d"),
            col("x_flag").alias("d_flag"),
        ]),
        [col("region"), col("region_level"), col("year")],
        [col("region"), col("region_level"), col("year")],
        JoinArgs::new(JoinType::Left),
    );
    finish(
        joined,
        id,
        when(col("d").eq(lit(0.0)))
            .then(lit(NULL).cast(DataType::Float64))
            .otherwise(col("x") / col("d") * lit(scale)),
        unit,
        method,
        concat_str(
            [
                super::PrefixExt::map_alias_prefix(col("x_flag"), "numerator "),
                super::PrefixExt::map_alias_prefix(col("d_flag"), "denominator "),
            ],
            "; ",
            true,
        ),
    )
}

/// Change over `k` years of a level frame, per cent.
fn change(id: &str, lf: LazyFrame, k: u16, source: &str) -> LazyFrame {
    let earlier = lf.clone().select([
        col("region"),
        col("region_level"),
        (col("year") + lit(i16::try_from(k).unwrap_or(i16::MAX)))
            .cast(DataType::Int16)
            .alias("year"),
        col("x").alias("d"),
        col("x_flag").alias("d_flag"),
    ]);
    let joined = lf.join(
        earlier,
        [col("region"), col("region_level"), col("year")],
        [col("region"), col("region_level"), col("year")],
        JoinArgs::new(JoinType::Left),
    );
    finish(
        joined,
        &format!("{id}_change_{k}y_pct"),
        when(col("d").eq(lit(0.0)))
            .then(lit(NULL).cast(DataType::Float64))
            .otherwise((col("x") / col("d") - lit(1.0)) * lit(100.0)),
        "%",
        format!(
            "change over {k} years: ({id} this year / {id} {k} years earlier - 1) × 100, from {source}"
        ),
        concat_str(
            [
                col("x_flag"),
                when(col("d").is_null())
                    .then(lit(format!("no value {k} years earlier")))
                    .otherwise(lit(NULL).cast(DataType::String)),
            ],
            "; ",
            true,
        ),
    )
}

/// The indicator columns before comparisons (as `super::finish`).
fn finish(
    lf: LazyFrame,
    id: &str,
    value: Expr,
    unit: &str,
    method: String,
    flags: Expr,
) -> LazyFrame {
    lf.select([
        lit(id.to_owned()).alias("indicator"),
        col("region"),
        col("region_level"),
        col("year"),
        value.alias("value"),
        col("x").alias("numerator"),
        col("d").alias("denominator"),
        lit(unit.to_owned()).alias("unit"),
        lit(method).alias("method"),
        lit(super::compose::RECOMPUTED).alias("basis"),
        flags.alias("flags"),
    ])
    .with_column(
        when(col("flags").eq(lit("")))
            .then(lit(NULL).cast(DataType::String))
            .otherwise(col("flags"))
            .alias("flags"),
    )
}

/// Quarantine entries for the rows of rejected age categories.
fn rejected_rows(
    rows: &DataFrame,
    rejected: &BTreeMap<String, String>,
    dataset: &str,
    measure: &str,
    input: &DeriveInput<'_>,
) -> Result<Vec<QuarantineEntry>, InternalError> {
    if rejected.is_empty() {
        return Ok(Vec::new());
    }
    let text = |name: &str| -> Result<Vec<String>, InternalError> {
        let c = rows.column(name).context("reading population rows")?;
        let c = c
            .cast(&DataType::String)
            .context("reading population rows")?;
        Ok(c.str()
            .context("reading population rows")?
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect())
    };
    let (region, age, sha, period) = (
        text("region")?,
        text("age")?,
        text("raw_sha256")?,
        text("period")?,
    );
    Ok((0..rows.height())
        .filter_map(|i| {
            let reason = rejected.get(&age[i])?;
            Some(QuarantineEntry {
                stage: "derive",
                source: input
                    .source_of
                    .get(&sha[i])
                    .cloned()
                    .unwrap_or_else(|| dataset.to_owned()),
                raw_sha256: sha[i].clone(),
                location: format!(
                    "observations: {dataset} {measure} {} {} age {}",
                    region[i], period[i], age[i]
                ),
                rule: "unusable_age",
                reason: reason.clone(),
                record: format!(
                    "dataset={dataset};measure={measure};region={};period={};age={}",
                    region[i], period[i], age[i]
                ),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_read_in_every_published_form() {
        let c = |from, to| Some(AgeClass { from, to });
        assert_eq!(parse_age("7"), c(7, Some(7)));
        assert_eq!(parse_age("007"), c(7, Some(7)));
        assert_eq!(parse_age("100-"), c(100, None));
        assert_eq!(parse_age("85+"), c(85, None));
        assert_eq!(parse_age("075-079"), c(75, Some(79)));
        assert_eq!(parse_age("79-75"), None);
        assert_eq!(parse_age("SSS"), None);
        assert_eq!(parse_age(""), None);
    }

    #[test]
    fn classes_fall_in_a_group_or_none() {
        let bands = [(0, Some(6)), (7, Some(17)), (18, Some(64)), (65, None)];
        let c = |s| parse_age(s).unwrap();
        assert_eq!(group_of(c("6"), &bands), Some(0));
        assert_eq!(group_of(c("7"), &bands), Some(1));
        assert_eq!(group_of(c("100-"), &bands), Some(3));
        assert_eq!(group_of(c("65-69"), &bands), Some(3));
        assert_eq!(group_of(c("5-9"), &bands), None, "straddles 6/7");
        assert_eq!(group_of(c("60-"), &bands), None, "open class across 64/65");
        assert_eq!(group_of(c("10-14"), &DEPENDENCY), Some(0));
        assert_eq!(group_of(c("15-19"), &DEPENDENCY), Some(1));
    }

    #[test]
    fn band_labels() {
        assert_eq!(band_label(&[0, 6]), "0_6");
        assert_eq!(band_label(&[85]), "85plus");
    }
}
