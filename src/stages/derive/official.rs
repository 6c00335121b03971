//! Official values first, and their reconciliation with the values recomputed from
//! municipalities.
//!
//! Sotkanet publishes its indicators for counties (`HYVINVOINTIALUE`), collaboration areas
//! (`YTA`) and the whole country itself, and StatFin publishes county and country rows of its
//! tables; both withhold or leave out some municipal figures (THL: "alle viiden tapauksen
//! kuntakohtaisia tietoja ei julkisteta", counts under five are not published by municipality).
//! A county summed from the published municipal values then falls short of the figure decision
//! makers read in Sotkanet. So for `count`, `ratio` and `mean` indicators:
//!
//! - every region-year the publisher publishes (a municipality of the reference division, a
//!   county, a collaboration area, the country) takes the **published value**, `basis =
//!   "published"`; its `numerator`, `denominator` and `flags` are empty (the recomputed ones are
//!   in `reconciliation`);
//! - every other region-year keeps the value recomputed from municipalities, `basis =
//!   "recomputed"` (groupings the publisher does not publish, years it does not cover); a
//!   recomputed county over withheld municipal values stays null with its flag — it never sums
//!   what happens to be published. A municipality whose merged parts are published as separate
//!   municipalities in a year (data in that year's division) is recomputed as the sum of its
//!   parts: its own published row is only one of them.
//!
//! Which published figure stands for an indicator (`[[indicators]] published`):
//! - `"auto"` (default): for `count` and `mean`, the numerator measure's own rows (× the scale,
//!   as the recomputed value is); for a `ratio` of a measure's `abs_value`, the same measure's
//!   `value` when the observations' unit is the indicator's (Sotkanet's 171 `value` is the
//!   percentage its `absValue` over the population gives); otherwise none;
//! - `"none"`: always recomputed;
//! - a measure (`{ dataset, measure, field }`): its rows, read as they are in the indicator's unit.
//!
//! `index` indicators are always the published values (`basis = "published"`); the population
//! structure is always recomputed.
//!
//! `reconciliation` has a row for every indicator and region-year with both a published value and
//! a recomputed row: the two values, their difference (recomputed − published), and a status:
//! `match` (within the published value's rounding: half a unit of its last decimal),
//! `within_tolerance` (within `[[indicators]] reconcile.tolerance` beyond that), `beyond_tolerance`,
//! or `not_comparable` (nothing recomputed). `reason` names the cause where one is known: withheld
//! or missing municipal values, rounding, a merger that makes the year's division differ, or the
//! reason the pipeline states (`reconcile.reason`, e.g. mid-year against year-end population). A
//! pipeline turns differences into a `warn` or `error` check like any other:
//! `kind = "accepted_values"` on `reconciliation.status`.

use std::collections::{HashMap, HashSet};

use polars::prelude::*;

use super::DeriveInput;
use crate::error::{InternalError, PolarsContext};
use crate::model::config::{
    Aggregation, IndicatorConfig, MeasureRef, Published, PublishedRule, ReconcileConfig, ValueField,
};
use crate::model::regions::{Crosswalk, Level};
use crate::stages::conform::{floats, text, years};

/// The published values of one indicator, by year and region, not yet taken.
pub(crate) struct Official {
    by_year: HashMap<i16, HashMap<String, (&'static str, f64)>>,
}

impl Official {
    /// The published value of `region` in `year`, taken out (each is used once).
    pub(crate) fn take(&mut self, region: &str, year: i16) -> Option<f64> {
        self.by_year
            .get_mut(&year)?
            .remove(region)
            .map(|(_, value)| value)
    }

    /// The values not taken: (region, level, year, value), by year and region.
    pub(crate) fn into_rest(self) -> impl Iterator<Item = (String, &'static str, i16, f64)> {
        let mut rest: Vec<(String, &'static str, i16, f64)> = self
            .by_year
            .into_iter()
            .flat_map(|(year, regions)| {
                regions
                    .into_iter()
                    .map(move |(region, (level, value))| (region, level, year, value))
            })
            .collect();
        rest.sort_unstable_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
        rest.into_iter()
    }
}

/// The measure whose rows stand for `ind` where they are published, how they are scaled to the
/// indicator's unit, and how the `method` column describes them; `None` when the indicator is
/// always recomputed.
fn published_ref(
    ind: &IndicatorConfig,
    input: &DeriveInput<'_>,
) -> Result<Option<(MeasureRef, f64)>, InternalError> {
    Ok(match (&ind.published, ind.aggregation) {
        (Published::Measure(r), _) => Some((r.clone(), 1.0)),
        (Published::Rule(PublishedRule::None), _) | (_, Aggregation::Index) => None,
        (Published::Rule(PublishedRule::Auto), Aggregation::Count | Aggregation::Mean) => {
            Some((ind.numerator.clone(), ind.scale))
        }
        (Published::Rule(PublishedRule::Auto), Aggregation::Ratio) => {
            if ind.numerator.field != ValueField::AbsValue {
                return Ok(None);
            }
            let value = MeasureRef {
                field: ValueField::Value,
                ..ind.numerator.clone()
            };
            (unit_of(&value, input)?.as_deref() == Some(ind.unit.as_str())).then_some((value, 1.0))
        }
    })
}

/// The unit of a measure's observations (the first row's), if it has rows with one.
fn unit_of(r: &MeasureRef, input: &DeriveInput<'_>) -> Result<Option<String>, InternalError> {
    let what = "reading a measure's unit";
    let rows = super::dataset_rows(&r.dataset, input);
    let has_unit = rows
        .clone()
        .collect_schema()
        .context(what)?
        .contains("unit");
    if !has_unit {
        return Ok(None);
    }
    let units = rows
        .filter(
            col("measure")
                .eq(lit(r.measure.as_str()))
                .and(col("unit").is_not_null()),
        )
        .select([col("unit").cast(DataType::String)])
        .limit(1)
        .collect()
        .context(what)?;
    Ok(text(&units, "unit", what)?
        .first()
        .copied()
        .flatten()
        .map(str::to_owned))
}

/// The published values of `ind` at the levels an indicator has (municipalities of the
/// reference division, its counties, collaboration areas, the country), with the description of
/// how they were read; `None` when the indicator is always recomputed.
pub(crate) fn published_of(
    ind: &IndicatorConfig,
    input: &DeriveInput<'_>,
) -> Result<Option<(Official, String)>, InternalError> {
    let Some((r, factor)) = published_ref(ind, input)? else {
        return Ok(None);
    };
    let what = "reading published values";
    // Not kept in the memo: the published rows are read once.
    let rows = super::selection(&r, input)
        .select([
            col("region"),
            col("region_level"),
            col("year"),
            col(r.field.column()).alias("published"),
        ])
        .collect()
        .context(what)?;
    let (region, level, year, value) = (
        text(&rows, "region", what)?,
        text(&rows, "region_level", what)?,
        years(&rows, what)?,
        floats(&rows, "published", what)?,
    );
    let cw = input.crosswalk;
    // A municipality whose merged parts are published separately in a year is published in that
    // year's division: its own row is only a part of the reference division's municipality.
    let mut in_parts: HashSet<(&str, i16)> = HashSet::new();
    for i in 0..rows.height() {
        if let (Some(code), Some(year)) = (region[i], year[i])
            && let Some(successor) = cw.successor(code).filter(|s| *s != code)
        {
            in_parts.insert((successor, year));
        }
    }
    let mut by_year: HashMap<i16, HashMap<String, (&'static str, f64)>> = HashMap::new();
    for i in 0..rows.height() {
        let (Some(region), Some(level), Some(year), Some(value)) =
            (region[i], level[i], year[i], value[i])
        else {
            continue;
        };
        let Some(level) = kept_level(cw, region, level) else {
            continue;
        };
        if in_parts.contains(&(region, year)) {
            continue;
        }
        let value = value * factor;
        if value.is_finite() {
            // The first row of a region-year, as the levels take the first.
            by_year
                .entry(year)
                .or_default()
                .entry(region.to_owned())
                .or_insert((level, value));
        }
    }
    let scaled = if (factor - 1.0).abs() > f64::EPSILON {
        format!(" × {factor}")
    } else {
        String::new()
    };
    let method = format!(
        "published: {}/{}.{}{scaled} as its publisher publishes it for the region and year",
        r.dataset,
        r.measure,
        r.field.column()
    );
    Ok(Some((Official { by_year }, method)))
}

/// The level of a published row kept in an indicator: a municipality of the reference division,
/// a county of it, a collaboration area or the country.
fn kept_level(cw: &Crosswalk, region: &str, level: &str) -> Option<&'static str> {
    let level = [
        Level::Municipality,
        Level::WellbeingCounty,
        Level::CollaborationArea,
        Level::Country,
    ]
    .into_iter()
    .find(|l| l.as_str() == level)?;
    let kept = match level {
        Level::Municipality => cw.successor(region) == Some(region),
        Level::WellbeingCounty => cw.members().contains_key(region),
        _ => true,
    };
    kept.then_some(level.as_str())
}

/// One row of the `reconciliation` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconciliationRow {
    /// Indicator id.
    pub indicator: String,
    /// Canonical region code.
    pub region: String,
    /// Its level.
    pub region_level: String,
    /// Year.
    pub year: i16,
    /// The publisher's value (in the indicator's unit).
    pub published: f64,
    /// The value recomputed from municipalities (null when incomplete).
    pub recomputed: Option<f64>,
    /// recomputed − published.
    pub difference: Option<f64>,
    /// The difference as per cent of the published value.
    pub difference_pct: Option<f64>,
    /// The indicator's tolerance beyond rounding.
    pub tolerance: f64,
    /// `match`, `within_tolerance`, `beyond_tolerance` or `not_comparable`.
    pub status: &'static str,
    /// The known cause of a difference, if any.
    pub reason: Option<String>,
    /// The recomputed value's flags.
    pub recomputed_flags: Option<String>,
}

/// Makes an indicator's reconciliation rows.
pub(crate) struct Reconciler<'c> {
    pub(crate) indicator: &'c str,
    pub(crate) config: &'c ReconcileConfig,
    pub(crate) crosswalk: &'c Crosswalk,
    /// The `method` of the published rows.
    pub(crate) method: String,
}

impl Reconciler<'_> {
    /// The reconciliation of one region-year.
    pub(crate) fn row(
        &mut self,
        (region, level, year): (&str, &str, i16),
        published: f64,
        recomputed: Option<f64>,
        flags: Option<String>,
    ) -> ReconciliationRow {
        let difference = recomputed.map(|r| r - published);
        let rounding = half_unit(published);
        let tolerance = self.config.tolerance;
        let slack = 1e-9 * published.abs().max(1.0);
        let status = match difference.map(f64::abs) {
            None => "not_comparable",
            Some(d) if d <= rounding + slack => "match",
            Some(d) if d <= rounding + tolerance + slack => "within_tolerance",
            Some(_) => "beyond_tolerance",
        };
        let reason = match (status, difference) {
            ("not_comparable", _) => Some(match flags.as_deref() {
                Some(f) if f.contains("incomplete") => format!(
                    "municipal values not published or missing (THL does not publish municipal \
                     counts under five): {f}"
                ),
                Some(f) => format!("not recomputed: {f}"),
                None => "not recomputed".to_owned(),
            }),
            ("match", Some(d)) if d != 0.0 => Some(format!(
                "within the published value's rounding ({} decimals)",
                decimals(published)
            )),
            ("match", _) => None,
            _ => self.known_reason(region, level, year),
        };
        ReconciliationRow {
            indicator: self.indicator.to_owned(),
            region: region.to_owned(),
            region_level: level.to_owned(),
            year,
            published,
            recomputed,
            difference,
            difference_pct: difference
                .filter(|_| published != 0.0)
                .map(|d| d / published * 100.0)
                .filter(|p| p.is_finite()),
            tolerance,
            status,
            reason,
            recomputed_flags: flags,
        }
    }

    /// What is known to make the two differ: the pipeline's stated reason, and municipalities
    /// that were still separate in the year.
    fn known_reason(&self, region: &str, level: &str, year: i16) -> Option<String> {
        let mut parts: Vec<String> = self.config.reason.iter().cloned().collect();
        if level == Level::Municipality.as_str() {
            let separate = self.crosswalk.separate_in(region, year);
            if !separate.is_empty() {
                parts.push(format!(
                    "a different division: {} still separate in {year}, part of {region} in the \
                     {} division",
                    separate.join(", "),
                    self.crosswalk.reference_year
                ));
            }
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Digits after the decimal point of a value as it is written shortest (at most 12).
fn decimals(v: f64) -> usize {
    format!("{v}")
        .split_once('.')
        .map_or(0, |(_, frac)| frac.len())
        .min(12)
}

/// Half a unit of a value's last decimal: how far the unrounded figure can lie from it.
fn half_unit(v: f64) -> f64 {
    let d = i32::try_from(decimals(v)).unwrap_or(12);
    0.5 * 10f64.powi(-d)
}

/// The `reconciliation` table, in indicator, region level, region and year order.
pub fn frame(mut rows: Vec<ReconciliationRow>) -> Result<DataFrame, InternalError> {
    rows.sort_by(|a, b| {
        (&a.indicator, &a.region_level, &a.region, a.year).cmp(&(
            &b.indicator,
            &b.region_level,
            &b.region,
            b.year,
        ))
    });
    let s = |f: fn(&ReconciliationRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let o = |f: fn(&ReconciliationRow) -> Option<&str>| rows.iter().map(f).collect::<Vec<_>>();
    let x = |f: fn(&ReconciliationRow) -> Option<f64>| rows.iter().map(f).collect::<Vec<_>>();
    df!(
        "indicator" => s(|r| &r.indicator),
        "region" => s(|r| &r.region),
        "region_level" => s(|r| &r.region_level),
        "year" => rows.iter().map(|r| r.year).collect::<Vec<i16>>(),
        "published" => rows.iter().map(|r| r.published).collect::<Vec<f64>>(),
        "recomputed" => x(|r| r.recomputed),
        "difference" => x(|r| r.difference),
        "difference_pct" => x(|r| r.difference_pct),
        "tolerance" => rows.iter().map(|r| r.tolerance).collect::<Vec<f64>>(),
        "status" => s(|r| r.status),
        "reason" => o(|r| r.reason.as_deref()),
        "recomputed_flags" => o(|r| r.recomputed_flags.as_deref()),
    )
    .context("building the reconciliation table")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_follows_the_published_decimals() {
        assert_eq!(decimals(12.3), 1);
        assert_eq!(decimals(1500.0), 0);
        assert_eq!(decimals(0.125), 3);
        assert!((half_unit(12.3) - 0.05).abs() < 1e-12);
        assert!((half_unit(1500.0) - 0.5).abs() < 1e-12);
    }
}
