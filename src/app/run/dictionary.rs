//! The data dictionary of a run's outputs, for their readers: every published table's and
//! column's description, type and unit from the contracts, written beside the outputs as
//! `data_dictionary.csv` (Finnish Excel's dialect: `;`, BOM, CRLF) and as a Frictionless Data
//! Package, `datapackage.json` (a resource per table with its Parquet file and field schema).
//! The same descriptions are in each Parquet file's Arrow field metadata (`description`).

use serde_json::json;

use super::tables::Table;
use crate::error::InternalError;
use crate::model::contract::{ColumnType, Contract};
use crate::stages::publish::OutputRecord;
use crate::stages::publish::partition::{self, table_of};

/// A contract type as Frictionless names it.
fn frictionless(kind: ColumnType) -> &'static str {
    match kind {
        ColumnType::String => "string",
        ColumnType::Int16 | ColumnType::Int64 => "integer",
        ColumnType::Float64 => "number",
        ColumnType::Boolean => "boolean",
        ColumnType::Date => "date",
        ColumnType::TimestampUsUtc => "datetime",
    }
}

/// The contracts of the tables a run publishes, with each table's path.
fn contracts(tables: &[Table]) -> Result<Vec<(String, Contract)>, InternalError> {
    tables
        .iter()
        .map(|t| Ok((t.path.to_owned(), Contract::for_table(t.contract)?)))
        .collect()
}

/// Where a table's Parquet data is: its file, or its partitions' files.
fn file_of(path: &str, partitioned: bool) -> String {
    match partition::keys(path).filter(|_| partitioned) {
        Some(keys) => {
            let dirs: Vec<String> = keys.iter().map(|k| format!("{k}=*")).collect();
            format!("{path}/{}/part-0.parquet", dirs.join("/"))
        }
        None => format!("{path}.parquet"),
    }
}

/// `data_dictionary.csv`'s bytes and its number of rows.
pub(crate) fn csv(tables: &[Table], partitioned: bool) -> Result<(Vec<u8>, usize), InternalError> {
    let fail = |e: &dyn std::fmt::Display| {
        InternalError::Invariant(format!("writing data_dictionary.csv: {e}"))
    };
    let mut w = crate::io::tabular::excel_fi_writer();
    w.write_record([
        "table",
        "file",
        "column",
        "type",
        "nullable",
        "unit",
        "description",
    ])
    .map_err(|e| fail(&e))?;
    let mut rows = 0;
    for (path, c) in contracts(tables)? {
        let file = file_of(&path, partitioned);
        w.write_record([
            c.table.as_str(),
            &file,
            "",
            "table",
            "",
            "",
            c.description.as_str(),
        ])
        .map_err(|e| fail(&e))?;
        rows += 1;
        for col in &c.columns {
            w.write_record([
                c.table.as_str(),
                &file,
                &col.name,
                frictionless(col.kind),
                if col.nullable { "yes" } else { "no" },
                col.unit.as_deref().unwrap_or_default(),
                &col.description,
            ])
            .map_err(|e| fail(&e))?;
            rows += 1;
        }
        if let Some(kind) = c.extra_columns {
            w.write_record([
                c.table.as_str(),
                &file,
                "<indicator>",
                frictionless(kind),
                "yes",
                "",
                "one column per indicator, named by its id (titles and units in indicator_catalogue)",
            ])
            .map_err(|e| fail(&e))?;
            rows += 1;
        }
    }
    Ok((w.into_inner().map_err(|e| fail(&e))?, rows))
}

/// `datapackage.json`: a Frictionless Data Package of the run's tables (a partitioned table's
/// resource lists its partitions' files, the key columns named in `mittari:partitioned_by`).
/// It names no run: unchanged contracts and partitions give the same file, which a rerun keeps.
pub(crate) fn datapackage(
    tables: &[Table],
    pipeline: &str,
    outputs: &[OutputRecord],
) -> Result<Vec<u8>, InternalError> {
    let resources: Vec<serde_json::Value> = contracts(tables)?
        .into_iter()
        .map(|(path, c)| {
            let fields: Vec<serde_json::Value> = c
                .columns
                .iter()
                .map(|col| {
                    let mut f = json!({
                        "name": col.name,
                        "type": frictionless(col.kind),
                        "description": col.description,
                        "constraints": { "required": !col.nullable },
                    });
                    if let Some(u) = &col.unit {
                        f["unit"] = json!(u);
                    }
                    f
                })
                .collect();
            let parts: Vec<&str> = outputs
                .iter()
                .filter(|o| o.format == "parquet" && o.path.starts_with(&format!("{path}/")))
                .filter(|o| table_of(&o.path) == path)
                .map(|o| o.path.as_str())
                .collect();
            let mut resource = json!({
                "name": path.replace('/', "_"),
                "path": format!("{path}.parquet"),
                "format": "parquet",
                "mediatype": "application/vnd.apache.parquet",
                "description": c.description,
                "schema": { "fields": fields },
                "mittari:schema_version": c.schema_version,
            });
            if let Some(keys) = partition::keys(&path).filter(|_| !parts.is_empty()) {
                resource["path"] = json!(parts);
                resource["mittari:partitioned_by"] = json!(keys);
            }
            resource
        })
        .collect();
    let package = json!({
        "profile": "data-package",
        "name": pipeline.to_lowercase().replace(|ch: char| !ch.is_ascii_alphanumeric() && ch != '-', "-"),
        "title": format!("mittari: {pipeline}"),
        "description": "The tables of one mittari run; every column's description, type and unit. Column descriptions are also in each Parquet file's Arrow field metadata.",
        "resources": resources,
    });
    serde_json::to_vec_pretty(&package)
        .map_err(|e| InternalError::Invariant(format!("writing datapackage.json: {e}")))
}
