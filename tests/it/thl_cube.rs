#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! THL's statistical cubes (`thl-cube`) against a local server that answers as THL's pivot
//! server does. The answers are BUILT here in the shapes of THL's open-source pivot server
//! (its dimension-tree template `thl.pivot.loadDimensions([...]);` with `id`, `sid`, `label`,
//! `stage`, `children`; its JSON-stat exporter `{"dataset": {"version": "2.0", "class":
//! "dataset", "dimension": {"id", "size", ...}, "value": {"<i>": "<text>"}}}` with empty cells left
//! out and every value as text), with made-up values; no recorded answer of the cost cube was at
//! hand.

use crate::common;
use crate::live_sources::{manifest, run};

use std::path::{Path, PathBuf};

use common::server::{Reply, Server};
use common::*;
use polars::prelude::{IntoLazy, col, lit};

const CUBE: &str = "/pivot/prod/fi/talous/kuntamenot/fact_sote";
const DIMENSIONS: &str = r#"thl.pivot.loadDimensions(
[
 {
    "id": "hva",
    "label": "Hyvinvointialue",
    "children": [
        {
            "id": "100",
            "sid": 445100,
            "label": "Koko maa",
            "stage": "root",
            "children": [
        {
            "id": "112",
            "sid": 445112,
            "label": "Etelä-Savon hyvinvointialue",
            "stage": "hva",
            "children": []
        },
        {
            "id": "113",
            "sid": 445113,
            "label": "Pohjois-Savon hyvinvointialue",
            "stage": "hva",
            "children": []
        },
        {
            "id": "118",
            "sid": 445118,
            "label": "Keski-Pohjanmaan hyvinvointialue",
            "stage": "hva",
            "children": []
        }
            ]
        }
    ]
 },
 {
    "id": "vuosi",
    "label": "Vuosi",
    "children": [
        {"id": "kaikki", "sid": 446000, "label": "Kaikki vuodet", "stage": "root", "children": [
            {"id": "2023", "sid": 446023, "label": "2023", "stage": "vuosi", "children": []},
            {"id": "2024", "sid": 446024, "label": "2024", "stage": "vuosi", "children": []}
        ]}
    ]
 },
 {
    "id": "palveluluokka",
    "label": "Palveluluokka",
    "children": [
        {"id": "pl0", "sid": 447000, "label": "Sosiaali- ja terveydenhuolto yhteensä", "stage": "root", "code": "0", "children": [
            {"id": "pl1", "sid": 447001, "label": "Perusterveydenhuolto", "stage": "luokka", "code": "1", "children": []},
            {"id": "pl2", "sid": 447002, "label": "Erikoissairaanhoito", "stage": "luokka", "code": "2", "children": []}
        ]}
    ]
 },
 {
    "id": "measure",
    "label": "Mittari",
    "children": [
        {"id": "m1", "sid": 448001, "label": "Nettokustannukset, euroa / asukas", "stage": "measure", "children": []},
        {"id": "m2", "sid": 448002, "label": "Nettokustannukset, 1 000 euroa", "stage": "measure", "children": []}
    ]
 }
]
);
"#;

/// The data answer of the selection below: rows hva (3 counties), columns palveluluokka (2)
/// and vuosi (2), the measure a filter; one empty cell left out, one value with a decimal comma.
const DATA: &str = r#"{
"dataset": {
"version": "2.0",
"class": "dataset",
"label": "Sote-käyttötalous palveluluokittain",
"dimension": {
"id": [
"hva","palveluluokka","vuosi"
],
"size": [
3,2,2
],
"hva" : {
"category": {
"index": {
"112": 0,
"113": 1,
"118": 2},
"label": {
"112": "Etelä-Savon hyvinvointialue",
"113": "Pohjois-Savon hyvinvointialue",
"118": "Keski-Pohjanmaan hyvinvointialue"}
}
},
"palveluluokka" : {
"category": {
"index": {
"pl1": 0,
"pl2": 1},
"label": {
"pl1": "Perusterveydenhuolto",
"pl2": "Erikoissairaanhoito"}
}
},
"vuosi" : {
"category": {
"index": {
"2023": 0,
"2024": 1},
"label": {
"2023": "2023",
"2024": "2024"}
}
}
},
"value": {
"0": "1012",
"1": "1080,5",
"2": "2204",
"3": "2310",
"4": "951",
"5": "990",
"6": "2101",
"8": "1102",
"9": "1150",
"10": "2250",
"11": "2402"
}
}
}
"#;

/// The data request the selection resolves to (keys in order: the service classes, which are
/// the measures, the cube's `measure` as a filter, the region, the time).
const DATA_TARGET: &str = "/pivot/prod/fi/talous/kuntamenot/fact_sote.json?column=palveluluokka-447001L&filter=measure-448001&row=hva-445112L&column=vuosi-446023L";

fn cube_server() -> Server {
    let server = Server::start();
    server.route(
        "GET",
        &format!("{CUBE}.dimensions.json"),
        vec![Reply::ok(DIMENSIONS).etag("\"d1\"")],
    );
    server.route("GET", DATA_TARGET, vec![Reply::ok(DATA).etag("\"v1\"")]);
    server
}

fn pipeline(dir: &Path, url: &str, select: &str) -> PathBuf {
    let text = format!(
        r#"
[pipeline]
name = "cube"
reference_year = 2025
years = [2023, 2024]

[regions]
focus = ["HVA12"]

[http]
contact = "analyst@example.fi"
max_retries = 2
backoff_base_ms = 20
max_backoff_secs = 0.1
requests_per_second = 1000.0
burst = 1000

[apis.thl]
kind = "thl-cube"
url = "{url}/pivot/prod/fi"

[[sources]]
id = "thl_sote_costs"
format = "jsonstat"
dataset = "thl:sote_costs"
unit = "EUR per capita"
fetch = {{ api = "thl", cube = "talous/kuntamenot/fact_sote", select = {{ {select} }}, measures = {{ "Perusterveydenhuolto" = "phc", "Erikoissairaanhoito" = "specialised" }} }}
"#
    );
    let path = dir.join("cube.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const SELECT: &str = r#"region = ["wellbeing_county"], time = ["2023", "2024"], "Palveluluokka" = ["Perusterveydenhuolto", "Erikoissairaanhoito"], measure = ["Nettokustannukset, euroa / asukas"]"#;

/// The observation of a county, measure and year.
fn cost(obs: &polars::prelude::DataFrame, region: &str, measure: &str, year: i16) -> Option<f64> {
    one_f64(
        obs,
        &[
            ("dataset", "thl:sote_costs"),
            ("region", region),
            ("measure", measure),
        ],
        year,
        "value",
    )
}

/// A cube's dimensions are resolved by role from `.dimensions.json`, the data request names the
/// nodes' surrogate ids, and the answer becomes observations of canonical counties, years and
/// the measure ids the pipeline gave; the resolution is in the manifest. A rerun revalidates
/// (304) and `--offline` replays the archive without a request.
#[test]
fn a_cube_by_role_archived_and_replayed() {
    let server = cube_server();
    let dir = tempfile::TempDir::new().unwrap();
    let pipeline = pipeline(dir.path(), &server.url(), SELECT);
    let cache = dir.path().join("cache");
    let out = dir.path().join("out");
    let o = run(&pipeline, &out, &cache, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let obs = read_parquet(&out.join("observations.parquet"));
    assert_eq!(cost(&obs, "HVA12", "phc", 2023), Some(1012.0));
    assert_eq!(cost(&obs, "HVA12", "phc", 2024), Some(1080.5));
    assert_eq!(cost(&obs, "HVA13", "specialised", 2023), Some(2101.0));
    assert_eq!(cost(&obs, "HVA18", "specialised", 2024), Some(2402.0));
    // The empty cell THL leaves out (Pohjois-Savo, specialised care, 2024) is no row, never 0.
    let hva13 = obs
        .clone()
        .lazy()
        .filter(
            col("dataset")
                .eq(lit("thl:sote_costs"))
                .and(col("region").eq(lit("HVA13"))),
        )
        .collect()
        .unwrap();
    assert_eq!(hva13.height(), 3, "{hva13}");
    let m = manifest(&out);
    let meta = &m["inputs"][0]["metadata"];
    assert_eq!(meta["dimensions"]["region"], "hva", "{m}");
    assert_eq!(meta["dimensions"]["time"], "vuosi");
    assert_eq!(meta["categories"]["hva"]["112"], "HVA12");
    assert_eq!(meta["dimensions"]["measure"], "palveluluokka");
    assert_eq!(meta["categories"]["palveluluokka"]["pl1"], "phc");
    assert_eq!(meta["selected"]["measure"], "measure");

    // A rerun: conditional requests, answered 304.
    let o = run(&pipeline, &out, &cache, &["--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = manifest(&out);
    let origins: Vec<&str> = m["inputs"][0]["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["origin"].as_str().unwrap())
        .collect();
    assert_eq!(origins, ["not-modified", "not-modified"], "{m}");

    // Offline: the archive answers, the server is not asked.
    server.clear_seen();
    let replayed = dir.path().join("offline");
    let o = run(&pipeline, &replayed, &cache, &["--offline"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(server.seen().is_empty());
    let again = read_parquet(&replayed.join("observations.parquet"));
    assert_eq!(cost(&again, "HVA12", "phc", 2024), Some(1080.5));
}

/// A server error is retried; a selection that does not fit the cube stops the run before the
/// data request, naming what does not fit and the cube's dimensions.
#[test]
fn retries_and_a_selection_that_does_not_fit() {
    let server = cube_server();
    server.route(
        "GET",
        &format!("{CUBE}.dimensions.json"),
        vec![
            Reply::status(503, "busy"),
            Reply::ok(DIMENSIONS).etag("\"d1\""),
        ],
    );
    let dir = tempfile::TempDir::new().unwrap();
    let pipeline = pipeline(dir.path(), &server.url(), SELECT);
    let o = run(
        &pipeline,
        &dir.path().join("a"),
        &dir.path().join("cache"),
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(server.count("GET", &format!("{CUBE}.dimensions.json")), 2);

    let wrong = SELECT.replace("Palveluluokka", "Tehtäväalue");
    let pipeline = self::pipeline(dir.path(), &server.url(), &wrong);
    server.clear_seen();
    let o = run(
        &pipeline,
        &dir.path().join("b"),
        &dir.path().join("cache"),
        &[],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(
            "does not fit cube `talous/kuntamenot/fact_sote`: no dimension is `Tehtäväalue`"
        ),
        "{err}"
    );
    assert!(err.contains("`palveluluokka` (Palveluluokka)"), "{err}");
    assert_eq!(server.count("GET", DATA_TARGET), 0);
}

/// The catalogue's county costs from the cube: the county figures as THL publishes them
/// (`basis = published`, there being no municipal figures to recompute from), and the same in
/// 2024 prices through the price index (the country's row of `prices:public_sote`):
/// value × index(2024) / index(year).
#[test]
fn county_costs_from_the_catalogue_in_current_and_real_terms() {
    let server = cube_server();
    let dir = tempfile::TempDir::new().unwrap();
    let base = pipeline(dir.path(), &server.url(), SELECT);
    std::fs::write(dir.path().join("population.json"), "[]").unwrap();
    std::fs::write(
        dir.path().join("price_index.json"),
        r#"{"version": "2.0", "class": "dataset", "label": "Price index (made up for the test)",
            "id": ["alue", "vuosi", "tiedot"], "size": [1, 2, 1],
            "dimension": {"alue": {"category": {"index": {"SSS": 0}}},
                          "vuosi": {"category": {"index": {"2023": 0, "2024": 1}}},
                          "tiedot": {"category": {"index": {"index": 0}}}},
            "value": [118.2, 123.0]}"#,
    )
    .unwrap();
    let text = std::fs::read_to_string(&base).unwrap();
    let extra = format!(
        r#"
[[sources]]
id = "population"
format = "sotkanet-json"
path = "population.json"
dataset = "sotkanet:127"

[[sources]]
id = "price_index"
format = "jsonstat"
path = "price_index.json"
dataset = "prices:public_sote"
dimensions = {{ region = "alue", time = "vuosi", measure = "tiedot" }}

[catalogue]
path = "{}"
use = ["county_net_cost_per_capita_phc", "county_net_cost_per_capita_phc_real", "county_net_cost_per_capita_specialised"]
"#,
        repo().join("pipelines/catalogue.toml").display()
    );
    std::fs::write(&base, text + &extra).unwrap();
    let out = dir.path().join("out");
    let o = run(&base, &out, &dir.path().join("cache"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ind = read_parquet(&out.join("indicators.parquet"));
    let get = |indicator: &str, region: &str, year: i16, column: &str| {
        one_f64(
            &ind,
            &[("indicator", indicator), ("region", region)],
            year,
            column,
        )
    };
    let text = |indicator: &str, year: i16, column: &str| {
        one_str(
            &ind,
            &[("indicator", indicator), ("region", "HVA12")],
            year,
            column,
        )
        .unwrap()
    };
    assert_eq!(
        get("county_net_cost_per_capita_phc", "HVA12", 2023, "value"),
        Some(1012.0)
    );
    assert_eq!(
        text("county_net_cost_per_capita_phc", 2023, "basis"),
        "published"
    );
    assert_eq!(
        get(
            "county_net_cost_per_capita_specialised",
            "HVA18",
            2024,
            "value"
        ),
        Some(2402.0)
    );
    let real_2023 = get(
        "county_net_cost_per_capita_phc_real",
        "HVA12",
        2023,
        "value",
    )
    .unwrap();
    assert!(
        (real_2023 - 1012.0 * 123.0 / 118.2).abs() < 1e-9,
        "{real_2023}"
    );
    assert_eq!(
        get(
            "county_net_cost_per_capita_phc_real",
            "HVA12",
            2024,
            "value"
        ),
        Some(1080.5)
    );
    let method = text("county_net_cost_per_capita_phc_real", 2023, "method");
    assert!(
        method.contains(
            "in 2024 prices: × index(2024) / index(year) of prices:public_sote/index.value"
        ),
        "{method}"
    );
}

/// The live county-costs pipeline validates without the network and says what it will ask the
/// cube for; its real-terms entries are skipped (named) until a source gives the price index.
#[test]
fn the_county_costs_pipeline_validates() {
    let o = mittari()
        .arg("validate")
        .arg(repo().join("pipelines/county-costs.toml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for line in [
        "GET https://sampo.thl.fi/pivot/prod/fi/talous/kuntamenot/fact_talous_kuntamenot.dimensions.json",
        "county_net_cost_per_capita_total [Mean] thl:sote_costs/total.value",
        "county_net_cost_per_capita_total_real (no source provides dataset `prices:public_sote`)",
        "nothing written",
    ] {
        assert!(out.contains(line), "no `{line}` in\n{out}");
    }
}

/// `doctor` reads the cube's dimensions only, says what each role resolves to and the request it
/// would send; a selection that does not fit is reported with the cube's own dimensions.
#[test]
fn doctor_checks_a_cube_without_asking_for_data() {
    let server = cube_server();
    let dir = tempfile::TempDir::new().unwrap();
    let p = pipeline(dir.path(), &server.url(), SELECT);
    let o = mittari().arg("doctor").arg(&p).output().unwrap();
    let out = stdout(&o);
    assert!(o.status.success(), "{}\n{out}", stderr(&o));
    assert!(out.contains("thl_sote_costs [thl-cube]: ok"), "{out}");
    assert!(
        out.contains("measure -> palveluluokka, region -> hva, time -> vuosi"),
        "{out}"
    );
    assert!(out.contains("row=hva-445112L"), "{out}");
    assert_eq!(server.count("GET", DATA_TARGET), 0, "no data is asked for");

    let wrong = SELECT.replace(
        "Perusterveydenhuolto\", \"Erikoissairaanhoito\"]",
        "Hammashuolto\"]",
    );
    let p = pipeline(dir.path(), &server.url(), &wrong);
    let o = mittari().arg("doctor").arg(&p).output().unwrap();
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!o.status.success(), "{all}");
    assert!(
        all.contains("`Hammashuolto` names no node of dimension `palveluluokka`"),
        "{all}"
    );
}
