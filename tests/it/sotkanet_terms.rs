#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! Sotkanet's terms of use: data not downloaded again when it has not changed, finding
//! indicators, and the producer note (on the replay server of `live_sources`).

use crate::common;
use crate::live_sources::{
    fixture, full_pipeline, manifest, one_source_pipeline, replay, run, sample,
};

use common::server::{Reply, Server};
use common::*;

/// Sotkanet's terms ask for no repeated downloads: when an indicator's `data-updated` is what
/// the archived metadata said, the archived data is reused and no data request is sent; when it
/// changes, the data is downloaded again. The manifest says which payloads were reused.
#[test]
fn unchanged_sotkanet_data_is_reused_from_the_archive() {
    const DATA: &str = "/rest/1.1/json?indicator=127&years=2019&years=2023&genders=total";
    let meta = |updated: &str| {
        format!(
            r#"{{"id": 127, "data-updated": "{updated}", "range": {{"start": 1990, "end": 2024}},
               "title": {{"fi": "Väkiluku"}}}}"#
        )
    };
    let server = Server::start();
    server.route(
        "GET",
        "/rest/1.1/indicators/127",
        vec![Reply::ok(meta("2026-03-01"))],
    );
    server.route(
        "GET",
        DATA,
        vec![Reply::file(&sample(
            "sotkanet/127_population_2019_2023_five_cities.json",
        ))],
    );
    let dir = tempfile::TempDir::new().unwrap();
    let pipeline = one_source_pipeline(dir.path(), &server.url());
    let cache = dir.path().join("cache");
    let o = run(&pipeline, &dir.path().join("a"), &cache, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(server.count("GET", DATA), 1);

    // Same data-updated: reused, not downloaded.
    let o = run(&pipeline, &dir.path().join("b"), &cache, &["--force"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("reused, not downloaded"), "{err}");
    assert_eq!(server.count("GET", DATA), 1, "no second download");
    let m = manifest(&dir.path().join("b"));
    let data = &m["inputs"][0]["payloads"][1];
    assert_eq!(data["origin"], "reused", "{m}");

    // A new data-updated: downloaded again.
    server.route(
        "GET",
        "/rest/1.1/indicators/127",
        vec![Reply::ok(meta("2026-04-15"))],
    );
    let o = run(&pipeline, &dir.path().join("c"), &cache, &["--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(server.count("GET", DATA), 2);
}

/// `indicators search` over the archived `/indicators` list (again `--offline`), with the note
/// for an indicator another organisation produces; `indicators show` with the full metadata.
#[test]
fn indicators_search_and_show() {
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(fixture(&format!("sotkanet/{name}"))).unwrap())
            .unwrap()
    };
    let thl = serde_json::json!({"id": 5, "title": {"fi": "Väestö, kotihoito", "en": "Home care"},
        "organization": {"id": 2, "title": {"fi": "Terveyden ja hyvinvoinnin laitos (THL)"}}});
    let list = serde_json::json!([
        read("indicators_127.json"),
        read("indicators_171.json"),
        thl
    ]);
    let server = Server::start();
    server.route(
        "GET",
        "/rest/1.1/indicators",
        vec![Reply::ok(list.to_string())],
    );
    server.route(
        "GET",
        "/rest/1.1/indicators/127",
        vec![Reply::ok(
            r#"{"id": 127, "data-updated": "2026-03-01", "range": {"start": 1990, "end": 2024}}"#,
        )],
    );
    server.route(
        "GET",
        "/rest/1.1/indicators/186",
        vec![Reply::file(&fixture("sotkanet/indicators_186.json"))],
    );
    let dir = tempfile::TempDir::new().unwrap();
    let api = format!("{}/rest/1.1", server.url());
    let ask = |args: &[&str]| {
        mittari()
            .arg("indicators")
            .args(args)
            .args(["--api-url", &api, "--cache"])
            .arg(dir.path().join("cache"))
            .output()
            .unwrap()
    };
    let o = ask(&["search", "väestö"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.contains("127\tVäestö 31.12.\t[Tilastokeskus]\tsexes: male,female,total"),
        "{out}"
    );
    assert!(
        out.contains("note: produced by another organisation than THL"),
        "{out}"
    );
    let thl_line = out.lines().find(|l| l.starts_with("5\t")).unwrap();
    assert!(!thl_line.contains("note:"), "{thl_line}");
    assert!(out.contains("3 of 3 indicators match `väestö`"), "{out}");
    // Offline, from the archive.
    assert!(
        out.contains("\tyears: 1990-2024"),
        "years from the metadata: {out}"
    );
    let o = ask(&["search", "127", "--offline"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("1 of 3 indicators match"));
    assert!(stdout(&o).contains("\tyears: 1990-2024"), "{}", stdout(&o));
    assert_eq!(server.count("GET", "/rest/1.1/indicators"), 1);
    // One indicator in full.
    let o = ask(&["show", "186"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("\"data-updated\": \"2025-04-29\""), "{out}");
    assert!(
        out.contains("note: produced by another organisation than THL"),
        "{out}"
    );
}

/// `indicator_catalogue` names the producer of each Sotkanet indicator's data from the metadata
/// the run fetched, with the note on Sotkanet's terms when it is not THL.
#[test]
fn the_catalogue_names_producers_and_the_terms_note() {
    let server = Server::start();
    replay(&server);
    let dir = tempfile::TempDir::new().unwrap();
    let pipeline = full_pipeline(dir.path(), &server.url());
    let out = dir.path().join("out");
    let o = run(&pipeline, &out, &dir.path().join("cache"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cat = read_parquet(&out.join("indicator_catalogue.parquet"));
    let text = |c: &str| {
        cat.column(c)
            .unwrap()
            .str()
            .unwrap()
            .get(0)
            .map(str::to_owned)
    };
    assert_eq!(text("indicator").as_deref(), Some("share_75plus"));
    assert_eq!(text("producer").as_deref(), Some("Tilastokeskus"));
    assert!(
        text("terms_note")
            .unwrap()
            .contains("agreement with the producer"),
        "{cat}"
    );
}
