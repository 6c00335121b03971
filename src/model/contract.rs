//! The check stage: table contracts.
//!
//! Every table has a contract in `schemas/<table>.toml` (compiled into the binary): its columns in
//! order, their types and whether they may be null. [`Contract::check_frame`] runs before a table
//! is written and [`Contract::check_parquet`] after, reading the file back with the independent
//! arrow-rs Parquet reader, so that what lands on disk is what the contract says. A mismatch is an
//! error (exit 4), never a warning.

use std::path::Path;

use arrow_schema::{DataType as ArrowType, TimeUnit as ArrowUnit};
use polars::prelude::{ArrayRef, DataFrame, DataType, PlSmallStr, TimeUnit};
use serde::Deserialize;

use crate::error::InternalError;

/// The contract of one table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// Table name.
    pub table: String,
    /// Version, written to `mittari.schema_version`.
    pub schema_version: u32,
    /// What the table holds.
    pub description: String,
    /// Columns in order.
    pub columns: Vec<ColumnContract>,
    /// A wide table: after `columns`, any number of further (nullable) columns of this type, one
    /// per indicator.
    #[serde(default)]
    pub extra_columns: Option<ColumnType>,
}

/// One column of a contract.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnContract {
    /// Column name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// Whether nulls are allowed.
    pub nullable: bool,
    /// What the column means.
    pub description: String,
    /// The unit of its values, where the column has one unit (a value column whose unit varies
    /// by row names it in another column).
    #[serde(default)]
    pub unit: Option<String>,
}

/// Column types a contract can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// UTF-8 text, stored plain or dictionary-encoded (a polars `Enum` or `Categorical`, an
    /// Arrow `Dictionary` of strings): readers see text either way.
    String,
    /// 16-bit integer.
    Int16,
    /// 64-bit integer.
    Int64,
    /// 64-bit float.
    Float64,
    /// Boolean.
    Boolean,
    /// Calendar date.
    Date,
    /// Timestamp in microseconds, UTC.
    TimestampUsUtc,
}

impl ColumnType {
    fn matches_polars(self, dt: &DataType) -> bool {
        match self {
            ColumnType::String => matches!(
                dt,
                DataType::String | DataType::Enum(..) | DataType::Categorical(..)
            ),
            ColumnType::Int16 => matches!(dt, DataType::Int16),
            ColumnType::Int64 => matches!(dt, DataType::Int64),
            ColumnType::Float64 => matches!(dt, DataType::Float64),
            ColumnType::Boolean => matches!(dt, DataType::Boolean),
            ColumnType::Date => matches!(dt, DataType::Date),
            ColumnType::TimestampUsUtc => {
                matches!(dt, DataType::Datetime(TimeUnit::Microseconds, Some(tz)) if tz.as_str() == "UTC")
            }
        }
    }

    fn matches_arrow(self, dt: &ArrowType) -> bool {
        match self {
            ColumnType::String => match dt {
                ArrowType::Dictionary(_, values) => ColumnType::String.matches_arrow(values),
                _ => matches!(
                    dt,
                    ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View
                ),
            },
            ColumnType::Int16 => matches!(dt, ArrowType::Int16),
            ColumnType::Int64 => matches!(dt, ArrowType::Int64),
            ColumnType::Float64 => matches!(dt, ArrowType::Float64),
            ColumnType::Boolean => matches!(dt, ArrowType::Boolean),
            ColumnType::Date => matches!(dt, ArrowType::Date32),
            ColumnType::TimestampUsUtc => {
                matches!(dt, ArrowType::Timestamp(ArrowUnit::Microsecond, Some(tz)) if tz.as_ref() == "UTC")
            }
        }
    }
}

const CONTRACTS: [(&str, &str); 21] = [
    (
        "observations",
        include_str!("../../schemas/observations.toml"),
    ),
    ("regions", include_str!("../../schemas/regions.toml")),
    ("indicators", include_str!("../../schemas/indicators.toml")),
    ("quarantine", include_str!("../../schemas/quarantine.toml")),
    ("crosswalk", include_str!("../../schemas/crosswalk.toml")),
    ("mergers", include_str!("../../schemas/mergers.toml")),
    (
        "indicator_catalogue",
        include_str!("../../schemas/indicator_catalogue.toml"),
    ),
    ("kpa", include_str!("../../schemas/kpa.toml")),
    (
        "reconciliation",
        include_str!("../../schemas/reconciliation.toml"),
    ),
    (
        "comparisons",
        include_str!("../../schemas/comparisons.toml"),
    ),
    (
        "region_profile",
        include_str!("../../schemas/region_profile.toml"),
    ),
    (
        "maturity_responses",
        include_str!("../../schemas/maturity_responses.toml"),
    ),
    (
        "maturity_role_scores",
        include_str!("../../schemas/maturity_role_scores.toml"),
    ),
    (
        "maturity_dimension_scores",
        include_str!("../../schemas/maturity_dimension_scores.toml"),
    ),
    (
        "maturity_method_params",
        include_str!("../../schemas/maturity_method_params.toml"),
    ),
    (
        "roadmap_actions",
        include_str!("../../schemas/roadmap_actions.toml"),
    ),
    (
        "roadmap_milestones",
        include_str!("../../schemas/roadmap_milestones.toml"),
    ),
    (
        "roadmap_progress",
        include_str!("../../schemas/roadmap_progress.toml"),
    ),
    (
        "maturity_signals",
        include_str!("../../schemas/maturity_signals.toml"),
    ),
    (
        "maturity_overall",
        include_str!("../../schemas/maturity_overall.toml"),
    ),
    (
        "run_history",
        include_str!("../../schemas/run_history.toml"),
    ),
];

impl Contract {
    /// The contract of a table.
    pub fn for_table(table: &str) -> Result<Contract, InternalError> {
        let (_, text) = CONTRACTS
            .iter()
            .find(|(t, _)| *t == table)
            .ok_or_else(|| InternalError::Invariant(format!("no contract for table `{table}`")))?;
        let c: Contract = toml::from_str(text)
            .map_err(|e| InternalError::Invariant(format!("schemas/{table}.toml: {e}")))?;
        if c.table != table {
            return Err(InternalError::Invariant(format!(
                "schemas/{table}.toml names table `{}`",
                c.table
            )));
        }
        Ok(c)
    }

    fn violation(&self, message: String) -> InternalError {
        InternalError::Contract {
            table: self.table.clone(),
            message,
        }
    }

    /// Checks a frame before it is written: column names and order, types, nulls.
    pub fn check_frame(&self, df: &DataFrame) -> Result<(), InternalError> {
        let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
        let expected: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        let (fixed, extra) = names.split_at(names.len().min(expected.len()));
        if let Some(kind) = self.extra_columns
            && fixed == expected.as_slice()
        {
            for name in extra {
                let dt = df
                    .column(name)
                    .map_err(|e| self.violation(format!("column `{name}`: {e}")))?
                    .dtype()
                    .clone();
                if !kind.matches_polars(&dt) {
                    return Err(self.violation(format!(
                        "column `{name}` has type {dt}, contract says {kind:?} for every column after `{}`",
                        expected.last().copied().unwrap_or_default()
                    )));
                }
            }
        } else if names != expected {
            return Err(self.violation(format!(
                "columns are [{}], contract says [{}]",
                names.join(", "),
                expected.join(", ")
            )));
        }
        for c in &self.columns {
            let col = df
                .column(&c.name)
                .map_err(|e| self.violation(format!("column `{}`: {e}", c.name)))?;
            self.check_column(c, col.dtype(), col.null_count())?;
        }
        self.check_finite(df)
    }

    /// No published number is NaN or infinite: a value that cannot be computed is missing, with
    /// a flag that says why (the stages see to that; this is the net under them).
    fn check_finite(&self, df: &DataFrame) -> Result<(), InternalError> {
        for col in df.columns() {
            let Ok(values) = col.f64() else { continue };
            if let Some(row) = values
                .iter()
                .position(|v| v.is_some_and(|v| !v.is_finite()))
            {
                return Err(self.violation(format!(
                    "column `{}` holds {} at row {row}: a published number is finite or missing",
                    col.name(),
                    values.get(row).unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    /// One column's type and nulls against its contract.
    fn check_column(
        &self,
        c: &ColumnContract,
        dtype: &DataType,
        nulls: usize,
    ) -> Result<(), InternalError> {
        if !c.kind.matches_polars(dtype) {
            return Err(self.violation(format!(
                "column `{}` has type {dtype}, contract says {:?}",
                c.name, c.kind
            )));
        }
        if !c.nullable && nulls > 0 {
            return Err(self.violation(format!(
                "column `{}` has {nulls} nulls but is not nullable",
                c.name
            )));
        }
        Ok(())
    }

    /// [`Contract::check_frame`] for a batch of Arrow arrays (one per field of `schema`).
    pub fn check_arrow(
        &self,
        schema: &polars_arrow::datatypes::ArrowSchema,
        arrays: &[ArrayRef],
    ) -> Result<(), InternalError> {
        self.check_arrow_schema(schema, arrays.len())?;
        for (i, array) in arrays.iter().enumerate() {
            self.check_arrow_column(schema, i, array)?;
        }
        Ok(())
    }

    /// The part of [`Contract::check_arrow`] that needs no array: the columns of `schema`, in
    /// order, and `arrays` of them.
    pub fn check_arrow_schema(
        &self,
        schema: &polars_arrow::datatypes::ArrowSchema,
        arrays: usize,
    ) -> Result<(), InternalError> {
        let names: Vec<&str> = schema.iter_names().map(PlSmallStr::as_str).collect();
        let expected: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        if names != expected || arrays != names.len() {
            return Err(self.violation(format!(
                "columns are [{}] ({arrays} arrays), contract says [{}]",
                names.join(", "),
                expected.join(", ")
            )));
        }
        Ok(())
    }

    /// The rest of [`Contract::check_arrow`], for column `i` of a batch whose schema passed
    /// [`Contract::check_arrow_schema`].
    pub fn check_arrow_column(
        &self,
        schema: &polars_arrow::datatypes::ArrowSchema,
        i: usize,
        array: &ArrayRef,
    ) -> Result<(), InternalError> {
        let (Some(c), Some((_, field))) = (self.columns.get(i), schema.get_at_index(i)) else {
            return Err(self.violation(format!("no column {i} in the contract")));
        };
        if field.dtype() != array.dtype() {
            return Err(self.violation(format!(
                "column `{}` holds {:?} where its field says {:?}",
                c.name,
                array.dtype(),
                field.dtype()
            )));
        }
        let dt = DataType::from_arrow_dtype(array.dtype());
        self.check_column(c, &dt, array.null_count())
    }

    /// The contract without some of its columns: a partition's file, whose key columns are in
    /// its folder names.
    #[must_use]
    pub fn without(&self, columns: &[&str]) -> Contract {
        let mut c = self.clone();
        c.columns
            .retain(|col| !columns.contains(&col.name.as_str()));
        c
    }

    /// The key-value metadata every Parquet file of this table carries; [`Contract::check_parquet`]
    /// verifies the same keys.
    pub fn parquet_metadata(&self, run_id: &str, pipeline: &str) -> Vec<(String, String)> {
        vec![
            ("mittari.table".to_owned(), self.table.clone()),
            (
                "mittari.schema_version".to_owned(),
                self.schema_version.to_string(),
            ),
            ("mittari.run_id".to_owned(), run_id.to_owned()),
            ("mittari.pipeline".to_owned(), pipeline.to_owned()),
        ]
    }

    /// Checks a written Parquet file with arrow-rs: schema, row count and key-value metadata.
    pub fn check_parquet(
        &self,
        path: &Path,
        rows: usize,
        run_id: &str,
    ) -> Result<(), InternalError> {
        let meta = crate::io::parquet::read_parquet_metadata(path)?;
        let names: Vec<&str> = meta
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let expected: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        let at = |m: String| self.violation(format!("{}: {m}", path.display()));
        let fixed_ok = names.len() >= expected.len() && names[..expected.len()] == expected[..];
        if !(names == expected || (self.extra_columns.is_some() && fixed_ok)) {
            return Err(at(format!("file columns are [{}]", names.join(", "))));
        }
        if let Some(kind) = self.extra_columns {
            for f in &meta.schema.fields()[expected.len()..] {
                if !kind.matches_arrow(f.data_type()) {
                    return Err(at(format!(
                        "column `{}` is {} in the file",
                        f.name(),
                        f.data_type()
                    )));
                }
            }
        }
        for (c, f) in self.columns.iter().zip(meta.schema.fields()) {
            if !c.kind.matches_arrow(f.data_type()) {
                return Err(at(format!(
                    "column `{}` is {} in the file",
                    c.name,
                    f.data_type()
                )));
            }
        }
        if meta.rows != rows {
            return Err(at(format!(
                "file has {} rows, {rows} were written",
                meta.rows
            )));
        }
        let kv = |k: &str| meta.key_value.get(k).map(String::as_str);
        let version = self.schema_version.to_string();
        for (key, want) in [
            ("mittari.table", self.table.as_str()),
            ("mittari.schema_version", version.as_str()),
            ("mittari.run_id", run_id),
        ] {
            if kv(key) != Some(want) {
                return Err(at(format!(
                    "metadata `{key}` is {:?}, expected {want:?}",
                    kv(key)
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;
    use polars_arrow::array::PrimitiveArray;
    use polars_arrow::datatypes::{ArrowDataType, ArrowSchema, Field};

    #[test]
    fn every_contract_loads() {
        for (t, _) in CONTRACTS {
            let c = Contract::for_table(t).unwrap();
            assert!(!c.columns.is_empty());
        }
    }

    #[test]
    fn a_non_finite_number_is_a_violation() {
        let c = Contract {
            table: "t".into(),
            schema_version: 1,
            description: String::new(),
            columns: vec![ColumnContract {
                name: "x".into(),
                kind: ColumnType::Float64,
                nullable: true,
                description: String::new(),
                unit: None,
            }],
            extra_columns: None,
        };
        c.check_frame(&df!("x" => [Some(1.5), None]).unwrap())
            .unwrap();
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = c
                .check_frame(&df!("x" => [Some(1.5), Some(bad)]).unwrap())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("at row 1") && err.contains("finite or missing"),
                "{err}"
            );
        }
    }

    #[test]
    fn wrong_type_and_nulls_are_violations() {
        let c = Contract {
            table: "t".into(),
            schema_version: 1,
            description: String::new(),
            columns: vec![ColumnContract {
                name: "a".into(),
                kind: ColumnType::Int16,
                nullable: false,
                description: String::new(),
                unit: None,
            }],
            extra_columns: None,
        };
        let ok = df!("a" => [1i16, 2]).unwrap();
        c.check_frame(&ok).unwrap();
        let wrong_type = df!("a" => [1i32, 2]).unwrap();
        assert!(
            c.check_frame(&wrong_type)
                .unwrap_err()
                .to_string()
                .contains("has type i32")
        );
        let nulls = df!("a" => [Some(1i16), None]).unwrap();
        assert!(
            c.check_frame(&nulls)
                .unwrap_err()
                .to_string()
                .contains("1 nulls")
        );
        let renamed = df!("b" => [1i16]).unwrap();
        assert!(
            c.check_frame(&renamed)
                .unwrap_err()
                .to_string()
                .contains("contract says [a]")
        );
        // The same rules for Arrow batches, and a batch must hold what its schema says.
        let schema = |name: &str, dtype: ArrowDataType| {
            ArrowSchema::from_iter([(name.into(), Field::new(name.into(), dtype, true))])
        };
        let i16s = |v: &[Option<i16>]| -> Vec<ArrayRef> {
            vec![PrimitiveArray::<i16>::from(v.to_vec()).boxed()]
        };
        let int16 = schema("a", ArrowDataType::Int16);
        c.check_arrow(&int16, &i16s(&[Some(1), Some(2)])).unwrap();
        let err = |s: &ArrowSchema, a: &[ArrayRef]| c.check_arrow(s, a).unwrap_err().to_string();
        assert!(err(&int16, &i16s(&[Some(1), None])).contains("1 nulls"));
        assert!(
            err(&schema("b", ArrowDataType::Int16), &i16s(&[Some(1)]))
                .contains("contract says [a]")
        );
        let int32 = schema("a", ArrowDataType::Int32);
        let i32s: Vec<ArrayRef> = vec![PrimitiveArray::<i32>::from_vec(vec![1]).boxed()];
        assert!(err(&int32, &i32s).contains("has type i32"));
        assert!(err(&int16, &i32s).contains("where its field says Int16"));
    }
}
