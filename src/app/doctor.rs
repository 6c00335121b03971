//! `mittari doctor PIPELINE`: whether a pipeline would run today, source by source.
//!
//! For every live source it sends only the cheap requests: a Sotkanet indicator's metadata, a
//! PxWeb API's config and table metadata (never the data, and nothing into the raw archive: the
//! client archives into a temporary folder that goes when the command ends). For a local file it
//! checks that the file is there. Per source it says whether the API answered, whether the table
//! or indicator exists, what a PxWeb selection's roles resolve to, the latest year available
//! against the pipeline's years, the update date, the API's limits, and what changed since the
//! last successful run (a Sotkanet update date, a role that now resolves to another variable).
//! The exit code is 0 when every source would be read, 3 when one would fail.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::app::run::prepare::{Prepared, prepare};
use crate::archive::Archive;
use crate::error::{Error, InternalError};
use crate::http::{Client, Expect};
use crate::model::config::{ApiKind, SourceConfig};
use crate::stages::extract;

/// What `doctor` found of one source.
#[derive(Debug, Clone, Serialize)]
pub struct SourceHealth {
    /// The source's id.
    pub source: String,
    /// `sotkanet`, `pxweb-v1`, `pxweb-v2` or `file`.
    pub kind: String,
    /// Whether a run would read it.
    pub ok: bool,
    /// Why it would fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// What was found, by name (`table`, `roles`, `latest_year`, `updated`, `limits`, ...).
    pub found: BTreeMap<String, String>,
    /// What differs from the last successful run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
}

/// Checks every source of the pipeline.
pub fn doctor(pipeline: &Path) -> Result<Vec<SourceHealth>, Error> {
    let p = prepare(pipeline)?;
    let last = last_inputs(&p);
    let scratch = tempfile_dir()?;
    let mut client = Client::new(&p.pipeline.file.http, Archive::new(scratch.path()), false)?;
    let mut out = Vec::new();
    for s in &p.pipeline.file.sources {
        let mut health = SourceHealth {
            source: s.id.clone(),
            kind: "file".to_owned(),
            ok: true,
            problem: None,
            found: BTreeMap::new(),
            changed: Vec::new(),
        };
        let checked = match (&s.path, &s.fetch) {
            (Some(path), _) => check_file(&p, path, &mut health),
            (None, Some(_)) => check_live(&p, s, &mut client, last.get(&s.id), &mut health),
            (None, None) => Ok(()),
        };
        if let Err(e) = checked {
            health.ok = false;
            health.problem = Some(crate::error::chain(&e));
        }
        out.push(health);
    }
    Ok(out)
}

/// A temporary folder for the client's archive (removed when dropped).
fn tempfile_dir() -> Result<TempDir, Error> {
    let dir = std::env::temp_dir().join(format!("mittari-doctor-{}", std::process::id()));
    crate::io::atomic::create_dir(&dir, true)?;
    Ok(TempDir(dir))
}

/// A folder removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs_err::remove_dir_all(&self.0);
    }
}

fn check_file(p: &Prepared, path: &Path, health: &mut SourceHealth) -> Result<(), Error> {
    let path = p.pipeline.resolve(path);
    let bytes = crate::io::open_regular(&path)
        .and_then(|f| f.metadata())
        .map_err(|e| crate::error::SourceError::Missing {
            source_id: health.source.clone(),
            path: path.clone(),
            source: e,
        })?
        .len();
    health
        .found
        .insert("file".into(), format!("{} ({bytes} bytes)", path.display()));
    Ok(())
}

fn check_live(
    p: &Prepared,
    s: &SourceConfig,
    client: &mut Client,
    last: Option<&serde_json::Value>,
    health: &mut SourceHealth,
) -> Result<(), Error> {
    let f = &p.pipeline.file;
    let Some(fetch) = &s.fetch else {
        return Ok(());
    };
    let api = f
        .apis
        .get(&fetch.api)
        .ok_or_else(|| InternalError::Invariant(format!("api `{}` vanished", fetch.api)))?;
    let wanted = f.pipeline.years.iter().max().copied().unwrap_or_default();
    match api.kind {
        ApiKind::Sotkanet => {
            health.kind = "sotkanet".into();
            let Some(indicator) = fetch.indicator else {
                health.found.insert(
                    "regions".into(),
                    "the region list (data: not fetched)".into(),
                );
                return Ok(());
            };
            let req = extract::sotkanet::metadata_request(&api.url, indicator);
            let got = client.fetch(&req, Expect::Json)?;
            let meta = extract::sotkanet::parse_metadata(&got.payload.bytes, &req.line())?;
            let title = meta
                .title
                .as_ref()
                .and_then(|t| t.get("fi").or_else(|| t.values().next()))
                .cloned()
                .unwrap_or_default();
            health
                .found
                .insert("indicator".into(), format!("{indicator}: {title}"));
            if let Some(r) = meta.range {
                let latest = format!(
                    "{}{}",
                    r.end,
                    if r.end < i64::from(wanted) {
                        format!(" (the pipeline wants up to {wanted}: not published yet)")
                    } else {
                        String::new()
                    }
                );
                health.found.insert("latest_year".into(), latest);
            }
            if let Some(u) = &meta.data_updated {
                health.found.insert("updated".into(), u.clone());
                let before = last.and_then(|m| m["data-updated"].as_str());
                if let Some(before) = before.filter(|b| b != u) {
                    health
                        .changed
                        .push(format!("data updated {u} (the last run saw {before})"));
                }
            }
        }
        ApiKind::ThlCube => {
            health.kind = "thl-cube".into();
            let cube = fetch.cube.as_deref().unwrap_or_default();
            let (dims_url, _) = extract::thl_cube::urls(api, cube);
            let req = crate::http::Request::get(dims_url);
            let got = client.fetch(&req, Expect::Jsonp)?;
            let dims =
                extract::thl_cube::parse_dimensions(&got.payload.bytes).map_err(|message| {
                    crate::error::SourceError::BadResponse {
                        request: req.line(),
                        message,
                    }
                })?;
            health.found.insert(
                "cube".into(),
                format!(
                    "{cube} ({} dimensions: {})",
                    dims.len(),
                    dims.iter()
                        .map(|d| d.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            let names = extract::thl_cube::RegionNames::of(&p.registry, f.pipeline.reference_year);
            let r = extract::thl_cube::resolve(fetch, &dims, &|n| names.node(n)).map_err(
                |message| crate::error::SourceError::BadResponse {
                    request: req.line(),
                    message: format!(
                        "the pipeline's selection does not fit cube `{cube}`: {message}"
                    ),
                },
            )?;
            let roles: Vec<String> = r
                .dimensions
                .iter()
                .map(|(k, d)| format!("{k} -> {d}"))
                .collect();
            health.found.insert("roles".into(), roles.join(", "));
            health.found.insert("request".into(), r.params.join("&"));
        }
        ApiKind::PxwebV1 | ApiKind::PxwebV2 => {
            health.kind = if api.kind == ApiKind::PxwebV1 {
                "pxweb-v1"
            } else {
                "pxweb-v2"
            }
            .into();
            let is_region = |code: &str| p.registry.get(code).is_some();
            let planned = extract::pxweb::plan(client, api, fetch, &is_region)?;
            health.found.insert(
                "table".into(),
                format!(
                    "{} ({} variables)",
                    fetch.table.as_deref().unwrap_or_default(),
                    planned.variables.len()
                ),
            );
            health.found.insert(
                "limits".into(),
                format!(
                    "{} cells, {} calls per {} s",
                    planned.limits.max_cells,
                    planned.limits.max_calls,
                    planned.limits.window.as_secs()
                ),
            );
            if let Some(roles) = &planned.roles {
                let text: Vec<String> = roles.iter().map(|(r, c)| format!("{r} -> {c}")).collect();
                health.found.insert("roles".into(), text.join(", "));
                for (role, code) in roles {
                    let before = last.and_then(|m| m["dimensions"][role].as_str());
                    if let Some(before) = before.filter(|b| b != code) {
                        health.changed.push(format!(
                            "{role} is now `{code}` (the last run used `{before}`)"
                        ));
                    }
                }
            }
            let time = planned.variables.iter().find(|v| {
                v.time || planned.roles.as_ref().and_then(|r| r.get("time")) == Some(&v.code)
            });
            if let Some(time) = time {
                let latest = time.values.iter().max().cloned().unwrap_or_default();
                let year: i16 = latest
                    .get(..4)
                    .and_then(|y| y.parse().ok())
                    .unwrap_or_default();
                let note = if year < wanted {
                    format!(" (the pipeline wants up to {wanted}: not published yet)")
                } else {
                    String::new()
                };
                health
                    .found
                    .insert("latest_period".into(), format!("{latest}{note}"));
            }
        }
    }
    Ok(())
}

/// The last successful run's metadata of each live source, by source id.
fn last_inputs(p: &Prepared) -> BTreeMap<String, serde_json::Value> {
    let Ok(out) = crate::app::run::output_dir(&p.pipeline, None) else {
        return BTreeMap::new();
    };
    let Some(state) = crate::app::state::State::load(&out) else {
        return BTreeMap::new();
    };
    let manifest = out.join("_runs").join(format!("{}.json", state.run_id));
    let Ok(bytes) = fs_err::read(manifest) else {
        return BTreeMap::new();
    };
    let Ok(m) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return BTreeMap::new();
    };
    m["inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| Some((i["source"].as_str()?.to_owned(), i["metadata"].clone())))
        .collect()
}

/// The table `doctor` prints.
pub fn lines(health: &[SourceHealth]) -> Vec<String> {
    let mut out = Vec::new();
    for h in health {
        out.push(format!(
            "{} [{}]: {}",
            h.source,
            h.kind,
            if h.ok { "ok" } else { "FAILS" }
        ));
        if let Some(problem) = &h.problem {
            out.push(format!("  problem: {problem}"));
        }
        for (k, v) in &h.found {
            out.push(format!("  {k}: {v}"));
        }
        for c in &h.changed {
            out.push(format!("  changed: {c}"));
        }
    }
    let failing = health.iter().filter(|h| !h.ok).count();
    out.push(if failing == 0 {
        format!("all {} sources would be read", health.len())
    } else {
        format!("{failing} of {} sources would fail", health.len())
    });
    out
}
