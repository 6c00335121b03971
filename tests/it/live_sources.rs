#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! Live sources against a local server on 127.0.0.1 that replays recorded real responses
//! (Sotkanet, StatFin PxWeb v1, SCB PxWebApi 2) and injects faults. No test touches the network.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::server::{Reply, Server};
use common::*;

const SOTKANET: &str = "/rest/1.1";
const JSON_127: &str = "/rest/1.1/json?indicator=127&years=2019&years=2023&genders=total";
const JSON_171: &str = "/rest/1.1/json?indicator=171&years=2019&years=2023&genders=total";
const V1_TABLE: &str = "/PXWeb/api/v1/fi/StatFin/vaerak/11s5.px";
const V2_DATA: &str = "/api/v2/tables/TAB6471/data?outputFormat=json-stat2";

pub(crate) fn fixture(rel: &str) -> PathBuf {
    repo().join("tests/fixtures/http").join(rel)
}

pub(crate) fn sample(rel: &str) -> PathBuf {
    repo().join("sample-data").join(rel)
}

/// Registers every recorded response, each with an `ETag` so that reruns can be conditional.
pub(crate) fn replay(server: &Server) {
    let routes: [(&str, &str, PathBuf); 11] = [
        (
            "GET",
            "/rest/1.1/regions",
            sample("sotkanet/regions_2015.json"),
        ),
        (
            "GET",
            "/rest/1.1/indicators/127",
            fixture("sotkanet/indicators_127.json"),
        ),
        (
            "GET",
            "/rest/1.1/indicators/171",
            fixture("sotkanet/indicators_171.json"),
        ),
        (
            "GET",
            JSON_127,
            sample("sotkanet/127_population_2019_2023_five_cities.json"),
        ),
        (
            "GET",
            JSON_171,
            sample("sotkanet/171_share_75plus_2019_2023_five_cities.json"),
        ),
        (
            "GET",
            "/PXWeb/api/v1/fi/?config",
            fixture("statfin/config_SYNTHETIC.json"),
        ),
        (
            "GET",
            V1_TABLE,
            fixture("statfin/11s5_metadata_DERIVED.json"),
        ),
        (
            "POST",
            V1_TABLE,
            sample("statfin/11s5_population_by_municipality_2024M12.json"),
        ),
        ("GET", "/api/v2/config", fixture("scb/config.json")),
        (
            "GET",
            "/api/v2/tables/TAB6471/metadata?outputFormat=json-stat2",
            fixture("scb/TAB6471_metadata.json"),
        ),
        ("POST", V2_DATA, fixture("scb/TAB6471_data.json")),
    ];
    for (i, (method, target, file)) in routes.into_iter().enumerate() {
        server.route(
            method,
            target,
            vec![Reply::file(&file).etag(&format!("\"v{i}\""))],
        );
    }
}

/// HTTP settings that make fault tests quick.
const FAST_HTTP: &str = r#"
[http]
contact = "analyst@example.fi"
timeout_secs = 1.0
connect_timeout_secs = 1.0
max_retries = 2
backoff_base_ms = 20
max_backoff_secs = 0.1
requests_per_second = 1000.0
burst = 1000
"#;

/// The whole recorded set as one pipeline.
pub(crate) fn full_pipeline(dir: &Path, url: &str) -> PathBuf {
    let text = format!(
        r#"
[pipeline]
name = "live"
reference_year = 2025
years = [2019, 2023, 2024]

[regions]
focus = ["HVA12", "HVA13", "HVA18"]
{FAST_HTTP}
[apis.sotkanet]
kind = "sotkanet"
url = "{url}{SOTKANET}"

[apis.statfin]
kind = "pxweb-v1"
url = "{url}/PXWeb/api/v1/fi/StatFin"

[apis.scb]
kind = "pxweb-v2"
url = "{url}/api/v2"

[[sources]]
id = "sotkanet_regions"
format = "sotkanet-regions"
fetch = {{ api = "sotkanet" }}

[[sources]]
id = "sotkanet_127"
format = "sotkanet-json"
dataset = "sotkanet:127"
unit = "persons"
regions = "sotkanet_regions"
fetch = {{ api = "sotkanet", indicator = 127, years = [2019, 2023] }}

[[sources]]
id = "sotkanet_171"
format = "sotkanet-json"
dataset = "sotkanet:171"
unit = "%"
regions = "sotkanet_regions"
fetch = {{ api = "sotkanet", indicator = 171, years = [2019, 2023] }}

[[sources]]
id = "statfin_11s5"
format = "jsonstat"
dataset = "statfin:11s5"
dimensions = {{ region = "alue", time = "kuukausi", measure = "tiedot" }}
fetch = {{ api = "statfin", table = "vaerak/11s5.px", query = {{ alue = ["*"], kuukausi = ["2024M12"], tiedot = ["vaesto_kuukausi"] }} }}

[[sources]]
id = "scb_population"
format = "jsonstat"
dataset = "scb:TAB6471"
dimensions = {{ region = "Region", time = "Tid", measure = "ContentsCode", sex = "Kon", age = "Alder" }}
sex_codes = {{ TotSa = "total", "1" = "male", "2" = "female" }}
fetch = {{ api = "scb", table = "TAB6471", query = {{ Region = ["01", "03", "04", "05", "06", "07", "08", "09", "10", "12", "13", "14", "17", "18", "19", "20", "21", "22", "23", "24", "25"], Alder = ["0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90-99", "100+"], Kon = ["*"], ContentsCode = ["*"], Tid = ["2026M01", "2026M02", "2026M03", "2026M04"] }} }}

[[indicators]]
id = "share_75plus"
title_fi = "75 vuotta täyttäneiden osuus väestöstä, %"
title_sv = "Andelen personer som fyllt 75 år av befolkningen, %"
title_en = "Share of persons aged 75 or over in the population, %"
unit = "%"
aggregation = "ratio"
numerator = {{ dataset = "sotkanet:171", measure = "171", field = "abs_value" }}
denominator = {{ dataset = "sotkanet:127", measure = "127" }}
scale = 100
"#
    );
    let path = dir.join("live.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A pipeline of one Sotkanet indicator (metadata + one data request).
pub(crate) fn one_source_pipeline(dir: &Path, url: &str) -> PathBuf {
    let text = format!(
        r#"
[pipeline]
name = "one"
reference_year = 2025
years = [2019, 2023]

[regions]
focus = ["HVA12"]
{FAST_HTTP}
[apis.sotkanet]
kind = "sotkanet"
url = "{url}{SOTKANET}"

[[sources]]
id = "sotkanet_127"
format = "sotkanet-json"
dataset = "sotkanet:127"
fetch = {{ api = "sotkanet", indicator = 127 }}
"#
    );
    let path = dir.join("one.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub(crate) fn run(
    pipeline: &Path,
    out: &Path,
    cache: &Path,
    extra: &[&str],
) -> std::process::Output {
    mittari()
        .arg("run")
        .arg(pipeline)
        .arg("--out")
        .arg(out)
        .arg("--cache")
        .arg(cache)
        .args(extra)
        .output()
        .unwrap()
}

pub(crate) fn manifest(out: &Path) -> serde_json::Value {
    let runs = out.join("_runs");
    let entry = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| is_manifest(p))
        .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .unwrap();
    serde_json::from_slice(&std::fs::read(entry).unwrap()).unwrap()
}

fn origins(m: &serde_json::Value) -> Vec<String> {
    m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["payloads"].as_array().unwrap())
        .map(|p| p["origin"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn full_run_against_replayed_responses() {
    let server = Server::start();
    replay(&server);
    let dir = tempfile::TempDir::new().unwrap();
    let pipeline = full_pipeline(dir.path(), &server.url());
    let (out, cache) = (dir.path().join("out"), dir.path().join("cache"));
    let o = run(&pipeline, &out, &cache, &[]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Every recorded response was asked for once, with mittari's User-Agent and contact.
    let seen = server.seen();
    assert_eq!(seen.len(), 11, "{seen:#?}");
    for s in &seen {
        let ua = &s.headers["user-agent"];
        assert!(
            ua.starts_with("mittari/") && ua.contains("(+analyst@example.fi)"),
            "{ua}"
        );
        assert!(
            !s.headers.contains_key("if-none-match"),
            "first run is unconditional"
        );
    }
    let post = seen
        .iter()
        .find(|s| s.target == V1_TABLE && s.method == "POST")
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&post.body).unwrap();
    assert_eq!(body["response"]["format"], "json-stat2");
    assert_eq!(body["query"][0]["code"], "alue");
    assert_eq!(
        body["query"][0]["selection"]["values"]
            .as_array()
            .unwrap()
            .len(),
        308
    );

    // The data is there: Sotkanet via /regions, StatFin v1 and SCB v2 decoded.
    let obs = read_parquet(&out.join("observations.parquet"));
    assert_eq!(
        one_f64(
            &obs,
            &[("dataset", "sotkanet:127"), ("region", "KU091")],
            2023,
            "value"
        ),
        Some(674_500.0)
    );
    assert_eq!(
        one_f64(
            &obs,
            &[("dataset", "statfin:11s5"), ("region", "KU091")],
            2024,
            "value"
        ),
        Some(684_018.0)
    );
    let m = manifest(&out);
    assert!(
        origins(&m).iter().all(|o| o == "downloaded"),
        "{:?}",
        origins(&m)
    );
    let inputs = m["inputs"].as_array().unwrap();
    let scb = inputs
        .iter()
        .find(|i| i["source"] == "scb_population")
        .unwrap();
    let roles: Vec<&str> = scb["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["config", "metadata", "data"]);
    // Swedish region codes are not Finnish regions: every SCB row is quarantined, none lost.
    assert_eq!(scb["rows"], 0);
    assert_eq!(scb["quarantined"], 2772);
    let s127 = inputs
        .iter()
        .find(|i| i["source"] == "sotkanet_127")
        .unwrap();
    assert_eq!(s127["metadata"]["title"]["en"], "Population at year end");
    assert_eq!(m["http"]["sent"], 11);
    // Each payload is archived unchanged with its request.
    for p in inputs
        .iter()
        .flat_map(|i| i["payloads"].as_array().unwrap())
    {
        let sha = p["sha256"].as_str().unwrap();
        let bytes = std::fs::read(cache.join("raw").join(sha)).unwrap();
        assert_eq!(mittari::io::hash::sha256_hex(&bytes), sha);
    }
    let index = std::fs::read_to_string(cache.join("raw/index")).unwrap();
    assert!(
        index.contains(&format!("\"request\":\"POST {}{V2_DATA}\"", server.url())),
        "{index}"
    );
    assert!(index.contains("\"etag\":\"\\\"v10\\\"\""), "{index}");
}

#[test]
fn a_rerun_is_conditional_and_offline_replays_the_archive() {
    let server = Server::start();
    replay(&server);
    let dir = tempfile::TempDir::new().unwrap();
    let pipeline = full_pipeline(dir.path(), &server.url());
    let cache = dir.path().join("cache");
    let first = dir.path().join("first");
    assert!(run(&pipeline, &first, &cache, &[]).status.success());

    // Second run: every GET carries the archived ETag and is answered 304 from the archive.
    server.clear_seen();
    let second = dir.path().join("second");
    let o = run(&pipeline, &second, &cache, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let seen = server.seen();
    assert_eq!(seen.len(), 11);
    for s in &seen {
        assert!(
            s.headers.contains_key("if-none-match"),
            "{} {}",
            s.method,
            s.target
        );
    }
    let m = manifest(&second);
    assert!(
        origins(&m).iter().all(|o| o == "not-modified"),
        "{:?}",
        origins(&m)
    );
    assert_eq!(m["http"]["not_modified"], 11);

    // Offline: no request at all, and the same outputs.
    server.clear_seen();
    let offline = dir.path().join("offline");
    let o = run(&pipeline, &offline, &cache, &["--offline"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(server.seen().is_empty());
    assert!(origins(&manifest(&offline)).iter().all(|o| o == "archive"));
    // Byte for byte the same CSV as the run it replays (the latest: the 304 run, whose
    // `retrieved_at` is the revalidation time) ...
    for table in ["observations", "indicators", "regions"] {
        let a = std::fs::read(second.join(format!("csv/{table}.csv"))).unwrap();
        let b = std::fs::read(offline.join(format!("csv/{table}.csv"))).unwrap();
        assert!(
            a == b,
            "csv/{table}.csv differs between the last online and the offline run"
        );
    }
    // ... and the first run's values, statuses and provenance, apart from when they were fetched.
    let a = read_parquet(&first.join("observations.parquet"))
        .drop("retrieved_at")
        .unwrap();
    let b = read_parquet(&offline.join("observations.parquet"))
        .drop("retrieved_at")
        .unwrap();
    assert!(a.equals_missing(&b));
    assert!(a.height() > 300);
    let a = read_parquet(&first.join("quarantine/observations.parquet"))
        .drop("run_id")
        .unwrap();
    let b = read_parquet(&offline.join("quarantine/observations.parquet"))
        .drop("run_id")
        .unwrap();
    assert!(a.equals_missing(&b));

    // Again into the same folder: the same conditional requests, the same payloads, so the run
    // is up to date and rewrites nothing.
    server.clear_seen();
    let before = snapshot(&second);
    let o = run(&pipeline, &second, &cache, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("Up to date"), "{}", stderr(&o));
    assert_eq!(server.seen().len(), 11);
    let after = snapshot(&second);
    for (path, bytes) in &before {
        if !path.ends_with("_runs/history.parquet") {
            assert!(after.get(path) == Some(bytes), "{} changed", path.display());
        }
    }
    assert_eq!(before.len(), after.len());
}

/// An archived payload that lost its bytes (a disk error, a stray edit) is not trusted on a
/// 304: the request is sent again without validators, once, and the answer repairs the archive.
#[test]
fn a_corrupt_archived_payload_is_refetched_and_repaired() {
    let server = Server::start();
    replay(&server);
    let dir = tempfile::TempDir::new().unwrap();
    let pipeline = full_pipeline(dir.path(), &server.url());
    let cache = dir.path().join("cache");
    assert!(
        run(&pipeline, &dir.path().join("first"), &cache, &[])
            .status
            .success()
    );
    let m = manifest(&dir.path().join("first"));
    let sha = m["inputs"][0]["payloads"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let archived = cache.join("raw").join(&sha);
    std::fs::write(&archived, b"not what was archived").unwrap();

    server.clear_seen();
    let o = run(&pipeline, &dir.path().join("second"), &cache, &[]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("asking again without validators"), "{err}");
    let seen = server.seen();
    assert_eq!(seen.len(), 12, "eleven requests and the one sent again");
    assert_eq!(
        seen.iter()
            .filter(|s| !s.headers.contains_key("if-none-match"))
            .count(),
        1
    );
    let repaired = std::fs::read(&archived).unwrap();
    assert_eq!(mittari::io::hash::sha256_hex(&repaired), sha);
    // And the next run is an ordinary conditional one again.
    let o = run(&pipeline, &dir.path().join("third"), &cache, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn offline_names_a_request_the_archive_lacks() {
    let dir = tempfile::TempDir::new().unwrap();
    let pipeline = one_source_pipeline(dir.path(), "http://127.0.0.1:9");
    let out = dir.path().join("out");
    let o = run(&pipeline, &out, &dir.path().join("cache"), &["--offline"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("`GET http://127.0.0.1:9/rest/1.1/indicators/127`: not in the raw archive"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    // Nothing published; only the failed run's record in `_runs/`.
    assert!(!out.join("observations.parquet").exists());
    assert!(out.join("_runs/history.parquet").exists());
}

/// One faulty route for the data request; the metadata answers normally.
fn fault(replies: Vec<Reply>) -> (Server, tempfile::TempDir, PathBuf) {
    let server = Server::start();
    server.route(
        "GET",
        "/rest/1.1/indicators/127",
        vec![Reply::file(&fixture("sotkanet/indicators_127.json"))],
    );
    server.route("GET", JSON_127, replies);
    let dir = tempfile::TempDir::new().unwrap();
    let pipeline = one_source_pipeline(dir.path(), &server.url());
    (server, dir, pipeline)
}

fn data() -> Reply {
    Reply::file(&sample(
        "sotkanet/127_population_2019_2023_five_cities.json",
    ))
}

fn run_fault(dir: &tempfile::TempDir, pipeline: &Path) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let o = run(
        pipeline,
        &dir.path().join("out"),
        &dir.path().join("cache"),
        &[],
    );
    (o, started.elapsed())
}

#[test]
fn a_500_then_200_is_retried() {
    let (server, dir, pipeline) = fault(vec![Reply::status(500, "oops"), data()]);
    let (o, _) = run_fault(&dir, &pipeline);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(server.count("GET", JSON_127), 2);
    assert!(
        stderr(&o).contains("HTTP 500: oops; retrying"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_429_with_retry_after_waits_that_long() {
    let (server, dir, pipeline) = fault(vec![
        Reply::status(429, "slow down").header("Retry-After", "1"),
        data(),
    ]);
    let (o, took) = run_fault(&dir, &pipeline);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(server.count("GET", JSON_127), 2);
    // The backoff alone would be 10-20 ms.
    assert!(took >= Duration::from_secs(1), "{took:?}");
}

#[test]
fn a_429_with_retry_after_0_is_no_hint() {
    let (server, dir, pipeline) = fault(vec![
        Reply::status(429, "").header("Retry-After", "0"),
        data(),
    ]);
    let (o, took) = run_fault(&dir, &pipeline);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(server.count("GET", JSON_127), 2);
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn persistent_429s_end_after_the_retries() {
    let (server, dir, pipeline) = fault(vec![Reply::status(429, "limit")]);
    let (o, _) = run_fault(&dir, &pipeline);
    assert_eq!(o.status.code(), Some(3));
    // 1 + max_retries (2): no retry storm.
    assert_eq!(server.count("GET", JSON_127), 3);
    assert!(
        stderr(&o).contains("failed after 3 attempts: HTTP 429: limit"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_response_slower_than_the_timeout_fails_after_the_retries() {
    let (server, dir, pipeline) = fault(vec![data().delayed(Duration::from_millis(1500))]);
    let (o, _) = run_fault(&dir, &pipeline);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(server.count("GET", JSON_127), 3);
    let err = stderr(&o);
    assert!(
        err.contains(&format!("`GET {}{JSON_127}`", server.url())),
        "{err}"
    );
    assert!(err.contains("timed out"), "{err}");
}

#[test]
fn a_truncated_body_is_retried_and_never_data() {
    let (server, dir, pipeline) = fault(vec![data().truncated(40), data()]);
    let (o, _) = run_fault(&dir, &pipeline);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(server.count("GET", JSON_127), 2);
    assert!(stderr(&o).contains("cut off"), "{}", stderr(&o));

    let (server, dir, pipeline) = fault(vec![data().truncated(40)]);
    let (o, _) = run_fault(&dir, &pipeline);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(server.count("GET", JSON_127), 3);
    assert!(!dir.path().join("out/observations.parquet").exists());
}

#[test]
fn an_html_page_with_200_is_an_error_not_data() {
    let (server, dir, pipeline) = fault(vec![
        Reply::ok("<!DOCTYPE html><html><body><h1>Huoltokatko</h1></body></html>")
            .header("Content-Type", "text/html"),
    ]);
    let (o, _) = run_fault(&dir, &pipeline);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(server.count("GET", JSON_127), 1);
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "`GET {}{JSON_127}`: the response is not JSON (it starts `<!DOCTYPE html>",
            server.url()
        )),
        "{err}"
    );
    // Nothing of it was archived as data.
    let index = std::fs::read_to_string(dir.path().join("cache/raw/index")).unwrap();
    assert!(!index.contains("json?indicator"), "{index}");
}

#[test]
fn a_403_is_not_retried_and_names_url_and_message() {
    let (server, dir, pipeline) = fault(vec![Reply::status(403, "Forbidden: no User-Agent")]);
    let (o, _) = run_fault(&dir, &pipeline);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(server.count("GET", JSON_127), 1);
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "`GET {}{JSON_127}`: HTTP 403: Forbidden: no User-Agent",
            server.url()
        )),
        "{err}"
    );
    assert!(err.contains("http.contact"), "{err}");
}

/// The StatFin source alone, from the full pipeline.
fn statfin_pipeline(dir: &Path, url: &str) -> PathBuf {
    let text = std::fs::read_to_string(full_pipeline(dir, url)).unwrap();
    let cut = text.find("[[sources]]\nid = \"sotkanet_regions\"").unwrap();
    let keep = text.find("[[sources]]\nid = \"statfin_11s5\"").unwrap();
    let end = text.find("[[sources]]\nid = \"scb_population\"").unwrap();
    let pipeline = dir.join("statfin.toml");
    std::fs::write(&pipeline, format!("{}{}", &text[..cut], &text[keep..end])).unwrap();
    pipeline
}

/// A query over the API's cell limit is posted in batches under it, at the API's call rate, and
/// the batches together select exactly the query's values.
#[test]
fn a_query_over_the_cell_limit_is_split_and_paced() {
    let server = Server::start();
    replay(&server);
    server.route(
        "GET",
        "/PXWeb/api/v1/fi/?config",
        vec![Reply::ok(
            r#"{"maxValues":100,"maxCalls":2,"timeWindow":1}"#,
        )],
    );
    let dir = tempfile::TempDir::new().unwrap();
    let pipeline = statfin_pipeline(dir.path(), &server.url());
    let (o, _) = run_fault(&dir, &pipeline);
    assert!(o.status.success(), "{}", stderr(&o));
    let posts: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|s| s.method == "POST")
        .collect();
    // 308 municipalities x 1 month x 1 measure, at most 100 cells a batch.
    assert_eq!(posts.len(), 4);
    let mut all = Vec::new();
    for p in &posts {
        let body: serde_json::Value = serde_json::from_str(&p.body).unwrap();
        let alue = body["query"][0]["selection"]["values"].as_array().unwrap();
        assert!(alue.len() <= 100);
        all.extend(alue.iter().map(|v| v.as_str().unwrap().to_owned()));
    }
    assert_eq!(all.len(), 308);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 308, "a value in two batches");
    // Two calls per second, evenly spaced: the fourth POST comes at least 1.5 s after the first.
    let span = posts[3].at - posts[0].at;
    assert!(span >= Duration::from_millis(1400), "{span:?}");
}

#[test]
fn gzip_bodies_are_decompressed_and_archived_decompressed() {
    use std::io::Write;
    let raw = std::fs::read(sample("sotkanet/127_population_2019_2023_five_cities.json")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&raw).unwrap();
    let (server, dir, pipeline) = fault(vec![
        Reply::ok(enc.finish().unwrap()).header("Content-Encoding", "gzip"),
    ]);
    let (o, _) = run_fault(&dir, &pipeline);
    assert!(o.status.success(), "{}", stderr(&o));
    let seen = server.seen();
    assert_eq!(seen.last().unwrap().headers["accept-encoding"], "gzip");
    let sha = mittari::io::hash::sha256_hex(&raw);
    assert_eq!(
        std::fs::read(dir.path().join("cache/raw").join(sha)).unwrap(),
        raw
    );
}

#[test]
fn a_cell_limit_error_is_not_retried() {
    let server = Server::start();
    replay(&server);
    server.route(
        "POST",
        V1_TABLE,
        vec![Reply::status(
            403,
            r#"{"error":"Too many values selected"}"#,
        )],
    );
    let dir = tempfile::TempDir::new().unwrap();
    let pipeline = statfin_pipeline(dir.path(), &server.url());
    let (o, _) = run_fault(&dir, &pipeline);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(server.count("POST", V1_TABLE), 1);
    assert!(
        stderr(&o).contains("HTTP 403: {\"error\":\"Too many values selected\"}"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_failed_run_leaves_the_previous_outputs_intact() {
    let (server, dir, pipeline) = fault(vec![data()]);
    let (o, _) = run_fault(&dir, &pipeline);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = snapshot(&dir.path().join("out"));
    server.route("GET", JSON_127, vec![Reply::status(503, "maintenance")]);
    // A new ETag-less failure: the run ends with exit 3 and publishes nothing.
    let (o, _) = run_fault(&dir, &pipeline);
    assert_eq!(o.status.code(), Some(3));
    let after = snapshot(&dir.path().join("out"));
    for (path, bytes) in &before {
        if !path.ends_with("_runs/history.parquet") {
            assert!(after.get(path) == Some(bytes), "{} changed", path.display());
        }
    }
    assert!(
        after
            .keys()
            .filter(|p| !before.contains_key(*p))
            .all(|p| p.starts_with("_runs"))
    );
}

#[test]
fn real_pipelines_validate_without_network() {
    for name in ["etela-savo", "national"] {
        let o = mittari()
            .arg("validate")
            .arg(repo().join(format!("pipelines/{name}.toml")))
            .output()
            .unwrap();
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let out = stdout(&o);
        for line in [
            "GET https://sotkanet.fi/rest/1.1/regions",
            "GET https://sotkanet.fi/rest/1.1/indicators/3216",
            "GET https://sotkanet.fi/rest/1.1/json?indicator=127&years=2015&years=2016",
            "&years=2025&genders=total&genders=male&genders=female",
            "GET https://pxdata.stat.fi/PXWeb/api/v1/fi/?config",
            "POST https://pxdata.stat.fi/PXWeb/api/v1/fi/StatFin/vaerak/11re.px",
            "roles resolved against the table's metadata",
            "nothing written",
        ] {
            assert!(out.contains(line), "{name}: no `{line}` in\n{out}");
        }
    }
}

#[test]
fn fetch_config_errors_name_the_line() {
    let dir = tempfile::TempDir::new().unwrap();
    let good =
        std::fs::read_to_string(one_source_pipeline(dir.path(), "http://127.0.0.1:9")).unwrap();
    let cases = [
        (
            good.replace(
                "api = \"sotkanet\", indicator = 127",
                "api = \"thl\", indicator = 127",
            ),
            "no `[apis.thl]` in this pipeline (it has: sotkanet)",
        ),
        (
            good.replace("indicator = 127 }", "indicator = 127 }\npath = \"x.json\""),
            "needs exactly one of `path` (a file) and `fetch` (a web API)",
        ),
        (
            good.replace("indicator = 127 }", "table = \"x.px\" }"),
            "`table`, `query`, `time_variable` and `content_variable` are for PxWeb",
        ),
        (
            good.replace(
                "indicator = 127 }",
                "indicator = 127, genders = [\"all\"] }",
            ),
            "gender `all`: use total, male or female",
        ),
    ];
    for (text, message) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, &text).unwrap();
        let o = mittari().arg("validate").arg(&path).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(message), "{err}");
        assert!(
            err.contains(&format!("{}:", path.display())),
            "file:line:column: {err}"
        );
    }
}

#[test]
fn a_response_over_the_size_limit_is_refused() {
    // 1.5 MB of valid JSON against `max_response_mb = 1`.
    let big = format!("[{}0]", "0,".repeat(750_000));
    let (server, dir, pipeline) = fault(vec![Reply::ok(big)]);
    let text = std::fs::read_to_string(&pipeline)
        .unwrap()
        .replace("[http]\n", "[http]\nmax_response_mb = 1\n");
    std::fs::write(&pipeline, text).unwrap();
    let (o, _) = run_fault(&dir, &pipeline);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(server.count("GET", JSON_127), 1, "not retried");
    assert!(
        stderr(&o).contains("larger than the maximum of 1 MB (`http.max_response_mb`)"),
        "{}",
        stderr(&o)
    );
}

/// `doctor` on every kind of source: Sotkanet metadata, PxWeb v1 and v2 config and metadata,
/// and no data request.
#[test]
fn doctor_checks_every_source_without_asking_for_data() {
    let server = Server::start();
    replay(&server);
    let dir = tempfile::TempDir::new().unwrap();
    let pipeline = full_pipeline(dir.path(), &server.url());
    let o = mittari().arg("doctor").arg(&pipeline).output().unwrap();
    let out = stdout(&o);
    assert!(o.status.success(), "{}\n{out}", stderr(&o));
    for line in [
        "sotkanet_127 [sotkanet]: ok",
        "indicator: 127: ",
        "statfin_11s5 [pxweb-v1]: ok",
        "scb_population [pxweb-v2]: ok",
        "all 5 sources would be read",
    ] {
        assert!(out.contains(line), "no `{line}` in\n{out}");
    }
    let data = server
        .seen()
        .into_iter()
        .filter(|s| s.method == "POST" || s.target.contains("/json?"))
        .count();
    assert_eq!(data, 0, "no data request");
}
