//! PxWeb over HTTP: Statistics Finland's API v1 and PxWebApi 2, behind one interface.
//!
//! | | v1 (StatFin) | v2 (SCB, SSB) |
//! |---|---|---|
//! | limits | `GET <root>/?config`: `maxValues`, `maxCalls`, `timeWindow` | `GET <url>/config`: `maxDataCells`, `maxCallsPerTimeWindow`, `timeWindow` |
//! | metadata | `GET <url>/<table>`: `variables[{code, values, time}]` | `GET <url>/tables/<id>/metadata?outputFormat=json-stat2` |
//! | data | `POST <url>/<table>`, `{"query": [...], "response": {"format": "json-stat2"}}` | `POST <url>/tables/<id>/data?outputFormat=json-stat2`, `{"selection": [...]}` |
//!
//! The query in the pipeline names variable codes and value codes (StatFin renamed both on
//! 8 June 2026, so nothing is hard-coded); `["*"]` selects every value. Codes are checked against
//! the table's metadata before anything is posted: an unknown variable or value is an error
//! naming it. A query of more cells than the API's limit is split by [`split`] into batches under
//! it; each batch is posted (through the host's token bucket, set from the API's call limit),
//! archived and decoded on its own, and the batches' rows together are the query's rows.
//! The limits' key names are PxWeb convention and not confirmed for every host; when the config
//! answer lacks them, the documented StatFin values (120 000 cells, 30 calls per 10 s) are used,
//! with a warning.

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

/// StatFin's documented limits, used when a config answer lacks them.
pub const STATFIN_LIMITS: Limits = Limits {
    max_cells: 120_000,
    max_calls: 30,
    window: Duration::from_secs(10),
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
        values: Vec<String>,
        #[serde(default)]
        time: bool,
    }
    let m: Meta = serde_json::from_slice(bytes).map_err(|e| format!("table metadata: {e}"))?;
    Ok(m.variables
        .into_iter()
        .map(|v| Variable {
            code: v.code,
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

/// Fetches a PxWeb source: config (limits), metadata, then the query in batches.
pub fn fetch(
    client: &mut Client,
    api: &ApiConfig,
    fetch: &FetchConfig,
) -> Result<Vec<SourcePayload>, Error> {
    let table = fetch.table.as_deref().unwrap_or_default();
    let (config_url, meta_url, data_url) = urls(api, table);
    let mut payloads = Vec::new();

    let req = Request::get(config_url);
    let got = client.fetch(&req, Expect::Json)?;
    let limits = parse_limits(&got.payload.bytes).unwrap_or_else(|| {
        warn!(request = %req.line(), "The API's config does not give its limits; using StatFin's documented 120 000 cells and 30 calls per 10 s");
        STATFIN_LIMITS
    });
    payloads.push(SourcePayload::new(&req, got, PayloadRole::Config));
    client.limit_host(&data_url, limits.max_calls, limits.window);

    let req = Request::get(meta_url);
    let got = client.fetch(&req, Expect::Json)?;
    let variables = match api.kind {
        ApiKind::PxwebV2 => parse_v2_metadata(&got.payload.bytes),
        _ => parse_v1_metadata(&got.payload.bytes),
    }
    .map_err(|message| SourceError::BadResponse {
        request: req.line(),
        message,
    })?;
    payloads.push(SourcePayload::new(&req, got, PayloadRole::Metadata));

    let query = resolve(
        fetch
            .query
            .as_ref()
            .unwrap_or(&std::collections::BTreeMap::default()),
        &variables,
        fetch.time_variable.as_deref(),
        fetch.content_variable.as_deref(),
    )
    .map_err(|message| SourceError::BadResponse {
        request: req.line(),
        message: format!("the pipeline's query does not fit table `{table}`: {message}"),
    })?;
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
        let req = Request::post(data_url.clone(), body(api.kind, batch));
        let got = client.fetch(&req, Expect::Json)?;
        payloads.push(SourcePayload::new(&req, got, PayloadRole::Data));
    }
    Ok(payloads)
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
            parse_limits(br#"{"maxValues":120000,"maxCalls":30,"timeWindow":10}"#),
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
