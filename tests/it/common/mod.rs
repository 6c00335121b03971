//! Helpers shared by the integration tests: a private copy of the sample workspace, the binary,
//! and readers for what it writes.
#![allow(dead_code)] // Each test module uses a different subset.

pub mod decoded;
pub mod oracle;
pub mod server;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use std::process::Command;
use tempfile::TempDir;

/// The repository root: `CARGO_MANIFEST_DIR` as cargo sets it when it runs the test (a test
/// binary reused from a shared target folder may have been compiled in another checkout).
pub fn repo() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// A temporary copy of `pipelines/` and `sample-data/`, so tests can break inputs freely.
pub struct Workspace {
    pub dir: TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = TempDir::new().unwrap();
        for sub in ["pipelines", "sample-data"] {
            copy_dir(&repo().join(sub), &dir.path().join(sub));
        }
        Workspace { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn pipeline(&self) -> PathBuf {
        self.path("pipelines/sample.toml")
    }

    pub fn out(&self) -> PathBuf {
        self.path("out")
    }

    /// `mittari run pipelines/sample.toml --out <ws>/out --cache <ws>/cache`.
    pub fn run(&self) -> std::process::Output {
        self.run_pipeline(&self.pipeline())
    }

    pub fn run_pipeline(&self, pipeline: &Path) -> std::process::Output {
        mittari()
            .arg("run")
            .arg(pipeline)
            .arg("--out")
            .arg(self.out())
            .arg("--cache")
            .arg(self.path("cache"))
            .output()
            .unwrap()
    }

    /// `mittari run pipelines/sample.toml --out <out> --cache <ws>/cache`, to add to and run.
    pub fn run_cmd(&self, out: &Path) -> Command {
        let mut cmd = mittari();
        cmd.arg("run")
            .arg(self.pipeline())
            .arg("--out")
            .arg(out)
            .arg("--cache")
            .arg(self.path("cache"));
        cmd
    }

    /// The sample into the workspace's `out/` with extra arguments.
    pub fn run_with(&self, extra: &[&str]) -> std::process::Output {
        self.run_cmd(&self.out()).args(extra).output().unwrap()
    }

    /// Replaces text in a workspace file.
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let p = self.path(rel);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{rel} does not contain {from:?}");
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The Python of the tests that read outputs with Python packages (`MITTARI_BENCH_PYTHON`, which
/// `.ci/run` sets, else `python3`), if it can import `modules` (e.g. `"duckdb, polars"`). Without
/// them a test fails in CI (which must have them) and, elsewhere, says it skipped.
#[allow(clippy::print_stderr)] // says why a test did not run outside CI
pub fn python_with(modules: &str) -> Option<String> {
    let python = std::env::var("MITTARI_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var("CI").is_err(),
        "CI must have Python with {modules} (see .ci/run)"
    );
    eprintln!("skipped: no Python with {modules} (set MITTARI_BENCH_PYTHON)");
    None
}

/// The binary under test (cargo builds it for integration tests), with a clean environment for
/// the variables it reads.
pub fn mittari() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mittari"));
    cmd.env_remove("MITTARI_OUT")
        .env_remove("MITTARI_CACHE")
        .env_remove("MITTARI_LOG")
        .env_remove("MITTARI_CONTACT")
        .env_remove("MITTARI_SURVEY_SALT");
    cmd
}

/// A Parquet table, with dictionary-encoded text (which `convert` writes) read back as plain
/// text, so tests compare values whatever the encoding.
pub fn read_parquet(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let df = ParquetReader::new(file).finish().unwrap();
    let columns = df
        .columns()
        .iter()
        .map(|c| match c.dtype() {
            DataType::Categorical(..) | DataType::Enum(..) => c.cast(&DataType::String).unwrap(),
            _ => c.clone(),
        })
        .collect();
    DataFrame::new(df.height(), columns).unwrap()
}

/// Every file below `dir` as a reader of the output folder sees it (relative path -> bytes):
/// through the top-level links into `current`, without `.versions/` and `current/` themselves.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if dir == root && (name == ".versions" || name == "current") {
                continue;
            }
            // Through a link (a top-level name of the output folder).
            let is_dir = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
            if is_dir {
                walk(root, &entry.path(), out);
            } else if name != ".mittari.lock" {
                // The folder's lock file is the runs' coordination, not an output.
                let rel = entry.path().strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(entry.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Every run manifest in `<out>/_runs/`, oldest first: by `started_at` (run ids sort by the
/// second only; two runs in one second differ in a random suffix).
pub fn manifests(out: &Path) -> Vec<serde_json::Value> {
    let mut all: Vec<serde_json::Value> = std::fs::read_dir(out.join("_runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| is_manifest(p))
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect();
    all.sort_by_key(|m| {
        (
            m["started_at"].as_str().unwrap_or_default().to_owned(),
            m["run_id"].as_str().unwrap_or_default().to_owned(),
        )
    });
    all
}

/// Whether a file in `_runs/` is a run manifest (`<run_id>.json`; not `state.json`).
pub fn is_manifest(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "json") && p.file_stem().is_some_and(|s| s != "state")
}

pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The text columns of the single row where `column == value`.
pub fn row_where(df: &DataFrame, column: &str, value: &str) -> BTreeMap<String, String> {
    let rows = df
        .clone()
        .lazy()
        .filter(col(column).eq(lit(value)))
        .collect()
        .unwrap();
    assert_eq!(
        rows.height(),
        1,
        "expected one row with {column} = {value:?}, got {rows}"
    );
    rows.columns()
        .iter()
        .filter_map(|c| Some((c.name().to_string(), c.str().ok()?.get(0)?.to_owned())))
        .collect()
}

/// The value of `column` in the single row matching string equalities.
pub fn one_f64(df: &DataFrame, filters: &[(&str, &str)], year: i16, column: &str) -> Option<f64> {
    let mut pred = col("year").eq(lit(year));
    for (c, v) in filters {
        pred = pred.and(col(*c).eq(lit(*v)));
    }
    let rows = df.clone().lazy().filter(pred).collect().unwrap();
    assert_eq!(
        rows.height(),
        1,
        "expected one row for {filters:?} {year}, got {rows}"
    );
    rows.column(column).unwrap().f64().unwrap().get(0)
}

pub fn one_str(
    df: &DataFrame,
    filters: &[(&str, &str)],
    year: i16,
    column: &str,
) -> Option<String> {
    let mut pred = col("year").eq(lit(year));
    for (c, v) in filters {
        pred = pred.and(col(*c).eq(lit(*v)));
    }
    let rows = df.clone().lazy().filter(pred).collect().unwrap();
    assert_eq!(
        rows.height(),
        1,
        "expected one row for {filters:?} {year}, got {rows}"
    );
    rows.column(column)
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .map(str::to_owned)
}
