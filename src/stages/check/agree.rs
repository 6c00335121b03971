//! `regions_agree`: two regions that are one and the same area (Helsinki the municipality and
//! Helsinki the county) have the same value in every row they otherwise share.
//!
//! Rows are paired by the table's identifying columns other than the region (`indicator`,
//! `dataset`, `measure`, `year`, `period`, `sex`, `age`, `breakdown`, whichever the table has).
//! A pair fails when both values are present and differ by more than the tolerance; a pair with
//! a missing side is not a failure (missing stays missing, and other checks are about nulls).
//! With `aggregation`, only the indicators `indicator_catalogue` lists with that rule are compared.

use std::collections::{BTreeMap, HashMap, HashSet};

use polars::prelude::*;

use super::text;
use crate::error::{InternalError, PolarsContext};
use crate::model::config::checks::{Check, RegionSet};

/// The columns that pair rows, in the order they are named in a reason.
const KEY: [&str; 8] = [
    "indicator",
    "dataset",
    "measure",
    "year",
    "period",
    "sex",
    "age",
    "breakdown",
];

/// The failing rows (a mask over `df`) and one reason per failing row.
pub(super) fn regions_agree(
    check: &Check,
    df: &DataFrame,
    tables: &BTreeMap<&str, &DataFrame>,
) -> Result<(BooleanChunked, Vec<String>), InternalError> {
    let what = "comparing two regions";
    let Some(RegionSet::Codes(codes)) = &check.regions else {
        return Err(InternalError::Invariant(format!(
            "check `{}`: regions_agree without two region codes (checked at load)",
            check.name
        )));
    };
    let (first, second) = (codes[0].as_str(), codes[1].as_str());
    let rule_ids = match &check.aggregation {
        Some(rule) => Some(indicators_of_rule(tables, rule)?),
        None => None,
    };
    let region = text(df, "region")?;
    let indicator = match df.column("indicator") {
        Ok(_) => Some(text(df, "indicator")?),
        Err(_) => None,
    };
    let key_columns: Vec<StringChunked> = KEY
        .iter()
        .filter(|k| df.column(k).is_ok())
        .map(|k| text(df, k))
        .collect::<Result<_, _>>()?;
    let key_of = |i: usize| -> String {
        key_columns
            .iter()
            .map(|k| k.get(i).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let values = df
        .column(&check.column)
        .context(what)?
        .cast(&DataType::Float64)
        .context(what)?;
    let values = values.f64().context(what)?.clone();
    let compared = |i: usize| {
        rule_ids.as_ref().is_none_or(|ids| {
            indicator
                .as_ref()
                .and_then(|ind| ind.get(i))
                .is_some_and(|id| ids.contains(id))
        })
    };
    // key -> (row of a, row of b)
    let mut pairs: HashMap<String, (Option<usize>, Option<usize>)> = HashMap::new();
    for i in 0..df.height() {
        let side = match region.get(i) {
            Some(r) if r == first => 0,
            Some(r) if r == second => 1,
            _ => continue,
        };
        if !compared(i) {
            continue;
        }
        let entry = pairs.entry(key_of(i)).or_default();
        if side == 0 {
            entry.0.get_or_insert(i);
        } else {
            entry.1.get_or_insert(i);
        }
    }
    let mut failing: HashMap<usize, String> = HashMap::new();
    for (key, pair) in &pairs {
        let (Some(row_first), Some(row_second)) = *pair else {
            continue;
        };
        let (Some(x), Some(y)) = (values.get(row_first), values.get(row_second)) else {
            continue;
        };
        if (x - y).abs() > check.tolerance {
            let reason = format!(
                "{key}: `{}` of {first} = {x}, of {second} = {y} (difference {}, tolerance {})",
                check.column,
                x - y,
                check.tolerance
            );
            failing.insert(row_first, reason.clone());
            failing.insert(row_second, reason);
        }
    }
    let mask: BooleanChunked = (0..df.height()).map(|i| failing.contains_key(&i)).collect();
    let reasons = (0..df.height())
        .filter_map(|i| failing.remove(&i))
        .collect();
    Ok((mask, reasons))
}

/// The indicators `indicator_catalogue` lists with aggregation `rule`.
fn indicators_of_rule(
    tables: &BTreeMap<&str, &DataFrame>,
    rule: &str,
) -> Result<HashSet<String>, InternalError> {
    let Some(cat) = tables.get("indicator_catalogue") else {
        return Ok(HashSet::new());
    };
    let (ids, rules) = (text(cat, "indicator")?, text(cat, "aggregation")?);
    Ok(ids
        .iter()
        .zip(rules.iter())
        .filter(|(_, r)| *r == Some(rule))
        .filter_map(|(id, _)| id.map(str::to_owned))
        .collect())
}
