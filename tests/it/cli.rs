#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! The CLI contract: `validate`, `convert`, `inspect`, exit codes for usage errors.

use crate::common;

use common::*;

/// `validate` writes nothing (what it prints is held by the snapshot
/// `snapshots::validate_plan_of_the_sample`).
#[test]
fn validate_writes_nothing() {
    let ws = Workspace::new();
    let out = mittari()
        .arg("validate")
        .arg(ws.pipeline())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let entries: Vec<_> = std::fs::read_dir(ws.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries.len(), 2, "validate created files: {entries:?}");
}

#[test]
fn validate_rejects_a_bad_focus_region() {
    let ws = Workspace::new();
    ws.edit(
        "pipelines/sample.toml",
        "\"HVA18\"]",
        "\"HVA18\", \"HVA96\"]",
    );
    let out = mittari()
        .arg("validate")
        .arg(ws.pipeline())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("sample.toml:12:37: focus region `HVA96` is not in the region registry"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn inspect_shows_schema_metadata_and_rows() {
    let ws = Workspace::new();
    assert!(ws.run().status.success());
    let out = mittari()
        .arg("inspect")
        .arg(ws.out().join("indicators.parquet"))
        .args(["--rows", "3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("mittari.table = indicators"), "{text}");
    assert!(text.contains("mittari.schema_version = 2"), "{text}");
    assert!(text.contains("  year: Int16"), "{text}");
    assert!(text.contains("first 3 rows:"), "{text}");
    assert!(
        text.contains("indicator\tregion\tregion_level\tyear\tvalue"),
        "{text}"
    );
    assert!(!text.contains("ARROW:schema"));
    // A table with UTC timestamps (formatted by mittari, not polars).
    let out = mittari()
        .arg("inspect")
        .arg(ws.out().join("observations.parquet"))
        .args(["--rows", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("  retrieved_at: Timestamp(µs, \"UTC\")")
            || text.contains("  retrieved_at: Timestamp(Microsecond, Some(\"UTC\"))"),
        "{text}"
    );
    let row = text.lines().last().unwrap();
    let stamp = row.split('\t').next_back().unwrap();
    assert!(stamp.ends_with('Z') && stamp.len() == 27, "{stamp}");
}

#[test]
fn inspect_missing_file_exits_3() {
    let out = mittari()
        .args(["inspect", "no/such/file.parquet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("no/such/file.parquet"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn convert_each_format() {
    let ws = Workspace::new();
    let data = ws.path("sample-data");

    let o = ws.path("conv/pop.parquet");
    let out = mittari()
        .args(["convert", "jsonstat"])
        .arg(data.join("statfin/11s5_population_by_municipality_2024M12.json"))
        .arg("-o")
        .arg(&o)
        .args(["--dataset", "statfin:11s5"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("wrote 308 rows to {}", o.display())
    );
    let df = read_parquet(&o);
    assert_eq!(df.height(), 308);
    assert_eq!(
        df.column("dataset").unwrap().str().unwrap().get(0),
        Some("statfin:11s5")
    );
    assert!(!ws.path("conv/pop.quarantine.parquet").exists());

    let o = ws.path("conv/127.parquet");
    let out = mittari()
        .args(["convert", "sotkanet-json"])
        .arg(data.join("sotkanet/127_population_2019_2023_five_cities.json"))
        .arg("-o")
        .arg(&o)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let df = read_parquet(&o);
    assert_eq!(df.height(), 10);
    assert_eq!(
        df.column("dataset").unwrap().str().unwrap().get(0),
        Some("sotkanet:127")
    );
    assert_eq!(
        df.column("region").unwrap().str().unwrap().get(0),
        Some("KU049"),
        "Espoo, sorted first"
    );

    // The 2009 CSV has regions of every category: those go to the quarantine file.
    let o = ws.path("conv/127_2009.parquet");
    let out = mittari()
        .args(["convert", "sotkanet-csv"])
        .arg(data.join("sotkanet/127_population_2009.csv"))
        .arg("-o")
        .arg(&o)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let q = read_parquet(&ws.path("conv/127_2009.quarantine.parquet"));
    assert!(q.height() > 0);
    let df = read_parquet(&o);
    assert!(df.height() > 300, "{}", df.height());
    assert!(
        stdout(&out).contains("rows quarantined to"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn convert_truncated_input_exits_3_and_writes_nothing() {
    let ws = Workspace::new();
    let input = ws.path("bad.json");
    std::fs::write(
        &input,
        b"{\"version\":\"2.0\",\"class\":\"dataset\",\"id\":[\"a\"",
    )
    .unwrap();
    let o = ws.path("bad.parquet");
    let out = mittari()
        .args(["convert", "jsonstat"])
        .arg(&input)
        .arg("-o")
        .arg(&o)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("bad.json: line 1, column"),
        "{}",
        stderr(&out)
    );
    assert!(!o.exists());
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let out = mittari().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = mittari()
        .args(["convert", "xml", "a", "-o", "b"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = mittari().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("validate"));
}

/// One run at a time per output folder: a live holder makes a second run stop (or wait); a lock
/// file left behind by a process that is gone, even one naming pid 1 (a container restart gives
/// the next run the same pid), does not block the next run; two concurrent runs both complete.
#[test]
fn output_folder_lock() {
    let ws = Workspace::new();
    let out = ws.out();
    std::fs::create_dir_all(&out).unwrap();
    let lock = out.join(".mittari.lock");
    let run = |extra: &[&str]| ws.run_with(extra);
    // Held by a live process (this test), as a run holds it.
    let held = r#"{"pid":4242,"run_id":"other-run","started_at":"2026-11-22T10:00:00Z"}"#;
    std::fs::write(&lock, held).unwrap();
    let holder = std::fs::File::open(&lock).unwrap();
    holder.try_lock().unwrap();
    let started = std::time::Instant::now();
    let o = run(&["--wait", "1"]);
    // Its own exit code: a scheduler retries later.
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "it waited"
    );
    let err = stderr(&o);
    assert!(
        err.contains("is in use by run other-run (pid 4242") && err.contains("--wait SECONDS"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        held,
        "the holder's lock is untouched"
    );
    drop(holder);
    // Left behind by a process that is gone, naming pid 1, which is alive (init): not held, so
    // not in the way.
    std::fs::write(
        &lock,
        r#"{"pid":1,"run_id":"killed-run","started_at":"2026-11-22T10:00:00Z"}"#,
    )
    .unwrap();
    let o = run(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("names an earlier run that is no longer running"),
        "{}",
        stderr(&o)
    );
    let after = std::fs::File::open(&lock).unwrap();
    after.try_lock().expect("released at the end");
    drop(after);
    // Two at once: the second waits for the first; both publish complete outputs.
    let spawn = || {
        ws.run_cmd(&out)
            // Forced: nothing changed, and each must really rebuild.
            .args(["--wait", "120", "--force"])
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success());
    let runs = std::fs::read_dir(out.join("_runs"))
        .unwrap()
        .filter(|e| is_manifest(&e.as_ref().unwrap().path()))
        .count();
    assert_eq!(runs, 3);
    assert!(read_parquet(&out.join("indicators.parquet")).height() > 0);
}

/// A run killed (SIGKILL) while publishing leaves the previous outputs as they were, readable
/// and complete; the next run takes over its lock, clears its staging folder and publishes.
#[test]
fn a_run_killed_while_publishing_leaves_the_previous_outputs() {
    let ws = Workspace::new();
    let out = ws.out();
    let first = ws.run();
    assert!(first.status.success(), "{}", stderr(&first));
    let before = snapshot(&out);

    let mut child = ws
        .run_cmd(&out)
        .arg("--force")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed as soon as its first table is staged.
    let staged = |out: &std::path::Path| {
        std::fs::read_dir(out.join(".versions")).is_ok_and(|mut d| {
            d.any(|e| {
                let e = e.unwrap();
                e.file_name().to_string_lossy().ends_with(".staging")
                    && std::fs::read_dir(e.path()).is_ok_and(|d| d.count() > 1)
            })
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(2);
    while !staged(&out) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let after = snapshot(&out);
    for (path, bytes) in &before {
        assert!(after.get(path) == Some(bytes), "{} changed", path.display());
        if path.extension().is_some_and(|e| e == "parquet") {
            assert!(read_parquet(&out.join(path)).height() > 0 || path.starts_with("quarantine"));
        }
    }

    let next = ws.run();
    assert!(next.status.success(), "{}", stderr(&next));
    assert!(
        stderr(&next).contains("names an earlier run that is no longer running"),
        "{}",
        stderr(&next)
    );
    assert!(!staged(&out), "the killed run's staging folder is gone");
    assert!(!std::fs::read_dir(&out).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".staging-")
    }));
}

fn json_lines(o: &std::process::Output) -> Vec<serde_json::Value> {
    stderr(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// `--log-format json`: every stderr line is one JSON object, and every run ends with a summary
/// line a scheduler can read (status, exit code, run id, manifest); `-q` keeps only problems.
#[test]
fn json_logs_end_with_a_summary_line() {
    let ws = Workspace::new();
    let run = |extra: &[&str]| ws.run_with(extra);
    let o = run(&["--log-format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert!(lines.len() > 10);
    for l in &lines {
        assert!(l["timestamp"].is_string() && l["level"].is_string() && l["message"].is_string());
    }
    let last = lines.last().unwrap();
    assert_eq!(last["status"], "success");
    assert_eq!(last["exit_code"], 0);
    assert_eq!(last["quarantined"], 108);
    assert!(last["seconds"].as_f64().unwrap() > 0.0);
    let manifest = std::path::PathBuf::from(last["manifest"].as_str().unwrap());
    assert!(manifest.ends_with(format!("_runs/{}.json", last["run_id"].as_str().unwrap())));
    assert!(manifest.exists());
    // A structured field keeps its type.
    assert!(lines.iter().any(|l| l["check"] == "kpa_present"));

    // The environment variable does the same; an up-to-date run says so in its last line.
    let o = ws
        .run_cmd(&ws.out())
        .env("MITTARI_LOG_FORMAT", "json")
        .output()
        .unwrap();
    let last = json_lines(&o).pop().unwrap();
    assert_eq!(last["status"], "up_to_date");
    assert_eq!(last["last_build"], lines.last().unwrap()["run_id"]);

    // A failure: the summary line, then the error itself, both JSON.
    let share = ws.path("sample-data/sotkanet/SYNTHETIC_171_share_75plus_2024.json");
    let bytes = std::fs::read(&share).unwrap();
    std::fs::write(&share, &bytes[..bytes.len() / 2]).unwrap();
    let o = run(&["--log-format", "json"]);
    assert_eq!(o.status.code(), Some(3));
    let lines = json_lines(&o);
    let (summary, error) = (&lines[lines.len() - 2], &lines[lines.len() - 1]);
    assert_eq!(summary["status"], "failed");
    assert_eq!(summary["exit_code"], 3);
    assert_eq!(summary["level"], "ERROR");
    assert_eq!(error["exit_code"], 3);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("SYNTHETIC_171_share_75plus_2024.json"),
        "{error}"
    );

    // Quiet: no INFO lines, but the failure is still there.
    let o = run(&["-q"]);
    let err = stderr(&o);
    assert!(!err.contains(" INFO "), "{err}");
    assert!(
        err.contains("Run failed") && err.contains("error: "),
        "{err}"
    );
}

/// The systemd unit in `deploy/` runs: its `ExecStart` arguments and `Environment=` lines, with
/// the sample pipeline in place of `%i`, give a successful run that logs JSON.
#[test]
fn the_systemd_unit_command_runs() {
    let unit = std::fs::read_to_string(repo().join("deploy/mittari@.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/mittari"));
    let ws = Workspace::new();
    let args: Vec<String> = words
        .map(|w| {
            if w.ends_with("%i.toml") {
                ws.pipeline().display().to_string()
            } else {
                w.to_owned()
            }
        })
        .collect();
    let mut cmd = mittari();
    for l in unit.lines().filter_map(|l| l.strip_prefix("Environment=")) {
        let (k, v) = l.split_once('=').unwrap();
        if k != "MITTARI_CACHE" {
            cmd.env(k, v);
        }
    }
    let o = cmd
        .args(&args)
        .arg("--out")
        .arg(ws.out())
        .arg("--cache")
        .arg(ws.path("cache"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json_lines(&o).pop().unwrap()["status"], "success");
    // The timer names the service it starts by the same instance.
    let timer = std::fs::read_to_string(repo().join("deploy/mittari@.timer")).unwrap();
    assert!(timer.contains("OnCalendar=") && timer.contains("Persistent=true"));
}

/// The binary is a position-independent executable (`file` says "pie executable"), so that
/// address-space layout randomisation covers mittari's own code: `build.rs` passes the linker
/// nothing, and no `-no-pie` or symbol-order trick comes back unnoticed.
#[cfg(target_os = "linux")]
#[test]
fn the_binary_is_position_independent() {
    let elf = std::fs::read(env!("CARGO_BIN_EXE_mittari")).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF");
    assert_eq!(elf[4], 2, "a 64-bit ELF file");
    // e_type: 2 is an executable at a fixed address, 3 a shared object: a PIE executable.
    assert_eq!(
        u16::from_le_bytes([elf[16], elf[17]]),
        3,
        "not position-independent"
    );
    // ... and an executable, not a library: it asks for a program interpreter (PT_INTERP).
    let at = |o: usize, n: usize| -> u64 {
        elf[o..o + n]
            .iter()
            .rev()
            .fold(0, |a, b| (a << 8) | u64::from(*b))
    };
    let (phoff, phentsize, phnum) = (at(32, 8), at(54, 2), at(56, 2));
    let interp = (0..phnum).any(|i| {
        let header = usize::try_from(phoff + i * phentsize).unwrap();
        at(header, 4) == 3
    });
    assert!(interp, "no PT_INTERP: not an executable");
}

/// What schedulers and editors use: `--version` with the build id, completion scripts and the
/// manual page generated from the same definitions as `--help`, whose text has examples, the
/// environment and the exit codes.
#[test]
fn version_completions_man_page_and_help() {
    let out = |args: &[&str]| {
        let o = mittari().args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stdout(&o)
    };
    let version = out(&["--version"]);
    let build = version
        .trim()
        .rsplit("(build ")
        .next()
        .unwrap()
        .trim_end_matches(')');
    assert!(version.starts_with("mittari "), "{version}");
    assert!(
        build.len() == 16 && build.chars().all(|c| c.is_ascii_hexdigit()),
        "{version}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let script = out(&["completions", shell]);
        for word in ["validate", "doctor", "offline"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    let man = out(&["man"]);
    assert!(
        man.contains(".TH mittari 1") && man.contains("validate"),
        "{man}"
    );
    let help = out(&["--help"]);
    for part in [
        "Examples:",
        "MITTARI_CACHE",
        "Exit codes:",
        "5 the output folder or prefix is in use",
    ] {
        assert!(help.contains(part), "no `{part}` in\n{help}");
    }
}

/// `--format json` for the commands schedulers and scripts read: `validate` (the plan as one
/// object), `runs` (an object per run) and `inspect` (schema, metadata and rows).
#[test]
fn json_for_validate_runs_and_inspect() {
    let ws = Workspace::new();
    let json = |args: &[&std::ffi::OsStr]| -> serde_json::Value {
        let o = mittari().args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stdout(&o)))
    };
    let plan = json(&[
        "validate".as_ref(),
        ws.pipeline().as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    assert_eq!(plan["pipeline"]["name"], "sample");
    assert_eq!(plan["written"], false);
    let sources = plan["sources"].as_array().unwrap();
    let s11 = sources.iter().find(|s| s["id"] == "statfin_11s5").unwrap();
    assert_eq!(s11["rows"], 308);
    assert!(
        plan["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "range")
    );
    assert!(!ws.out().exists(), "validate writes nothing");

    assert!(ws.run().status.success());
    let runs = json(&[
        "runs".as_ref(),
        "--out".as_ref(),
        ws.out().as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    let last = runs.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["status"], "success");
    assert_eq!(last["exit_code"], 0);
    assert!(last["rows"]["indicators"].as_u64().unwrap() > 0, "{last}");
    assert!(
        last["started_at"].as_str().unwrap().ends_with('Z'),
        "{last}"
    );

    let file = ws.out().join("indicators.parquet");
    let seen = json(&[
        "inspect".as_ref(),
        file.as_os_str(),
        "--rows".as_ref(),
        "2".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    assert_eq!(seen["metadata"]["mittari.table"], "indicators");
    assert_eq!(seen["first_rows"].as_array().unwrap().len(), 2);
    assert!(seen["first_rows"][0]["year"].is_number());
    assert!(
        seen["schema"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "basis")
    );
}
