//! Open Lineage run events of a run (`[lineage]` in the pipeline, or `MITTARI_LINEAGE`): a `START`
//! event when the run begins, then `COMPLETE` or `FAIL`, each with the run's inputs (the
//! pipeline's files and the APIs it fetches from) and, at the end, its outputs (every file the
//! manifest lists) as datasets. Events go to a file (one JSON object per line, appended) or are
//! posted to an HTTP endpoint (e.g. Marquez's `/api/v1/lineage`).
//!
//! The run id of the events is a UUID made from mittari's run id (Open Lineage asks for a UUID),
//! which stands beside it in the run's `mittari` facet. A lineage target that cannot be reached
//! is a warning: the run itself does not fail for it.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tracing::warn;

use super::prepare::Prepared;
use crate::env_vars::MITTARI_LINEAGE;

/// Where events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Appended to a file, a line each.
    File(PathBuf),
    /// Posted to an HTTP endpoint.
    Http(String),
}

/// The run's lineage target: `MITTARI_LINEAGE` (a file path or an `http(s)://` URL), else the
/// pipeline's `[lineage]` (`file`, relative to the pipeline file, or `url`); none without either.
pub(crate) fn target(p: &Prepared) -> Option<Target> {
    if let Some(v) = std::env::var(MITTARI_LINEAGE)
        .ok()
        .filter(|v| !v.is_empty())
    {
        return Some(if v.starts_with("http://") || v.starts_with("https://") {
            Target::Http(v)
        } else {
            Target::File(PathBuf::from(v))
        });
    }
    let cfg = p.pipeline.file.lineage.as_ref()?;
    match (&cfg.url, &cfg.file) {
        (Some(url), _) => Some(Target::Http(url.clone())),
        (None, Some(file)) => Some(Target::File(p.pipeline.resolve(file))),
        (None, None) => None,
    }
}

/// A UUID (version 8: custom) made from mittari's run id.
fn uuid(run_id: &str) -> String {
    let h = crate::io::hash::sha256_hex(run_id.as_bytes());
    let mut hex: Vec<char> = h.chars().take(32).collect();
    hex[12] = '8';
    // The variant bits `10`: 8, 9, a or b.
    let variant = hex[16].to_digit(16).unwrap_or(0) & 0x3 | 0x8;
    hex[16] = std::char::from_digit(variant, 16).unwrap_or('8');
    let s: String = hex.into_iter().collect();
    format!(
        "{}-{}-{}-{}-{}",
        &s[0..8],
        &s[8..12],
        &s[12..16],
        &s[16..20],
        &s[20..32]
    )
}

/// A dataset of a file: namespace `file`, its absolute path as the name.
fn file_dataset(path: &Path) -> Value {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    json!({ "namespace": "file", "name": absolute.display().to_string() })
}

/// The run's inputs: each source's file, or its API (`scheme://host` as the namespace, the path
/// as the name).
fn inputs(p: &Prepared) -> Vec<Value> {
    let f = &p.pipeline.file;
    f.sources
        .iter()
        .map(|s| match (&s.path, s.fetch.as_ref().and_then(|x| f.apis.get(&x.api))) {
            (Some(path), _) => file_dataset(&p.pipeline.resolve(path)),
            (None, Some(api)) => {
                let (scheme, rest) = api.url.split_once("://").unwrap_or(("https", &api.url));
                let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
                json!({ "namespace": format!("{scheme}://{host}"), "name": format!("/{path}#{}", s.id) })
            }
            (None, None) => json!({ "namespace": "mittari", "name": s.id }),
        })
        .collect()
}

/// One event.
fn event(
    kind: &str,
    p: &Prepared,
    run_id: &str,
    at: DateTime<Utc>,
    outputs: &[Value],
    error: Option<&str>,
) -> Value {
    let mut run = json!({
        "runId": uuid(run_id),
        "facets": {
            "mittari": {
                "_producer": "https://github.com/mittari/mittari",
                "_schemaURL": "https://github.com/mittari/mittari/docs/operations.md#lineage",
                "run_id": run_id,
                "version": env!("CARGO_PKG_VERSION"),
                "build": env!("MITTARI_BUILD_ID"),
            }
        }
    });
    if let Some(message) = error {
        run["facets"]["errorMessage"] = json!({
            "_producer": "https://github.com/mittari/mittari",
            "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json",
            "message": message,
            "programmingLanguage": "Rust",
        });
    }
    json!({
        "eventType": kind,
        "eventTime": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "run": run,
        "job": { "namespace": "mittari", "name": p.pipeline.file.pipeline.name },
        "inputs": inputs(p),
        "outputs": outputs,
        "producer": "https://github.com/mittari/mittari",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    })
}

/// Sends an event; a failure is a warning.
fn send(target: &Target, event: &Value) {
    let result = match target {
        Target::File(path) => append(path, event),
        Target::Http(url) => post(url, event),
    };
    if let Err(message) = result {
        warn!(target = ?target, "Could not emit the OpenLineage event: {message}");
    }
}

fn append(path: &Path, event: &Value) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs_err::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let mut f = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| e.to_string())?;
    let line = format!("{event}\n");
    f.write_all(line.as_bytes()).map_err(|e| e.to_string())
}

fn post(url: &str, event: &Value) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .user_agent(concat!("mittari/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        let response = client
            .post(url)
            .header("Content-Type", "application/json")
            .body(event.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("{url} answered {}", response.status()))
        }
    })
}

/// The `START` event.
pub(crate) fn start(target: &Target, p: &Prepared, run_id: &str, at: DateTime<Utc>) {
    send(target, &event("START", p, run_id, at, &[], None));
}

/// The datasets of the files a run published at `outputs` (relative paths): files inside `out`,
/// or objects in the store (`scheme://bucket` as the namespace, the object's key as the name,
/// `OpenLineage`'s naming for object storage).
pub(crate) fn output_datasets(
    out: &Path,
    remote: Option<&crate::stages::publish::remote::Location>,
    run_id: &str,
    outputs: &[String],
) -> Vec<Value> {
    outputs
        .iter()
        .map(|o| match remote {
            Some(r) => {
                let (namespace, name) = r.dataset(&format!("runs/{run_id}/{o}"));
                json!({ "namespace": namespace, "name": name })
            }
            None => file_dataset(&out.join(o)),
        })
        .collect()
}

/// The `COMPLETE` event, with every file the run published.
pub(crate) fn complete(target: &Target, p: &Prepared, run_id: &str, outputs: &[Value]) {
    send(
        target,
        &event("COMPLETE", p, run_id, Utc::now(), outputs, None),
    );
}

/// The `FAIL` event, with the error.
pub(crate) fn fail(target: &Target, p: &Prepared, run_id: &str, error: &str) {
    send(
        target,
        &event("FAIL", p, run_id, Utc::now(), &[], Some(error)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_become_uuids() {
        let u = uuid("20261206T090428Z-e62898");
        assert_eq!(u.len(), 36);
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('8'));
        assert!(matches!(
            parts[3].chars().next(),
            Some('8' | '9' | 'a' | 'b')
        ));
        assert_eq!(u, uuid("20261206T090428Z-e62898"));
        assert_ne!(u, uuid("20261206T090428Z-e62899"));
    }
}
