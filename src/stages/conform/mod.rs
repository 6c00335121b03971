//! Sums of a measure's municipal parts at the three levels: the reference division's
//! municipalities, its wellbeing counties and the country (the rules are in the module doc of
//! [`crate::stages::derive`]).
//!
//! Computed over the rows directly rather than as a polars query: a pipeline sums hundreds of
//! measures of a few thousand rows each, where a query's fixed cost (planning, three group-bys, two
//! sorts, a join) was most of the time. Every sum adds its terms in one fixed order (parts by
//! municipality, year, published code and value; municipalities by county and code), so a run
//! gives the same bits every time.

use std::cmp::Ordering;

use polars::prelude::*;

use crate::error::{InternalError, PolarsContext};
use crate::model::regions::{COUNTRY, Crosswalk, Level};

/// Sums municipal parts (`region` as published, `year`, `x`, `muni` and `county` of the reference
/// division) to the reference division's municipalities, its counties and the country: `region`,
/// `region_level`, `year`, `x`, `x_flag`. A municipality's sum is null when one of its parts is
/// null (`missing in source`); a county's or the country's unless every municipality has a value
/// (`incomplete: n of m municipalities`). Sums never turn missing into 0.
pub(crate) fn levels(
    parts: LazyFrame,
    expected: &Expected<'_>,
) -> Result<LazyFrame, InternalError> {
    let what = "summing a measure's parts";
    let df = parts
        .select([
            col("region").cast(DataType::String),
            col("year").cast(DataType::Int16),
            col("x").cast(DataType::Float64),
            col("muni").cast(DataType::String),
            col("county").cast(DataType::String),
        ])
        .collect()
        .context(what)?;
    let (muni, county) = (text(&df, "muni", what)?, text(&df, "county", what)?);
    let mut pairs = Pairs::default();
    let pair = county
        .into_iter()
        .zip(muni)
        .map(|pair| pairs.number(pair))
        .collect();
    let parts = Parts {
        region: text(&df, "region", what)?,
        year: years(&df, what)?,
        x: floats(&df, "x", what)?,
        pair,
    };
    Ok(compute(&parts, &pairs.into(), expected).frame()?.lazy())
}

/// Number of municipalities per county and in the country in the reference year: how many values
/// a county's or the country's sum needs.
pub(crate) struct Expected<'c>(PlHashMap<&'c str, u32>);

impl<'c> Expected<'c> {
    /// The counts of the crosswalk's reference division.
    pub(crate) fn of(cw: &'c Crosswalk) -> Expected<'c> {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let mut counts: PlHashMap<&'c str, u32> = cw
            .members()
            .iter()
            .map(|(county, members)| (county.as_str(), count(members.len())))
            .collect();
        counts.insert(COUNTRY, count(cw.municipality_count()));
        Expected(counts)
    }

    fn get(&self, region: &str) -> Option<u32> {
        self.0.get(region).copied()
    }
}

/// [`levels`] of a measure's selected observations (`region`, `region_level`, `year` and the
/// `field` summed, as the derive stage selects them), kept as columns: its municipal rows are
/// placed in the reference division by the crosswalk; a code the crosswalk does not know is left
/// out (and quarantined by the derive stage as `not_in_reference_division`). The selected rows are
/// read out of their frame here, once; the levels stay vectors until the indicator's rows are a
/// frame.
pub(crate) fn of_measure<'c>(
    rows: &DataFrame,
    field: &str,
    crosswalk: &'c Crosswalk,
    expected: &Expected<'_>,
) -> Result<MeasureLevels<'c>, InternalError> {
    let placement = Placement::new(crosswalk);
    let parts = placement.parts(rows, field)?;
    Ok(compute(&parts, &placement.pairs.into(), expected))
}

/// The levels of `x × w` and of `w` for a weighted mean: `x` and `w` are two measures' selected
/// observations (as for [`of_measure`]); each municipal `x` is multiplied by the `w` of the same
/// published code and year (null when there is none).
pub(crate) fn weighted<'c>(
    (x_rows, x_field): (&DataFrame, &str),
    (w_rows, w_field): (&DataFrame, &str),
    crosswalk: &'c Crosswalk,
    expected: &Expected<'_>,
) -> Result<(MeasureLevels<'c>, MeasureLevels<'c>), InternalError> {
    let placement = Placement::new(crosswalk);
    let mut xw = placement.parts(x_rows, x_field)?;
    let w = placement.parts(w_rows, w_field)?;
    let mut weight: PlHashMap<(Option<&str>, Option<i16>), Option<f64>> = PlHashMap::new();
    for i in 0..w.x.len() {
        weight.entry((w.region[i], w.year[i])).or_insert(w.x[i]);
    }
    for i in 0..xw.x.len() {
        let wi = weight.get(&(xw.region[i], xw.year[i])).copied().flatten();
        xw.x[i] = xw.x[i].zip(wi).map(|(x, w)| x * w);
    }
    let pairs = placement.pairs.into();
    Ok((
        compute(&xw, &pairs, expected),
        compute(&w, &pairs, expected),
    ))
}

/// Where each published municipal code goes: its (county, municipality) pair of the reference
/// division, numbered once.
struct Placement<'a> {
    pairs: Pairs<'a>,
    by_code: PlHashMap<&'a str, usize>,
}

impl<'a> Placement<'a> {
    fn new(crosswalk: &'a Crosswalk) -> Placement<'a> {
        let mut pairs = Pairs::default();
        let by_code = crosswalk
            .rows()
            .map(|(code, muni, county)| (code, pairs.number((Some(county), Some(muni)))))
            .collect();
        Placement { pairs, by_code }
    }

    /// The municipal rows of a measure's selected observations that the crosswalk places.
    fn parts<'r>(&self, rows: &'r DataFrame, field: &str) -> Result<Parts<'r>, InternalError>
    where
        'a: 'r,
    {
        let what = "summing a measure";
        let region = text(rows, "region", what)?;
        let level = text(rows, "region_level", what)?;
        let (year, x) = (years(rows, what)?, floats(rows, field, what)?);
        let mut parts = Parts::default();
        for i in 0..rows.height() {
            if level[i] != Some(Level::Municipality.as_str()) {
                continue;
            }
            if let Some(&pair) = region[i].and_then(|code| self.by_code.get(code)) {
                parts.region.push(region[i]);
                parts.year.push(year[i]);
                parts.x.push(x[i]);
                parts.pair.push(pair);
            }
        }
        Ok(parts)
    }
}

pub(super) fn text<'a>(
    df: &'a DataFrame,
    name: &str,
    what: &str,
) -> Result<Vec<Option<&'a str>>, InternalError> {
    Ok(df
        .column(name)
        .context(what)?
        .str()
        .context(what)?
        .iter()
        .collect())
}

pub(super) fn years(df: &DataFrame, what: &str) -> Result<Vec<Option<i16>>, InternalError> {
    Ok(df
        .column("year")
        .context(what)?
        .i16()
        .context(what)?
        .iter()
        .collect())
}

pub(super) fn floats(
    df: &DataFrame,
    name: &str,
    what: &str,
) -> Result<Vec<Option<f64>>, InternalError> {
    Ok(df
        .column(name)
        .context(what)?
        .f64()
        .context(what)?
        .iter()
        .collect())
}

/// Distinct values numbered as they are first met, and each number's place in the values' order
/// (what a sort by the values needs, computed once per distinct value).
pub(super) struct Numbered<K> {
    values: Vec<K>,
    number: PlHashMap<K, usize>,
}

impl<K> Default for Numbered<K> {
    fn default() -> Self {
        Numbered {
            values: Vec::new(),
            number: PlHashMap::new(),
        }
    }
}

impl<K: Copy + Eq + std::hash::Hash + Ord> Numbered<K> {
    /// The number of `value`, numbering it if it is new.
    pub(super) fn number(&mut self, value: K) -> usize {
        *self.number.entry(value).or_insert_with(|| {
            self.values.push(value);
            self.values.len() - 1
        })
    }

    /// Each number's place among the values in their order.
    pub(super) fn ranks(&self) -> Vec<usize> {
        let mut sorted: Vec<usize> = (0..self.values.len()).collect();
        sorted.sort_unstable_by_key(|&i| self.values[i]);
        let mut rank = vec![0; sorted.len()];
        for (r, &i) in sorted.iter().enumerate() {
            rank[i] = r;
        }
        rank
    }
}

/// The (county, municipality) pairs of the parts, numbered.
type Pairs<'a> = Numbered<(Option<&'a str>, Option<&'a str>)>;

/// Numbered pairs and their places in (county, municipality) order.
struct Ranked<'a> {
    pairs: Vec<(Option<&'a str>, Option<&'a str>)>,
    rank: Vec<usize>,
}

impl<'a> From<Pairs<'a>> for Ranked<'a> {
    fn from(pairs: Pairs<'a>) -> Ranked<'a> {
        Ranked {
            rank: pairs.ranks(),
            pairs: pairs.values,
        }
    }
}

/// The flag of a sum too large for a float: missing, never infinite.
pub(crate) const OVERFLOW: &str = "overflow: too large to compute";

/// The three levels of the parts.
fn compute<'a>(
    parts: &Parts<'_>,
    pairs: &Ranked<'a>,
    expected: &Expected<'_>,
) -> MeasureLevels<'a> {
    let munis = municipalities(parts, pairs);
    let mut out = MeasureLevels::default();
    for m in &munis {
        let (_, muni) = pairs.pairs[m.pair];
        out.push(
            muni,
            Level::Municipality,
            m.year,
            m.x,
            m.flag.map(str::to_owned),
        );
    }
    let counties = upper(&munis, |m| pairs.pairs[m.pair].0);
    let country = upper(&munis, |_| Some(COUNTRY));
    for (groups, level) in [
        (counties, Level::WellbeingCounty),
        (country, Level::Country),
    ] {
        for g in groups {
            let n = g.region.and_then(|r| expected.get(r));
            let (x, flag) = match n {
                Some(n) if g.valid == n && !g.sum.is_finite() => (None, Some(OVERFLOW.to_owned())),
                Some(n) if g.valid == n => (Some(g.sum), None),
                Some(n) if g.valid < n => (
                    None,
                    Some(format!("incomplete: {} of {n} municipalities", g.valid)),
                ),
                _ => (None, None),
            };
            out.push(g.region, level, g.year, x, flag);
        }
    }
    out
}

/// The parts' columns; `pair` numbers the (county, municipality) of the reference division.
#[derive(Default)]
struct Parts<'a> {
    region: Vec<Option<&'a str>>,
    year: Vec<Option<i16>>,
    x: Vec<Option<f64>>,
    pair: Vec<usize>,
}

/// One municipality of the reference division in one year.
struct Municipality {
    pair: usize,
    year: Option<i16>,
    x: Option<f64>,
    flag: Option<&'static str>,
}

/// Values first by null (first), then in IEEE total order: a fixed order for equal keys.
fn cmp_value(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        _ => a.is_some().cmp(&b.is_some()),
    }
}

/// Level 1: the parts of each municipality of the reference division summed per year, ordered by
/// county, municipality and year.
fn municipalities(p: &Parts<'_>, pairs: &Ranked<'_>) -> Vec<Municipality> {
    // One sort by the pair's place and the year both groups a municipality's parts and orders the
    // result; published codes and values order the parts of one municipality and year.
    let mut order: Vec<(usize, Option<i16>, usize)> = (0..p.x.len())
        .map(|i| (pairs.rank[p.pair[i]], p.year[i], i))
        .collect();
    order.sort_unstable_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| p.region[a.2].cmp(&p.region[b.2]))
            .then_with(|| cmp_value(p.x[a.2], p.x[b.2]))
            .then_with(|| a.2.cmp(&b.2))
    });
    let mut out = Vec::new();
    for group in order.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        let (mut sum, mut valid) = (0.0, 0);
        for &(_, _, i) in group {
            if let Some(v) = p.x[i] {
                sum += v;
                valid += 1;
            }
        }
        let first = group[0].2;
        let complete = valid == group.len();
        let finite = sum.is_finite();
        out.push(Municipality {
            pair: p.pair[first],
            year: p.year[first],
            x: (complete && finite).then_some(sum),
            flag: if !complete {
                Some("missing in source")
            } else if !finite {
                Some(OVERFLOW)
            } else {
                None
            },
        });
    }
    out
}

/// A county's or the country's sum in one year, with the number of municipalities that had a
/// value.
struct Group<'a> {
    region: Option<&'a str>,
    year: Option<i16>,
    sum: f64,
    valid: u32,
}

/// Levels 2 and 3: municipalities' values summed per (`region_of` municipality, year), groups in
/// the order they first appear, terms in the municipalities' order.
fn upper<'a>(
    munis: &[Municipality],
    region_of: impl Fn(&Municipality) -> Option<&'a str>,
) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut index: PlHashMap<(Option<&'a str>, Option<i16>), usize> = PlHashMap::new();
    for m in munis {
        let region = region_of(m);
        let g = *index.entry((region, m.year)).or_insert_with(|| {
            groups.push(Group {
                region,
                year: m.year,
                sum: 0.0,
                valid: 0,
            });
            groups.len() - 1
        });
        if let Some(v) = m.x {
            groups[g].sum += v;
            groups[g].valid += 1;
        }
    }
    groups
}

/// A measure at the three levels, as columns: `region`, `region_level`, `year`, `x` (the sum)
/// and `x_flag` (why it is missing).
#[derive(Debug, Default)]
pub(crate) struct MeasureLevels<'a> {
    pub(crate) region: Vec<Option<&'a str>>,
    pub(crate) level: Vec<&'static str>,
    pub(crate) year: Vec<Option<i16>>,
    pub(crate) x: Vec<Option<f64>>,
    pub(crate) flag: Vec<Option<String>>,
}

impl<'a> MeasureLevels<'a> {
    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.x.len()
    }

    fn push(
        &mut self,
        region: Option<&'a str>,
        level: Level,
        year: Option<i16>,
        x: Option<f64>,
        flag: Option<String>,
    ) {
        self.region.push(region);
        self.level.push(level.as_str());
        self.year.push(year);
        self.x.push(x);
        self.flag.push(flag);
    }

    /// The levels as a frame (the population structure and cost per client go on in polars).
    pub(crate) fn frame(self) -> Result<DataFrame, InternalError> {
        df!(
            "region" => self.region,
            "region_level" => self.level,
            "year" => self.year,
            "x" => self.x,
            "x_flag" => self.flag,
        )
        .context("building a measure's levels")
    }
}
