//! The national benchmark at a tiny scale (seconds), so that it never rots: the generator and the
//! generated pipeline always; the benchmark driver with both peers and their check against
//! mittari's values as a test of its own, ignored (with the reason shown in every test run)
//! unless asked for, because it needs a Python with duckdb, pandas and pyarrow. `.ci/run`
//! installs them and runs it with `--ignored`; it fails there, never skips, when they are
//! missing.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

/// The Python of the benchmark's virtualenv: `MITTARI_BENCH_PYTHON`, else the default venv, if it
/// has the peers' packages.
fn bench_python() -> Option<PathBuf> {
    let candidate = std::env::var_os("MITTARI_BENCH_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/mittari-bench-venv/bin/python"))
        })?;
    let ok = Command::new(&candidate)
        .args(["-c", "import duckdb, pandas, pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(candidate)
}

#[test]
fn generated_national_data_runs_through_the_pipeline() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let o = mittari()
        .args(["generate", "--scale", "0.05", "--years", "2"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // 4 indicators (one of each kind) x (308 municipalities + 23 counties + the country) x 2 years
    // x 3 genders; 308 x 3 x 102 x 2 population cells.
    assert!(
        stdout(&o).contains("wrote 4 Sotkanet indicators (7968 rows), 188496 JSON-stat cells"),
        "{}",
        stdout(&o)
    );
    let out = dir.path().join("out");
    let o = mittari()
        .arg("run")
        .arg(data.join("pipeline.toml"))
        .arg("--out")
        .arg(&out)
        .arg("--cache")
        .arg(dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let ind = read_parquet(&out.join("indicators.parquet"));
    // 5 indicators (population too) x 332 regions x 2 years.
    assert_eq!(ind.height(), 5 * 332 * 2);
    assert_eq!(
        read_parquet(&out.join("observations.parquet")).height(),
        7968 + 188_496
    );
}

#[test]
#[ignore = "needs a Python with duckdb, pandas and pyarrow (MITTARI_BENCH_PYTHON); .ci/run installs them and runs it"]
fn the_benchmark_driver_with_its_peers() {
    let python = bench_python().expect(
        "no Python with duckdb, pandas and pyarrow: set MITTARI_BENCH_PYTHON (benches/run.sh makes one)",
    );
    let dir = tempfile::TempDir::new().unwrap();
    // The whole driver: generate, three implementations, the equality check, the table, JSON.
    let bench = dir.path().join("bench");
    let results = dir.path().join("results.json");
    let o = Command::new(&python)
        .arg(repo().join("benches/national_bench.py"))
        .arg(env!("CARGO_BIN_EXE_mittari"))
        .arg(&bench)
        .arg(&results)
        .args(["1", "0.05"])
        .env("BENCH_YEARS", "2")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("duckdb: 3320 indicator rows equal to mittari's"),
        "{err}"
    );
    assert!(
        err.contains("pandas: 3320 indicator rows equal to mittari's"),
        "{err}"
    );
    let table: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&results).unwrap()).unwrap();
    let row = &table[0];
    assert_eq!(row["observation_rows"], 7968 + 188_496);
    for name in ["mittari", "duckdb", "pandas"] {
        assert!(row[name]["wall_s"].as_f64().unwrap() > 0.0, "{row}");
        assert!(row[name]["peak_rss_mb"].as_f64().unwrap() > 1.0, "{row}");
    }
    assert!(row["noop_rerun_s"].as_f64().unwrap() > 0.0);
    // Stage times of the last timed run, from its manifest.
    for stage in ["extract", "normalize+conform", "derive", "stage"] {
        assert!(
            row["mittari_stage_s"][stage].as_f64().unwrap() >= 0.0,
            "{row}"
        );
    }
    assert!(stdout(&o).contains("mittari stages"), "{}", stdout(&o));
    assert!(stdout(&o).contains("m/duck"), "{}", stdout(&o));
}
