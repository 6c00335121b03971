//! The derive stage: indicators per region and year, aggregated from municipalities.
//!
//! Every indicator is computed from municipal observations, at three levels:
//!
//! 1. **municipality** of the reference year's division: the parts of a merged municipality
//!    (e.g. Juankoski in Kuopio) are summed. A published null in any part makes the value null
//!    (flag `missing in source`); a part that is simply absent is taken as already included in
//!    its successor, as StatFin and Sotkanet publish history in the current division.
//! 2. **wellbeing county**: sums over the county's municipalities of the reference year.
//! 3. **country**: sums over all municipalities.
//!
//! A `ratio` indicator is `sum(numerator) / sum(denominator) × scale` at every level — never an
//! average of municipal ratios. A county or the country gets a value only when every one of its
//! municipalities has one; otherwise the value is null and `flags` says how many were present
//! (`numerator incomplete: 10 of 11 municipalities`). Sums never turn missing into 0.
//!
//! `index_country` is the value relative to the country (= 100) in the same year;
//! `yoy_change_pct` the change from the previous year's value of the same region.

use std::collections::HashMap;

use polars::prelude::*;

use crate::config::{Aggregation, IndicatorConfig, MeasureRef};
use crate::error::{InternalError, PolarsContext};
use crate::normalize::QuarantineEntry;
use crate::regions::{COUNTRY, Crosswalk, Level};

/// Inputs of the derive stage.
pub struct DeriveInput<'a> {
    /// The `observations` table.
    pub observations: &'a DataFrame,
    /// Crosswalk to the reference year.
    pub crosswalk: &'a Crosswalk,
    /// Indicator definitions.
    pub indicators: &'a [IndicatorConfig],
    /// Years to derive.
    pub years: &'a [i16],
    /// Pipeline source id of each payload (by sha256), to name quarantined rows' sources.
    pub source_of: &'a HashMap<String, String>,
}

/// Outputs of the derive stage.
pub struct Derived {
    /// The `indicators` table.
    pub indicators: DataFrame,
    /// Municipal observations that could not be placed in the reference year's division.
    pub quarantine: Vec<QuarantineEntry>,
}

/// Computes every indicator.
pub fn derive(input: &DeriveInput<'_>) -> Result<Derived, InternalError> {
    let crosswalk = crosswalk_frame(input.crosswalk)?;
    let expected = expected_frame(input.crosswalk)?;
    let quarantine = unplaced_municipalities(input, &crosswalk)?;
    let mut frames = Vec::with_capacity(input.indicators.len());
    for ind in input.indicators {
        frames.push(indicator_frame(ind, input, &crosswalk, &expected)?);
    }
    let all = if frames.is_empty() {
        empty_indicators()?.lazy()
    } else {
        concat(frames, UnionArgs::default()).context("combining indicators")?
    };
    let indicators = with_comparisons(all)
        .sort(
            ["indicator", "region_level", "region", "year"],
            SortMultipleOptions::default(),
        )
        .collect()
        .context("deriving indicators")?;
    Ok(Derived {
        indicators,
        quarantine,
    })
}

/// `code` (any year) -> `muni` (reference year) -> `county`.
fn crosswalk_frame(cw: &Crosswalk) -> Result<DataFrame, InternalError> {
    let (mut code, mut muni, mut county) = (Vec::new(), Vec::new(), Vec::new());
    for (c, m, k) in cw.rows() {
        code.push(c);
        muni.push(m);
        county.push(k);
    }
    df!("code" => code, "muni" => muni, "county" => county).context("building the crosswalk")
}

/// Number of municipalities per county, and per country, in the reference year.
fn expected_frame(cw: &Crosswalk) -> Result<DataFrame, InternalError> {
    let mut region: Vec<&str> = cw.members().keys().map(String::as_str).collect();
    let mut n: Vec<u32> = cw
        .members()
        .values()
        .map(|m| u32::try_from(m.len()).unwrap_or(u32::MAX))
        .collect();
    region.push(COUNTRY);
    n.push(u32::try_from(cw.municipality_count()).unwrap_or(u32::MAX));
    df!("region" => region, "expected" => n).context("building county sizes")
}

/// Municipal observations of the derived years whose code has no municipality in the reference
/// year (they cannot be aggregated, so they are quarantined rather than dropped).
fn unplaced_municipalities(
    input: &DeriveInput<'_>,
    crosswalk: &DataFrame,
) -> Result<Vec<QuarantineEntry>, InternalError> {
    let unplaced = input
        .observations
        .clone()
        .lazy()
        .filter(
            col("region_level")
                .eq(lit(Level::Municipality.as_str()))
                .and(year_filter(input.years)),
        )
        .join(
            crosswalk.clone().lazy(),
            [col("region")],
            [col("code")],
            JoinArgs::new(JoinType::Anti),
        )
        .select([
            col("dataset"),
            col("measure"),
            col("region"),
            col("period"),
            col("raw_sha256"),
        ])
        .collect()
        .context("finding municipalities outside the reference division")?;
    let s = |name: &str| -> Result<Vec<String>, InternalError> {
        let c = unplaced.column(name).context("reading unplaced rows")?;
        Ok(c.str()
            .context("reading unplaced rows")?
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect())
    };
    let (dataset, measure, region, period, sha) = (
        s("dataset")?,
        s("measure")?,
        s("region")?,
        s("period")?,
        s("raw_sha256")?,
    );
    Ok((0..unplaced.height())
        .map(|i| QuarantineEntry {
            stage: "conform",
            source: input
                .source_of
                .get(&sha[i])
                .cloned()
                .unwrap_or_else(|| dataset[i].clone()),
            raw_sha256: sha[i].clone(),
            location: format!(
                "observations: {} {} {} {}",
                dataset[i], measure[i], region[i], period[i]
            ),
            rule: "not_in_reference_division",
            reason: format!(
                "municipality {} has no successor in the {} division; left out of county and \
                 country aggregates",
                region[i], input.crosswalk.reference_year
            ),
            record: format!(
                "dataset={};measure={};region={};period={}",
                dataset[i], measure[i], region[i], period[i]
            ),
        })
        .collect())
}

fn year_filter(years: &[i16]) -> Expr {
    years
        .iter()
        .map(|y| col("year").eq(lit(*y)))
        .reduce(Expr::or)
        .unwrap_or_else(|| lit(false))
}

/// One measure at the three levels: `region`, `region_level`, `year`, `x`, `x_flag`.
fn measure_levels(
    r: &MeasureRef,
    input: &DeriveInput<'_>,
    crosswalk: &DataFrame,
    expected: &DataFrame,
) -> Result<LazyFrame, InternalError> {
    let parts = input
        .observations
        .clone()
        .lazy()
        .filter(
            col("dataset")
                .eq(lit(r.dataset.get_ref().as_str()))
                .and(col("measure").eq(lit(r.measure.as_str())))
                .and(col("sex").eq(lit(r.sex.as_str())))
                .and(col("age").eq(lit(r.age.as_str())))
                .and(col("breakdown").eq(lit("")))
                .and(col("region_level").eq(lit(Level::Municipality.as_str())))
                .and(year_filter(input.years)),
        )
        .select([col("region"), col("year"), col(r.field.column()).alias("x")])
        .join(
            crosswalk.clone().lazy(),
            [col("region")],
            [col("code")],
            JoinArgs::new(JoinType::Inner),
        );
    // Level 1: municipalities of the reference division (merged parts summed).
    let munis = parts
        .group_by([col("muni"), col("county"), col("year")])
        .agg([
            col("x").sum().alias("sum"),
            col("x").count().alias("n_valid"),
            col("x").len().alias("n_rows"),
        ])
        .select([
            col("muni").alias("region"),
            col("county"),
            col("year"),
            when(col("n_valid").eq(col("n_rows")))
                .then(col("sum"))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("x"),
            when(col("n_valid").lt(col("n_rows")))
                .then(lit("missing in source"))
                .otherwise(lit(NULL).cast(DataType::String))
                .alias("x_flag"),
        ]);
    let aggregate = |lf: LazyFrame, keys: Vec<Expr>, level: Level| {
        lf.group_by(keys)
            .agg([
                col("x").sum().alias("sum"),
                col("x").count().alias("n_valid"),
            ])
            .join(
                expected.clone().lazy(),
                [col("region")],
                [col("region")],
                JoinArgs::new(JoinType::Left),
            )
            .select([
                col("region"),
                lit(level.as_str()).alias("region_level"),
                col("year"),
                when(col("n_valid").eq(col("expected")))
                    .then(col("sum"))
                    .otherwise(lit(NULL).cast(DataType::Float64))
                    .alias("x"),
                when(col("n_valid").lt(col("expected")))
                    .then(concat_str(
                        [
                            lit("incomplete: "),
                            col("n_valid").cast(DataType::String),
                            lit(" of "),
                            col("expected").cast(DataType::String),
                            lit(" municipalities"),
                        ],
                        "",
                        false,
                    ))
                    .otherwise(lit(NULL).cast(DataType::String))
                    .alias("x_flag"),
            ])
    };
    let counties = aggregate(
        munis
            .clone()
            .select([col("county").alias("region"), col("year"), col("x")]),
        vec![col("region"), col("year")],
        Level::WellbeingCounty,
    );
    let country = aggregate(
        munis
            .clone()
            .select([lit(COUNTRY).alias("region"), col("year"), col("x")]),
        vec![col("region"), col("year")],
        Level::Country,
    );
    let munis = munis.select([
        col("region"),
        lit(Level::Municipality.as_str()).alias("region_level"),
        col("year"),
        col("x"),
        col("x_flag"),
    ]);
    concat([munis, counties, country], UnionArgs::default()).context("combining levels")
}

fn describe(r: &MeasureRef) -> String {
    format!("{}/{}.{}", r.dataset.get_ref(), r.measure, r.field.column())
}

fn indicator_frame(
    ind: &IndicatorConfig,
    input: &DeriveInput<'_>,
    crosswalk: &DataFrame,
    expected: &DataFrame,
) -> Result<LazyFrame, InternalError> {
    let id = ind.id.get_ref().as_str();
    let num = measure_levels(&ind.numerator, input, crosswalk, expected)?;
    let ref_year = input.crosswalk.reference_year;
    let (value, denominator, flags, method) = match (ind.aggregation.get_ref(), &ind.denominator) {
        (Aggregation::Ratio, Some(den_ref)) => {
            let den = measure_levels(den_ref, input, crosswalk, expected)?.select([
                col("region"),
                col("region_level"),
                col("year"),
                col("x").alias("d"),
                col("x_flag").alias("d_flag"),
            ]);
            let joined = num.join(
                den,
                [col("region"), col("region_level"), col("year")],
                [col("region"), col("region_level"), col("year")],
                JoinArgs::new(JoinType::Left),
            );
            let method = format!(
                "ratio: sum({}) / sum({}) × {} over municipalities of the {ref_year} division",
                describe(&ind.numerator),
                describe(den_ref),
                ind.scale
            );
            return Ok(finish(
                joined,
                id,
                ind,
                when(col("d").eq(lit(0.0)))
                    .then(lit(NULL).cast(DataType::Float64))
                    .otherwise(col("x") / col("d") * lit(ind.scale)),
                col("d"),
                concat_str(
                    [
                        col("x_flag").map_alias_prefix("numerator "),
                        col("d_flag").map_alias_prefix("denominator "),
                        when(col("d").eq(lit(0.0)))
                            .then(lit("zero denominator"))
                            .otherwise(lit(NULL).cast(DataType::String)),
                        when(col("d").is_null().and(col("d_flag").is_null()))
                            .then(lit("no denominator"))
                            .otherwise(lit(NULL).cast(DataType::String)),
                    ],
                    "; ",
                    true,
                ),
                method,
            ));
        }
        (Aggregation::Count, None) => (
            col("x") * lit(ind.scale),
            lit(NULL).cast(DataType::Float64),
            col("x_flag"),
            format!(
                "count: sum({}){} over municipalities of the {ref_year} division",
                describe(&ind.numerator),
                if (ind.scale - 1.0).abs() > f64::EPSILON {
                    format!(" × {}", ind.scale)
                } else {
                    String::new()
                }
            ),
        ),
        _ => {
            return Err(InternalError::Invariant(format!(
                "indicator `{id}`: aggregation and denominator disagree (checked at load)"
            )));
        }
    };
    Ok(finish(num, id, ind, value, denominator, flags, method))
}

/// Adds a text prefix to a nullable string expression (null stays null).
trait PrefixExt {
    fn map_alias_prefix(self, prefix: &str) -> Expr;
}

impl PrefixExt for Expr {
    fn map_alias_prefix(self, prefix: &str) -> Expr {
        when(self.clone().is_null())
            .then(lit(NULL).cast(DataType::String))
            .otherwise(concat_str([lit(prefix.to_owned()), self], "", false))
    }
}

fn finish(
    lf: LazyFrame,
    id: &str,
    ind: &IndicatorConfig,
    value: Expr,
    denominator: Expr,
    flags: Expr,
    method: String,
) -> LazyFrame {
    lf.select([
        lit(id.to_owned()).alias("indicator"),
        col("region"),
        col("region_level"),
        col("year"),
        value.alias("value"),
        col("x").alias("numerator"),
        denominator.alias("denominator"),
        lit(ind.unit.clone()).alias("unit"),
        lit(method).alias("method"),
        flags.alias("flags"),
    ])
    .with_column(
        // `concat_str` with ignore_nulls gives "" when every part is null: no flag is null.
        when(col("flags").eq(lit("")))
            .then(lit(NULL).cast(DataType::String))
            .otherwise(col("flags"))
            .alias("flags"),
    )
}

/// Adds `country_value`, `index_country` and `yoy_change_pct`, and orders the columns.
fn with_comparisons(lf: LazyFrame) -> LazyFrame {
    let country = lf.clone().filter(col("region").eq(lit(COUNTRY))).select([
        col("indicator"),
        col("year"),
        col("value").alias("country_value"),
    ]);
    let previous = lf.clone().select([
        col("indicator"),
        col("region"),
        (col("year") + lit(1i16))
            .cast(DataType::Int16)
            .alias("year"),
        col("value").alias("previous_value"),
    ]);
    lf.join(
        country,
        [col("indicator"), col("year")],
        [col("indicator"), col("year")],
        JoinArgs::new(JoinType::Left),
    )
    .join(
        previous,
        [col("indicator"), col("region"), col("year")],
        [col("indicator"), col("region"), col("year")],
        JoinArgs::new(JoinType::Left),
    )
    .select([
        col("indicator"),
        col("region"),
        col("region_level"),
        col("year"),
        col("value"),
        col("numerator"),
        col("denominator"),
        col("unit"),
        col("country_value"),
        when(col("country_value").eq(lit(0.0)))
            .then(lit(NULL).cast(DataType::Float64))
            .otherwise(col("value") / col("country_value") * lit(100.0))
            .alias("index_country"),
        when(col("previous_value").eq(lit(0.0)))
            .then(lit(NULL).cast(DataType::Float64))
            .otherwise((col("value") / col("previous_value") - lit(1.0)) * lit(100.0))
            .alias("yoy_change_pct"),
        col("method"),
        col("flags"),
    ])
}

fn empty_indicators() -> Result<DataFrame, InternalError> {
    let s = |n: &str| Column::new_empty(n.into(), &DataType::String);
    let f = |n: &str| Column::new_empty(n.into(), &DataType::Float64);
    DataFrame::new(
        0,
        vec![
            s("indicator"),
            s("region"),
            s("region_level"),
            Column::new_empty("year".into(), &DataType::Int16),
            f("value"),
            f("numerator"),
            f("denominator"),
            s("unit"),
            s("method"),
            s("flags"),
        ],
    )
    .context("building an empty indicators table")
}
