//! Hive-partitioned tables: with `[output] partitioned = true`, `observations` and `indicators`
//! are written as folders of one Parquet file per partition, for engines that read such folders
//! and skip the partitions a query does not need (Spark, Trino, `DuckDB`, polars, Fabric):
//!
//! ```text
//! observations/dataset=<dataset>/year=<year>/part-0.parquet
//! indicators/indicator=<indicator>/year=<year>/part-0.parquet
//! ```
//!
//! `indicators` has no `dataset` column (an indicator may combine several datasets), so its first
//! key is the indicator. As Hive lays them out, the key columns are in the folder names and not in
//! the files; a value is written as is, but for characters other than ASCII letters, digits, `-`,
//! `_` and `.`, which are percent-encoded (`sotkanet:5641` is `sotkanet%3A5641`), and a missing
//! value is `__HIVE_DEFAULT_PARTITION__`. Each file's name is the same from run to run, so the
//! publisher keeps a partition whose content did not change (the previous file, untouched) and
//! writes only those that did.

use std::fmt::Write;

use polars::prelude::*;

use crate::error::{InternalError, PolarsContext};

/// The partition columns of the tables that can be partitioned, in folder order.
pub fn keys(table: &str) -> Option<&'static [&'static str]> {
    match table {
        "observations" => Some(&["dataset", "year"]),
        "indicators" => Some(&["indicator", "year"]),
        _ => None,
    }
}

/// How Hive names a partition without a value.
pub const DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// A key value as a folder name's part: percent-encoded but for `[A-Za-z0-9._-]`.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// One partition: its folder (`dataset=x/year=2024`, relative to the table's folder) and its rows
/// without the key columns.
pub struct Part {
    /// The folder, relative to the table's.
    pub dir: String,
    /// The rows, without the key columns.
    pub frame: DataFrame,
}

/// Which rows of the table a partition holds: their row numbers, or a run of rows.
pub enum Rows {
    /// Row numbers, in the table's order.
    Numbers(Vec<IdxSize>),
    /// `(first, len)`: consecutive rows.
    Run(usize, usize),
}

/// The partitions of a table by `keys`, in the order of their first rows: only their row numbers,
/// so that a partition's rows are copied out ([`part`]) when it is written and dropped after,
/// rather than every partition at once.
pub fn groups(df: &DataFrame, keys: &[&str]) -> Result<Vec<Rows>, InternalError> {
    let by = df
        .group_by_stable(keys.iter().copied())
        .context("grouping a table into partitions")?;
    Ok(match by.get_groups().as_ref() {
        GroupsType::Idx(idx) => idx
            .all()
            .iter()
            .map(|rows| Rows::Numbers(rows.as_slice().to_vec()))
            .collect(),
        GroupsType::Slice { groups, .. } => groups
            .iter()
            .map(|[first, len]| Rows::Run(*first as usize, *len as usize))
            .collect(),
    })
}

/// One partition's rows without the key columns, and its folder.
pub fn part(df: &DataFrame, rows: Rows, keys: &[&str]) -> Result<Part, InternalError> {
    let part = match rows {
        Rows::Numbers(numbers) => df
            .take(&IdxCa::from_vec("row".into(), numbers))
            .context("a partition's rows")?,
        Rows::Run(first, len) => df.slice(i64::try_from(first).unwrap_or(i64::MAX), len),
    };
    let mut dir = Vec::with_capacity(keys.len());
    for k in keys {
        let value = part
            .column(k)
            .context("a partition key")?
            .get(0)
            .context("a partition key")?;
        let text = if value.is_null() {
            DEFAULT_PARTITION.to_owned()
        } else {
            escape(&value.str_value())
        };
        dir.push(format!("{k}={text}"));
    }
    Ok(Part {
        dir: dir.join("/"),
        frame: part.drop_many(keys.iter().copied()),
    })
}

/// The table a published path belongs to: `observations/dataset=x/year=2024/part-0.parquet` and
/// `observations.parquet` are both `observations`.
pub fn table_of(path: &str) -> &str {
    let (mut start, mut end) = (0usize, path.len());
    for segment in path.split('/') {
        if segment.contains('=') {
            end = start.saturating_sub(1);
            break;
        }
        start += segment.len() + 1;
    }
    let head = &path[..end];
    head.strip_suffix(".parquet").unwrap_or(head)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn values_are_escaped_as_hive_does() {
        assert_eq!(escape("sotkanet_5641"), "sotkanet_5641");
        assert_eq!(escape("sotkanet:5641"), "sotkanet%3A5641");
        assert_eq!(escape("a/b=c d%"), "a%2Fb%3Dc%20d%25");
        assert_eq!(escape("ikä"), "ik%C3%A4");
    }

    #[test]
    fn a_table_splits_by_its_keys_without_them() {
        let df = df!(
            "dataset" => ["a", "b", "a", "a:x"],
            "year" => [Some(2023i16), Some(2023), Some(2024), None],
            "value" => [1.0, 2.0, 3.0, 4.0],
        )
        .unwrap();
        let keys = ["dataset", "year"];
        let parts: Vec<Part> = groups(&df, &keys)
            .unwrap()
            .into_iter()
            .map(|rows| part(&df, rows, &keys).unwrap())
            .collect();
        let dirs: Vec<&str> = parts.iter().map(|p| p.dir.as_str()).collect();
        assert_eq!(
            dirs,
            [
                "dataset=a/year=2023",
                "dataset=b/year=2023",
                "dataset=a/year=2024",
                "dataset=a%3Ax/year=__HIVE_DEFAULT_PARTITION__"
            ]
        );
        assert!(
            parts
                .iter()
                .all(|p| p.frame.get_column_names() == ["value"])
        );
        assert_eq!(parts.iter().map(|p| p.frame.height()).sum::<usize>(), 4);
    }

    #[test]
    fn paths_name_their_table() {
        assert_eq!(table_of("observations.parquet"), "observations");
        assert_eq!(
            table_of("quarantine/observations.parquet"),
            "quarantine/observations"
        );
        assert_eq!(
            table_of("observations/dataset=x/year=2024/part-0.parquet"),
            "observations"
        );
    }
}
