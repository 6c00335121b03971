#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
#![allow(clippy::float_cmp)] // Figures are compared exactly: a repeat dropped changes nothing.
//! The hostile-input campaign: each case breaks one thing in a copy of the sample the way a
//! careless export, a flaky disk or an impatient operator would, runs the pipeline again, and
//! holds the run to what it must do. A case either fails (its exit code and a message naming
//! the place, the earlier outputs byte for byte intact) or succeeds with figures that are never
//! wrong: a value that cannot be trusted is missing and flagged, and the row that made it so is
//! quarantined with its reason.

use crate::common;

use common::*;
use polars::prelude::*;
use serde_json::Value;

const SOTKANET_127: &str = "sample-data/sotkanet/SYNTHETIC_127_population_2024.json";
const SOTKANET_127_CSV: &str = "sample-data/sotkanet/127_population_2009.csv";
const STATFIN_11S5: &str = "sample-data/statfin/11s5_population_by_municipality_2024M12.json";

/// A run of the sample, then the same workspace broken by `break_it`.
struct Case {
    ws: Workspace,
    before: std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>,
    baseline: DataFrame,
}

impl Case {
    fn new() -> Case {
        let ws = Workspace::new();
        let first = ws.run();
        assert!(first.status.success(), "{}", stderr(&first));
        let before = snapshot(&ws.out());
        let baseline = read_parquet(&ws.out().join("indicators.parquet"));
        Case {
            ws,
            before,
            baseline,
        }
    }

    /// Runs again after `break_it`; the run must succeed.
    fn succeeds(&self, break_it: impl FnOnce(&Workspace)) -> String {
        break_it(&self.ws);
        let o = self.ws.run();
        let err = stderr(&o);
        assert!(o.status.success(), "{err}");
        err
    }

    /// Runs again after `break_it`; the run must exit with `code`, say each of `expect`, and
    /// leave every earlier output as it was.
    fn fails(&self, break_it: impl FnOnce(&Workspace), code: i32, expect: &[&str]) {
        break_it(&self.ws);
        let o = self.ws.run();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{err}");
        for e in expect {
            assert!(err.contains(e), "stderr lacks {e:?}:\n{err}");
        }
        let after = snapshot(&self.ws.out());
        for (path, bytes) in &self.before {
            if !path.starts_with("_runs") {
                assert!(after.get(path) == Some(bytes), "{} changed", path.display());
            }
        }
    }

    fn table(&self, name: &str) -> DataFrame {
        read_parquet(&self.ws.out().join(name))
    }

    /// Every indicator value of the new run is the baseline's or missing: no figure changed
    /// to another number. Returns how many went missing.
    fn no_figure_changed(&self) -> usize {
        let now = self.table("indicators.parquet");
        let key = ["indicator", "region", "year"];
        let joined = self
            .baseline
            .clone()
            .lazy()
            .select([col("indicator"), col("region"), col("year"), col("value")])
            .join(
                now.lazy().select([
                    col("indicator"),
                    col("region"),
                    col("year"),
                    col("value").alias("now"),
                ]),
                key.map(col),
                key.map(col),
                JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
            )
            .collect()
            .unwrap();
        assert_eq!(joined.height(), self.baseline.height(), "the same rows");
        let (before, now) = (
            joined.column("value").unwrap().f64().unwrap(),
            joined.column("now").unwrap().f64().unwrap(),
        );
        let mut missing = 0;
        for (i, (b, n)) in before.iter().zip(now.iter()).enumerate() {
            match (b, n) {
                (Some(b), Some(n)) => assert!(
                    b == n || (b - n).abs() <= 1e-9 * b.abs(),
                    "row {i}: {b} became {n}"
                ),
                (Some(_), None) => missing += 1,
                (None, None) => {}
                (None, Some(n)) => panic!("row {i}: a missing value became {n}"),
            }
        }
        missing
    }

    /// A column of the observations' quarantine, one value per row.
    fn quarantined(&self, column: &str) -> Vec<String> {
        let q = self.table("quarantine/observations.parquet");
        q.column(column)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect()
    }

    /// The rules of the observations' quarantine, one per row.
    fn quarantined_rules(&self) -> Vec<String> {
        self.quarantined("rule")
    }
}

/// The rows of a Sotkanet `/json` file, edited by `edit`, written back.
fn edit_json_rows(ws: &Workspace, rel: &str, edit: impl FnOnce(&mut Vec<Value>)) {
    let p = ws.path(rel);
    let mut rows: Vec<Value> = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    edit(&mut rows);
    std::fs::write(&p, serde_json::to_vec_pretty(&rows).unwrap()).unwrap();
}

fn count(rules: &[String], rule: &str) -> usize {
    rules.iter().filter(|r| *r == rule).count()
}

// 1. Repeated rows are never summed.

#[test]
fn a_repeated_sotkanet_json_row_is_kept_once() {
    let case = Case::new();
    let before = case.quarantined_rules();
    let err = case.succeeds(|ws| {
        edit_json_rows(ws, SOTKANET_127, |rows| rows.insert(1, rows[0].clone()));
    });
    assert!(
        err.contains("1 row quarantined: duplicate_row at observations: sotkanet:127"),
        "{err}"
    );
    assert_eq!(case.no_figure_changed(), 0);
    let rules = case.quarantined_rules();
    assert_eq!(count(&rules, "duplicate_row"), 1);
    assert_eq!(rules.len(), before.len() + 1);
}

#[test]
fn conflicting_sotkanet_rows_leave_the_value_missing() {
    let case = Case::new();
    case.succeeds(|ws| {
        edit_json_rows(ws, SOTKANET_127, |rows| {
            let mut other = rows[0].clone();
            other["value"] = Value::from(other["value"].as_f64().unwrap() + 1.0);
            rows.push(other);
        });
    });
    let rules = case.quarantined_rules();
    assert_eq!(count(&rules, "conflicting_duplicate"), 2, "both rows");
    // The key stays, its value missing with the status `conflict`: the county's figures that
    // need it are missing too (never the sum of both rows, nor a sum without the municipality).
    let obs = case.table("observations.parquet");
    let conflict = obs
        .lazy()
        .filter(col("status").eq(lit("conflict")))
        .collect()
        .unwrap();
    assert_eq!(conflict.height(), 1);
    assert_eq!(conflict.column("value").unwrap().null_count(), 1);
    assert!(case.no_figure_changed() > 0, "some figures are now missing");
}

#[test]
fn a_repeated_sotkanet_csv_line_is_kept_once() {
    let case = Case::new();
    case.succeeds(|ws| {
        let p = ws.path(SOTKANET_127_CSV);
        let text = std::fs::read_to_string(&p).unwrap();
        let second = text.lines().nth(1).unwrap().to_owned();
        std::fs::write(&p, format!("{text}{second}\r\n")).unwrap();
    });
    assert_eq!(count(&case.quarantined_rules(), "duplicate_row"), 1);
    assert_eq!(case.no_figure_changed(), 0);
}

#[test]
fn a_second_value_key_in_json_stat_is_an_error() {
    let case = Case::new();
    case.fails(
        |ws| {
            let p = ws.path(STATFIN_11S5);
            let text = std::fs::read_to_string(&p).unwrap();
            let start = text.find("\"value\"").unwrap();
            let end = start + text[start..].find(']').unwrap() + 1;
            let again = format!("{},{}", &text[start..end], &text[start..end]);
            std::fs::write(&p, text.replacen(&text[start..end], &again, 1)).unwrap();
        },
        3,
        &[
            "11s5_population_by_municipality_2024M12.json",
            "a second `value`",
        ],
    );
}

const KPA: &str = "sample-data/kpa/SYNTHETIC_kpa_etela_savo_2022_2024.csv";

/// The lines of the sample's KPA file (Windows-1252), edited.
fn edit_kpa_lines(ws: &Workspace, edit: impl FnOnce(&mut Vec<String>)) {
    edit_cp1252_lines(ws, KPA, edit);
}

/// How many rows the `kpa` table has.
fn kpa_rows(case: &Case) -> usize {
    case.table("kpa.parquet").height()
}

#[test]
fn a_repeated_kpa_line_is_kept_once() {
    let case = Case::new();
    let before = kpa_rows(&case);
    case.succeeds(|ws| edit_kpa_lines(ws, |lines| lines.insert(2, lines[1].clone())));
    assert_eq!(count(&case.quarantined_rules(), "duplicate_row"), 1);
    assert_eq!(kpa_rows(&case), before);
    let locations = case.quarantined("location");
    assert!(
        locations
            .iter()
            .any(|l| l.ends_with("SYNTHETIC_kpa_etela_savo_2022_2024.csv:3")),
        "{locations:?}"
    );
}

#[test]
fn conflicting_kpa_lines_give_no_figures_for_that_class_and_year() {
    let case = Case::new();
    let before = kpa_rows(&case);
    case.succeeds(|ws| {
        edit_kpa_lines(ws, |lines| {
            let changed = lines[1].replacen(";1603;", ";1703;", 1);
            assert_ne!(changed, lines[1]);
            lines.push(changed);
        });
    });
    assert_eq!(count(&case.quarantined_rules(), "conflicting_duplicate"), 2);
    assert_eq!(kpa_rows(&case), before - 1, "the class's year has no row");
}

#[test]
fn a_finnish_number_cut_short_is_quarantined_not_misread() {
    let case = Case::new();
    let before = kpa_rows(&case);
    case.succeeds(|ws| {
        edit_kpa_lines(ws, |lines| {
            // 29 316 404,71 cut to 29 316 4: read today as 293 164.
            lines[1] = lines[1].replacen("29 316 404,71", "29 316 4", 1);
        });
    });
    let reasons = case.quarantined("reason");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("29 316 4") && r.contains("in threes")),
        "{reasons:?}"
    );
    assert_eq!(kpa_rows(&case), before - 1);
}

#[test]
fn a_negative_client_count_is_quarantined_not_suppressed() {
    let case = Case::new();
    let before = kpa_rows(&case);
    case.succeeds(|ws| {
        edit_kpa_lines(ws, |lines| {
            lines[1] = lines[1].replacen(";1603;", ";-3;", 1);
        });
    });
    let reasons = case.quarantined("reason");
    assert!(
        reasons.iter().any(|r| r.contains("negative")),
        "{reasons:?}"
    );
    assert_eq!(kpa_rows(&case), before - 1);
}

const SURVEY: &str = "sample-data/maturity/SYNTHETIC_survey_etela_savo_2020.csv";

/// The lines of a Windows-1252 file, edited and written back byte for byte.
fn edit_cp1252_lines(ws: &Workspace, rel: &str, edit: impl FnOnce(&mut Vec<String>)) {
    let p = ws.path(rel);
    let text: String = std::fs::read(&p)
        .unwrap()
        .into_iter()
        .map(char::from)
        .collect();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    edit(&mut lines);
    let bytes: Vec<u8> = (lines.join("\r\n") + "\r\n")
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    std::fs::write(&p, bytes).unwrap();
}

impl Case {
    /// The manifest of the published set (`current/manifest.json`): run ids sort by the second,
    /// and two runs in one second sort by their random suffix.
    fn newest_manifest(&self) -> Value {
        let path = self.ws.out().join("current/manifest.json");
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    /// (rule, location, record) of every quarantined survey or roadmap row.
    fn maturity_quarantine(&self) -> Vec<(String, String, String)> {
        let q = self.table("quarantine/maturity.parquet");
        let col = |c: &str| -> Vec<String> {
            q.column(c)
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|v| v.unwrap_or_default().to_owned())
                .collect()
        };
        let (rule, location, record) = (col("rule"), col("location"), col("record"));
        rule.into_iter()
            .zip(location)
            .zip(record)
            .map(|((a, b), c)| (a, b, c))
            .collect()
    }
}

#[test]
fn a_repeated_respondent_is_counted_once() {
    let case = Case::new();
    let scores = case.table("maturity_dimension_scores.parquet");
    let err = case.succeeds(|ws| edit_cp1252_lines(ws, SURVEY, |l| l.insert(3, l[2].clone())));
    assert!(err.contains("1 row quarantined: duplicate_row"), "{err}");
    let q = case.maturity_quarantine();
    assert_eq!(q.len(), 1, "{q:?}");
    assert!(
        q[0].1.ends_with("SYNTHETIC_survey_etela_savo_2020.csv:4"),
        "{q:?}"
    );
    let now = case.table("maturity_dimension_scores.parquet");
    let values = |df: &DataFrame| df.drop("run_id").unwrap();
    assert!(
        values(&now).equals_missing(&values(&scores)),
        "the same scores"
    );
}

#[test]
fn a_respondent_who_answers_twice_differently_counts_in_no_score() {
    let case = Case::new();
    case.succeeds(|ws| {
        edit_cp1252_lines(ws, SURVEY, |l| {
            let changed = l[2].replacen(";Johto;", ";Talous;", 1);
            l.push(changed);
        });
    });
    let q = case.maturity_quarantine();
    assert_eq!(
        q.iter().filter(|r| r.0 == "conflicting_duplicate").count(),
        2,
        "{q:?}"
    );
}

#[test]
fn a_survey_row_cut_short_is_quarantined() {
    let case = Case::new();
    case.succeeds(|ws| {
        edit_cp1252_lines(ws, SURVEY, |l| {
            let cut: String = l[2].split(';').take(8).collect::<Vec<_>>().join(";");
            l[2] = cut;
        });
    });
    let q = case.maturity_quarantine();
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0].0, "truncated_row");
}

#[test]
fn a_quarantined_survey_row_keeps_no_respondent_id_in_clear() {
    let case = Case::new();
    let err = case.succeeds(|ws| {
        edit_cp1252_lines(ws, SURVEY, |l| {
            l[2] = l[2].replacen(";Johto;", ";Kokki;", 1);
        });
    });
    assert!(err.contains("1 row quarantined: unknown_role"), "{err}");
    let q = case.maturity_quarantine();
    assert_eq!(q.len(), 1);
    assert!(!q[0].2.contains("12-2020-001"), "{}", q[0].2);
    assert!(q[0].2.starts_with("respondent:"), "{}", q[0].2);
    for f in ["quarantine/maturity.parquet", "csv/quarantine/maturity.csv"] {
        let bytes = std::fs::read(case.ws.out().join(f)).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("12-2020-001"),
            "{f}"
        );
    }
    assert!(!err.contains("12-2020-001"));
}

#[test]
fn impossible_answer_dates_are_quarantined() {
    let case = Case::new();
    case.succeeds(|ws| {
        edit_cp1252_lines(ws, SURVEY, |l| {
            l[2] = l[2].replacen("13.10.2020 11:01", "13.10.2099 11:01", 1);
            l[3] = l[3].replacen("14.10.2020 12:02", "31.2.2020 12:02", 1);
        });
    });
    let rules: Vec<String> = case
        .maturity_quarantine()
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(rules, ["date_in_future", "bad_date"]);
}

#[test]
fn two_surveys_of_one_region_and_round_are_a_configuration_error() {
    let case = Case::new();
    case.fails(
        |ws| {
            ws.edit(
                "pipelines/sample.toml",
                "id = \"survey_etela_savo_2022\"\nregion = \"HVA12\"\nround = \"2022\"",
                "id = \"survey_etela_savo_2022\"\nregion = \"HVA12\"\nround = \"2020\"",
            );
        },
        2,
        &["sample.toml:145:", "a second survey of HVA12 in round 2020"],
    );
}

#[test]
fn a_region_file_for_an_unknown_region_is_a_configuration_error() {
    for (from, to, place) in [
        (
            "id = \"survey_etela_savo_2020\"\nregion = \"HVA12\"",
            "id = \"survey_etela_savo_2020\"\nregion = \"HVA99\"",
            "sample.toml:135:",
        ),
        (
            "etela_savo_2022_2024.csv\"\nregion = \"HVA12\"",
            "etela_savo_2022_2024.csv\"\nregion = \"HVA99\"",
            "sample.toml:210:",
        ),
    ] {
        let case = Case::new();
        case.fails(
            |ws| ws.edit("pipelines/sample.toml", from, to),
            2,
            &[place, "HVA99", "region registry"],
        );
    }
}

// 2. No output holds a non-finite number.

/// The sample's StatFin 11s5 document with its `value` edited.
fn edit_11s5_values(ws: &Workspace, edit: impl FnOnce(&mut Vec<Value>)) {
    let p = ws.path(STATFIN_11S5);
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    let mut values = doc["value"].as_array().unwrap().clone();
    edit(&mut values);
    doc["value"] = Value::Array(values);
    std::fs::write(&p, serde_json::to_vec(&doc).unwrap()).unwrap();
}

/// The sample's declared check that every population figure is present warns instead of
/// stopping the run, so that a run with missing figures publishes them (as missing).
fn missing_population_only_warns(ws: &Workspace) {
    ws.edit(
        "pipelines/sample.toml",
        "name = \"population_has_values\"\nkind = \"not_null\"",
        "name = \"population_has_values\"\nkind = \"not_null\"\nseverity = \"warn\"",
    );
}

/// Every number in every Parquet output below `out` is finite or missing.
fn every_number_is_finite(out: &std::path::Path) {
    for path in snapshot(out).keys() {
        if path.extension().is_none_or(|e| e != "parquet") {
            continue;
        }
        let df = read_parquet(&out.join(path));
        for c in df.columns() {
            if let Ok(v) = c.f64() {
                assert!(
                    v.iter().flatten().all(f64::is_finite),
                    "{}: column {} holds a non-finite number",
                    path.display(),
                    c.name()
                );
            }
        }
    }
}

#[test]
fn text_cells_that_are_not_finite_numbers_are_quarantined() {
    let case = Case::new();
    let err = case.succeeds(|ws| {
        missing_population_only_warns(ws);
        edit_11s5_values(ws, |v| {
            v[0] = Value::from("NaN");
            v[1] = Value::from("inf");
            v[2] = Value::from("-infinity");
        });
    });
    assert!(err.contains("3 rows quarantined: not_finite at "), "{err}");
    assert_eq!(count(&case.quarantined_rules(), "not_finite"), 3);
    every_number_is_finite(&case.ws.out());
    assert!(
        case.no_figure_changed() > 0,
        "the counties of the three are missing now"
    );
}

#[test]
fn a_sum_too_large_for_a_float_is_missing_with_a_flag() {
    let case = Case::new();
    case.succeeds(|ws| {
        missing_population_only_warns(ws);
        edit_11s5_values(ws, |v| {
            v[0] = Value::from(1.7e308);
            v[1] = Value::from(1.7e308);
        });
    });
    every_number_is_finite(&case.ws.out());
    let indicators = case.table("indicators.parquet");
    let flags = indicators.column("flags").unwrap().str().unwrap().clone();
    let value = indicators.column("value").unwrap().f64().unwrap().clone();
    let flagged: Vec<usize> = (0..indicators.height())
        .filter(|&i| flags.get(i).is_some_and(|f| f.contains("overflow")))
        .collect();
    assert!(
        !flagged.is_empty(),
        "the county and the country are flagged"
    );
    assert!(flagged.iter().all(|&i| value.get(i).is_none()));
}

#[test]
fn convert_quarantines_text_cells_that_are_not_finite() {
    let dir = tempfile::TempDir::new().unwrap();
    let input = dir.path().join("t.json");
    std::fs::write(
        &input,
        r#"{"version":"2.0","class":"dataset","id":["alue","vuosi"],"size":[3,1],
            "dimension":{"alue":{"category":{"index":["KU091","KU049","SSS"]}},
                         "vuosi":{"category":{"index":["2024"]}}},
            "role":{"geo":["alue"],"time":["vuosi"]},
            "value":["NaN", 1e999, 5]}"#,
    )
    .unwrap();
    let out = dir.path().join("t.parquet");
    let o = mittari()
        .args(["convert", "jsonstat"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("2 rows quarantined: not_finite at "), "{err}");
    every_number_is_finite(dir.path());
    assert_eq!(read_parquet(&out).height(), 1);
}

// 5. A source that gives no rows is said, and a declared check can stop the run on it.

#[test]
fn a_source_that_gives_no_rows_is_a_warning_in_the_log_and_the_manifest() {
    let case = Case::new();
    let err = case.succeeds(|ws| {
        missing_population_only_warns(ws);
        std::fs::write(ws.path(SOTKANET_127), "[]").unwrap();
    });
    let warning = "source `sotkanet_127_2024` gave no rows: every figure that needs it is missing";
    assert!(err.contains(warning), "{err}");
    let manifest = case.newest_manifest();
    assert!(
        manifest["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == warning),
        "{manifest}"
    );
}

#[test]
fn a_declared_check_makes_a_source_without_rows_an_error() {
    let case = Case::new();
    case.fails(
        |ws| {
            let p = ws.pipeline();
            let mut text = std::fs::read_to_string(&p).unwrap();
            text.push_str(
                "\n[[checks]]\nname = \"sotkanet_6_present\"\nkind = \"row_count\"\n\
                 table = \"observations\"\nwhere = { dataset = \"sotkanet:6\" }\nmin = 1\n",
            );
            std::fs::write(&p, text).unwrap();
            std::fs::write(ws.path("sample-data/sotkanet/SYNTHETIC_6_2024.json"), "[]").unwrap();
        },
        1,
        &["check `sotkanet_6_present` failed", "nothing was published"],
    );
}

#[test]
fn a_sotkanet_row_for_a_year_ahead_is_quarantined() {
    let case = Case::new();
    case.succeeds(|ws| {
        edit_json_rows(ws, SOTKANET_127, |rows| {
            let mut ahead = rows[0].clone();
            ahead["year"] = Value::from(2099);
            rows.push(ahead);
        });
    });
    assert_eq!(count(&case.quarantined_rules(), "year_in_future"), 1);
    assert_eq!(case.no_figure_changed(), 0);
}

// 11. No respondent id reaches the archive; the archive is the owner's alone.

#[test]
fn survey_files_are_recorded_not_archived_and_the_archive_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new();
    let o = ws
        .run_cmd(&ws.out())
        .env("MITTARI_SURVEY_SALT", "a secret salt")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let raw = ws.path("cache/raw");
    let survey = std::fs::read(ws.path(SURVEY)).unwrap();
    let survey_sha = mittari::io::hash::sha256_hex(&survey);
    assert!(
        !raw.join(&survey_sha).exists(),
        "the survey is not archived"
    );
    let index = std::fs::read_to_string(raw.join("index")).unwrap();
    assert!(
        !index.contains("SYNTHETIC_survey_"),
        "nor named in the index"
    );
    assert!(!index.contains("SYNTHETIC_roadmap_"));
    for entry in std::fs::read_dir(&raw).unwrap() {
        let mode = entry.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "archive files are the owner's");
    }
    let mode = std::fs::metadata(&raw).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    // The manifest records the survey by its sha256.
    let runs = ws.out().join("_runs");
    let manifest = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_stem().is_some_and(|s| s != "state")
        })
        .unwrap();
    let manifest: Value = serde_json::from_slice(&std::fs::read(manifest).unwrap()).unwrap();
    assert!(
        manifest["maturity_inputs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["sha256"] == survey_sha.as_str()),
        "{}",
        manifest["maturity_inputs"]
    );
    // No hash of the salt alone is kept.
    let state = std::fs::read_to_string(runs.join("state.json")).unwrap();
    assert!(!state.contains(&mittari::io::hash::sha256_hex(b"a secret salt")));
}

// 13. A copy of the pipeline in another folder is not up to date with this one's outputs.

#[test]
fn the_same_pipeline_from_another_folder_rebuilds() {
    let ws = Workspace::new();
    assert!(ws.run().status.success());
    let again = ws.run();
    assert!(stderr(&again).contains("Up to date"), "{}", stderr(&again));
    // The same pipeline and data in another folder, one value changed, into the same --out.
    let other = Workspace::new();
    let p = other.path(SOTKANET_127);
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replacen("9078", "9079", 1);
    std::fs::write(&p, text).unwrap();
    let o = mittari()
        .arg("run")
        .arg(other.pipeline())
        .arg("--out")
        .arg(ws.out())
        .arg("--cache")
        .arg(ws.path("cache"))
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("Up to date"), "{err}");
}

// 14. Only regular files are read: a FIFO or a device is an error, not a hang.

#[test]
fn a_fifo_or_a_device_as_an_input_is_an_error_not_a_hang() {
    for make in ["fifo", "device"] {
        let case = Case::new();
        let started = std::time::Instant::now();
        case.fails(
            |ws| {
                let p = ws.path(SOTKANET_127);
                std::fs::remove_file(&p).unwrap();
                if make == "fifo" {
                    let made = std::process::Command::new("mkfifo")
                        .arg(&p)
                        .status()
                        .unwrap();
                    assert!(made.success());
                } else {
                    std::os::unix::fs::symlink("/dev/zero", &p).unwrap();
                }
            },
            3,
            &["SYNTHETIC_127_population_2024.json", "not a regular file"],
        );
        assert!(
            started.elapsed() < std::time::Duration::from_mins(1),
            "{make}"
        );
    }
}

#[test]
fn a_fifo_as_the_pipeline_file_is_an_error_not_a_hang() {
    let dir = tempfile::TempDir::new().unwrap();
    let p = dir.path().join("p.toml");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap()
            .success()
    );
    let o = mittari()
        .arg("run")
        .arg(&p)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("not a regular file"), "{err}");
}

// 6. A reader sees the previous run's outputs or the new run's, whole, whatever fails and when.

/// The set `current` names is whole: every output its own manifest lists has the sha256 the
/// manifest says, read through the output folder's top-level names. Returns its run id.
fn whole_set(out: &std::path::Path) -> String {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("current/manifest.json")).unwrap()).unwrap();
    let outputs = manifest["outputs"].as_array().unwrap();
    assert!(!outputs.is_empty());
    for o in outputs {
        let path = o["path"].as_str().unwrap();
        let bytes = std::fs::read(out.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            mittari::io::hash::sha256_hex(&bytes),
            o["sha256"].as_str().unwrap(),
            "{path} is not the file the current set's manifest lists"
        );
    }
    // No name of the folder dangles.
    for e in std::fs::read_dir(out).unwrap() {
        let e = e.unwrap();
        assert!(
            std::fs::metadata(e.path()).is_ok(),
            "{} dangles",
            e.path().display()
        );
    }
    manifest["run_id"].as_str().unwrap().to_owned()
}

/// Runs the sample, changes one figure, and runs again with a fault at `step` (`fail` or
/// `kill`); returns the workspace, the first run's snapshot and id, and the second run.
fn faulted(
    step: &str,
    how: &str,
) -> (
    Workspace,
    std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>,
    String,
    std::process::Output,
) {
    let ws = Workspace::new();
    assert!(ws.run().status.success());
    let first_id = whole_set(&ws.out());
    let before = snapshot(&ws.out());
    edit_json_rows(&ws, SOTKANET_127, |rows| {
        rows[0]["value"] = Value::from(9079);
    });
    let o = ws
        .run_cmd(&ws.out())
        .env("MITTARI_FAULT", format!("{step}:{how}"))
        .output()
        .unwrap();
    (ws, before, first_id, o)
}

const BEFORE_COMMIT: [&str; 3] = ["manifest", "seal", "swap"];
const AFTER_COMMIT: [&str; 3] = ["links", "runs-manifest", "cleanup"];

#[test]
fn a_failure_at_any_step_of_the_commit_leaves_one_whole_set_and_says_which() {
    for step in BEFORE_COMMIT {
        let (ws, before, first_id, o) = faulted(step, "fail");
        let err = stderr(&o);
        assert_ne!(o.status.code(), Some(0), "{step}: {err}");
        assert!(
            err.contains("nothing was published, the previous outputs are unchanged"),
            "{step}: {err}"
        );
        assert_eq!(whole_set(&ws.out()), first_id, "{step}");
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
        // The next run publishes.
        let next = ws.run();
        assert!(next.status.success(), "{step}: {}", stderr(&next));
        assert_ne!(whole_set(&ws.out()), first_id);
    }
    for step in AFTER_COMMIT {
        let (ws, _, first_id, o) = faulted(step, "fail");
        let err = stderr(&o);
        assert_ne!(o.status.code(), Some(0), "{step}: {err}");
        assert!(err.contains("its outputs were published"), "{step}: {err}");
        assert!(
            err.contains(&format!("fault injected at `{step}`")),
            "{step}: {err}"
        );
        if step != "links" {
            // The links were made: every name reads the new set.
            assert_ne!(whole_set(&ws.out()), first_id, "{step}");
        }
        let next = ws.run();
        assert!(next.status.success(), "{step}: {}", stderr(&next));
        whole_set(&ws.out());
    }
}

#[test]
fn a_run_killed_at_any_step_of_the_commit_leaves_one_whole_set() {
    for step in BEFORE_COMMIT.iter().chain(&AFTER_COMMIT) {
        let (ws, _, first_id, o) = faulted(step, "kill");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&o.status),
            Some(9),
            "{step}: {}",
            stderr(&o)
        );
        // Whichever set `current` names is whole; before the swap it is the first run's. (Killed
        // before the links of the new run were made, the names are the first run's links
        // through `current`, which read the new set.)
        let id = whole_set(&ws.out());
        if BEFORE_COMMIT.contains(step) {
            assert_eq!(id, first_id, "{step}");
        } else {
            assert_ne!(id, first_id, "{step}");
        }
        let next = ws.run();
        assert!(next.status.success(), "{step}: {}", stderr(&next));
        whole_set(&ws.out());
        // Nothing of the killed run is left in `.versions` but versions.
        for e in std::fs::read_dir(ws.out().join(".versions")).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.ends_with(".staging"), "{step}: {name}");
        }
    }
}

// 7. mittari deletes only what it wrote.

#[test]
fn files_mittari_did_not_write_are_never_deleted() {
    let ws = Workspace::new();
    assert!(ws.run().status.success());
    let out = ws.out();
    // A folder of the user's that looks like an old staging folder, and a version folder with
    // a file of the user's in it.
    std::fs::create_dir_all(out.join(".staging-mine")).unwrap();
    std::fs::write(out.join(".staging-mine/keep.txt"), "mine").unwrap();
    let first = mittari::stages::publish::current_version(&out).unwrap();
    std::fs::write(out.join(".versions").join(&first).join("notes.txt"), "mine").unwrap();
    // `quarantine` replaced by a link to a folder outside the output folder.
    let outside = ws.path("elsewhere");
    std::fs::create_dir_all(outside.join("checks")).unwrap();
    std::fs::write(outside.join("checks/keep.parquet"), "mine").unwrap();
    std::fs::remove_file(out.join("quarantine")).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("quarantine")).unwrap();
    for _ in 0..3 {
        edit_json_rows(&ws, SOTKANET_127, |rows| {
            let v = rows[0]["value"].as_f64().unwrap();
            rows[0]["value"] = Value::from(v + 1.0);
        });
        let o = ws.run();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(
        std::fs::read_to_string(out.join(".staging-mine/keep.txt")).unwrap(),
        "mine"
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("checks/keep.parquet")).unwrap(),
        "mine"
    );
    assert_eq!(
        std::fs::read_to_string(out.join(".versions").join(&first).join("notes.txt")).unwrap(),
        "mine",
        "an old version with a file of the user's is kept"
    );
    // The files of that version that mittari wrote are gone.
    assert!(
        !out.join(".versions")
            .join(&first)
            .join("indicators.parquet")
            .exists()
    );
    whole_set(&out);
}

// 8. A run stopped with SIGTERM records itself.

#[test]
fn a_run_stopped_with_sigterm_records_itself_as_failed() {
    let ws = Workspace::new();
    assert!(ws.run().status.success());
    let before = snapshot(&ws.out());
    let mut child = ws
        .run_cmd(&ws.out())
        .arg("--force")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Stopped once it has begun to stage its tables.
    let staging = |out: &std::path::Path| {
        std::fs::read_dir(out.join(".versions")).is_ok_and(|mut d| {
            d.any(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".staging")
            })
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(2);
    while !staging(&ws.out()) {
        assert!(child.try_wait().unwrap().is_none(), "the run ended first");
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(143), "{err}");
    assert!(err.contains("Run stopped by SIGTERM"), "{err}");
    let history = read_parquet(&ws.out().join("_runs/history.parquet"));
    let last = history.height() - 1;
    let text = |c: &str| history.column(c).unwrap().get(last).unwrap().to_string();
    assert!(text("status").contains("failed"), "{history}");
    assert!(text("exit_code").contains("143"), "{history}");
    assert!(text("error").contains("stopped by SIGTERM"), "{history}");
    // Nothing was published; the next run clears what the stopped one left.
    let after = snapshot(&ws.out());
    for (path, bytes) in &before {
        if !path.starts_with("_runs") {
            assert!(after.get(path) == Some(bytes), "{} changed", path.display());
        }
    }
    assert!(ws.run().status.success());
    assert!(!staging(&ws.out()));
}

// 9. One run holds a folder at a time, whatever a stale lock file says.

#[test]
fn four_runs_at_once_over_a_stale_lock_take_turns() {
    let ws = Workspace::new();
    let out = ws.out();
    assert!(ws.run().status.success());
    for round in 0..4 {
        // A lock file left by a process that is gone, naming pid 1 (alive: init).
        let stale =
            r#"{"pid":1,"run_id":"20261101T000000Z-000000","started_at":"2026-11-01T00:00:00Z"}"#;
        std::fs::write(out.join(".mittari.lock"), stale).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let (stop, out) = (stop.clone(), out.clone());
            std::thread::spawn(move || {
                let mut most = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let staging = std::fs::read_dir(out.join(".versions")).map_or(0, |d| {
                        d.filter(|e| {
                            e.as_ref().is_ok_and(|e| {
                                e.file_name().to_string_lossy().ends_with(".staging")
                            })
                        })
                        .count()
                    });
                    most = most.max(staging);
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
                most
            })
        };
        let children: Vec<_> = (0..4)
            .map(|_| {
                ws.run_cmd(&out)
                    .args(["--force", "--wait", "300"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "round {round}: {}", stderr(&o));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let most = watcher.join().unwrap();
        assert!(most <= 1, "round {round}: {most} runs were staging at once");
        whole_set(&out);
    }
}

#[test]
fn convert_keeps_a_repeated_sotkanet_row_once() {
    let dir = tempfile::TempDir::new().unwrap();
    let input = dir.path().join("127.json");
    let mut rows: Vec<Value> =
        serde_json::from_slice(&std::fs::read(repo().join(SOTKANET_127)).unwrap()).unwrap();
    let total = rows.len();
    rows.push(rows[0].clone());
    std::fs::write(&input, serde_json::to_vec(&rows).unwrap()).unwrap();
    let out = dir.path().join("127.parquet");
    let o = mittari()
        .args(["convert", "sotkanet-json"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("duplicate_row"), "{err}");
    let written = read_parquet(&out).height();
    let quarantined = read_parquet(&dir.path().join("127.quarantine.parquet")).height();
    assert_eq!(written + quarantined, total + 1);
    assert_eq!(
        read_parquet(&dir.path().join("127.quarantine.parquet"))
            .column("rule")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .filter(|r| *r == Some("duplicate_row"))
            .count(),
        1
    );
}
