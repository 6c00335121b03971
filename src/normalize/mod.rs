//! The normalize stage: raw payloads -> rows of the canonical `observations` table.
//!
//! One decoder per format ([`sotkanet`], [`jsonstat`]). A decoder fails as a whole only when the
//! payload cannot be read at all (truncated JSON, a CSV without the expected header); a row that
//! cannot be used becomes a [`QuarantineEntry`] with its location (JSON pointer or `file:line`)
//! and a reason, and decoding goes on. Values are never invented: an absent or null value stays
//! `None`, with its status where the payload gives one.
//!
//! Decoders keep the region identifier as published ([`RegionId`]); the conform stage maps it to
//! a canonical code, because that needs the registry and, for Sotkanet, the `/regions` payload.

pub mod jsonstat;
pub mod regionfile;
pub mod sotkanet;
mod sotkanet_rows;
pub mod xlsx;

use std::fmt;

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

/// A row that could not be used, with where it was and why.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineEntry {
    /// Stage that rejected it (`normalize`, `conform`, ...).
    pub stage: &'static str,
    /// Source id in the pipeline.
    pub source: String,
    /// sha256 of the archived payload.
    pub raw_sha256: String,
    /// `file:line` or `file#/json/pointer`.
    pub location: String,
    /// Short machine-readable rule name.
    pub rule: &'static str,
    /// Human-readable reason.
    pub reason: String,
    /// The offending input as text.
    pub record: String,
}

/// What a decoder needs to know about the payload it decodes.
#[derive(Debug, Clone)]
pub struct DecodeContext {
    /// Source id in the pipeline.
    pub source_id: String,
    /// Dataset id the rows belong to.
    pub dataset: String,
    /// The payload's file, as shown in messages.
    pub file: String,
    /// sha256 of the payload.
    pub raw_sha256: String,
    /// Unit to use where the payload has none.
    pub unit: Option<String>,
}

impl DecodeContext {
    /// A quarantine entry for this payload.
    pub fn quarantine(
        &self,
        location: String,
        rule: &'static str,
        reason: String,
        record: String,
    ) -> QuarantineEntry {
        QuarantineEntry {
            stage: "normalize",
            source: self.source_id.clone(),
            raw_sha256: self.raw_sha256.clone(),
            location,
            rule,
            reason,
            record,
        }
    }
}

/// The result of decoding one payload.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Rows that decoded.
    pub rows: Vec<RawObservation>,
    /// Rows that decoded straight into columns with their regions resolved (the column paths of
    /// JSON-stat and Sotkanet `/json`); their quarantine entries are in `quarantine`.
    pub resolved: crate::regions::conform::ObservationColumns,
    /// Rows that did not.
    pub quarantine: Vec<QuarantineEntry>,
    /// What the payload's datasets say about themselves (JSON-stat: label, notes, warnings).
    pub datasets: Vec<jsonstat::DatasetInfo>,
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
