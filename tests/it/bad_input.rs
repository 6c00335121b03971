#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! Bad input: each case gives a clear message naming the file and place, the documented exit
//! code, and a failed run leaves the previous run's outputs byte for byte intact.

use crate::common;

use common::*;

const SYNTHETIC_171: &str = "sample-data/sotkanet/SYNTHETIC_171_share_75plus_2024.json";

/// Runs the sample once, breaks something, runs again: the second run must fail with `code`, say
/// `expect` on stderr, and leave every output file as the first run wrote it.
fn fails_and_keeps_outputs(break_it: impl FnOnce(&Workspace), code: i32, expect: &[&str]) {
    let ws = Workspace::new();
    let first = ws.run();
    assert!(first.status.success(), "{}", stderr(&first));
    let before = snapshot(&ws.out());

    break_it(&ws);
    let second = ws.run();
    let err = stderr(&second);
    assert_eq!(second.status.code(), Some(code), "{err}");
    for e in expect {
        assert!(err.contains(e), "stderr lacks {e:?}:\n{err}");
    }
    // Every output is as it was; the only new files are the failed run's record in `_runs/`.
    let after = snapshot(&ws.out());
    for (path, bytes) in &before {
        if path.ends_with("_runs/history.parquet") {
            continue;
        }
        assert!(
            after.get(path) == Some(bytes),
            "{} changed after a failed run",
            path.display()
        );
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        assert!(
            path.starts_with("_runs"),
            "{} appeared after a failed run",
            path.display()
        );
    }
}

#[test]
fn truncated_json_exits_3_naming_file_and_line() {
    fails_and_keeps_outputs(
        |ws| {
            let p = ws.path(SYNTHETIC_171);
            let bytes = std::fs::read(&p).unwrap();
            std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        },
        3,
        &["SYNTHETIC_171_share_75plus_2024.json", "line ", "column "],
    );
}

#[test]
fn missing_input_file_exits_3_naming_it() {
    fails_and_keeps_outputs(
        |ws| std::fs::remove_file(ws.path(SYNTHETIC_171)).unwrap(),
        3,
        &[
            "source `sotkanet_171_2024`",
            "SYNTHETIC_171_share_75plus_2024.json",
            "hint:",
        ],
    );
}

/// Data files are read as their sources are decoded, in pipeline order: with a truncated file
/// early in the pipeline and a missing one later, the run stops at the first (and says nothing
/// of the second, which it never reached).
#[test]
fn the_first_bad_source_in_pipeline_order_is_reported() {
    let missing = "SYNTHETIC_1552_2024.json";
    fails_and_keeps_outputs(
        |ws| {
            let p = ws.path("sample-data/sotkanet/127_population_2019_2023_five_cities.json");
            let bytes = std::fs::read(&p).unwrap();
            std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
            std::fs::remove_file(ws.path(&format!("sample-data/sotkanet/{missing}"))).unwrap();
        },
        3,
        &["127_population_2019_2023_five_cities.json", "line "],
    );
    let ws = Workspace::new();
    std::fs::remove_file(ws.path(&format!("sample-data/sotkanet/{missing}"))).unwrap();
    let run = ws.run();
    assert_eq!(run.status.code(), Some(3));
    assert!(stderr(&run).contains(missing), "{}", stderr(&run));
}

#[test]
fn unknown_key_in_pipeline_exits_2_with_line_and_column() {
    fails_and_keeps_outputs(
        |ws| {
            ws.edit(
                "pipelines/sample.toml",
                "reference_year = 2025",
                "reference_year = 2025\nreference_yaer = 2024",
            );
        },
        2,
        &["sample.toml:9:1", "reference_yaer"],
    );
}

#[test]
fn wrong_type_in_pipeline_exits_2_with_line_and_column() {
    fails_and_keeps_outputs(
        |ws| {
            ws.edit(
                "pipelines/sample.toml",
                "reference_year = 2025",
                "reference_year = \"2025\"",
            );
        },
        2,
        &["sample.toml:8:18"],
    );
}

#[test]
fn reference_year_without_counties_exits_2() {
    fails_and_keeps_outputs(
        |ws| {
            ws.edit(
                "pipelines/sample.toml",
                "reference_year = 2025",
                "reference_year = 2016",
            );
        },
        2,
        &["sample.toml:8:18", "2021..=2026"],
    );
}

#[test]
fn malformed_jsonstat_exits_3_with_pointer() {
    fails_and_keeps_outputs(
        |ws| {
            ws.edit(
                "sample-data/statfin/11s5_population_by_municipality_2024M12.json",
                "\"size\": [\n    308,",
                "\"size\": [\n    309,",
            );
        },
        3,
        &[
            "11s5_population_by_municipality_2024M12.json",
            "/dimension/alue/category",
            "309",
        ],
    );
}

/// Row-level problems do not fail the run: the row is quarantined with its place and reason.
#[test]
fn wrong_type_in_a_field_is_quarantined_with_pointer() {
    let ws = Workspace::new();
    ws.edit(
        SYNTHETIC_171,
        "\"absValue\": 1217",
        "\"absValue\": \"1217\"",
    );
    let out = ws.run();
    assert!(out.status.success(), "{}", stderr(&out));
    // The warning names the rule and the first place.
    assert!(
        stderr(&out).contains("1 row quarantined: wrong_type at ")
            && stderr(&out).contains("SYNTHETIC_171_share_75plus_2024.json#/0/absValue"),
        "{}",
        stderr(&out)
    );
    let q = read_parquet(&ws.out().join("quarantine/observations.parquet"));
    let row = row_where(&q, "rule", "wrong_type");
    let get = |c: &str| row[c].clone();
    assert!(
        get("location").ends_with("SYNTHETIC_171_share_75plus_2024.json#/0/absValue"),
        "{}",
        get("location")
    );
    assert!(
        get("reason").contains("string \"1217\""),
        "{}",
        get("reason")
    );
    assert!(
        get("record").contains("\"absValue\":\"1217\""),
        "{}",
        get("record")
    );
    assert_eq!(get("source"), "sotkanet_171_2024");
    // The county of that municipality (Sotkanet id 2 is Alajärvi, in Etelä-Pohjanmaa) now lacks
    // one numerator: no value, and a flag that says why; so does the country.
    let ind = read_parquet(&ws.out().join("indicators.parquet"));
    let filt = [("indicator", "share_75plus"), ("region", "HVA16")];
    assert_eq!(one_f64(&ind, &filt, 2024, "value"), None);
    assert_eq!(
        one_str(&ind, &filt, 2024, "flags").as_deref(),
        Some("numerator incomplete: 17 of 18 municipalities")
    );
    // The country's own published share stands (Sotkanet publishes it), and its recomputed
    // value, short of one municipality, is not comparable.
    let country = [("indicator", "share_75plus"), ("region", "SSS")];
    assert_eq!(
        one_str(&ind, &country, 2024, "basis").as_deref(),
        Some("published")
    );
    assert!(one_f64(&ind, &country, 2024, "value").is_some());
    let rec = read_parquet(&ws.out().join("reconciliation.parquet"));
    assert_eq!(
        one_str(&rec, &country, 2024, "status").as_deref(),
        Some("not_comparable")
    );
    // Other counties are unaffected.
    let filt = [("indicator", "share_75plus"), ("region", "HVA12")];
    assert!(one_f64(&ind, &filt, 2024, "value").is_some());
}

#[test]
fn unknown_sotkanet_region_id_is_quarantined() {
    let ws = Workspace::new();
    ws.edit(SYNTHETIC_171, "\"region\": 2,", "\"region\": 99999,");
    let out = ws.run();
    assert!(out.status.success(), "{}", stderr(&out));
    let q = read_parquet(&ws.out().join("quarantine/observations.parquet"));
    let row = row_where(&q, "source", "sotkanet_171_2024");
    let get = |c: &str| row[c].clone();
    assert_eq!(get("rule"), "unknown_region");
    assert_eq!(get("stage"), "conform");
    assert!(
        get("reason").contains("not in the `/regions` payload of source `sotkanet_regions`"),
        "{}",
        get("reason")
    );
    assert!(
        get("location").ends_with("SYNTHETIC_171_share_75plus_2024.json#/0"),
        "{}",
        get("location")
    );
}
