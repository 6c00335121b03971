#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! Open Lineage run events (issue 30, point 4): `START` then `COMPLETE` (or `FAIL`) with the run's
//! inputs and outputs, to a file or an HTTP endpoint (the local server).

use crate::common;

use common::server::{Reply, Server};
use common::*;

fn events(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_run_emits_start_and_complete_to_a_file() {
    let ws = Workspace::new();
    let file = ws.path("lineage/events.jsonl");
    let o = ws
        .run_cmd(&ws.out())
        .env("MITTARI_LINEAGE", &file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let e = events(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(e.len(), 2);
    assert_eq!(e[0]["eventType"], "START");
    assert_eq!(e[1]["eventType"], "COMPLETE");
    assert_eq!(e[0]["run"]["runId"], e[1]["run"]["runId"]);
    assert_eq!(
        e[1]["job"],
        serde_json::json!({"namespace": "mittari", "name": "sample"})
    );
    let run_id = e[1]["run"]["facets"]["mittari"]["run_id"].as_str().unwrap();
    assert!(ws.out().join(format!("_runs/{run_id}.json")).is_file());
    let names = |k: &str| -> Vec<String> {
        e[1][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        names("inputs").iter().any(
            |n| n.ends_with("sample-data/statfin/11s5_population_by_municipality_2024M12.json")
        )
    );
    assert!(
        names("outputs")
            .iter()
            .any(|n| n.ends_with("out/indicators.parquet")),
        "{:?}",
        names("outputs")
    );
    assert!(
        e[1]["schemaURL"]
            .as_str()
            .unwrap()
            .contains("OpenLineage.json")
    );
}

#[test]
fn a_failed_run_emits_fail_to_an_endpoint() {
    let server = Server::start();
    server.route("POST", "/api/v1/lineage", vec![Reply::status(201, "")]);
    let ws = Workspace::new();
    // A check that cannot pass: the run fails with exit 1.
    let p = ws.pipeline();
    let mut text = std::fs::read_to_string(&p).unwrap();
    text.push_str(
        "\n[[checks]]\nname = \"never\"\nkind = \"row_count\"\ntable = \"indicators\"\nmax = 1\n",
    );
    let lineage = format!("\n[lineage]\nurl = \"{}/api/v1/lineage\"\n", server.url());
    text.push_str(&lineage);
    std::fs::write(&p, text).unwrap();
    let o = ws.run();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let seen: Vec<serde_json::Value> = server
        .seen()
        .iter()
        .filter(|s| s.target == "/api/v1/lineage")
        .map(|s| serde_json::from_str(&s.body).unwrap())
        .collect();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0]["eventType"], "START");
    assert_eq!(seen[1]["eventType"], "FAIL");
    let message = seen[1]["run"]["facets"]["errorMessage"]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("check `never` failed"), "{message}");
}

#[test]
fn lineage_takes_a_file_or_a_url() {
    let ws = Workspace::new();
    let p = ws.pipeline();
    let mut text = std::fs::read_to_string(&p).unwrap();
    text.push_str("\n[lineage]\n");
    std::fs::write(&p, text).unwrap();
    let o = ws.run();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`[lineage]` takes `file`"),
        "{}",
        stderr(&o)
    );
}
