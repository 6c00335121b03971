//! The pages: what each section shows, then rendered by the templates.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::Environment;
use serde::Serialize;

use super::charts::{self, Bar, BarChart, LineChart, PALETTE, Reference, Series};
use super::labels::{Labels, labels};
use super::model::{Indicators, rows_of};
use super::numbers::{Lang, decimals_for, number, value};
use super::{ReportInput, region_name};
use crate::error::InternalError;
use crate::model::regions::COUNTRY;

const PAGE: &str = include_str!("templates/page.html.j2");
const INDEX: &str = include_str!("templates/index.html.j2");
const CHARTS: &str = include_str!("templates/charts.html.j2");
const STYLE: &str = include_str!("templates/style.css");

/// The template environment (autoescaping HTML).
fn environment() -> Result<Environment<'static>, InternalError> {
    let mut env = Environment::new();
    for (name, text) in [
        ("page.html", PAGE),
        ("index.html", INDEX),
        ("charts.html", CHARTS),
    ] {
        env.add_template(name, text)
            .map_err(|e| InternalError::Invariant(format!("report template {name}: {e}")))?;
    }
    Ok(env)
}

fn render(template: &str, ctx: &impl Serialize) -> Result<String, InternalError> {
    let env = environment()?;
    env.get_template(template)
        .and_then(|t| t.render(minijinja::value::Serde(ctx)))
        .map_err(|e| InternalError::Invariant(format!("rendering the report ({template}): {e:#}")))
}

/// An indicator's title in `lang`.
fn title(data: &Indicators, id: &str, lang: Lang) -> String {
    let m = data.meta.get(id);
    let t = m.map(|m| match lang {
        Lang::Fi => m.title_fi.clone(),
        Lang::Sv => m.title_sv.clone().unwrap_or_else(|| m.title_fi.clone()),
        Lang::En => m.title_en.clone(),
    });
    t.filter(|t| !t.is_empty())
        .unwrap_or_else(|| structure_title(id, lang))
}

/// Titles of the population structure's indicators, from their ids.
fn structure_title(id: &str, lang: Lang) -> String {
    let band = |b: &str| b.replace('_', "–").replace("plus", "+");
    if let Some(b) = id.strip_prefix("population_share_") {
        return match lang {
            Lang::Fi => format!("{} -vuotiaiden osuus väestöstä, %", band(b)),
            Lang::Sv => format!("Andel {} år av befolkningen, %", band(b)),
            Lang::En => format!("Aged {}, % of the population", band(b)),
        };
    }
    match (id, lang) {
        ("dependency_ratio_demographic", Lang::Fi) => "Demografinen huoltosuhde".into(),
        ("dependency_ratio_demographic", Lang::Sv) => "Demografisk försörjningskvot".into(),
        ("dependency_ratio_demographic", Lang::En) => "Demographic dependency ratio".into(),
        ("dependency_ratio_old_age", Lang::Fi) => "Vanhushuoltosuhde".into(),
        ("dependency_ratio_old_age", Lang::Sv) => "Försörjningskvot för äldre".into(),
        ("dependency_ratio_old_age", Lang::En) => "Old-age dependency ratio".into(),
        _ => id.to_owned(),
    }
}

/// One headline figure.
#[derive(Serialize)]
struct Headline {
    title: String,
    text: String,
    indicator: String,
    region: String,
    year: i16,
    index_text: Option<String>,
    peers_text: Option<String>,
    direction: &'static str,
    synthetic: bool,
}

/// One indicator of service use or costs.
#[derive(Serialize)]
struct Service {
    title: String,
    direction: &'static str,
    line: LineChart,
    bars: Option<BarChart>,
    synthetic: bool,
}

#[derive(Serialize)]
struct Population {
    pyramid: Option<charts::Pyramid>,
    projection: Option<LineChart>,
    bands: Option<BarChart>,
    shares: Option<LineChart>,
    dependency: Option<LineChart>,
    synthetic: bool,
}

#[derive(Serialize)]
struct Kpa {
    chart: Option<BarChart>,
    rows: Vec<Vec<String>>,
    year: Option<String>,
}

#[derive(Serialize)]
struct Maturity {
    chart: Option<BarChart>,
    rows: Vec<Vec<String>>,
    rounds: String,
}

#[derive(Serialize)]
struct Roadmap {
    progress: Vec<Vec<String>>,
    actions: Vec<Vec<String>>,
    milestones: Vec<Vec<String>>,
}

#[derive(Serialize)]
struct Link {
    href: String,
    text: String,
}

#[derive(Serialize)]
struct Page<'a> {
    lang: &'static str,
    l: Labels,
    style: &'static str,
    pipeline: &'a str,
    run_id: &'a str,
    date: &'a str,
    region: &'a str,
    region_name: String,
    peers: String,
    headline: Vec<Headline>,
    population: Option<Population>,
    services: Vec<Service>,
    kpa: Option<Kpa>,
    maturity: Option<Maturity>,
    roadmap: Option<Roadmap>,
    source_line: String,
    sources: Vec<super::SourceLine>,
    synthetic: bool,
    languages: Vec<Link>,
}

/// Whether an indicator reads synthetic data: the datasets of its formula (from the catalogue),
/// or, for the population structure (not in the catalogue), the population dataset.
fn synthetic(input: &ReportInput<'_>, data: &Indicators, id: &str) -> bool {
    let synthetic: BTreeSet<&str> = input
        .sources
        .iter()
        .filter(|s| s.synthetic)
        .flat_map(|s| s.datasets.iter().map(String::as_str))
        .collect();
    let formula = data
        .meta
        .get(id)
        .map(|m| &m.datasets)
        .filter(|d| !d.is_empty());
    match formula {
        Some(ds) => ds.iter().any(|d| synthetic.contains(d.as_str())),
        None => input
            .population
            .is_some_and(|(dataset, _)| synthetic.contains(dataset)),
    }
}

fn direction(data: &Indicators, id: &str, l: &Labels) -> &'static str {
    match data.meta.get(id).and_then(|m| m.higher_is.as_deref()) {
        Some("better") => l.higher_better,
        Some("worse") => l.lower_better,
        _ => l.neither_better,
    }
}

/// The first of `ids` with a value for the region.
fn first_present<'i>(data: &Indicators, ids: &[&'i str], region: &str) -> Option<&'i str> {
    ids.iter()
        .copied()
        .find(|id| data.latest(id, region).is_some())
}

fn headline(
    input: &ReportInput<'_>,
    data: &Indicators,
    region: &str,
    lang: Lang,
    l: &Labels,
) -> Vec<Headline> {
    let groups: [&[&str]; 4] = [
        &["population_31_12", "population", "population_total"],
        &["share_aged_75plus", "share_75plus"],
        &[input.need_indicator.unwrap_or("national_health_index")],
        &[
            "sote_net_cost_per_capita",
            "county_net_cost_per_capita_total",
        ],
    ];
    groups
        .iter()
        .filter_map(|ids| first_present(data, ids, region))
        .filter_map(|id| {
            let (year, p) = data.latest(id, region)?;
            let unit = data
                .meta
                .get(id)
                .map(|m| m.unit.clone())
                .unwrap_or_default();
            let v = p.value?;
            Some(Headline {
                title: title(data, id, lang),
                text: value(v, &unit, lang),
                indicator: id.to_owned(),
                region: region.to_owned(),
                year,
                // A count's share of the country's is no index.
                index_text: p
                    .index_country
                    .filter(|_| decimals_for(&unit) > 0 || !unit.eq_ignore_ascii_case("persons"))
                    .map(|i| format!("{}: {}", l.index_country, number(i, 0, lang))),
                peers_text: p
                    .peer_median
                    .map(|m| format!("{}: {}", l.peer_median, value(m, &unit, lang))),
                direction: direction(data, id, l),
                synthetic: synthetic(input, data, id),
            })
        })
        .collect()
}

/// Two bars side by side: the region's (highlighted) and, where there is one, its comparison's.
fn pair(
    bars: &mut Vec<Bar>,
    (label, value): (String, Option<f64>),
    other: Option<(String, Option<f64>)>,
) {
    bars.push(Bar {
        label,
        value,
        highlight: true,
    });
    if let Some((label, value)) = other {
        bars.push(Bar {
            label,
            value,
            highlight: false,
        });
    }
}

/// A line of the region, the country and the peer median over the years, and the latest year's
/// bars of every peer with the median and the best quartile.
fn service(
    input: &ReportInput<'_>,
    data: &Indicators,
    id: &str,
    region: &str,
    lang: Lang,
    l: &Labels,
) -> Option<Service> {
    let series_of = |r: &str| data.series(id, r);
    let own = series_of(region)?;
    let years: Vec<i16> = data.years.iter().copied().collect();
    let unit = data
        .meta
        .get(id)
        .map(|m| m.unit.clone())
        .unwrap_or_default();
    let decimals = decimals_for(&unit);
    let points = |m: Option<&BTreeMap<i16, super::model::Point>>,
                  f: fn(&super::model::Point) -> Option<f64>| {
        years
            .iter()
            .map(|y| (*y, m.and_then(|m| m.get(y)).and_then(f)))
            .collect::<Vec<_>>()
    };
    let mut series = vec![Series {
        label: region_name(input.registry, region, lang),
        points: points(Some(own), |p| p.value),
        dash: "",
        color: PALETTE[0],
    }];
    if let Some(c) = series_of(COUNTRY) {
        series.push(Series {
            label: l.country.to_owned(),
            points: points(Some(c), |p| p.value),
            dash: "6 4",
            color: PALETTE[6],
        });
    }
    if own.values().any(|p| p.peer_median.is_some()) {
        series.push(Series {
            label: l.peer_median.to_owned(),
            points: points(Some(own), |p| p.peer_median),
            dash: "2 3",
            color: PALETTE[1],
        });
    }
    if series[0].points.iter().all(|p| p.1.is_none()) {
        return None;
    }
    let name = title(data, id, lang);
    let line = charts::line_chart(
        &format!("line-{id}"),
        &name,
        &years,
        &series,
        decimals,
        lang,
        l.year,
    );
    let bars = data.latest(id, region).and_then(|(year, p)| {
        if input.peers.len() < 2 {
            return None;
        }
        let bars: Vec<Bar> = input
            .peers
            .iter()
            .map(|peer| Bar {
                label: region_name(input.registry, peer, lang),
                value: series_of(peer)
                    .and_then(|m| m.get(&year))
                    .and_then(|p| p.value),
                highlight: peer == region,
            })
            .collect();
        let mut refs = Vec::new();
        if let Some(m) = p.peer_median {
            refs.push(Reference {
                label: l.peer_median.to_owned(),
                value: m,
                dash: "5 3",
            });
        }
        if let Some(b) = p.best_quartile {
            refs.push(Reference {
                label: l.best_quartile.to_owned(),
                value: b,
                dash: "1 3",
            });
        }
        let fmt = |v: f64| value(v, &unit, lang);
        Some(charts::bar_chart(
            &format!("bars-{id}"),
            &format!("{name} {year}: {}", l.peers_in.to_lowercase()),
            &bars,
            &refs,
            &fmt,
            l.missing,
            [l.region, l.value],
        ))
    });
    Some(Service {
        title: name,
        direction: direction(data, id, l),
        line,
        bars,
        synthetic: synthetic(input, data, id),
    })
}

fn population(
    input: &ReportInput<'_>,
    data: &Indicators,
    region: &str,
    lang: Lang,
    l: &Labels,
) -> Option<Population> {
    let shares: Vec<&String> = data
        .values
        .keys()
        .filter(|id| id.starts_with("population_share_"))
        .collect();
    let years: Vec<i16> = data.years.iter().copied().collect();
    let latest = shares
        .iter()
        .filter_map(|id| data.latest(id, region).map(|(y, _)| y))
        .max();
    let bands = latest.map(|year| {
        let mut bars = Vec::new();
        let at = |id: &str, r: &str| {
            data.series(id, r)
                .and_then(|m| m.get(&year))
                .and_then(|p| p.value)
        };
        // The country beside the region where the run has the country's structure.
        let with_country = shares.iter().any(|id| at(id, COUNTRY).is_some());
        for id in &shares {
            let band = id
                .trim_start_matches("population_share_")
                .replace('_', "–")
                .replace("plus", "+");
            let own = format!("{band}: {}", region_name(input.registry, region, lang));
            let country = format!("{band}: {}", l.country);
            pair(
                &mut bars,
                (own, at(id, region)),
                with_country.then_some((country, at(id, COUNTRY))),
            );
        }
        let fmt = |v: f64| value(v, "%", lang);
        charts::bar_chart(
            "population-bands",
            &format!("{} {year}, %", l.age_bands),
            &bars,
            &[],
            &fmt,
            l.missing,
            [l.region, l.value],
        )
    });
    let line_of =
        |ids: &[&String], chart: &str, caption: &str, with_country: bool| -> Option<LineChart> {
            let mut series = Vec::new();
            for (k, id) in ids.iter().enumerate() {
                let m = data.series(id, region)?;
                series.push(Series {
                    label: title(data, id, lang),
                    points: years
                        .iter()
                        .map(|y| (*y, m.get(y).and_then(|p| p.value)))
                        .collect(),
                    dash: "",
                    color: PALETTE[k % PALETTE.len()],
                });
                if with_country && let Some(c) = data.series(id, COUNTRY) {
                    series.push(Series {
                        label: format!("{} ({})", title(data, id, lang), l.country),
                        points: years
                            .iter()
                            .map(|y| (*y, c.get(y).and_then(|p| p.value)))
                            .collect(),
                        dash: "6 4",
                        color: PALETTE[k % PALETTE.len()],
                    });
                }
            }
            (!series.is_empty())
                .then(|| charts::line_chart(chart, caption, &years, &series, 1, lang, l.year))
        };
    let shares_chart = line_of(&shares, "population-shares", l.age_bands, false);
    let dependency_ids: Vec<&String> = data
        .values
        .keys()
        .filter(|id| id.starts_with("dependency_ratio_") && *id != "dependency_ratio_published")
        .collect();
    let dependency = line_of(&dependency_ids, "population-dependency", l.dependency, true);
    let projected: Vec<&String> = data
        .values
        .keys()
        .filter(|id| id.as_str() == "projected_population_total")
        .collect();
    let projection = line_of(&projected, "population-projection", l.projection, false);
    let pyramid = pyramid(input, region, lang, l);
    if bands.is_none() && shares_chart.is_none() && dependency.is_none() && pyramid.is_none() {
        return None;
    }
    Some(Population {
        pyramid,
        projection,
        bands,
        shares: shares_chart,
        dependency,
        synthetic: synthetic(input, data, "population_share"),
    })
}

/// The age pyramid of the region's latest year: 10-year groups as shares of its population,
/// men and women where the data has sexes, everyone otherwise.
fn pyramid(
    input: &ReportInput<'_>,
    region: &str,
    lang: Lang,
    l: &Labels,
) -> Option<charts::Pyramid> {
    use polars::prelude::*;
    let (dataset, measure) = input.population?;
    let obs: &DataFrame = input.tables.get("observations").copied()?;
    let rows = obs
        .clone()
        .lazy()
        .filter(
            col("dataset")
                .cast(DataType::String)
                .eq(lit(dataset))
                .and(col("measure").cast(DataType::String).eq(lit(measure)))
                .and(col("region").cast(DataType::String).eq(lit(region)))
                .and(col("breakdown").cast(DataType::String).eq(lit(""))),
        )
        .select([
            col("year"),
            col("sex").cast(DataType::String),
            col("age").cast(DataType::String),
            col("value"),
        ])
        .collect()
        .ok()?;
    let (year, sex, age, value) = (
        super::model::years(&rows, "year").ok()?,
        super::model::strs(&rows, "sex").ok()?,
        super::model::strs(&rows, "age").ok()?,
        super::model::nums(&rows, "value").ok()?,
    );
    let is =
        |i: usize, a: &str, s: &str| age[i].as_deref() == Some(a) && sex[i].as_deref() == Some(s);
    let latest = (0..rows.height())
        .filter(|&i| is(i, "total", "total") && value[i].is_some())
        .filter_map(|i| year[i])
        .max()?;
    let total = (0..rows.height())
        .find(|&i| year[i] == Some(latest) && is(i, "total", "total"))
        .and_then(|i| value[i])
        .filter(|t| *t > 0.0)?;
    let two_sided =
        (0..rows.height()).any(|i| year[i] == Some(latest) && sex[i].as_deref() == Some("male"));
    let mut groups: Vec<[f64; 2]> = vec![[0.0; 2]; 10];
    let mut seen = false;
    for i in (0..rows.height()).filter(|&i| year[i] == Some(latest)) {
        let (Some(a), Some(s), Some(v)) = (age[i].as_deref(), sex[i].as_deref(), value[i]) else {
            continue;
        };
        let digits: String = a.chars().take_while(char::is_ascii_digit).collect();
        let Ok(years_old) = digits.parse::<usize>() else {
            continue;
        };
        let side = match (two_sided, s) {
            (true, "male") => 0,
            (true, "female") | (false, "total") => 1,
            _ => continue,
        };
        groups[(years_old / 10).min(9)][side] += v / total * 100.0;
        seen = true;
    }
    if !seen {
        return None;
    }
    let label = |g: usize| {
        if g == 9 {
            "90+".to_owned()
        } else {
            format!("{}–{}", g * 10, g * 10 + 9)
        }
    };
    let groups: Vec<charts::AgeGroup> = groups
        .iter()
        .enumerate()
        .map(|(g, v)| charts::AgeGroup {
            label: label(g),
            left: two_sided.then_some(v[0]),
            right: Some(v[1]),
        })
        .collect();
    let sides = if two_sided {
        [l.men, l.women]
    } else {
        ["", l.everyone]
    };
    Some(charts::pyramid(
        "population-pyramid",
        &format!("{} {latest}, %", l.age_pyramid),
        &groups,
        sides,
        lang,
    ))
}

fn kpa(
    input: &ReportInput<'_>,
    region: &str,
    lang: Lang,
    l: &Labels,
) -> Result<Option<Kpa>, InternalError> {
    let rows = rows_of(
        input.tables.get("kpa").copied(),
        region,
        &[
            "year",
            "service_class",
            "cost_per_client",
            "cost_per_client_real",
            "clients",
            "flags",
            "price_base_year",
        ],
    )?;
    if rows.is_empty() {
        return Ok(None);
    }
    let suppressed =
        |r: &super::model::Row| r.get("flags").is_some_and(|f| f.contains("suppressed"));
    let latest = rows.iter().filter_map(|r| r.get("year")).max();
    let euros = |v: Option<f64>, s: bool| {
        if s {
            l.suppressed.to_owned()
        } else {
            v.map_or_else(|| l.missing.to_owned(), |v| value(v, "EUR", lang))
        }
    };
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let s = suppressed(r);
            vec![
                r.get("year").unwrap_or_default(),
                r.get("service_class").unwrap_or_default(),
                euros(r.num("cost_per_client"), s),
                euros(r.num("cost_per_client_real"), s),
                if s {
                    l.suppressed.to_owned()
                } else {
                    r.num("clients")
                        .map_or_else(|| l.missing.to_owned(), |v| number(v, 0, lang))
                },
            ]
        })
        .collect();
    let chart = latest.as_ref().map(|year| {
        let mut bars = Vec::new();
        for r in rows.iter().filter(|r| r.get("year").as_ref() == Some(year)) {
            let s = suppressed(r);
            let class = r.get("service_class").unwrap_or_default();
            pair(
                &mut bars,
                (
                    format!("{class} ({})", l.nominal),
                    r.num("cost_per_client").filter(|_| !s),
                ),
                Some((
                    format!("{class} ({})", l.real),
                    r.num("cost_per_client_real").filter(|_| !s),
                )),
            );
        }
        let fmt = |v: f64| value(v, "EUR", lang);
        charts::bar_chart(
            "kpa",
            &format!("{} {year}", l.cost_per_client),
            &bars,
            &[],
            &fmt,
            l.suppressed,
            [l.service_class, l.cost_per_client],
        )
    });
    Ok(Some(Kpa {
        chart,
        rows: table,
        year: latest,
    }))
}

fn maturity(
    input: &ReportInput<'_>,
    region: &str,
    lang: Lang,
    l: &Labels,
) -> Result<Option<Maturity>, InternalError> {
    let rows = rows_of(
        input.tables.get("maturity_dimension_scores").copied(),
        region,
        &[
            "round",
            "dimension_id",
            "name_fi",
            "name_en",
            "survey_score",
            "final_score",
            "final_level",
            "reliability",
        ],
    )?;
    if rows.is_empty() {
        return Ok(None);
    }
    let rounds: BTreeSet<String> = rows.iter().filter_map(|r| r.get("round")).collect();
    let latest = rounds.iter().next_back().cloned();
    let previous = rounds.iter().rev().nth(1).cloned();
    let name = |r: &super::model::Row| {
        let n = if lang == Lang::Fi {
            r.get("name_fi")
        } else {
            r.get("name_en")
        };
        format!(
            "{} {}",
            r.get("dimension_id").unwrap_or_default(),
            n.unwrap_or_default()
        )
    };
    let reliability = |r: &super::model::Row| match r.get("reliability").as_deref() {
        Some("indicative") => l.indicative.to_owned(),
        Some("suppressed") => l.suppressed.to_owned(),
        Some(x) => x.to_owned(),
        None => l.missing.to_owned(),
    };
    let score = |v: Option<f64>| v.map_or_else(|| l.suppressed.to_owned(), |v| number(v, 2, lang));
    let mut table = Vec::new();
    let mut bars = Vec::new();
    for r in rows.iter().filter(|r| r.get("round") == latest) {
        let before = previous.as_ref().and_then(|p| {
            rows.iter()
                .find(|x| {
                    x.get("round").as_ref() == Some(p)
                        && x.get("dimension_id") == r.get("dimension_id")
                })
                .and_then(|x| x.num("final_score"))
        });
        let change = r.num("final_score").zip(before).map(|(a, b)| {
            let d = a - b;
            format!("{}{}", if d > 0.0 { "+" } else { "" }, number(d, 2, lang))
        });
        table.push(vec![
            name(r),
            score(r.num("survey_score")),
            score(r.num("final_score")),
            r.get("final_level").unwrap_or_else(|| l.missing.to_owned()),
            reliability(r),
            change.unwrap_or_else(|| "–".to_owned()),
        ]);
        let indicative = r.get("reliability").as_deref() == Some("indicative");
        bars.push(Bar {
            label: if indicative {
                format!("{} ({})", name(r), l.indicative)
            } else {
                name(r)
            },
            value: r.num("final_score"),
            highlight: !indicative,
        });
    }
    let fmt = |v: f64| number(v, 2, lang);
    let chart = Some(charts::bar_chart(
        "maturity",
        &format!("{} {}", l.final_score, latest.clone().unwrap_or_default()),
        &bars,
        &[],
        &fmt,
        l.suppressed,
        [l.dimension, l.final_score],
    ));
    Ok(Some(Maturity {
        chart,
        rows: table,
        rounds: rounds.into_iter().collect::<Vec<_>>().join(", "),
    }))
}

fn roadmap(
    input: &ReportInput<'_>,
    region: &str,
    lang: Lang,
    l: &Labels,
) -> Result<Option<Roadmap>, InternalError> {
    let progress = rows_of(
        input.tables.get("roadmap_progress").copied(),
        region,
        &[
            "dimension_id",
            "milestones",
            "done",
            "spi",
            "gap_closed_pct",
            "projected_year",
            "rag",
        ],
    )?;
    let actions = rows_of(
        input.tables.get("roadmap_actions").copied(),
        region,
        &["action_id", "title", "status", "due", "owner"],
    )?;
    let milestones = rows_of(
        input.tables.get("roadmap_milestones").copied(),
        region,
        &[
            "milestone_id",
            "action_id",
            "title",
            "planned",
            "status",
            "done_on",
        ],
    )?;
    if progress.is_empty() && actions.is_empty() {
        return Ok(None);
    }
    let rag = |r: &super::model::Row| match r.get("rag").as_deref() {
        Some("green") => format!("● {}", l.rag_green),
        Some("amber") => format!("▲ {}", l.rag_amber),
        Some("red") => format!("■ {}", l.rag_red),
        Some(x) => x.to_owned(),
        None => l.missing.to_owned(),
    };
    let dash = |v: Option<String>| v.unwrap_or_else(|| "–".to_owned());
    Ok(Some(Roadmap {
        progress: progress
            .iter()
            .map(|r| {
                vec![
                    dash(r.get("dimension_id")),
                    format!("{} / {}", dash(r.get("done")), dash(r.get("milestones"))),
                    dash(r.num("spi").map(|v| number(v, 2, lang))),
                    dash(r.num("gap_closed_pct").map(|v| value(v, "%", lang))),
                    dash(
                        r.num("projected_year")
                            .map(|v| number(v, 0, lang).replace('\u{a0}', "")),
                    ),
                    rag(r),
                ]
            })
            .collect(),
        actions: actions
            .iter()
            .map(|r| {
                vec![
                    dash(r.get("action_id")),
                    dash(r.get("title")),
                    dash(r.get("status")),
                    dash(r.get("due")),
                    dash(r.get("owner")),
                ]
            })
            .collect(),
        milestones: milestones
            .iter()
            .map(|r| {
                vec![
                    dash(r.get("milestone_id")),
                    dash(r.get("title")),
                    dash(r.get("planned")),
                    dash(r.get("status")),
                ]
            })
            .collect(),
    }))
}

/// "THL / Sotkanet; Tilastokeskus": the producers, each once, in the order of the sources.
fn source_line(input: &ReportInput<'_>) -> String {
    let mut seen = Vec::new();
    for s in input.sources {
        let name = if s.via.contains("Sotkanet") && s.producer == "THL" {
            "THL / Sotkanet".to_owned()
        } else {
            s.producer.clone()
        };
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    seen.join("; ")
}

/// The page of one focus region in one language.
pub(super) fn region_page(
    input: &ReportInput<'_>,
    data: &Indicators,
    region: &str,
    lang: Lang,
) -> Result<String, InternalError> {
    let l = labels(lang);
    let services: Vec<Service> = data
        .meta
        .iter()
        .filter(|(_, m)| matches!(m.group.as_deref(), Some("service_use" | "costs")))
        .filter_map(|(id, _)| service(input, data, id, region, lang, &l))
        .collect();
    let page = Page {
        lang: lang.code(),
        style: STYLE,
        pipeline: input.pipeline,
        run_id: input.run_id,
        date: &input.date,
        region,
        region_name: region_name(input.registry, region, lang),
        peers: input
            .peers
            .iter()
            .map(|p| region_name(input.registry, p, lang))
            .collect::<Vec<_>>()
            .join(", "),
        headline: headline(input, data, region, lang, &l),
        population: population(input, data, region, lang, &l),
        services,
        kpa: kpa(input, region, lang, &l)?,
        maturity: maturity(input, region, lang, &l)?,
        roadmap: roadmap(input, region, lang, &l)?,
        source_line: source_line(input),
        sources: input.sources.to_vec(),
        synthetic: input.sources.iter().any(|s| s.synthetic),
        languages: input
            .languages
            .iter()
            .map(|o| Link {
                href: format!("{region}.{}.html", o.code()),
                text: o.code().to_uppercase(),
            })
            .collect(),
        l,
    };
    render("page.html", &page)
}

#[derive(Serialize)]
struct Index<'a> {
    lang: &'static str,
    l: Labels,
    style: &'static str,
    pipeline: &'a str,
    run_id: &'a str,
    date: &'a str,
    pages: Vec<Link>,
    languages: Vec<Link>,
}

/// The index page of one language.
pub(super) fn index_page(input: &ReportInput<'_>, lang: Lang) -> Result<String, InternalError> {
    let index = Index {
        lang: lang.code(),
        l: labels(lang),
        style: STYLE,
        pipeline: input.pipeline,
        run_id: input.run_id,
        date: &input.date,
        pages: input
            .focus
            .iter()
            .map(|r| Link {
                href: format!("{r}.{}.html", lang.code()),
                text: region_name(input.registry, r, lang),
            })
            .collect(),
        languages: input
            .languages
            .iter()
            .map(|o| Link {
                href: format!("index.{}.html", o.code()),
                text: o.code().to_uppercase(),
            })
            .collect(),
    };
    render("index.html", &index)
}
