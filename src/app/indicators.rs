//! `mittari indicators search TEXT` and `mittari indicators show ID`: finding Sotkanet
//! indicators for a pipeline.
//!
//! `search` reads Sotkanet's `/indicators` list (about 3 700 indicators in short form: id, titles
//! in Finnish, Swedish and English, the producing organisation, the sexes and region categories
//! it has), archived like every payload, so that `--offline` searches the archived copy. `show`
//! reads one indicator's full metadata (`/indicators/{id}`: years, update date, value type,
//! decimals, description). An indicator produced by another organisation than THL carries a
//! note: Sotkanet's terms of use require an agreement with the producer for some uses of its
//! data.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Deserialize;

use crate::archive::Archive;
use crate::error::{Error, SourceError};
use crate::http::{Client, Expect, HttpSettings, Request};

/// Sotkanet's REST API.
pub const SOTKANET: &str = "https://sotkanet.fi/rest/1.1";

/// How many matches of a search get their years from their metadata (one request each).
const MAX_YEARS_LOOKED_UP: usize = 20;

/// The note of an indicator another organisation produces.
pub const PRODUCER_NOTE: &str = "produced by another organisation than THL: Sotkanet's terms of \
    use require an agreement with the producer for some uses";

/// Whether an organisation's name, in any of Sotkanet's languages, is THL's.
pub fn names_thl(title: &str) -> bool {
    title.contains("THL")
        || title.contains("Terveyden ja hyvinvoinnin laitos")
        || title.contains("Institute for Health and Welfare")
}

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// The API's base URL (default [`SOTKANET`]).
    pub api: String,
    /// The raw archive.
    pub cache: PathBuf,
    /// Answer from the archive only.
    pub offline: bool,
    /// Titles in `fi`, `sv` or `en`.
    pub lang: String,
}

/// One entry of the `/indicators` list.
#[derive(Debug, Clone, Deserialize)]
struct Entry {
    id: u32,
    #[serde(default)]
    title: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    organization: Option<Organization>,
    #[serde(default)]
    classifications: Option<Classifications>,
    #[serde(default)]
    range: Option<crate::stages::extract::sotkanet::YearRange>,
}

#[derive(Debug, Clone, Deserialize)]
struct Organization {
    #[serde(default)]
    title: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Classifications {
    #[serde(default)]
    sex: Option<Values>,
    #[serde(default)]
    region: Option<Values>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Values {
    #[serde(default)]
    values: Vec<String>,
}

impl Entry {
    fn title(&self, lang: &str) -> &str {
        self.title
            .get(lang)
            .or_else(|| self.title.get("fi"))
            .map_or("", String::as_str)
    }

    fn producer(&self, lang: &str) -> String {
        self.organization
            .as_ref()
            .and_then(|o| o.title.get(lang).or_else(|| o.title.get("fi")))
            .cloned()
            .unwrap_or_default()
    }

    /// Whether THL produces it.
    fn by_thl(&self) -> bool {
        self.organization
            .as_ref()
            .is_some_and(|o| o.title.values().any(|t| names_thl(t)))
    }
}

fn client(l: &Lookup) -> Result<Client, Error> {
    Client::new(&HttpSettings::default(), Archive::new(&l.cache), l.offline)
}

/// The indicators whose id is `text` or whose title (in any language) contains it, one line each:
/// id, title, producer, sexes, region categories, years where the list gives them, and the
/// producer note.
pub fn search(text: &str, l: &Lookup) -> Result<Vec<String>, Error> {
    let req = Request::get(format!("{}/indicators", l.api.trim_end_matches('/')));
    let mut client = client(l)?;
    let got = client.fetch(&req, Expect::Json)?;
    let entries: Vec<Entry> =
        serde_json::from_slice(&got.payload.bytes).map_err(|e| SourceError::BadResponse {
            request: req.line(),
            message: format!("the indicator list: {e}"),
        })?;
    let needle = text.to_lowercase();
    let mut lines = Vec::new();
    let matches: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            e.id.to_string() == needle
                || e.title.values().any(|t| t.to_lowercase().contains(&needle))
        })
        .collect();
    // The list has no years: the first matches' metadata does (each answer archived, so a
    // second search, or `--offline`, asks nothing).
    let years: std::collections::BTreeMap<u32, String> = matches
        .iter()
        .take(MAX_YEARS_LOOKED_UP)
        .filter_map(|e| {
            let req = crate::stages::extract::sotkanet::metadata_request(&l.api, e.id);
            let got = client.fetch(&req, Expect::Json).ok()?;
            let meta =
                crate::stages::extract::sotkanet::parse_metadata(&got.payload.bytes, &req.line())
                    .ok()?;
            meta.range.map(|r| (e.id, format!("{}-{}", r.start, r.end)))
        })
        .collect();
    for e in matches {
        let list = |v: Option<&Values>| v.map(|v| v.values.join(",")).unwrap_or_default();
        let mut line = format!(
            "{}\t{}\t[{}]\tsexes: {}\tregions: {}",
            e.id,
            e.title(&l.lang),
            e.producer(&l.lang),
            list(e.classifications.as_ref().and_then(|c| c.sex.as_ref())),
            list(e.classifications.as_ref().and_then(|c| c.region.as_ref())),
        );
        match (e.range, years.get(&e.id)) {
            (Some(r), _) => {
                let _ = write!(line, "\tyears: {}-{}", r.start, r.end);
            }
            (None, Some(y)) => {
                let _ = write!(line, "\tyears: {y}");
            }
            (None, None) => {}
        }
        if !e.by_thl() {
            let _ = write!(line, "\tnote: {PRODUCER_NOTE}");
        }
        lines.push(line);
    }
    lines.push(format!(
        "{} of {} indicators match `{text}`",
        lines.len(),
        entries.len()
    ));
    Ok(lines)
}

/// One indicator's full metadata, as published, with the producer note where it applies.
pub fn show(id: u32, l: &Lookup) -> Result<Vec<String>, Error> {
    let req = crate::stages::extract::sotkanet::metadata_request(&l.api, id);
    let got = client(l)?.fetch(&req, Expect::Json)?;
    let value: serde_json::Value =
        serde_json::from_slice(&got.payload.bytes).map_err(|e| SourceError::BadResponse {
            request: req.line(),
            message: format!("indicator metadata: {e}"),
        })?;
    let entry: Option<Entry> = serde_json::from_value(value.clone()).ok();
    let mut lines = vec![serde_json::to_string_pretty(&value).unwrap_or_default()];
    if entry.is_some_and(|e| !e.by_thl()) {
        lines.push(format!("note: {PRODUCER_NOTE}"));
    }
    Ok(lines)
}
