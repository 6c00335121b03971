//! A row that could not be used, with where it was and why: every stage quarantines rows as
//! [`QuarantineEntry`] values, and the run writes them as `quarantine/<table>.parquet`
//! ([`quarantine_frame`]).

use polars::prelude::{Column, DataFrame, NamedFrom, Series};

use crate::error::{InternalError, PolarsContext};

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

/// A `quarantine` table from entries.
pub fn quarantine_frame(
    entries: &[QuarantineEntry],
    run_id: &str,
) -> Result<DataFrame, InternalError> {
    let e = entries;
    DataFrame::new(
        e.len(),
        vec![
            text_column("stage", e.iter().map(|e| e.stage)),
            text_column("source", e.iter().map(|e| e.source.as_str())),
            text_column("raw_sha256", e.iter().map(|e| e.raw_sha256.as_str())),
            text_column("location", e.iter().map(|e| e.location.as_str())),
            text_column("rule", e.iter().map(|e| e.rule)),
            text_column("reason", e.iter().map(|e| e.reason.as_str())),
            text_column("record", e.iter().map(|e| e.record.as_str())),
            text_column("run_id", e.iter().map(|_| run_id)),
        ],
    )
    .context("building `quarantine`")
}

fn text_column<'a>(name: &str, values: impl Iterator<Item = &'a str>) -> Column {
    Series::new(name.into(), values.collect::<Vec<_>>()).into()
}

/// One line for the log about quarantined rows: how many, by which rules, and where the first
/// one is, e.g. `1 row quarantined: wrong_type at x.json#/0/year` or `5 rows quarantined:
/// wrong_type (3), unknown_region (2); first at x.json#/0/year`.
pub fn summary(entries: &[QuarantineEntry]) -> String {
    let mut tally = Tally::default();
    for e in entries {
        tally.add(e);
    }
    tally.summary()
}

/// Quarantined rows counted as they go by (for a writer that does not keep them): how many,
/// per rule, and the first one's location.
#[derive(Debug, Default)]
pub struct Tally {
    total: usize,
    rules: Vec<(&'static str, usize)>,
    first: Option<String>,
}

impl Tally {
    /// Counts one entry.
    pub fn add(&mut self, e: &QuarantineEntry) {
        self.total += 1;
        match self.rules.iter_mut().find(|(r, _)| *r == e.rule) {
            Some((_, n)) => *n += 1,
            None => self.rules.push((e.rule, 1)),
        }
        if self.first.is_none() {
            self.first = Some(e.location.clone());
        }
    }

    /// How many were counted.
    pub fn total(&self) -> usize {
        self.total
    }

    /// See [`summary`].
    pub fn summary(&self) -> String {
        let Some(first) = &self.first else {
            return "no rows quarantined".to_owned();
        };
        let n = self.total;
        let rows = if n == 1 { "row" } else { "rows" };
        if let [(rule, _)] = self.rules[..] {
            return format!("{n} {rows} quarantined: {rule} at {first}");
        }
        let rules: Vec<String> = self
            .rules
            .iter()
            .map(|(r, k)| format!("{r} ({k})"))
            .collect();
        format!(
            "{n} {rows} quarantined: {}; first at {first}",
            rules.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(rule: &'static str, location: &str) -> QuarantineEntry {
        QuarantineEntry {
            stage: "normalize",
            source: "s".into(),
            raw_sha256: String::new(),
            location: location.into(),
            rule,
            reason: String::new(),
            record: String::new(),
        }
    }

    #[test]
    fn a_summary_names_the_rules_and_the_first_location() {
        assert_eq!(
            summary(&[entry("wrong_type", "x.json#/0/year")]),
            "1 row quarantined: wrong_type at x.json#/0/year"
        );
        let many = [
            entry("wrong_type", "x.json#/0/year"),
            entry("unknown_region", "x.json#/3"),
            entry("wrong_type", "x.json#/7/value"),
        ];
        assert_eq!(
            summary(&many),
            "3 rows quarantined: wrong_type (2), unknown_region (1); first at x.json#/0/year"
        );
    }
}
