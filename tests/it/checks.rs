#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::float_cmp)] // Tests: plain std::fs, unwrap on setup.
//! Declared data-quality checks: each kind failing on a constructed input, severity honoured,
//! failing rows kept in full, the gate keeping the previous outputs byte for byte.

use crate::common;

use common::*;
use polars::prelude::*;
use serde_json::Value;

const SHARE_2024: &str = "sample-data/sotkanet/SYNTHETIC_171_share_75plus_2024.json";

fn append(ws: &Workspace, text: &str) {
    let p = ws.pipeline();
    let mut s = std::fs::read_to_string(&p).unwrap();
    s.push('\n');
    s.push_str(text);
    std::fs::write(&p, s).unwrap();
}

/// Edits the Sotkanet 171 (2024) payload: `f` gets its array of rows.
fn edit_share(ws: &Workspace, f: impl FnOnce(&mut Vec<Value>)) {
    let p = ws.path(SHARE_2024);
    let mut rows: Vec<Value> = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    f(&mut rows);
    std::fs::write(&p, serde_json::to_vec_pretty(&rows).unwrap()).unwrap();
}

fn outcome<'a>(manifest: &'a Value, name: &str) -> &'a Value {
    manifest["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no outcome for {name}: {manifest}"))
}

/// What a gated run left.
struct Gated {
    stderr: String,
    manifest: Value,
    /// The failing rows written beside the failed run's manifest, if the check is about rows.
    rows: Option<DataFrame>,
}

/// Runs the sample, then breaks it (`prepare`) and adds `check`: the second run must exit 1
/// naming the check, publish nothing and leave every earlier output byte for byte as it was.
fn gated(prepare: impl FnOnce(&Workspace), check: &str, name: &str, extra: &[&str]) -> Gated {
    let ws = Workspace::new();
    let first = ws.run_with(&[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = snapshot(&ws.out());

    prepare(&ws);
    append(&ws, check);
    let second = ws.run_with(extra);
    let err = stderr(&second);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("check `{name}` failed")), "{err}");
    assert!(err.contains("nothing was published"), "{err}");

    let after = snapshot(&ws.out());
    for (path, bytes) in &before {
        if !path.ends_with("_runs/history.parquet") {
            assert!(after.get(path) == Some(bytes), "{} changed", path.display());
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        assert!(path.starts_with("_runs"), "{} appeared", path.display());
    }
    let manifest = manifests(&ws.out())
        .into_iter()
        .find(|m| m["status"] == "failed")
        .unwrap();
    assert_eq!(manifest["exit_code"], 1);
    let o = outcome(&manifest, name);
    assert_eq!(o["status"], "fail", "{o}");
    let rows = o["quarantine"].as_str().map(|rel| {
        assert!(rel.starts_with("_runs/"), "{rel}");
        assert!(err.contains(rel), "the message points at {rel}: {err}");
        read_parquet(&ws.out().join(rel))
    });
    // The history counts the failed check.
    let history = read_parquet(&ws.out().join("_runs/history.parquet"));
    let failed = history.column("checks_failed").unwrap().i64().unwrap();
    assert_eq!(failed.get(1), Some(1));
    Gated {
        stderr: err,
        manifest,
        rows,
    }
}

fn strs(df: &DataFrame, c: &str) -> Vec<String> {
    df.column(c)
        .unwrap()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap_or("<null>").to_owned())
        .collect()
}

#[test]
fn not_null_keeps_the_failing_row_in_full() {
    let g = gated(
        |ws| {
            edit_share(ws, |rows| {
                rows[0].as_object_mut().unwrap().remove("value");
            });
        },
        r#"[[checks]]
name = "share_values_present"
kind = "not_null"
table = "observations"
columns = ["value"]
where = { dataset = "sotkanet:171", year = "2024" }
"#,
        "share_values_present",
        &[],
    );
    let rows = g.rows.unwrap();
    assert_eq!(rows.height(), 1);
    // The three check columns, then every column of `observations`.
    let names: Vec<String> = rows
        .get_column_names()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        &names[..4],
        ["check_name", "check_severity", "check_reason", "source"]
    );
    assert!(names.contains(&"raw_sha256".to_owned()) && names.contains(&"abs_value".to_owned()));
    assert_eq!(strs(&rows, "check_reason"), ["null in `value`"]);
    assert_eq!(strs(&rows, "check_severity"), ["error"]);
    assert_eq!(
        rows.column("abs_value").unwrap().f64().unwrap().get(0),
        Some(1217.0)
    );
    let o = outcome(&g.manifest, "share_values_present");
    assert_eq!(o["failing_rows"], 1);
    assert_eq!(o["sample"][0]["abs_value"], 1217.0);
}

#[test]
fn unique_lists_both_duplicates() {
    let g = gated(
        // A repeated row is kept once by the normalize stage; a row for another sex is not a
        // repeat, and a check that means "one row per region and year" finds both.
        |ws| {
            edit_share(ws, |rows| {
                let mut male = rows[1].clone();
                male["gender"] = Value::from("male");
                rows.push(male);
            });
        },
        r#"[[checks]]
name = "one_observation_per_key"
kind = "unique"
table = "observations"
columns = ["dataset", "measure", "region", "year"]
where = { dataset = "sotkanet:171" }
"#,
        "one_observation_per_key",
        &[],
    );
    let rows = g.rows.unwrap();
    assert_eq!(rows.height(), 2);
    assert_eq!(strs(&rows, "region")[0], strs(&rows, "region")[1]);
    assert!(strs(&rows, "check_reason")[0].contains("occurs 2 times"));
}

#[test]
fn accepted_values_names_the_value() {
    let g = gated(
        |ws| {
            edit_share(ws, |rows| {
                rows[2]["gender"] = Value::from("male");
            });
        },
        r#"[[checks]]
name = "share_totals_only"
kind = "accepted_values"
table = "observations"
column = "sex"
values = ["total"]
where = { dataset = "sotkanet:171", year = "2024" }
"#,
        "share_totals_only",
        &[],
    );
    let rows = g.rows.unwrap();
    assert_eq!(rows.height(), 1);
    assert_eq!(
        strs(&rows, "check_reason"),
        ["`sex` = `male` is not an accepted value"]
    );
}

#[test]
fn relationship_flags_codes_the_registry_lacks() {
    // Every region a pipeline names (a survey's, a KPA file's) is checked against the registry
    // when the pipeline is loaded (a survey filed under HVA98 is a configuration error, see
    // `hostile`), so no region column can hold an unknown code any more: the check is a second
    // net. Pointed at a column of other codes, it flags every one.
    let g = gated(
        |_| {},
        r#"[[checks]]
name = "maturity_regions_known"
kind = "relationship"
table = "maturity_overall"
column = "round"
where = { region = "HVA18" }
"#,
        "maturity_regions_known",
        &[],
    );
    let rows = g.rows.unwrap();
    assert!(rows.height() > 0);
    assert!(strs(&rows, "region").iter().all(|r| r == "HVA18"));
    assert!(strs(&rows, "check_reason")[0].contains("is not a region code of the registry"));
}

#[test]
fn range_keeps_out_of_range_rows() {
    let g = gated(
        |ws| {
            edit_share(ws, |rows| {
                rows[3]["value"] = Value::from(134.0);
            });
            // The published share is also the indicator's value now: the sample's own check of
            // `indicators` warns about it, this one stops the run.
            ws.edit(
                "pipelines/sample.toml",
                "name = \"share_75plus_is_a_share\"\nkind = \"range\"",
                "name = \"share_75plus_is_a_share\"\nseverity = \"warn\"\nkind = \"range\"",
            );
        },
        r#"[[checks]]
name = "shares_are_percentages"
kind = "range"
table = "observations"
column = "value"
min = 0
max = 100
where = { dataset = "sotkanet:171" }
"#,
        "shares_are_percentages",
        &[],
    );
    let rows = g.rows.unwrap();
    assert_eq!(rows.height(), 1);
    assert_eq!(
        rows.column("value").unwrap().f64().unwrap().get(0),
        Some(134.0)
    );
    assert_eq!(
        strs(&rows, "check_reason"),
        ["`value` = 134 is outside [0, 100]"]
    );
}

#[test]
fn row_count_fails_without_rows() {
    let g = gated(
        |_| {},
        r#"[[checks]]
name = "every_kpa_row"
kind = "row_count"
table = "kpa"
min = 1000
"#,
        "every_kpa_row",
        &[],
    );
    assert!(g.rows.is_none());
    assert!(
        g.stderr
            .contains("`kpa` has 48 rows; expected at least 1000"),
        "{}",
        g.stderr
    );
}

#[test]
fn coverage_lists_missing_region_years() {
    let g = gated(
        |ws| {
            // Etelä-Savo's cost file loses its 2023 rows.
            let p = ws.path("sample-data/kpa/SYNTHETIC_kpa_etela_savo_2022_2024.csv");
            let bytes = std::fs::read(&p).unwrap();
            let kept: Vec<&[u8]> = bytes
                .split_inclusive(|b| *b == b'\n')
                .filter(|l| !l.starts_with(b"2023;"))
                .collect();
            assert!(kept.len() < bytes.split_inclusive(|b| *b == b'\n').count());
            std::fs::write(&p, kept.concat()).unwrap();
        },
        r#"[[checks]]
name = "kpa_every_focus_region_and_year"
kind = "coverage"
table = "kpa"
regions = "focus"
years = [2022, 2023, 2024]
"#,
        "kpa_every_focus_region_and_year",
        &[],
    );
    let rows = g.rows.unwrap();
    assert_eq!(strs(&rows, "region"), ["HVA12"]);
    assert_eq!(strs(&rows, "year"), ["2023"]);
    assert_eq!(
        strs(&rows, "check_reason"),
        ["no row for region HVA12, year 2023"]
    );
    assert!(
        g.stderr.contains("8 of 9 expected region-years"),
        "{}",
        g.stderr
    );
}

#[test]
fn freshness_of_years_and_of_a_source() {
    let g = gated(
        |_| {},
        r#"[[checks]]
name = "recent_years"
kind = "freshness"
table = "indicators"
column = "year"
max_age_years = 1
"#,
        "recent_years",
        &["--as-of", "2030-06-30"],
    );
    assert!(
        g.stderr
            .contains("latest `year` in `indicators` is 2024; at least 2029"),
        "{}",
        g.stderr
    );

    // StatFin says table 11s5 was updated on 2025-05-28.
    let g = gated(
        |_| {},
        r#"[[checks]]
name = "statfin_recent"
kind = "freshness"
source = "statfin_11s5"
max_age_days = 90
"#,
        "statfin_recent",
        &["--as-of", "2025-12-01"],
    );
    assert!(
        g.stderr
            .contains("updated on 2025-05-28, 187 days before 2025-12-01"),
        "{}",
        g.stderr
    );
}

/// A warning publishes with the outputs (rows under `quarantine/checks/`); `--strict` stops the
/// run; once the data is right again the stale rows are gone.
#[test]
fn warn_publishes_strict_stops_and_stale_rows_go() {
    let ws = Workspace::new();
    append(
        &ws,
        r#"[[checks]]
name = "shares_are_percentages"
kind = "range"
severity = "warn"
table = "observations"
column = "value"
max = 100
where = { dataset = "sotkanet:171" }
"#,
    );
    // The published share is the indicator's value too: the sample's check of it warns.
    ws.edit(
        "pipelines/sample.toml",
        "name = \"share_75plus_is_a_share\"\nkind = \"range\"",
        "name = \"share_75plus_is_a_share\"\nseverity = \"warn\"\nkind = \"range\"",
    );
    let original = std::fs::read(ws.path(SHARE_2024)).unwrap();
    edit_share(&ws, |rows| rows[3]["value"] = Value::from(134.0));
    let out = ws.run_with(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Check failed (warning)"),
        "{}",
        stderr(&out)
    );
    let q = ws
        .out()
        .join("quarantine/checks/shares_are_percentages.parquet");
    assert_eq!(read_parquet(&q).height(), 1);
    assert!(
        ws.out()
            .join("csv/quarantine/checks/shares_are_percentages.csv")
            .exists()
    );
    let m = manifests(&ws.out()).pop().unwrap();
    let o = outcome(&m, "shares_are_percentages");
    assert_eq!(o["status"], "warn");
    assert_eq!(
        o["quarantine"],
        "quarantine/checks/shares_are_percentages.parquet"
    );
    assert!(
        m["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["path"] == o["quarantine"])
    );

    let strict = ws.run_with(&["--strict"]);
    assert_eq!(strict.status.code(), Some(1), "{}", stderr(&strict));
    // Both warnings stop a strict run; the message names the first and lists the other.
    let err = stderr(&strict);
    assert!(
        err.contains("check `share_75plus_is_a_share` failed"),
        "{err}"
    );
    assert!(
        err.contains("1 more failed: shares_are_percentages"),
        "{err}"
    );

    std::fs::write(ws.path(SHARE_2024), original).unwrap();
    let fixed = ws.run_with(&["--strict"]);
    assert!(fixed.status.success(), "{}", stderr(&fixed));
    assert!(!q.exists());
    assert!(
        !ws.out()
            .join("csv/quarantine/checks/shares_are_percentages.csv")
            .exists()
    );
}

/// A check's mistakes are configuration errors (exit 2) naming the line.
#[test]
fn check_declarations_are_validated() {
    for (check, expect) in [
        (
            "[[checks]]\nname = \"a\"\nkind = \"range\"\ntable = \"indicators\"\ncolumn = \"value\"\n",
            "a `range` check needs `min`, `max` or both",
        ),
        (
            "[[checks]]\nname = \"a\"\nkind = \"not_null\"\ntable = \"indicators\"\ncolumns = [\"valeu\"]\n",
            "table `indicators` has no column `valeu`",
        ),
        (
            "[[checks]]\nname = \"a\"\nkind = \"unique\"\ntable = \"indicators\"\ncolumns = [\"value\"]\nvalues = [\"x\"]\n",
            "`values` does not apply to a `unique` check",
        ),
        (
            "[[checks]]\nname = \"a\"\nkind = \"row_count\"\ntable = \"indikators\"\nmin = 1\n",
            "unknown table `indikators`",
        ),
        (
            "[[checks]]\nname = \"a\"\nkind = \"freshness\"\nsource = \"nope\"\nmax_age_days = 1\n",
            "no source has id `nope`",
        ),
        (
            "[[checks]]\nname = \"a\"\nkind = \"nullness\"\ntable = \"indicators\"\n",
            "unknown variant `nullness`",
        ),
    ] {
        let ws = Workspace::new();
        append(&ws, check);
        let out = mittari()
            .arg("validate")
            .arg(ws.pipeline())
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expect), "{expect:?} not in {err}");
        assert!(err.contains("sample.toml:"), "{err}");
    }
}

/// A figure the analyst pins with its source: the run passes while mittari agrees with it,
/// and stops (nothing published) naming the reference when it does not.
#[test]
fn known_value_pins_an_official_figure() {
    let pin = |value: &str| {
        format!(
            r#"[[checks]]
name = "finland_population_2024"
kind = "known_value"
table = "indicators"
column = "value"
where = {{ indicator = "population", region = "SSS", year = "2024" }}
expected = {value}
reference = "Statistics Finland: population of Finland on 31 December 2024"
"#
        )
    };
    // Agrees: the run publishes.
    let ws = Workspace::new();
    append(&ws, &pin("5635971"));
    let o = ws.run();
    assert!(o.status.success(), "{}", stderr(&o));
    // Disagrees: stopped, the failing row names the reference.
    let g = gated(|_| {}, &pin("5635970"), "finland_population_2024", &[]);
    let rows = g.rows.unwrap();
    assert_eq!(rows.height(), 1);
    let reason = &strs(&rows, "check_reason")[0];
    assert!(
        reason.contains(
            "but Statistics Finland: population of Finland on 31 December 2024 gives 5635970"
        ),
        "{reason}"
    );
}

#[test]
fn known_value_needs_where_expected_and_reference() {
    let ws = Workspace::new();
    append(
        &ws,
        "[[checks]]\nname = \"pin\"\nkind = \"known_value\"\ntable = \"indicators\"\ncolumn = \"value\"\nexpected = 1\nreference = \"x\"\n",
    );
    let o = ws.run();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("a `known_value` check needs `where`"),
        "{}",
        stderr(&o)
    );
}

/// Helsinki is a county of its own: its county value equals its municipal value for every
/// count. The sample agrees; a published county row of 171 that says one more person aged 75+
/// than the municipality stops the run, the failing pair named. Ratios are not compared when the
/// check asks for counts.
#[test]
fn regions_agree_holds_helsinki_to_itself() {
    let check = r#"[[checks]]
name = "helsinki_county_is_the_city"
kind = "regions_agree"
table = "indicators"
column = "value"
regions = ["HVA90", "KU091"]
aggregation = "count"
"#;
    let ws = Workspace::new();
    append(&ws, check);
    let o = ws.run();
    assert!(o.status.success(), "{}", stderr(&o));
    let m = manifests(&ws.out()).pop().unwrap();
    assert_eq!(outcome(&m, "helsinki_county_is_the_city")["status"], "pass");

    let g = gated(
        |ws| {
            // The sample's `/regions` of 2015 predates the counties: add Helsinki's.
            let regions = ws.path("sample-data/sotkanet/regions_2015.json");
            let mut list: Vec<Value> =
                serde_json::from_slice(&std::fs::read(&regions).unwrap()).unwrap();
            list.push(
                serde_json::json!({"id": 960, "code": "90", "category": "HYVINVOINTIALUE",
                "title": {"fi": "Helsingin kaupunki"}}),
            );
            std::fs::write(&regions, serde_json::to_vec(&list).unwrap()).unwrap();
            edit_share(ws, |rows| {
                // Sotkanet id 46 is Helsinki, 960 the county of Helsinki.
                let city = rows.iter().find(|r| r["region"] == 46).unwrap().clone();
                let mut county = city.clone();
                county["region"] = Value::from(960);
                county["absValue"] = Value::from(city["absValue"].as_f64().unwrap() + 1.0);
                rows.push(county);
            });
        },
        check,
        "helsinki_county_is_the_city",
        &[],
    );
    let rows = g.rows.unwrap();
    assert_eq!(
        strs(&rows, "indicator"),
        ["population_75plus", "population_75plus"]
    );
    let reason = &strs(&rows, "check_reason")[0];
    assert!(
        reason.contains("population_75plus 2024: `value` of HVA90 = ")
            && reason.contains("(difference 1, tolerance 0)"),
        "{reason}"
    );
}

#[test]
fn regions_agree_needs_two_codes() {
    let ws = Workspace::new();
    append(
        &ws,
        "[[checks]]\nname = \"same\"\nkind = \"regions_agree\"\ntable = \"indicators\"\ncolumn = \"value\"\nregions = [\"HVA90\"]\n",
    );
    let o = ws.run();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("a `regions_agree` check compares two region codes"),
        "{}",
        stderr(&o)
    );
}
