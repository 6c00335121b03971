//! The run's tables read into what the report shows: an indicator's values by region and year,
//! its peer comparison, its titles and unit; the population structure, KPA, maturity and roadmap
//! rows of a region.

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::*;

use crate::error::{InternalError, PolarsContext};

/// A column as text (null where null or absent).
pub(super) fn strs(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>, InternalError> {
    let what = "reading a table for the report";
    let Ok(c) = df.column(name) else {
        return Ok(vec![None; df.height()]);
    };
    let c = c.cast(&DataType::String).context(what)?;
    Ok(c.str()
        .context(what)?
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect())
}

/// A column as numbers (null where null or absent).
pub(super) fn nums(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, InternalError> {
    let what = "reading a table for the report";
    let Ok(c) = df.column(name) else {
        return Ok(vec![None; df.height()]);
    };
    let c = c.cast(&DataType::Float64).context(what)?;
    Ok(c.f64().context(what)?.iter().collect())
}

/// A column as years (null where null, absent or not a year).
pub(super) fn years(df: &DataFrame, name: &str) -> Result<Vec<Option<i16>>, InternalError> {
    let what = "reading a table for the report";
    let Ok(c) = df.column(name) else {
        return Ok(vec![None; df.height()]);
    };
    let c = c.cast(&DataType::Int16).context(what)?;
    Ok(c.i16().context(what)?.iter().collect())
}

/// One value of an indicator.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Point {
    pub value: Option<f64>,
    pub index_country: Option<f64>,
    pub peer_median: Option<f64>,
    pub best_quartile: Option<f64>,
}

/// What an indicator is.
#[derive(Debug, Clone, Default)]
pub(super) struct Meta {
    pub title_fi: String,
    pub title_sv: Option<String>,
    pub title_en: String,
    pub unit: String,
    pub group: Option<String>,
    pub higher_is: Option<String>,
    /// The datasets its formula reads (numerator, denominator, weight).
    pub datasets: BTreeSet<String>,
}

/// The indicators of the regions the report shows.
#[derive(Default)]
pub(super) struct Indicators {
    /// indicator -> region -> year -> point.
    pub values: BTreeMap<String, BTreeMap<String, BTreeMap<i16, Point>>>,
    /// indicator -> what it is.
    pub meta: BTreeMap<String, Meta>,
    /// Every year with a value.
    pub years: BTreeSet<i16>,
}

impl Indicators {
    /// An indicator's Finnish title and unit as a column header, `Väestö (henkilöä)`: its id in
    /// place of a title the catalogue does not give.
    pub fn header_fi(&self, id: &str) -> String {
        self.meta.get(id).map_or_else(
            || id.to_owned(),
            |m| {
                let title = if m.title_fi.is_empty() {
                    id
                } else {
                    &m.title_fi
                };
                format!("{title} ({})", m.unit)
            },
        )
    }

    /// An indicator's unit (empty when the catalogue does not give one).
    pub fn unit_of(&self, id: &str) -> &str {
        self.meta.get(id).map_or("", |m| m.unit.as_str())
    }

    /// Reads `indicators`, `comparisons` and `indicator_catalogue` for `regions`.
    pub fn read(
        indicators: &DataFrame,
        comparisons: Option<&DataFrame>,
        catalogue: Option<&DataFrame>,
        regions: &BTreeSet<String>,
    ) -> Result<Indicators, InternalError> {
        let mut out = Indicators::default();
        let (ind, reg, year, value, index, unit) = (
            strs(indicators, "indicator")?,
            strs(indicators, "region")?,
            years(indicators, "year")?,
            nums(indicators, "value")?,
            nums(indicators, "index_country")?,
            strs(indicators, "unit")?,
        );
        for i in 0..indicators.height() {
            let (Some(id), Some(r), Some(y)) = (&ind[i], &reg[i], year[i]) else {
                continue;
            };
            if !regions.contains(r) {
                continue;
            }
            let p = out
                .values
                .entry(id.clone())
                .or_default()
                .entry(r.clone())
                .or_default()
                .entry(y)
                .or_default();
            p.value = value[i];
            p.index_country = index[i];
            if value[i].is_some() {
                out.years.insert(y);
            }
            out.meta.entry(id.clone()).or_insert_with(|| Meta {
                unit: unit[i].clone().unwrap_or_default(),
                ..Meta::default()
            });
        }
        if let Some(cmp) = comparisons {
            let (ind, reg, year, median, best) = (
                strs(cmp, "indicator")?,
                strs(cmp, "region")?,
                years(cmp, "year")?,
                nums(cmp, "peer_median")?,
                nums(cmp, "peer_best_quartile")?,
            );
            for i in 0..cmp.height() {
                let (Some(id), Some(r), Some(y)) = (&ind[i], &reg[i], year[i]) else {
                    continue;
                };
                if let Some(p) = out
                    .values
                    .get_mut(id)
                    .and_then(|m| m.get_mut(r))
                    .and_then(|m| m.get_mut(&y))
                {
                    p.peer_median = median[i];
                    p.best_quartile = best[i];
                }
            }
        }
        if let Some(cat) = catalogue {
            let cols = [
                strs(cat, "indicator")?,
                strs(cat, "title_fi")?,
                strs(cat, "title_sv")?,
                strs(cat, "title_en")?,
                strs(cat, "unit")?,
                strs(cat, "group")?,
                strs(cat, "higher_is")?,
                strs(cat, "numerator")?,
                strs(cat, "denominator")?,
                strs(cat, "weight")?,
            ];
            #[allow(clippy::needless_range_loop)] // one row across the ten columns
            for i in 0..cat.height() {
                let Some(id) = &cols[0][i] else { continue };
                let m = out.meta.entry(id.clone()).or_default();
                m.title_fi = cols[1][i].clone().unwrap_or_default();
                m.title_sv.clone_from(&cols[2][i]);
                m.title_en = cols[3][i].clone().unwrap_or_default();
                if let Some(u) = &cols[4][i] {
                    m.unit.clone_from(u);
                }
                m.group.clone_from(&cols[5][i]);
                m.higher_is.clone_from(&cols[6][i]);
                // `dataset/measure.field`: the dataset of each measure of the formula.
                m.datasets = cols[7..]
                    .iter()
                    .filter_map(|c| c[i].as_deref())
                    .map(|f| f.split('/').next().unwrap_or(f).to_owned())
                    .collect();
            }
        }
        Ok(out)
    }

    /// The points of an indicator and region, by year.
    pub fn series(&self, id: &str, region: &str) -> Option<&BTreeMap<i16, Point>> {
        self.values.get(id)?.get(region)
    }

    /// The latest year with a value of an indicator for a region, and that point.
    pub fn latest(&self, id: &str, region: &str) -> Option<(i16, Point)> {
        self.series(id, region)?
            .iter()
            .rev()
            .find(|(_, p)| p.value.is_some())
            .map(|(y, p)| (*y, *p))
    }
}

/// One row of a table, its columns as text.
pub(super) struct Row(BTreeMap<String, Option<String>>);

impl Row {
    /// A column's text.
    pub fn get(&self, column: &str) -> Option<String> {
        self.0.get(column).cloned().flatten()
    }

    /// A column's number.
    pub fn num(&self, column: &str) -> Option<f64> {
        self.get(column).and_then(|v| v.parse::<f64>().ok())
    }
}

/// The rows of a table whose `region` is `region`, as (column -> text) maps in table order.
pub(super) fn rows_of(
    df: Option<&DataFrame>,
    region: &str,
    columns: &[&str],
) -> Result<Vec<Row>, InternalError> {
    let Some(df) = df else {
        return Ok(Vec::new());
    };
    let regions = strs(df, "region")?;
    let cols: Vec<(String, Vec<Option<String>>)> = columns
        .iter()
        .map(|c| Ok(((*c).to_owned(), strs(df, c)?)))
        .collect::<Result<_, InternalError>>()?;
    Ok((0..df.height())
        .filter(|i| regions[*i].as_deref() == Some(region))
        .map(|i| {
            Row(cols
                .iter()
                .map(|(name, v)| (name.clone(), v[i].clone()))
                .collect())
        })
        .collect())
}
