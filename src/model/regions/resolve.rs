//! Region identifiers as published become canonical codes: the registry's side of conforming.
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
//! in [`crate::stages::derive`], because how to aggregate depends on the measure.

//!
//! Decoders resolve regions as they write rows into the observation columns (see
//! [`crate::model::columns`]), so the resolver belongs to the shared model rather than to a stage.

use std::collections::HashMap;

use super::{Level, Registry};
use crate::model::observation::{Provenance, RawObservation, RegionId};
use crate::model::quarantine::QuarantineEntry;

/// What a Sotkanet `/regions` payload says of one id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SotkanetRegion {
    /// A region at a level mittari models, with its canonical code.
    Canonical(String, Level),
    /// A region of a category mittari does not model (e.g. `SEUTUKUNTA`).
    OtherCategory(String),
}

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

    /// Random rows with many ties and missing values: `into_frame`'s rank sort must give what
    /// polars' stable multi-column sort gives on the same rows in arrival order, and
    /// `take_frame` must keep arrival order and every value (missing ones as null).

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
