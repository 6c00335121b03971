#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! Hive-partitioned outputs (issue 30, point 2): `observations` and `indicators` as folders of one
//! file per partition, rewritten partition by partition, and read with partition pruning by
//! `DuckDB` and polars (Python, `MITTARI_BENCH_PYTHON`).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use crate::common;

use common::*;

fn partitioned() -> Workspace {
    let ws = Workspace::new();
    ws.edit(
        "pipelines/sample.toml",
        "[output]\n",
        "[output]\npartitioned = true\n",
    );
    ws
}

/// The partition files of `table` in the last manifest: path -> (rows, `written_by`).
fn parts(ws: &Workspace, table: &str) -> BTreeMap<String, (u64, String)> {
    let manifest = manifests(&ws.out()).pop().unwrap();
    manifest["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["format"] == "parquet")
        .filter(|o| {
            o["path"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{table}/"))
        })
        .map(|o| {
            (
                o["path"].as_str().unwrap().to_owned(),
                (
                    o["rows"].as_u64().unwrap(),
                    o["written_by"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

#[test]
fn observations_and_indicators_as_hive_partitions() {
    let plain = Workspace::new();
    assert!(plain.run().status.success());
    let ws = partitioned();
    let o = ws.run();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = ws.out();
    for (table, first_key) in [("observations", "dataset"), ("indicators", "indicator")] {
        assert!(!out.join(format!("{table}.parquet")).exists());
        let parts = parts(&ws, table);
        assert!(parts.len() > 5, "{table}: {parts:?}");
        let layout = regex::Regex::new(&format!(
            r"^{table}/{first_key}=[A-Za-z0-9._%-]+/year=[0-9]{{4}}/part-0\.parquet$"
        ))
        .unwrap();
        let mut rows = 0;
        for (path, (n, _)) in &parts {
            assert!(layout.is_match(path), "{path}");
            let df = read_parquet(&out.join(path));
            let names: Vec<String> = df
                .get_column_names()
                .iter()
                .map(ToString::to_string)
                .collect();
            assert!(!names.contains(&first_key.to_owned()) && !names.contains(&"year".to_owned()));
            assert_eq!(df.height() as u64, *n);
            rows += n;
        }
        // The same rows as the table in one file, and the summary line counts the table once.
        let whole = read_parquet(&plain.out().join(format!("{table}.parquet")));
        assert_eq!(rows, whole.height() as u64, "{table}");
        assert!(
            stderr(&o).contains(&format!("{table}={rows}")),
            "{}",
            stderr(&o)
        );
        // The CSV twin stays one file, for people.
        assert!(out.join(format!("csv/{table}.csv")).is_file());
    }
    // A Hive value is percent-encoded: `sotkanet:1073` is `sotkanet%3A1073`.
    assert!(
        out.join("observations/dataset=sotkanet%3A1073/year=2024/part-0.parquet")
            .is_file()
    );
    // The dictionary and the data package say where the partitions are.
    let dictionary = std::fs::read_to_string(out.join("data_dictionary.csv")).unwrap();
    assert!(dictionary.contains("observations/dataset=*/year=*/part-0.parquet"));
    let package: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("datapackage.json")).unwrap()).unwrap();
    let observations = package["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "observations")
        .unwrap();
    assert_eq!(
        observations["mittari:partitioned_by"],
        serde_json::json!(["dataset", "year"])
    );
    assert_eq!(
        observations["path"].as_array().unwrap().len(),
        parts(&ws, "observations").len()
    );
}

#[test]
fn an_incremental_run_rewrites_only_the_partitions_that_changed() {
    let ws = partitioned();
    assert!(ws.run().status.success());
    let before_obs = parts(&ws, "observations");
    let before_ind = parts(&ws, "indicators");
    let run1 = before_obs.values().next().unwrap().1.clone();
    let inode = |path: &str| std::fs::metadata(ws.out().join(path)).unwrap().ino();
    let inodes: BTreeMap<String, u64> = before_obs
        .keys()
        .chain(before_ind.keys())
        .map(|p| (p.clone(), inode(p)))
        .collect();

    // One value of one dataset in one year.
    ws.edit(
        "sample-data/sotkanet/SYNTHETIC_1073_2024.json",
        "\"value\": 3981.9",
        "\"value\": 3990.4",
    );
    let o = ws.run();
    assert!(o.status.success(), "{}", stderr(&o));
    let after_obs = parts(&ws, "observations");
    let after_ind = parts(&ws, "indicators");
    assert_eq!(
        after_obs.keys().collect::<Vec<_>>(),
        before_obs.keys().collect::<Vec<_>>()
    );
    let rewritten = |parts: &BTreeMap<String, (u64, String)>| -> Vec<String> {
        parts
            .iter()
            .filter(|(_, (_, by))| *by != run1)
            .map(|(p, _)| p.clone())
            .collect()
    };
    assert_eq!(
        rewritten(&after_obs),
        ["observations/dataset=sotkanet%3A1073/year=2024/part-0.parquet"]
    );
    let changed_indicators = rewritten(&after_ind);
    assert!(!changed_indicators.is_empty());
    assert!(
        changed_indicators.len() < after_ind.len() / 2,
        "{changed_indicators:?}"
    );
    assert!(
        changed_indicators.iter().all(|p| p.contains("/year=2024/")),
        "{changed_indicators:?}"
    );
    // Every partition kept is the same file as before (not rewritten with the same bytes).
    for (path, (_, by)) in after_obs.iter().chain(&after_ind) {
        if *by == run1 {
            assert_eq!(inode(path), inodes[path], "{path} was rewritten");
        }
    }
}

/// `DuckDB` and polars read the folders through Hive partitioning and read only the partitions a
/// filter selects: with every other partition's file broken, the filtered query still answers
/// (and reading the whole table fails, which shows the broken files would have been noticed).
/// Both engines learn the columns from the first file in path order, which stays whole.
#[test]
fn duckdb_and_polars_prune_partitions() {
    let Some(python) = python_with("duckdb, polars") else {
        return;
    };
    let ws = partitioned();
    assert!(ws.run().status.success());
    for (table, key, value, year) in [
        ("observations", "dataset", "sotkanet:127", 2023),
        ("indicators", "indicator", "population_total", 2023),
    ] {
        let all = parts(&ws, table);
        let wanted = format!(
            "{table}/{key}={}/year={year}/part-0.parquet",
            value.replace(':', "%3A")
        );
        let rows = all
            .get(&wanted)
            .unwrap_or_else(|| panic!("{wanted} in {all:?}"))
            .0;
        let first = all.keys().next().unwrap().clone();
        assert_ne!(first, wanted);
        // A copy of the folder whose other partitions are broken.
        let copy = ws.path(&format!("broken/{table}"));
        for path in all.keys() {
            let to = ws.path(&format!("broken/{path}"));
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            if *path == wanted || *path == first {
                std::fs::copy(ws.out().join(path), &to).unwrap();
            } else {
                std::fs::write(&to, b"not parquet").unwrap();
            }
        }
        let o = Command::new(&python)
            .arg(repo().join("tests/python/read_partitioned.py"))
            .args([copy.to_str().unwrap(), key, value, &year.to_string()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{table}: {}", stderr(&o));
        let seen: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        for engine in ["duckdb", "polars"] {
            let e = &seen[engine];
            assert_eq!(e["rows"], rows, "{table} {engine}: {seen}");
            assert!(
                e["total"].as_str().is_some_and(|t| t.starts_with("error")),
                "{engine}: {seen}"
            );
            let year_type = e["year_type"].as_str().unwrap().to_lowercase();
            assert!(
                year_type.contains("int") || year_type.contains("bigint"),
                "{engine}: {seen}"
            );
        }
    }
}

/// A run of a partitioned pipeline killed before its commit leaves every earlier file as it
/// was, partitions included, and the next run publishes the changed partition.
#[test]
fn a_killed_partitioned_run_leaves_the_earlier_partitions_whole() {
    let ws = partitioned();
    assert!(ws.run().status.success());
    let before = snapshot(&ws.out());
    let changed =
        std::path::Path::new("observations/dataset=sotkanet%3A1073/year=2024/part-0.parquet");
    assert!(before.contains_key(changed));
    ws.edit(
        "sample-data/sotkanet/SYNTHETIC_1073_2024.json",
        "\"value\": 3981.9",
        "\"value\": 3990.4",
    );
    for step in ["seal", "swap"] {
        let o = ws
            .run_cmd(&ws.out())
            .env("MITTARI_FAULT", format!("{step}:kill"))
            .output()
            .unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&o.status),
            Some(9),
            "{step}: {}",
            stderr(&o)
        );
        let after = snapshot(&ws.out());
        for (path, bytes) in &before {
            if !path.starts_with("_runs") {
                assert!(
                    after.get(path) == Some(bytes),
                    "{step}: {} changed",
                    path.display()
                );
            }
        }
    }
    let o = ws.run();
    assert!(o.status.success(), "{}", stderr(&o));
    let after = snapshot(&ws.out());
    assert_ne!(after[changed], before[changed]);
}
