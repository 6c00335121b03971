#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! Incremental reruns: an up-to-date rerun rewrites nothing, a change rewrites exactly the
//! outputs it reaches, and the result equals a full rebuild into an empty folder.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use common::*;

const KPA_ES: &str = "sample-data/kpa/SYNTHETIC_kpa_etela_savo_2022_2024.csv";

fn run_into(ws: &Workspace, out: &Path, extra: &[&str]) -> std::process::Output {
    ws.run_cmd(out)
        .args(extra)
        // A fixed salt: respondent keys are then the same in every run.
        .env("MITTARI_SURVEY_SALT", "incremental-test")
        .output()
        .unwrap()
}

/// Every file of the output folder except the run records: bytes and modification time.
fn outputs(out: &Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
    snapshot(out)
        .into_iter()
        .filter(|(p, _)| !p.starts_with("_runs"))
        .map(|(p, bytes)| {
            let t = std::fs::metadata(out.join(&p)).unwrap().modified().unwrap();
            (p, (bytes, t))
        })
        .collect()
}

/// Parquet outputs of a folder, `run_id` columns dropped (they name the run, not the data).
fn tables(out: &Path) -> BTreeMap<String, polars::prelude::DataFrame> {
    outputs(out)
        .keys()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .map(|p| {
            let mut df = read_parquet(&out.join(p));
            if df.column("run_id").is_ok() {
                df = df.drop("run_id").unwrap();
            }
            (p.display().to_string(), df)
        })
        .collect()
}

fn history_statuses(out: &Path) -> Vec<String> {
    let h = read_parquet(&out.join("_runs/history.parquet"));
    h.column("status")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap().to_owned())
        .collect()
}

#[test]
fn an_up_to_date_rerun_rewrites_nothing() {
    let ws = Workspace::new();
    let out = ws.out();
    let first = run_into(&ws, &out, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = outputs(&out);
    assert!(before.len() > 40);

    let again = run_into(&ws, &out, &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    let err = stderr(&again);
    assert!(err.contains("Up to date"), "{err}");
    assert!(!err.contains("Decoded source"), "no source was read: {err}");
    assert!(
        outputs(&out) == before,
        "an up-to-date run changed an output"
    );
    assert_eq!(manifests(&out).len(), 1, "no new manifest");

    // A touched input with the same bytes is still up to date (compared by hash).
    let kpa = ws.path(KPA_ES);
    std::fs::File::options()
        .append(true)
        .open(&kpa)
        .unwrap()
        .set_modified(SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    let touched = run_into(&ws, &out, &[]);
    assert!(
        stderr(&touched).contains("Up to date"),
        "{}",
        stderr(&touched)
    );
    assert!(outputs(&out) == before);

    // `--force` rebuilds (and rewrites) everything.
    let forced = run_into(&ws, &out, &["--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(stderr(&forced).contains("Run succeeded"));
    let after = outputs(&out);
    assert!(
        after.iter().all(|(p, (_, t))| *t != before[p].1),
        "--force rewrote every output"
    );
    assert_eq!(
        history_statuses(&out),
        ["success", "up_to_date", "up_to_date", "success"]
    );

    // An output deleted by hand is not up to date: the run restores it.
    std::fs::remove_file(out.join("csv/kpa.csv")).unwrap();
    let restored = run_into(&ws, &out, &[]);
    assert!(
        stderr(&restored).contains("Run succeeded"),
        "{}",
        stderr(&restored)
    );
    assert!(out.join("csv/kpa.csv").exists());

    // So is a new `--as-of` date for a pipeline with roadmaps (progress depends on it).
    let dated = run_into(&ws, &out, &["--as-of", "2026-01-31"]);
    assert!(
        stderr(&dated).contains("Run succeeded"),
        "{}",
        stderr(&dated)
    );
    let dated = run_into(&ws, &out, &["--as-of", "2026-01-31"]);
    assert!(stderr(&dated).contains("Up to date"), "{}", stderr(&dated));
}

/// One source changes: exactly the outputs whose content changes are rewritten, the others
/// keep their bytes and modification times, and the folder equals a full rebuild.
#[test]
fn one_changed_source_rewrites_exactly_what_it_reaches() {
    let ws = Workspace::new();
    let out = ws.out();
    let base = ws.path("full-before");
    for dir in [&out, &base] {
        let o = run_into(&ws, dir, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let before = outputs(&out);
    let first_run = manifests(&out)[0]["run_id"].as_str().unwrap().to_owned();

    // Etelä-Savo's home-care clients in 2022: 1603 -> 1604 (the file is Windows-1252).
    let bytes = std::fs::read(ws.path(KPA_ES)).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(";1603;"));
    let at = bytes.windows(6).position(|w| w == b";1603;").unwrap();
    let mut changed = bytes.clone();
    changed[at + 4] = b'4';
    std::fs::write(ws.path(KPA_ES), changed).unwrap();

    let o = run_into(&ws, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("Run succeeded"));
    let full = ws.path("full-after");
    let o = run_into(&ws, &full, &[]);
    assert!(o.status.success(), "{}", stderr(&o));

    // The incremental folder holds the same tables as a full rebuild from the same inputs.
    let (inc, reb) = (tables(&out), tables(&full));
    assert_eq!(
        inc.keys().collect::<Vec<_>>(),
        reb.keys().collect::<Vec<_>>()
    );
    for (name, df) in &inc {
        assert!(
            df.equals_missing(&reb[name]),
            "{name} differs from a full rebuild"
        );
    }

    // Rewritten exactly where the content changed (full builds before and after compared).
    let old = tables(&base);
    let after = outputs(&out);
    let manifest = manifests(&out).pop().unwrap();
    let this_run = manifest["run_id"].as_str().unwrap();
    let written_by: BTreeMap<&str, &str> = manifest["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["path"].as_str().unwrap(),
                o["written_by"].as_str().unwrap(),
            )
        })
        .collect();
    let mut rewritten = Vec::new();
    for (name, df) in &reb {
        let content_changed = !df.equals_missing(&old[name]);
        let path = PathBuf::from(name);
        let file_changed = after[&path] != before[&path];
        assert_eq!(
            content_changed, file_changed,
            "{name}: content changed {content_changed}, file rewritten {file_changed}"
        );
        let expect = if content_changed {
            this_run
        } else {
            first_run.as_str()
        };
        assert_eq!(written_by[name.as_str()], expect, "{name}");
        if file_changed {
            rewritten.push(name.clone());
        }
    }
    // The change reaches the KPA table (and its CSV twin), not the rest.
    assert!(
        rewritten.contains(&"kpa.parquet".to_owned()),
        "{rewritten:?}"
    );
    assert!(after[Path::new("csv/kpa.csv")] != before[Path::new("csv/kpa.csv")]);
    for name in [
        "indicators.parquet",
        "observations.parquet",
        "regions.parquet",
        "crosswalk.parquet",
        "mergers.parquet",
        "indicator_catalogue.parquet",
        "maturity_responses.parquet",
    ] {
        assert!(
            !rewritten.contains(&name.to_owned()),
            "{name} in {rewritten:?}"
        );
    }
    // Every manifest output is on disk with the sha256 the manifest gives.
    for o in manifest["outputs"].as_array().unwrap() {
        let bytes = std::fs::read(out.join(o["path"].as_str().unwrap())).unwrap();
        assert_eq!(o["bytes"], bytes.len());
    }
}

/// A pipeline edit that changes no result (a comment) rebuilds but rewrites no output.
#[test]
fn a_pipeline_edit_rebuilds_but_keeps_identical_outputs() {
    let ws = Workspace::new();
    let out = ws.out();
    assert!(run_into(&ws, &out, &[]).status.success());
    let before = outputs(&out);
    let p = ws.pipeline();
    let mut text = std::fs::read_to_string(&p).unwrap();
    text.push_str("\n# A comment: the file's sha256 changes, its meaning does not.\n");
    std::fs::write(&p, text).unwrap();
    let o = run_into(&ws, &out, &[]);
    assert!(stderr(&o).contains("Run succeeded"), "{}", stderr(&o));
    assert_eq!(manifests(&out).len(), 2);
    // The report names the run that wrote it (its id, date and manifest): it is new; every
    // table is kept as it was.
    let tables_only =
        |o: BTreeMap<PathBuf, (Vec<u8>, SystemTime)>| -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
            o.into_iter()
                .filter(|(p, _)| !p.starts_with("report"))
                .collect()
        };
    let after = outputs(&out);
    assert!(after.keys().any(|p| p.starts_with("report")));
    assert!(
        tables_only(after) == tables_only(before),
        "identical outputs were rewritten"
    );
}
