#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! Official values first (issue 28): Sotkanet's county, collaboration-area and country rows are
//! the indicators' values where they are published, the recomputed values are reconciled with
//! them, and a withheld municipal count never makes a recomputed county value.
//!
//! Sotkanet is replayed by the local server from answers BUILT here in its `/regions`,
//! `/indicators/{id}` and `/json` forms, for Etelä-Savo's municipalities of the 2025 division
//! (from the registry), with made-up values: municipal counts under five absent as Sotkanet
//! withholds them, and the county's own row complete.

use crate::common;
use crate::live_sources::run;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::server::{Reply, Server};
use common::*;

/// Etelä-Savo's municipalities in 2025, by code, from the registry's municipality key.
fn etela_savo() -> Vec<String> {
    let key =
        std::fs::read_to_string(repo().join("registry/municipality_key_2013-2026.csv")).unwrap();
    let mut codes: Vec<String> = key
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[0] == "2025" && f[12] == "12")
        .map(|f| f[1].to_owned())
        .collect();
    codes.sort();
    codes
}

/// Sotkanet ids of the built `/regions`: municipalities 1000 + k, the county 959, the
/// collaboration area 990, the country 658.
const COUNTY_ID: i64 = 959;
const YTA_ID: i64 = 990;
const COUNTRY_ID: i64 = 658;

fn regions(munis: &[String]) -> String {
    let mut items: Vec<String> = munis
        .iter()
        .enumerate()
        .map(|(k, code)| {
            format!(
                r#"{{"id": {}, "code": "{code}", "category": "KUNTA", "title": {{"fi": "k{code}"}}}}"#,
                1000 + k
            )
        })
        .collect();
    items.push(format!(
        r#"{{"id": {COUNTY_ID}, "code": "12", "category": "HYVINVOINTIALUE", "title": {{"fi": "Etelä-Savon hyvinvointialue"}}}}"#
    ));
    items.push(format!(
        r#"{{"id": {YTA_ID}, "code": "2", "category": "YTA", "title": {{"fi": "Itä-Suomen yhteistyöalue"}}}}"#
    ));
    items.push(format!(
        r#"{{"id": {COUNTRY_ID}, "code": "358", "category": "MAA", "title": {{"fi": "Koko maa"}}}}"#
    ));
    format!("[{}]", items.join(",\n"))
}

/// One `/json` row.
fn row(
    out: &mut Vec<String>,
    indicator: u32,
    region: i64,
    year: i16,
    value: f64,
    abs: Option<f64>,
) {
    let mut r = format!(
        r#"{{"indicator": {indicator}, "region": {region}, "year": {year}, "gender": "total", "value": {value}"#
    );
    if let Some(a) = abs {
        write!(r, r#", "absValue": {a}"#).unwrap();
    }
    r.push('}');
    out.push(r);
}

/// `k` as a number (a county has a dozen municipalities).
fn float(k: usize) -> f64 {
    f64::from(u32::try_from(k).unwrap())
}

/// The made-up figures of municipality `k`.
fn population(k: usize) -> f64 {
    10_000.0 + 1_000.0 * float(k)
}
fn aged_75(k: usize) -> f64 {
    1_500.0 + 100.0 * float(k)
}
/// Regular home care clients aged 75+: municipalities 0 and 1 have 3 and 4, which Sotkanet
/// withholds.
fn home_care(k: usize) -> f64 {
    match k {
        0 => 3.0,
        1 => 4.0,
        _ => 100.0 + 10.0 * float(k),
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The country's made-up values (not the sum of one county).
const COUNTRY_POPULATION: f64 = 5_603_851.0;
const COUNTRY_HOME_CARE: f64 = 46_210.0;
const YTA_HOME_CARE: f64 = 6_480.0;
/// Sotkanet's county share of people aged 75+ divides by another population (the mid-year one)
/// than the pipeline's 31 December: 0.3 points above what the pipeline recomputes.
const COUNTY_SHARE_OFFSET: f64 = 0.3;

struct Answers {
    population: String,
    share_75: String,
    home_care: String,
    waiting: String,
}

fn answers(n: usize) -> Answers {
    let all: Vec<usize> = (0..n).collect();
    let sum = |f: fn(usize) -> f64| all.iter().map(|&k| f(k)).sum::<f64>();
    let (mut pop, mut share, mut care, mut wait) = (vec![], vec![], vec![], vec![]);
    for year in [2022, 2023] {
        for &k in &all {
            let id = 1000 + i64::try_from(k).unwrap();
            row(&mut pop, 127, id, year, population(k), Some(population(k)));
            let pct = round1(aged_75(k) / population(k) * 100.0);
            row(&mut share, 171, id, year, pct, Some(aged_75(k)));
            if k > 1 {
                row(&mut care, 2723, id, year, home_care(k), Some(home_care(k)));
            }
        }
        row(
            &mut pop,
            127,
            COUNTRY_ID,
            year,
            COUNTRY_POPULATION,
            Some(COUNTRY_POPULATION),
        );
        row(
            &mut care,
            2723,
            COUNTRY_ID,
            year,
            COUNTRY_HOME_CARE,
            Some(COUNTRY_HOME_CARE),
        );
    }
    // Counties and collaboration areas from 2023 only (as the indicators' county series start).
    row(
        &mut pop,
        127,
        COUNTY_ID,
        2023,
        sum(population),
        Some(sum(population)),
    );
    let county_pct = round1(sum(aged_75) / sum(population) * 100.0 + COUNTY_SHARE_OFFSET);
    row(
        &mut share,
        171,
        COUNTY_ID,
        2023,
        county_pct,
        Some(sum(aged_75)),
    );
    row(
        &mut care,
        2723,
        COUNTY_ID,
        2023,
        sum(home_care),
        Some(sum(home_care)),
    );
    row(
        &mut care,
        2723,
        YTA_ID,
        2023,
        YTA_HOME_CARE,
        Some(YTA_HOME_CARE),
    );
    // 3336 (waiting over six months for specialised care, per 10 000) only for counties and the
    // country.
    row(&mut wait, 3336, COUNTY_ID, 2023, 41.7, None);
    row(&mut wait, 3336, COUNTRY_ID, 2023, 35.2, None);
    let array = |rows: Vec<String>| format!("[{}]", rows.join(",\n"));
    Answers {
        population: array(pop),
        share_75: array(share),
        home_care: array(care),
        waiting: array(wait),
    }
}

fn metadata(id: u32, title: &str, producer: &str) -> String {
    format!(
        r#"{{"id": {id}, "data-updated": "2026-03-01", "range": {{"start": 2000, "end": 2024}},
           "title": {{"fi": "{title}"}}, "organization": {{"id": 1, "title": {{"fi": "{producer}"}}}}}}"#
    )
}

/// The built Sotkanet on a local server.
fn sotkanet() -> (Server, usize) {
    let munis = etela_savo();
    let a = answers(munis.len());
    let server = Server::start();
    server.route("GET", "/rest/1.1/regions", vec![Reply::ok(regions(&munis))]);
    for (id, title, producer, body) in [
        (127, "Väestö 31.12.", "Tilastokeskus", a.population),
        (
            171,
            "75 vuotta täyttäneet, % väestöstä",
            "Tilastokeskus",
            a.share_75,
        ),
        (
            2723,
            "Säännöllisen kotihoidon 75 v täyttäneet asiakkaat 30.11.",
            "THL",
            a.home_care,
        ),
        (
            3336,
            "Yli 6 kk hoitoa odottaneet / 10 000 asukasta",
            "THL",
            a.waiting,
        ),
    ] {
        server.route(
            "GET",
            &format!("/rest/1.1/indicators/{id}"),
            vec![Reply::ok(metadata(id, title, producer))],
        );
        server.route(
            "GET",
            &format!("/rest/1.1/json?indicator={id}&years=2022&years=2023&genders=total"),
            vec![Reply::ok(body)],
        );
    }
    (server, munis.len())
}

/// The pipeline over the built Sotkanet; `share_tolerance` is the tolerance of `share_75plus`,
/// and the reconciliation check has `severity`.
fn pipeline(dir: &Path, url: &str, share_tolerance: f64, severity: &str) -> PathBuf {
    let source = |id: u32, unit: &str| {
        format!(
            r#"
[[sources]]
id = "sotkanet_{id}"
format = "sotkanet-json"
dataset = "sotkanet:{id}"
unit = "{unit}"
regions = "sotkanet_regions"
fetch = {{ api = "sotkanet", indicator = {id}, genders = ["total"] }}
"#
        )
    };
    let text = format!(
        r#"
[pipeline]
name = "official"
reference_year = 2025
years = [2022, 2023]

[regions]
focus = ["HVA12"]

[http]
contact = "analyst@example.fi"
requests_per_second = 1000.0
burst = 1000

[apis.sotkanet]
kind = "sotkanet"
url = "{url}/rest/1.1"

[[sources]]
id = "sotkanet_regions"
format = "sotkanet-regions"
fetch = {{ api = "sotkanet" }}
{}{}{}{}
[[indicators]]
id = "population"
title_fi = "Väestö 31.12."
title_en = "Population on 31 December"
unit = "persons"
aggregation = "count"
numerator = {{ dataset = "sotkanet:127", measure = "127" }}

[[indicators]]
id = "share_75plus"
title_fi = "75 vuotta täyttäneet, % väestöstä"
title_en = "Aged 75 or over, % of the population"
unit = "%"
aggregation = "ratio"
numerator = {{ dataset = "sotkanet:171", measure = "171", field = "abs_value" }}
denominator = {{ dataset = "sotkanet:127", measure = "127" }}
scale = 100
reconcile = {{ tolerance = {share_tolerance}, reason = "Sotkanet divides by the mid-year population, the pipeline by the population on 31 December" }}

[[indicators]]
id = "home_care_75plus"
title_fi = "Säännöllisen kotihoidon 75 v täyttäneet asiakkaat"
title_en = "Regular home care clients aged 75 or over"
unit = "persons"
aggregation = "count"
numerator = {{ dataset = "sotkanet:2723", measure = "2723", field = "abs_value" }}

[[indicators]]
id = "waiting_over_6_months"
title_fi = "Yli 6 kk erikoissairaanhoitoa odottaneet / 10 000 asukasta"
title_en = "Waiting over six months for specialised care per 10 000 inhabitants"
unit = "per 10000"
aggregation = "mean"
numerator = {{ dataset = "sotkanet:3336", measure = "3336" }}
weight = {{ dataset = "sotkanet:127", measure = "127" }}

[[checks]]
name = "published_and_recomputed_agree"
kind = "accepted_values"
severity = "{severity}"
table = "reconciliation"
column = "status"
values = ["match", "within_tolerance", "not_comparable"]
"#,
        source(127, "persons"),
        source(171, "%"),
        source(2723, "persons"),
        source(3336, "per 10000"),
    );
    let path = dir.join("official.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The value, basis and flags of an indicator's row.
fn indicator_row(
    df: &polars::prelude::DataFrame,
    indicator: &str,
    region: &str,
    year: i16,
) -> Option<(Option<f64>, String, Option<String>)> {
    let f = [("indicator", indicator), ("region", region)];
    let basis = one_str(df, &f, year, "basis")?;
    debug_assert_eq!(count_rows(df, &f, year), 1);
    Some((
        one_f64(df, &f, year, "value"),
        basis,
        one_str(df, &f, year, "flags"),
    ))
}

/// The replay's published county, collaboration-area and country values come out of
/// `indicators` unchanged (`basis = published`); where nothing is published (the county in
/// 2022) the value is recomputed, and over withheld municipal counts it stays null with its
/// flag; the reconciliation rows are those worked out by hand.
#[test]
fn published_values_first_and_reconciled() {
    let (server, n) = sotkanet();
    let dir = tempfile::TempDir::new().unwrap();
    let pipeline = pipeline(dir.path(), &server.url(), 0.5, "error");
    let out = dir.path().join("out");
    let o = run(&pipeline, &out, &dir.path().join("cache"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ind = read_parquet(&out.join("indicators.parquet"));
    let all: Vec<usize> = (0..n).collect();
    let sum = |f: fn(usize) -> f64| all.iter().map(|&k| f(k)).sum::<f64>();
    let published = |v: f64| Some((Some(v), "published".to_owned(), None));

    // Home care: the county's own figure although two municipalities are withheld.
    assert_eq!(
        indicator_row(&ind, "home_care_75plus", "HVA12", 2023),
        published(sum(home_care))
    );
    assert_eq!(
        indicator_row(&ind, "home_care_75plus", "YTA2", 2023),
        published(YTA_HOME_CARE)
    );
    assert_eq!(
        indicator_row(&ind, "home_care_75plus", "SSS", 2023),
        published(COUNTRY_HOME_CARE)
    );
    // 2022: no county row published; recomputed over withheld values it stays null, flagged.
    let (value, basis, flags) = indicator_row(&ind, "home_care_75plus", "HVA12", 2022).unwrap();
    assert_eq!((value, basis.as_str()), (None, "recomputed"));
    let expected_flag = format!("incomplete: {} of {n} municipalities", n - 2);
    assert_eq!(flags.as_deref(), Some(expected_flag.as_str()));
    // Population: published county and country values.
    assert_eq!(
        indicator_row(&ind, "population", "HVA12", 2023),
        published(sum(population))
    );
    assert_eq!(
        indicator_row(&ind, "population", "SSS", 2022),
        published(COUNTRY_POPULATION)
    );
    // The share: Sotkanet's county value, not the recomputed one.
    let county_pct = round1(sum(aged_75) / sum(population) * 100.0 + COUNTY_SHARE_OFFSET);
    assert_eq!(
        indicator_row(&ind, "share_75plus", "HVA12", 2023),
        published(county_pct)
    );
    // Recomputed where not published: the county share of 2022.
    let (value, basis, _) = indicator_row(&ind, "share_75plus", "HVA12", 2022).unwrap();
    assert_eq!(basis, "recomputed");
    let recomputed_pct = sum(aged_75) / sum(population) * 100.0;
    assert!((value.unwrap() - recomputed_pct).abs() < 1e-9);
    // 3336 exists only for the county and the country: published, no municipal row.
    assert_eq!(
        indicator_row(&ind, "waiting_over_6_months", "HVA12", 2023),
        published(41.7)
    );
    assert_eq!(
        indicator_row(&ind, "waiting_over_6_months", "SSS", 2023),
        published(35.2)
    );
    let wait_2022 = [("indicator", "waiting_over_6_months"), ("region", "HVA12")];
    assert_eq!(count_rows(&ind, &wait_2022, 2022), 0);

    // Reconciliation, by hand.
    let rec = read_parquet(&out.join("reconciliation.parquet"));
    let get = |indicator: &str, region: &str, year: i16, column: &str| {
        one_str(
            &rec,
            &[("indicator", indicator), ("region", region)],
            year,
            column,
        )
    };
    let num = |indicator: &str, region: &str, year: i16, column: &str| {
        one_f64(
            &rec,
            &[("indicator", indicator), ("region", region)],
            year,
            column,
        )
    };
    // Home care: nothing recomputed for the county (withheld counts), the reason says so.
    assert_eq!(
        get("home_care_75plus", "HVA12", 2023, "status").as_deref(),
        Some("not_comparable")
    );
    assert_eq!(num("home_care_75plus", "HVA12", 2023, "recomputed"), None);
    assert_eq!(
        num("home_care_75plus", "HVA12", 2023, "published"),
        Some(sum(home_care))
    );
    let reason = get("home_care_75plus", "HVA12", 2023, "reason").unwrap();
    assert!(reason.contains("counts under five"), "{reason}");
    assert!(reason.contains(&expected_flag), "{reason}");
    // Population: the county adds up exactly.
    assert_eq!(
        get("population", "HVA12", 2023, "status").as_deref(),
        Some("match")
    );
    assert_eq!(num("population", "HVA12", 2023, "difference"), Some(0.0));
    // The share: recomputed - published, within the stated tolerance, with the stated reason.
    let d = num("share_75plus", "HVA12", 2023, "difference").unwrap();
    assert!((d - (recomputed_pct - county_pct)).abs() < 1e-9, "{d}");
    let pct = num("share_75plus", "HVA12", 2023, "difference_pct").unwrap();
    assert!((pct - (recomputed_pct - county_pct) / county_pct * 100.0).abs() < 1e-9);
    assert_eq!(
        get("share_75plus", "HVA12", 2023, "status").as_deref(),
        Some("within_tolerance")
    );
    assert!(
        get("share_75plus", "HVA12", 2023, "reason")
            .unwrap()
            .contains("mid-year population")
    );
    // A municipality's share is within its one-decimal rounding.
    let first = format!("KU{}", etela_savo()[0]);
    assert_eq!(
        get("share_75plus", &first, 2023, "status").as_deref(),
        Some("match")
    );
    // Nothing is reconciled where only one side exists (3336; the county in 2022).
    for (indicator, year) in [("waiting_over_6_months", 2023), ("home_care_75plus", 2022)] {
        assert_eq!(
            count_rows(&rec, &[("indicator", indicator), ("region", "HVA12")], year),
            0
        );
    }
    mittari::model::contract::Contract::for_table("reconciliation")
        .unwrap()
        .check_frame(&rec)
        .unwrap();
}

/// Rows of `df` for `filters` in `year`.
fn count_rows(df: &polars::prelude::DataFrame, filters: &[(&str, &str)], year: i16) -> usize {
    use polars::prelude::*;
    let mut pred = col("year").eq(lit(year));
    for (c, v) in filters {
        pred = pred.and(col(*c).eq(lit(*v)));
    }
    df.clone().lazy().filter(pred).collect().unwrap().height()
}

/// Beyond an indicator's tolerance the declared check fires like any other: with severity
/// `error` nothing is published and the run exits 1, naming the check.
#[test]
fn a_difference_beyond_tolerance_stops_the_run() {
    let (server, _) = sotkanet();
    let dir = tempfile::TempDir::new().unwrap();
    let pipeline = pipeline(dir.path(), &server.url(), 0.0, "error");
    let out = dir.path().join("out");
    let o = run(&pipeline, &out, &dir.path().join("cache"), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("published_and_recomputed_agree"), "{err}");
    assert!(!out.join("indicators.parquet").exists());

    // As a warning the outputs are published, the difference listed.
    let pipeline = self::pipeline(dir.path(), &server.url(), 0.0, "warn");
    let o = run(&pipeline, &out, &dir.path().join("cache"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rec = read_parquet(&out.join("reconciliation.parquet"));
    assert_eq!(
        one_str(
            &rec,
            &[("indicator", "share_75plus"), ("region", "HVA12")],
            2023,
            "status"
        )
        .as_deref(),
        Some("beyond_tolerance")
    );
}

/// Figures another organisation produced name it: the manifest credits Statistics Finland
/// (Tilastokeskus) for Sotkanet's 127 and 171 with Sotkanet's terms, THL for its own, and each
/// table of indicators carries the same in its Parquet metadata (`mittari.attribution`).
#[test]
fn outputs_name_the_producers_of_their_figures() {
    let (server, _) = sotkanet();
    let dir = tempfile::TempDir::new().unwrap();
    let pipeline = pipeline(dir.path(), &server.url(), 0.5, "warn");
    let out = dir.path().join("out");
    let o = run(&pipeline, &out, &dir.path().join("cache"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = crate::live_sources::manifest(&out);
    let credits = m["attribution"].as_array().unwrap();
    let of = |producer: &str| {
        credits
            .iter()
            .find(|c| c["producer"] == producer)
            .unwrap_or_else(|| panic!("no credit for {producer}: {m}"))
    };
    let stat = of("Tilastokeskus");
    assert_eq!(
        stat["datasets"],
        serde_json::json!(["sotkanet:127", "sotkanet:171"])
    );
    assert_eq!(stat["third_party"], true);
    assert!(
        stat["note"]
            .as_str()
            .unwrap()
            .contains("agreement with the producer")
    );
    let thl = of("THL");
    assert_eq!(
        thl["datasets"],
        serde_json::json!(["sotkanet:2723", "sotkanet:3336"])
    );
    assert_eq!(thl["third_party"], false);
    for table in [
        "indicators",
        "reconciliation",
        "comparisons",
        "observations",
    ] {
        let meta =
            mittari::io::parquet::read_parquet_metadata(&out.join(format!("{table}.parquet")))
                .unwrap();
        let a = &meta.key_value["mittari.attribution"];
        assert!(
            a.contains("Tilastokeskus, via THL Sotkanet (http://127.0.0.1:")
                && a.contains(
                    "sotkanet:127, sotkanet:171 (produced by another organisation than THL"
                )
                && a.contains("THL, via THL Sotkanet"),
            "{table}: {a}"
        );
    }
    // Tables without the sources' figures name no producer.
    let meta = mittari::io::parquet::read_parquet_metadata(&out.join("regions.parquet")).unwrap();
    assert!(!meta.key_value.contains_key("mittari.attribution"));
}
