//! `mittari convert FORMAT INPUT -o OUT.parquet`: one source file -> canonical `observations`.
//!
//! Regions are conformed through the built-in registry (Sotkanet ids through the registry's
//! Sotkanet ids). Rows that cannot be used are written to `<OUT>.quarantine.parquet`; a stale
//! quarantine file from an earlier conversion of the same output is removed when there are none.
//! Both files follow the contracts in `schemas/` and are written atomically.

use std::path::{Path, PathBuf};

use chrono::Utc;
use tracing::{info, warn};

use crate::check::Contract;
use crate::cli::{ConvertArgs, ConvertFormat};
use crate::error::{Error, InternalError};
use crate::extract::read_file;
use crate::normalize::jsonstat::{self, DimensionRoles};
use crate::normalize::{DecodeContext, sotkanet};
use crate::pipeline::quarantine_frame;
use crate::publish::write_parquet;
use crate::regions::Registry;
use crate::regions::conform::{ObservationColumns, Provenance, RegionResolver};

/// What a conversion wrote.
#[derive(Debug)]
pub struct Converted {
    /// Rows written to the output.
    pub rows: usize,
    /// Rows quarantined.
    pub quarantined: usize,
    /// The quarantine file, when there were such rows.
    pub quarantine_path: Option<PathBuf>,
}

/// Where the quarantine of a conversion goes.
pub fn quarantine_path(output: &Path) -> PathBuf {
    output.with_extension("quarantine.parquet")
}

/// Runs a conversion.
pub fn convert(args: &ConvertArgs) -> Result<Converted, Error> {
    let payload = read_file("input", &args.input)?;
    let stem = args
        .input
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("input");
    let dataset = match (&args.dataset, args.format) {
        (Some(d), _) => d.clone(),
        // Sotkanet rows carry their indicator: each row gets `sotkanet:<indicator>`.
        (None, ConvertFormat::SotkanetJson | ConvertFormat::SotkanetCsv) => String::new(),
        (None, ConvertFormat::Jsonstat) => format!("file:{stem}"),
    };
    let ctx = DecodeContext {
        source_id: "input".to_owned(),
        dataset,
        file: args.input.display().to_string(),
        raw_sha256: payload.sha256.clone(),
        unit: None,
    };
    let decoded = match args.format {
        ConvertFormat::SotkanetJson => sotkanet::decode_json(&payload.bytes, &ctx)?,
        ConvertFormat::SotkanetCsv => sotkanet::decode_csv(&payload.bytes, &ctx)?,
        ConvertFormat::Jsonstat => {
            let roles = DimensionRoles {
                region: args.region_dim.clone(),
                region_code: args.region_code.clone(),
                time: args.time_dim.clone(),
                measure: args.measure_dim.clone(),
                sex: args.sex_dim.clone(),
                age: args.age_dim.clone(),
                sex_codes: None,
            };
            jsonstat::decode(&payload.bytes, &roles, &ctx)?
        }
    };
    let registry = Registry::builtin()?;
    let mut quarantine = decoded.quarantine;
    let mut columns = ObservationColumns::default();
    columns.push_resolved(
        decoded.rows,
        &RegionResolver {
            registry: &registry,
            sotkanet_regions: None,
        },
        &Provenance {
            source_id: "input",
            raw_sha256: &payload.sha256,
            retrieved_at: payload.retrieved_at,
        },
        &mut quarantine,
    );
    let mut df = columns.into_frame()?;
    let run_id = format!("convert-{}", Utc::now().format("%Y%m%dT%H%M%SZ"));
    write_table("observations", &mut df, &args.output, &run_id)?;
    let qpath = quarantine_path(&args.output);
    let quarantine_path = if quarantine.is_empty() {
        if qpath.exists() {
            fs_err::remove_file(&qpath).map_err(|e| InternalError::Write {
                path: qpath.clone(),
                source: e.into(),
            })?;
        }
        None
    } else {
        warn!(rows = quarantine.len(), path = %qpath.display(), "Quarantined rows");
        write_table(
            "quarantine",
            &mut quarantine_frame(&quarantine, &run_id)?,
            &qpath,
            &run_id,
        )?;
        Some(qpath)
    };
    info!(rows = df.height(), path = %args.output.display(), "Wrote observations");
    Ok(Converted {
        rows: df.height(),
        quarantined: quarantine.len(),
        quarantine_path,
    })
}

/// Writes one table atomically (temporary file beside the target, checked, then renamed).
fn write_table(
    table: &str,
    df: &mut polars::prelude::DataFrame,
    path: &Path,
    run_id: &str,
) -> Result<(), Error> {
    let contract = Contract::for_table(table)?;
    contract.check_frame(df)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs_err::create_dir_all(dir).map_err(|e| InternalError::Write {
        path: dir.to_path_buf(),
        source: e.into(),
    })?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("out.parquet");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let metadata = vec![
        ("mittari.table".to_owned(), table.to_owned()),
        (
            "mittari.schema_version".to_owned(),
            contract.schema_version.to_string(),
        ),
        ("mittari.run_id".to_owned(), run_id.to_owned()),
        ("mittari.pipeline".to_owned(), "convert".to_owned()),
    ];
    let result = write_parquet(df, &tmp, metadata)
        .and_then(|()| contract.check_parquet(&tmp, df.height(), run_id))
        .and_then(|()| {
            fs_err::rename(&tmp, path).map_err(|e| InternalError::Write {
                path: path.to_path_buf(),
                source: e.into(),
            })
        });
    if result.is_err() {
        let _ = fs_err::remove_file(&tmp);
    }
    Ok(result?)
}
