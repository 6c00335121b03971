#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! StatFin as it answers since 8 June 2026, on a local replay built from the published facts
//! (no test touches the network): short table ids (`vaerak/11re.px`), variables
//! `alue_23_20260101` (a date that moves with each regional division), `ikaryhma_10_20180101`,
//! `sukupuoli_9_20180101`, `timeperiod_y` (marked `"time": true`) and `contentscode`; `?config`
//! answering `{"maxValues":120000,"maxCells":120000,"maxCalls":40,"timeWindow":60}`; HTTP 400
//! with a plain "Bad Request" for the old long ids; HTTP 403 with an IIS HTML page for a query it
//! finds too large. The values are made up; the shapes are StatFin's.

use crate::common;

use std::path::{Path, PathBuf};

use common::server::{Reply, Server};
use common::*;
use serde_json::{Value, json};

const CONFIG: &str = "/PXWeb/api/v1/fi/?config";
const TABLE: &str = "/PXWeb/api/v1/fi/StatFin/vaerak/11re.px";
const OLD_TABLE: &str = "/PXWeb/api/v1/fi/StatFin/vaerak/statfin_vaerak_pxt_11re.px";
const MUNICIPALITIES: [&str; 3] = ["KU005", "KU009", "KU010"];

/// 11re's metadata with the area variable `area`.
fn metadata(area: &str) -> Value {
    let mut areas = vec!["SSS"];
    areas.extend(MUNICIPALITIES);
    json!({
        "title": "Väestö 31.12. muuttujina Alue, Ikä, Sukupuoli, Vuosi ja Tiedot",
        "variables": [
            {"code": area, "text": "Alue", "values": areas, "valueTexts": areas},
            {"code": "ikaryhma_10_20180101", "text": "Ikä", "values": ["SSS", "000", "001"],
             "valueTexts": ["Yhteensä", "0", "1"]},
            {"code": "sukupuoli_9_20180101", "text": "Sukupuoli", "values": ["SSS", "1", "2"],
             "valueTexts": ["Yhteensä", "Miehet", "Naiset"]},
            {"code": "timeperiod_y", "text": "Vuosi", "values": ["2024", "2025"],
             "valueTexts": ["2024", "2025"], "time": true},
            {"code": "contentscode", "text": "Tiedot", "values": ["vaerak-vaesto"],
             "valueTexts": ["Väestö 31.12."]}
        ]
    })
}

/// The JSON-stat 2.0 answer to a query for every area (and the country), total age and sex,
/// 2025, the population.
fn data(area: &str, municipalities: &[&str]) -> Value {
    let mut areas = vec!["SSS"];
    areas.extend(municipalities);
    let values: Vec<u64> = (0..areas.len() as u64).map(|i| 1000 + i).collect();
    json!({
        "version": "2.0", "class": "dataset", "label": "Väestö 31.12.",
        "source": "Tilastokeskus", "updated": "2026-03-27T05:00:00Z",
        "id": [area, "ikaryhma_10_20180101", "sukupuoli_9_20180101", "timeperiod_y", "contentscode"],
        "size": [areas.len(), 1, 1, 1, 1],
        "dimension": {
            area: {"label": "Alue", "category": {"index": areas}},
            "ikaryhma_10_20180101": {"label": "Ikä", "category": {"index": ["SSS"]}},
            "sukupuoli_9_20180101": {"label": "Sukupuoli", "category": {"index": ["SSS"]}},
            "timeperiod_y": {"label": "Vuosi", "category": {"index": ["2025"]}},
            "contentscode": {"label": "Tiedot", "category": {"index": ["vaerak-vaesto"],
                "unit": {"vaerak-vaesto": {"label": "lukumäärä", "decimals": 0}}}}
        },
        "role": {"time": ["timeperiod_y"], "metric": ["contentscode"]},
        "value": values
    })
}

fn replay(server: &Server, area: &str) {
    server.route(
        "GET",
        CONFIG,
        vec![Reply::ok(
            r#"{"maxValues":120000,"maxCells":120000,"maxCalls":40,"timeWindow":60}"#,
        )],
    );
    server.route("GET", TABLE, vec![Reply::ok(metadata(area).to_string())]);
    server.route(
        "POST",
        TABLE,
        vec![Reply::ok(data(area, &MUNICIPALITIES).to_string())],
    );
    server.route(
        "GET",
        OLD_TABLE,
        vec![Reply::status(400, "Bad Request").header("Content-Type", "text/plain")],
    );
}

/// A pipeline of 11re selected by role: no variable code in it.
fn pipeline(dir: &Path, url: &str, table: &str) -> PathBuf {
    let text = format!(
        r#"
[pipeline]
name = "statfin-2026"
reference_year = 2025
years = [2025]

[regions]
focus = ["HVA12"]

[http]
contact = "analyst@example.fi"
timeout_secs = 2.0
max_retries = 1
backoff_base_ms = 10
max_backoff_secs = 0.1
requests_per_second = 1000.0
burst = 1000

[apis.statfin]
kind = "pxweb-v1"
url = "{url}/PXWeb/api/v1/fi/StatFin"

[[sources]]
id = "statfin_11re"
format = "jsonstat"
dataset = "statfin:11re"
fetch = {{ api = "statfin", table = "{table}", select = {{ region = ["*"], age = ["SSS"], sex = ["SSS"], time = ["2025"], measure = ["*"] }} }}

[output]
dir = "out"
"#
    );
    let path = dir.join("statfin.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(pipeline: &Path, dir: &Path) -> std::process::Output {
    mittari()
        .arg("run")
        .arg(pipeline)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--cache")
        .arg(dir.join("cache"))
        .output()
        .unwrap()
}

/// The same pipeline, unchanged, runs against today's codes and against a table whose area
/// variable carries another division's date; the manifest records what each role resolved to.
#[test]
fn roles_resolve_against_todays_codes_and_the_next_renaming() {
    for area in ["alue_23_20260101", "alue_23_20270101"] {
        let server = Server::start();
        replay(&server, area);
        let dir = tempfile::TempDir::new().unwrap();
        let p = pipeline(dir.path(), &server.url(), "vaerak/11re.px");
        let o = run(&p, dir.path());
        assert!(o.status.success(), "{area}: {}", stderr(&o));
        let obs = read_parquet(&dir.path().join("out/observations.parquet"));
        let regions: Vec<String> = obs
            .column("region")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|r| r.unwrap().to_owned())
            .collect();
        assert!(regions.contains(&"KU005".to_owned()), "{area}: {regions:?}");
        assert_eq!(obs.height(), 1 + MUNICIPALITIES.len());
        let manifest = manifests(&dir.path().join("out")).pop().unwrap();
        let dims = &manifest["inputs"][0]["metadata"]["dimensions"];
        assert_eq!(dims["region"], area, "{manifest}");
        assert_eq!(dims["time"], "timeperiod_y");
        assert_eq!(dims["sex"], "sukupuoli_9_20180101");
        // The POSTed query names the table's own codes.
        let post = server
            .seen()
            .into_iter()
            .find(|s| s.method == "POST")
            .unwrap();
        assert!(
            post.body.contains(&format!("\"code\":\"{area}\"")),
            "{}",
            post.body
        );
    }
}

#[test]
fn an_old_long_table_id_says_the_table_was_renamed() {
    let server = Server::start();
    replay(&server, "alue_23_20260101");
    let dir = tempfile::TempDir::new().unwrap();
    let p = pipeline(
        dir.path(),
        &server.url(),
        "vaerak/statfin_vaerak_pxt_11re.px",
    );
    let o = run(&p, dir.path());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("StatFin renamed its tables on 8 June 2026"),
        "{err}"
    );
    assert!(err.contains("table = \"vaerak/11re.px\""), "{err}");
}

#[test]
fn a_role_the_table_does_not_have_lists_its_variables() {
    let server = Server::start();
    replay(&server, "alue_23_20260101");
    let dir = tempfile::TempDir::new().unwrap();
    let p = pipeline(dir.path(), &server.url(), "vaerak/11re.px");
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("measure = [\"*\"]", "koulutus = [\"*\"]");
    std::fs::write(&p, text).unwrap();
    let o = run(&p, dir.path());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("`koulutus` matches none of the table's variables"),
        "{err}"
    );
    assert!(err.contains("`alue_23_20260101` (Alue, 4 values)"), "{err}");
}

/// A 403 with an HTML page to a data query: the batch is split smaller and asked again, and
/// the halves together are the query.
#[test]
fn a_403_html_refusal_splits_the_query_and_asks_again() {
    let server = Server::start();
    let area = "alue_23_20260101";
    replay(&server, area);
    let refusal = "<!DOCTYPE html><html><head><title>403 - Forbidden</title></head>\
                   <body><h2>403 - Forbidden: Access is denied.</h2></body></html>";
    server.route(
        "POST",
        TABLE,
        vec![
            Reply::status(403, refusal).header("Content-Type", "text/html"),
            Reply::ok(data(area, &MUNICIPALITIES[..1]).to_string()),
            Reply::ok(data(area, &MUNICIPALITIES[1..]).to_string()),
        ],
    );
    let dir = tempfile::TempDir::new().unwrap();
    let p = pipeline(dir.path(), &server.url(), "vaerak/11re.px");
    let o = run(&p, dir.path());
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("HTTP 403 to a data query: splitting it"),
        "{err}"
    );
    assert_eq!(server.count("POST", TABLE), 3);
}

/// A 403 that splitting cannot cure fails, with a hint about StatFin, not Sotkanet.
#[test]
fn a_lasting_403_names_statfin_in_its_hint() {
    let server = Server::start();
    replay(&server, "alue_23_20260101");
    server.route(
        "POST",
        TABLE,
        vec![Reply::status(403, "<html>Forbidden</html>").header("Content-Type", "text/html")],
    );
    let dir = tempfile::TempDir::new().unwrap();
    let p = pipeline(dir.path(), &server.url(), "vaerak/11re.px");
    let o = run(&p, dir.path());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("StatFin answers 403"), "{err}");
    assert!(!err.contains("http.contact"), "{err}");
}

fn doctor(pipeline: &Path, extra: &[&str]) -> std::process::Output {
    mittari()
        .arg("doctor")
        .arg(pipeline)
        .args(extra)
        .output()
        .unwrap()
}

/// `doctor` asks for the config and the metadata only, says what each role resolves to, and
/// what changed since the last run when the area variable is renamed.
#[test]
fn doctor_checks_with_metadata_only_and_says_what_changed() {
    let dir = tempfile::TempDir::new().unwrap();
    let server = Server::start();
    replay(&server, "alue_23_20260101");
    let p = pipeline(dir.path(), &server.url(), "vaerak/11re.px");
    let o = doctor(&p, &[]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}\n{out}", stderr(&o));
    assert!(out.contains("statfin_11re [pxweb-v1]: ok"), "{out}");
    assert!(out.contains("region -> alue_23_20260101"), "{out}");
    assert!(
        out.contains("limits: 120000 cells, 40 calls per 60 s"),
        "{out}"
    );
    assert!(out.contains("latest_period: 2025"), "{out}");
    assert_eq!(server.count("POST", TABLE), 0, "no data is asked for");
    assert!(!dir.path().join("cache").exists(), "nothing archived");
    // A run, then StatFin renames the area variable: doctor says so.
    assert!(run(&p, dir.path()).status.success());
    let renamed = Server::start();
    replay(&renamed, "alue_23_20270101");
    let p = pipeline(dir.path(), &renamed.url(), "vaerak/11re.px");
    let o = doctor(&p, &["--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let health: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(health[0]["ok"], true);
    let changed = health[0]["changed"].to_string();
    assert!(
        changed.contains("region is now `alue_23_20270101` (the last run used `alue_23_20260101`)"),
        "{health}"
    );
}

#[test]
fn doctor_exits_3_naming_a_renamed_table() {
    let dir = tempfile::TempDir::new().unwrap();
    let server = Server::start();
    replay(&server, "alue_23_20260101");
    let p = pipeline(
        dir.path(),
        &server.url(),
        "vaerak/statfin_vaerak_pxt_11re.px",
    );
    let o = doctor(&p, &[]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(3), "{}\n{out}", stderr(&o));
    assert!(out.contains("statfin_11re [pxweb-v1]: FAILS"), "{out}");
    assert!(out.contains("renamed its tables on 8 June 2026"), "{out}");
    assert!(out.contains("1 of 1 sources would fail"), "{out}");
}

/// `validate` prints what the roles resolve to against the metadata the last run archived (it
/// sends no request), and says how to resolve them before any run.
#[test]
fn validate_prints_the_resolution_from_the_archive() {
    let dir = tempfile::TempDir::new().unwrap();
    let server = Server::start();
    replay(&server, "alue_23_20260101");
    let p = pipeline(dir.path(), &server.url(), "vaerak/11re.px");
    let validate = || {
        mittari()
            .arg("validate")
            .arg(&p)
            .env("MITTARI_CACHE", dir.path().join("cache"))
            .output()
            .unwrap()
    };
    let o = validate();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("roles: not resolved yet"),
        "{}",
        stdout(&o)
    );
    assert!(run(&p, dir.path()).status.success());
    server.clear_seen();
    let o = validate();
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.contains("roles (the table's metadata archived "),
        "{out}"
    );
    assert!(out.contains("region -> alue_23_20260101"), "{out}");
    assert!(server.seen().is_empty(), "validate sent a request");
}
