//! Cost per client (KPA, *kustannus per asiakas*) from a region's own cost and client files.
//!
//! For every region, year and service class of the `kpa-csv` sources:
//!
//! | column | value |
//! |---|---|
//! | `cost_per_client` | costs / clients |
//! | `cost_per_unit` | costs / service units, where units are given |
//! | `clients_per_1000` | clients / population of the service's target group × 1 000 |
//! | `cost_per_capita` | costs / population of the target group |
//! | `..._real` | the same in the price-index base year's prices: × index(base) / index(year) |
//! | `cost_per_capita_need_adjusted` | cost per capita / (need index / 100) |
//!
//! The target group of a service class is `kpa.target_groups` (e.g. home care for older people:
//! aged 75 and over), else the whole population; its size is summed from municipalities of the
//! reference division like every count. Fewer than 5 clients are suppressed: clients and every
//! figure per client are null and `flags` says so (the costs stay: they identify no one). Nothing
//! missing is turned into 0. All KPA sources of a pipeline share one cost basis (checked when the
//! pipeline is read), recorded in `cost_basis`.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;

use super::population::{group_of, parse_age, population_rows};
use super::{DeriveInput, levels, measure_rows};
use crate::error::{InternalError, PolarsContext};
use crate::model::config::{CostBasis, KpaConfig};
use crate::model::regions::Level;
use crate::stages::normalize::regionfile::KpaRow;

/// Fewer clients than this are suppressed.
pub const SUPPRESS_BELOW: f64 = 5.0;

/// The rows of one KPA source.
pub struct KpaSource<'a> {
    /// Pipeline source id.
    pub source: &'a str,
    /// The region the figures are for.
    pub region: &'a str,
    /// Their cost basis.
    pub cost_basis: CostBasis,
    /// sha256 of the file.
    pub raw_sha256: &'a str,
    /// The rows.
    pub rows: &'a [KpaRow],
}

/// A price index: name, base year, index by year.
pub struct PriceIndex {
    /// What it is.
    pub name: String,
    /// Costs are expressed in this year's prices.
    pub base_year: i16,
    /// Index value by year.
    pub values: BTreeMap<i16, f64>,
}

/// The `kpa` table.
pub fn kpa_frame(
    sources: &[KpaSource<'_>],
    cfg: &KpaConfig,
    prices: Option<&PriceIndex>,
    input: &DeriveInput<'_>,
) -> Result<DataFrame, InternalError> {
    let crosswalk = super::crosswalk_frame(input.crosswalk)?;
    let expected = super::Expected::of(input.crosswalk);
    // Population per target group, region and year.
    let mut groups: BTreeMap<String, (u16, Option<u16>)> = BTreeMap::new();
    for s in sources {
        for r in s.rows {
            groups.insert(r.service_class.clone(), target_group(cfg, &r.service_class));
        }
    }
    let mut population: HashMap<(String, String, i16), f64> = HashMap::new();
    if let Some(p) = &cfg.population {
        let distinct: std::collections::BTreeSet<(u16, Option<u16>)> =
            groups.values().copied().collect();
        for g in distinct {
            for (region, year, v) in group_population(p, g, input, &crosswalk, &expected)? {
                population.insert((label(g), region, year), v);
            }
        }
    }
    let need: HashMap<(String, i16), f64> = match &cfg.need_index {
        Some(n) => {
            let df = measure_rows(n, input)
                .select([
                    col("region").cast(DataType::String),
                    col("year"),
                    col(n.field.column()).alias("x"),
                ])
                .collect()
                .context("reading the need index")?;
            triples(&df)?
                .into_iter()
                .map(|(r, y, v)| ((r, y), v))
                .collect()
        }
        None => HashMap::new(),
    };

    let mut out = Columns::default();
    for s in sources {
        for r in s.rows {
            let g = groups.get(&r.service_class).copied().unwrap_or((0, None));
            let pop = population
                .get(&(label(g), s.region.to_owned(), r.year))
                .copied();
            let mut flags = Vec::new();
            let suppressed = r.clients.is_some_and(|c| c < SUPPRESS_BELOW);
            if suppressed {
                flags.push(format!("suppressed: fewer than {SUPPRESS_BELOW} clients"));
            }
            let clients = if suppressed { None } else { r.clients };
            let deflator =
                prices.map(
                    |p| match (p.values.get(&p.base_year), p.values.get(&r.year)) {
                        (Some(b), Some(y)) if *y != 0.0 => Some(b / y),
                        _ => None,
                    },
                );
            if deflator == Some(None) {
                flags.push(format!("no price index for {}", r.year));
            }
            let deflator = deflator.flatten();
            if cfg.population.is_some() && pop.is_none() {
                flags.push(format!(
                    "no population {} for {} {}",
                    label(g),
                    s.region,
                    r.year
                ));
            }
            // A quotient or product too large for a float is missing, never infinite.
            let div = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) if b != 0.0 => Some(a / b).filter(|v| v.is_finite()),
                _ => None,
            };
            let real = |v: Option<f64>| {
                v.zip(deflator)
                    .map(|(v, d)| v * d)
                    .filter(|v| v.is_finite())
            };
            let cost_per_client = div(r.costs, clients);
            let cost_per_capita = div(r.costs, pop);
            let need_value = need.get(&(s.region.to_owned(), r.year)).copied();
            if cfg.need_index.is_some() && need_value.is_none() {
                flags.push(format!("no need index for {} {}", s.region, r.year));
            }
            out.region.push(s.region.to_owned());
            out.region_level
                .push(Level::of_code(s.region).map_or("unknown", Level::as_str));
            out.year.push(r.year);
            out.service_class.push(r.service_class.clone());
            out.cost_basis.push(s.cost_basis.describe());
            out.costs.push(r.costs);
            out.costs_real.push(real(r.costs));
            out.clients.push(clients);
            out.units.push(r.units);
            out.unit_name.push(r.unit_name.clone());
            out.target_group.push(label(g));
            out.population.push(pop);
            out.cost_per_client.push(cost_per_client);
            out.cost_per_client_real.push(real(cost_per_client));
            out.cost_per_unit.push(div(r.costs, r.units));
            out.clients_per_1000
                .push(div(clients, pop).map(|v| v * 1000.0));
            out.cost_per_capita.push(cost_per_capita);
            out.cost_per_capita_real.push(real(cost_per_capita));
            out.need_index.push(need_value);
            out.cost_per_capita_need_adjusted
                .push(div(cost_per_capita, need_value.map(|n| n / 100.0)));
            out.price_base_year.push(prices.map(|p| p.base_year));
            out.flags
                .push((!flags.is_empty()).then(|| flags.join("; ")));
            out.source.push(s.source.to_owned());
            out.location.push(format!("line {}", r.line));
            out.raw_sha256.push(s.raw_sha256.to_owned());
        }
    }
    out.frame(prices.map(|p| p.name.as_str()))
}

/// The ages a service class serves.
fn target_group(cfg: &KpaConfig, class: &str) -> (u16, Option<u16>) {
    match cfg.target_groups.get(class).map(Vec::as_slice) {
        Some([from, to]) => (*from, Some(*to)),
        Some([from]) => (*from, None),
        _ => (0, None),
    }
}

/// `all ages`, `aged 75+`, `aged 0-17`.
fn label(g: (u16, Option<u16>)) -> String {
    match g {
        (0, None) => "all ages".to_owned(),
        (from, None) => format!("aged {from}+"),
        (from, Some(to)) => format!("aged {from}-{to}"),
    }
}

/// Population of an age group per region (every level) and year, summed from municipalities.
fn group_population(
    p: &crate::model::config::PopulationRef,
    g: (u16, Option<u16>),
    input: &DeriveInput<'_>,
    crosswalk: &DataFrame,
    expected: &super::Expected<'_>,
) -> Result<Vec<(String, i16, f64)>, InternalError> {
    let base = || population_rows(input, &p.dataset, &p.measure, &p.sex);
    let rows = base()
        .select([col("age").cast(DataType::String)])
        .unique(None, UniqueKeepStrategy::First)
        .collect()
        .context("reading ages")?;
    // Ages wholly inside the group (the total row and unreadable classes are not ages).
    let inside: Vec<String> = rows
        .column("age")
        .context("reading ages")?
        .str()
        .context("reading ages")?
        .iter()
        .flatten()
        .filter(|a| parse_age(a).and_then(|c| group_of(c, &[g])).is_some())
        .map(str::to_owned)
        .collect();
    let ages = Series::new("ages".into(), inside);
    let parts = base()
        .filter(
            col("age")
                .cast(DataType::String)
                .is_in(lit(ages).implode(false), false),
        )
        .select([col("region"), col("year"), col("value").alias("x")])
        .join(
            crosswalk.clone().lazy(),
            [col("region")],
            [col("code")],
            JoinArgs::new(JoinType::Inner),
        );
    let df = levels(parts, expected)?
        .select([col("region"), col("year"), col("x")])
        .collect()
        .context("summing target-group populations")?;
    triples(&df)
}

/// (region, year, x) of a frame, rows with a value only.
fn triples(df: &DataFrame) -> Result<Vec<(String, i16, f64)>, InternalError> {
    let r = df
        .column("region")
        .context("reading")?
        .str()
        .context("reading")?;
    let y = df
        .column("year")
        .context("reading")?
        .i16()
        .context("reading")?;
    let x = df
        .column("x")
        .context("reading")?
        .f64()
        .context("reading")?;
    Ok((0..df.height())
        .filter_map(|i| Some((r.get(i)?.to_owned(), y.get(i)?, x.get(i)?)))
        .collect())
}

#[derive(Default)]
struct Columns {
    region: Vec<String>,
    region_level: Vec<&'static str>,
    year: Vec<i16>,
    service_class: Vec<String>,
    cost_basis: Vec<String>,
    costs: Vec<Option<f64>>,
    costs_real: Vec<Option<f64>>,
    clients: Vec<Option<f64>>,
    units: Vec<Option<f64>>,
    unit_name: Vec<Option<String>>,
    target_group: Vec<String>,
    population: Vec<Option<f64>>,
    cost_per_client: Vec<Option<f64>>,
    cost_per_client_real: Vec<Option<f64>>,
    cost_per_unit: Vec<Option<f64>>,
    clients_per_1000: Vec<Option<f64>>,
    cost_per_capita: Vec<Option<f64>>,
    cost_per_capita_real: Vec<Option<f64>>,
    need_index: Vec<Option<f64>>,
    cost_per_capita_need_adjusted: Vec<Option<f64>>,
    price_base_year: Vec<Option<i16>>,
    flags: Vec<Option<String>>,
    source: Vec<String>,
    location: Vec<String>,
    raw_sha256: Vec<String>,
}

impl Columns {
    fn frame(self, price_index: Option<&str>) -> Result<DataFrame, InternalError> {
        let n = self.region.len();
        let f = |name: &str, v: Vec<Option<f64>>| -> Column { Series::new(name.into(), v).into() };
        let columns = vec![
            Series::new("region".into(), self.region).into(),
            Series::new("region_level".into(), self.region_level).into(),
            Series::new("year".into(), self.year).into(),
            Series::new("service_class".into(), self.service_class).into(),
            Series::new("cost_basis".into(), self.cost_basis).into(),
            f("costs", self.costs),
            f("costs_real", self.costs_real),
            f("clients", self.clients),
            f("units", self.units),
            Series::new("unit_name".into(), self.unit_name).into(),
            Series::new("target_group".into(), self.target_group).into(),
            f("population", self.population),
            f("cost_per_client", self.cost_per_client),
            f("cost_per_client_real", self.cost_per_client_real),
            f("cost_per_unit", self.cost_per_unit),
            f("clients_per_1000", self.clients_per_1000),
            f("cost_per_capita", self.cost_per_capita),
            f("cost_per_capita_real", self.cost_per_capita_real),
            f("need_index", self.need_index),
            f(
                "cost_per_capita_need_adjusted",
                self.cost_per_capita_need_adjusted,
            ),
            Series::new("price_base_year".into(), self.price_base_year).into(),
            Series::new(
                "price_index".into(),
                vec![price_index.map(str::to_owned); n],
            )
            .into(),
            Series::new("flags".into(), self.flags).into(),
            Series::new("source".into(), self.source).into(),
            Series::new("location".into(), self.location).into(),
            Series::new("raw_sha256".into(), self.raw_sha256).into(),
        ];
        DataFrame::new(n, columns).context("building `kpa`")
    }
}
