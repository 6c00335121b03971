//! THL's statistical cubes (`https://sampo.thl.fi/pivot/prod/{fi|sv|en}/...`), e.g. the cube of
//! social and health care operating costs by service class ("Sote-käyttötalous palveluluokittain").
//!
//! A cube answers two requests (the shapes as THL's open-source pivot server writes them):
//! - `<cube>.dimensions.json`: every dimension (`id`, `label`) with its tree of nodes (`id`,
//!   `sid` — the surrogate id requests use —, `label`, `stage` — the node's level —, optional
//!   `code`, `children`), wrapped in a JavaScript call `thl.pivot.loadDimensions( ... );`;
//! - `<cube>.json?row=<dim>-<selector>&column=<dim>-<selector>&filter=<dim>-<sid>`: JSON-stat,
//!   `{"dataset": {... "dimension": {"id", "size", <dim>: {"category": {"index", "label"}}},
//!   "value": {"<position>": "<text>"}}}`, the empty cells left out and every value written as
//!   text. A selector is `<sid>.` (the node itself), `<sid>L` (every node of the node's level)
//!   or `<sid>.<sid>.` (these nodes); a filter is one node.
//!
//! A source names what it wants by role or by dimension (`select`): `region` (by level —
//! `wellbeing_county`, `country`, `municipality`, ... — or canonical code), `time` (by year),
//! and any dimension by its id or label, its nodes by label, code, id or surrogate id; `"*"`
//! takes every leaf node. The measure dimension is the one whose nodes `measures` names (each
//! node's measure id in `observations`), else the one selected as `measure`; one node of any
//! other dimension is a filter. The dimensions are resolved against `.dimensions.json` at each run (ids and
//! surrogate ids differ between cubes and can change), and the resolution goes to the manifest:
//! which dimension is which, and what each category becomes in `observations` — a region node its
//! canonical code (by the node's code or its Finnish name in the registry), a year node its year,
//! a measure node the id `measures` gives it.
//!
//! The requests go through the shared client: archived, revalidated, retried and replayed
//! `--offline` as every other API's.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Deserialize;
use tracing::info;

use super::{PayloadRole, SourcePayload};
use crate::error::{Error, SourceError};
use crate::http::{Client, Expect, Request};
use crate::model::config::{ApiConfig, FetchConfig};

/// One node of a dimension's tree.
#[derive(Debug, Clone, Deserialize)]
pub struct CubeNode {
    /// The node's id (what a data answer's categories are keyed by).
    pub id: String,
    /// Its surrogate id (what requests name).
    pub sid: i64,
    /// Its label in the cube's language.
    #[serde(default)]
    pub label: String,
    /// The id of its level.
    #[serde(default)]
    pub stage: Option<String>,
    /// A classification code, where the cube has one.
    #[serde(default)]
    pub code: Option<String>,
    /// Its children.
    #[serde(default)]
    pub children: Vec<CubeNode>,
}

/// One dimension of a cube.
#[derive(Debug, Clone, Deserialize)]
pub struct CubeDimension {
    /// Its id (what requests and data answers name).
    pub id: String,
    /// Its label.
    #[serde(default)]
    pub label: String,
    /// Its root nodes.
    #[serde(default, rename = "children")]
    pub nodes: Vec<CubeNode>,
}

impl CubeDimension {
    /// Every node, depth first.
    pub fn all_nodes(&self) -> Vec<&CubeNode> {
        fn walk<'n>(nodes: &'n [CubeNode], out: &mut Vec<&'n CubeNode>) {
            for n in nodes {
                out.push(n);
                walk(&n.children, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.nodes, &mut out);
        out
    }
}

/// The URLs of a cube: its `.dimensions.json` and its data answer (without the query).
pub fn urls(api: &ApiConfig, cube: &str) -> (String, String) {
    let base = format!(
        "{}/{}",
        api.url.trim_end_matches('/'),
        cube.trim_start_matches('/')
    );
    (format!("{base}.dimensions.json"), format!("{base}.json"))
}

/// Reads a `.dimensions.json` answer (JSONP-wrapped or plain).
pub fn parse_dimensions(bytes: &[u8]) -> Result<Vec<CubeDimension>, String> {
    serde_json::from_slice(crate::http::strip_jsonp(bytes))
        .map_err(|e| format!("not a THL cube's dimension list: {e}"))
}

/// How a source's selection resolved against a cube's dimensions.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Resolution {
    /// Role (`region`, `time`, `measure`) -> dimension id.
    pub dimensions: BTreeMap<String, String>,
    /// Each key of the pipeline's `select` -> the dimension it named.
    pub selected: BTreeMap<String, String>,
    /// Dimension id -> category (node id and surrogate id) -> what it becomes in `observations`.
    pub categories: BTreeMap<String, BTreeMap<String, String>>,
    /// The data request's parameters, in order (`row=...`, `column=...`, `filter=...`).
    pub params: Vec<String>,
}

/// The canonical region of a node of a cube's area dimension, if it names one.
pub type RegionOf<'a> = &'a dyn Fn(&CubeNode) -> Option<(String, &'static str)>;

/// The registry's regions by Finnish (and Swedish and English) name and by code, to tell a
/// cube's area nodes: a node's code when it is a canonical code, else its label.
pub struct RegionNames {
    by_name: std::collections::HashMap<String, (String, &'static str)>,
}

impl RegionNames {
    /// The names of every region of the registry that exists in `year` (or has no dates).
    pub fn of(registry: &crate::model::regions::Registry, year: i16) -> RegionNames {
        let day = chrono::NaiveDate::from_ymd_opt(i32::from(year), 12, 31).unwrap_or_default();
        let mut by_name = std::collections::HashMap::new();
        for r in registry.regions() {
            let current =
                r.valid_from.is_none_or(|f| f <= day) && r.valid_to.is_none_or(|t| t >= day);
            if !current {
                continue;
            }
            for name in [&r.name_fi, &r.name_sv, &r.name_en, &r.code] {
                if !name.is_empty() {
                    by_name
                        .entry(name.to_lowercase())
                        .or_insert((r.code.clone(), r.level.as_str()));
                }
            }
        }
        for alias in [
            "koko maa",
            "kaikki alueet",
            "suomi",
            "hela landet",
            "whole country",
        ] {
            by_name
                .entry(alias.to_owned())
                .or_insert((crate::model::regions::COUNTRY.to_owned(), "country"));
        }
        RegionNames { by_name }
    }

    /// The canonical code and level a node names, if any.
    pub fn node(&self, n: &CubeNode) -> Option<(String, &'static str)> {
        let code = n
            .code
            .as_deref()
            .map(str::trim)
            .filter(|c| crate::model::regions::Level::of_code(c).is_some());
        code.and_then(|c| self.by_name.get(&c.to_lowercase()))
            .or_else(|| self.by_name.get(&n.label.trim().to_lowercase()))
            .cloned()
    }
}

/// Resolves a source's `select` (and `measures`) against a cube's dimensions.
pub fn resolve(
    fetch: &FetchConfig,
    dims: &[CubeDimension],
    region_of: RegionOf<'_>,
) -> Result<Resolution, String> {
    let listing = || {
        dims.iter()
            .map(|d| format!("`{}` ({})", d.id, d.label))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let select = fetch.select.clone().unwrap_or_default();
    let mut out = Resolution::default();
    let mut taken = BTreeSet::new();
    let mut chosen: Vec<(&String, &CubeDimension)> = Vec::new();
    for key in select.keys() {
        let dim = find_dimension(key, dims, region_of).ok_or_else(|| {
            format!(
                "no dimension is `{key}`; the cube's dimensions: {}",
                listing()
            )
        })?;
        if !taken.insert(dim.id.as_str()) {
            return Err(format!(
                "dimension `{}` is selected twice (as `{key}` and by another name)",
                dim.id
            ));
        }
        chosen.push((key, dim));
    }
    // The measure dimension: the one whose nodes `measures` names, else the one selected as
    // `measure`.
    let measure_dim = match &fetch.measures {
        Some(m) => {
            let names_all = |d: &CubeDimension| {
                m.keys()
                    .all(|k| d.all_nodes().iter().any(|n| matches_node(n, k)))
            };
            let Some((_, d)) = chosen.iter().find(|(_, d)| names_all(d)) else {
                return Err(format!(
                    "`measures` names nodes ({}) that are not all of one selected dimension",
                    m.keys()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            Some(d.id.as_str())
        }
        None => chosen
            .iter()
            .find(|(k, _)| k.as_str() == "measure")
            .map(|(_, d)| d.id.as_str()),
    };
    for (key, dim) in &chosen {
        let values = &select[*key];
        let role = if key.as_str() == "region" || key.as_str() == "time" {
            key.as_str()
        } else if Some(dim.id.as_str()) == measure_dim {
            "measure"
        } else {
            ""
        };
        let nodes = select_nodes(dim, role, values, region_of)?;
        out.params.push(parameter(dim, role, &nodes)?);
        out.selected.insert((*key).clone(), dim.id.clone());
        if !role.is_empty() {
            out.dimensions.insert(role.to_owned(), dim.id.clone());
        }
        let mut categories = BTreeMap::new();
        for n in &nodes {
            let becomes = match role {
                "region" => region_of(n).map(|(code, _)| code),
                "time" => year_of(n).map(|y| y.to_string()),
                "measure" => Some(measure_id(n, fetch.measures.as_ref())),
                _ => None,
            };
            if let Some(b) = becomes {
                categories.insert(n.id.clone(), b.clone());
                categories.insert(n.sid.to_string(), b);
            }
        }
        if !categories.is_empty() {
            out.categories.insert(dim.id.clone(), categories);
        }
    }
    for role in ["region", "time"] {
        if !out.dimensions.contains_key(role) {
            return Err(format!(
                "select the `{role}` (e.g. {role} = [{}]); the cube's dimensions: {}",
                if role == "region" {
                    "\"wellbeing_county\""
                } else {
                    "\"2023\""
                },
                listing()
            ));
        }
    }
    Ok(out)
}

/// The dimension a selection key names: a role (found by the dimension's content), or a
/// dimension's id or label.
fn find_dimension<'d>(
    key: &str,
    dims: &'d [CubeDimension],
    region_of: RegionOf<'_>,
) -> Option<&'d CubeDimension> {
    let by_name = |k: &str| {
        dims.iter()
            .find(|d| d.id.eq_ignore_ascii_case(k) || d.label.eq_ignore_ascii_case(k))
    };
    let most = |count: &dyn Fn(&CubeDimension) -> usize| {
        dims.iter()
            .map(|d| (count(d), d))
            .filter(|(n, _)| *n > 0)
            .max_by_key(|(n, _)| *n)
            .map(|(_, d)| d)
    };
    match key {
        "region" => by_name(key).or_else(|| {
            most(&|d| {
                d.all_nodes()
                    .iter()
                    .filter(|n| region_of(n).is_some())
                    .count()
            })
        }),
        "time" => by_name(key).or_else(|| {
            most(&|d| {
                d.all_nodes()
                    .iter()
                    .filter(|n| year_of(n).is_some())
                    .count()
            })
        }),
        _ => by_name(key),
    }
}

/// A node's year, when its label (or code) is one.
fn year_of(n: &CubeNode) -> Option<i16> {
    [Some(n.label.trim()), n.code.as_deref()]
        .into_iter()
        .flatten()
        .find(|t| t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .filter(|y| (1900..=2100).contains(y))
}

/// Whether a selection value names a node: by label (case-insensitively), code, id or sid.
fn matches_node(n: &CubeNode, value: &str) -> bool {
    let v = value.trim();
    n.label.trim().eq_ignore_ascii_case(v)
        || n.code.as_deref() == Some(v)
        || n.id == v
        || n.sid.to_string() == v
}

/// The measure id of a node: what `measures` gives it (by label, code or id), else its id.
fn measure_id(n: &CubeNode, measures: Option<&BTreeMap<String, String>>) -> String {
    measures
        .and_then(|m| m.iter().find(|(k, _)| matches_node(n, k)))
        .map_or_else(|| n.id.clone(), |(_, id)| id.clone())
}

/// The nodes a dimension's values select, in the dimension's order.
fn select_nodes<'d>(
    dim: &'d CubeDimension,
    role: &str,
    values: &[String],
    region_of: RegionOf<'_>,
) -> Result<Vec<&'d CubeNode>, String> {
    let all = dim.all_nodes();
    let mut chosen: Vec<&CubeNode> = Vec::new();
    for value in values {
        let hits: Vec<&CubeNode> = all
            .iter()
            .copied()
            .filter(|n| match value.as_str() {
                "*" => n.children.is_empty(),
                v if role == "region" => {
                    region_of(n).is_some_and(|(code, level)| code == v || level == v)
                        || matches_node(n, v)
                }
                v => matches_node(n, v),
            })
            .collect();
        if hits.is_empty() {
            let some: Vec<String> = all
                .iter()
                .take(12)
                .map(|n| format!("`{}`", n.label))
                .collect();
            return Err(format!(
                "`{value}` names no node of dimension `{}` (its nodes include {})",
                dim.id,
                some.join(", ")
            ));
        }
        for h in hits {
            if !chosen.iter().any(|c| c.sid == h.sid) {
                chosen.push(h);
            }
        }
    }
    let order: BTreeMap<i64, usize> = all.iter().enumerate().map(|(i, n)| (n.sid, i)).collect();
    chosen.sort_by_key(|n| order.get(&n.sid).copied().unwrap_or(usize::MAX));
    Ok(chosen)
}

/// The request parameter of a dimension's selection: one node of a dimension without a role is
/// a `filter` (not in the answer); the region goes in the rows, everything else in the columns
/// (a role's dimension stays in the answer, so that its categories can be read).
fn parameter(dim: &CubeDimension, role: &str, nodes: &[&CubeNode]) -> Result<String, String> {
    let Some(first) = nodes.first() else {
        return Err(format!("nothing selected of dimension `{}`", dim.id));
    };
    if nodes.len() == 1 && role.is_empty() {
        return Ok(format!("filter={}-{}", dim.id, first.sid));
    }
    let axis = if role == "region" { "row" } else { "column" };
    // Every node of one level: the level; otherwise the nodes themselves.
    let one_level = nodes.iter().all(|n| n.stage == first.stage);
    let level_size = dim
        .all_nodes()
        .iter()
        .filter(|n| n.stage == first.stage)
        .count();
    let selector =
        if one_level && nodes.len() > 1 && nodes.len() == level_size && first.stage.is_some() {
            format!("{}L", first.sid)
        } else {
            nodes.iter().fold(String::new(), |mut out, n| {
                let _ = write!(out, "{}.", n.sid);
                out
            })
        };
    Ok(format!("{axis}={}-{selector}", dim.id))
}

/// The data request of a resolution.
pub fn data_request(data_url: &str, resolution: &Resolution) -> Request {
    Request::get(format!("{data_url}?{}", resolution.params.join("&")))
}

/// Fetches a cube's dimensions and then its data as the source selects it. Returns the payloads
/// and the resolution (for the manifest and the decoder).
pub fn fetch(
    client: &mut Client,
    api: &ApiConfig,
    fetch: &FetchConfig,
    region_of: RegionOf<'_>,
) -> Result<(Vec<SourcePayload>, Option<serde_json::Value>), Error> {
    let cube = fetch.cube.as_deref().unwrap_or_default();
    let (dims_url, data_url) = urls(api, cube);
    let req = Request::get(dims_url);
    let got = client.fetch(&req, Expect::Jsonp)?;
    let dims =
        parse_dimensions(&got.payload.bytes).map_err(|message| SourceError::BadResponse {
            request: req.line(),
            message,
        })?;
    let resolution =
        resolve(fetch, &dims, region_of).map_err(|message| SourceError::BadResponse {
            request: req.line(),
            message: format!("the pipeline's selection does not fit cube `{cube}`: {message}"),
        })?;
    info!(cube, dimensions = ?resolution.dimensions, "Resolved the cube's dimensions");
    let mut payloads = vec![SourcePayload::new(&req, got, PayloadRole::Metadata)];
    let data = data_request(&data_url, &resolution);
    let got = client.fetch(&data, Expect::Json)?;
    payloads.push(SourcePayload::new(&data, got, PayloadRole::Data));
    let metadata = serde_json::json!({
        "cube": cube,
        "dimensions": resolution.dimensions,
        "selected": resolution.selected,
        "categories": resolution.categories,
    });
    Ok((payloads, Some(metadata)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cube's dimensions in the shape THL's pivot server writes them.
    const DIMENSIONS: &str = r#"thl.pivot.loadDimensions(
[
 {"id": "hva", "label": "Hyvinvointialue", "children": [
   {"id": "100", "sid": 900, "label": "Koko maa", "stage": "root", "children": [
     {"id": "112", "sid": 912, "label": "Etelä-Savon hyvinvointialue", "stage": "hva", "children": []},
     {"id": "113", "sid": 913, "label": "Pohjois-Savon hyvinvointialue", "stage": "hva", "children": []}
   ]}
 ]},
 {"id": "vuosi", "label": "Vuosi", "children": [
   {"id": "v", "sid": 800, "label": "Vuodet", "stage": "root", "children": [
     {"id": "2023", "sid": 823, "label": "2023", "stage": "vuosi", "children": []},
     {"id": "2024", "sid": 824, "label": "2024", "stage": "vuosi", "children": []}
   ]}
 ]},
 {"id": "measure", "label": "Mittari", "children": [
   {"id": "m1", "sid": 701, "label": "Nettokustannukset, euroa / asukas", "stage": "measure", "children": []}
 ]}
]
);"#;

    fn region_of(n: &CubeNode) -> Option<(String, &'static str)> {
        match n.label.as_str() {
            "Koko maa" => Some(("SSS".into(), "country")),
            "Etelä-Savon hyvinvointialue" => Some(("HVA12".into(), "wellbeing_county")),
            "Pohjois-Savon hyvinvointialue" => Some(("HVA13".into(), "wellbeing_county")),
            _ => None,
        }
    }

    fn fetch_of(select: &[(&str, &[&str])]) -> FetchConfig {
        let text = format!(
            "api = \"thl\"\ncube = \"a/b/fact_c\"\n[select]\n{}",
            select
                .iter()
                .map(|(k, v)| format!(
                    "{k} = [{}]",
                    v.iter()
                        .map(|x| format!("\"{x}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .collect::<Vec<_>>()
                .join("\n")
        );
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn roles_resolve_by_content_and_requests_name_surrogate_ids() {
        let dims = parse_dimensions(DIMENSIONS.as_bytes()).unwrap();
        let f = fetch_of(&[
            ("region", &["wellbeing_county"]),
            ("time", &["2023", "2024"]),
            ("measure", &["Nettokustannukset, euroa / asukas"]),
        ]);
        let r = resolve(&f, &dims, &region_of).unwrap();
        assert_eq!(r.dimensions["region"], "hva");
        assert_eq!(r.dimensions["time"], "vuosi");
        assert_eq!(
            r.params,
            ["column=measure-701.", "row=hva-912L", "column=vuosi-823L"]
        );
        assert_eq!(r.categories["hva"]["112"], "HVA12");
        assert_eq!(r.categories["hva"]["913"], "HVA13");
        assert_eq!(r.categories["vuosi"]["2024"], "2024");
        // The counties and the country: the nodes themselves, in the cube's order.
        let f = fetch_of(&[
            ("region", &["wellbeing_county", "SSS"]),
            ("time", &["2023"]),
        ]);
        let r = resolve(&f, &dims, &region_of).unwrap();
        assert_eq!(r.params, ["row=hva-900.912.913.", "column=vuosi-823."]);
        assert_eq!(r.categories["hva"]["100"], "SSS");
        // One node: itself.
        let f = fetch_of(&[("region", &["HVA12"]), ("time", &["*"])]);
        let r = resolve(&f, &dims, &region_of).unwrap();
        assert_eq!(r.params, ["row=hva-912.", "column=vuosi-823L"]);
    }

    #[test]
    fn what_does_not_fit_is_named() {
        let dims = parse_dimensions(DIMENSIONS.as_bytes()).unwrap();
        let err = resolve(&fetch_of(&[("palveluluokka", &["x"])]), &dims, &region_of).unwrap_err();
        assert!(err.contains("no dimension is `palveluluokka`"), "{err}");
        assert!(err.contains("`hva` (Hyvinvointialue)"), "{err}");
        let err = resolve(
            &fetch_of(&[("region", &["HVA12"]), ("time", &["2031"])]),
            &dims,
            &region_of,
        )
        .unwrap_err();
        assert!(
            err.contains("`2031` names no node of dimension `vuosi`"),
            "{err}"
        );
        let err = resolve(&fetch_of(&[("region", &["HVA12"])]), &dims, &region_of).unwrap_err();
        assert!(err.contains("select the `time`"), "{err}");
    }
}
