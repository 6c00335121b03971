//! An indicator's rows from its measures' levels for the `count`, `ratio` and `mean` rules, and
//! the comparisons every indicator row gets (country value, index vs country, change from the
//! previous year), computed over the rows: a catalogue has hundreds of indicators of a few
//! thousand rows each, where a polars query per indicator cost more than its arithmetic. The
//! columns are those of [`super::finish`] (which `index` indicators and the population structure
//! still go through); the rules are in the module doc of [`crate::stages::derive`].
//!
//! A measure's rows leave their frame once (when its levels are summed, in
//! [`crate::stages::conform::of_measure`]) and become a frame once (here, with the comparisons):
//! levels, quotients and comparisons are computed on the same columns in between.

use std::collections::HashMap;

use polars::prelude::*;

use crate::error::{InternalError, PolarsContext};
use crate::model::regions::COUNTRY;
use crate::stages::conform::{MeasureLevels, Numbered, floats, text, years};

/// What every row of an indicator repeats.
pub(crate) struct Indicator {
    pub id: String,
    pub unit: String,
    pub method: String,
    pub scale: f64,
}

/// An indicator's rows computed from its measures' levels, as columns, before the comparisons.
pub(crate) struct Computed<'a> {
    pub(crate) ind: Indicator,
    rows: Rows<'a>,
    /// Rows published where nothing was recomputed ([`Computed::take_published`]).
    extra: Vec<Extra>,
}

/// A published row where nothing was recomputed (e.g. a collaboration area, or an indicator
/// published only for counties).
struct Extra {
    region: String,
    level: &'static str,
    year: i16,
    value: Option<f64>,
    flag: Option<String>,
}

/// `count`: the numerator's levels × scale, flagged as the levels are.
pub(crate) fn count<'a>(ind: Indicator, num: &MeasureLevels<'a>) -> Computed<'a> {
    let mut rows = Rows::default();
    for i in 0..num.len() {
        let x = num.x[i];
        let (value, overflow) = finite(x.map(|x| x * ind.scale));
        rows.push(
            key(num, i),
            value,
            x,
            None,
            flags(&[num.flag[i].clone(), overflow]),
        );
    }
    Computed::new(ind, rows)
}

/// How the flags of a quotient name its two sides.
pub(crate) struct Sides {
    /// Prefix of the numerator's flags.
    pub numerator: &'static str,
    /// Prefix of the denominator's flags.
    pub denominator: &'static str,
    /// The flag of a zero denominator.
    pub zero: &'static str,
    /// The flag of a row without a denominator row, if any.
    pub absent: Option<&'static str>,
}

/// `ratio`'s sides.
pub(crate) const RATIO: Sides = Sides {
    numerator: "numerator",
    denominator: "denominator",
    zero: "zero denominator",
    absent: Some("no denominator"),
};

/// `mean`'s sides: `sum(x × w) / sum(w)`.
pub(crate) const MEAN: Sides = Sides {
    numerator: "weighted values",
    denominator: "weights",
    zero: "zero total weight",
    absent: None,
};

/// `num / den × scale` at every level (`ratio`: `sum(numerator) / sum(denominator)`; `mean`:
/// `sum(x × w) / sum(w)`), null for a zero or missing denominator; the flags of both sides,
/// prefixed, and why a value is missing.
pub(crate) fn quotient<'a>(
    ind: Indicator,
    sides: &Sides,
    num: &MeasureLevels<'a>,
    den: &MeasureLevels<'a>,
) -> Computed<'a> {
    let mut by_key: HashMap<Key<'_>, usize> = HashMap::with_capacity(den.len());
    for i in 0..den.len() {
        // The first row of a key, as a left join would give each numerator row one match when
        // keys are unique (levels' keys are).
        by_key.entry(key(den, i)).or_insert(i);
    }
    let mut rows = Rows::default();
    for i in 0..num.len() {
        let x = num.x[i];
        let (d, d_flag) = match by_key.get(&key(num, i)) {
            Some(&j) => (den.x[j], den.flag[j].as_deref()),
            None => (None, None),
        };
        let zero = d == Some(0.0);
        let (value, overflow) = if zero {
            (None, None)
        } else {
            finite(x.zip(d).map(|(x, d)| x / d * ind.scale))
        };
        let flag = flags(&[
            overflow,
            num.flag[i]
                .as_deref()
                .map(|f| format!("{} {f}", sides.numerator)),
            d_flag.map(|f| format!("{} {f}", sides.denominator)),
            zero.then(|| sides.zero.to_owned()),
            sides
                .absent
                .filter(|_| d.is_none() && d_flag.is_none())
                .map(str::to_owned),
        ]);
        rows.push(key(num, i), value, x, d, flag);
    }
    Computed::new(ind, rows)
}

impl<'a> Computed<'a> {
    fn new(ind: Indicator, rows: Rows<'a>) -> Computed<'a> {
        Computed {
            ind,
            rows,
            extra: Vec::new(),
        }
    }

    /// Official values first: every row whose region and year `official` publishes takes the
    /// published value (without the recomputed numerator, denominator and flags, which go to
    /// the reconciliation rows returned), and the published region-years without a recomputed
    /// row are added.
    pub(crate) fn take_published(
        &mut self,
        mut official: super::official::Official<'_>,
        reconcile: &mut super::official::Reconciler<'a>,
    ) {
        let rows = &mut self.rows;
        for i in 0..rows.value.len() {
            let (Some(region), Some(level), Some(year)) =
                (rows.region[i], rows.level[i], rows.year[i])
            else {
                continue;
            };
            let Some(published) = official.take(region, year) else {
                continue;
            };
            reconcile.row(
                (region, level, year),
                published,
                rows.value[i],
                rows.flags[i].take(),
            );
            rows.value[i] = Some(published);
            rows.numerator[i] = None;
            rows.denominator[i] = None;
            rows.published[i] = true;
        }
        self.extra = official
            .into_rest()
            .map(|(region, level, year, value)| Extra {
                region,
                level,
                year,
                value: Some(value),
                flag: None,
            })
            .collect();
        // One method for the indicator's rows; `basis` says which part each row is.
        self.ind.method = format!(
            "{} where its publisher publishes the region and year (basis = published); otherwise {}",
            reconcile.method, self.ind.method
        );
    }

    /// Every value in the prices of the deflator's base year; a year without an index leaves
    /// the value missing, flagged.
    pub(crate) fn deflate(&mut self, deflator: &super::prices::Deflator) {
        let apply = |value: &mut Option<f64>, year: Option<i16>, flag: &mut Option<String>| {
            let Some(v) = *value else {
                return;
            };
            match year.map(|y| deflator.factor(y)) {
                Some(Ok(f)) => {
                    let (real, overflow) = finite(Some(v * f));
                    *value = real;
                    if let Some(o) = overflow {
                        *flag = flags(&[flag.take(), Some(o)]);
                    }
                }
                Some(Err(missing)) => {
                    *value = None;
                    *flag = flags(&[flag.take(), Some(missing)]);
                }
                None => *value = None,
            }
        };
        let rows = &mut self.rows;
        for i in 0..rows.value.len() {
            apply(&mut rows.value[i], rows.year[i], &mut rows.flags[i]);
        }
        for e in &mut self.extra {
            apply(&mut e.value, Some(e.year), &mut e.flag);
        }
        self.ind.method = format!("{}; {}", self.ind.method, deflator.method);
    }

    /// The rows and the published extras as columns of one table.
    fn view(&self) -> View<'_> {
        let r = &self.rows;
        let e = &self.extra;
        let none = || std::iter::repeat_n(None, e.len());
        View {
            region: r
                .region
                .iter()
                .copied()
                .chain(e.iter().map(|x| Some(x.region.as_str())))
                .collect(),
            level: r
                .level
                .iter()
                .copied()
                .chain(e.iter().map(|x| Some(x.level)))
                .collect(),
            year: r
                .year
                .iter()
                .copied()
                .chain(e.iter().map(|x| Some(x.year)))
                .collect(),
            value: r
                .value
                .iter()
                .copied()
                .chain(e.iter().map(|x| x.value))
                .collect(),
            numerator: r.numerator.iter().copied().chain(none()).collect(),
            denominator: r.denominator.iter().copied().chain(none()).collect(),
            flags: r
                .flags
                .iter()
                .map(Option::as_deref)
                .chain(e.iter().map(|x| x.flag.as_deref()))
                .collect(),
            published: r
                .published
                .iter()
                .copied()
                .chain(e.iter().map(|_| true))
                .collect(),
        }
    }

    /// The `method` column (one for the indicator) and each row's `basis`, in `order`.
    fn method_and_basis(&self, published: &[bool], order: &[usize]) -> (Column, Column) {
        let basis: Vec<&str> = order
            .iter()
            .map(|&i| if published[i] { PUBLISHED } else { RECOMPUTED })
            .collect();
        (
            repeat("method", &self.ind.method, order.len()),
            Column::new("basis".into(), basis),
        )
    }
}

/// A text column of two values dictionary-encoded (4 bytes a row, where a view takes 16): every
/// block's `basis` in the same named categories, so that the blocks stack.
fn dictionary(column: &Column) -> Result<Column, InternalError> {
    let categories = Categories::new(
        format!("indicators.{}", column.name()).into(),
        "mittari".into(),
        CategoricalPhysical::U32,
    );
    column
        .cast(&DataType::Categorical(
            categories.clone(),
            categories.mapping(),
        ))
        .context("encoding `basis`")
}

/// `basis` of a row whose value is the publisher's own.
pub(crate) const PUBLISHED: &str = "published";
/// `basis` of a row computed from municipalities.
pub(crate) const RECOMPUTED: &str = "recomputed";

/// An indicator's rows and published extras, as columns.
struct View<'v> {
    region: Vec<Option<&'v str>>,
    level: Vec<Option<&'v str>>,
    year: Vec<Option<i16>>,
    value: Vec<Option<f64>>,
    numerator: Vec<Option<f64>>,
    denominator: Vec<Option<f64>>,
    flags: Vec<Option<&'v str>>,
    published: Vec<bool>,
}

/// A value, or missing with the overflow flag when it is not a finite number.
fn finite(value: Option<f64>) -> (Option<f64>, Option<String>) {
    match value {
        Some(v) if !v.is_finite() => (None, Some(crate::stages::conform::OVERFLOW.to_owned())),
        v => (v, None),
    }
}

/// The parts that are present, joined by `; `; none is no flag.
fn flags(parts: &[Option<String>]) -> Option<String> {
    let present: Vec<&str> = parts.iter().flatten().map(String::as_str).collect();
    (!present.is_empty()).then(|| present.join("; "))
}

/// (`region`, `region_level`, `year`).
type Key<'a> = (Option<&'a str>, Option<&'a str>, Option<i16>);

/// The key of a level's row `i`.
fn key<'a>(levels: &MeasureLevels<'a>, i: usize) -> Key<'a> {
    (levels.region[i], Some(levels.level[i]), levels.year[i])
}

/// The varying columns of an indicator's rows.
#[derive(Default)]
struct Rows<'a> {
    region: Vec<Option<&'a str>>,
    level: Vec<Option<&'a str>>,
    year: Vec<Option<i16>>,
    value: Vec<Option<f64>>,
    numerator: Vec<Option<f64>>,
    denominator: Vec<Option<f64>>,
    flags: Vec<Option<String>>,
    /// Whether the value is the publisher's own.
    published: Vec<bool>,
}

impl<'a> Rows<'a> {
    fn push(
        &mut self,
        (region, level, year): Key<'a>,
        value: Option<f64>,
        numerator: Option<f64>,
        denominator: Option<f64>,
        flags: Option<String>,
    ) {
        self.region.push(region);
        self.level.push(level);
        self.year.push(year);
        self.value.push(value);
        self.numerator.push(numerator);
        self.denominator.push(denominator);
        self.flags.push(flags);
        self.published.push(false);
    }
}

/// A column of `n` copies of `v`.
fn repeat(name: &str, v: &str, n: usize) -> Column {
    Column::new_scalar(name.into(), Scalar::from(PlSmallStr::from(v)), n)
}

impl Computed<'_> {
    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.rows.value.len() + self.extra.len()
    }

    /// The rows as they are, with the columns of [`super::finish`] (to be compared with other
    /// blocks of the same indicator, see `compared_in_order`).
    pub(crate) fn into_frame(self) -> Result<DataFrame, InternalError> {
        let v = self.view();
        let n = v.value.len();
        let all: Vec<usize> = (0..n).collect();
        let (method, basis) = self.method_and_basis(&v.published, &all);
        let columns = vec![
            repeat("indicator", &self.ind.id, n),
            Column::new("region".into(), v.region),
            Column::new("region_level".into(), v.level),
            Column::new("year".into(), v.year),
            Column::new("value".into(), v.value),
            Column::new("numerator".into(), v.numerator),
            Column::new("denominator".into(), v.denominator),
            repeat("unit", &self.ind.unit, n),
            method,
            basis,
            Column::new("flags".into(), v.flags),
        ];
        DataFrame::new(n, columns).context("building an indicator's rows")
    }

    /// The rows with their comparisons, ordered and with the columns of the `indicators` table
    /// (as [`with_comparisons`] gives them): the indicator's one frame.
    pub(crate) fn compared(self) -> Result<DataFrame, InternalError> {
        let v = self.view();
        let n = v.value.len();
        let one_indicator = vec![0; n];
        let c = comparisons(&one_indicator, &v.region, &v.level, &v.year, &v.value);
        let pick = |v: &[Option<f64>]| c.order.iter().map(|&i| v[i]).collect::<Vec<_>>();
        let (method, basis) = self.method_and_basis(&v.published, &c.order);
        let basis = dictionary(&basis)?;
        let columns = vec![
            repeat("indicator", &self.ind.id, n),
            Column::new(
                "region".into(),
                c.order.iter().map(|&i| v.region[i]).collect::<Vec<_>>(),
            ),
            Column::new(
                "region_level".into(),
                c.order.iter().map(|&i| v.level[i]).collect::<Vec<_>>(),
            ),
            Column::new(
                "year".into(),
                c.order.iter().map(|&i| v.year[i]).collect::<Vec<_>>(),
            ),
            Column::new("value".into(), pick(&v.value)),
            Column::new("numerator".into(), pick(&v.numerator)),
            Column::new("denominator".into(), pick(&v.denominator)),
            repeat("unit", &self.ind.unit, n),
            Column::new("country_value".into(), c.country_value),
            Column::new("index_country".into(), c.index),
            Column::new("yoy_change_pct".into(), c.yoy),
            method,
            basis,
            Column::new(
                "flags".into(),
                c.order.iter().map(|&i| v.flags[i]).collect::<Vec<_>>(),
            ),
        ];
        DataFrame::new(n, columns).context("comparing indicators")
    }
}

/// Each row's comparisons, and the order the rows go in.
struct Comparisons {
    /// Row numbers by indicator, region level, region and year.
    order: Vec<usize>,
    /// In `order`: the country's value of the same indicator and year.
    country_value: Vec<Option<f64>>,
    /// In `order`: value / country value × 100.
    index: Vec<Option<f64>>,
    /// In `order`: change from the same region's value a year earlier, per cent.
    yoy: Vec<Option<f64>>,
}

/// The comparisons of rows given as their indicator's rank, region, level, year and value.
fn comparisons(
    indicator_rank: &[u32],
    region: &[Option<&str>],
    level: &[Option<&str>],
    year: &[Option<i16>],
    value: &[Option<f64>],
) -> Comparisons {
    let (region_rank, level_rank) = (ranks(region), ranks(level));
    let mut order: Vec<usize> = (0..value.len()).collect();
    order.sort_unstable_by_key(|&i| (indicator_rank[i], level_rank[i], region_rank[i], year[i], i));
    let mut country: PlHashMap<(u32, Option<i16>), Option<f64>> = PlHashMap::new();
    for i in 0..value.len() {
        if region[i] == Some(COUNTRY) {
            country
                .entry((indicator_rank[i], year[i]))
                .or_insert(value[i]);
        }
    }
    let n = order.len();
    let (mut country_value, mut index, mut yoy) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (k, &i) in order.iter().enumerate() {
        let c = country
            .get(&(indicator_rank[i], year[i]))
            .copied()
            .flatten();
        country_value.push(c);
        index.push(
            relative_to(value[i], c)
                .map(|r| r * 100.0)
                .filter(|v| v.is_finite()),
        );
        // Sorted by (indicator, level, region, year): the region's previous year, when there is
        // one, is the row before.
        let previous = k
            .checked_sub(1)
            .map(|p| order[p])
            .filter(|&p| {
                indicator_rank[p] == indicator_rank[i]
                    && region_rank[p] == region_rank[i]
                    && year[p]
                        .zip(year[i])
                        .is_some_and(|(a, b)| i32::from(a) + 1 == i32::from(b))
            })
            .and_then(|p| value[p]);
        yoy.push(
            relative_to(value[i], previous)
                .map(|r| (r - 1.0) * 100.0)
                .filter(|v| v.is_finite()),
        );
    }
    Comparisons {
        order,
        country_value,
        index,
        yoy,
    }
}

/// Adds `country_value` (the country's value of the same indicator and year), `index_country`
/// (value / country value × 100) and `yoy_change_pct` (change from the same region's value a
/// year earlier, per cent), both null where what they divide by is 0 or missing; orders the rows
/// by indicator, region level, region and year, and the columns as the `indicators` table has
/// them.
pub(crate) fn with_comparisons(all: &DataFrame) -> Result<DataFrame, InternalError> {
    let what = "comparing indicators";
    let (indicator, region, level) = (
        text(all, "indicator", what)?,
        text(all, "region", what)?,
        text(all, "region_level", what)?,
    );
    let (year, value) = (years(all, what)?, floats(all, "value", what)?);
    let Comparisons {
        order,
        country_value,
        index,
        yoy,
    } = comparisons(&ranks(&indicator), &region, &level, &year, &value);
    let idx = IdxCa::from_vec(
        "order".into(),
        order
            .iter()
            .map(|&i| IdxSize::try_from(i).unwrap_or(IdxSize::MAX))
            .collect(),
    );
    let mut out = all
        .select([
            "indicator",
            "region",
            "region_level",
            "year",
            "value",
            "numerator",
            "denominator",
            "unit",
            "method",
            "basis",
            "flags",
        ])
        .context(what)?
        .take(&idx)
        .context(what)?;
    if !matches!(
        out.column("basis").context(what)?.dtype(),
        DataType::Categorical(..)
    ) {
        let basis = dictionary(out.column("basis").context(what)?)?;
        out.replace("basis", basis).context(what)?;
    }
    // The comparisons go between `unit` and `method`.
    for (k, column) in [
        Column::new("country_value".into(), country_value),
        Column::new("index_country".into(), index),
        Column::new("yoy_change_pct".into(), yoy),
    ]
    .into_iter()
    .enumerate()
    {
        out.insert_column(8 + k, column).context(what)?;
    }
    Ok(out)
}

/// `value / base`, null when either is missing or the base is 0.
fn relative_to(value: Option<f64>, base: Option<f64>) -> Option<f64> {
    let (v, b) = value.zip(base)?;
    Some(v / b).filter(|r| b != 0.0 && r.is_finite())
}

/// Each row's place among the column's distinct values in byte order (null first, as 0).
fn ranks(column: &[Option<&str>]) -> Vec<u32> {
    // Rows of an indicator, a level or a region come in runs: look up only where the value
    // changes.
    let mut distinct: Numbered<&str> = Numbered::default();
    let mut last: Option<(&str, usize)> = None;
    let numbers: Vec<Option<usize>> = column
        .iter()
        .map(|v| {
            let s = (*v)?;
            Some(match last {
                Some((l, n)) if l == s => n,
                _ => {
                    let n = distinct.number(s);
                    last = Some((s, n));
                    n
                }
            })
        })
        .collect();
    let rank = distinct.ranks();
    numbers
        .into_iter()
        .map(|n| n.map_or(0, |n| u32::try_from(rank[n] + 1).unwrap_or(u32::MAX)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows come out ordered by indicator, level, region and year; the year-on-year change needs
    /// the year just before (not the previous row across a gap, nor another region's or
    /// indicator's), and the index divides by the same indicator's country value of that year.
    #[test]
    fn comparisons_follow_indicator_region_and_year() {
        let rows: [(&str, &str, &str, i16, Option<f64>); 8] = [
            ("b", "KU091", "municipality", 2020, Some(5.0)),
            ("a", "KU091", "municipality", 2021, Some(30.0)),
            ("a", COUNTRY, "country", 2021, Some(60.0)),
            ("a", "KU091", "municipality", 2019, Some(10.0)),
            ("a", COUNTRY, "country", 2019, Some(0.0)),
            ("b", "KU091", "municipality", 2019, Some(4.0)),
            ("a", "KU049", "municipality", 2020, Some(2.0)),
            ("a", "KU049", "municipality", 2021, None),
        ];
        let texts = |k: usize| -> Vec<&str> {
            rows.iter()
                .map(|r| match k {
                    0 => r.0,
                    1 => r.1,
                    _ => r.2,
                })
                .collect()
        };
        let df = DataFrame::new(
            rows.len(),
            vec![
                Column::new("indicator".into(), texts(0)),
                Column::new("region".into(), texts(1)),
                Column::new("region_level".into(), texts(2)),
                Column::new("year".into(), rows.iter().map(|r| r.3).collect::<Vec<_>>()),
                Column::new("value".into(), rows.iter().map(|r| r.4).collect::<Vec<_>>()),
                Column::new(
                    "numerator".into(),
                    rows.iter().map(|r| r.4).collect::<Vec<_>>(),
                ),
                Column::new("denominator".into(), vec![None::<f64>; rows.len()]),
                Column::new("unit".into(), vec!["u"; rows.len()]),
                Column::new("method".into(), vec!["m"; rows.len()]),
                Column::new("basis".into(), vec![RECOMPUTED; rows.len()]),
                Column::new("flags".into(), vec![None::<&str>; rows.len()]),
            ],
        )
        .unwrap();
        let out = with_comparisons(&df).unwrap();
        let text = |c: &str| -> Vec<String> {
            out.column(c)
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|v| v.unwrap().to_owned())
                .collect()
        };
        let float = |c: &str| -> Vec<Option<f64>> {
            out.column(c).unwrap().f64().unwrap().iter().collect()
        };
        let year: Vec<i16> = out
            .column("year")
            .unwrap()
            .i16()
            .unwrap()
            .iter()
            .map(Option::unwrap)
            .collect();
        assert_eq!(text("indicator"), ["a", "a", "a", "a", "a", "a", "b", "b"]);
        assert_eq!(
            text("region"),
            [
                COUNTRY, COUNTRY, "KU049", "KU049", "KU091", "KU091", "KU091", "KU091"
            ]
        );
        assert_eq!(year, [2019, 2021, 2020, 2021, 2019, 2021, 2019, 2020]);
        // 2021 follows 2019 for KU091: no year just before, no change.
        assert_eq!(
            float("yoy_change_pct"),
            [None, None, None, None, None, None, None, Some(25.0)]
        );
        // The country's 2019 value is 0: no index; indicator b has no country rows.
        assert_eq!(
            float("index_country"),
            [None, Some(100.0), None, None, None, Some(50.0), None, None]
        );
        assert_eq!(
            float("country_value"),
            [
                Some(0.0),
                Some(60.0),
                None,
                Some(60.0),
                Some(0.0),
                Some(60.0),
                None,
                None
            ]
        );
        // Columns, order and types as the `indicators` contract has them.
        crate::model::contract::Contract::for_table("indicators")
            .unwrap()
            .check_frame(&out)
            .unwrap();
    }

    /// A run without indicators still gets an `indicators` table, empty and in contract.
    #[test]
    fn no_indicators_give_an_empty_table_in_contract() {
        let out = with_comparisons(&super::super::empty_indicators().unwrap()).unwrap();
        assert_eq!(out.height(), 0);
        crate::model::contract::Contract::for_table("indicators")
            .unwrap()
            .check_frame(&out)
            .unwrap();
    }
}
