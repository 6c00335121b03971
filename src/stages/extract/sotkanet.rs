//! THL Sotkanet REST 1.1 over HTTP: `/regions`, `/indicators/{id}` and `/json` data.
//!
//! Data is requested one indicator per request (as every known client does), with `years` and
//! `genders` as repeated keys (a comma-separated list is answered with 400), all regions at once
//! (whether the server honours `regions=` is not known, so regions are filtered after decoding).
//! A request covers at most `years_per_request` years (default 10, about 14 000 rows for three
//! genders); more years are split over several requests, each archived and decoded on its own.
//! The indicator's metadata is fetched first and archived too: its title, value type, decimals,
//! year range and update date go to the run manifest, and years outside its range are warned
//! about (not refused: the range has been seen to lag the data).

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::{PayloadRole, SourcePayload};
use crate::error::{Error, SourceError};
use crate::http::{Client, Expect, Request};

/// Default most years per data request.
pub const YEARS_PER_REQUEST: usize = 10;

/// `/regions`.
pub fn regions_request(base: &str) -> Request {
    Request::get(format!("{}/regions", base.trim_end_matches('/')))
}

/// `/indicators/{id}`.
pub fn metadata_request(base: &str, indicator: u32) -> Request {
    Request::get(format!(
        "{}/indicators/{indicator}",
        base.trim_end_matches('/')
    ))
}

/// What a Sotkanet data fetch asks for, with the defaults filled in.
#[derive(Debug, Clone)]
pub struct DataPlan {
    /// Indicator id.
    pub indicator: u32,
    /// Years (default: the pipeline's).
    pub years: Vec<i16>,
    /// Genders (default: `total`).
    pub genders: Vec<String>,
    /// Most years per request.
    pub years_per_request: usize,
}

impl DataPlan {
    /// The plan of a source's `fetch`, with the pipeline's years as default.
    pub fn of(fetch: &crate::model::config::FetchConfig, pipeline_years: &[i16]) -> DataPlan {
        DataPlan {
            indicator: fetch.indicator.unwrap_or_default(),
            years: fetch
                .years
                .clone()
                .unwrap_or_else(|| pipeline_years.to_vec()),
            genders: fetch
                .genders
                .clone()
                .unwrap_or_else(|| vec!["total".to_owned()]),
            years_per_request: fetch.years_per_request.unwrap_or(YEARS_PER_REQUEST),
        }
    }

    /// Every request, metadata first.
    pub fn requests(&self, base: &str) -> Vec<Request> {
        std::iter::once(metadata_request(base, self.indicator))
            .chain(data_requests(
                base,
                self.indicator,
                &self.years,
                &self.genders,
                self.years_per_request,
            ))
            .collect()
    }
}

/// The `/json` data requests of one indicator: years in chunks of `per_request`, genders
/// repeated in each.
pub fn data_requests(
    base: &str,
    indicator: u32,
    years: &[i16],
    genders: &[String],
    per_request: usize,
) -> Vec<Request> {
    let mut years = years.to_vec();
    years.sort_unstable();
    years.dedup();
    years
        .chunks(per_request.max(1))
        .map(|chunk| {
            let keys = chunk
                .iter()
                .map(|y| format!("&years={y}"))
                .chain(genders.iter().map(|g| format!("&genders={g}")))
                .collect::<String>();
            Request::get(format!(
                "{}/json?indicator={indicator}{keys}",
                base.trim_end_matches('/')
            ))
        })
        .collect()
}

/// What the manifest keeps of an indicator's metadata.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IndicatorMeta {
    /// Indicator id.
    #[serde(default)]
    pub id: Option<u32>,
    /// Titles by language.
    #[serde(default)]
    pub title: Option<std::collections::BTreeMap<String, String>>,
    /// Value type, e.g. `{"code": "PROS", ...}`.
    #[serde(default, rename = "primaryValueType")]
    pub primary_value_type: Option<serde_json::Value>,
    /// Decimals published.
    #[serde(default)]
    pub decimals: Option<i64>,
    /// Years with data, `{start, end}`.
    #[serde(default)]
    pub range: Option<YearRange>,
    /// When the data was last updated.
    #[serde(default, rename = "data-updated")]
    pub data_updated: Option<String>,
    /// The producing organisation, `{"id", "title": {fi, sv, en}}`.
    #[serde(default)]
    pub organization: Option<serde_json::Value>,
}

/// `range` of indicator metadata.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct YearRange {
    /// First year.
    pub start: i64,
    /// Last year.
    pub end: i64,
}

/// Reads indicator metadata (only the keys the manifest keeps; the payload stays archived whole).
pub fn parse_metadata(bytes: &[u8], request: &str) -> Result<IndicatorMeta, SourceError> {
    serde_json::from_slice(bytes).map_err(|e| SourceError::BadResponse {
        request: request.to_owned(),
        message: format!("indicator metadata: {e}"),
    })
}

/// Fetches one indicator: metadata, then its data requests.
pub fn fetch_indicator(
    client: &mut Client,
    base: &str,
    plan: &DataPlan,
) -> Result<(IndicatorMeta, Vec<SourcePayload>), Error> {
    let mut requests = plan.requests(base).into_iter();
    let Some(req) = requests.next() else {
        return Ok((IndicatorMeta::default(), Vec::new()));
    };
    // The metadata archived last time, read before the new answer is archived over it.
    let previous = client
        .archived(&req)
        .and_then(|p| parse_metadata(&p.bytes, &req.line()).ok());
    let fetched = client.fetch(&req, Expect::Json)?;
    let meta = parse_metadata(&fetched.payload.bytes, &req.line())?;
    if let Some(r) = meta.range {
        let outside: Vec<String> = plan
            .years
            .iter()
            .filter(|y| i64::from(**y) < r.start || i64::from(**y) > r.end)
            .map(ToString::to_string)
            .collect();
        if !outside.is_empty() {
            warn!(
                indicator = plan.indicator,
                years = %outside.join(", "),
                "Years outside the indicator's published range {}..={}: expect no rows for them",
                r.start,
                r.end
            );
        }
    }
    let mut payloads = vec![SourcePayload::new(&req, fetched, PayloadRole::Metadata)];
    let requests: Vec<Request> = requests.collect();
    // Sotkanet's terms ask users not to download the same data again and again: when the
    // indicator says its data was last updated when the archived copy says, and the archive has
    // every data answer, those are used and no data request is sent.
    let unchanged = meta.data_updated.is_some()
        && previous.is_some_and(|p| p.data_updated == meta.data_updated);
    if unchanged
        && let Some(reused) = requests
            .iter()
            .map(|r| client.archived(r).map(|payload| (r, payload)))
            .collect::<Option<Vec<_>>>()
    {
        info!(
            indicator = plan.indicator,
            data_updated = meta.data_updated.as_deref().unwrap_or_default(),
            payloads = reused.len(),
            "Data unchanged since the archived copy (same data-updated): reused, not downloaded"
        );
        for (r, payload) in reused {
            let fetched = crate::http::Fetched {
                payload,
                origin: crate::http::Origin::Reused,
            };
            payloads.push(SourcePayload::new(r, fetched, PayloadRole::Data));
        }
        return Ok((meta, payloads));
    }
    for req in requests {
        let fetched = client.fetch(&req, Expect::Json)?;
        payloads.push(SourcePayload::new(&req, fetched, PayloadRole::Data));
    }
    Ok((meta, payloads))
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn data_requests_repeat_keys_and_split_years() {
        let g = vec!["total".to_owned(), "male".to_owned()];
        let reqs = data_requests(
            "https://sotkanet.fi/rest/1.1/",
            127,
            &[2024, 2019, 2023, 2019],
            &g,
            2,
        );
        let urls: Vec<&str> = reqs.iter().map(|r| r.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://sotkanet.fi/rest/1.1/json?indicator=127&years=2019&years=2023&genders=total&genders=male",
                "https://sotkanet.fi/rest/1.1/json?indicator=127&years=2024&genders=total&genders=male",
            ]
        );
        assert_eq!(data_requests("b", 1, &[2020], &g, 0).len(), 1);
    }

    #[test]
    fn metadata_of_a_real_response() {
        // A 2025 /indicators/186 response (from tests/fixtures, see NOTICE).
        let text = std::fs::read_to_string(crate::io::repo_file(
            "tests/fixtures/http/sotkanet/indicators_186.json",
        ))
        .unwrap();
        let m = parse_metadata(text.as_bytes(), "GET x").unwrap();
        assert_eq!(m.id, Some(186));
        let r = m.range.unwrap();
        assert_eq!((r.start, r.end), (1990, 2024));
        assert!(m.data_updated.is_some());
        assert!(parse_metadata(b"<html>", "GET x").is_err());
    }
}
