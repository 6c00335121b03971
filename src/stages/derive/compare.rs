//! Comparisons of the focus regions with the country and a peer group, and the region profile.
//!
//! `comparisons` has, for every indicator, year and region of interest (the pipeline's focus
//! regions, its peers and the country):
//! - the value, its index against the whole country (= 100) and its change from the year before,
//!   as in `indicators`;
//! - `avg_annual_change_pct`: the average annual change since the first of the pipeline's years
//!   with a value, `((value / first)^(1 / years) - 1) × 100`;
//! - the peer group's median and `best quartile` and the differences to them. Quartiles are
//!   interpolated linearly between the sorted peer values (Excel's `QUARTILE.INC`); the best
//!   quartile is the upper one when higher is better, the lower one when higher is worse, and
//!   none for indicators that are context rather than performance (`higher_is = "neutral"` or
//!   unknown). A region's own value counts in its peer group.
//!
//! - with a need indicator (`[comparison] need_indicator`, e.g. THL's age-standardised morbidity
//!   index, country = 100), `needs_adjusted_value = value / (need / 100)` for the indicators
//!   whose unit is `EUR per capita`: what a region spends per inhabitant given how ill its
//!   population is. The index of the same year is used; where that year has none yet (an index
//!   is published later than costs, and THL's old morbidity index 244 stopped at 2019), the
//!   latest earlier year's, and `need_index_year` says which year was used. THL's National
//!   Health Index (Sotkanet 5641) is the need indicator of the live pipelines.
//!
//! `region_profile` is the decision makers' view: one row per region of interest and year, one
//! column per indicator (ids as column names; titles in `indicator_catalogue`).

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::*;

use crate::error::{InternalError, PolarsContext};
use crate::model::config::{Direction, IndicatorConfig};
use crate::model::regions::COUNTRY;

/// Linear-interpolation quantile of sorted values (`q` in 0..=1).
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let as_f64 = |i: usize| f64::from(u32::try_from(i).unwrap_or(u32::MAX));
    let pos = q.clamp(0.0, 1.0) * as_f64(n - 1);
    // The largest index at or below `pos` (peer groups are small).
    let mut i = 0;
    while i + 1 < n && as_f64(i + 1) <= pos {
        i += 1;
    }
    let frac = pos - as_f64(i);
    Some(match sorted.get(i + 1) {
        Some(next) => sorted[i] + (next - sorted[i]) * frac,
        None => sorted[i],
    })
}

/// One indicator value.
struct Point {
    level: String,
    value: Option<f64>,
    index_country: Option<f64>,
    yoy: Option<f64>,
}

/// The `comparisons` and `region_profile` tables.
pub fn comparisons(
    indicators: &DataFrame,
    definitions: &[IndicatorConfig],
    focus: &[String],
    peers: &[String],
    years: &[i16],
    need_indicator: Option<&str>,
) -> Result<(DataFrame, DataFrame), InternalError> {
    let wanted: BTreeSet<&str> = focus
        .iter()
        .chain(peers)
        .map(String::as_str)
        .chain([COUNTRY])
        .collect();
    // The rows of the regions of interest only (a few of hundreds), before any is read as text.
    let codes = Series::new(
        "wanted".into(),
        wanted.iter().copied().collect::<Vec<&str>>(),
    );
    let indicators = &indicators
        .clone()
        .lazy()
        .filter(col("region").is_in(lit(codes).implode(false), false))
        .collect()
        .context("selecting the regions of interest")?;
    let text = |name: &str| -> Result<Vec<Option<String>>, InternalError> {
        let c = indicators.column(name).context("reading indicators")?;
        Ok(c.str()
            .context("reading indicators")?
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect())
    };
    let num = |name: &str| -> Result<Vec<Option<f64>>, InternalError> {
        Ok(indicators
            .column(name)
            .context("reading indicators")?
            .f64()
            .context("reading indicators")?
            .iter()
            .collect())
    };
    let (ids, regions, levels) = (text("indicator")?, text("region")?, text("region_level")?);
    let (values, index_country, yoy) =
        (num("value")?, num("index_country")?, num("yoy_change_pct")?);
    let year: Vec<Option<i16>> = indicators
        .column("year")
        .context("reading indicators")?
        .i16()
        .context("reading indicators")?
        .iter()
        .collect();
    // indicator -> region -> year -> value
    let mut data: BTreeMap<String, BTreeMap<String, BTreeMap<i16, Point>>> = BTreeMap::new();
    for i in 0..indicators.height() {
        let (Some(id), Some(region), Some(y)) = (&ids[i], &regions[i], year[i]) else {
            continue;
        };
        if !wanted.contains(region.as_str()) || !years.contains(&y) {
            continue;
        }
        data.entry(id.clone())
            .or_default()
            .entry(region.clone())
            .or_default()
            .insert(
                y,
                Point {
                    level: levels[i].clone().unwrap_or_default(),
                    value: values[i],
                    index_country: index_country[i],
                    yoy: yoy[i],
                },
            );
    }
    let direction = |id: &str| {
        definitions
            .iter()
            .find(|d| d.id == id)
            .and_then(|d| d.higher_is)
    };
    let peer_label = peers.join(", ");
    let per_capita = |id: &str| {
        definitions
            .iter()
            .find(|d| d.id == id)
            .is_some_and(|d| d.unit.starts_with("EUR per capita"))
    };
    let mut c = Rows::default();
    for (id, by_region) in &data {
        let dir = direction(id);
        for (region, by_year) in by_region {
            let first = by_year.iter().find_map(|(y, v)| v.value.map(|x| (*y, x)));
            for (y, v) in by_year {
                let mut peer_values: Vec<f64> = peers
                    .iter()
                    .filter_map(|p| by_region_value(&data, id, p, *y))
                    .collect();
                peer_values.sort_by(f64::total_cmp);
                let median = quantile(&peer_values, 0.5);
                let best = match dir {
                    Some(Direction::Better) => quantile(&peer_values, 0.75),
                    Some(Direction::Worse) => quantile(&peer_values, 0.25),
                    Some(Direction::Neutral) | None => None,
                };
                let avg = match (first, v.value) {
                    (Some((y0, x0)), Some(x)) if *y > y0 && x0 > 0.0 && x > 0.0 => {
                        Some(((x / x0).powf(1.0 / f64::from(*y - y0)) - 1.0) * 100.0)
                    }
                    _ => None,
                };
                c.indicator.push(id.clone());
                c.region.push(region.clone());
                c.level.push(v.level.clone());
                c.year.push(*y);
                c.value.push(v.value);
                c.index_country.push(v.index_country);
                c.yoy.push(v.yoy);
                c.avg.push(avg);
                c.avg_from.push(first.map(|f| f.0).filter(|f| f < y));
                c.peers.push(peer_label.clone());
                c.peer_n
                    .push(u32::try_from(peer_values.len()).unwrap_or(u32::MAX));
                c.median.push(median);
                c.diff_median.push(v.value.zip(median).map(|(a, b)| a - b));
                c.best.push(best);
                c.diff_best.push(v.value.zip(best).map(|(a, b)| a - b));
                c.higher_is.push(dir.map(|d| d.as_str().to_owned()));
                let need = need_indicator
                    .filter(|_| per_capita(id) && v.value.is_some())
                    .and_then(|n| need_of(&data, n, region, *y));
                let adjusted = match (v.value, need) {
                    (Some(x), Some((_, n))) if n > 0.0 => Some((x / (n / 100.0), need)),
                    _ => None,
                };
                c.needs_adjusted.push(adjusted.map(|a| a.0));
                c.need_year
                    .push(adjusted.and_then(|a| a.1).map(|(year, _)| year));
            }
        }
    }
    let comparisons = c.frame()?;
    let profile = profile(&data)?;
    Ok((comparisons, profile))
}

/// The need index of `region` for `year`: the same year's value, or else the latest earlier
/// year's (an index is published later than costs, and some are frozen), with the year used.
fn need_of(
    data: &BTreeMap<String, BTreeMap<String, BTreeMap<i16, Point>>>,
    need: &str,
    region: &str,
    year: i16,
) -> Option<(i16, f64)> {
    data.get(need)?
        .get(region)?
        .range(..=year)
        .rev()
        .find_map(|(y, p)| p.value.map(|v| (*y, v)))
}

fn by_region_value(
    data: &BTreeMap<String, BTreeMap<String, BTreeMap<i16, Point>>>,
    id: &str,
    region: &str,
    year: i16,
) -> Option<f64> {
    data.get(id)?.get(region)?.get(&year)?.value
}

/// One row per region and year, one column per indicator.
fn profile(
    data: &BTreeMap<String, BTreeMap<String, BTreeMap<i16, Point>>>,
) -> Result<DataFrame, InternalError> {
    let keys: BTreeSet<(String, i16)> = data
        .values()
        .flat_map(|by_region| {
            by_region
                .iter()
                .flat_map(|(r, by_year)| by_year.keys().map(move |y| (r.clone(), *y)))
        })
        .collect();
    let mut columns: Vec<Column> = vec![
        Series::new(
            "region".into(),
            keys.iter().map(|k| k.0.clone()).collect::<Vec<_>>(),
        )
        .into(),
        Series::new("year".into(), keys.iter().map(|k| k.1).collect::<Vec<_>>()).into(),
    ];
    for (id, by_region) in data {
        let v: Vec<Option<f64>> = keys
            .iter()
            .map(|(r, y)| {
                by_region
                    .get(r)
                    .and_then(|m| m.get(y))
                    .and_then(|v| v.value)
            })
            .collect();
        columns.push(Series::new(id.as_str().into(), v).into());
    }
    DataFrame::new(keys.len(), columns).context("building `region_profile`")
}

#[derive(Default)]
struct Rows {
    indicator: Vec<String>,
    region: Vec<String>,
    level: Vec<String>,
    year: Vec<i16>,
    value: Vec<Option<f64>>,
    index_country: Vec<Option<f64>>,
    yoy: Vec<Option<f64>>,
    avg: Vec<Option<f64>>,
    avg_from: Vec<Option<i16>>,
    peers: Vec<String>,
    peer_n: Vec<u32>,
    median: Vec<Option<f64>>,
    diff_median: Vec<Option<f64>>,
    best: Vec<Option<f64>>,
    diff_best: Vec<Option<f64>>,
    higher_is: Vec<Option<String>>,
    needs_adjusted: Vec<Option<f64>>,
    need_year: Vec<Option<i16>>,
}

impl Rows {
    fn frame(self) -> Result<DataFrame, InternalError> {
        let n = self.indicator.len();
        let peer_n: Vec<i64> = self.peer_n.iter().map(|v| i64::from(*v)).collect();
        DataFrame::new(
            n,
            vec![
                Series::new("indicator".into(), self.indicator).into(),
                Series::new("region".into(), self.region).into(),
                Series::new("region_level".into(), self.level).into(),
                Series::new("year".into(), self.year).into(),
                Series::new("value".into(), self.value).into(),
                Series::new("index_country".into(), self.index_country).into(),
                Series::new("yoy_change_pct".into(), self.yoy).into(),
                Series::new("avg_annual_change_pct".into(), self.avg).into(),
                Series::new("avg_annual_change_from".into(), self.avg_from).into(),
                Series::new("peer_group".into(), self.peers).into(),
                Series::new("peer_values".into(), peer_n).into(),
                Series::new("peer_median".into(), self.median).into(),
                Series::new("diff_to_peer_median".into(), self.diff_median).into(),
                Series::new("peer_best_quartile".into(), self.best).into(),
                Series::new("diff_to_peer_best_quartile".into(), self.diff_best).into(),
                Series::new("higher_is".into(), self.higher_is).into(),
                Series::new("needs_adjusted_value".into(), self.needs_adjusted).into(),
                Series::new("need_index_year".into(), self.need_year).into(),
            ],
        )
        .context("building `comparisons`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The need index of the same year; where that year has none, the latest earlier one (and
    /// which year it is); never a later year's.
    #[test]
    fn need_index_of_the_same_year_or_the_latest_before() {
        let point = |v: Option<f64>| Point {
            level: "wellbeing_county".into(),
            value: v,
            index_country: None,
            yoy: None,
        };
        let by_year: BTreeMap<i16, Point> = [
            (2019, point(Some(118.0))),
            (2021, point(Some(121.0))),
            (2022, point(None)),
            (2024, point(Some(125.0))),
        ]
        .into_iter()
        .collect();
        let data = BTreeMap::from([(
            "need".to_owned(),
            BTreeMap::from([("HVA12".to_owned(), by_year)]),
        )]);
        assert_eq!(need_of(&data, "need", "HVA12", 2021), Some((2021, 121.0)));
        assert_eq!(need_of(&data, "need", "HVA12", 2023), Some((2021, 121.0)));
        assert_eq!(need_of(&data, "need", "HVA12", 2020), Some((2019, 118.0)));
        assert_eq!(need_of(&data, "need", "HVA12", 2018), None);
        assert_eq!(need_of(&data, "need", "HVA13", 2024), None);
    }

    #[test]
    fn quartiles_as_excel_quartile_inc() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), Some(2.5));
        assert_eq!(quantile(&v, 0.25), Some(1.75));
        assert_eq!(quantile(&v, 0.75), Some(3.25));
        assert_eq!(quantile(&[7.0], 0.25), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
