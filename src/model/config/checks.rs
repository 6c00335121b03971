//! The `[[checks]]` of a pipeline file as plain configuration: each check's kind, severity,
//! table and parameters, validated when the pipeline is loaded (a check that names a table or
//! column its contract does not have is a configuration error, exit 2). The check stage
//! ([`crate::stages::check`]) runs them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::contract::Contract;

/// How bad a failing check is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Reported; the outputs are published.
    Warn,
    /// Nothing is published; the run exits 1.
    #[default]
    Error,
}

impl Severity {
    /// The name used in pipeline files.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Warn => "warn",
            Severity::Error => "error",
        }
    }
}

/// The kinds of check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// `columns` have no nulls.
    NotNull,
    /// `columns` together identify a row.
    Unique,
    /// `column` takes only `values`.
    AcceptedValues,
    /// `column` holds only region codes the registry knows.
    Relationship,
    /// `column` lies within `min`..=`max`.
    Range,
    /// The table has `min`..=`max` rows.
    RowCount,
    /// A row for every region of `regions` and year of `years`.
    Coverage,
    /// The latest `column` year is at most `max_age_years` old, or `source` was updated within
    /// `max_age_days`.
    Freshness,
    /// The rows `where` selects have `column` = `expected` (within `tolerance`), a figure the
    /// pipeline states with its `reference` (an official figure pinned by the analyst).
    KnownValue,
    /// The two `regions` have the same `column` (within `tolerance`) in every row they share
    /// otherwise (same indicator and year, or dataset, measure, year ...): e.g. Helsinki, a county
    /// of its own, has its municipal value as its county value for every count.
    RegionsAgree,
}

impl CheckKind {
    /// The name used in pipeline files.
    pub fn name(self) -> &'static str {
        match self {
            CheckKind::NotNull => "not_null",
            CheckKind::Unique => "unique",
            CheckKind::AcceptedValues => "accepted_values",
            CheckKind::Relationship => "relationship",
            CheckKind::Range => "range",
            CheckKind::RowCount => "row_count",
            CheckKind::Coverage => "coverage",
            CheckKind::Freshness => "freshness",
            CheckKind::KnownValue => "known_value",
            CheckKind::RegionsAgree => "regions_agree",
        }
    }
}

/// Which regions a coverage check expects.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum RegionSet {
    /// `focus`, `counties` or `municipalities` (of the reference year).
    Named(NamedRegions),
    /// Explicit region codes.
    Codes(Vec<String>),
}

/// Named region sets.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NamedRegions {
    /// The pipeline's focus regions.
    Focus,
    /// Every wellbeing services county (and Helsinki).
    Counties,
    /// Every municipality of the reference year.
    Municipalities,
}

/// `[[checks]]`: one declared data-quality check.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Unique name: used in messages, the manifest and the quarantine file name.
    pub name: String,
    /// What is checked.
    pub kind: CheckKind,
    /// `warn` or `error` (default).
    #[serde(default)]
    pub severity: Severity,
    /// The table checked (any published table).
    #[serde(default)]
    pub table: Option<String>,
    /// Columns (`not_null`, `unique`).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// Column (`accepted_values`, `relationship`, `range`, `freshness`).
    #[serde(default)]
    pub column: Option<String>,
    /// Only rows whose columns equal these values (as text).
    #[serde(default, rename = "where")]
    pub filter: Option<BTreeMap<String, String>>,
    /// Accepted values.
    #[serde(default)]
    pub values: Option<Vec<String>>,
    /// Lower bound (`range`: value; `row_count`: rows).
    #[serde(default)]
    pub min: Option<f64>,
    /// Upper bound.
    #[serde(default)]
    pub max: Option<f64>,
    /// Regions expected (`coverage`).
    #[serde(default)]
    pub regions: Option<RegionSet>,
    /// Years expected (`coverage`; default the pipeline's years).
    #[serde(default)]
    pub years: Option<Vec<i16>>,
    /// Oldest accepted latest year, as years before the run's `--as-of` year (`freshness`).
    #[serde(default)]
    pub max_age_years: Option<u16>,
    /// Source whose update date is checked (`freshness`).
    #[serde(default)]
    pub source: Option<String>,
    /// Oldest accepted update, in days before `--as-of` (`freshness`).
    #[serde(default)]
    pub max_age_days: Option<u32>,
    /// The figure expected (`known_value`).
    #[serde(default)]
    pub expected: Option<f64>,
    /// Where the figure comes from, e.g. "Statistics Finland, population 31.12.2024"
    /// (`known_value`).
    #[serde(default)]
    pub reference: Option<String>,
    /// Largest accepted difference from `expected` (`known_value`) or between the two regions
    /// (`regions_agree`); default 0.
    #[serde(default)]
    pub tolerance: Option<f64>,
    /// Only the pipeline's indicators of this aggregation rule, as `indicator_catalogue` lists
    /// them (`regions_agree` on a table with an `indicator` column), e.g. `count`.
    #[serde(default)]
    pub aggregation: Option<String>,
}

/// A declared check as the check stage runs it: validated when the pipeline was loaded, and
/// without the file positions that only the configuration layer's messages need.
#[derive(Debug, Clone)]
pub struct Check {
    /// Its name.
    pub name: String,
    /// What it checks.
    pub kind: CheckKind,
    /// How bad a failure is.
    pub severity: Severity,
    /// The table it checks (`None` for a source's freshness).
    pub table: Option<String>,
    /// `columns` (empty when the kind takes none).
    pub columns: Vec<String>,
    /// `column` (empty when the kind takes none).
    pub column: String,
    /// `where`: only rows whose columns equal these values (compared as text).
    pub filter: Option<BTreeMap<String, String>>,
    /// `accepted_values`: the values accepted.
    pub values: Option<Vec<String>>,
    /// `range` and `row_count`: the bounds.
    pub min: Option<f64>,
    /// See `min`.
    pub max: Option<f64>,
    /// `coverage`: the regions expected.
    pub regions: Option<RegionSet>,
    /// `coverage`: the years expected (default the pipeline's).
    pub years: Option<Vec<i16>>,
    /// `freshness` of a column: the largest age in years.
    pub max_age_years: Option<u16>,
    /// `freshness` of a source: its id.
    pub source: Option<String>,
    /// `freshness` of a source: the largest age in days.
    pub max_age_days: Option<u32>,
    /// `known_value`: the figure expected.
    pub expected: Option<f64>,
    /// `known_value`: where the figure comes from.
    pub reference: Option<String>,
    /// `known_value` and `regions_agree`: the largest accepted difference.
    pub tolerance: f64,
    /// `regions_agree`: only indicators of this aggregation rule.
    pub aggregation: Option<String>,
}

impl From<&CheckConfig> for Check {
    fn from(c: &CheckConfig) -> Check {
        Check {
            name: c.name.clone(),
            kind: c.kind,
            severity: c.severity,
            table: c.table.clone(),
            columns: c.column_list(),
            column: c.column_name().to_owned(),
            filter: c.filter.clone(),
            values: c.values.clone(),
            min: c.min,
            max: c.max,
            regions: c.regions.clone(),
            years: c.years.clone(),
            max_age_years: c.max_age_years,
            source: c.source.clone(),
            max_age_days: c.max_age_days,
            expected: c.expected,
            reference: c.reference.clone(),
            tolerance: c.tolerance.unwrap_or(0.0),
            aggregation: c.aggregation.clone(),
        }
    }
}

/// Tables a check can name: every published table.
pub const CHECKABLE_TABLES: [&str; 19] = [
    "observations",
    "regions",
    "crosswalk",
    "mergers",
    "indicator_catalogue",
    "indicators",
    "reconciliation",
    "kpa",
    "comparisons",
    "region_profile",
    "maturity_responses",
    "maturity_role_scores",
    "maturity_signals",
    "maturity_overall",
    "maturity_dimension_scores",
    "maturity_method_params",
    "roadmap_actions",
    "roadmap_milestones",
    "roadmap_progress",
];

impl CheckConfig {
    /// `columns` (empty when absent: validation requires it where it is used).
    fn column_list(&self) -> Vec<String> {
        self.columns.clone().unwrap_or_default()
    }

    /// `column` (empty when absent: validation requires it where it is used).
    fn column_name(&self) -> &str {
        self.column.as_deref().unwrap_or_default()
    }

    /// Checks the fields the kind needs and only those, and that the table, its columns and
    /// the source exist. Returns the key of the check's entry to point at and the message.
    pub fn validate(&self, sources: &BTreeSet<&str>) -> Result<(), (&'static str, String)> {
        let name = &self.name;
        let kind = self.kind;
        let fail = |key: &'static str, m: String| Err((key, format!("check `{name}`: {m}")));
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return fail(
                "name",
                "a check's name uses letters, digits, `_` and `-` only (it names a file)".into(),
            );
        }
        let given: [(&str, bool); 16] = [
            ("table", self.table.is_some()),
            ("columns", self.columns.is_some()),
            ("column", self.column.is_some()),
            ("values", self.values.is_some()),
            ("min", self.min.is_some()),
            ("max", self.max.is_some()),
            ("regions", self.regions.is_some()),
            ("years", self.years.is_some()),
            ("max_age_years", self.max_age_years.is_some()),
            ("source", self.source.is_some()),
            ("max_age_days", self.max_age_days.is_some()),
            ("where", self.filter.is_some()),
            ("expected", self.expected.is_some()),
            ("reference", self.reference.is_some()),
            ("tolerance", self.tolerance.is_some()),
            ("aggregation", self.aggregation.is_some()),
        ];
        let (required, optional): (&[&str], &[&str]) = match kind {
            CheckKind::NotNull | CheckKind::Unique => (&["table", "columns"], &[]),
            CheckKind::AcceptedValues => (&["table", "column", "values"], &[]),
            CheckKind::Relationship => (&["table", "column"], &[]),
            CheckKind::Range | CheckKind::RowCount if self.min.is_none() && self.max.is_none() => {
                return fail(
                    "kind",
                    format!("a `{}` check needs `min`, `max` or both", kind.name()),
                );
            }
            CheckKind::Range => (&["table", "column"], &["min", "max"]),
            CheckKind::RowCount => (&["table"], &["min", "max"]),
            CheckKind::Coverage => (&["table", "regions"], &["years"]),
            CheckKind::Freshness if self.source.is_some() => (&["source", "max_age_days"], &[]),
            CheckKind::Freshness => (&["table", "column", "max_age_years"], &[]),
            CheckKind::KnownValue => (
                &["table", "column", "where", "expected", "reference"],
                &["tolerance"],
            ),
            CheckKind::RegionsAgree => (
                &["table", "column", "regions"],
                &["tolerance", "aggregation"],
            ),
        };
        if kind == CheckKind::RegionsAgree
            && !matches!(&self.regions, Some(RegionSet::Codes(c)) if c.len() == 2 && c[0] != c[1])
        {
            return fail(
                "regions",
                "a `regions_agree` check compares two region codes, e.g. `[\"HVA90\", \"KU091\"]`"
                    .into(),
            );
        }
        if let Some(t) = self.tolerance
            && !(t.is_finite() && t >= 0.0)
        {
            return fail("tolerance", format!("a tolerance is 0 or more, not {t}"));
        }
        if let Some(a) = &self.aggregation
            && !["count", "ratio", "mean", "index"].contains(&a.as_str())
        {
            return fail(
                "aggregation",
                format!("`{a}` is not an aggregation rule (count, ratio, mean or index)"),
            );
        }
        for (field, present) in given {
            if required.contains(&field) && !present {
                return fail("kind", format!("a `{}` check needs `{field}`", kind.name()));
            }
            // `where` narrows the rows of any check on a table.
            let anywhere = field == "where";
            if present && !anywhere && !required.contains(&field) && !optional.contains(&field) {
                return fail(
                    "kind",
                    format!("`{field}` does not apply to a `{}` check", kind.name()),
                );
            }
        }
        if self.filter.is_some() && self.table.is_none() {
            return fail("kind", "`where` needs a table".into());
        }
        if let (Some(min), Some(max)) = (self.min, self.max)
            && min
                .partial_cmp(&max)
                .is_none_or(|o| o == std::cmp::Ordering::Greater)
        {
            return fail("kind", format!("`min` {min} is above `max` {max}"));
        }
        if let Some(s) = &self.source
            && !sources.contains(s.as_str())
        {
            return fail("source", format!("no source has id `{s}`"));
        }
        let Some(table) = &self.table else {
            return Ok(());
        };
        let t = table;
        if !CHECKABLE_TABLES.contains(&t.as_str()) {
            return fail(
                "table",
                format!(
                    "unknown table `{t}`; one of: {}",
                    CHECKABLE_TABLES.join(", ")
                ),
            );
        }
        let contract = Contract::for_table(t).map_err(|e| ("table", e.to_string()))?;
        let has = |c: &str| {
            contract.extra_columns.is_some() || contract.columns.iter().any(|k| k.name == c)
        };
        let mut named: Vec<(&str, &'static str)> = Vec::new();
        if let Some(cs) = &self.columns {
            if cs.is_empty() {
                return fail("columns", "`columns` is empty".into());
            }
            named.extend(cs.iter().map(|c| (c.as_str(), "columns")));
        }
        if let Some(c) = &self.column {
            named.push((c, "column"));
        }
        if let Some(f) = &self.filter {
            named.extend(f.keys().map(|c| (c.as_str(), "where")));
        }
        if kind == CheckKind::Coverage {
            named.extend([("region", "table"), ("year", "table")]);
        }
        if kind == CheckKind::RegionsAgree {
            named.push(("region", "table"));
            if self.aggregation.is_some() {
                named.push(("indicator", "aggregation"));
            }
        }
        for (c, key) in named {
            if !has(c) {
                return fail(key, format!("table `{t}` has no column `{c}`"));
            }
        }
        Ok(())
    }
}
