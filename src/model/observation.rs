//! What one observation is made of, for every stage: where it came from ([`SourceKind`]), its
//! sex, the region identifier as the payload published it ([`RegionId`]), one decoded value
//! before its region is conformed ([`RawObservation`]), and how years are read out of periods.
//!
//! These types live in the shared model because decoders produce them, the region resolver and
//! the observation columns consume them, and derive reads them back: no stage owns them.

use std::fmt;

use chrono::{DateTime, Utc};

/// Where the data came from (`observations.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// THL Sotkanet.
    Sotkanet,
    /// Statistics Finland StatFin.
    Statfin,
    /// Another PxWeb service.
    Pxweb,
    /// A local file.
    File,
}

impl SourceKind {
    /// The value of the `source` column.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Sotkanet => "sotkanet",
            SourceKind::Statfin => "statfin",
            SourceKind::Pxweb => "pxweb",
            SourceKind::File => "file",
        }
    }

    /// The source kind implied by a dataset id prefix (`sotkanet:127` -> Sotkanet).
    pub fn of_dataset(dataset: &str) -> SourceKind {
        match dataset.split(':').next() {
            Some("sotkanet") => SourceKind::Sotkanet,
            Some("statfin") => SourceKind::Statfin,
            Some("pxweb") => SourceKind::Pxweb,
            _ => SourceKind::File,
        }
    }
}

/// Sex as carried in `observations.sex`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// Both sexes.
    Total,
    /// Men.
    Male,
    /// Women.
    Female,
}

impl Sex {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Total => "total",
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }

    /// Parses `total`, `male` or `female`.
    pub fn parse(s: &str) -> Option<Sex> {
        match s {
            "total" => Some(Sex::Total),
            "male" => Some(Sex::Male),
            "female" => Some(Sex::Female),
            _ => None,
        }
    }
}

/// A region identifier as the payload published it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegionId {
    /// Sotkanet's internal integer id.
    Sotkanet(i64),
    /// A Statistics Finland style code (`KU091`, `HVA12`, `SSS`, or plain `091`).
    Code(String),
}

impl fmt::Display for RegionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionId::Sotkanet(id) => write!(f, "Sotkanet region id {id}"),
            RegionId::Code(c) => write!(f, "region code `{c}`"),
        }
    }
}

/// One decoded value, before its region is conformed.
#[derive(Debug, Clone, PartialEq)]
pub struct RawObservation {
    /// Dataset id, e.g. `sotkanet:171`.
    pub dataset: String,
    /// Measure id inside the dataset.
    pub measure: String,
    /// The region as published.
    pub region: RegionId,
    /// Period as published (`2024`, `2024M12`).
    pub period: String,
    /// Year of the period.
    pub year: i16,
    /// Sex.
    pub sex: Sex,
    /// Age (`total` or a band as published).
    pub age: String,
    /// Other dimensions, `key=value;…`, empty when none.
    pub breakdown: String,
    /// The value; `None` when missing or suppressed.
    pub value: Option<f64>,
    /// Sotkanet's absolute value.
    pub abs_value: Option<f64>,
    /// Status symbol or code as published.
    pub status: Option<String>,
    /// What the status means, when the payload says.
    pub status_label: Option<String>,
    /// Unit.
    pub unit: Option<String>,
    /// Where in the payload the value came from (for quarantine at later stages).
    pub location: String,
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

/// `year` if it is a plausible statistical year (1800 to 2200), as an `i16`.
pub fn plausible_year(year: i64) -> Option<i16> {
    i16::try_from(year)
        .ok()
        .filter(|y| (1800..=2200).contains(y))
}

/// Parses the year out of a period as published: `2024`, `2024M12`, `2024Q1`, `2024H1`.
pub fn year_of_period(period: &str) -> Option<i16> {
    let digits = period.get(..4)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = &period[4..];
    let rest_ok = rest.is_empty()
        || matches!(rest.as_bytes()[0], b'M' | b'Q' | b'H' | b'K' | b'W')
            && rest[1..].bytes().all(|b| b.is_ascii_digit())
            && rest.len() > 1;
    let year = plausible_year(digits.parse().ok()?)?;
    rest_ok.then_some(year)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        assert_eq!(year_of_period("2024"), Some(2024));
        assert_eq!(year_of_period("2024M12"), Some(2024));
        assert_eq!(year_of_period("2010Q1"), Some(2010));
        assert_eq!(year_of_period("2024M"), None);
        assert_eq!(year_of_period("20x4"), None);
        assert_eq!(year_of_period("2024-01"), None);
    }
}
