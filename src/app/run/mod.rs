//! Runs a pipeline through its stages: extract, normalize, conform, derive, publish.
//!
//! Each stage is a plain function in its own module; this module only sequences them, times them
//! and collects what the manifest reports. Nothing is written to the output folder until every
//! stage has succeeded (see [`crate::stages::publish`]).

pub(crate) mod attribution;
pub(crate) mod checks;
mod dictionary;
mod lineage;
pub(crate) mod maturity;
pub mod prepare;
mod report;
pub(crate) mod sources;
pub(crate) mod tables;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Utc;
use polars::prelude::*;
use tracing::{info, warn};

use crate::app::manifest::RunManifest;
use crate::app::state::State;
use crate::archive::Archive;
use crate::error::Error;
use crate::http::Client;
use crate::model::config::{CsvDialect, Pipeline};
use crate::model::quarantine::{QuarantineEntry, quarantine_frame};
use crate::stages::check::CheckStatus;
use crate::stages::publish::Publisher;
use crate::stages::publish::partition::table_of;
use crate::stages::publish::remote::{self, Remote};
use checks::{gate, run_declared_checks};
use maturity::{Evidence, assess};
use prepare::{Prepared, prepare};
use sources::{Mode, Normalized, normalize_sources, obtain_all, web_payloads};
use tables::{
    Derived, Table, catalogue_frame, crosswalk_frame, derive_tables, indicator_summaries,
    mergers_frame, quarantine_counts, regions_frame, stage_tables,
};

/// Options of `mittari run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The pipeline file.
    pub pipeline: PathBuf,
    /// Output folder override.
    pub out: Option<PathBuf>,
    /// Archive folder override.
    pub cache: Option<PathBuf>,
    /// Answer every web request from the archive; fail on one it does not have.
    pub offline: bool,
    /// Roadmap progress date (default today).
    pub as_of: Option<chrono::NaiveDate>,
    /// How long to wait for another run on the same output folder.
    pub wait: std::time::Duration,
    /// Treat failing `warn` checks as errors.
    pub strict: bool,
    /// Rebuild even when nothing changed since the last successful run.
    pub force: bool,
}

/// What a finished run reports.
#[derive(Debug)]
pub struct RunSummary {
    /// Run id.
    pub run_id: String,
    /// Output folder.
    pub out: PathBuf,
    /// The manifest written.
    pub manifest: PathBuf,
    /// Rows per output table.
    pub rows: BTreeMap<String, usize>,
    /// Rows quarantined.
    pub quarantined: usize,
    /// Checks that failed with severity `warn`.
    pub checks_warned: usize,
    /// Nothing changed since this run, whose outputs stand; nothing was rewritten.
    pub up_to_date: Option<String>,
}

/// Where a run's outputs go: a folder, or an object storage URL (`az://`, `s3://`, `gs://`).
pub(crate) fn output_target(p: &Pipeline, explicit: Option<&Path>) -> PathBuf {
    match (explicit, &p.file.output.dir) {
        (Some(out), _) => out.to_path_buf(),
        (None, Some(dir)) if remote::is_remote(dir) => dir.clone(),
        (None, Some(dir)) => p.resolve(dir),
        (None, None) => PathBuf::from("out").join(&p.file.pipeline.name),
    }
}

/// The output folder of a run: for an object storage output, its local mirror in the default
/// cache (see [`crate::stages::publish::remote`]).
pub fn output_dir(p: &Pipeline, explicit: Option<&Path>) -> Result<PathBuf, Error> {
    output_folder(&output_target(p, explicit))
}

/// The folder of an output location: the location itself, or an object storage URL's mirror in
/// the cache a run uses by default (`MITTARI_CACHE`, else [`default_cache_dir`]).
pub fn output_folder(location: &Path) -> Result<PathBuf, Error> {
    if remote::is_remote(location) {
        let cache = std::env::var_os(crate::env_vars::MITTARI_CACHE)
            .filter(|c| !c.is_empty())
            .map_or_else(default_cache_dir, PathBuf::from);
        Ok(remote::Location::parse(location)?.mirror(&cache))
    } else {
        Ok(location.to_path_buf())
    }
}

/// The default raw payload archive: `$XDG_CACHE_HOME/mittari`, else `$HOME/.cache/mittari`, else
/// `.mittari-cache` in the working directory. It lives outside the output folder on purpose: the
/// output folder holds only what decision makers read, and a failed run must not touch it.
pub fn default_cache_dir() -> PathBuf {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var(crate::env_vars::XDG_CACHE_HOME)
        .or_else(|| var(crate::env_vars::HOME).map(|h| h.join(".cache")))
        .map_or_else(|| PathBuf::from(".mittari-cache"), |c| c.join("mittari"))
}

/// A new run id: UTC time to the second plus a short random-enough suffix.
pub(crate) fn new_run_id() -> String {
    let now = Utc::now();
    let salt = crate::io::hash::sha256_hex(
        format!(
            "{}-{}",
            now.timestamp_nanos_opt().unwrap_or_default(),
            std::process::id()
        )
        .as_bytes(),
    );
    format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), &salt[..6])
}

/// Runs a pipeline.
pub fn run(opts: &RunOptions) -> Result<RunSummary, Error> {
    let started_at = Utc::now();
    let run_id = new_run_id();
    let mut p = prepare(&opts.pipeline)?;
    p.as_of = Some(opts.as_of.unwrap_or_else(|| Utc::now().date_naive()));
    let target = output_target(&p.pipeline, opts.out.as_deref());
    let remote = if remote::is_remote(&target) {
        Some(Remote::open(&target)?)
    } else {
        None
    };
    let out = match &remote {
        Some(r) => r.mirror(&opts.cache.clone().unwrap_or_else(default_cache_dir)),
        None => target,
    };
    // One run at a time per output folder (released when this function returns, after the
    // run's history row is written), and per object storage prefix.
    let lock = crate::app::lock::acquire(&out, &run_id, opts.wait)?;
    let remote_lock = match &remote {
        Some(r) => Some(r.lock(&run_id, opts.wait)?),
        None => None,
    };
    // From here on a SIGTERM, SIGINT or SIGHUP records this run as failed before it exits.
    let stop = Stopped::watch(&out, &run_id, &opts.pipeline, started_at);
    crate::stages::publish::clear_stale_staging(&out);
    let key = run_key(&p, opts);
    let previous = if opts.force { None } else { State::load(&out) };
    let live = p.pipeline.file.sources.iter().any(|s| s.fetch.is_some());
    // Without live sources, file metadata decides before any source is read.
    // The declared checks' outcomes of a run that a check stopped, for its history row.
    let mut stopped_by = Vec::new();
    let result = match previous {
        Some(s)
            if !live
                && s.key == key
                && s.files_and_outputs_unchanged(&out)
                && published_as(remote.as_ref(), &s) =>
        {
            Ok(up_to_date(&s, &out, &run_id))
        }
        previous => {
            let lineage = lineage::target(&p);
            if let Some(t) = &lineage {
                lineage::start(t, &p, &run_id, started_at);
            }
            let result = run_locked(
                opts,
                &p,
                &out,
                &Identity {
                    run_id: &run_id,
                    started_at,
                    key: &key,
                    remote: remote.as_ref(),
                },
                previous,
                &mut stopped_by,
            );
            if let Some(t) = &lineage {
                match &result {
                    Ok(s) => lineage::complete(
                        t,
                        &p,
                        &run_id,
                        &lineage::output_datasets(
                            &out,
                            remote.as_ref().map(Remote::location),
                            &run_id,
                            &published_paths(&s.manifest),
                        ),
                    ),
                    Err(e) => lineage::fail(t, &p, &run_id, &crate::error::chain(e)),
                }
            }
            result
        }
    };
    let (status, rows, quarantined, error) = match &result {
        Ok(s) if s.up_to_date.is_some() => ("up_to_date", s.rows.clone(), 0, None),
        Ok(s) => ("success", s.rows.clone(), s.quarantined, None),
        Err(e) => ("failed", BTreeMap::new(), 0, Some(e)),
    };
    let row = crate::app::history::RunRow {
        run_id: run_id.clone(),
        pipeline: opts.pipeline.display().to_string(),
        started_at,
        finished_at: Utc::now(),
        status,
        exit_code: error.map_or(0, |e| i16::from(e.exit_status().code())),
        rows,
        quarantined,
        checks_failed: match error {
            Some(Error::Check(c)) => c.failed.try_into().unwrap_or(i64::MAX),
            _ => 0,
        },
        error: error.map(crate::error::chain),
        checks: stopped_by,
        published: match &result {
            Ok(_) => true,
            Err(e) => published_before_failing(e),
        },
    };
    stop.finish(|| {
        if let Err(e) = crate::app::history::record(&out, &row) {
            warn!("The run history could not be written: {e}");
        }
    });
    drop(remote_lock);
    drop(lock);
    summary_line(&row, &result, &out);
    result
}

/// Records a run stopped by a signal in its history before the process exits.
///
/// A thread waits for SIGTERM, SIGINT and SIGHUP while the run holds its folder. On one, it
/// writes the run's history row (failed, exit code 128 + the signal, and whether the outputs
/// had already been published) and exits with that code; the run's staging folder is cleared
/// by the next run. The run's own end and the signal's row are one or the other, never both:
/// whichever takes the history first writes the row.
struct Stopped {
    handle: Option<signal_hook::iterator::Handle>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Whether the run's history row is written (by its end or by a signal).
static HISTORY_WRITTEN: std::sync::Mutex<bool> = std::sync::Mutex::new(false);

impl Stopped {
    fn watch(
        out: &Path,
        run_id: &str,
        pipeline: &Path,
        started_at: chrono::DateTime<Utc>,
    ) -> Stopped {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]) else {
            warn!("Signals cannot be watched: a stopped run will not record itself");
            return Stopped {
                handle: None,
                thread: None,
            };
        };
        let handle = signals.handle();
        let (out, run_id, pipeline) =
            (out.to_path_buf(), run_id.to_owned(), pipeline.to_path_buf());
        let thread = std::thread::spawn(move || {
            let Some(signal) = signals.forever().next() else {
                return;
            };
            let code = 128 + signal;
            let mut written = HISTORY_WRITTEN
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !*written {
                let name = signal_hook::low_level::signal_name(signal).unwrap_or("a signal");
                let published = crate::stages::publish::current_version(&out).as_deref()
                    == Some(run_id.as_str());
                let row = crate::app::history::RunRow {
                    run_id: run_id.clone(),
                    pipeline: pipeline.display().to_string(),
                    started_at,
                    finished_at: Utc::now(),
                    status: "failed",
                    exit_code: i16::try_from(code).unwrap_or(i16::MAX),
                    rows: BTreeMap::new(),
                    quarantined: 0,
                    checks_failed: 0,
                    error: Some(format!("stopped by {name}")),
                    checks: Vec::new(),
                    published,
                };
                if let Err(e) = crate::app::history::record(&out, &row) {
                    warn!("The run history could not be written: {e}");
                }
                *written = true;
                tracing::error!(
                    status = "failed",
                    exit_code = code,
                    run_id = %run_id,
                    published,
                    out = %out.display(),
                    "Run stopped by {name}; {}",
                    what_was_published(published)
                );
            }
            std::process::exit(code);
        });
        Stopped {
            handle: Some(handle),
            thread: Some(thread),
        }
    }

    /// Writes the run's own history row (unless a signal wrote one and is ending the process),
    /// and stops watching.
    fn finish(mut self, write: impl FnOnce()) {
        let mut written = HISTORY_WRITTEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *written {
            // A signal's row is written and the process is exiting: wait for it.
            drop(written);
            loop {
                std::thread::park();
            }
        }
        write();
        *written = true;
        drop(written);
        if let Some(h) = self.handle.take() {
            h.close();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        *HISTORY_WRITTEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = false;
    }
}

/// The files a run's manifest lists as its outputs.
fn published_paths(manifest: &Path) -> Vec<String> {
    let Ok(bytes) = fs_err::read(manifest) else {
        return Vec::new();
    };
    let Ok(m) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Vec::new();
    };
    m["outputs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["path"].as_str().map(str::to_owned))
        .collect()
}

/// What a run that did not succeed left published, as its last log line says it.
fn what_was_published(published: bool) -> &'static str {
    if published {
        "its outputs were published (`current` names this run)"
    } else {
        "nothing was published, the previous outputs are unchanged"
    }
}

/// Whether a failed run had committed its outputs before it failed.
fn published_before_failing(e: &Error) -> bool {
    matches!(
        e,
        Error::Internal(crate::error::InternalError::AfterCommit { .. })
    )
}

/// The last line of every run: what happened, in one line a scheduler's log shows (with
/// `--log-format json`, one object with `status`, `exit_code`, `run_id`, `seconds`, ...).
fn summary_line(row: &crate::app::history::RunRow, result: &Result<RunSummary, Error>, out: &Path) {
    #[allow(clippy::cast_precision_loss)] // Milliseconds of a run fit an f64 exactly.
    let seconds = (row.finished_at - row.started_at).num_milliseconds() as f64 / 1000.0;
    let (run_id, status, exit_code) = (&row.run_id, row.status, row.exit_code);
    match result {
        Ok(s) if s.up_to_date.is_some() => {
            let last = s.up_to_date.as_deref().unwrap_or_default();
            info!(
                status,
                exit_code,
                run_id = %run_id,
                seconds,
                last_build = %last,
                out = %out.display(),
                "Up to date: no input, pipeline or mittari build changed since run {last}; nothing rewritten (use --force to rebuild)"
            );
        }
        Ok(s) => {
            let tables = s
                .rows
                .iter()
                .map(|(t, n)| format!("{t}={n}"))
                .collect::<Vec<_>>()
                .join(" ");
            info!(
                status,
                exit_code,
                run_id = %run_id,
                seconds,
                quarantined = s.quarantined,
                checks_warned = s.checks_warned,
                out = %out.display(),
                manifest = %s.manifest.display(),
                "Run succeeded: {tables}"
            );
        }
        Err(e) => {
            let outcome = if row.published {
                format!("{}, then a later step failed", what_was_published(true))
            } else {
                what_was_published(false).to_owned()
            };
            tracing::error!(
                status,
                exit_code,
                run_id = %run_id,
                seconds,
                checks_failed = row.checks_failed,
                published = row.published,
                out = %out.display(),
                manifest = %out.join("_runs").join(format!("{run_id}.json")).display(),
                "Run failed ({}); {outcome}",
                e.exit_status().meaning()
            );
        }
    }
}

/// The run key (see [`crate::app::state`]): build, pipeline and catalogue, and the options and
/// environment that change results.
fn run_key(p: &Prepared, opts: &RunOptions) -> String {
    let f = &p.pipeline.file;
    let mut parts = vec![
        ("pipeline", p.pipeline.sha256.clone()),
        (
            "catalogue",
            p.pipeline
                .catalogue
                .as_ref()
                .map(|c| c.sha256.clone())
                .unwrap_or_default(),
        ),
        ("strict", opts.strict.to_string()),
    ];
    let dated = !f.roadmaps.is_empty()
        || p.pipeline
            .checks
            .iter()
            .any(|c| c.kind == crate::model::config::checks::CheckKind::Freshness);
    if dated {
        let as_of = opts.as_of.unwrap_or_else(|| Utc::now().date_naive());
        parts.push(("as_of", as_of.to_string()));
    }
    if !f.surveys.is_empty() {
        parts.push(("survey_keys", survey_key_part(p)));
    }
    parts.push(("input_paths", input_paths(p)));
    let parts: Vec<(&str, &str)> = parts.iter().map(|(k, v)| (*k, v.as_str())).collect();
    crate::app::state::run_key(&parts)
}

/// Every local file the pipeline names, resolved to an absolute path, one a line: the same
/// pipeline file copied to another folder reads other files, and its outputs must not count as
/// up to date for this one.
fn input_paths(p: &Prepared) -> String {
    let f = &p.pipeline.file;
    let named = f
        .sources
        .iter()
        .filter_map(|s| s.path.as_ref())
        .chain(f.surveys.iter().flat_map(|s| [&s.path, &s.question_map]))
        .chain(f.roadmaps.iter().flat_map(|r| {
            r.path
                .iter()
                .chain(r.actions.iter())
                .chain(r.milestones.iter())
        }))
        .chain(
            f.kpa
                .iter()
                .filter_map(|k| k.price_index.as_ref().map(|i| &i.path)),
        )
        .chain(f.catalogue.iter().map(|c| &c.path));
    named
        .map(|path| {
            prepare::absolute(&p.pipeline.resolve(path))
                .display()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the survey salt contributes to the run key: respondent keys change with it, so a new
/// salt must make a new run. The salt is hashed together with the survey files' bytes, never
/// alone: `state.json` must not hold a value against which a reader of the output folder could
/// test guesses of the salt without the respondents' own files (which name them in clear).
fn survey_key_part(p: &Prepared) -> String {
    use sha2::{Digest, Sha256};
    let salt = std::env::var(crate::env_vars::MITTARI_SURVEY_SALT).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    for sv in &p.pipeline.file.surveys {
        match fs_err::read(p.pipeline.resolve(&sv.path)) {
            // Length first: file boundaries cannot be shifted to give the same stream.
            Ok(bytes) => {
                h.update((bytes.len() as u64).to_le_bytes());
                h.update(&bytes);
            }
            // The run will report the file; the key only needs to differ from a good run's.
            Err(_) => h.update(b"unreadable"),
        }
    }
    hex::encode(h.finalize())
}

/// The summary of a run that found nothing changed.
fn up_to_date(state: &State, out: &Path, run_id: &str) -> RunSummary {
    RunSummary {
        run_id: run_id.to_owned(),
        out: out.to_path_buf(),
        manifest: out.join("_runs").join(format!("{}.json", state.run_id)),
        rows: state
            .outputs
            .iter()
            .filter(|o| o.path.ends_with(".parquet"))
            .fold(BTreeMap::new(), |mut rows, o| {
                *rows.entry(table_of(&o.path).to_owned()).or_insert(0) += o.rows;
                rows
            }),
        quarantined: 0,
        checks_warned: 0,
        up_to_date: Some(state.run_id.clone()),
    }
}

/// Which run this is: its id, when it started, its run key, and the object storage it publishes
/// to (if any).
struct Identity<'a> {
    run_id: &'a str,
    started_at: chrono::DateTime<Utc>,
    key: &'a str,
    remote: Option<&'a Remote>,
}

/// Whether the store (if any) has the set of the run `state` describes as current: if not (its
/// publishing failed, or another copy of the mirror published since), the run is not up to date.
fn published_as(remote: Option<&Remote>, state: &State) -> bool {
    remote.is_none_or(|r| {
        r.current()
            .ok()
            .flatten()
            .is_some_and(|c| c.run_id == state.run_id)
    })
}

fn run_locked(
    opts: &RunOptions,
    p: &Prepared,
    out: &Path,
    identity: &Identity<'_>,
    previous: Option<State>,
    stopped_by: &mut Vec<crate::stages::check::CheckOutcome>,
) -> Result<RunSummary, Error> {
    let (run_id, started_at, key) = (
        identity.run_id.to_owned(),
        identity.started_at,
        identity.key,
    );
    let out = out.to_path_buf();
    let mut timings: Vec<(String, u128)> = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |name: &str, timings: &mut Vec<(String, u128)>| {
        timings.push((name.to_owned(), clock.elapsed().as_millis()));
        clock = Instant::now();
    };

    let meta = &p.pipeline.file.pipeline;
    let cache = opts.cache.clone().unwrap_or_else(default_cache_dir);
    info!(pipeline = %meta.name, run_id = %run_id, out = %out.display(), "Starting run");

    let archive = Archive::new(&cache);
    let live = p.pipeline.file.sources.iter().any(|s| s.fetch.is_some());
    let mut client = if live {
        Some(Client::new(
            &p.pipeline.file.http,
            archive.clone(),
            opts.offline,
        )?)
    } else {
        None
    };
    // Every web payload first (the conditional requests decide whether anything changed); local
    // data files are read as their sources are decoded, a batch at a time, so that only a few
    // sources' bytes and decoded rows are in memory at once.
    let obtained = obtain_all(p, Mode::Run(&archive, client.as_mut()))?;
    let payloads = web_payloads(obtained.iter().flat_map(|o| &o.payloads));
    // With live sources, the answers to the conditional requests decide.
    if let Some(prev) = &previous
        && live
        && prev.key == key
        && prev.payloads == payloads
        && prev.files_and_outputs_unchanged(&out)
        && published_as(identity.remote, prev)
    {
        return Ok(up_to_date(prev, &out, &run_id));
    }
    let http = client.as_ref().map(Client::stats);
    if let Some(h) = &http {
        info!(
            sent = h.sent,
            retries = h.retries,
            not_modified = h.not_modified,
            from_archive = h.offline,
            "HTTP"
        );
    }
    lap("extract", &mut timings);

    let Normalized {
        observations,
        quarantine: quarantine_obs,
        inputs,
        mut warnings,
        kpa: kpa_inputs,
    } = normalize_sources(p, obtained, &archive)?;
    lap("normalize+conform", &mut timings);

    let Derived {
        indicators,
        kpa,
        comparisons,
        profile,
        crosschecks,
        reconciliation,
        quarantine: derive_quarantine,
    } = derive_tables(p, &observations, &inputs, &kpa_inputs)?;
    lap("derive", &mut timings);
    let as_of = opts.as_of.unwrap_or_else(|| Utc::now().date_naive());
    let evidence = Evidence {
        indicators: &indicators,
        observations: &observations,
        kpa: kpa.as_ref(),
        crosschecks: &crosschecks,
    };
    let maturity = assess(p, &archive, &run_id, as_of, &evidence)?;
    if maturity.is_some() {
        lap("assess", &mut timings);
    }

    // Every table of the run, in the order it is staged (and listed in the manifest).
    let summaries = indicator_summaries(&indicators)?;
    let mut tables = vec![
        Table::large("observations", observations),
        Table::large("regions", regions_frame(&p.registry, &p.crosswalk)?),
        Table::large("crosswalk", crosswalk_frame(&p.registry, &p.crosswalk)?),
        Table::large("mergers", mergers_frame(&p.registry)?),
        Table::large(
            "indicator_catalogue",
            catalogue_frame(&p.pipeline, &inputs)?,
        ),
        Table::large("indicators", indicators),
        Table::new("reconciliation", reconciliation),
    ];
    tables.extend(kpa.map(|k| Table::new("kpa", k)));
    tables.push(Table::new("comparisons", comparisons));
    // The profile opens in Finnish Excel whatever the other CSVs' dialect.
    tables.push(Table::new("region_profile", profile).with_dialect(CsvDialect::ExcelFi));
    let mut maturity_inputs = Vec::new();
    if let Some(mut m) = maturity {
        warnings.append(&mut m.warnings);
        maturity_inputs.append(&mut m.inputs);
        tables.extend(m.into_tables());
    }
    tables.push(Table::quarantine(
        "quarantine/observations",
        quarantine_frame(&quarantine_obs, &run_id)?,
    ));
    tables.push(Table::quarantine(
        "quarantine/indicators",
        quarantine_frame(&derive_quarantine, &run_id)?,
    ));

    // Declared checks see every table before anything is staged.
    let by_name: BTreeMap<&str, &DataFrame> = tables
        .iter()
        .filter(|t| t.contract != "quarantine")
        .map(|t| (t.path, &t.frame))
        .collect();
    let mut checks = run_declared_checks(p, &by_name, &inputs, as_of, opts.strict)?;
    drop(by_name);
    if let Some(err) = gate(&mut checks, &out, &run_id, &meta.name)? {
        *stopped_by = checks.iter().map(|c| c.outcome.clone()).collect();
        return Err(err.into());
    }
    if !checks.is_empty() {
        lap("checks", &mut timings);
    }
    let mut publisher = Publisher::new(
        &out,
        &run_id,
        &meta.name,
        p.pipeline
            .file
            .output
            .csv
            .then_some(p.pipeline.file.output.csv_dialect),
    )?;
    // The last run's outputs are mittari's own even with --force (which only stops their reuse):
    // a folder of the layout before versions is moved to it only over files it lists.
    if let Some(state) = State::load(&out) {
        publisher.owns(state.outputs.iter().map(|o| o.path.clone()).collect());
    }
    if let Some(prev) = previous {
        publisher.keep_unchanged(prev.outputs);
    }
    let credits = attribution::credits(&p.pipeline, &inputs);
    publisher.attribute(attribution::by_table(&p.pipeline, &credits));
    publisher.partition(p.pipeline.file.output.partitioned);
    let report = report::files(p, &tables, &inputs, &credits, &run_id, started_at)?;
    let partitioned = p.pipeline.file.output.partitioned;
    let (dictionary, dictionary_rows) = dictionary::csv(&tables, partitioned)?;
    stage_tables(&mut publisher, &mut tables)?;
    let package = dictionary::datapackage(&tables, &meta.name, publisher.outputs())?;
    publisher.stage_bytes(
        "data_dictionary",
        "data_dictionary.csv",
        ("csv", dictionary_rows),
        &dictionary,
    )?;
    publisher.stage_bytes("datapackage", "datapackage.json", ("json", 0), &package)?;
    for f in &report {
        publisher.stage_bytes("report", &f.relative, (f.format, f.rows), &f.bytes)?;
    }
    if !report.is_empty() {
        lap("report", &mut timings);
    }
    drop(report);
    drop(tables);
    for c in &mut checks {
        if let (Some(rows), Some(contract)) = (&mut c.rows, &c.contract) {
            let rel = format!("quarantine/checks/{}", c.outcome.name);
            publisher.stage(contract, &rel, rows)?;
            c.outcome.quarantine = Some(format!("{rel}.parquet"));
        }
    }
    lap("stage", &mut timings);

    let mut rows = BTreeMap::new();
    for o in publisher.outputs().iter().filter(|o| o.format == "parquet") {
        *rows.entry(table_of(&o.path).to_owned()).or_insert(0) += o.rows;
    }
    let all_quarantine: Vec<&QuarantineEntry> =
        quarantine_obs.iter().chain(&derive_quarantine).collect();
    let manifest = RunManifest {
        run_id: run_id.clone(),
        mittari_version: env!("CARGO_PKG_VERSION").to_owned(),
        pipeline: meta.name.clone(),
        pipeline_path: p.pipeline.path.display().to_string(),
        pipeline_sha256: p.pipeline.sha256.clone(),
        reference_year: meta.reference_year,
        years: meta.years.clone(),
        focus_regions: p
            .pipeline
            .file
            .regions
            .focus.clone(),
        started_at,
        finished_at: Utc::now(),
        status: "success".to_owned(),
        inputs,
        attribution: credits,
        maturity_inputs,
        warnings,
        catalogue: p.pipeline.catalogue.as_ref().map(|c| {
            serde_json::json!({
                "path": c.path.display().to_string(),
                "version": c.version,
                "sha256": c.sha256,
                "derived": c.used,
                "skipped": c.skipped.iter().map(|(id, why)| serde_json::json!({"indicator": id, "reason": why})).collect::<Vec<_>>(),
            })
        }),
        crosschecks: crosschecks.clone(),
        checks: checks.iter().map(|c| c.outcome.clone()).collect(),
        http,
        outputs: publisher.outputs().to_vec(),
        quarantine: quarantine_counts(&all_quarantine),
        indicators: summaries,
        timings_ms: timings,
    };
    let (manifest_path, outputs) = publisher.commit(&manifest)?;
    if let Some(r) = identity.remote {
        // The mirror holds the new set; readers of the store see it once `current.json` moves.
        // If publishing fails they still see the previous set, and the next run publishes again.
        if let Err(e) = r.publish(&out, &manifest_path, &run_id) {
            let _ = fs_err::remove_file(out.join("_runs/state.json"));
            return Err(e.into());
        }
    }
    let state = State {
        key: key.to_owned(),
        run_id: run_id.clone(),
        files: p.files_read(),
        payloads,
        outputs,
    };
    if let Err(e) = state.save(&out) {
        // The next run then rebuilds: a state that no longer describes the outputs must go.
        warn!("The run state could not be written ({e}); the next run rebuilds everything");
        let _ = fs_err::remove_file(out.join("_runs/state.json"));
    }
    Ok(RunSummary {
        run_id,
        out,
        manifest: manifest_path,
        rows,
        quarantined: all_quarantine.len(),
        checks_warned: checks
            .iter()
            .filter(|c| c.outcome.status == CheckStatus::Warn)
            .count(),
        up_to_date: None,
    })
}
