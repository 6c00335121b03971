//! PxWeb over HTTP: Statistics Finland's API v1 and PxWebApi 2, behind one interface.
//!
//! | | v1 (StatFin) | v2 (SCB, SSB) |
//! |---|---|---|
//! | limits | `GET <root>/?config`: `maxValues`, `maxCalls`, `timeWindow` | `GET <url>/config`: `maxDataCells`, `maxCallsPerTimeWindow`, `timeWindow` |
//! | metadata | `GET <url>/<table>`: `variables[{code, values, time}]` | `GET <url>/tables/<id>/metadata?outputFormat=json-stat2` |
//! | data | `POST <url>/<table>`, `{"query": [...], "response": {"format": "json-stat2"}}` | `POST <url>/tables/<id>/data?outputFormat=json-stat2`, `{"selection": [...]}` |
//!
//! A pipeline selects by role (`select = { region = ["*"], time = ["2024"], sex = ["SSS"] }`):
//! each role is resolved against the table's metadata ([`resolve_roles`]), so a pipeline keeps
//! working when StatFin renames a variable (it renamed tables and variables on 8 June 2026, and
//! dates its area variable by regional division: `alue_23_20260101`). Exact variable codes stay
//! possible (`query = { alue_23_20260101 = ["*"] }`). `["*"]` selects every value. Codes are
//! checked against the table's metadata before anything is posted: an unknown variable or value
//! is an error naming it. A query of more cells than the API's limit is split by [`split`] into batches under
//! it; each batch is posted (through the host's token bucket, set from the API's call limit),
//! archived and decoded on its own, and the batches' rows together are the query's rows.
//! When the config answer cannot be read, StatFin's published limits (120 000 cells, 40 calls
//! per 60 s) are used, with a warning: never faster than the API allows.

use std::time::Duration;

use serde::Deserialize;
use tracing::{info, warn};

use super::{PayloadRole, SourcePayload};
use crate::error::{Error, SourceError};
use crate::http::{Client, Expect, Request};
use crate::model::config::{ApiConfig, ApiKind, FetchConfig};

/// The limits an API announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most cells in one query.
    pub max_cells: u64,
    /// Most calls per window.
    pub max_calls: u32,
    /// The window.
    pub window: Duration,
}

/// The limits used when a config answer cannot be read: StatFin's published ones (120 000
/// cells, 40 calls per 60 s, as its `?config` answered in 2026), no faster.
pub const STATFIN_LIMITS: Limits = Limits {
    max_cells: 120_000,
    max_calls: 40,
    window: Duration::from_mins(1),
};

/// What a variable is to splitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Anything else (region, age, sex ...): split first.
    Other,
    /// The time variable: split only when splitting the others is not enough.
    Time,
    /// The content (measure) variable: split last.
    Content,
}

/// A variable with the value codes selected from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Variable code.
    pub code: String,
    /// Selected value codes.
    pub values: Vec<String>,
    /// Its role.
    pub role: Role,
}

/// Cells of a query: the product of the selected values' counts.
pub fn cells(query: &[Selection]) -> u64 {
    query
        .iter()
        .map(|s| s.values.len() as u64)
        .fold(1, u64::saturating_mul)
}

/// Splits a query into batches of at most `max_cells` cells whose union is the query, each cell
/// in exactly one batch. Variables are split in the order: other variables (the one with most
/// values first), then time, then content, so time and content are split only when splitting
/// every other variable down to single values would not be enough.
pub fn split(query: &[Selection], max_cells: u64) -> Vec<Vec<Selection>> {
    let max_cells = max_cells.max(1);
    if cells(query) <= max_cells {
        return vec![query.to_vec()];
    }
    // The variable to split: by role, then most values; only one with more than one value.
    let Some(k) = (0..query.len())
        .filter(|i| query[*i].values.len() > 1)
        .min_by_key(|i| (query[*i].role, std::cmp::Reverse(query[*i].values.len())))
    else {
        return vec![query.to_vec()];
    };
    let rest = cells(query) / query[k].values.len() as u64;
    let chunk = usize::try_from((max_cells / rest).max(1)).unwrap_or(usize::MAX);
    query[k]
        .values
        .chunks(chunk)
        .flat_map(|values| {
            let mut part = query.to_vec();
            part[k].values = values.to_vec();
            if rest <= max_cells {
                vec![part]
            } else {
                split(&part, max_cells)
            }
        })
        .collect()
}

/// A variable as the table's metadata lists it.
#[derive(Debug, Clone)]
pub struct Variable {
    /// Code.
    pub code: String,
    /// Label (v1 `text`, v2 the dimension's `label`).
    pub label: String,
    /// Every value code, in order.
    pub values: Vec<String>,
    /// Marked as time by the metadata.
    pub time: bool,
    /// Marked as the metric (content) by the metadata.
    pub metric: bool,
}

/// Resolves the pipeline's query against the metadata: `*` expands to every value; unknown
/// variables and values are errors naming them. Variables the query leaves out are left out (the
/// API eliminates them or answers with an error naming them).
pub fn resolve(
    query: &std::collections::BTreeMap<String, Vec<String>>,
    variables: &[Variable],
    time_variable: Option<&str>,
    content_variable: Option<&str>,
) -> Result<Vec<Selection>, String> {
    let mut out = Vec::new();
    for v in variables {
        let Some(wanted) = query.get(&v.code) else {
            continue;
        };
        let values = if wanted.iter().any(|w| w == "*") {
            v.values.clone()
        } else {
            if let Some(missing) = wanted.iter().find(|w| !v.values.contains(w)) {
                let some: Vec<&str> = v.values.iter().take(8).map(String::as_str).collect();
                return Err(format!(
                    "variable `{}` has no value `{missing}` (it has {} values, e.g. {})",
                    v.code,
                    v.values.len(),
                    some.join(", ")
                ));
            }
            wanted.clone()
        };
        let is_time = time_variable.map_or(v.time, |t| t == v.code);
        let is_content = content_variable.map_or_else(
            || v.metric || ["Tiedot", "tiedot", "ContentsCode"].contains(&v.code.as_str()),
            |c| c == v.code,
        );
        out.push(Selection {
            code: v.code.clone(),
            values,
            role: if is_content {
                Role::Content
            } else if is_time {
                Role::Time
            } else {
                Role::Other
            },
        });
    }
    if let Some(unknown) = query
        .keys()
        .find(|k| !variables.iter().any(|v| &&v.code == k))
    {
        let codes: Vec<&str> = variables.iter().map(|v| v.code.as_str()).collect();
        return Err(format!(
            "the table has no variable `{unknown}` (it has: {})",
            codes.join(", ")
        ));
    }
    Ok(out)
}

/// The roles a pipeline's `select` may name; any other key names a variable by code or label.
pub const ROLES: [&str; 5] = ["region", "time", "sex", "age", "measure"];

/// A variable's code without the division date StatFin appends and renames with each regional
/// division (`alue_23_20260101` -> `alue`, `ikaryhma_10_20180101` -> `ikaryhma`), lower case.
pub fn stem(code: &str) -> String {
    let lower = code.to_lowercase();
    let parts: Vec<&str> = lower.split('_').collect();
    let dated = parts.len() >= 3
        && parts[parts.len() - 1].len() == 8
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && parts[parts.len() - 2].bytes().all(|b| b.is_ascii_digit());
    if dated {
        parts[..parts.len() - 2].join("_")
    } else {
        lower
    }
}

/// Whether a variable can be the given role.
fn plays(role: &str, v: &Variable, is_region: &dyn Fn(&str) -> bool) -> bool {
    let stem = stem(&v.code);
    let stem = stem.replace('ä', "a").replace('ö', "o");
    match role {
        "time" => {
            v.time
                || stem.starts_with("timeperiod")
                || [
                    "vuosi",
                    "kuukausi",
                    "vuosineljannes",
                    "tid",
                    "year",
                    "month",
                    "quarter",
                ]
                .contains(&stem.as_str())
        }
        "region" => {
            !v.time
                && (stem.starts_with("alue")
                    || stem == "region"
                    || (!v.values.is_empty()
                        && v.values.iter().filter(|c| is_region(c)).count() * 10
                            >= v.values.len() * 9))
        }
        "sex" => ["sukupuoli", "sex", "kon"].contains(&stem.as_str()),
        "age" => stem.starts_with("ika") || ["age", "alder"].contains(&stem.as_str()),
        "measure" => v.metric || ["tiedot", "contentscode"].contains(&stem.as_str()),
        _ => false,
    }
}

/// What a pipeline's `select` resolved to against a table's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleResolution {
    /// The query by variable code, as [`resolve`] takes it.
    pub query: std::collections::BTreeMap<String, Vec<String>>,
    /// Role (or the key the pipeline used) -> the table's variable code.
    pub roles: std::collections::BTreeMap<String, String>,
}

/// Resolves `select` (role or variable -> values) against the table's variables: `time` is
/// the variable the metadata marks as time; `region` the one whose code starts with `alue`
/// (whatever division date follows) or whose values are region codes the registry knows;
/// `sex`, `age` and `measure` by their codes' stems (and the metadata's metric role); any other
/// key names a variable by its code or its label. A role that matches no variable, or more than
/// one, is an error listing the table's variables.
pub fn resolve_roles(
    select: &std::collections::BTreeMap<String, Vec<String>>,
    variables: &[Variable],
    is_region: &dyn Fn(&str) -> bool,
) -> Result<RoleResolution, String> {
    let listing = || {
        variables
            .iter()
            .map(|v| format!("`{}` ({}, {} values)", v.code, v.label, v.values.len()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = RoleResolution {
        query: std::collections::BTreeMap::new(),
        roles: std::collections::BTreeMap::new(),
    };
    for (key, values) in select {
        let matches: Vec<&Variable> = if ROLES.contains(&key.as_str()) {
            variables
                .iter()
                .filter(|v| plays(key, v, is_region))
                .collect()
        } else {
            variables
                .iter()
                .filter(|v| {
                    v.code == *key
                        || v.label.eq_ignore_ascii_case(key)
                        || stem(&v.code) == key.to_lowercase()
                })
                .collect()
        };
        let v = match matches[..] {
            [v] => v,
            [] => {
                return Err(format!(
                    "`{key}` matches none of the table's variables: {}",
                    listing()
                ));
            }
            _ => {
                let codes: Vec<&str> = matches.iter().map(|v| v.code.as_str()).collect();
                return Err(format!(
                    "`{key}` is ambiguous: it matches `{}`; name the variable by its code (the \
                     table has {})",
                    codes.join("`, `"),
                    listing()
                ));
            }
        };
        if let Some((other, _)) = out.roles.iter().find(|(_, c)| **c == v.code) {
            return Err(format!(
                "`{key}` and `{other}` both resolve to the variable `{}`",
                v.code
            ));
        }
        out.roles.insert(key.clone(), v.code.clone());
        out.query.insert(v.code.clone(), values.clone());
    }
    Ok(out)
}

/// Reads the limits of a config answer (v1 or v2 key names); `None` where a key is absent.
pub fn parse_limits(bytes: &[u8]) -> Option<Limits> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Config {
        max_values: Option<u64>,
        max_data_cells: Option<u64>,
        max_calls: Option<u32>,
        max_calls_per_time_window: Option<u32>,
        time_window: Option<u64>,
    }
    let c: Config = serde_json::from_slice(bytes).ok()?;
    Some(Limits {
        max_cells: c.max_values.or(c.max_data_cells)?,
        max_calls: c.max_calls.or(c.max_calls_per_time_window)?,
        window: Duration::from_secs(c.time_window?),
    })
}

/// Variables of v1 table metadata (`{"title", "variables": [...]}`).
pub fn parse_v1_metadata(bytes: &[u8]) -> Result<Vec<Variable>, String> {
    #[derive(Deserialize)]
    struct Meta {
        variables: Vec<V>,
    }
    #[derive(Deserialize)]
    struct V {
        code: String,
        #[serde(default)]
        text: String,
        values: Vec<String>,
        #[serde(default)]
        time: bool,
    }
    let m: Meta = serde_json::from_slice(bytes).map_err(|e| format!("table metadata: {e}"))?;
    Ok(m.variables
        .into_iter()
        .map(|v| Variable {
            code: v.code,
            label: v.text,
            values: v.values,
            time: v.time,
            metric: false,
        })
        .collect())
}

/// Variables of v2 table metadata (JSON-stat 2.0: `id`, `dimension.<id>.category.index`, `role`).
pub fn parse_v2_metadata(bytes: &[u8]) -> Result<Vec<Variable>, String> {
    #[derive(Deserialize)]
    struct Meta {
        id: Vec<String>,
        dimension: std::collections::BTreeMap<String, Dim>,
        #[serde(default)]
        role: std::collections::BTreeMap<String, Vec<String>>,
    }
    #[derive(Deserialize)]
    struct Dim {
        #[serde(default)]
        label: String,
        category: Cat,
    }
    #[derive(Deserialize)]
    struct Cat {
        index: Index,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Index {
        List(Vec<String>),
        Map(std::collections::BTreeMap<String, usize>),
    }
    let m: Meta = serde_json::from_slice(bytes).map_err(|e| format!("table metadata: {e}"))?;
    let has_role =
        |role: &str, id: &str| m.role.get(role).is_some_and(|r| r.iter().any(|x| x == id));
    m.id.iter()
        .map(|id| {
            let dim = m
                .dimension
                .get(id)
                .ok_or_else(|| format!("table metadata: dimension `{id}` is missing"))?;
            let values = match &dim.category.index {
                Index::List(v) => v.clone(),
                Index::Map(map) => {
                    let mut v: Vec<(&String, &usize)> = map.iter().collect();
                    v.sort_by_key(|(_, i)| **i);
                    v.into_iter().map(|(k, _)| k.clone()).collect()
                }
            };
            Ok(Variable {
                code: id.clone(),
                label: dim.label.clone(),
                values,
                time: has_role("time", id),
                metric: has_role("metric", id),
            })
        })
        .collect()
}

/// The JSON body of a data request of one batch.
pub fn body(kind: ApiKind, batch: &[Selection]) -> String {
    let value = match kind {
        ApiKind::PxwebV2 => serde_json::json!({
            "selection": batch.iter().map(|s| serde_json::json!({
                "variableCode": s.code, "valueCodes": s.values,
            })).collect::<Vec<_>>(),
        }),
        _ => serde_json::json!({
            "query": batch.iter().map(|s| serde_json::json!({
                "code": s.code, "selection": {"filter": "item", "values": s.values},
            })).collect::<Vec<_>>(),
            "response": {"format": "json-stat2"},
        }),
    };
    value.to_string()
}

/// The URLs of an API: (config, metadata, data).
pub fn urls(api: &ApiConfig, table: &str) -> (String, String, String) {
    let base = api.url.trim_end_matches('/');
    let table = table.trim_start_matches('/');
    if api.kind == ApiKind::PxwebV2 {
        (
            api.config_url
                .clone()
                .unwrap_or_else(|| format!("{base}/config")),
            format!("{base}/tables/{table}/metadata?outputFormat=json-stat2"),
            format!("{base}/tables/{table}/data?outputFormat=json-stat2"),
        )
    } else {
        // `.../api/v1/fi/StatFin` -> `.../api/v1/fi/?config`
        let root = base.rsplit_once('/').map_or(base, |(r, _)| r);
        (
            api.config_url
                .clone()
                .unwrap_or_else(|| format!("{root}/?config")),
            format!("{base}/{table}"),
            format!("{base}/{table}"),
        )
    }
}

/// A PxWeb source checked against its API: limits, the table's variables, the query resolved.
pub struct Planned {
    /// The config and metadata payloads.
    pub payloads: Vec<SourcePayload>,
    /// The API's limits.
    pub limits: Limits,
    /// The table's variables.
    pub variables: Vec<Variable>,
    /// The query, by variable code.
    pub query: Vec<Selection>,
    /// With a `select`: role -> variable code.
    pub roles: Option<std::collections::BTreeMap<String, String>>,
    /// The data URL.
    pub data_url: String,
}

/// Reads a PxWeb source's config (limits) and table metadata, and resolves its selection: all
/// a run needs before it posts the query, and all `doctor` asks.
pub fn plan(
    client: &mut Client,
    api: &ApiConfig,
    fetch: &FetchConfig,
    is_region: &dyn Fn(&str) -> bool,
) -> Result<Planned, Error> {
    let table = fetch.table.as_deref().unwrap_or_default();
    let (config_url, meta_url, data_url) = urls(api, table);
    let mut payloads = Vec::new();

    let req = Request::get(config_url);
    let got = client.fetch(&req, Expect::Json)?;
    let limits = parse_limits(&got.payload.bytes).unwrap_or_else(|| {
        warn!(request = %req.line(), "The API's config does not give its limits; using StatFin's published 120 000 cells and 40 calls per 60 s");
        STATFIN_LIMITS
    });
    payloads.push(SourcePayload::new(&req, got, PayloadRole::Config));
    client.limit_host(&data_url, limits.max_calls, limits.window);

    let req = Request::get(meta_url);
    let got = client
        .fetch(&req, Expect::Json)
        .map_err(|e| renamed_table(e, table))?;
    let variables = match api.kind {
        ApiKind::PxwebV2 => parse_v2_metadata(&got.payload.bytes),
        _ => parse_v1_metadata(&got.payload.bytes),
    }
    .map_err(|message| SourceError::BadResponse {
        request: req.line(),
        message,
    })?;
    payloads.push(SourcePayload::new(&req, got, PayloadRole::Metadata));

    let misfit = |message: String| SourceError::BadResponse {
        request: req.line(),
        message: format!("the pipeline's query does not fit table `{table}`: {message}"),
    };
    let (query, roles) = match &fetch.select {
        Some(select) => {
            let r = resolve_roles(select, &variables, is_region).map_err(misfit)?;
            info!(table, roles = ?r.roles, "Resolved the selection's roles");
            (r.query, Some(r.roles))
        }
        None => (fetch.query.clone().unwrap_or_default(), None),
    };
    let role = |name: &str| roles.as_ref().and_then(|r| r.get(name)).map(String::as_str);
    let query = resolve(
        &query,
        &variables,
        role("time").or(fetch.time_variable.as_deref()),
        role("measure").or(fetch.content_variable.as_deref()),
    )
    .map_err(misfit)?;
    Ok(Planned {
        payloads,
        limits,
        variables,
        query,
        roles,
        data_url,
    })
}

/// Fetches a PxWeb source: config (limits), metadata, then the query in batches. Returns the
/// payloads and, when the pipeline selects by role, the resolution (role -> variable code), which
/// the decoder uses for the answer's dimensions and the manifest records. `is_region` says
/// whether a value code is a region code the registry knows.
pub fn fetch(
    client: &mut Client,
    api: &ApiConfig,
    fetch: &FetchConfig,
    is_region: &dyn Fn(&str) -> bool,
) -> Result<(Vec<SourcePayload>, Option<serde_json::Value>), Error> {
    let table = fetch.table.as_deref().unwrap_or_default();
    let Planned {
        mut payloads,
        limits,
        query,
        roles,
        data_url,
        ..
    } = plan(client, api, fetch, is_region)?;
    let batches = split(&query, limits.max_cells);
    if batches.len() > 1 {
        info!(
            table,
            cells = cells(&query),
            limit = limits.max_cells,
            batches = batches.len(),
            "Query split into batches under the cell limit"
        );
    }
    for batch in &batches {
        post_batch(client, api, &data_url, batch, 0, &mut payloads)?;
    }
    let resolution = roles.map(|r| serde_json::json!({ "table": table, "dimensions": r }));
    Ok((payloads, resolution))
}

/// How many times a batch refused with 403 is split again before the refusal stands.
const MAX_RESPLITS: u32 = 3;

/// Posts one batch. StatFin refuses a query it finds too large with HTTP 403 and an HTML page
/// (not its JSON error): such a batch is split in two and each half posted, up to
/// [`MAX_RESPLITS`] times, before the refusal is the source's error. A 403 with the API's own
/// (JSON) error is not retried.
fn post_batch(
    client: &mut Client,
    api: &ApiConfig,
    data_url: &str,
    batch: &[Selection],
    depth: u32,
    payloads: &mut Vec<SourcePayload>,
) -> Result<(), Error> {
    let req = Request::post(data_url.to_owned(), body(api.kind, batch));
    match client.fetch(&req, Expect::Json) {
        Ok(got) => {
            payloads.push(SourcePayload::new(&req, got, PayloadRole::Data));
            Ok(())
        }
        Err(Error::Source(SourceError::Http {
            status: 403,
            message,
            ..
        })) if is_html(&message) && depth < MAX_RESPLITS && cells(batch) > 1 => {
            let halves = split(batch, cells(batch).div_ceil(2));
            warn!(
                request = %req.line(),
                cells = cells(batch),
                "HTTP 403 to a data query: splitting it in {} and asking again",
                halves.len()
            );
            for half in &halves {
                post_batch(client, api, data_url, half, depth + 1, payloads)?;
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Whether an error response's text is an HTML page (StatFin's web server refusing a query),
/// not the API's own JSON error, which splitting would not change.
fn is_html(message: &str) -> bool {
    let m = message
        .trim_start_matches([':', ' '])
        .trim_start()
        .to_lowercase();
    m.starts_with("<!doctype html") || m.starts_with("<html") || m.contains("<body")
}

/// A 400 to a table id of the form StatFin used before 8 June 2026
/// (`vaerak/statfin_vaerak_pxt_11re.px`) says that the table was renamed, and to what.
fn renamed_table(e: Error, table: &str) -> Error {
    let Error::Source(SourceError::Http {
        status: 400,
        request,
        ..
    }) = &e
    else {
        return e;
    };
    let file = table.rsplit('/').next().unwrap_or(table);
    let Some(short) = file
        .strip_prefix("statfin_")
        .and_then(|rest| rest.split_once("_pxt_"))
        .map(|(_, id)| id)
    else {
        return e;
    };
    let folder = table.rsplit_once('/').map_or("", |(f, _)| f);
    let renamed = if folder.is_empty() {
        short.to_owned()
    } else {
        format!("{folder}/{short}")
    };
    SourceError::BadResponse {
        request: request.clone(),
        message: format!(
            "HTTP 400: StatFin renamed its tables on 8 June 2026, and `{table}` is an old id: \
             use `table = \"{renamed}\"`"
        ),
    }
    .into()
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn sel(code: &str, n: usize, role: Role) -> Selection {
        Selection {
            code: code.to_owned(),
            values: (0..n).map(|i| format!("{code}{i}")).collect(),
            role,
        }
    }

    fn cell_set(batches: &[Vec<Selection>]) -> Vec<Vec<String>> {
        let mut all = Vec::new();
        for b in batches {
            let mut combos: Vec<Vec<String>> = vec![Vec::new()];
            for s in b {
                combos = combos
                    .into_iter()
                    .flat_map(|c| {
                        s.values.iter().map(move |v| {
                            let mut c = c.clone();
                            c.push(v.clone());
                            c
                        })
                    })
                    .collect();
            }
            all.extend(combos);
        }
        all
    }

    /// StatFin's 11re as its metadata reads since 8 June 2026 (codes from the issue's facts).
    fn statfin_11re(area: &str) -> Vec<Variable> {
        let var = |code: &str, label: &str, values: &[&str], time: bool| Variable {
            code: code.to_owned(),
            label: label.to_owned(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            time,
            metric: false,
        };
        vec![
            var(area, "Alue", &["SSS", "KU005", "KU009", "KU010"], false),
            var("ikaryhma_10_20180101", "Ikä", &["SSS", "000", "001"], false),
            var(
                "sukupuoli_9_20180101",
                "Sukupuoli",
                &["SSS", "1", "2"],
                false,
            ),
            var("timeperiod_y", "Vuosi", &["2024", "2025"], true),
            var("contentscode", "Tiedot", &["vaerak-vaesto"], false),
        ]
    }

    fn select(pairs: &[(&str, &[&str])]) -> std::collections::BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|x| (*x).to_owned()).collect()))
            .collect()
    }

    #[test]
    fn roles_resolve_whatever_date_the_area_variable_carries() {
        let wanted = select(&[
            ("region", &["*"]),
            ("time", &["2025"]),
            ("sex", &["SSS"]),
            ("age", &["SSS"]),
            ("measure", &["*"]),
        ]);
        let known = |c: &str| c == "SSS" || c.starts_with("KU");
        for area in ["alue_23_20260101", "alue_23_20270101", "Alue"] {
            let r = resolve_roles(&wanted, &statfin_11re(area), &known).unwrap();
            assert_eq!(r.roles["region"], area);
            assert_eq!(r.roles["time"], "timeperiod_y");
            assert_eq!(r.roles["sex"], "sukupuoli_9_20180101");
            assert_eq!(r.roles["age"], "ikaryhma_10_20180101");
            assert_eq!(r.roles["measure"], "contentscode");
            assert_eq!(r.query[area], ["*"]);
        }
        // A variable by its label or code.
        let r =
            resolve_roles(&select(&[("Ikä", &["000"])]), &statfin_11re("Alue"), &known).unwrap();
        assert_eq!(r.roles["Ikä"], "ikaryhma_10_20180101");
        assert_eq!(stem("alue_23_20260101"), "alue");
        assert_eq!(stem("timeperiod_y"), "timeperiod_y");
    }

    #[test]
    fn a_role_that_matches_nothing_or_two_variables_lists_the_table() {
        let known = |c: &str| c.starts_with("KU");
        let mut vars = statfin_11re("alue_23_20260101");
        vars.remove(2);
        let err = resolve_roles(&select(&[("sex", &["SSS"])]), &vars, &known).unwrap_err();
        assert!(
            err.contains("matches none") && err.contains("`timeperiod_y` (Vuosi, 2 values)"),
            "{err}"
        );
        let mut vars = statfin_11re("alue_23_20260101");
        vars.push(Variable {
            code: "alue_23_20250101".into(),
            label: "Alue 2025".into(),
            values: vec!["KU005".into()],
            time: false,
            metric: false,
        });
        let err = resolve_roles(&select(&[("region", &["*"])]), &vars, &known).unwrap_err();
        assert!(
            err.contains("ambiguous") && err.contains("alue_23_20250101"),
            "{err}"
        );
    }

    #[test]
    fn an_old_statfin_table_id_names_the_new_one() {
        let e: Error = SourceError::Http {
            request: "GET x".into(),
            status: 400,
            message: ": Bad Request".into(),
        }
        .into();
        let renamed = renamed_table(e, "vaerak/statfin_vaerak_pxt_11re.px").to_string();
        assert!(
            renamed.contains("renamed its tables on 8 June 2026"),
            "{renamed}"
        );
        assert!(
            renamed.contains("`table = \"vaerak/11re.px\"`"),
            "{renamed}"
        );
        let other: Error = SourceError::Http {
            request: "GET x".into(),
            status: 400,
            message: String::new(),
        }
        .into();
        assert!(
            !renamed_table(other, "vaerak/11re.px")
                .to_string()
                .contains("renamed")
        );
    }

    #[test]
    fn under_the_limit_is_one_batch() {
        let q = vec![sel("alue", 10, Role::Other), sel("vuosi", 3, Role::Time)];
        assert_eq!(split(&q, 30), vec![q.clone()]);
    }

    #[test]
    fn splits_other_variables_before_time_and_content() {
        let q = vec![
            sel("tiedot", 2, Role::Content),
            sel("alue", 310, Role::Other),
            sel("vuosi", 30, Role::Time),
            sel("sukupuoli", 3, Role::Other),
        ];
        // 2 * 310 * 30 * 3 = 55 800 cells; limit 10 000: splitting `alue` is enough.
        let batches = split(&q, 10_000);
        for b in &batches {
            assert!(cells(b) <= 10_000);
            assert_eq!(b[0].values.len(), 2, "content kept whole");
            assert_eq!(b[2].values.len(), 30, "time kept whole");
        }
        // Limit 100: other variables down to single values give 60 cells: still no time split.
        for b in split(&q, 100) {
            assert!(cells(&b) <= 100);
            assert_eq!(b[2].values.len(), 30);
            assert_eq!(b[0].values.len(), 2);
        }
        // Limit 40: now time must be split, content still not.
        for b in split(&q, 40) {
            assert!(cells(&b) <= 40);
            assert_eq!(b[0].values.len(), 2);
        }
    }

    /// Property: for random query shapes and limits, the batches are under the limit and their
    /// cells are exactly the query's, each once.
    #[test]
    fn property_union_of_batches_is_the_query() {
        let mut rng = fastrand::Rng::with_seed(20_261_122);
        for case in 0..400 {
            let n = rng.usize(1..=5);
            let roles = [Role::Other, Role::Time, Role::Content];
            let q: Vec<Selection> = (0..n)
                .map(|i| sel(&format!("v{i}_"), rng.usize(1..=12), roles[rng.usize(0..3)]))
                .collect();
            let limit = rng.u64(1..=cells(&q) + 5);
            let batches = split(&q, limit);
            let expected = cell_set(std::slice::from_ref(&q));
            let got = cell_set(&batches);
            assert_eq!(
                got.len(),
                expected.len(),
                "case {case}: a cell twice or missing"
            );
            assert_eq!(
                got.iter().collect::<BTreeSet<_>>(),
                expected.iter().collect::<BTreeSet<_>>(),
                "case {case}"
            );
            for b in &batches {
                assert!(cells(b) <= limit, "case {case}: {} > {limit}", cells(b));
                assert_eq!(
                    b.iter().map(|s| &s.code).collect::<Vec<_>>(),
                    q.iter().map(|s| &s.code).collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn limits_of_v1_and_v2_configs() {
        let v2 =
            std::fs::read(crate::io::repo_file("tests/fixtures/http/scb/config.json")).unwrap();
        assert_eq!(
            parse_limits(&v2),
            Some(Limits {
                max_cells: 150_000,
                max_calls: 3,
                window: Duration::from_secs(1)
            })
        );
        assert_eq!(
            parse_limits(
                br#"{"maxValues":120000,"maxCells":120000,"maxCalls":40,"timeWindow":60}"#
            ),
            Some(STATFIN_LIMITS)
        );
        assert_eq!(parse_limits(br#"{"maxValues":1}"#), None);
    }

    #[test]
    fn v2_metadata_and_resolving_a_query() {
        let meta = std::fs::read(crate::io::repo_file(
            "tests/fixtures/http/scb/TAB6471_metadata.json",
        ))
        .unwrap();
        let vars = parse_v2_metadata(&meta).unwrap();
        let codes: Vec<&str> = vars.iter().map(|v| v.code.as_str()).collect();
        assert_eq!(codes, ["Region", "Alder", "Kon", "ContentsCode", "Tid"]);
        assert_eq!(vars[0].values.len(), 312);
        let q = [
            ("Region".to_owned(), vec!["01".to_owned(), "03".to_owned()]),
            ("Tid".to_owned(), vec!["*".to_owned()]),
            ("ContentsCode".to_owned(), vec!["*".to_owned()]),
        ]
        .into_iter()
        .collect();
        let r = resolve(&q, &vars, None, None).unwrap();
        assert_eq!(r[0].role, Role::Other);
        assert_eq!(r[1].role, Role::Content);
        assert_eq!((r[2].role, r[2].values.len()), (Role::Time, 16));
        let bad = [("Region".to_owned(), vec!["XX".to_owned()])]
            .into_iter()
            .collect();
        assert!(
            resolve(&bad, &vars, None, None)
                .unwrap_err()
                .contains("no value `XX`")
        );
        let bad = [("Alue".to_owned(), vec!["*".to_owned()])]
            .into_iter()
            .collect();
        assert!(
            resolve(&bad, &vars, None, None)
                .unwrap_err()
                .contains("no variable `Alue`")
        );
    }

    #[test]
    fn request_bodies_and_urls() {
        let b = [sel("alue", 2, Role::Other)];
        assert_eq!(
            body(ApiKind::PxwebV1, &b),
            r#"{"query":[{"code":"alue","selection":{"filter":"item","values":["alue0","alue1"]}}],"response":{"format":"json-stat2"}}"#
        );
        assert_eq!(
            body(ApiKind::PxwebV2, &b),
            r#"{"selection":[{"valueCodes":["alue0","alue1"],"variableCode":"alue"}]}"#
        );
        let api = ApiConfig {
            kind: ApiKind::PxwebV1,
            url: "https://pxdata.stat.fi/PXWeb/api/v1/fi/StatFin/".into(),
            config_url: None,
        };
        let (c, m, d) = urls(&api, "vaerak/statfin_vaerak_pxt_11re.px");
        assert_eq!(c, "https://pxdata.stat.fi/PXWeb/api/v1/fi/?config");
        assert_eq!(
            m,
            "https://pxdata.stat.fi/PXWeb/api/v1/fi/StatFin/vaerak/statfin_vaerak_pxt_11re.px"
        );
        assert_eq!(m, d);
    }
}
