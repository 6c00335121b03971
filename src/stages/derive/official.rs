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
//! or `not_comparable` (nothing recomputed). `reason` names the cause of a difference beyond
//! rounding, or of a missing recomputation, where one is known: withheld or missing municipal
//! values, a merger that makes the year's division differ, or the reason the pipeline states
//! (`reconcile.reason`, e.g. mid-year against year-end population). A
//! pipeline turns differences into a `warn` or `error` check like any other:
//! `kind = "accepted_values"` on `reconciliation.status`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use polars::prelude::*;

use super::DeriveInput;
use crate::error::{InternalError, PolarsContext};
use crate::model::config::{
    Aggregation, IndicatorConfig, MeasureRef, Published, PublishedRule, ReconcileConfig, ValueField,
};
use crate::model::regions::{COUNTRY, Crosswalk, Level};
use crate::stages::conform::{floats, text, years};

/// The published values of one indicator, by year and region, not yet taken. Regions of the
/// reference division are borrowed from the crosswalk; only a collaboration area's code is
/// owned.
pub(crate) struct Official<'c> {
    by_year: HashMap<i16, HashMap<Cow<'c, str>, (&'static str, f64)>>,
}

impl Official<'_> {
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
                    .map(move |(region, (level, value))| (region.into_owned(), level, year, value))
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
pub(crate) fn published_of<'c>(
    ind: &IndicatorConfig,
    input: &DeriveInput<'c>,
) -> Result<Option<(Official<'c>, String)>, InternalError> {
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
    let mut by_year: HashMap<i16, HashMap<Cow<'c, str>, (&'static str, f64)>> = HashMap::new();
    for i in 0..rows.height() {
        let (Some(region), Some(level), Some(year), Some(value)) =
            (region[i], level[i], year[i], value[i])
        else {
            continue;
        };
        let Some((code, level)) = kept(cw, region, level) else {
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
                .entry(code)
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

/// A published row kept in an indicator — a municipality of the reference division, a county of
/// it, a collaboration area or the country —: its code (borrowed from the crosswalk where it is
/// one of the division's) and level.
fn kept<'c>(cw: &'c Crosswalk, region: &str, level: &str) -> Option<(Cow<'c, str>, &'static str)> {
    let level = [
        Level::Municipality,
        Level::WellbeingCounty,
        Level::CollaborationArea,
        Level::Country,
    ]
    .into_iter()
    .find(|l| l.as_str() == level)?;
    let code: Cow<'c, str> = match level {
        Level::Municipality => Cow::Borrowed(cw.successor(region).filter(|s| *s == region)?),
        Level::WellbeingCounty => Cow::Borrowed(cw.members().get_key_value(region)?.0.as_str()),
        Level::Country if region == COUNTRY => Cow::Borrowed(COUNTRY),
        _ => Cow::Owned(region.to_owned()),
    };
    Some((code, level.as_str()))
}

/// Makes an indicator's reconciliation rows, as columns.
pub(crate) struct Reconciler<'c> {
    pub(crate) indicator: &'c str,
    pub(crate) config: &'c ReconcileConfig,
    pub(crate) crosswalk: &'c Crosswalk,
    /// The `method` of the published rows.
    pub(crate) method: String,
    rows: Columns<'c>,
}

/// The varying columns of an indicator's reconciliation rows.
#[derive(Default)]
struct Columns<'c> {
    region: Vec<&'c str>,
    level: Vec<&'c str>,
    year: Vec<i16>,
    published: Vec<f64>,
    recomputed: Vec<Option<f64>>,
    status: Vec<&'static str>,
    reason: Vec<Option<Cow<'static, str>>>,
    flags: Vec<Option<String>>,
}

impl<'c> Reconciler<'c> {
    /// A reconciler of `indicator`'s rows.
    pub(crate) fn new(
        indicator: &'c str,
        config: &'c ReconcileConfig,
        crosswalk: &'c Crosswalk,
        method: String,
    ) -> Reconciler<'c> {
        Reconciler {
            indicator,
            config,
            crosswalk,
            method,
            rows: Columns::default(),
        }
    }

    /// The reconciliation of one region-year.
    pub(crate) fn row(
        &mut self,
        (region, level, year): (&'c str, &'c str, i16),
        published: f64,
        recomputed: Option<f64>,
        flags: Option<String>,
    ) {
        let difference = recomputed.map(|r| r - published);
        let decimals = decimals(published);
        let rounding = half_unit_of(decimals);
        let tolerance = self.config.tolerance;
        let slack = 1e-9 * published.abs().max(1.0);
        let status = match difference.map(f64::abs) {
            None => "not_comparable",
            Some(d) if d <= rounding + slack => "match",
            Some(d) if d <= rounding + tolerance + slack => "within_tolerance",
            Some(_) => "beyond_tolerance",
        };
        let reason: Option<Cow<'static, str>> = match status {
            "not_comparable" => Some(Cow::Owned(match flags.as_deref() {
                Some(f) if f.contains("incomplete") => format!(
                    "municipal values not published or missing (THL does not publish municipal \
                     counts under five): {f}"
                ),
                Some(f) => format!("not recomputed: {f}"),
                None => "not recomputed".to_owned(),
            })),
            // Within the published value's rounding: the status says so.
            "match" => None,
            _ => self.known_reason(region, level, year).map(Cow::Owned),
        };
        let r = &mut self.rows;
        r.region.push(region);
        r.level.push(level);
        r.year.push(year);
        r.published.push(published);
        r.recomputed.push(recomputed);
        r.status.push(status);
        r.reason.push(reason);
        r.flags.push(flags);
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

    /// The rows as a block of the `reconciliation` table, by region level, region and year.
    pub(crate) fn frame(self) -> Result<DataFrame, InternalError> {
        frame_of(self.indicator, self.config.tolerance, &self.rows)
    }
}

/// An indicator's reconciliation rows as a frame, by region level, region and year.
fn frame_of(indicator: &str, tolerance: f64, r: &Columns<'_>) -> Result<DataFrame, InternalError> {
    let n = r.year.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| {
        (r.level[a], r.region[a], r.year[a]).cmp(&(r.level[b], r.region[b], r.year[b]))
    });
    let pick = |v: &[Option<f64>]| order.iter().map(|&i| v[i]).collect::<Vec<_>>();
    let difference: Vec<Option<f64>> = order
        .iter()
        .map(|&i| r.recomputed[i].map(|x| x - r.published[i]))
        .collect();
    let difference_pct: Vec<Option<f64>> = order
        .iter()
        .zip(&difference)
        .map(|(&i, d)| {
            let p = r.published[i];
            d.filter(|_| p != 0.0)
                .map(|d| d / p * 100.0)
                .filter(|x| x.is_finite())
        })
        .collect();
    let columns = vec![
        Column::new_scalar(
            "indicator".into(),
            Scalar::from(PlSmallStr::from(indicator)),
            n,
        ),
        Column::new(
            "region".into(),
            order.iter().map(|&i| r.region[i]).collect::<Vec<_>>(),
        ),
        Column::new(
            "region_level".into(),
            order.iter().map(|&i| r.level[i]).collect::<Vec<_>>(),
        ),
        Column::new(
            "year".into(),
            order.iter().map(|&i| r.year[i]).collect::<Vec<_>>(),
        ),
        Column::new(
            "published".into(),
            order.iter().map(|&i| r.published[i]).collect::<Vec<_>>(),
        ),
        Column::new("recomputed".into(), pick(&r.recomputed)),
        Column::new("difference".into(), difference),
        Column::new("difference_pct".into(), difference_pct),
        Column::new_scalar("tolerance".into(), Scalar::from(tolerance), n),
        Column::new(
            "status".into(),
            order.iter().map(|&i| r.status[i]).collect::<Vec<_>>(),
        ),
        Column::new(
            "reason".into(),
            order
                .iter()
                .map(|&i| r.reason[i].as_deref())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "recomputed_flags".into(),
            order
                .iter()
                .map(|&i| r.flags[i].as_deref())
                .collect::<Vec<_>>(),
        ),
    ];
    let mut df = DataFrame::new(n, columns).context("building the reconciliation table")?;
    // The columns of few distinct values dictionary-encoded (4 bytes a row, as `observations`'
    // text columns): at national scale the table has millions of rows.
    for name in [
        "indicator",
        "region",
        "region_level",
        "status",
        "reason",
        "recomputed_flags",
    ] {
        let categories = Categories::new(
            format!("reconciliation.{name}").into(),
            "mittari".into(),
            CategoricalPhysical::U32,
        );
        let dtype = DataType::Categorical(categories.clone(), categories.mapping());
        let cast = df
            .column(name)
            .and_then(|c| c.cast(&dtype))
            .context("building the reconciliation table")?;
        df.replace(name, cast)
            .context("building the reconciliation table")?;
    }
    Ok(df)
}

/// The most decimals a published value is taken to have.
const MAX_DECIMALS: usize = 12;

/// Digits after the decimal point of a value as it is written (at most [`MAX_DECIMALS`]): the
/// fewest with which it is whole.
fn decimals(v: f64) -> usize {
    (0..MAX_DECIMALS)
        .find(|&d| {
            let scaled = v * 10f64.powi(i32::try_from(d).unwrap_or(0));
            (scaled - scaled.round()).abs() <= 1e-9 * scaled.abs().max(1.0)
        })
        .unwrap_or(MAX_DECIMALS)
}

/// Half a unit of the last of `decimals` decimals: how far an unrounded figure can lie from it.
fn half_unit_of(decimals: usize) -> f64 {
    0.5 * 10f64.powi(-i32::try_from(decimals).unwrap_or(12))
}

/// An empty `reconciliation` table.
pub fn empty() -> Result<DataFrame, InternalError> {
    frame_of("", 0.0, &Columns::default())
}

/// The blocks of several indicators as one `reconciliation` table, in indicator order.
pub fn concatenated(mut blocks: Vec<(String, DataFrame)>) -> Result<DataFrame, InternalError> {
    blocks.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Option<DataFrame> = None;
    for (_, block) in blocks {
        match out.as_mut() {
            None => out = Some(block),
            Some(all) => {
                all.vstack_mut_owned(block)
                    .context("building the reconciliation table")?;
            }
        }
    }
    match out {
        Some(all) => Ok(all),
        None => empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_follows_the_published_decimals() {
        assert_eq!(decimals(12.3), 1);
        assert_eq!(decimals(1500.0), 0);
        assert_eq!(decimals(0.125), 3);
        assert_eq!(decimals(4512.25), 2);
        assert!((half_unit_of(decimals(12.3)) - 0.05).abs() < 1e-12);
        assert!((half_unit_of(decimals(1500.0)) - 0.5).abs() < 1e-12);
    }
}
