#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::float_cmp)] // Tests: plain std::fs, unwrap on setup; counts are whole numbers, compared exactly.
//! Regions through time and aggregation rules, through the derive stage on constructed
//! observations: every figure lands in the county of the reference year, rates are recomputed
//! from sums, and population structure is exact.

use std::collections::HashMap;
use std::path::Path;

use mittari::model::config::Pipeline;
use mittari::model::regions::{Crosswalk, Registry};
use mittari::stages::derive::{DeriveInput, Derived, derive};
use polars::prelude::*;

/// A pipeline with one source per dataset named and the given `[population]` / indicators.
fn pipeline(body: &str) -> Pipeline {
    let text = format!(
        r#"
[pipeline]
name = "t"
reference_year = 2025
years = [2016, 2019, 2024]

[regions]
focus = ["HVA12"]

[[sources]]
id = "a"
format = "jsonstat"
path = "a.json"
dataset = "t:a"

[[sources]]
id = "b"
format = "jsonstat"
path = "b.json"
dataset = "t:b"
{body}
"#
    );
    Pipeline::parse(Path::new("t.toml"), &text).unwrap()
}

/// One observation: dataset, measure, region, year, value, age.
type Obs<'a> = (&'a str, &'a str, &'a str, i16, Option<f64>, &'a str);

fn observations(rows: &[Obs<'_>]) -> DataFrame {
    let level = |r: &str| {
        mittari::model::regions::Level::of_code(r)
            .map_or("unknown", mittari::model::regions::Level::as_str)
    };
    df!(
        "dataset" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        "measure" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        "region" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        "region_level" => rows.iter().map(|r| level(r.2)).collect::<Vec<_>>(),
        "period" => rows.iter().map(|r| r.3.to_string()).collect::<Vec<_>>(),
        "year" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        "sex" => rows.iter().map(|_| "total").collect::<Vec<_>>(),
        "age" => rows.iter().map(|r| r.5).collect::<Vec<_>>(),
        "breakdown" => rows.iter().map(|_| "").collect::<Vec<_>>(),
        "value" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
        "abs_value" => rows.iter().map(|_| None::<f64>).collect::<Vec<_>>(),
        "raw_sha256" => rows.iter().map(|_| "sha").collect::<Vec<_>>(),
    )
    .unwrap()
}

fn run(p: &Pipeline, obs: &DataFrame, cw: &Crosswalk) -> Derived {
    let f = &p.file;
    derive(&DeriveInput {
        observations: obs,
        crosswalk: cw,
        indicators: &f.indicators,
        years: &f.pipeline.years,
        source_of: &HashMap::new(),
        population: f.population.as_ref(),
        crosschecks: &f.crosschecks,
        memo: mittari::stages::derive::Memo::default(),
    })
    .unwrap()
}

/// `value` of `indicator` for `region` in `year`.
fn value(d: &Derived, indicator: &str, region: &str, year: i16) -> Option<f64> {
    let rows = d
        .indicators
        .clone()
        .lazy()
        .filter(
            col("indicator")
                .eq(lit(indicator))
                .and(col("region").eq(lit(region)))
                .and(col("year").eq(lit(year))),
        )
        .collect()
        .unwrap();
    assert_eq!(rows.height(), 1, "{indicator} {region} {year}: {rows}");
    rows.column("value").unwrap().f64().unwrap().get(0)
}

fn registry() -> (Registry, Crosswalk) {
    let r = Registry::builtin().unwrap();
    let cw = r.crosswalk(2025).unwrap();
    (r, cw)
}

const COUNT: &str = r#"
[[indicators]]
id = "n"
title_fi = "n"
title_en = "n"
unit = "persons"
aggregation = "count"
numerator = { dataset = "t:a", measure = "m" }
"#;

/// Property: for random municipal data (every municipality of the year's own division) and the
/// real 2025 crosswalk, each county is the sum of its municipalities and the country the sum of
/// the counties, in every year.
#[test]
fn property_counties_and_country_are_sums() {
    let (registry, cw) = registry();
    let p = pipeline(COUNT);
    let mut rng = fastrand::Rng::with_seed(5);
    for case in 0..6 {
        let mut rows = Vec::new();
        let mut expected_county: HashMap<String, HashMap<i16, f64>> = HashMap::new();
        for year in [2016i16, 2019, 2024] {
            for code in registry.years()[&year].keys() {
                let v = f64::from(rng.u32(0..200_000));
                rows.push(("t:a", "m", code.clone(), year, Some(v), "total"));
                let muni = cw.successor(code).unwrap();
                let county = cw.county_of(muni).unwrap().to_owned();
                *expected_county
                    .entry(county)
                    .or_default()
                    .entry(year)
                    .or_default() += v;
            }
        }
        let rows: Vec<Obs<'_>> = rows
            .iter()
            .map(|(d, m, c, y, v, a)| (*d, *m, c.as_str(), *y, *v, *a))
            .collect();
        let d = run(&p, &observations(&rows), &cw);
        for year in [2016i16, 2019, 2024] {
            let mut country = 0.0;
            for (county, members) in cw.members() {
                let v = value(&d, "n", county, year).unwrap();
                assert_eq!(
                    v, expected_county[county][&year],
                    "case {case} {county} {year}"
                );
                let sum: f64 = members
                    .iter()
                    .map(|m| value(&d, "n", m, year).unwrap())
                    .sum();
                assert_eq!(v, sum, "case {case} {county} {year}");
                country += v;
            }
            assert_eq!(
                value(&d, "n", "SSS", year).unwrap(),
                country,
                "case {case} {year}"
            );
        }
    }
}

/// Every municipality of `year` at 0, one at 1: which county gets the 1.
fn county_of_data(code: &str, year: i16) -> (Derived, String) {
    let (registry, cw) = registry();
    let codes: Vec<String> = registry.years()[&year].keys().cloned().collect();
    let rows: Vec<Obs<'_>> = codes
        .iter()
        .map(|c| {
            let v = if c == code { 1.0 } else { 0.0 };
            ("t:a", "m", c.as_str(), year, Some(v), "total")
        })
        .collect();
    let d = run(&pipeline(COUNT), &observations(&rows), &cw);
    let county = cw
        .members()
        .keys()
        .find(|k| value(&d, "n", k, year) == Some(1.0))
        .unwrap()
        .clone();
    (d, county)
}

#[test]
fn mergers_and_moves_land_in_the_reference_county() {
    // Juankoski (KU174) existed until 2016; its 2016 data is Kuopio's in the 2025 division.
    let (d, county) = county_of_data("KU174", 2016);
    assert_eq!(
        value(&d, "n", "KU297", 2016),
        Some(1.0),
        "Juankoski in Kuopio"
    );
    assert_eq!(county, "HVA13");
    // In every reference year the key can serve (those with a county for every municipality).
    let (registry, _) = registry();
    let years = registry.reference_years();
    assert_eq!(years.first(), Some(&2021));
    for year in years {
        let cw = registry.crosswalk(year).unwrap();
        assert_eq!(cw.successor("KU174"), Some("KU297"), "{year}");
        assert_eq!(cw.county_of("KU297"), Some("HVA13"), "{year}");
    }
    assert_eq!(
        county_of_data("KU171", 2019).1,
        "HVA13",
        "Joroinen: Pohjois-Savo"
    );
    assert_eq!(
        county_of_data("KU288", 2019).1,
        "HVA17",
        "Kruunupyy: Pohjanmaa"
    );
    assert_eq!(
        county_of_data("KU691", 2019).1,
        "HVA19",
        "Reisjärvi: Pohjois-Pohjanmaa"
    );
    assert_eq!(
        county_of_data("KU091", 2024).1,
        "HVA90",
        "Helsinki is its own county"
    );
    // Pertunmaa joined Mäntyharju in 2025.
    assert_eq!(
        value(&county_of_data("KU588", 2024).0, "n", "KU507", 2024),
        Some(1.0)
    );
}

#[test]
fn merger_dates_come_from_the_key() {
    let (registry, _) = registry();
    let m = registry.mergers();
    let juankoski = m.iter().find(|m| m.abolished == "KU174").unwrap();
    assert_eq!(juankoski.joined, "KU297");
    assert_eq!(juankoski.effective.unwrap().to_string(), "2017-01-01");
    let pertunmaa = m.iter().find(|m| m.abolished == "KU588").unwrap();
    assert_eq!(pertunmaa.effective.unwrap().to_string(), "2025-01-01");
    // Hospital districts end with 2022; the dated key carries each municipality's district.
    let shp = registry.get("SHP11").unwrap();
    assert_eq!(shp.valid_to.unwrap().to_string(), "2022-12-31");
    assert_eq!(
        registry.years()[&2020]["KU171"]
            .hospital_district
            .as_deref(),
        Some("SHP10"),
        "Joroinen was in Etelä-Savo's hospital district"
    );
}

/// Keski-Pohjanmaa: Kokkola (big) and Halsua (small) with very different rates; the county rate
/// is the summed numerator over the summed denominator, not the mean of the two rates.
#[test]
fn a_ratio_is_recomputed_from_sums_not_averaged() {
    let (_, cw) = registry();
    let p = pipeline(
        r#"
[[indicators]]
id = "r"
title_fi = "r"
title_en = "r"
unit = "%"
aggregation = "ratio"
numerator = { dataset = "t:a", measure = "num" }
denominator = { dataset = "t:b", measure = "den" }
scale = 100
"#,
    );
    let mut rows: Vec<Obs<'_>> = Vec::new();
    for m in &cw.members()["HVA18"] {
        let (n, d) = match m.as_str() {
            "KU272" => (5000.0, 48_000.0),
            "KU074" => (300.0, 1150.0),
            _ => (0.0, 0.0),
        };
        rows.push(("t:a", "num", m.as_str(), 2024, Some(n), "total"));
        rows.push(("t:b", "den", m.as_str(), 2024, Some(d), "total"));
    }
    let d = run(&p, &observations(&rows), &cw);
    let county = value(&d, "r", "HVA18", 2024).unwrap();
    assert!(
        (county - 5300.0 / 49_150.0 * 100.0).abs() < 1e-9,
        "{county}"
    );
    let mean = f64::midpoint(
        value(&d, "r", "KU272", 2024).unwrap(),
        value(&d, "r", "KU074", 2024).unwrap(),
    );
    assert!(
        (mean - county).abs() > 5.0,
        "mean of rates {mean} vs {county}"
    );
}

#[test]
fn a_mean_is_weighted_and_an_index_is_not_aggregated() {
    let (_, cw) = registry();
    let p = pipeline(
        r#"
[[indicators]]
id = "age_mean"
title_fi = "m"
title_en = "m"
unit = "years"
aggregation = "mean"
numerator = { dataset = "t:a", measure = "mean_age" }
weight = { dataset = "t:b", measure = "pop" }

[[indicators]]
id = "morbidity"
title_fi = "i"
title_en = "i"
unit = "index"
aggregation = "index"
numerator = { dataset = "t:a", measure = "idx" }
"#,
    );
    let mut rows: Vec<Obs<'_>> = Vec::new();
    for m in &cw.members()["HVA18"] {
        let (a, w) = if m == "KU272" {
            (40.0, 48_000.0)
        } else {
            (50.0, 2000.0)
        };
        rows.push(("t:a", "mean_age", m.as_str(), 2024, Some(a), "total"));
        rows.push(("t:b", "pop", m.as_str(), 2024, Some(w), "total"));
        rows.push(("t:a", "idx", m.as_str(), 2024, Some(130.0), "total"));
    }
    // The index as published for the county and a hospital district: taken as it is.
    rows.push(("t:a", "idx", "HVA18", 2024, Some(112.5), "total"));
    rows.push(("t:a", "idx", "SHP17", 2024, Some(111.0), "total"));
    // Pertunmaa's own index (before it joined Mäntyharju) cannot be combined: quarantined.
    rows.push(("t:a", "idx", "KU588", 2024, Some(140.0), "total"));
    let d = run(&p, &observations(&rows), &cw);
    assert_eq!(d.quarantine.len(), 1);
    assert_eq!(d.quarantine[0].rule, "index_not_combined");
    assert!(
        d.quarantine[0].reason.contains("KU588"),
        "{}",
        d.quarantine[0].reason
    );
    let others = f64::from(u32::try_from(cw.members()["HVA18"].len()).unwrap() - 1);
    let expected = (40.0 * 48_000.0 + 50.0 * 2000.0 * others) / (48_000.0 + 2000.0 * others);
    assert!((value(&d, "age_mean", "HVA18", 2024).unwrap() - expected).abs() < 1e-9);
    assert_eq!(
        value(&d, "morbidity", "HVA18", 2024),
        Some(112.5),
        "not the mean 130"
    );
    assert_eq!(
        value(&d, "morbidity", "SHP17", 2024),
        Some(111.0),
        "stays at its own level"
    );
    assert_eq!(value(&d, "morbidity", "KU272", 2024), Some(130.0));
}

#[test]
fn rules_that_cannot_be_applied_are_config_errors() {
    let cases = [
        ("aggregation = \"mean\"\n", "needs a `weight` measure"),
        ("aggregation = \"ratio\"\n", "needs a `denominator`"),
        (
            "aggregation = \"index\"\ndenominator = { dataset = \"t:b\", measure = \"x\" }\n",
            "an `index` is not aggregated",
        ),
    ];
    for (rule, message) in cases {
        let text = format!(
            r#"
[pipeline]
name = "t"
reference_year = 2025
years = [2024]

[regions]
focus = ["HVA12"]

[[sources]]
id = "a"
format = "jsonstat"
path = "a.json"
dataset = "t:a"

[[sources]]
id = "b"
format = "jsonstat"
path = "b.json"
dataset = "t:b"

[[indicators]]
id = "bad"
title_fi = "x"
title_en = "x"
unit = "x"
numerator = {{ dataset = "t:a", measure = "m" }}
{rule}"#
        );
        let err = Pipeline::parse(Path::new("t.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("indicator `bad`") && err.contains(message),
            "{err}"
        );
        assert!(err.starts_with("t.toml:"), "{err}");
    }
}

/// A hand-checked table: one municipality, 10 persons at each age 0..99 and 5 aged 100 or over.
#[test]
fn population_bands_shares_and_dependency_ratios() {
    let (_, cw) = registry();
    let p = pipeline(
        r#"
[population]
dataset = "t:a"
measure = "vaesto"
projection = { dataset = "t:b", measure = "ennuste" }
"#,
    );
    let ages: Vec<String> = (0..100).map(|a| format!("{a:03}")).collect();
    let mut rows: Vec<Obs<'_>> = ages
        .iter()
        .map(|a| ("t:a", "vaesto", "KU091", 2024, Some(10.0), a.as_str()))
        .collect();
    rows.push(("t:a", "vaesto", "KU091", 2024, Some(5.0), "100-"));
    // 2019: the same but 20 at age 0 (for the change over 5 years).
    rows.extend(ages.iter().map(|a| {
        (
            "t:a",
            "vaesto",
            "KU091",
            2019,
            Some(if a == "000" { 20.0 } else { 10.0 }),
            a.as_str(),
        )
    }));
    rows.push(("t:a", "vaesto", "KU091", 2019, Some(5.0), "100-"));
    // A projection for 2030: computed the same way for its own years (not the pipeline's).
    rows.extend(
        ages.iter()
            .map(|a| ("t:b", "ennuste", "KU091", 2030, Some(12.0), a.as_str())),
    );
    rows.push(("t:b", "ennuste", "KU091", 2030, Some(10.0), "100-"));
    // A five-year class across the 6/7 band limit cannot be split: quarantined, not spread.
    rows.push(("t:a", "vaesto", "KU049", 2024, Some(100.0), "5-9"));
    let d = run(&p, &observations(&rows), &cw);
    let v = |id: &str| value(&d, id, "KU091", 2024).unwrap();
    assert_eq!(v("population_total"), 1005.0);
    assert_eq!(v("population_0_6"), 70.0);
    assert_eq!(v("population_7_17"), 110.0);
    assert_eq!(v("population_18_64"), 470.0);
    assert_eq!(v("population_65_74"), 100.0);
    assert_eq!(v("population_75_84"), 100.0);
    assert_eq!(v("population_85plus"), 155.0);
    assert!((v("population_share_85plus") - 155.0 / 1005.0 * 100.0).abs() < 1e-12);
    assert!((v("population_share_0_6") - 70.0 / 1005.0 * 100.0).abs() < 1e-12);
    // (150 aged 0-14 + 355 aged 65+) / 500 aged 15-64.
    assert!((v("dependency_ratio_demographic") - 101.0).abs() < 1e-12);
    assert!((v("dependency_ratio_old_age") - 71.0).abs() < 1e-12);
    assert!((v("population_total_change_5y_pct") - (1005.0 / 1015.0 - 1.0) * 100.0).abs() < 1e-12);
    assert!((v("population_0_6_change_5y_pct") - (70.0 / 80.0 - 1.0) * 100.0).abs() < 1e-12);
    // No 2014 data: no 10-year change, and a flag saying why.
    assert_eq!(
        value(&d, "population_total_change_10y_pct", "KU091", 2024),
        None
    );
    // Helsinki is a county: the county has the same figures.
    assert_eq!(value(&d, "population_total", "HVA90", 2024), Some(1005.0));
    assert_eq!(
        value(&d, "projected_population_total", "KU091", 2030),
        Some(1210.0)
    );
    assert!(
        (value(&d, "projected_dependency_ratio_old_age", "KU091", 2030).unwrap()
            - 430.0 / 600.0 * 100.0)
            .abs()
            < 1e-12
    );
    assert_eq!(d.quarantine.len(), 1);
    assert_eq!(d.quarantine[0].rule, "unusable_age");
    assert!(
        d.quarantine[0].reason.contains("`5-9`"),
        "{}",
        d.quarantine[0].reason
    );
}
