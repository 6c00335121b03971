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

use polars::prelude::DataFrame;
use polars_arrow::datatypes::ArrowSchemaRef;
use tracing::{info, warn};

use crate::error::{Error, InternalError, SourceError};
use crate::io::atomic::write_error;
use crate::io::hash::sha256_file;
use crate::model::columns::{BATCH_ROWS, ObservationColumns};
use crate::model::contract::Contract;
use crate::model::observation::Provenance;
use crate::model::observation::{RawObservation, RegionId};
use crate::model::quarantine::{QuarantineEntry, quarantine_frame};
use crate::model::regions::Registry;
use crate::model::regions::resolve::RegionResolver;
use crate::stages::extract::read_file;
use crate::stages::normalize::jsonstat::columns::{
    ArrowBatch, ColumnOptions, decode_planned, plan_columns,
};
use crate::stages::normalize::jsonstat::{DimensionRoles, Input};
use crate::stages::normalize::{
    Collect, DecodeContext, ObservationSink, PayloadFormat, decode_payload,
};
use crate::stages::publish::writer::{Encoders, ParquetFile, arrow_schema, write_options};

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

/// A Parquet table written in row groups to a temporary file, checked, then renamed into place.
///
/// Batches arrive either as polars frames or as JSON-stat batches whose columns are built as
/// they are encoded (text columns as dictionaries over the document's categories: handing those
/// to the writer as they are spares the per-row re-keying polars does when it exports a
/// categorical column). The first batch fixes the schema, and every later batch must have
/// exactly its column types.
struct TableWriter {
    contract: Contract,
    run_id: String,
    tmp: PathBuf,
    target: PathBuf,
    file: Option<ParquetFile>,
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
            file: None,
            done: false,
        })
    }

    /// The open file, created with `schema` by the first batch.
    fn file(&mut self, schema: &ArrowSchemaRef) -> Result<&mut ParquetFile, InternalError> {
        if self.file.is_none() {
            // zstd at level 1 rather than 3: on the national population table of
            // `benches/jsonstat.sh` level 1 wrote a smaller file (5.7 MB against 6.7 MB) in
            // about the same time.
            // Encoded on the writer's own thread and one more per core beyond the first: the
            // writer thread has nothing else to do (see `Encoders::Own`).
            self.file = Some(
                ParquetFile::create(&self.tmp, schema.clone(), write_options(Some(1)))?
                    .encoded_on(Encoders::Own),
            );
        }
        self.file
            .as_mut()
            .ok_or_else(|| InternalError::Invariant("the table writer did not open".into()))
    }

    /// Writes a polars frame.
    fn write(&mut self, df: &DataFrame) -> Result<(), InternalError> {
        self.contract.check_frame(df)?;
        // Column types are checked against the table's as the frame is written.
        self.file(&arrow_schema(df))?.write_frame(df)
    }

    /// Writes a JSON-stat batch as one row group, each column made as it is encoded.
    fn write_batch(&mut self, batch: &ArrowBatch) -> Result<(), InternalError> {
        let schema = &batch.schema;
        self.contract.check_arrow_schema(schema, schema.len())?;
        self.file(schema)?;
        let (Some(file), contract) = (self.file.as_mut(), &self.contract) else {
            return Err(InternalError::Invariant(
                "the table writer did not open".into(),
            ));
        };
        file.write_columns(batch.height(), |i| {
            let array = batch
                .column(i)
                .map_err(|e| InternalError::Invariant(format!("a batch: {e}")))?;
            contract.check_arrow_column(schema, i, &array)?;
            Ok(array)
        })
    }

    fn finish(mut self) -> Result<usize, InternalError> {
        let Some(file) = self.file.take() else {
            return Err(InternalError::Invariant(
                "a table was finished before any batch".into(),
            ));
        };
        let rows = file.finish(self.contract.parquet_metadata(&self.run_id, "convert"))?;
        self.contract.check_parquet(&self.tmp, rows, &self.run_id)?;
        fs_err::rename(&self.tmp, &self.target).map_err(|e| write_error(&self.target, e))?;
        self.done = true;
        Ok(rows)
    }
}

impl Drop for TableWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs_err::remove_file(&self.tmp);
        }
    }
}

/// The quarantine of a conversion, written in batches of [`BATCH_ROWS`] entries as they come, so
/// that a file whose cells are mostly unusable still converts in bounded memory. The file is
/// only put in place (or a stale one removed) when the whole conversion succeeded.
struct QuarantineOut {
    path: PathBuf,
    run_id: String,
    writer: Option<TableWriter>,
    pending: Vec<QuarantineEntry>,
    tally: crate::model::quarantine::Tally,
}

impl QuarantineOut {
    fn new(output: &Path, run_id: &str) -> QuarantineOut {
        QuarantineOut {
            path: quarantine_path(output),
            run_id: run_id.to_owned(),
            writer: None,
            pending: Vec::new(),
            tally: crate::model::quarantine::Tally::default(),
        }
    }

    fn push(&mut self, entry: QuarantineEntry) -> Result<(), InternalError> {
        self.tally.add(&entry);
        self.pending.push(entry);
        if self.pending.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), InternalError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let writer = match &mut self.writer {
            Some(w) => w,
            None => {
                self.writer
                    .insert(TableWriter::create("quarantine", &self.path, &self.run_id)?)
            }
        };
        writer.write(&quarantine_frame(&self.pending, &self.run_id)?)?;
        self.pending.clear();
        Ok(())
    }

    /// Puts the file in place; `None` (and a stale file removed) when nothing was quarantined.
    fn finish(mut self) -> Result<Option<PathBuf>, InternalError> {
        self.flush()?;
        if let Some(w) = self.writer.take() {
            w.finish()?;
            return Ok(Some(self.path));
        }
        if self.path.exists() {
            fs_err::remove_file(&self.path).map_err(|e| write_error(&self.path, e))?;
        }
        Ok(None)
    }
}

/// `convert`'s sink for a JSON-stat file: batches go to the Parquet writer thread as they are
/// filled, quarantine entries to the quarantine file as they are found, and single rows (cells
/// given as text, rare) wait in memory to be written after the rest.
struct Streaming<'s, 'r> {
    batches: std::sync::mpsc::SyncSender<ArrowBatch>,
    single_rows: &'s mut Collect<'r>,
    quarantine: &'s mut QuarantineOut,
    /// Why the quarantine could not be written, when it could not.
    quarantine_failed: &'s mut Option<InternalError>,
}

impl ObservationSink for Streaming<'_, '_> {
    fn batch(&mut self, batch: ArrowBatch) -> Result<(), String> {
        self.batches
            .send(batch)
            .map_err(|_| "the Parquet writer stopped".to_owned())
    }

    fn columns(&mut self, columns: ObservationColumns) -> Result<(), String> {
        self.single_rows.columns(columns)
    }

    fn row(&mut self, row: RawObservation) -> Result<(), String> {
        self.single_rows.row(row)
    }

    fn quarantine(&mut self, entry: QuarantineEntry) -> Result<(), String> {
        self.quarantine.push(entry).map_err(|e| {
            let message = format!("writing the quarantine: {e}");
            *self.quarantine_failed = Some(e);
            message
        })
    }
}

/// The formats `convert` decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvertFormat {
    /// A JSON-stat document.
    Jsonstat,
    /// A THL Sotkanet `/json` response.
    SotkanetJson,
    /// A THL Sotkanet `/csv` response.
    SotkanetCsv,
}

/// What to convert, and how to read it.
#[derive(Debug, Clone)]
pub struct ConvertRequest {
    /// The input's format.
    pub format: ConvertFormat,
    /// The input file.
    pub input: PathBuf,
    /// The Parquet file to write (quarantine beside it, see [`quarantine_path`]).
    pub output: PathBuf,
    /// Dataset id for the `dataset` column (default: derived from the input).
    pub dataset: Option<String>,
    /// JSON-stat: which dimension is which (`None`s fall back to the dataset's roles).
    pub roles: DimensionRoles,
}

/// Runs a conversion.
pub fn convert(args: &ConvertRequest) -> Result<Converted, Error> {
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
    let jsonstat = args.format == ConvertFormat::Jsonstat;
    let roles = args.roles.clone();
    // JSON-stat's first pass over the file (reading, validating, mapping; on the national
    // population table of `benches/jsonstat.sh` 30 ms) needs neither the file's sha256 nor the
    // region registry (12 and 8 ms): another thread works those out meanwhile.
    let (helper, planned) = std::thread::scope(|scope| {
        let helper = scope.spawn(|| {
            let hashed = jsonstat.then(|| sha256_file(&args.input));
            (Registry::builtin(), hashed)
        });
        let planned = jsonstat.then(|| {
            let ctx = context(args, dataset.clone(), String::new());
            plan_columns(Input::File(&args.input), &roles, &ctx)
        });
        (helper.join(), planned)
    });
    let (registry, hashed) = helper.map_err(|_| {
        InternalError::Invariant(
            "the thread hashing the input and building the registry panicked".into(),
        )
    })?;
    let registry = registry?;
    let resolver = RegionResolver {
        registry: &registry,
        sotkanet_regions: None,
    };
    let run_id = format!("convert-{}", Utc::now().format("%Y%m%dT%H%M%SZ"));
    let mut out = TableWriter::create("observations", &args.output, &run_id)?;
    let mut columns = ObservationColumns::default();
    let mut quarantine = QuarantineOut::new(&args.output, &run_id);
    // Why the quarantine could not be written, when it could not.
    let mut quarantine_failed: Option<InternalError> = None;
    let retrieved_at = Utc::now();

    if let (Some(hashed), Some(planned)) = (hashed, planned) {
        // A missing file is reported as such, before any complaint about its content.
        let (sha, _) = hashed.map_err(|e| SourceError::Missing {
            source_id: "input".to_owned(),
            path: args.input.clone(),
            source: e,
        })?;
        let planned = planned?;
        let ctx = context(args, dataset, sha.clone());
        let provenance = Provenance {
            source_id: "input",
            raw_sha256: &sha,
            retrieved_at,
        };
        let resolve = |id: &RegionId| resolver.resolve(id).map(|(c, l)| (c, l.as_str()));
        let options = ColumnOptions {
            resolve_region: &resolve,
            retrieved_at_micros: retrieved_at.timestamp_micros(),
            batch_rows: BATCH_ROWS,
        };
        // Decoding and writing overlap: batches go to a writer thread through a channel without
        // a buffer, so at most two are alive at once (the one being filled, the one being
        // written); the writer encodes a batch's columns in parallel.
        let mut single_rows = Collect::new(&resolver, &provenance);
        let (decoded, written) = std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<ArrowBatch>(0);
            let writer = scope.spawn(move || -> Result<TableWriter, InternalError> {
                for batch in rx {
                    out.write_batch(&batch)?;
                }
                Ok(out)
            });
            let mut sink = Streaming {
                batches: tx,
                single_rows: &mut single_rows,
                quarantine: &mut quarantine,
                quarantine_failed: &mut quarantine_failed,
            };
            let decoded =
                decode_planned(planned, Input::File(&args.input), &ctx, &options, &mut sink);
            drop(sink);
            let written = writer.join().unwrap_or_else(|_| {
                Err(InternalError::Invariant(
                    "the Parquet writer thread panicked".into(),
                ))
            });
            (decoded, written)
        });
        // A failure to write is reported as what it is, not as a bad input.
        out = written?;
        if let Some(e) = quarantine_failed {
            return Err(e.into());
        }
        // Cells given as text that decode (rare): written after the rest.
        let single_rows = single_rows.finish();
        columns.append(single_rows.resolved);
        for entry in single_rows.quarantine {
            quarantine.push(entry)?;
        }
        for info in decoded? {
            for w in &info.warnings {
                warn!(dataset = %info.dataset, "JSON-stat: {w}");
            }
        }
    } else {
        let payload = read_file("input", &args.input)?;
        let ctx = context(args, dataset, payload.sha256.clone());
        let provenance = Provenance {
            source_id: "input",
            raw_sha256: &payload.sha256,
            retrieved_at,
        };
        let format = if args.format == ConvertFormat::SotkanetJson {
            PayloadFormat::SotkanetJson
        } else {
            PayloadFormat::SotkanetCsv
        };
        let mut sink = Collect::new(&resolver, &provenance);
        decode_payload(
            format,
            &payload.bytes,
            &args.roles,
            &ctx,
            &resolver,
            &provenance,
            &mut sink,
        )?;
        let decoded = sink.finish();
        columns.append(decoded.resolved);
        for entry in decoded.quarantine {
            quarantine.push(entry)?;
        }
        // Small payloads: written sorted, one row per key, like `run` writes `observations`.
        let (frame, repeated) =
            std::mem::take(&mut columns).into_frame_one_per_key(&|_| "input".to_owned())?;
        for entry in repeated {
            quarantine.push(entry)?;
        }
        out.write(&frame)?;
    }
    // The last (possibly only, possibly empty) batch.
    out.write(&columns.take_frame()?)?;
    let rows = out.finish()?;

    let quarantined = quarantine.tally.total();
    let summary = quarantine.tally.summary();
    let quarantine_path = quarantine.finish()?;
    if let Some(path) = &quarantine_path {
        warn!(path = %path.display(), "{summary}");
    }
    info!(rows, path = %args.output.display(), "Wrote observations");
    Ok(Converted {
        rows,
        quarantined,
        quarantine_path,
    })
}

fn context(args: &ConvertRequest, dataset: String, raw_sha256: String) -> DecodeContext {
    DecodeContext {
        source_id: "input".to_owned(),
        dataset,
        file: args.input.display().to_string(),
        raw_sha256,
        unit: None,
        latest_year: None,
    }
}
