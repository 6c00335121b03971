//! The conform stage, first half: every published region identifier becomes a canonical code.
//!
//! - Sotkanet ids go through the run's `/regions` payload when the source names one (the
//!   payload is then authoritative: an id missing from it is quarantined), otherwise through the
//!   registry's Sotkanet ids. Regions of categories mittari does not model (`SEUTUKUNTA`, `ERVA`,
//!   ...) are quarantined with rule `unsupported_level`, so that they are counted, not lost.
//! - Statistics Finland codes (`KU091`, `HVA12`, `SSS`, or plain `091` in older tables) are
//!   checked against the registry.
//!
//! An identifier that resolves to nothing is quarantined with rule `unknown_region`; mittari never
//! guesses a region. The second half of conforming, aggregation to counties, is done per indicator
//! in [`crate::derive`], because how to aggregate depends on the measure.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use polars::prelude::*;

use super::{Level, Registry};
use crate::error::{InternalError, PolarsContext};
use crate::normalize::sotkanet::SotkanetRegion;
use crate::normalize::{QuarantineEntry, RawObservation, RegionId, SourceKind};

/// How one source's region identifiers are resolved.
pub struct RegionResolver<'a> {
    /// The registry.
    pub registry: &'a Registry,
    /// The Sotkanet `/regions` payload named by the source, with that source's id.
    pub sotkanet_regions: Option<(&'a str, &'a HashMap<i64, SotkanetRegion>)>,
}

impl RegionResolver<'_> {
    /// The canonical code and level of a published identifier, or the quarantine rule and reason.
    pub fn resolve(&self, id: &RegionId) -> Result<(String, Level), (&'static str, String)> {
        let registered = |code: String, via: &str| match self.registry.get(&code) {
            Some(r) => Ok((code, r.level)),
            None => Err((
                "unknown_region",
                format!("{id} ({via} `{code}`) is not in the region registry"),
            )),
        };
        match id {
            RegionId::Code(c) => {
                let code = if Level::of_code(c).is_some() {
                    c.clone()
                } else if c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()) {
                    format!("KU{c}")
                } else {
                    return Err((
                        "unknown_region",
                        format!("{id} is not a municipality, county or country code"),
                    ));
                };
                registered(code, "code")
            }
            RegionId::Sotkanet(n) => match self.sotkanet_regions {
                Some((source, payload)) => match payload.get(n) {
                    Some(SotkanetRegion::Canonical(code, _)) => {
                        registered(code.clone(), "Sotkanet code")
                    }
                    Some(SotkanetRegion::OtherCategory(cat)) => Err((
                        "unsupported_level",
                        format!(
                            "{id} is a `{cat}` region; mittari models municipalities, counties and the country"
                        ),
                    )),
                    None => Err((
                        "unknown_region",
                        format!("{id} is not in the `/regions` payload of source `{source}`"),
                    )),
                },
                None => match self.registry.by_sotkanet_id(*n) {
                    Some(code) => registered(code.to_owned(), "registry"),
                    None => Err((
                        "unknown_region",
                        format!("{id} is not in the region registry"),
                    )),
                },
            },
        }
    }
}

/// The quarantine entry of an observation whose region did not resolve.
pub fn unresolved(
    row: &RawObservation,
    provenance: &Provenance<'_>,
    rule: &'static str,
    reason: String,
) -> QuarantineEntry {
    QuarantineEntry {
        stage: "conform",
        source: provenance.source_id.to_owned(),
        raw_sha256: provenance.raw_sha256.to_owned(),
        location: row.location.clone(),
        rule,
        reason,
        record: format!(
            "dataset={};measure={};region={};period={};sex={};value={:?};abs_value={:?}",
            row.dataset,
            row.measure,
            match &row.region {
                RegionId::Sotkanet(n) => n.to_string(),
                RegionId::Code(c) => c.clone(),
            },
            row.period,
            row.sex.as_str(),
            row.value,
            row.abs_value
        ),
    }
}

/// Observations of one source with their regions resolved, in column form.
#[derive(Debug, Default)]
pub struct ObservationColumns {
    source: Vec<&'static str>,
    dataset: Vec<String>,
    measure: Vec<String>,
    region: Vec<String>,
    region_level: Vec<&'static str>,
    period: Vec<String>,
    year: Vec<i16>,
    sex: Vec<&'static str>,
    age: Vec<String>,
    breakdown: Vec<String>,
    value: Vec<Option<f64>>,
    abs_value: Vec<Option<f64>>,
    status: Vec<Option<String>>,
    status_label: Vec<Option<String>>,
    unit: Vec<Option<String>>,
    /// Index into `payloads`: one payload has many rows, so its sha256 is kept once.
    raw_sha256: Vec<u32>,
    payloads: Vec<String>,
    retrieved_at: Vec<i64>,
}

/// Provenance shared by all rows of one payload.
pub struct Provenance<'a> {
    /// Source id in the pipeline (for quarantine).
    pub source_id: &'a str,
    /// sha256 of the payload.
    pub raw_sha256: &'a str,
    /// When the payload was retrieved.
    pub retrieved_at: DateTime<Utc>,
}

impl ObservationColumns {
    /// Resolves and appends decoded rows; rows whose region does not resolve go to `quarantine`.
    pub fn push_resolved(
        &mut self,
        rows: Vec<RawObservation>,
        resolver: &RegionResolver<'_>,
        provenance: &Provenance<'_>,
        quarantine: &mut Vec<QuarantineEntry>,
    ) {
        for row in rows {
            if let Err(q) = self.push_one(row, resolver, provenance) {
                quarantine.push(q);
            }
        }
    }

    /// Resolves and appends one row, or returns its quarantine entry.
    pub fn push_one(
        &mut self,
        row: RawObservation,
        resolver: &RegionResolver<'_>,
        provenance: &Provenance<'_>,
    ) -> Result<(), QuarantineEntry> {
        let retrieved_at = provenance.retrieved_at.timestamp_micros();
        {
            match resolver.resolve(&row.region) {
                Ok((code, level)) => {
                    self.source
                        .push(SourceKind::of_dataset(&row.dataset).as_str());
                    self.region.push(code);
                    self.region_level.push(level.as_str());
                    self.period.push(row.period);
                    self.year.push(row.year);
                    self.sex.push(row.sex.as_str());
                    self.age.push(row.age);
                    self.breakdown.push(row.breakdown);
                    self.value.push(row.value);
                    self.abs_value.push(row.abs_value);
                    self.status.push(row.status);
                    self.status_label.push(row.status_label);
                    self.unit.push(row.unit);
                    if self.payloads.last().map(String::as_str) != Some(provenance.raw_sha256) {
                        self.payloads.push(provenance.raw_sha256.to_owned());
                    }
                    let payload = u32::try_from(self.payloads.len() - 1).unwrap_or(u32::MAX);
                    self.raw_sha256.push(payload);
                    self.retrieved_at.push(retrieved_at);
                    self.dataset.push(row.dataset);
                    self.measure.push(row.measure);
                    Ok(())
                }
                Err((rule, reason)) => Err(unresolved(&row, provenance, rule, reason)),
            }
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.region.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.region.is_empty()
    }

    /// The rows so far as an `observations` frame in arrival order, leaving this empty (for
    /// writing in batches).
    pub fn take_frame(&mut self) -> Result<DataFrame, InternalError> {
        std::mem::take(self).unsorted_frame()
    }

    /// The `observations` table, sorted by dataset, measure, region, period, sex, age, breakdown.
    pub fn into_frame(self) -> Result<DataFrame, InternalError> {
        self.unsorted_frame()?
            .lazy()
            .sort(
                [
                    "dataset",
                    "measure",
                    "region",
                    "period",
                    "sex",
                    "age",
                    "breakdown",
                ],
                SortMultipleOptions::default().with_maintain_order(true),
            )
            .collect()
            .context("sorting `observations`")
    }

    fn unsorted_frame(self) -> Result<DataFrame, InternalError> {
        let height = self.region.len();
        let retrieved_at = Int64Chunked::from_vec("retrieved_at".into(), self.retrieved_at)
            .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
            .into_series();
        let columns: Vec<Column> = vec![
            Series::new("source".into(), self.source).into(),
            Series::new("dataset".into(), self.dataset).into(),
            Series::new("measure".into(), self.measure).into(),
            Series::new("region".into(), self.region).into(),
            Series::new("region_level".into(), self.region_level).into(),
            Series::new("period".into(), self.period).into(),
            Series::new("year".into(), self.year).into(),
            Series::new("sex".into(), self.sex).into(),
            Series::new("age".into(), self.age).into(),
            Series::new("breakdown".into(), self.breakdown).into(),
            Series::new("value".into(), self.value).into(),
            Series::new("abs_value".into(), self.abs_value).into(),
            Series::new("status".into(), self.status).into(),
            Series::new("status_label".into(), self.status_label).into(),
            Series::new("unit".into(), self.unit).into(),
            Series::new(
                "raw_sha256".into(),
                self.raw_sha256
                    .iter()
                    .map(|&i| self.payloads.get(i as usize).map_or("", String::as_str))
                    .collect::<Vec<&str>>(),
            )
            .into(),
            retrieved_at.into(),
        ];
        DataFrame::new(height, columns).context("building `observations`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_codes_and_sotkanet_ids() {
        let registry = Registry::builtin().unwrap();
        let r = RegionResolver {
            registry: &registry,
            sotkanet_regions: None,
        };
        assert_eq!(
            r.resolve(&RegionId::Code("KU020".into())).unwrap().0,
            "KU020"
        );
        assert_eq!(r.resolve(&RegionId::Code("091".into())).unwrap().0, "KU091");
        assert_eq!(
            r.resolve(&RegionId::Sotkanet(959)).unwrap(),
            ("HVA12".into(), Level::WellbeingCounty)
        );
        assert_eq!(
            r.resolve(&RegionId::Sotkanet(999_999)).unwrap_err().0,
            "unknown_region"
        );
        assert_eq!(
            r.resolve(&RegionId::Code("KU999".into())).unwrap_err().0,
            "unknown_region"
        );
    }

    #[test]
    fn payload_is_authoritative() {
        let registry = Registry::builtin().unwrap();
        let payload: HashMap<i64, SotkanetRegion> = [
            (
                46,
                SotkanetRegion::Canonical("KU091".into(), Level::Municipality),
            ),
            (547, SotkanetRegion::OtherCategory("SEUTUKUNTA".into())),
        ]
        .into();
        let r = RegionResolver {
            registry: &registry,
            sotkanet_regions: Some(("regions", &payload)),
        };
        assert_eq!(r.resolve(&RegionId::Sotkanet(46)).unwrap().0, "KU091");
        assert_eq!(
            r.resolve(&RegionId::Sotkanet(547)).unwrap_err().0,
            "unsupported_level"
        );
        // Known to the registry, but not in this payload: not guessed.
        let (rule, reason) = r.resolve(&RegionId::Sotkanet(959)).unwrap_err();
        assert_eq!(rule, "unknown_region");
        assert!(reason.contains("`regions`"), "{reason}");
    }
}
