//! `mittari convert FORMAT INPUT -o OUT.parquet`: one source file -> canonical `observations`.
//!
//! JSON-stat is streamed: the file is read twice (metadata, then cells) and never held in memory
//! or as a JSON tree; observations are written to Parquet in batches of [`BATCH_ROWS`], so a
//! table far larger than memory would comfortably hold as JSON converts in bounded memory. Rows
//! keep the document's cell order, except cells given as text (a number or a missing-value
//! symbol in a string), which the row path decodes and which are written last. Sotkanet
//! payloads are small and decoded in one go.
//!
//! Regions are conformed through the built-in registry. Rows that cannot be used are written to
//! `<OUT>.quarantine.parquet`; a stale quarantine file from an earlier conversion of the same
//! output is removed when there are none. Both files follow the contracts in `schemas/`, are
//! written to a temporary file beside the target, checked, then renamed: a failed conversion
//! leaves an existing output untouched.

use std::path::{Path, PathBuf};

use chrono::Utc;
use polars::io::parquet::write::BatchedWriter;
use polars::prelude::{
    DataFrame, KeyValueMetadata, ParquetCompression, ParquetWriter, PolarsResult, Schema, SchemaRef,
};
use tracing::{info, warn};

use crate::check::Contract;
use crate::cli::{ConvertArgs, ConvertFormat};
use crate::error::{Error, InternalError, SourceError};
use crate::extract::read_file;
use crate::hash::sha256_file;
use crate::normalize::jsonstat::columns::{ColumnOptions, decode_columns};
use crate::normalize::jsonstat::{DimensionRoles, Input};
use crate::normalize::{DecodeContext, QuarantineEntry, RawObservation, RegionId, sotkanet};
use crate::pipeline::quarantine_frame;
use crate::publish::write_error;
use crate::regions::Registry;
use crate::regions::conform::{ObservationColumns, Provenance, RegionResolver, unresolved};

/// Rows per Parquet batch when streaming.
pub const BATCH_ROWS: usize = 64 * 1024;

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

/// A Parquet table written in batches to a temporary file, checked, then renamed into place.
struct TableWriter {
    contract: Contract,
    run_id: String,
    tmp: PathBuf,
    target: PathBuf,
    writer: Option<BatchedWriter<std::fs::File>>,
    /// The schema of the first batch, which every later batch is cast to.
    schema: Option<SchemaRef>,
    rows: usize,
    done: bool,
}

impl TableWriter {
    fn create(table: &str, target: &Path, run_id: &str) -> Result<TableWriter, InternalError> {
        let dir = target
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs_err::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("out.parquet");
        Ok(TableWriter {
            contract: Contract::for_table(table)?,
            run_id: run_id.to_owned(),
            tmp: dir.join(format!(".{name}.tmp-{}", std::process::id())),
            target: target.to_path_buf(),
            writer: None,
            schema: None,
            rows: 0,
            done: false,
        })
    }

    fn write(&mut self, df: &DataFrame) -> Result<(), InternalError> {
        self.contract.check_frame(df)?;
        let cast;
        let df = match &self.schema {
            Some(schema) if df.schema() != schema => {
                cast = cast_to(df, schema)?;
                &cast
            }
            _ => df,
        };
        if self.writer.is_none() {
            self.schema = Some(df.schema().clone());
            let file = fs_err::File::create(&self.tmp).map_err(|e| write_error(&self.tmp, e))?;
            let metadata = self.contract.parquet_metadata(&self.run_id, "convert");
            let writer = ParquetWriter::new(file.into_parts().0)
                .with_compression(ParquetCompression::Zstd(None))
                .with_key_value_metadata(Some(KeyValueMetadata::from_static(metadata)))
                .batched(df.schema())
                .map_err(|e| write_error(&self.tmp, e))?;
            self.writer = Some(writer);
        }
        if let Some(w) = &mut self.writer
            && df.height() > 0
        {
            w.write_batch(df).map_err(|e| write_error(&self.tmp, e))?;
        }
        self.rows += df.height();
        Ok(())
    }

    fn finish(mut self) -> Result<usize, InternalError> {
        let writer = self.writer.take().ok_or_else(|| {
            InternalError::Invariant("a table was finished before any batch".into())
        })?;
        writer.finish().map_err(|e| write_error(&self.tmp, e))?;
        drop(writer);
        // fsync applies to the file, whichever descriptor asks.
        fs_err::File::open(&self.tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| write_error(&self.tmp, e))?;
        self.contract
            .check_parquet(&self.tmp, self.rows, &self.run_id)?;
        fs_err::rename(&self.tmp, &self.target).map_err(|e| write_error(&self.target, e))?;
        self.done = true;
        Ok(self.rows)
    }
}

/// `df` with its columns cast to `schema`'s types: rows decoded by the row path (plain strings)
/// written after batches whose key columns are dictionary-encoded. Every value is one of the
/// document's categories, so a failed cast is a bug.
fn cast_to(df: &DataFrame, schema: &Schema) -> Result<DataFrame, InternalError> {
    let columns = df
        .columns()
        .iter()
        .map(|c| match schema.get(c.name()) {
            Some(dt) if dt != c.dtype() => c.strict_cast(dt),
            _ => Ok(c.clone()),
        })
        .collect::<PolarsResult<Vec<_>>>()
        .map_err(|e| {
            InternalError::Invariant(format!("a late batch does not fit the table: {e}"))
        })?;
    DataFrame::new(df.height(), columns)
        .map_err(|e| InternalError::Invariant(format!("a late batch does not fit the table: {e}")))
}

impl Drop for TableWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs_err::remove_file(&self.tmp);
        }
    }
}

/// Runs a conversion.
pub fn convert(args: &ConvertArgs) -> Result<Converted, Error> {
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
    let registry = Registry::builtin()?;
    let resolver = RegionResolver {
        registry: &registry,
        sotkanet_regions: None,
    };
    let run_id = format!("convert-{}", Utc::now().format("%Y%m%dT%H%M%SZ"));
    let mut out = TableWriter::create("observations", &args.output, &run_id)?;
    let mut columns = ObservationColumns::default();
    let mut quarantine: Vec<QuarantineEntry> = Vec::new();
    let retrieved_at = Utc::now();

    if args.format == ConvertFormat::Jsonstat {
        let (sha, _) = sha256_file(&args.input).map_err(|e| SourceError::Missing {
            source_id: "input".to_owned(),
            path: args.input.clone(),
            source: e,
        })?;
        let ctx = context(args, dataset, sha.clone());
        let provenance = Provenance {
            source_id: "input",
            raw_sha256: &sha,
            retrieved_at,
        };
        let roles = DimensionRoles {
            region: args.region_dim.clone(),
            region_code: args.region_code.clone(),
            time: args.time_dim.clone(),
            measure: args.measure_dim.clone(),
            sex: args.sex_dim.clone(),
            age: args.age_dim.clone(),
            sex_codes: None,
        };
        let resolve = |id: &RegionId| resolver.resolve(id).map(|(c, l)| (c, l.as_str()));
        let reject =
            |raw: &RawObservation, rule, reason| unresolved(raw, &provenance, rule, reason);
        let options = ColumnOptions {
            resolve_region: &resolve,
            reject_region: &reject,
            retrieved_at_micros: retrieved_at.timestamp_micros(),
            batch_rows: BATCH_ROWS,
        };
        let mut slow_rows = Vec::new();
        // Decoding and writing overlap: batches go to a writer thread through a channel of one
        // slot, so at most three batches are alive at once.
        let (decoded, written) = std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<DataFrame>(1);
            let writer = scope.spawn(move || -> Result<TableWriter, InternalError> {
                for df in rx {
                    out.write(&df)?;
                }
                Ok(out)
            });
            let decoded = decode_columns(
                Input::File(&args.input),
                &roles,
                &ctx,
                &options,
                &mut quarantine,
                |df| {
                    tx.send(df)
                        .map_err(|_| "the Parquet writer stopped".to_owned())
                },
                |row| {
                    slow_rows.push(row);
                    Ok(())
                },
            );
            drop(tx);
            let written = writer.join().unwrap_or_else(|_| {
                Err(InternalError::Invariant(
                    "the Parquet writer thread panicked".into(),
                ))
            });
            (decoded, written)
        });
        // A failure to write is reported as what it is, not as a bad input.
        out = written?;
        // Cells given as text that decode (rare): resolved and written after the rest.
        for row in slow_rows {
            if let Err(q) = columns.push_one(&row, &resolver, &provenance) {
                quarantine.push(q);
            }
        }
        for info in decoded? {
            for w in &info.warnings {
                warn!(dataset = %info.dataset, "JSON-stat: {w}");
            }
        }
    } else {
        let payload = read_file("input", &args.input)?;
        let ctx = context(args, dataset, payload.sha256.clone());
        let decoded = if args.format == ConvertFormat::SotkanetJson {
            sotkanet::decode_json(&payload.bytes, &ctx)?
        } else {
            sotkanet::decode_csv(&payload.bytes, &ctx)?
        };
        quarantine.extend(decoded.quarantine);
        let provenance = Provenance {
            source_id: "input",
            raw_sha256: &payload.sha256,
            retrieved_at,
        };
        columns.push_resolved(decoded.rows, &resolver, &provenance, &mut quarantine);
        // Small payloads: written sorted, like `run` writes `observations`.
        out.write(&std::mem::take(&mut columns).into_frame()?)?;
    }
    // The last (possibly only, possibly empty) batch.
    out.write(&columns.take_frame()?)?;
    let rows = out.finish()?;

    let qpath = quarantine_path(&args.output);
    let quarantine_path = if quarantine.is_empty() {
        if qpath.exists() {
            fs_err::remove_file(&qpath).map_err(|e| write_error(&qpath, e))?;
        }
        None
    } else {
        warn!(rows = quarantine.len(), path = %qpath.display(), "Quarantined rows");
        let mut q = TableWriter::create("quarantine", &qpath, &run_id)?;
        q.write(&quarantine_frame(&quarantine, &run_id)?)?;
        q.finish()?;
        Some(qpath)
    };
    info!(rows, path = %args.output.display(), "Wrote observations");
    Ok(Converted {
        rows,
        quarantined: quarantine.len(),
        quarantine_path,
    })
}

fn context(args: &ConvertArgs, dataset: String, raw_sha256: String) -> DecodeContext {
    DecodeContext {
        source_id: "input".to_owned(),
        dataset,
        file: args.input.display().to_string(),
        raw_sha256,
        unit: None,
    }
}
