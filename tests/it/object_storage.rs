#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! Object storage outputs (issue 30, point 1): the sample published to Azurite (Microsoft's Azure
//! Storage emulator, from the npm registry) and to an S3-compatible server (moto's, from `PyPI`),
//! each started on 127.0.0.1 by the test and read back with the stores' own Python clients
//! (`tests/python/store.py`: azure-storage-blob, boto3, pyarrow).
//!
//! `.ci/run` installs them and sets `MITTARI_AZURITE` (the `azurite-blob` program),
//! `MITTARI_MOTO_SERVER` (`moto_server`) and `MITTARI_BENCH_PYTHON`; without them a test fails in
//! CI and says that it skipped elsewhere.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

use common::*;

/// A store server on 127.0.0.1, stopped on drop.
struct Store {
    kind: &'static str,
    scheme: &'static str,
    endpoint: String,
    python: String,
    env: Vec<(&'static str, String)>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tool(var: &str, fallback: Option<PathBuf>) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .or(fallback)
        .filter(|p| p.is_file())
}

#[allow(clippy::print_stderr)] // says why it did not run outside CI
fn skip(what: &str) -> Option<Store> {
    assert!(
        std::env::var("CI").is_err(),
        "CI must have {what} (see .ci/run)"
    );
    eprintln!("skipped: no {what}");
    None
}

impl Store {
    fn start(kind: &'static str) -> Option<Store> {
        let dir = tempfile::TempDir::new().unwrap();
        let port = free_port();
        let endpoint = format!("http://127.0.0.1:{port}");
        let py = python_with("boto3, azure.storage.blob, pyarrow")?;
        let (program, args, scheme, env) = if kind == "azure" {
            let Some(azurite) = tool("MITTARI_AZURITE", None) else {
                return skip("Azurite (set MITTARI_AZURITE to azurite-blob)");
            };
            let args: Vec<String> = vec![
                "--blobHost".into(),
                "127.0.0.1".into(),
                "--blobPort".into(),
                port.to_string(),
                "--location".into(),
                dir.path().display().to_string(),
                "--silent".into(),
                "--skipApiVersionCheck".into(),
                "--disableTelemetry".into(),
            ];
            let env = vec![
                ("AZURE_STORAGE_USE_EMULATOR", "true".to_owned()),
                ("AZURITE_BLOB_STORAGE_URL", endpoint.clone()),
            ];
            (azurite, args, "az", env)
        } else {
            let beside = Path::new(&py).parent().map(|b| b.join("moto_server"));
            let Some(moto) = tool("MITTARI_MOTO_SERVER", beside) else {
                return skip("moto's S3 server (set MITTARI_MOTO_SERVER to moto_server)");
            };
            let args = vec![
                "-H".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
            ];
            let env = vec![
                ("AWS_ENDPOINT", endpoint.clone()),
                ("AWS_ALLOW_HTTP", "true".to_owned()),
                ("AWS_ACCESS_KEY_ID", "mittari".to_owned()),
                ("AWS_SECRET_ACCESS_KEY", "mittari".to_owned()),
                ("AWS_REGION", "us-east-1".to_owned()),
            ];
            (moto, args, "s3", env)
        };
        let child = Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let store = Store {
            kind,
            scheme,
            endpoint,
            python: py,
            env,
            child,
            _dir: dir,
        };
        // Listening is not yet serving (moto's server imports its services first): the bucket is
        // created once the server answers, within a minute on a loaded machine.
        let started = Instant::now();
        loop {
            let up = TcpStream::connect(("127.0.0.1", port)).is_ok();
            let o = up.then(|| store.try_py(&["create", "mittari"]));
            match o {
                Some(o) if o.status.success() => break,
                o => assert!(
                    started.elapsed() < Duration::from_mins(1),
                    "{kind} server did not start: {}",
                    o.map(|o| stderr(&o)).unwrap_or_default()
                ),
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Some(store)
    }

    fn try_py(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.python)
            .arg(repo().join("tests/python/store.py"))
            .args([self.kind, &self.endpoint])
            .args(args)
            .output()
            .unwrap()
    }

    fn py(&self, args: &[&str]) -> Vec<u8> {
        let o = self.try_py(args);
        assert!(o.status.success(), "store.py {args:?}: {}", stderr(&o));
        o.stdout
    }

    fn keys(&self, prefix: &str) -> Vec<String> {
        serde_json::from_slice(&self.py(&["list", "mittari", prefix])).unwrap()
    }

    fn json(&self, key: &str) -> serde_json::Value {
        serde_json::from_slice(&self.py(&["get", "mittari", key])).unwrap()
    }

    fn current(&self) -> String {
        self.json("county/current.json")["run_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The run ids that have a set under `runs/`.
    fn sets(&self) -> Vec<String> {
        let mut sets: Vec<String> = self
            .keys("county/runs/")
            .iter()
            .filter_map(|k| k.strip_prefix("county/runs/")?.split('/').next())
            .map(str::to_owned)
            .collect();
        sets.dedup();
        sets
    }
}

fn count(text: &str, field: &str) -> usize {
    let re = regex::Regex::new(&format!(r"{field}=(\d+)")).unwrap();
    re.captures(text)
        .unwrap_or_else(|| panic!("no {field}= in {text}"))[1]
        .parse()
        .unwrap()
}

/// Publishes the sample to `store` run after run: the set, the pointer, copies of unchanged
/// outputs, the previous set kept and older ones removed, a failure before the pointer, and the
/// lock.
fn scenario(store: &Store) {
    let ws = Workspace::new();
    let url = format!("{}://mittari/county", store.scheme);
    let lineage = ws.path("lineage.jsonl");
    let run = |extra: &[&str], fault: Option<&str>| {
        let mut cmd = ws.run_cmd(Path::new(&url));
        cmd.args(extra).env("MITTARI_LINEAGE", &lineage);
        for (k, v) in &store.env {
            cmd.env(k, v);
        }
        if let Some(f) = fault {
            cmd.env("MITTARI_FAULT", f);
        }
        cmd.output().unwrap()
    };
    let touch = |n: usize| {
        let p = ws.pipeline();
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, format!("{text}\n# edit {n}\n")).unwrap();
    };

    // The first run: every output under the run's prefix, the manifest, then the pointer.
    let o = run(&[], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let run1 = store.current();
    let manifest = store.json(&format!("county/runs/{run1}/manifest.json"));
    assert_eq!(manifest["run_id"], run1.as_str());
    let keys = store.keys("county/");
    let outputs = manifest["outputs"].as_array().unwrap();
    assert!(outputs.len() > 20, "{}", outputs.len());
    for out in outputs {
        let key = format!("county/runs/{run1}/{}", out["path"].as_str().unwrap());
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert!(keys.contains(&format!("county/_runs/{run1}.json")));
    assert!(
        !keys.contains(&"county/_lock.json".to_owned()),
        "the lock stays"
    );
    assert_eq!(count(&stderr(&o), "uploaded"), outputs.len());
    // A reader of the store reads the table the manifest lists.
    let indicators = outputs
        .iter()
        .find(|o| o["path"] == "indicators.parquet")
        .unwrap();
    let rows = store.py(&[
        "rows",
        "mittari",
        &format!("county/runs/{run1}/indicators.parquet"),
    ]);
    assert_eq!(
        String::from_utf8(rows).unwrap().trim(),
        indicators["rows"].to_string()
    );
    // Its lineage names the objects: the store's bucket as the namespace, the key as the name.
    let complete: serde_json::Value = std::fs::read_to_string(&lineage)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["eventType"] == "COMPLETE")
        .unwrap();
    let dataset = serde_json::json!({
        "namespace": format!("{}://mittari", store.scheme),
        "name": format!("county/runs/{run1}/indicators.parquet"),
    });
    assert!(
        complete["outputs"].as_array().unwrap().contains(&dataset),
        "{complete}"
    );
    // The run worked in its local mirror, beside the archive, where `runs` finds its history.
    let mirror = ws.path(&format!("cache/outputs/{}/mittari/county", store.scheme));
    assert!(mirror.join("current/manifest.json").is_file());
    let o = mittari()
        .args(["runs", "--out", &url])
        .env("MITTARI_CACHE", ws.path("cache"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&run1), "{}", stdout(&o));

    // Nothing changed: up to date, nothing written to the store.
    let o = run(&[], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("Up to date"), "{}", stderr(&o));
    assert_eq!(store.current(), run1);

    // The pipeline changed but most outputs did not: those are copied inside the store, the
    // report pages (which name their run) uploaded; the previous set stays for its readers.
    touch(1);
    let o = run(&[], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let run2 = store.current();
    assert_ne!(run2, run1);
    let copied = count(&stderr(&o), "copied");
    assert!(copied >= 10, "{}", stderr(&o));
    assert!(count(&stderr(&o), "uploaded") >= 1);
    let before = store.py(&[
        "get",
        "mittari",
        &format!("county/runs/{run1}/observations.parquet"),
    ]);
    let after = store.py(&[
        "get",
        "mittari",
        &format!("county/runs/{run2}/observations.parquet"),
    ]);
    assert_eq!(before, after, "an unchanged table is the same object");
    assert_eq!(store.sets(), sorted(&[&run1, &run2]));

    // The next run removes the set before the previous. An unchanged output missing from the
    // previous set (removed by hand) is uploaded instead of copied.
    let removed = format!("county/runs/{run2}/regions.parquet");
    store.py(&["delete", "mittari", &removed]);
    touch(2);
    let o = run(&[], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let run3 = store.current();
    assert_eq!(store.sets(), sorted(&[&run2, &run3]));
    assert!(
        store
            .keys("county/")
            .contains(&format!("county/runs/{run3}/regions.parquet"))
    );

    // A failure before the pointer moves: readers still see run 3, nothing of the failed run
    // stays in the store, the run fails (exit 4).
    touch(3);
    for fault in ["remote-manifest", "remote-pointer"] {
        let o = run(&[], Some(fault));
        assert_eq!(o.status.code(), Some(4), "{fault}: {}", stderr(&o));
        assert_eq!(store.current(), run3, "{fault}");
        assert_eq!(store.sets(), sorted(&[&run2, &run3]), "{fault}");
    }
    // ... and the next run publishes what the failed one could not.
    let o = run(&[], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let run4 = store.current();
    assert_ne!(run4, run3);
    assert!(!stderr(&o).contains("Up to date"));

    // Another machine's run holds the prefix: exit 5, nothing published.
    let lock = serde_json::json!({
        "run_id": "20261206T000000Z-other", "host": "elsewhere", "pid": 1,
        "started_at": "2026-12-06T00:00:00Z", "expires_at": "2999-01-01T00:00:00Z",
    });
    store.py(&["put", "mittari", "county/_lock.json", &lock.to_string()]);
    touch(4);
    let o = run(&["--wait", "1"], None);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("20261206T000000Z-other"),
        "{}",
        stderr(&o)
    );
    assert_eq!(store.current(), run4);
    // A lock whose holder died (expired) is taken over.
    let mut expired = lock.clone();
    expired["expires_at"] = "2026-01-01T00:00:00Z".into();
    store.py(&["put", "mittari", "county/_lock.json", &expired.to_string()]);
    let o = run(&[], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(store.current(), run4);
    assert!(
        !store
            .keys("county/")
            .contains(&"county/_lock.json".to_owned())
    );
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
    v.sort();
    v
}

#[test]
fn publishes_to_azurite() {
    if let Some(store) = Store::start("azure") {
        scenario(&store);
    }
}

#[test]
fn publishes_to_an_s3_compatible_server() {
    if let Some(store) = Store::start("s3") {
        scenario(&store);
    }
}

/// A URL the run cannot use stops it before anything is done, with exit 2 and what to fix: no
/// bucket, or an Azure container without an account to find it in.
#[test]
fn an_unusable_store_url_is_a_usage_error() {
    let ws = Workspace::new();
    for (url, says) in [
        ("s3://", "names no container or bucket"),
        ("az://container/prefix", "docs/data-platform.md"),
    ] {
        let o = ws
            .run_cmd(Path::new(url))
            .env_remove("AZURE_STORAGE_ACCOUNT_NAME")
            .env_remove("AZURE_STORAGE_USE_EMULATOR")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{url}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{url}: {}", stderr(&o));
        assert!(
            !ws.path("cache/outputs").exists(),
            "{url}: a mirror was made"
        );
    }
}
