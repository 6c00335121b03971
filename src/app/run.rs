//! Runs a pipeline through its stages: extract, normalize, conform, derive, publish.
//!
//! Each stage is a plain function in its own module; this module only sequences them, times them
//! and collects what the manifest reports. Nothing is written to the output folder until every
//! stage has succeeded (see [`crate::stages::publish`]).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use polars::prelude::*;
use rayon::iter::{IntoParallelIterator, IntoParallelRefIterator, ParallelIterator};
use tracing::{info, warn};

use crate::app::manifest::{
    IndicatorSummary, InputRecord, PayloadRecord, QuarantineCount, RunManifest,
};
use crate::app::state::State;
use crate::archive::{Archive, Payload};
use crate::error::{Error, InternalError, PolarsContext, SourceError};
use crate::http::{Client, Expect};
use crate::model::columns::ObservationColumns;
use crate::model::config::{ApiKind, Pipeline, SourceConfig, SourceFormat};
use crate::model::contract::Contract;
use crate::model::observation::Provenance;
use crate::model::observation::{RawObservation, RegionId};
use crate::model::quarantine::QuarantineEntry;
use crate::model::quarantine::quarantine_frame;
use crate::model::regions::resolve::{RegionResolver, SotkanetRegion, unresolved};
use crate::model::regions::{Crosswalk, Registry};
use crate::stages::check::{CheckContext, CheckRun, CheckStatus, run_checks};
use crate::stages::derive::{DeriveInput, derive};
use crate::stages::extract;
use crate::stages::extract::{SourcePayload, read_file};
use crate::stages::normalize::jsonstat::columns::{ColumnOptions, decode_columns};
use crate::stages::normalize::jsonstat::{DimensionRoles, Input};
use crate::stages::normalize::{DecodeContext, Decoded, sotkanet};
use crate::stages::publish::Publisher;

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

/// A pipeline checked against the registry, ready to run.
pub struct Prepared {
    /// The pipeline.
    pub pipeline: Pipeline,
    /// The registry.
    pub registry: Registry,
    /// The reference year's crosswalk.
    pub crosswalk: Crosswalk,
    /// Every local file read so far, for the run state.
    reads: std::sync::Mutex<Vec<crate::app::state::FileDep>>,
}

impl Prepared {
    /// Reads a local input file, recording it for the run state (see [`crate::app::state`]).
    fn read(&self, source_id: &str, path: &Path) -> Result<Payload, SourceError> {
        // Metadata first: a change while reading then shows as a change next time.
        let stat = crate::io::file_stat(path);
        let payload = read_file(source_id, path)?;
        if let Some((bytes, modified_ns)) = stat
            && let Ok(mut reads) = self.reads.lock()
        {
            reads.push(crate::app::state::FileDep {
                path: absolute(path).display().to_string(),
                bytes,
                modified_ns,
                sha256: payload.sha256.clone(),
            });
        }
        Ok(payload)
    }

    fn files_read(&self) -> Vec<crate::app::state::FileDep> {
        let mut files = self.reads.lock().map(|r| r.clone()).unwrap_or_default();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup();
        files
    }
}

/// Loads a pipeline and checks what needs the registry: reference year and focus regions.
pub fn prepare(path: &Path) -> Result<Prepared, Error> {
    let pipeline = Pipeline::load(path)?;
    let registry = Registry::builtin()?;
    let meta = &pipeline.file.pipeline;
    let crosswalk = registry
        .crosswalk(*meta.reference_year.get_ref())
        .map_err(|m| {
            pipeline.error_at(
                meta.reference_year.span(),
                format!("`pipeline.reference_year`: {m}"),
            )
        })?;
    let peers = pipeline
        .file
        .comparison
        .iter()
        .flat_map(|c| c.peers.iter().map(|p| ("peer", p)));
    let focus = pipeline.file.regions.focus.iter().map(|f| ("focus", f));
    for (what, f) in focus.chain(peers) {
        if registry.get(f.get_ref()).is_none() {
            return Err(pipeline
                .error_at(
                    f.span(),
                    format!("{what} region `{}` is not in the region registry (codes look like `HVA12`, `KU740`, `SSS`)", f.get_ref()),
                )
                .into());
        }
    }
    Ok(Prepared {
        pipeline,
        registry,
        crosswalk,
        reads: std::sync::Mutex::default(),
    })
}

/// Sotkanet `/regions` payloads by source id.
type RegionPayloads = HashMap<String, HashMap<i64, SotkanetRegion>>;

/// A source read (or fetched) and decoded.
struct SourceResult<'a> {
    config: &'a SourceConfig,
    /// The file, or `fetch from <api>`.
    origin: String,
    /// Every payload the source used (data, metadata, config), in the order obtained.
    payloads: Vec<SourcePayload>,
    /// Size in bytes of each payload (whose bytes are dropped once decoded).
    sizes: Vec<u64>,
    /// Decoded data payloads: index into `payloads`, and what it decoded to.
    parts: Vec<(usize, Decoded)>,
    /// Sotkanet indicator metadata, for the manifest.
    metadata: Option<serde_json::Value>,
    /// KPA rows (kpa-csv sources): index into `payloads`, rows.
    kpa: Vec<(usize, Vec<crate::stages::normalize::regionfile::KpaRow>)>,
}

/// How sources are read: `validate` reads files and only plans live sources.
enum Mode<'c> {
    /// Files read, live sources described, nothing archived.
    Plan,
    /// Everything read or fetched, and archived.
    Run(&'c Archive, Option<&'c mut Client>),
}

/// A source's payloads, read or fetched, not yet decoded.
struct Obtained<'a> {
    config: &'a SourceConfig,
    /// The file, or `fetch from <api>`.
    origin: String,
    payloads: Vec<SourcePayload>,
    metadata: Option<serde_json::Value>,
    /// A local file read only when the source is decoded (by [`decode_source`]).
    unread: Option<PathBuf>,
}

/// Reads (or fetches) and decodes every source; `/regions` payloads are returned separately.
fn read_and_decode<'a>(
    p: &'a Prepared,
    mode: Mode<'_>,
) -> Result<(Vec<SourceResult<'a>>, RegionPayloads), Error> {
    let obtained = obtain_all(p, mode)?;
    let regions = decode_regions(&obtained)?;
    let results = obtained
        .into_iter()
        .map(|o| decode_source(o, p, None, &regions))
        .collect::<Result<_, _>>()?;
    Ok((results, regions))
}

/// A source's local file: its path and, unless reading it is left to [`decode_source`], what
/// reading it gave.
type LocalFile = (PathBuf, Option<Result<Payload, SourceError>>);

/// Reads (or fetches) every source's payloads, in pipeline order.
fn obtain_all<'a>(p: &'a Prepared, mut mode: Mode<'_>) -> Result<Vec<Obtained<'a>>, Error> {
    let sources = &p.pipeline.file.sources;
    // In a run, a local data file is read when its source is decoded (by [`decode_source`]), so
    // that the bytes of only a few files are held at once. The other local files are read and
    // hashed in parallel, the rest done in pipeline order (the first failure in that order is
    // the one reported).
    let run = matches!(mode, Mode::Run(..));
    let files: Vec<Option<LocalFile>> = sources
        .par_iter()
        .map(|s| {
            let path = p.pipeline.resolve(s.path.as_ref()?);
            let deferred = run && s.format != SourceFormat::SotkanetRegions;
            let payload = (!deferred).then(|| p.read(s.id.get_ref(), &path));
            Some((path, payload))
        })
        .collect();
    let mut all = Vec::new();
    for (s, file) in sources.iter().zip(files) {
        let id = s.id.get_ref();
        let mut metadata = None;
        let (origin, payloads) = match (file, &s.fetch) {
            (Some((path, None)), _) => {
                all.push(Obtained {
                    config: s,
                    origin: path.display().to_string(),
                    payloads: Vec::new(),
                    metadata: None,
                    unread: Some(path),
                });
                continue;
            }
            (Some((path, Some(payload))), _) => {
                let archive = match &mode {
                    Mode::Run(a, _) => Some(*a),
                    Mode::Plan => None,
                };
                let sp = file_payload(&path, payload?, archive)?;
                (path.display().to_string(), vec![sp])
            }
            (None, Some(fetch)) => {
                let origin = format!("fetch from `{}`", fetch.api.get_ref());
                let Mode::Run(_, Some(client)) = &mut mode else {
                    // `validate`: a live source is planned, not fetched.
                    all.push(Obtained {
                        config: s,
                        origin,
                        payloads: Vec::new(),
                        metadata: None,
                        unread: None,
                    });
                    continue;
                };
                let (payloads, meta) = fetch_source(p, s, client)?;
                metadata = meta;
                (origin, payloads)
            }
            (None, None) => {
                return Err(InternalError::Invariant(format!(
                    "source `{id}` has neither `path` nor `fetch`"
                ))
                .into());
            }
        };
        all.push(Obtained {
            config: s,
            origin,
            payloads,
            metadata,
            unread: None,
        });
    }
    Ok(all)
}

/// A local file's payload, archived in a run (`archive`), as its source's data.
fn file_payload(
    path: &Path,
    payload: Payload,
    archive: Option<&Archive>,
) -> Result<SourcePayload, Error> {
    let request = format!("file://{}", absolute(path).display());
    if let Some(a) = archive {
        a.store(&request, &payload)?;
    }
    Ok(SourcePayload {
        request,
        role: "data",
        origin: "file",
        payload,
    })
}

/// Where a payload's problems are reported: the file, or the request.
fn payload_file(origin: &str, sp: &SourcePayload) -> String {
    if sp.origin == "file" {
        origin.to_owned()
    } else {
        sp.request.clone()
    }
}

/// Decodes the Sotkanet `/regions` sources, which resolve the others' region ids.
fn decode_regions(obtained: &[Obtained<'_>]) -> Result<RegionPayloads, Error> {
    let mut regions = HashMap::new();
    for o in obtained
        .iter()
        .filter(|o| o.config.format == SourceFormat::SotkanetRegions)
    {
        for sp in o.payloads.iter().filter(|sp| sp.role == "data") {
            regions.insert(
                o.config.id.get_ref().clone(),
                sotkanet::decode_regions(&sp.payload.bytes, &payload_file(&o.origin, sp))?,
            );
        }
    }
    Ok(regions)
}

/// Decodes one source's data payloads (not `/regions`: see [`decode_regions`]), reading (and in
/// a run, `archive`-ing) its local file first if [`obtain_all`] left it unread, then drops their
/// bytes: from here on only each payload's size and sha256 are needed.
fn decode_source<'a>(
    o: Obtained<'a>,
    p: &Prepared,
    archive: Option<&Archive>,
    region_payloads: &RegionPayloads,
) -> Result<SourceResult<'a>, Error> {
    let Obtained {
        config: s,
        origin,
        mut payloads,
        metadata,
        unread,
    } = o;
    if let Some(path) = unread {
        let payload = p.read(s.id.get_ref(), &path)?;
        payloads.push(file_payload(&path, payload, archive)?);
    }
    let id = s.id.get_ref();
    let mut parts = Vec::new();
    let mut kpa = Vec::new();
    let resolver = resolver_of(&p.registry, s, region_payloads);
    if s.format != SourceFormat::SotkanetRegions {
        for (i, sp) in payloads
            .iter()
            .enumerate()
            .filter(|(_, sp)| sp.role == "data")
        {
            let ctx = DecodeContext {
                source_id: id.clone(),
                dataset: s
                    .dataset
                    .as_ref()
                    .map(|d| d.get_ref().clone())
                    .unwrap_or_default(),
                file: payload_file(&origin, sp),
                raw_sha256: sp.payload.sha256.clone(),
                unit: s.unit.clone(),
            };
            if s.format.is_kpa() {
                let reject =
                    |location, rule, reason, record| ctx.quarantine(location, rule, reason, record);
                let table = if s.format == SourceFormat::KpaXlsx {
                    crate::io::tabular::workbook::first_sheet(&sp.payload.bytes, &ctx.file)?
                } else {
                    let text =
                        crate::io::tabular::decode_text(&sp.payload.bytes, s.encoding, &ctx.file)?;
                    crate::io::tabular::delimited_rows(&text, &ctx.file)?
                };
                let (rows, quarantine) =
                    crate::stages::normalize::regionfile::read_kpa(&table, &ctx.file, &reject)?;
                kpa.push((i, rows));
                parts.push((
                    i,
                    Decoded {
                        rows: Vec::new(),
                        resolved: ObservationColumns::default(),
                        quarantine,
                        datasets: Vec::new(),
                    },
                ));
                continue;
            }
            let provenance = Provenance {
                source_id: id,
                raw_sha256: &sp.payload.sha256,
                retrieved_at: sp.payload.retrieved_at,
            };
            parts.push((
                i,
                decode(s.format, &sp.payload.bytes, s, &ctx, &resolver, &provenance)?,
            ));
        }
    }
    let sizes = payloads
        .iter()
        .map(|sp| sp.payload.bytes.len() as u64)
        .collect();
    for sp in &mut payloads {
        sp.payload.bytes = Vec::new();
    }
    Ok(SourceResult {
        config: s,
        origin,
        payloads,
        sizes,
        parts,
        metadata,
        kpa,
    })
}

/// The requests `run` will send for a live source (PxWeb data batches depend on the API's limits).
fn planned_requests(
    p: &Prepared,
    s: &SourceConfig,
    fetch: &crate::model::config::FetchConfig,
) -> Vec<String> {
    let f = &p.pipeline.file;
    let Some(api) = f.apis.get(fetch.api.get_ref()) else {
        return Vec::new();
    };
    match (api.kind, s.format) {
        (ApiKind::Sotkanet, SourceFormat::SotkanetRegions) => {
            vec![extract::sotkanet::regions_request(&api.url).line()]
        }
        (ApiKind::Sotkanet, _) => {
            extract::sotkanet::DataPlan::of(fetch, f.pipeline.years.get_ref())
                .requests(&api.url)
                .iter()
                .map(crate::http::Request::line)
                .collect()
        }
        (ApiKind::PxwebV1 | ApiKind::PxwebV2, _) => {
            let (config, meta, data) =
                extract::pxweb::urls(api, fetch.table.as_deref().unwrap_or_default());
            let query: Vec<String> = fetch
                .query
                .iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", v.join(",")))
                .collect();
            vec![
                format!("GET {config}"),
                format!("GET {meta}"),
                format!(
                    "POST {data} [{}], in batches under the API's cell limit",
                    query.join("; ")
                ),
            ]
        }
    }
}

/// Fetches a live source through its API.
fn fetch_source(
    p: &Prepared,
    s: &SourceConfig,
    client: &mut Client,
) -> Result<(Vec<SourcePayload>, Option<serde_json::Value>), Error> {
    let f = &p.pipeline.file;
    let Some(fetch) = &s.fetch else {
        return Ok((Vec::new(), None));
    };
    let api = f.apis.get(fetch.api.get_ref()).ok_or_else(|| {
        InternalError::Invariant(format!(
            "api `{}` vanished after checking",
            fetch.api.get_ref()
        ))
    })?;
    info!(source = %s.id.get_ref(), api = %fetch.api.get_ref(), "Fetching");
    client.begin(s.id.get_ref());
    let fetched = fetch_with(p, s, fetch, api, client);
    client.end();
    fetched
}

fn fetch_with(
    p: &Prepared,
    s: &SourceConfig,
    fetch: &crate::model::config::FetchConfig,
    api: &crate::model::config::ApiConfig,
    client: &mut Client,
) -> Result<(Vec<SourcePayload>, Option<serde_json::Value>), Error> {
    let f = &p.pipeline.file;
    Ok(match (api.kind, s.format) {
        (ApiKind::Sotkanet, SourceFormat::SotkanetRegions) => {
            let req = extract::sotkanet::regions_request(&api.url);
            let got = client.fetch(&req, Expect::Json)?;
            (vec![SourcePayload::new(&req, got, "data")], None)
        }
        (ApiKind::Sotkanet, _) => {
            let plan = extract::sotkanet::DataPlan::of(fetch, f.pipeline.years.get_ref());
            let (meta, payloads) = extract::sotkanet::fetch_indicator(client, &api.url, &plan)?;
            (payloads, serde_json::to_value(meta).ok())
        }
        (ApiKind::PxwebV1 | ApiKind::PxwebV2, _) => {
            (extract::pxweb::fetch(client, api, fetch)?, None)
        }
    })
}

/// How a source's region ids resolve: through the `/regions` payload it names, if any.
fn resolver_of<'r>(
    registry: &'r Registry,
    config: &SourceConfig,
    region_payloads: &'r RegionPayloads,
) -> RegionResolver<'r> {
    RegionResolver {
        registry,
        sotkanet_regions: config.regions.as_ref().and_then(|r| {
            region_payloads
                .get_key_value(r.get_ref())
                .map(|(name, m)| (name.as_str(), m))
        }),
    }
}

/// Decodes one data payload. JSON-stat and Sotkanet `/json` take their column paths (regions
/// resolved as the rows are read, each distinct value looked up once, see
/// [`Decoded::resolved`]): a national run is tens of millions of rows, and building a dozen
/// strings a row dominated it.
fn decode(
    format: SourceFormat,
    bytes: &[u8],
    s: &SourceConfig,
    ctx: &DecodeContext,
    resolver: &RegionResolver<'_>,
    provenance: &Provenance<'_>,
) -> Result<Decoded, Error> {
    Ok(match format {
        SourceFormat::SotkanetJson => {
            match sotkanet::decode_json_resolved(bytes, ctx, resolver, provenance) {
                Some(decoded) => decoded,
                None => sotkanet::decode_json(bytes, ctx)?,
            }
        }
        SourceFormat::SotkanetCsv => sotkanet::decode_csv(bytes, ctx)?,
        SourceFormat::Jsonstat => {
            let d = s.dimensions.clone().unwrap_or_default();
            let roles = DimensionRoles {
                region: d.region,
                region_code: d.region_code,
                time: d.time,
                measure: d.measure,
                sex: d.sex,
                age: d.age,
                sex_codes: s.sex_codes.clone(),
            };
            let resolve = |id: &RegionId| resolver.resolve(id).map(|(c, l)| (c, l.as_str()));
            let reject =
                |raw: &RawObservation, rule, reason| unresolved(raw, provenance, rule, reason);
            let options = ColumnOptions {
                resolve_region: &resolve,
                reject_region: &reject,
                retrieved_at_micros: provenance.retrieved_at.timestamp_micros(),
                batch_rows: crate::model::columns::BATCH_ROWS,
            };
            let mut out = Decoded::default();
            out.datasets = decode_columns(
                Input::Bytes(bytes),
                &roles,
                ctx,
                &options,
                |q| keep(&mut out.quarantine, q),
                |batch| {
                    batch.append_to(&mut out.resolved);
                    Ok(())
                },
                |r| keep(&mut out.rows, r),
            )?;
            out
        }
        SourceFormat::SotkanetRegions | SourceFormat::KpaCsv | SourceFormat::KpaXlsx => {
            return Err(InternalError::Invariant(format!(
                "`{}` payloads have no observations",
                format.name()
            ))
            .into());
        }
    })
}

/// A decoder's sink that keeps what it is handed.
#[allow(clippy::unnecessary_wraps)] // The decoders' sinks may fail.
fn keep<T>(into: &mut Vec<T>, item: T) -> Result<(), String> {
    into.push(item);
    Ok(())
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The output folder of a run.
pub fn output_dir(p: &Pipeline, explicit: Option<&Path>) -> PathBuf {
    match (explicit, &p.file.output.dir) {
        (Some(out), _) => out.to_path_buf(),
        (None, Some(dir)) => p.resolve(dir),
        (None, None) => PathBuf::from("out").join(&p.file.pipeline.name),
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
fn new_run_id() -> String {
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
    let p = prepare(&opts.pipeline)?;
    let out = output_dir(&p.pipeline, opts.out.as_deref());
    // One run at a time per output folder (released when this function returns, after the
    // run's history row is written).
    let lock = crate::app::lock::acquire(&out, &run_id, opts.wait)?;
    crate::stages::publish::clear_stale_staging(&out);
    let key = run_key(&p, opts);
    let previous = if opts.force { None } else { State::load(&out) };
    let live = p.pipeline.file.sources.iter().any(|s| s.fetch.is_some());
    // Without live sources, file metadata decides before any source is read.
    // The declared checks' outcomes of a run that a check stopped, for its history row.
    let mut stopped_by = Vec::new();
    let result = match previous {
        Some(s) if !live && s.key == key && s.files_and_outputs_unchanged(&out) => {
            Ok(up_to_date(&s, &out, &run_id))
        }
        previous => run_locked(
            opts,
            &p,
            &out,
            &Identity {
                run_id: &run_id,
                started_at,
                key: &key,
            },
            previous,
            &mut stopped_by,
        ),
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
    };
    if let Err(e) = crate::app::history::record(&out, &row) {
        warn!("The run history could not be written: {e}");
    }
    drop(lock);
    summary_line(&row, &result, &out);
    result
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
            tracing::error!(
                status,
                exit_code,
                run_id = %run_id,
                seconds,
                checks_failed = row.checks_failed,
                out = %out.display(),
                manifest = %out.join("_runs").join(format!("{run_id}.json")).display(),
                "Run failed ({}); nothing was published, the previous outputs are unchanged",
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
        || f.checks
            .iter()
            .any(|c| *c.kind.get_ref() == crate::model::config::checks::CheckKind::Freshness);
    if dated {
        let as_of = opts.as_of.unwrap_or_else(|| Utc::now().date_naive());
        parts.push(("as_of", as_of.to_string()));
    }
    if !f.surveys.is_empty() {
        let salt = std::env::var(crate::env_vars::MITTARI_SURVEY_SALT).unwrap_or_default();
        parts.push(("survey_salt", crate::io::hash::sha256_hex(salt.as_bytes())));
    }
    let parts: Vec<(&str, &str)> = parts.iter().map(|(k, v)| (*k, v.as_str())).collect();
    crate::app::state::run_key(&parts)
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
            .filter_map(|o| Some((o.path.strip_suffix(".parquet")?.to_owned(), o.rows)))
            .collect(),
        quarantined: 0,
        checks_warned: 0,
        up_to_date: Some(state.run_id.clone()),
    }
}

/// The web payloads of a run, in a stable order.
fn web_payloads<'s>(
    payloads: impl Iterator<Item = &'s SourcePayload>,
) -> Vec<crate::app::state::PayloadDep> {
    let mut deps: Vec<crate::app::state::PayloadDep> = payloads
        .filter(|sp| sp.origin != "file")
        .map(|sp| crate::app::state::PayloadDep {
            request: sp.request.clone(),
            sha256: sp.payload.sha256.clone(),
        })
        .collect();
    deps.sort();
    deps.dedup();
    deps
}

/// Which run this is: its id, when it started, and its run key.
struct Identity<'a> {
    run_id: &'a str,
    started_at: chrono::DateTime<Utc>,
    key: &'a str,
}

fn run_locked<'p>(
    opts: &RunOptions,
    p: &'p Prepared,
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

    let region_payloads = decode_regions(&obtained)?;
    let mut columns = ObservationColumns::default();
    let mut quarantine_obs: Vec<QuarantineEntry> = Vec::new();
    let mut inputs = Vec::new();
    // KPA rows: (source config, sha256 of the file, rows).
    let mut kpa_inputs = Vec::new();
    // Each source conformed into the columns, in pipeline order.
    let mut absorb = |s: SourceResult<'p>| -> Result<(), Error> {
        let id = s.config.id.get_ref();
        for (i, rows) in &s.kpa {
            kpa_inputs.push((
                s.config,
                s.payloads[*i].payload.sha256.clone(),
                rows.clone(),
            ));
        }
        let datasets = s
            .parts
            .iter()
            .flat_map(|(_, d)| d.datasets.iter().cloned())
            .collect();
        let before_q = quarantine_obs.len();
        let before_rows = columns.len();
        let resolver = resolver_of(&p.registry, s.config, &region_payloads);
        for (i, decoded) in s.parts {
            quarantine_obs.extend(decoded.quarantine);
            let payload = &s.payloads[i].payload;
            let provenance = Provenance {
                source_id: id,
                raw_sha256: &payload.sha256,
                retrieved_at: payload.retrieved_at,
            };
            columns.append(decoded.resolved);
            columns.push_resolved(decoded.rows, &resolver, &provenance, &mut quarantine_obs);
        }
        let (rows, quarantined) = (columns.len() - before_rows, quarantine_obs.len() - before_q);
        if quarantined > 0 {
            warn!(source = %id, rows = quarantined, "Quarantined rows");
        }
        if let Some(regions) = region_payloads.get(id) {
            info!(source = %id, regions = regions.len(), "Read region payload");
        } else {
            info!(source = %id, rows, "Decoded source");
        }
        inputs.push(InputRecord {
            source: id.clone(),
            format: s.config.format.name().to_owned(),
            dataset: s.config.dataset.as_ref().map(|d| d.get_ref().clone()),
            origin: s.origin.clone(),
            payloads: s
                .payloads
                .iter()
                .zip(&s.sizes)
                .map(|(sp, &bytes)| PayloadRecord {
                    request: sp.request.clone(),
                    role: sp.role,
                    origin: sp.origin,
                    sha256: sp.payload.sha256.clone(),
                    bytes,
                    retrieved_at: sp.payload.retrieved_at,
                })
                .collect(),
            metadata: s.metadata,
            synthetic: s.config.synthetic,
            rows,
            quarantined,
            datasets,
        });
        Ok(())
    };
    // Sources are decoded a batch at a time in parallel (a source per core) and conformed in
    // their order; the next batch is decoded while one is conformed, so that at most two
    // batches' decoded rows are held at once.
    let batch = rayon::current_num_threads().max(1);
    let mut pending = obtained.into_iter();
    let decode_batch = |sources: Vec<Obtained<'p>>| -> Vec<Result<SourceResult<'p>, Error>> {
        sources
            .into_par_iter()
            .map(|o| decode_source(o, p, Some(&archive), &region_payloads))
            .collect()
    };
    let mut decoded = decode_batch(pending.by_ref().take(batch).collect());
    while !decoded.is_empty() {
        let upcoming: Vec<Obtained<'p>> = pending.by_ref().take(batch).collect();
        let (next, absorbed) = rayon::join(
            || decode_batch(upcoming),
            || decoded.into_iter().try_for_each(|s| absorb(s?)),
        );
        absorbed?;
        decoded = next;
    }
    let mut observations = columns.into_frame()?;
    lap("normalize+conform", &mut timings);

    let source_of: HashMap<String, String> = inputs
        .iter()
        .flat_map(|i| {
            i.payloads
                .iter()
                .map(|p| (p.sha256.clone(), i.source.clone()))
        })
        .collect();
    let derive_input = DeriveInput {
        observations: &observations,
        crosswalk: &p.crosswalk,
        indicators: &p.pipeline.file.indicators,
        years: meta.years.get_ref(),
        source_of: &source_of,
        population: p.pipeline.file.population.as_ref(),
        crosschecks: &p.pipeline.file.crosschecks,
        memo: crate::stages::derive::Memo::default(),
    };
    let derived = derive(&derive_input)?;
    check_crosschecks(&derived.crosschecks, &p.pipeline.file.crosschecks)?;
    let mut kpa = if kpa_inputs.is_empty() {
        None
    } else {
        let cfg = p.pipeline.file.kpa.clone().unwrap_or_default();
        let prices = match &cfg.price_index {
            Some(pi) => Some(read_price_index(p, pi)?),
            None => None,
        };
        let sources: Vec<crate::stages::derive::kpa::KpaSource<'_>> = kpa_inputs
            .iter()
            .filter_map(|(c, sha, rows)| {
                Some(crate::stages::derive::kpa::KpaSource {
                    source: c.id.get_ref(),
                    region: c.region.as_ref()?.get_ref(),
                    cost_basis: *c.cost_basis.as_ref()?.get_ref(),
                    raw_sha256: sha,
                    rows,
                })
            })
            .collect();
        Some(crate::stages::derive::kpa::kpa_frame(
            &sources,
            &cfg,
            prices.as_ref(),
            &derive_input,
        )?)
    };
    // The measures selected for the indicators are not needed again.
    drop(derive_input);
    let mut indicators = derived.indicators;
    let focus: Vec<String> = p
        .pipeline
        .file
        .regions
        .focus
        .iter()
        .map(|f| f.get_ref().clone())
        .collect();
    let peers: Vec<String> = p.pipeline.file.comparison.as_ref().map_or_else(
        || focus.clone(),
        |c| c.peers.iter().map(|p| p.get_ref().clone()).collect(),
    );
    let (mut comparisons, mut profile) = crate::stages::derive::compare::comparisons(
        &indicators,
        &p.pipeline.file.indicators,
        &focus,
        &peers,
        meta.years.get_ref(),
        p.pipeline
            .file
            .comparison
            .as_ref()
            .and_then(|c| c.need_indicator.as_ref())
            .map(|n| n.get_ref().as_str()),
    )?;
    lap("derive", &mut timings);
    let as_of = opts.as_of.unwrap_or_else(|| Utc::now().date_naive());
    let evidence = Evidence {
        indicators: &indicators,
        observations: &observations,
        kpa: kpa.as_ref(),
        crosschecks: &derived.crosschecks,
    };
    let mut maturity = assess(p, &archive, &run_id, as_of, &evidence)?;
    if maturity.is_some() {
        lap("assess", &mut timings);
    }

    let mut regions = regions_frame(&p.registry, &p.crosswalk)?;
    let mut q_obs = quarantine_frame(&quarantine_obs, &run_id)?;
    let mut q_ind = quarantine_frame(&derived.quarantine, &run_id)?;
    let (mut crosswalk, mut mergers) = (
        crosswalk_frame(&p.registry, &p.crosswalk)?,
        mergers_frame(&p.registry)?,
    );
    let mut catalogue = catalogue_frame(&p.pipeline)?;

    // Declared checks see every table before anything is staged.
    let mut tables: BTreeMap<&str, &DataFrame> = BTreeMap::from([
        ("observations", &observations),
        ("regions", &regions),
        ("crosswalk", &crosswalk),
        ("mergers", &mergers),
        ("indicator_catalogue", &catalogue),
        ("indicators", &indicators),
        ("comparisons", &comparisons),
        ("region_profile", &profile),
    ]);
    if let Some(k) = &kpa {
        tables.insert("kpa", k);
    }
    if let Some(m) = &maturity {
        tables.extend([
            ("maturity_responses", &m.responses),
            ("maturity_role_scores", &m.roles),
            ("maturity_signals", &m.signals),
            ("maturity_overall", &m.overall),
            ("maturity_dimension_scores", &m.dimensions),
            ("maturity_method_params", &m.params),
        ]);
        if let Some((a, ms, pr)) = &m.roadmap {
            tables.extend([
                ("roadmap_actions", a),
                ("roadmap_milestones", ms),
                ("roadmap_progress", pr),
            ]);
        }
    }
    let mut checks = run_declared_checks(p, &tables, &inputs, as_of, opts.strict)?;
    drop(tables);
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
    if let Some(prev) = previous {
        publisher.keep_unchanged(prev.outputs);
    }
    // The two large tables, `observations` and `indicators`, are written at the same time.
    let tables = [
        ("observations", &mut observations),
        ("regions", &mut regions),
        ("crosswalk", &mut crosswalk),
        ("mergers", &mut mergers),
        ("indicator_catalogue", &mut catalogue),
        ("indicators", &mut indicators),
    ]
    .into_iter()
    .map(|(name, df)| Ok((Contract::for_table(name)?, name, df)))
    .collect::<Result<Vec<_>, InternalError>>()?;
    publisher.stage_together(tables)?;
    let qc = Contract::for_table("quarantine")?;
    if let Some(kpa) = &mut kpa {
        publisher.stage(&Contract::for_table("kpa")?, "kpa", kpa)?;
    }
    publisher.stage(
        &Contract::for_table("comparisons")?,
        "comparisons",
        &mut comparisons,
    )?;
    // The profile opens in Finnish Excel whatever the other CSVs' dialect.
    publisher.stage_as(
        &Contract::for_table("region_profile")?,
        "region_profile",
        &mut profile,
        Some(crate::model::config::CsvDialect::ExcelFi),
    )?;
    if let Some(m) = &mut maturity {
        publisher.stage(
            &Contract::for_table("maturity_responses")?,
            "maturity_responses",
            &mut m.responses,
        )?;
        publisher.stage(
            &Contract::for_table("maturity_role_scores")?,
            "maturity_role_scores",
            &mut m.roles,
        )?;
        publisher.stage(
            &Contract::for_table("maturity_signals")?,
            "maturity_signals",
            &mut m.signals,
        )?;
        publisher.stage(
            &Contract::for_table("maturity_overall")?,
            "maturity_overall",
            &mut m.overall,
        )?;
        publisher.stage(
            &Contract::for_table("maturity_dimension_scores")?,
            "maturity_dimension_scores",
            &mut m.dimensions,
        )?;
        publisher.stage(
            &Contract::for_table("maturity_method_params")?,
            "maturity_method_params",
            &mut m.params,
        )?;
        if let Some((actions, milestones, progress)) = &mut m.roadmap {
            publisher.stage(
                &Contract::for_table("roadmap_actions")?,
                "roadmap_actions",
                actions,
            )?;
            publisher.stage(
                &Contract::for_table("roadmap_milestones")?,
                "roadmap_milestones",
                milestones,
            )?;
            publisher.stage(
                &Contract::for_table("roadmap_progress")?,
                "roadmap_progress",
                progress,
            )?;
        }
        publisher.stage(&qc, "quarantine/maturity", &mut m.quarantine)?;
    }
    publisher.stage(&qc, "quarantine/observations", &mut q_obs)?;
    publisher.stage(&qc, "quarantine/indicators", &mut q_ind)?;
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
        rows.insert(o.path.trim_end_matches(".parquet").to_owned(), o.rows);
    }
    let all_quarantine: Vec<&QuarantineEntry> =
        quarantine_obs.iter().chain(&derived.quarantine).collect();
    let manifest = RunManifest {
        run_id: run_id.clone(),
        mittari_version: env!("CARGO_PKG_VERSION").to_owned(),
        pipeline: meta.name.clone(),
        pipeline_path: p.pipeline.path.display().to_string(),
        pipeline_sha256: p.pipeline.sha256.clone(),
        reference_year: *meta.reference_year.get_ref(),
        years: meta.years.get_ref().clone(),
        focus_regions: p
            .pipeline
            .file
            .regions
            .focus
            .iter()
            .map(|f| f.get_ref().clone())
            .collect(),
        started_at,
        finished_at: Utc::now(),
        status: "success".to_owned(),
        inputs,
        catalogue: p.pipeline.catalogue.as_ref().map(|c| {
            serde_json::json!({
                "path": c.path.display().to_string(),
                "version": c.version,
                "sha256": c.sha256,
                "derived": c.used,
                "skipped": c.skipped.iter().map(|(id, why)| serde_json::json!({"indicator": id, "reason": why})).collect::<Vec<_>>(),
            })
        }),
        crosschecks: derived.crosschecks.clone(),
        checks: checks.iter().map(|c| c.outcome.clone()).collect(),
        http,
        outputs: publisher.outputs().to_vec(),
        quarantine: quarantine_counts(&all_quarantine),
        indicators: indicator_summaries(&indicators)?,
        timings_ms: timings,
    };
    let (manifest_path, outputs) = publisher.commit(&manifest)?;
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

fn quarantine_counts(entries: &[&QuarantineEntry]) -> Vec<QuarantineCount> {
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for e in entries {
        *counts.entry((e.stage, e.rule)).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((stage, rule), rows)| QuarantineCount {
            stage: stage.to_owned(),
            rule: rule.to_owned(),
            rows,
        })
        .collect()
}

/// Rows of each indicator in `indicators`, with and without a value, in indicator order.
fn indicator_summaries(indicators: &DataFrame) -> Result<Vec<IndicatorSummary>, InternalError> {
    /// A run's counts, added to its indicator's when the run ends.
    fn add<'a>(
        counts: &mut BTreeMap<&'a str, (usize, usize)>,
        (id, rows, with): (&'a str, usize, usize),
    ) {
        let c = counts.entry(id).or_default();
        (c.0, c.1) = (c.0 + rows, c.1 + with);
    }
    // One pass over the two columns, in place: the table comes in indicator order, so a row
    // mostly counts towards the same indicator as the row before it. (A polars group-by hashed
    // every row's id and, at national scale, took 300 MB at the very end of the run.)
    let what = "summarising indicators";
    let ids = indicators
        .column("indicator")
        .and_then(|c| c.str().cloned())
        .context(what)?;
    let values = indicators
        .column("value")
        .and_then(|c| c.f64().cloned())
        .context(what)?;
    // (rows, rows with a value) per indicator.
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut run: Option<(&str, usize, usize)> = None;
    for (id, value) in ids.iter().zip(values.iter()) {
        let (id, with) = (id.unwrap_or_default(), usize::from(value.is_some()));
        match &mut run {
            Some((current, rows, with_value)) if *current == id => {
                *rows += 1;
                *with_value += with;
            }
            _ => {
                if let Some(ended) = run.replace((id, 1, with)) {
                    add(&mut counts, ended);
                }
            }
        }
    }
    if let Some(ended) = run {
        add(&mut counts, ended);
    }
    Ok(counts
        .into_iter()
        .map(|(id, (rows, with_value))| IndicatorSummary {
            indicator: id.to_owned(),
            rows,
            with_value,
            without_value: rows - with_value,
        })
        .collect())
}

/// The `regions` table.
pub fn regions_frame(registry: &Registry, cw: &Crosswalk) -> Result<DataFrame, InternalError> {
    let regions: Vec<_> = registry.regions().collect();
    // Polars dates are days since 1970-01-01.
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let days =
        |d: Option<chrono::NaiveDate>| d.and_then(|d| i32::try_from((d - epoch).num_days()).ok());
    let date_col = |name: &str, values: Vec<Option<i32>>| -> Result<Column, InternalError> {
        Ok(Series::new(name.into(), values)
            .cast(&DataType::Date)
            .context("building region dates")?
            .into())
    };
    let parent: Vec<Option<&str>> = regions
        .iter()
        .map(|r| match r.level {
            crate::model::regions::Level::Municipality => {
                cw.successor(&r.code).and_then(|s| cw.county_of(s))
            }
            _ => None,
        })
        .collect();
    let columns = vec![
        str_column("region", regions.iter().map(|r| r.code.as_str())),
        str_column("region_level", regions.iter().map(|r| r.level.as_str())),
        str_column("name_fi", regions.iter().map(|r| r.name_fi.as_str())),
        str_column("name_sv", regions.iter().map(|r| r.name_sv.as_str())),
        str_column("name_en", regions.iter().map(|r| r.name_en.as_str())),
        Series::new("parent_county".into(), parent).into(),
        date_col(
            "valid_from",
            regions.iter().map(|r| days(r.valid_from)).collect(),
        )?,
        date_col(
            "valid_to",
            regions.iter().map(|r| days(r.valid_to)).collect(),
        )?,
        Series::new(
            "sotkanet_id".into(),
            regions.iter().map(|r| r.sotkanet_id).collect::<Vec<_>>(),
        )
        .into(),
    ];
    DataFrame::new(regions.len(), columns).context("building `regions`")
}

/// The maturity tables of a run.
struct Maturity {
    overall: DataFrame,
    signals: DataFrame,
    responses: DataFrame,
    roles: DataFrame,
    dimensions: DataFrame,
    params: DataFrame,
    quarantine: DataFrame,
    roadmap: Option<(DataFrame, DataFrame, DataFrame)>,
}

/// Reads every survey export (archiving it), aggregates per region and round.
/// What the data signals read from the run.
struct Evidence<'a> {
    indicators: &'a DataFrame,
    observations: &'a DataFrame,
    kpa: Option<&'a DataFrame>,
    crosschecks: &'a [crate::stages::derive::CrossCheckResult],
}

fn assess(
    p: &Prepared,
    archive: &Archive,
    run_id: &str,
    as_of: chrono::NaiveDate,
    evidence: &Evidence<'_>,
) -> Result<Option<Maturity>, Error> {
    use crate::io::tabular::{Encoding, rows_of, workbook};
    use crate::stages::assess::Params;
    use crate::stages::assess::{aggregate, roadmap, survey, tables};
    let surveys = &p.pipeline.file.surveys;
    if surveys.is_empty() && p.pipeline.file.roadmaps.is_empty() {
        return Ok(None);
    }
    let salt = std::env::var(crate::env_vars::MITTARI_SURVEY_SALT)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            warn!(
                "{} is not set: respondent keys are salted with a random value and differ between runs",
                crate::env_vars::MITTARI_SURVEY_SALT
            );
            crate::io::hash::sha256_hex(new_run_id().as_bytes())
        });
    let params = Params::default();
    let mut answers = Vec::new();
    let mut quarantine = Vec::new();
    let mut dims = Vec::new();
    let mut roles = Vec::new();
    for sv in surveys {
        let id = sv.id.get_ref();
        let map_path = p.pipeline.resolve(&sv.question_map);
        let map_payload = p.read(id, &map_path)?;
        let map_file = map_path.display().to_string();
        let map = survey::read_question_map(
            &rows_of(&map_payload.bytes, &map_file, Encoding::Auto, None)?,
            &map_file,
        )?;
        let path = p.pipeline.resolve(&sv.path);
        let payload = p.read(id, &path)?;
        archive.store(&format!("file://{}", absolute(&path).display()), &payload)?;
        let file = path.display().to_string();
        let rows = rows_of(&payload.bytes, &file, sv.encoding, None)?;
        let ctx = DecodeContext {
            source_id: id.clone(),
            dataset: String::new(),
            file: file.clone(),
            raw_sha256: payload.sha256.clone(),
            unit: None,
        };
        let reject =
            |location, rule, reason, record| ctx.quarantine(location, rule, reason, record);
        let (got, rejected, (d, r)) = if sv.granularity
            == crate::model::config::Granularity::Aggregated
        {
            let (freqs, rejected) = survey::read_frequencies(&rows, &map, &file, &reject)?;
            info!(survey = %id, cells = freqs.len(), quarantined = rejected.len(), "Read aggregated survey");
            let scores = crate::stages::assess::aggregate_frequencies(
                sv.region.get_ref(),
                &sv.round,
                &freqs,
                &params,
            );
            (Vec::new(), rejected, scores)
        } else {
            let (got, rejected) =
                survey::read_responses(&rows, sv.header_rows, &map, &salt, &file, &reject)?;
            info!(survey = %id, answers = got.len(), quarantined = rejected.len(), "Read survey");
            let scores = aggregate(sv.region.get_ref(), &sv.round, &got, &params);
            (got, rejected, scores)
        };
        dims.extend(d);
        roles.extend(r);
        quarantine.extend(rejected);
        answers.push((sv, got));
    }
    // Roadmaps: progress per region and dimension at the as-of date, over the region's rounds.
    let rparams = roadmap::RoadmapParams::default();
    let mut rm_rows = Vec::new();
    for r in &p.pipeline.file.roadmaps {
        let id = r.id.get_ref();
        let region = r.region.get_ref();
        let (actions_rows, milestone_rows, file) = if let Some(path) = &r.path {
            let path = p.pipeline.resolve(path);
            let payload = p.read(id, &path)?;
            archive.store(&format!("file://{}", absolute(&path).display()), &payload)?;
            let file = path.display().to_string();
            (
                workbook::sheet(&payload.bytes, &file, Some("Toimenpiteet"))?,
                workbook::sheet(&payload.bytes, &file, Some("Virstanpylväät"))?,
                file,
            )
        } else {
            let read = |rel: &std::path::PathBuf| -> Result<Vec<crate::io::tabular::XRow>, Error> {
                let path = p.pipeline.resolve(rel);
                let payload = p.read(id, &path)?;
                archive.store(&format!("file://{}", absolute(&path).display()), &payload)?;
                Ok(rows_of(
                    &payload.bytes,
                    &path.display().to_string(),
                    r.encoding,
                    None,
                )?)
            };
            let a = read(
                r.actions
                    .as_ref()
                    .ok_or_else(|| InternalError::Invariant("roadmap without actions".into()))?,
            )?;
            let m =
                read(r.milestones.as_ref().ok_or_else(|| {
                    InternalError::Invariant("roadmap without milestones".into())
                })?)?;
            (
                a,
                m,
                p.pipeline
                    .resolve(r.actions.as_deref().unwrap_or(std::path::Path::new("")))
                    .display()
                    .to_string(),
            )
        };
        let rm = roadmap::read(&actions_rows, &milestone_rows, &file)?;
        for (location, reason) in &rm.rejected {
            quarantine.push(QuarantineEntry {
                stage: "assess",
                source: id.clone(),
                raw_sha256: String::new(),
                location: location.clone(),
                rule: "unusable_roadmap_row",
                reason: reason.clone(),
                record: String::new(),
            });
        }
        let mut progress = Vec::new();
        for (d, _, _) in crate::stages::assess::DIMENSIONS {
            if !rm
                .actions
                .iter()
                .any(|a| a.dimensions.iter().any(|x| x == d))
            {
                continue;
            }
            let rounds = round_scores(&dims, &answers, region, d);
            progress.push(roadmap::progress(
                d,
                &rm.actions,
                &rm.milestones,
                &rounds,
                as_of,
                &rparams,
            ));
        }
        info!(roadmap = %id, actions = rm.actions.len(), milestones = rm.milestones.len(), "Read roadmap");
        rm_rows.push((id.clone(), region.clone(), rm, progress));
    }
    let rows: Vec<(&str, &str, &str, &survey::Answer)> = answers
        .iter()
        .flat_map(|(sv, a)| {
            a.iter().map(move |x| {
                (
                    sv.id.get_ref().as_str(),
                    sv.region.get_ref().as_str(),
                    sv.round.as_str(),
                    x,
                )
            })
        })
        .collect();
    // Data signals per region and round (at the round's date), blending, overall scores.
    let bparams = crate::stages::assess::signals::BlendParams::default();
    let values = indicator_values(evidence.indicators)?;
    let (by_sex, by_age) = breakdowns(evidence.observations, &p.pipeline.file.indicators)?;
    let kpa_facts = kpa_facts(evidence.kpa, archive)?;
    let mut signal_rows = Vec::new();
    let mut blends = Vec::new();
    for d in &dims {
        let key = (d.region.clone(), d.round.clone());
        if !signal_rows.iter().any(|(k, _, _)| *k == key) {
            let date = round_date(&answers, &d.region, &d.round);
            let rm = rm_rows.iter().find(|r| r.1 == d.region).map(|r| &r.2);
            let (facts, deliveries) = kpa_facts.get(&d.region).cloned().unwrap_or_default();
            let inputs = crate::stages::assess::signals::Inputs {
                values: &values,
                by_sex: by_sex.clone(),
                by_age: by_age.clone(),
                kpa: facts,
                deliveries,
                crosschecks: evidence
                    .crosschecks
                    .iter()
                    .filter(|c| c.region == d.region)
                    .map(|c| c.status)
                    .collect(),
                national_classes: p
                    .pipeline
                    .file
                    .kpa
                    .as_ref()
                    .and_then(|k| k.national_classes.as_deref()),
                actions: rm.map_or(&[], |r| r.actions.as_slice()),
                milestones: rm.map_or(&[], |r| r.milestones.as_slice()),
            };
            let sig = crate::stages::assess::signals::signals(&d.region, date, &inputs);
            signal_rows.push((key.clone(), date, sig));
        }
        let sig = &signal_rows
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|x| &x.2)
            .cloned()
            .unwrap_or_default();
        let data =
            crate::stages::assess::signals::data_score(&d.dimension, sig, bparams.min_signals);
        let has_s11 = sig.iter().any(|s| s.id == "S11" && s.value.is_some());
        blends.push((
            data,
            crate::stages::assess::signals::blend(&d.dimension, d.score, data, has_s11, &bparams),
        ));
    }
    Ok(Some(Maturity {
        responses: tables::responses(&rows, run_id)?,
        roles: tables::role_scores(&roles, run_id)?,
        overall: tables::overall(&dims, &blends, &bparams, run_id)?,
        signals: tables::signals(&signal_rows, run_id)?,
        dimensions: tables::dimension_scores(&dims, &blends, run_id)?,
        params: tables::method_params(&params, &rparams, &bparams, run_id)?,
        quarantine: quarantine_frame(&quarantine, run_id)?,
        roadmap: if rm_rows.is_empty() {
            None
        } else {
            Some(tables::roadmap(&rm_rows, as_of, run_id)?)
        },
    }))
}

/// The date of a round: the median answer date, else 1 July of the round's year.
fn round_date(
    answers: &[(
        &crate::model::config::SurveyConfig,
        Vec<crate::stages::assess::survey::Answer>,
    )],
    region: &str,
    round: &str,
) -> chrono::NaiveDate {
    let mut dates: Vec<chrono::NaiveDate> = answers
        .iter()
        .filter(|(sv, _)| sv.region.get_ref() == region && sv.round == round)
        .flat_map(|(_, a)| a.iter().filter_map(|x| x.answered))
        .collect();
    dates.sort_unstable();
    dates.get(dates.len() / 2).copied().unwrap_or_else(|| {
        round
            .trim()
            .parse::<i32>()
            .ok()
            .and_then(|y| chrono::NaiveDate::from_ymd_opt(y, 7, 1))
            .unwrap_or_default()
    })
}

/// Every indicator value of the run, for the data signals.
fn indicator_values(df: &DataFrame) -> Result<Vec<crate::stages::assess::signals::Value>, Error> {
    let s = |c: &str| -> Result<Vec<Option<String>>, Error> {
        Ok(df
            .column(c)
            .context("reading indicators")?
            .str()
            .context("reading indicators")?
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect())
    };
    let (ind, region, level) = (s("indicator")?, s("region")?, s("region_level")?);
    let year: Vec<Option<i16>> = df
        .column("year")
        .context("reading indicators")?
        .i16()
        .context("reading indicators")?
        .iter()
        .collect();
    let value: Vec<Option<f64>> = df
        .column("value")
        .context("reading indicators")?
        .f64()
        .context("reading indicators")?
        .iter()
        .collect();
    Ok((0..df.height())
        .filter_map(|i| {
            Some(crate::stages::assess::signals::Value {
                indicator: ind[i].clone()?,
                region: region[i].clone()?,
                level: level[i].clone()?,
                year: year[i]?,
                value: value[i],
            })
        })
        .collect())
}

/// (indicator, region) pairs with observations by sex, and by age.
#[allow(clippy::type_complexity)]
fn breakdowns(
    obs: &DataFrame,
    indicators: &[crate::model::config::IndicatorConfig],
) -> Result<
    (
        std::collections::BTreeSet<(String, String)>,
        std::collections::BTreeSet<(String, String)>,
    ),
    Error,
> {
    let pairs = |column: &str| -> Result<std::collections::BTreeSet<(String, String)>, Error> {
        let df = obs
            .clone()
            .lazy()
            .filter(col(column).cast(DataType::String).neq(lit("total")))
            .select([
                col("dataset").cast(DataType::String),
                col("measure").cast(DataType::String),
                col("region").cast(DataType::String),
            ])
            .unique(None, UniqueKeepStrategy::First)
            .collect()
            .context("reading breakdowns")?;
        let s = |c: &str| -> Result<Vec<String>, Error> {
            Ok(df
                .column(c)
                .context("reading breakdowns")?
                .str()
                .context("reading breakdowns")?
                .iter()
                .map(|v| v.unwrap_or_default().to_owned())
                .collect())
        };
        let (ds, ms, rs) = (s("dataset")?, s("measure")?, s("region")?);
        let mut out = std::collections::BTreeSet::new();
        for i in 0..df.height() {
            for ind in indicators
                .iter()
                .filter(|x| x.numerator.dataset.get_ref() == &ds[i] && x.numerator.measure == ms[i])
            {
                out.insert((ind.id.get_ref().clone(), rs[i].clone()));
            }
        }
        Ok(out)
    };
    Ok((pairs("sex")?, pairs("age")?))
}

/// Per region: KPA facts (year, class, complete) and its files' deliveries.
#[allow(clippy::type_complexity)]
fn kpa_facts(
    kpa: Option<&DataFrame>,
    archive: &Archive,
) -> Result<
    HashMap<
        String,
        (
            Vec<crate::stages::assess::signals::KpaFact>,
            Vec<crate::stages::assess::signals::Delivery>,
        ),
    >,
    Error,
> {
    let mut out: HashMap<
        String,
        (
            Vec<crate::stages::assess::signals::KpaFact>,
            Vec<crate::stages::assess::signals::Delivery>,
        ),
    > = HashMap::new();
    let Some(df) = kpa else { return Ok(out) };
    let text = |c: &str| -> Result<Vec<String>, Error> {
        Ok(df
            .column(c)
            .context("reading kpa")?
            .str()
            .context("reading kpa")?
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect())
    };
    let floats = |c: &str| -> Result<Vec<Option<f64>>, Error> {
        Ok(df
            .column(c)
            .context("reading kpa")?
            .f64()
            .context("reading kpa")?
            .iter()
            .collect())
    };
    let (region, class, sha) = (text("region")?, text("service_class")?, text("raw_sha256")?);
    let year: Vec<i16> = df
        .column("year")
        .context("reading kpa")?
        .i16()
        .context("reading kpa")?
        .iter()
        .map(Option::unwrap_or_default)
        .collect();
    let (per_1000, per_client, adjusted) = (
        floats("clients_per_1000")?,
        floats("cost_per_client")?,
        floats("cost_per_capita_need_adjusted")?,
    );
    let mut last: HashMap<(String, String), i16> = HashMap::new();
    for i in 0..df.height() {
        let e = out.entry(region[i].clone()).or_default();
        e.0.push(crate::stages::assess::signals::KpaFact {
            year: year[i],
            class: class[i].clone(),
            complete: per_1000[i].is_some() && per_client[i].is_some() && adjusted[i].is_some(),
        });
        let l = last
            .entry((region[i].clone(), sha[i].clone()))
            .or_insert(year[i]);
        *l = (*l).max(year[i]);
    }
    for ((r, sha), y) in last {
        if let Some(first) = archive.first_seen(&sha) {
            out.entry(r)
                .or_default()
                .1
                .push(crate::stages::assess::signals::Delivery {
                    last_year: y,
                    delivered: first.date_naive(),
                });
        }
    }
    Ok(out)
}

/// A region's survey scores of a dimension by round, oldest first, at the round's fractional
/// year (the median answer date, else the middle of the round's year).
fn round_scores(
    dims: &[crate::stages::assess::DimensionScore],
    answers: &[(
        &crate::model::config::SurveyConfig,
        Vec<crate::stages::assess::survey::Answer>,
    )],
    region: &str,
    dimension: &str,
) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = dims
        .iter()
        .filter(|d| d.region == region && d.dimension == dimension)
        .filter_map(|d| {
            let score = d.score?;
            let mut dates: Vec<chrono::NaiveDate> = answers
                .iter()
                .filter(|(sv, _)| sv.region.get_ref() == region && sv.round == d.round)
                .flat_map(|(_, a)| a.iter().filter_map(|x| x.answered))
                .collect();
            dates.sort_unstable();
            let t = match dates.get(dates.len() / 2) {
                Some(day) => crate::stages::assess::roadmap::fractional_year(*day),
                None => d.round.trim().parse::<f64>().ok()? + 0.5,
            };
            Some((t, score))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// Reads a price index file: `;`-separated `Vuosi;Indeksi` with a decimal comma.
fn read_price_index(
    p: &Prepared,
    cfg: &crate::model::config::PriceIndexConfig,
) -> Result<crate::stages::derive::kpa::PriceIndex, Error> {
    use crate::io::tabular::{Encoding, XCell, header_and_rows, rows_of};
    use crate::stages::normalize::regionfile::parse_fi_number;
    let path = p.pipeline.resolve(&cfg.path);
    let payload = p.read("kpa.price_index", &path)?;
    let file = path.display().to_string();
    let rows = rows_of(&payload.bytes, &file, Encoding::Auto, None)?;
    let mut values = BTreeMap::new();
    for (line, cells) in header_and_rows(&rows, &file)?.1 {
        let bad = |column: usize, message: String| crate::error::SourceError::Malformed {
            path: path.clone(),
            location: format!("line {line}, column {column}"),
            message,
        };
        let cell = |c: usize| cells.iter().find(|(x, _)| *x == c).map(|(_, v)| v);
        let (Some(y), Some(v)) = (cell(1), cell(2)) else {
            return Err(bad(1, "expected `Vuosi;Indeksi`".into()).into());
        };
        let year: i16 = y
            .text()
            .parse()
            .map_err(|_| bad(1, format!("`{}` is not a year", y.text())))?;
        let value = match v {
            XCell::Number(n) => Some(*n),
            other => parse_fi_number(&other.text()).map_err(|m| bad(2, m))?,
        }
        .ok_or_else(|| bad(2, "the index is empty".into()))?;
        values.insert(year, value);
    }
    if !values.contains_key(&cfg.base_year) {
        return Err(crate::error::SourceError::Malformed {
            path,
            location: String::new(),
            message: format!("no index for the base year {}", cfg.base_year),
        }
        .into());
    }
    Ok(crate::stages::derive::kpa::PriceIndex {
        name: cfg.name.clone(),
        base_year: cfg.base_year,
        values,
    })
}

/// Runs the pipeline's `[[checks]]` on the finished tables.
fn run_declared_checks(
    p: &Prepared,
    tables: &BTreeMap<&str, &DataFrame>,
    inputs: &[InputRecord],
    as_of: chrono::NaiveDate,
    strict: bool,
) -> Result<Vec<CheckRun>, Error> {
    let f = &p.pipeline.file;
    if f.checks.is_empty() {
        return Ok(Vec::new());
    }
    let known_regions: std::collections::BTreeSet<String> =
        p.registry.regions().map(|r| r.code.clone()).collect();
    let counties: Vec<String> = p.crosswalk.members().keys().cloned().collect();
    let municipalities: Vec<String> = p.crosswalk.members().values().flatten().cloned().collect();
    let focus: Vec<String> = f
        .regions
        .focus
        .iter()
        .map(|r| r.get_ref().clone())
        .collect();
    let source_updated: BTreeMap<String, Option<chrono::NaiveDate>> = inputs
        .iter()
        .map(|i| (i.source.clone(), declared_update(i)))
        .collect();
    let ctx = CheckContext {
        known_regions: &known_regions,
        focus: &focus,
        counties: &counties,
        municipalities: &municipalities,
        years: f.pipeline.years.get_ref(),
        as_of,
        source_updated: &source_updated,
    };
    let runs = run_checks(&f.checks, tables, &ctx, strict)?;
    for r in &runs {
        let o = &r.outcome;
        match o.status {
            CheckStatus::Pass => info!(check = %o.name, "Check passed: {}", o.message),
            CheckStatus::Warn => {
                warn!(check = %o.name, rows = o.failing_rows, "Check failed (warning): {}", o.message);
            }
            CheckStatus::Fail => {
                warn!(check = %o.name, rows = o.failing_rows, "Check failed: {}", o.message);
            }
        }
    }
    Ok(runs)
}

/// The latest update date an input declares: JSON-stat `updated` of its datasets, Sotkanet
/// `data-updated` of its indicator metadata.
fn declared_update(input: &InputRecord) -> Option<chrono::NaiveDate> {
    let parse = |s: &str| chrono::NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok();
    input
        .datasets
        .iter()
        .filter_map(|d| d.updated.as_deref().and_then(parse))
        .chain(
            input
                .metadata
                .as_ref()
                .and_then(|m| m.get("data-updated"))
                .and_then(serde_json::Value::as_str)
                .and_then(parse),
        )
        .max()
}

/// Stops the run when a check failed: the failing rows go beside the failed run's manifest
/// (`_runs/<run_id>/quarantine/checks/<name>.parquet`), nothing is published.
fn gate(
    checks: &mut [CheckRun],
    out: &Path,
    run_id: &str,
    pipeline: &str,
) -> Result<Option<crate::error::CheckError>, InternalError> {
    if !checks.iter().any(|c| c.outcome.status == CheckStatus::Fail) {
        return Ok(None);
    }
    let mut failed = Vec::new();
    for c in checks.iter_mut() {
        if let (Some(rows), Some(contract)) = (&mut c.rows, &c.contract) {
            let rel = format!(
                "_runs/{run_id}/quarantine/checks/{}.parquet",
                c.outcome.name
            );
            let path = out.join(&rel);
            if let Some(dir) = path.parent() {
                fs_err::create_dir_all(dir).map_err(|e| crate::io::atomic::write_error(dir, e))?;
            }
            contract.check_frame(rows)?;
            crate::stages::publish::write_parquet(
                rows,
                &path,
                contract.parquet_metadata(run_id, pipeline),
            )?;
            c.outcome.quarantine = Some(rel);
        }
        if c.outcome.status == CheckStatus::Fail {
            failed.push(&c.outcome);
        }
    }
    let first = failed[0];
    let look = first.quarantine.as_ref().map_or_else(
        || format!("_runs/{run_id}.json"),
        |q| format!("{q} and _runs/{run_id}.json"),
    );
    let others = if failed.len() > 1 {
        format!(
            " ({} more failed: {})",
            failed.len() - 1,
            failed[1..]
                .iter()
                .map(|o| o.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        String::new()
    };
    let message = format!(
        "{}: {}{others}; nothing was published, the previous outputs are unchanged; see {} in `{}`",
        first.kind.name(),
        first.message,
        look,
        out.display()
    );
    Ok(Some(crate::error::CheckError {
        check: first.name.clone(),
        message,
        failed: failed.len(),
    }))
}

/// A cross-source comparison beyond its tolerance fails the run before anything is published.
fn check_crosschecks(
    results: &[crate::stages::derive::CrossCheckResult],
    config: &[crate::model::config::CrossCheckConfig],
) -> Result<(), Error> {
    for c in config {
        let name = c.name.get_ref();
        let mine: Vec<_> = results.iter().filter(|r| &r.check == name).collect();
        let bad: Vec<_> = mine.iter().filter(|r| r.status == "mismatch").collect();
        let compared = mine.iter().filter(|r| r.status != "not_comparable").count();
        info!(check = %name, compared, mismatches = bad.len(), "Cross-source check");
        if !bad.is_empty() {
            let examples: Vec<String> = bad
                .iter()
                .take(5)
                .map(|r| {
                    format!(
                        "{} {}: computed {} vs published {} (difference {})",
                        r.region,
                        r.year,
                        r.computed.unwrap_or_default(),
                        r.published.unwrap_or_default(),
                        r.difference.unwrap_or_default()
                    )
                })
                .collect();
            return Err(crate::error::CheckError {
                check: name.clone(),
                message: format!(
                    "{} of {compared} county and country figures summed from `{}/{}` differ from the published `{}/{}` by more than {}: {}{}; nothing was published",
                    bad.len(),
                    c.computed.dataset.get_ref(),
                    c.computed.measure,
                    c.published.dataset.get_ref(),
                    c.published.measure,
                    c.tolerance,
                    examples.join("; "),
                    if bad.len() > examples.len() { "; ..." } else { "" }
                ),
                failed: 1,
            }
            .into());
        }
    }
    Ok(())
}

/// Polars dates are days since 1970-01-01.
fn date_column(name: &str, dates: &[Option<chrono::NaiveDate>]) -> Result<Column, InternalError> {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let days: Vec<Option<i32>> = dates
        .iter()
        .map(|d| d.and_then(|d| i32::try_from((d - epoch).num_days()).ok()))
        .collect();
    Ok(Series::new(name.into(), days)
        .cast(&DataType::Date)
        .context("building a date column")?
        .into())
}

/// The dated key, with where each municipality-year lands in the reference division.
pub fn crosswalk_frame(registry: &Registry, cw: &Crosswalk) -> Result<DataFrame, InternalError> {
    let rows: Vec<(i16, &String, &crate::model::regions::MunicipalityYear)> = registry
        .years()
        .iter()
        .flat_map(|(y, munis)| munis.iter().map(move |(code, m)| (*y, code, m)))
        .collect();
    let opt = |f: fn(&crate::model::regions::MunicipalityYear) -> &Option<Arc<str>>| -> Column {
        Series::new(
            "x".into(),
            rows.iter()
                .map(|(_, _, m)| f(m).as_deref())
                .collect::<Vec<_>>(),
        )
        .into()
    };
    let successor: Vec<Option<&str>> = rows.iter().map(|(_, c, _)| cw.successor(c)).collect();
    let columns = vec![
        Series::new(
            "year".into(),
            rows.iter().map(|(y, _, _)| *y).collect::<Vec<_>>(),
        )
        .into(),
        str_column("municipality", rows.iter().map(|(_, c, _)| c.as_str())),
        str_column("name_fi", rows.iter().map(|(_, _, m)| &*m.name_fi)),
        opt(|m| &m.county).with_name("county".into()),
        opt(|m| &m.region).with_name("region".into()),
        opt(|m| &m.hospital_district).with_name("hospital_district".into()),
        opt(|m| &m.collaboration_area).with_name("collaboration_area".into()),
        Series::new("reference_municipality".into(), successor.clone()).into(),
        Series::new(
            "reference_county".into(),
            successor
                .iter()
                .map(|s| s.and_then(|s| cw.county_of(s)))
                .collect::<Vec<_>>(),
        )
        .into(),
    ];
    DataFrame::new(rows.len(), columns).context("building `crosswalk`")
}

/// Every indicator of the run: the pipeline's own, then the catalogue's (derived or skipped).
pub fn catalogue_frame(p: &crate::model::config::Pipeline) -> Result<DataFrame, InternalError> {
    use crate::model::config::IndicatorConfig;
    let cat = p.catalogue.as_ref();
    let from_catalogue: std::collections::BTreeSet<&str> = cat
        .map(|c| c.used.iter().map(String::as_str).collect())
        .unwrap_or_default();
    // (entry, catalogue version, derived, skipped reason)
    let mut rows: Vec<(&IndicatorConfig, Option<&str>, bool, Option<&str>)> = p
        .file
        .indicators
        .iter()
        .map(|i| {
            let v = from_catalogue
                .contains(i.id.get_ref().as_str())
                .then(|| cat.map(|c| c.version.as_str()))
                .flatten();
            (i, v, true, None)
        })
        .collect();
    if let Some(c) = cat {
        for (id, reason) in &c.skipped {
            if let Some(e) = c.entries.iter().find(|e| e.id.get_ref() == id) {
                rows.push((e, Some(c.version.as_str()), false, Some(reason.as_str())));
            }
        }
    }
    let describe = |m: &crate::model::config::MeasureRef| {
        format!(
            "{}/{}.{} (sex {}, age {})",
            m.dataset.get_ref(),
            m.measure,
            m.field.column(),
            m.sex,
            m.age
        )
    };
    let opt = |name: &str, v: Vec<Option<String>>| -> Column { Series::new(name.into(), v).into() };
    let columns = vec![
        str_column("indicator", rows.iter().map(|r| r.0.id.get_ref().as_str())),
        opt(
            "catalogue_version",
            rows.iter().map(|r| r.1.map(str::to_owned)).collect(),
        ),
        opt("group", rows.iter().map(|r| r.0.group.clone()).collect()),
        str_column("title_fi", rows.iter().map(|r| r.0.title_fi.as_str())),
        opt(
            "title_sv",
            rows.iter().map(|r| r.0.title_sv.clone()).collect(),
        ),
        str_column("title_en", rows.iter().map(|r| r.0.title_en.as_str())),
        str_column("unit", rows.iter().map(|r| r.0.unit.as_str())),
        str_column(
            "aggregation",
            rows.iter().map(|r| match r.0.aggregation.get_ref() {
                crate::model::config::Aggregation::Count => "count",
                crate::model::config::Aggregation::Ratio => "ratio",
                crate::model::config::Aggregation::Mean => "mean",
                crate::model::config::Aggregation::Index => "index",
            }),
        ),
        opt(
            "numerator",
            rows.iter()
                .map(|r| Some(describe(&r.0.numerator)))
                .collect(),
        ),
        opt(
            "denominator",
            rows.iter()
                .map(|r| r.0.denominator.as_ref().map(describe))
                .collect(),
        ),
        opt(
            "weight",
            rows.iter()
                .map(|r| r.0.weight.as_ref().map(describe))
                .collect(),
        ),
        Series::new(
            "scale".into(),
            rows.iter().map(|r| r.0.scale).collect::<Vec<_>>(),
        )
        .into(),
        opt(
            "higher_is",
            rows.iter()
                .map(|r| r.0.higher_is.map(|d| d.as_str().to_owned()))
                .collect(),
        ),
        Series::new(
            "derived".into(),
            rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )
        .into(),
        opt(
            "skipped_reason",
            rows.iter().map(|r| r.3.map(str::to_owned)).collect(),
        ),
    ];
    DataFrame::new(rows.len(), columns).context("building `indicator_catalogue`")
}

/// Municipal mergers with their dates.
pub fn mergers_frame(registry: &Registry) -> Result<DataFrame, InternalError> {
    let m = registry.mergers();
    DataFrame::new(
        m.len(),
        vec![
            str_column("abolished", m.iter().map(|m| m.abolished.as_str())),
            str_column("joined", m.iter().map(|m| m.joined.as_str())),
            date_column(
                "effective",
                &m.iter().map(|m| m.effective).collect::<Vec<_>>(),
            )?,
        ],
    )
    .context("building `mergers`")
}

/// A non-null text column.
fn str_column<'a>(name: &str, values: impl Iterator<Item = &'a str>) -> Column {
    Series::new(name.into(), values.collect::<Vec<_>>()).into()
}

/// The plan `mittari validate` prints.
pub fn validate(path: &Path) -> Result<Vec<String>, Error> {
    let p = prepare(path)?;
    let f = &p.pipeline.file;
    let meta = &f.pipeline;
    let (sources, region_payloads) = read_and_decode(&p, Mode::Plan)?;
    let mut lines = vec![
        format!(
            "pipeline `{}` ({}, sha256 {})",
            meta.name,
            p.pipeline.path.display(),
            &p.pipeline.sha256[..12]
        ),
        format!(
            "reference year {}: {} municipalities in {} counties",
            meta.reference_year.get_ref(),
            p.crosswalk.municipality_count(),
            p.crosswalk.members().len()
        ),
        format!(
            "years: {}",
            meta.years
                .get_ref()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "focus regions:".to_owned(),
    ];
    for code in &f.regions.focus {
        if let Some(r) = p.registry.get(code.get_ref()) {
            lines.push(format!("  {} {} ({})", r.code, r.name_fi, r.name_en));
        }
    }
    lines.push("sources:".to_owned());
    for s in &sources {
        let label = format!(
            "  {} [{}{}] {}",
            s.config.id.get_ref(),
            s.config.format.name(),
            s.config
                .dataset
                .as_ref()
                .map(|d| format!(" {}", d.get_ref()))
                .unwrap_or_default(),
            s.origin,
        );
        if let Some(fetch) = &s.config.fetch {
            lines.push(format!(
                "{label}: not fetched by `validate`; `run` will send:"
            ));
            lines.extend(
                planned_requests(&p, s.config, fetch)
                    .into_iter()
                    .map(|r| format!("    {r}")),
            );
            continue;
        }
        let detail = if s.config.format == SourceFormat::SotkanetRegions {
            format!(
                "{} regions",
                region_payloads
                    .get(s.config.id.get_ref())
                    .map_or(0, HashMap::len)
            )
        } else {
            let rows: usize = s
                .parts
                .iter()
                .map(|(_, d)| d.rows.len() + d.resolved.len())
                .sum();
            let q: usize = s.parts.iter().map(|(_, d)| d.quarantine.len()).sum();
            format!("{rows} rows, {q} quarantined")
        };
        let (bytes, sha) = s
            .payloads
            .first()
            .zip(s.sizes.first())
            .map_or((0, ""), |(sp, n)| (*n, &sp.payload.sha256[..12]));
        lines.push(format!("{label} ({bytes} bytes, sha256 {sha}): {detail}"));
    }
    lines.push("indicators:".to_owned());
    for ind in &f.indicators {
        let measure = |d: &crate::model::config::MeasureRef| {
            format!("{}/{}.{}", d.dataset.get_ref(), d.measure, d.field.column())
        };
        let den = match (&ind.denominator, &ind.weight) {
            (Some(d), _) => format!(" / {}", measure(d)),
            (None, Some(w)) => format!(" weighted by {}", measure(w)),
            (None, None) => String::new(),
        };
        lines.push(format!(
            "  {} [{:?}] {}/{}.{}{den} × {} ({}): {}",
            ind.id.get_ref(),
            ind.aggregation.get_ref(),
            ind.numerator.dataset.get_ref(),
            ind.numerator.measure,
            ind.numerator.field.column(),
            ind.scale,
            ind.unit,
            ind.title_en
        ));
    }
    if let Some(c) = &p.pipeline.catalogue {
        lines.push(format!(
            "catalogue {} version {} (sha256 {}): {} indicators derived (listed above), {} skipped{}",
            c.path.display(),
            c.version,
            &c.sha256[..12],
            c.used.len(),
            c.skipped.len(),
            if c.skipped.is_empty() {
                String::new()
            } else {
                format!(
                    ": {}",
                    c.skipped
                        .iter()
                        .map(|(id, why)| format!("{id} ({why})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
    }
    if let Some(pop) = &f.population {
        lines.push(format!(
            "population structure from {}/{} ({}): bands {}; changes over {} years{}",
            pop.dataset.get_ref(),
            pop.measure,
            pop.sex,
            pop.bands
                .get_ref()
                .iter()
                .map(|b| crate::stages::derive::population::band_label(b))
                .collect::<Vec<_>>()
                .join(", "),
            pop.changes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            pop.projection
                .as_ref()
                .map(|p| format!("; projection {}/{}", p.dataset.get_ref(), p.measure))
                .unwrap_or_default()
        ));
    }
    for c in &f.crosschecks {
        lines.push(format!(
            "cross-check {}: {}/{} summed from municipalities = published {}/{} (tolerance {})",
            c.name.get_ref(),
            c.computed.dataset.get_ref(),
            c.computed.measure,
            c.published.dataset.get_ref(),
            c.published.measure,
            c.tolerance
        ));
    }
    for c in &f.checks {
        let scope = match (&c.table, &c.source) {
            (Some(t), _) => format!("on `{}`", t.get_ref()),
            (None, Some(s)) => format!("on source `{}`", s.get_ref()),
            (None, None) => String::new(),
        };
        lines.push(format!(
            "check {} ({}): {} {scope}",
            c.name.get_ref(),
            c.severity.name(),
            c.kind.get_ref().name()
        ));
    }
    let out = output_dir(&p.pipeline, None);
    lines.push(format!(
        "outputs in {}: observations, regions, crosswalk, mergers, indicators, indicator_catalogue, quarantine/observations, quarantine/indicators{}",
        out.display(),
        if f.output.csv { " (+ CSV twins under csv/)" } else { "" }
    ));
    lines.push("nothing written".to_owned());
    Ok(lines)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Counted per indicator in byte order, whether the rows come in runs or not, values
    /// missing counted apart; no rows, no summaries.
    #[test]
    fn indicator_summaries_count_rows_and_values() {
        let ids = ["b", "b", "a", "b", "c", "a", "a"];
        let values = [Some(1.0), None, Some(2.0), Some(3.0), None, None, Some(4.0)];
        let df = DataFrame::new(
            ids.len(),
            vec![
                Column::new("indicator".into(), ids),
                Column::new("value".into(), values),
            ],
        )
        .unwrap();
        let got: Vec<(String, usize, usize, usize)> = indicator_summaries(&df)
            .unwrap()
            .into_iter()
            .map(|s| (s.indicator, s.rows, s.with_value, s.without_value))
            .collect();
        let expected = [("a", 3, 2, 1), ("b", 3, 2, 1), ("c", 1, 0, 1)]
            .map(|(id, r, w, wo)| (id.to_owned(), r, w, wo));
        assert_eq!(got, expected);
        assert!(indicator_summaries(&df.clear()).unwrap().is_empty());
    }
}
