#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! The data dictionary for readers (issue 30, point 3): `data_dictionary.csv` and
//! `datapackage.json` beside the outputs, and the descriptions and `mittari.*` keys where Arrow
//! readers look, checked with pyarrow and polars (Python).

use crate::common;

use std::process::Command;

use common::*;
use mittari::model::contract::Contract;

#[test]
fn the_dictionary_beside_the_outputs() {
    let ws = Workspace::new();
    let o = ws.run();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = ws.out();
    // data_dictionary.csv: Finnish Excel's dialect, a row per table and per column.
    let bytes = std::fs::read(out.join("data_dictionary.csv")).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut lines = text.split("\r\n");
    assert_eq!(
        lines.next().unwrap(),
        "table;file;column;type;nullable;unit;description"
    );
    let basis = Contract::for_table("indicators").unwrap();
    let basis = basis.columns.iter().find(|c| c.name == "basis").unwrap();
    assert!(
        text.contains(&format!(
            "indicators;indicators.parquet;basis;string;no;;{}",
            basis.description
        )),
        "{text}"
    );
    assert!(
        text.contains("kpa;kpa.parquet;cost_per_client;number;yes;EUR per client;"),
        "{text}"
    );
    // datapackage.json: a Frictionless resource per table, its fields typed and described.
    let pkg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("datapackage.json")).unwrap()).unwrap();
    let resources = pkg["resources"].as_array().unwrap();
    let ind = resources
        .iter()
        .find(|r| r["name"] == "indicators")
        .unwrap();
    assert_eq!(ind["path"], "indicators.parquet");
    let fields = ind["schema"]["fields"].as_array().unwrap();
    let year = fields.iter().find(|f| f["name"] == "year").unwrap();
    assert_eq!(year["type"], "integer");
    assert_eq!(year["constraints"]["required"], true);
    assert!(
        resources
            .iter()
            .any(|r| r["name"] == "quarantine_observations")
    );
    // Every file it names is there.
    for r in resources {
        assert!(
            out.join(r["path"].as_str().unwrap()).is_file(),
            "{}",
            r["path"]
        );
    }
}

/// pyarrow reads the `mittari.*` keys from the embedded Arrow schema and each column's
/// description from its field metadata; polars reads the keys. Needs a Python with pyarrow and
/// polars (`MITTARI_BENCH_PYTHON`, which `.ci/run` sets); without it the test fails in CI and
/// says so elsewhere.
#[test]
fn pyarrow_and_polars_see_the_metadata() {
    let Some(python) = python_with("pyarrow, polars") else {
        return;
    };
    let ws = Workspace::new();
    assert!(ws.run().status.success());
    for table in ["indicators", "observations", "reconciliation", "kpa"] {
        let file = ws.out().join(format!("{table}.parquet"));
        let o = Command::new(&python)
            .arg(repo().join("tests/python/read_metadata.py"))
            .arg(&file)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let seen: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        for reader in ["schema_metadata", "polars_metadata"] {
            assert_eq!(seen[reader]["mittari.table"], table, "{reader}: {seen}");
            assert_eq!(
                seen[reader]["mittari.pipeline"], "sample",
                "{reader}: {seen}"
            );
            assert!(
                seen[reader]["mittari.run_id"].is_string(),
                "{reader}: {seen}"
            );
        }
        let contract = Contract::for_table(table).unwrap();
        for c in &contract.columns {
            assert_eq!(
                seen["descriptions"][&c.name], c.description,
                "{table}.{}: {seen}",
                c.name
            );
        }
    }
}
