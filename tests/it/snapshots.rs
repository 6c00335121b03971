//! What the command line prints, held as snapshots (`tests/it/snapshots/`, reviewed with
//! `cargo insta review`, never written in CI): the help texts, `validate`'s plan of the sample
//! pipeline, and the messages of the commonest mistakes. Text that changes from run to run or
//! from machine to machine (the workspace's temporary path, sha256 sums, the version) is
//! replaced by a placeholder before the comparison, so that a snapshot changes only when what a
//! user reads does.

use std::process::Output;

use crate::common::{Workspace, mittari};

/// stdout or stderr with what differs between runs and machines replaced: the workspace's path,
/// sha256 sums, log timestamps, run ids, durations and the version.
fn normalised(text: &str, ws: Option<&Workspace>) -> String {
    let mut text = text.to_owned();
    if let Some(ws) = ws {
        text = text.replace(&ws.dir.path().display().to_string(), "[WS]");
    }
    for (pattern, placeholder) in [
        ("[0-9a-f]{64}", "[SHA256]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]"),
        (r"\d{8}T\d{6}Z-[0-9a-f]{6}", "[RUN_ID]"),
        (r"seconds=[0-9.]+", "seconds=[SECONDS]"),
    ] {
        let re = regex::Regex::new(pattern).unwrap();
        text = re.replace_all(&text, placeholder).into_owned();
    }
    text.replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
}

fn both(o: &Output, ws: Option<&Workspace>) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        normalised(&String::from_utf8_lossy(&o.stdout), ws),
        normalised(&String::from_utf8_lossy(&o.stderr), ws)
    )
}

#[test]
fn help() {
    let o = mittari().arg("--help").output().unwrap();
    insta::assert_snapshot!(both(&o, None));
}

#[test]
fn run_help() {
    let o = mittari().args(["run", "--help"]).output().unwrap();
    insta::assert_snapshot!(both(&o, None));
}

#[test]
fn convert_help() {
    let o = mittari().args(["convert", "--help"]).output().unwrap();
    insta::assert_snapshot!(both(&o, None));
}

#[test]
fn validate_plan_of_the_sample() {
    let ws = Workspace::new();
    let o = mittari()
        .arg("validate")
        .arg(ws.pipeline())
        .output()
        .unwrap();
    insta::assert_snapshot!(both(&o, Some(&ws)));
}

#[test]
fn error_an_unknown_key_in_the_pipeline() {
    let ws = Workspace::new();
    ws.edit(
        "pipelines/sample.toml",
        "[pipeline]\n",
        "[pipeline]\ncolour = \"blue\"\n",
    );
    let o = mittari()
        .arg("validate")
        .arg(ws.pipeline())
        .output()
        .unwrap();
    insta::assert_snapshot!(both(&o, Some(&ws)));
}

#[test]
fn error_a_missing_input_file() {
    let ws = Workspace::new();
    std::fs::remove_file(
        ws.path("sample-data/statfin/11s5_population_by_municipality_2024M12.json"),
    )
    .unwrap();
    let o = ws.run_with(&["-q"]);
    insta::assert_snapshot!(both(&o, Some(&ws)));
}

#[test]
fn error_an_unknown_subcommand() {
    let o = mittari().arg("runn").output().unwrap();
    insta::assert_snapshot!(both(&o, None));
}
