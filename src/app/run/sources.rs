//! Every source of a run, obtained and decoded: web payloads fetched (or revalidated, or replayed
//! from the archive), local files read, and each payload handed to its decoder, one dispatch per
//! format (shared with `convert` through [`crate::stages::normalize`]). Also the price index a
//! pipeline's cost figures are deflated with.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::error::PolarsContext;
use polars::prelude::DataFrame;
use rayon::iter::{IntoParallelIterator, IntoParallelRefIterator, ParallelIterator};
use tracing::{info, warn};

use crate::app::manifest::{InputRecord, PayloadRecord};
use crate::archive::{Archive, Payload};
use crate::error::{Error, InternalError, SourceError};
use crate::http::{Client, Expect};
use crate::model::columns::ObservationColumns;
use crate::model::config::{ApiKind, SourceConfig, SourceFormat};
use crate::model::observation::Provenance;
use crate::model::quarantine::QuarantineEntry;
use crate::model::regions::Registry;
use crate::model::regions::resolve::{RegionResolver, SotkanetRegion};
use crate::stages::extract;
use crate::stages::extract::{PayloadOrigin, PayloadRole, SourcePayload};
use crate::stages::normalize::jsonstat::DimensionRoles;
use crate::stages::normalize::regionfile::KpaRow;
use crate::stages::normalize::{
    Collect, DecodeContext, Decoded, PayloadFormat, decode_payload, sotkanet,
};

use super::prepare::{Prepared, absolute};

/// Sotkanet `/regions` payloads by source id.
pub(crate) type RegionPayloads = HashMap<String, HashMap<i64, SotkanetRegion>>;

/// A source read (or fetched) and decoded.
pub(crate) struct SourceResult<'a> {
    pub(crate) config: &'a SourceConfig,
    /// The file, or `fetch from <api>`.
    pub(crate) origin: String,
    /// Every payload the source used (data, metadata, config), in the order obtained.
    pub(crate) payloads: Vec<SourcePayload>,
    /// Size in bytes of each payload (whose bytes are dropped once decoded).
    pub(crate) sizes: Vec<u64>,
    /// Decoded data payloads: index into `payloads`, and what it decoded to.
    pub(crate) parts: Vec<(usize, Decoded)>,
    /// Sotkanet indicator metadata, for the manifest.
    pub(crate) metadata: Option<serde_json::Value>,
    /// KPA rows (kpa-csv sources): index into `payloads`, rows.
    pub(crate) kpa: Vec<(usize, Vec<crate::stages::normalize::regionfile::KpaRow>)>,
}

/// How sources are read: `validate` reads files and only plans live sources.
pub(crate) enum Mode<'c> {
    /// Files read, live sources described, nothing archived.
    Plan,
    /// Everything read or fetched, and archived.
    Run(&'c Archive, Option<&'c mut Client>),
}

/// A source's payloads, read or fetched, not yet decoded.
pub(crate) struct Obtained<'a> {
    pub(crate) config: &'a SourceConfig,
    /// The file, or `fetch from <api>`.
    pub(crate) origin: String,
    pub(crate) payloads: Vec<SourcePayload>,
    pub(crate) metadata: Option<serde_json::Value>,
    /// A local file read only when the source is decoded (by [`decode_source`]).
    pub(crate) unread: Option<PathBuf>,
}

/// Reads (or fetches) and decodes every source; `/regions` payloads are returned separately.
pub(crate) fn read_and_decode<'a>(
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
pub(crate) type LocalFile = (PathBuf, Option<Result<Payload, SourceError>>);

/// Reads (or fetches) every source's payloads, in pipeline order.
pub(crate) fn obtain_all<'a>(
    p: &'a Prepared,
    mut mode: Mode<'_>,
) -> Result<Vec<Obtained<'a>>, Error> {
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
            let payload = (!deferred).then(|| p.read(&s.id, &path));
            Some((path, payload))
        })
        .collect();
    let mut all = Vec::new();
    for (s, file) in sources.iter().zip(files) {
        let id = &s.id;
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
                let origin = format!("fetch from `{}`", fetch.api);
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
pub(crate) fn file_payload(
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
        role: PayloadRole::Data,
        origin: PayloadOrigin::File,
        payload,
    })
}

/// Where a payload's problems are reported: the file, or the request.
pub(crate) fn payload_file(origin: &str, sp: &SourcePayload) -> String {
    if sp.origin == PayloadOrigin::File {
        origin.to_owned()
    } else {
        sp.request.clone()
    }
}

/// Decodes the Sotkanet `/regions` sources, which resolve the others' region ids.
pub(crate) fn decode_regions(obtained: &[Obtained<'_>]) -> Result<RegionPayloads, Error> {
    let mut regions = HashMap::new();
    for o in obtained
        .iter()
        .filter(|o| o.config.format == SourceFormat::SotkanetRegions)
    {
        for sp in o.payloads.iter().filter(|sp| sp.role == PayloadRole::Data) {
            regions.insert(
                o.config.id.clone(),
                sotkanet::decode_regions(&sp.payload.bytes, &payload_file(&o.origin, sp))?,
            );
        }
    }
    Ok(regions)
}

/// Decodes one source's data payloads (not `/regions`: see [`decode_regions`]), reading (and in
/// a run, `archive`-ing) its local file first if [`obtain_all`] left it unread, then drops their
/// bytes: from here on only each payload's size and sha256 are needed.
pub(crate) fn decode_source<'a>(
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
        let payload = p.read(&s.id, &path)?;
        payloads.push(file_payload(&path, payload, archive)?);
    }
    let id = &s.id;
    let mut parts = Vec::new();
    let mut kpa = Vec::new();
    let resolver = resolver_of(&p.registry, s, region_payloads);
    // A THL cube's answers are read with their categories as the fetch resolved them.
    let cube_categories = s
        .fetch
        .as_ref()
        .and_then(|f| p.pipeline.file.apis.get(&f.api))
        .filter(|api| api.kind == ApiKind::ThlCube)
        .map(|_| crate::stages::normalize::thl_cube::categories_of(metadata.as_ref()));
    if s.format != SourceFormat::SotkanetRegions {
        for (i, sp) in payloads
            .iter()
            .enumerate()
            .filter(|(_, sp)| sp.role == PayloadRole::Data)
        {
            let ctx = DecodeContext {
                source_id: id.clone(),
                dataset: s.dataset.clone().unwrap_or_default(),
                file: payload_file(&origin, sp),
                raw_sha256: sp.payload.sha256.clone(),
                unit: s.unit.clone(),
                latest_year: p
                    .as_of
                    .map(|d| i16::try_from(chrono::Datelike::year(&d)).unwrap_or(i16::MAX)),
            };
            if s.format.is_kpa() {
                let reject =
                    |location, rule, reason, record| ctx.quarantine(location, rule, reason, record);
                let table = if s.format == SourceFormat::KpaXlsx {
                    crate::io::tabular::workbook::first_sheet(&sp.payload.bytes, &ctx.file)?
                } else {
                    crate::io::tabular::text_rows(&sp.payload.bytes, &ctx.file, s.encoding)?
                };
                let (rows, quarantine) =
                    crate::stages::normalize::regionfile::read_kpa(&table, &ctx.file, &reject)?;
                kpa.push((i, rows));
                parts.push((
                    i,
                    Decoded {
                        quarantine,
                        ..Decoded::default()
                    },
                ));
                continue;
            }
            let provenance = Provenance {
                source_id: id,
                raw_sha256: &sp.payload.sha256,
                retrieved_at: sp.payload.retrieved_at,
            };
            let mut sink = Collect::new(&resolver, &provenance);
            let adapted = match &cube_categories {
                Some(c) => Some(crate::stages::normalize::thl_cube::adapt(
                    &sp.payload.bytes,
                    c,
                    &ctx.file,
                )?),
                None => None,
            };
            let datasets = decode_payload(
                payload_format(s.format)?,
                adapted.as_deref().unwrap_or(&sp.payload.bytes),
                &roles_of(s, metadata.as_ref()),
                &ctx,
                &resolver,
                &provenance,
                &mut sink,
            )?;
            parts.push((
                i,
                Decoded {
                    datasets,
                    ..sink.finish()
                },
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
pub(crate) fn planned_requests(
    p: &Prepared,
    s: &SourceConfig,
    fetch: &crate::model::config::FetchConfig,
) -> Vec<String> {
    let f = &p.pipeline.file;
    let Some(api) = f.apis.get(&fetch.api) else {
        return Vec::new();
    };
    match (api.kind, s.format) {
        (ApiKind::Sotkanet, SourceFormat::SotkanetRegions) => {
            vec![extract::sotkanet::regions_request(&api.url).line()]
        }
        (ApiKind::Sotkanet, _) => extract::sotkanet::DataPlan::of(fetch, &f.pipeline.years)
            .requests(&api.url)
            .iter()
            .map(crate::http::Request::line)
            .collect(),
        (ApiKind::PxwebV1 | ApiKind::PxwebV2, _) => {
            let (config, meta, data) =
                extract::pxweb::urls(api, fetch.table.as_deref().unwrap_or_default());
            let by_role = fetch.select.is_some();
            let query: Vec<String> = fetch
                .query
                .iter()
                .chain(fetch.select.iter())
                .flatten()
                .map(|(k, v)| format!("{k}={}", v.join(",")))
                .collect();
            let mut lines = vec![
                format!("GET {config}"),
                format!("GET {meta}"),
                format!(
                    "POST {data} [{}{}], in batches under the API's cell limit",
                    query.join("; "),
                    if by_role {
                        "; roles resolved against the table's metadata when it is fetched"
                    } else {
                        ""
                    }
                ),
            ];
            if let Some(select) = &fetch.select {
                lines.push(archived_resolution(p, api, &meta, select));
            }
            lines
        }
        (ApiKind::ThlCube, _) => {
            let (dims, data) =
                extract::thl_cube::urls(api, fetch.cube.as_deref().unwrap_or_default());
            vec![
                format!("GET {dims}"),
                format!(
                    "GET {data}?<the selection {} resolved against the cube's dimensions when they are fetched>",
                    fetch
                        .select
                        .iter()
                        .flatten()
                        .map(|(k, v)| format!("{k}={}", v.join(",")))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ]
        }
    }
}

/// What a selection's roles resolve to against the table's metadata in the raw archive (from
/// the last run), without a request: `validate` never touches the network.
fn archived_resolution(
    p: &Prepared,
    api: &crate::model::config::ApiConfig,
    meta_url: &str,
    select: &BTreeMap<String, Vec<String>>,
) -> String {
    let cache = std::env::var_os(crate::env_vars::MITTARI_CACHE)
        .filter(|v| !v.is_empty())
        .map_or_else(super::default_cache_dir, PathBuf::from);
    let archive = Archive::new(&cache);
    let request = crate::http::Request::get(meta_url.to_owned()).line();
    let Some(entry) = archive.lookup(&request, None).ok().flatten() else {
        return "roles: not resolved yet (no archived metadata; `mittari doctor` resolves them now)"
            .to_owned();
    };
    let parsed = archive
        .load(&entry.sha256, entry.retrieved_at)
        .map_err(|e| e.to_string())
        .and_then(|payload| match api.kind {
            ApiKind::PxwebV2 => extract::pxweb::parse_v2_metadata(&payload.bytes),
            _ => extract::pxweb::parse_v1_metadata(&payload.bytes),
        });
    let is_region = |code: &str| p.registry.get(code).is_some();
    match parsed.and_then(|vars| extract::pxweb::resolve_roles(select, &vars, &is_region)) {
        Ok(r) => format!(
            "roles (the table's metadata archived {}): {}",
            entry.retrieved_at.format("%Y-%m-%d"),
            r.roles
                .iter()
                .map(|(role, code)| format!("{role} -> {code}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(message) => format!(
            "roles: the table's metadata archived {} does not fit: {message}",
            entry.retrieved_at.format("%Y-%m-%d")
        ),
    }
}

/// Fetches a live source through its API.
pub(crate) fn fetch_source(
    p: &Prepared,
    s: &SourceConfig,
    client: &mut Client,
) -> Result<(Vec<SourcePayload>, Option<serde_json::Value>), Error> {
    let f = &p.pipeline.file;
    let Some(fetch) = &s.fetch else {
        return Ok((Vec::new(), None));
    };
    let api = f.apis.get(&fetch.api).ok_or_else(|| {
        InternalError::Invariant(format!("api `{}` vanished after checking", fetch.api))
    })?;
    info!(source = %s.id, api = %fetch.api, "Fetching");
    client.begin(&s.id);
    let fetched = fetch_with(p, s, fetch, api, client);
    client.end();
    fetched
}

pub(crate) fn fetch_with(
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
            (vec![SourcePayload::new(&req, got, PayloadRole::Data)], None)
        }
        (ApiKind::Sotkanet, _) => {
            let plan = extract::sotkanet::DataPlan::of(fetch, &f.pipeline.years);
            let (meta, payloads) = extract::sotkanet::fetch_indicator(client, &api.url, &plan)?;
            (payloads, serde_json::to_value(meta).ok())
        }
        (ApiKind::PxwebV1 | ApiKind::PxwebV2, _) => {
            let is_region = |code: &str| p.registry.get(code).is_some();
            extract::pxweb::fetch(client, api, fetch, &is_region)?
        }
        (ApiKind::ThlCube, _) => {
            let names = extract::thl_cube::RegionNames::of(&p.registry, f.pipeline.reference_year);
            extract::thl_cube::fetch(client, api, fetch, &|n| names.node(n))?
        }
    })
}

/// How a source's region ids resolve: through the `/regions` payload it names, if any.
pub(crate) fn resolver_of<'r>(
    registry: &'r Registry,
    config: &SourceConfig,
    region_payloads: &'r RegionPayloads,
) -> RegionResolver<'r> {
    RegionResolver {
        registry,
        sotkanet_regions: config.regions.as_ref().and_then(|r| {
            region_payloads
                .get_key_value(r)
                .map(|(name, m)| (name.as_str(), m))
        }),
    }
}

/// The web payloads of a run, in a stable order.
pub(crate) fn web_payloads<'s>(
    payloads: impl Iterator<Item = &'s SourcePayload>,
) -> Vec<crate::app::state::PayloadDep> {
    let mut deps: Vec<crate::app::state::PayloadDep> = payloads
        .filter(|sp| sp.origin != PayloadOrigin::File)
        .map(|sp| crate::app::state::PayloadDep {
            request: sp.request.clone(),
            sha256: sp.payload.sha256.clone(),
        })
        .collect();
    deps.sort();
    deps.dedup();
    deps
}

/// Reads a price index file: `;`-separated `Vuosi;Indeksi` with a decimal comma.
pub(crate) fn read_price_index(
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

/// What the sources of a run come to: the `observations` frame, the rows quarantined on the
/// way, the manifest's record of every input, and the rows of the region's own cost files.
pub(crate) struct Normalized<'p> {
    pub(crate) observations: DataFrame,
    pub(crate) quarantine: Vec<QuarantineEntry>,
    pub(crate) inputs: Vec<InputRecord>,
    /// What a reader of the manifest should know: sources that gave no rows.
    pub(crate) warnings: Vec<String>,
    /// KPA rows: the source, the sha256 of its file, the rows.
    pub(crate) kpa: Vec<(&'p SourceConfig, String, Vec<KpaRow>)>,
}

/// The normalize and conform stages over every source: decoded a batch at a time in parallel
/// (a source per core) and conformed into the observation columns in pipeline order; the next
/// batch is decoded while one is conformed, so that at most two batches' decoded rows are held
/// at once.
pub(crate) fn normalize_sources<'p>(
    p: &'p Prepared,
    obtained: Vec<Obtained<'p>>,
    archive: &Archive,
) -> Result<Normalized<'p>, Error> {
    let region_payloads = decode_regions(&obtained)?;
    let mut columns = ObservationColumns::default();
    let mut quarantine_obs: Vec<QuarantineEntry> = Vec::new();
    let mut inputs = Vec::new();
    let mut warnings = Vec::new();
    // KPA rows: (source config, sha256 of the file, rows).
    let mut kpa_inputs = Vec::new();
    // Each source conformed into the columns, in pipeline order.
    let mut absorb = |s: SourceResult<'p>| -> Result<(), Error> {
        let id = &s.config.id;
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
        for (_, decoded) in s.parts {
            quarantine_obs.extend(decoded.quarantine);
            columns.append(decoded.resolved);
        }
        let kpa_rows: usize = s.kpa.iter().map(|(_, rows)| rows.len()).sum();
        let (rows, quarantined) = (
            columns.len() - before_rows + kpa_rows,
            quarantine_obs.len() - before_q,
        );
        if rows == 0 && (s.config.format.has_observations() || s.config.format.is_kpa()) {
            let warning = format!(
                "source `{id}` gave no rows{}: every figure that needs it is missing",
                if quarantined > 0 {
                    format!(" ({quarantined} quarantined)")
                } else {
                    String::new()
                }
            );
            warn!(source = %id, "{warning}");
            warnings.push(warning);
        }
        if quarantined > 0 {
            warn!(
                source = %id,
                "{}",
                crate::model::quarantine::summary(&quarantine_obs[before_q..])
            );
        }
        if let Some(regions) = region_payloads.get(id) {
            info!(source = %id, regions = regions.len(), "Read region payload");
        } else {
            info!(source = %id, rows, "Decoded source");
        }
        inputs.push(InputRecord {
            source: id.clone(),
            format: s.config.format.name().to_owned(),
            dataset: s.config.dataset.clone(),
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
    let batch = rayon::current_num_threads().max(1);
    let mut pending = obtained.into_iter();
    let decode_batch = |sources: Vec<Obtained<'p>>| -> Vec<Result<SourceResult<'p>, Error>> {
        sources
            .into_par_iter()
            .map(|o| decode_source(o, p, Some(archive), &region_payloads))
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
    let source_of: HashMap<&str, &str> = inputs
        .iter()
        .flat_map(|i| {
            i.payloads
                .iter()
                .map(|p| (p.sha256.as_str(), i.source.as_str()))
        })
        .collect();
    let (observations, repeated) = columns.into_frame_one_per_key(&|sha| {
        source_of.get(sha).copied().unwrap_or_default().to_owned()
    })?;
    if !repeated.is_empty() {
        account_for_repeats(&mut inputs, &observations, &repeated)?;
        quarantine_obs.extend(repeated);
    }
    Ok(Normalized {
        observations,
        quarantine: quarantine_obs,
        inputs,
        warnings,
        kpa: kpa_inputs,
    })
}

/// Repeated rows were quarantined after every source was read: each source's rows are counted
/// again from `observations`, its quarantined rows gain the repeats, and each source with
/// repeats says so in the log, with its rules and the first location.
fn account_for_repeats(
    inputs: &mut [InputRecord],
    observations: &polars::prelude::DataFrame,
    repeated: &[QuarantineEntry],
) -> Result<(), Error> {
    let what = "counting rows per payload";
    let sha = observations
        .column("raw_sha256")
        .and_then(|c| c.cast(&polars::prelude::DataType::String))
        .context(what)?;
    let mut per_payload: HashMap<&str, usize> = HashMap::new();
    for v in sha.str().context(what)?.iter().flatten() {
        *per_payload.entry(v).or_default() += 1;
    }
    for input in inputs.iter_mut() {
        let mine: Vec<&QuarantineEntry> = repeated
            .iter()
            .filter(|q| q.source == input.source)
            .collect();
        if mine.is_empty() {
            continue;
        }
        input.rows = input
            .payloads
            .iter()
            .map(|p| {
                per_payload
                    .get(p.sha256.as_str())
                    .copied()
                    .unwrap_or_default()
            })
            .sum();
        input.quarantined += mine.len();
        let entries: Vec<QuarantineEntry> = mine.into_iter().cloned().collect();
        warn!(
            source = %input.source,
            "{}",
            crate::model::quarantine::summary(&entries)
        );
    }
    Ok(())
}

/// Which dimension of a JSON-stat source is which, as its pipeline entry says.
/// With a PxWeb `select`, the roles resolved against the table's metadata (`metadata`'s
/// `dimensions`, see [`extract::pxweb::fetch`]) fill those the pipeline's `dimensions` leaves
/// out.
pub(crate) fn roles_of(s: &SourceConfig, metadata: Option<&serde_json::Value>) -> DimensionRoles {
    let d = s.dimensions.clone().unwrap_or_default();
    let resolved = |role: &str| {
        metadata
            .and_then(|m| m["dimensions"][role].as_str())
            .map(str::to_owned)
    };
    DimensionRoles {
        region: d.region.or_else(|| resolved("region")),
        region_code: d.region_code,
        time: d.time.or_else(|| resolved("time")),
        measure: d.measure.or_else(|| resolved("measure")),
        sex: d.sex.or_else(|| resolved("sex")),
        age: d.age.or_else(|| resolved("age")),
        sex_codes: s.sex_codes.clone(),
    }
}

/// The decoder of a source format that holds observations.
fn payload_format(format: SourceFormat) -> Result<PayloadFormat, InternalError> {
    match format {
        SourceFormat::SotkanetJson => Ok(PayloadFormat::SotkanetJson),
        SourceFormat::SotkanetCsv => Ok(PayloadFormat::SotkanetCsv),
        SourceFormat::Jsonstat => Ok(PayloadFormat::Jsonstat),
        SourceFormat::SotkanetRegions | SourceFormat::KpaCsv | SourceFormat::KpaXlsx => Err(
            InternalError::Invariant(format!("`{}` payloads have no observations", format.name())),
        ),
    }
}
