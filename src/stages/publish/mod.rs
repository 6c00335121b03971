//! The publish stage: atomic Parquet and CSV outputs, a whole run's set at a time.
//!
//! Tables are first written into the run's staging folder (`<out>/.versions/<run_id>.staging/`),
//! each file fsynced, checked against its contract before writing and read back with arrow-rs
//! after. When every table of the run is staged, the run's manifest joins them, the folder is
//! renamed to `.versions/<run_id>`, and the link `<out>/current` is switched to it in one rename:
//! the commit ([`versions`] has the layout and why no reader sees half of two runs). After the
//! commit the top-level names are made links through `current`, the manifest is copied to
//! `_runs/<run_id>.json`, and versions older than the one before are removed. A run that fails
//! before the commit removes its staging folder and leaves the previous outputs exactly as they
//! were; one that fails after it has published its outputs and says so.
//!
//! Layout (every name below `<out>` but `_runs` reads through `current`):
//! ```text
//! <out>/<table>.parquet              observations, regions, indicators
//! <out>/quarantine/<table>.parquet   rows rejected on their way into <table>
//! <out>/quarantine/checks/<name>.parquet  rows that failed a declared check of severity warn
//! <out>/csv/...                      CSV twins (UTF-8, `,`, header), same relative paths
//! <out>/current/manifest.json        the manifest of the set `current` names
//! <out>/_runs/<run_id>.json          every run's manifest
//! ```

pub mod partition;
pub mod remote;
pub mod versions;
pub mod writer;

pub use versions::{clear_stale_staging, current_version};

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::InternalError;
use crate::io::hash::sha256_file;
use crate::model::contract::Contract;
use serde::{Deserialize, Serialize};

use crate::io::atomic::{write_atomic, write_error};
use crate::io::parquet::parquet_content_sha256;

/// Writes a frame as zstd Parquet with key-value metadata, and fsyncs it (see [`writer`]).
pub fn write_parquet(
    df: &DataFrame,
    path: &Path,
    metadata: Vec<(String, String)>,
) -> Result<(), InternalError> {
    write_parquet_described(df, path, metadata, &std::collections::BTreeMap::new())
}

/// As [`write_parquet`], each column's description in the Arrow schema's field metadata.
pub fn write_parquet_described(
    df: &DataFrame,
    path: &Path,
    metadata: Vec<(String, String)>,
    descriptions: &std::collections::BTreeMap<String, String>,
) -> Result<(), InternalError> {
    let mut file =
        writer::ParquetFile::create(path, writer::arrow_schema(df), writer::write_options(None))?;
    file.write_frame(df)?;
    file.finish_described(metadata, descriptions).map(drop)
}

/// Writes a frame as CSV (UTF-8, `,`, header) and fsyncs it.
pub fn write_csv(
    df: &mut DataFrame,
    path: &Path,
    dialect: crate::model::config::CsvDialect,
) -> Result<(), InternalError> {
    let excel = dialect == crate::model::config::CsvDialect::ExcelFi;
    let file = fs_err::File::create(path).map_err(|e| write_error(path, e))?;
    let mut w = BufWriter::new(file.into_parts().0);
    CsvWriter::new(&mut w)
        .include_header(true)
        .include_bom(excel)
        .with_separator(if excel { b';' } else { b',' })
        .with_decimal_comma(excel)
        // Excel on Windows expects CRLF.
        .with_line_terminator(if excel { "\r\n" } else { "\n" }.into())
        // Every timestamp in mittari's tables is UTC; say so in the text, as ISO 8601 does.
        .with_datetime_format(Some("%Y-%m-%dT%H:%M:%S%.6fZ".into()))
        .finish(df)
        .map_err(|e| write_error(path, e))?;
    w.flush().map_err(|e| write_error(path, e))?;
    let file = w
        .into_inner()
        .map_err(|e| write_error(path, e.into_error()))?;
    file.sync_all().map_err(|e| write_error(path, e))
}

/// One output file.
#[derive(Debug, Clone, Serialize)]
pub struct OutputRecord {
    /// The table it holds.
    pub table: String,
    /// Path relative to the output folder.
    pub path: String,
    /// `parquet` or `csv`.
    pub format: String,
    /// Rows.
    pub rows: usize,
    /// Size in bytes.
    pub bytes: u64,
    /// sha256 of the file.
    pub sha256: String,
    /// The run that wrote the file: this run, or an earlier one when the content did not change
    /// (the file was then left untouched).
    pub written_by: String,
}

/// An output a run wrote (or kept).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutputDep {
    /// Path relative to the output folder.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Modification time, nanoseconds since 1970.
    pub modified_ns: u64,
    /// sha256 of the file.
    pub sha256: String,
    /// Rows.
    pub rows: usize,
    /// sha256 of the content (for Parquet, the data pages without the footer, whose metadata
    /// names the run; for CSV, the file).
    pub content_sha256: String,
    /// The run that wrote the file.
    pub run_id: String,
}

impl OutputDep {
    /// Whether the file is still on disk as recorded (size and modification time).
    pub fn intact(&self, out: &Path) -> bool {
        crate::io::file_stat(&out.join(&self.path)) == Some((self.bytes, self.modified_ns))
    }
}

/// What the publisher knows of one output: its record, and its content hash and writer.
struct Written {
    content_sha256: String,
    run_id: String,
}

/// Stages the tables of one run and moves them into place together.
pub struct Publisher {
    out: PathBuf,
    /// The staging folder, then (once sealed) the version folder; removed on drop unless the
    /// run committed.
    staging: PathBuf,
    committed: bool,
    run_id: String,
    pipeline: String,
    csv: Option<crate::model::config::CsvDialect>,
    outputs: Vec<OutputRecord>,
    written: Vec<Written>,
    /// The last successful run's state: outputs whose content is unchanged are kept as they are.
    previous: Vec<OutputDep>,
    /// The outputs the last successful run wrote, by path: the files mittari may replace.
    owned: Vec<String>,
    /// Who produced the figures of each table (`mittari.attribution`), by table.
    attribution: std::collections::BTreeMap<String, String>,
    /// Whether `observations` and `indicators` are written as Hive-partitioned folders.
    partitioned: bool,
}

/// A file written to staging and not yet recorded.
struct StagedFile {
    relative: String,
    table: String,
    format: &'static str,
    staged: PathBuf,
    rows: usize,
    sha256: String,
    bytes: u64,
    content: String,
}

impl Publisher {
    /// Creates the run's staging folder inside `out`.
    pub fn new(
        out: &Path,
        run_id: &str,
        pipeline: &str,
        csv: Option<crate::model::config::CsvDialect>,
    ) -> Result<Publisher, InternalError> {
        let staging = versions::create_staging(out, run_id)?;
        Ok(Publisher {
            out: out.to_path_buf(),
            staging,
            committed: false,
            run_id: run_id.to_owned(),
            pipeline: pipeline.to_owned(),
            csv,
            outputs: Vec::new(),
            written: Vec::new(),
            previous: Vec::new(),
            owned: Vec::new(),
            attribution: std::collections::BTreeMap::new(),
            partitioned: false,
        })
    }

    /// Writes `observations` and `indicators` as Hive-partitioned folders (see [`partition`]).
    pub fn partition(&mut self, partitioned: bool) {
        self.partitioned = partitioned;
    }

    /// Who produced the figures of each table: written to its Parquet file's metadata as
    /// `mittari.attribution`.
    pub fn attribute(&mut self, by_table: std::collections::BTreeMap<String, String>) {
        self.attribution = by_table;
    }

    /// The paths the last successful run's state lists as its outputs: files of the layout
    /// before versions that mittari may replace with its links.
    pub fn owns(&mut self, paths: Vec<String>) {
        self.owned = paths;
    }

    /// Keeps in place any output whose content equals what `previous` recorded for it (still
    /// intact on disk), instead of replacing it with an identical file.
    pub fn keep_unchanged(&mut self, previous: Vec<OutputDep>) {
        self.previous = previous;
    }

    /// Checks a table against its contract and stages it (and its CSV twin) at `relative`
    /// (without extension), e.g. `indicators` or `quarantine/observations`.
    pub fn stage(
        &mut self,
        contract: &Contract,
        relative: &str,
        df: &mut DataFrame,
    ) -> Result<(), InternalError> {
        self.stage_as(contract, relative, df, None)
    }

    /// As [`Publisher::stage`], with the CSV twin (if CSVs are written) in `dialect` instead of
    /// the pipeline's.
    pub fn stage_as(
        &mut self,
        contract: &Contract,
        relative: &str,
        df: &mut DataFrame,
        dialect: Option<crate::model::config::CsvDialect>,
    ) -> Result<(), InternalError> {
        for f in self.write_files(contract, relative, df, dialect)? {
            self.record(f);
        }
        Ok(())
    }

    /// As [`Publisher::stage`] for several tables, written at the same time, a table per core
    /// (one table's serial work — slicing row groups, writing, fsync, reading the file back and
    /// hashing it — overlaps the other's column encoding); they are recorded in the order
    /// given, and the first failure in that order is the one returned.
    pub fn stage_together(
        &mut self,
        tables: Vec<(Contract, &str, &mut DataFrame)>,
    ) -> Result<(), InternalError> {
        let this = &*self;
        let written = crate::io::parallel::map(tables, |(contract, relative, df)| {
            this.write_files(&contract, relative, df, None)
        });
        for files in written {
            for f in files? {
                self.record(f);
            }
        }
        Ok(())
    }

    /// Checks a table and writes its staged file (and CSV twin), without recording them.
    fn write_files(
        &self,
        contract: &Contract,
        relative: &str,
        df: &mut DataFrame,
        dialect: Option<crate::model::config::CsvDialect>,
    ) -> Result<Vec<StagedFile>, InternalError> {
        contract.check_frame(df)?;
        let mut files = Vec::new();
        let attribution = self
            .attribution
            .get(&contract.table)
            .filter(|_| relative == contract.table)
            .map(String::as_str);
        let keys = partition::keys(relative).filter(|_| self.partitioned);
        let content = if let Some(keys) = keys {
            // A file per partition, without the key columns; the CSV twin stays one file.
            // Partitions are copied out of the table and written a few at a time (one per
            // core), each dropped once written.
            let inner = contract.without(keys);
            let frame = &*df;
            let written = crate::io::parallel::map(partition::groups(frame, keys)?, |rows| {
                let mut part = partition::part(frame, rows, keys)?;
                let rel = format!("{relative}/{}/part-0.parquet", part.dir);
                self.write_parquet_file(&inner, &rel, &mut part.frame, attribution)
            });
            let mut contents = Vec::with_capacity(written.len());
            for f in written {
                let f = f?;
                contents.push(f.content.clone());
                files.push(f);
            }
            crate::io::hash::sha256_hex(contents.join("\n").as_bytes())
        } else {
            let f =
                self.write_parquet_file(contract, &format!("{relative}.parquet"), df, attribution)?;
            let content = f.content.clone();
            files.push(f);
            content
        };
        if let Some(dialect) = self.csv.map(|d| dialect.unwrap_or(d)) {
            let csv_rel = format!("csv/{relative}.csv");
            let staged = self.staging.join(&csv_rel);
            if let Some(dir) = staged.parent() {
                fs_err::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
            }
            write_csv(df, &staged, dialect)?;
            let (sha256, bytes) = sha256_file(&staged).map_err(|e| write_error(&staged, e))?;
            files.push(StagedFile {
                relative: csv_rel,
                table: contract.table.clone(),
                format: "csv",
                staged,
                rows: df.height(),
                sha256,
                bytes,
                // The same data as the Parquet twin (whose `run_id` values it shares) in a
                // dialect.
                content: crate::io::hash::sha256_hex(
                    format!("{content}\ncsv {dialect:?}").as_bytes(),
                ),
            });
        }
        Ok(files)
    }

    /// Writes one Parquet file of a table to staging and checks it against `contract`.
    fn write_parquet_file(
        &self,
        contract: &Contract,
        parquet_rel: &str,
        df: &mut DataFrame,
        attribution: Option<&str>,
    ) -> Result<StagedFile, InternalError> {
        let staged = self.staging.join(parquet_rel);
        if let Some(dir) = staged.parent() {
            fs_err::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
        }
        let mut metadata = contract.parquet_metadata(&self.run_id, &self.pipeline);
        if let Some(a) = attribution {
            metadata.push(("mittari.attribution".to_owned(), a.to_owned()));
        }
        let descriptions: std::collections::BTreeMap<String, String> = contract
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.description.clone()))
            .collect();
        write_parquet_described(df, &staged, metadata, &descriptions)?;
        contract.check_parquet(&staged, df.height(), &self.run_id)?;
        let (sha256, bytes) = sha256_file(&staged).map_err(|e| write_error(&staged, e))?;
        let data = parquet_content_sha256(&staged)?;
        // The data, and what the footer says of it besides the run: table, contract version,
        // column names and types, and the build that wrote it.
        // Types by their names: a `Categorical`'s debug form names its (random) category set.
        let schema: Vec<String> = df
            .schema()
            .iter()
            .map(|(name, dtype)| format!("{name}: {dtype}"))
            .collect();
        let content = crate::io::hash::sha256_hex(
            format!(
                "{data}\n{}\n{}\n{}\n{}\n{}",
                contract.table,
                contract.schema_version,
                schema.join(", "),
                env!("MITTARI_BUILD_ID"),
                attribution.unwrap_or_default()
            )
            .as_bytes(),
        );
        Ok(StagedFile {
            relative: parquet_rel.to_owned(),
            table: contract.table.clone(),
            format: "parquet",
            staged,
            rows: df.height(),
            sha256,
            bytes,
            content,
        })
    }

    /// Stages a file that is not a table (a report page, a workbook) at `relative`, as part of
    /// `table`'s outputs.
    pub fn stage_bytes(
        &mut self,
        table: &str,
        relative: &str,
        (format, rows): (&'static str, usize),
        bytes: &[u8],
    ) -> Result<(), InternalError> {
        let staged = self.staging.join(relative);
        if let Some(dir) = staged.parent() {
            fs_err::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
        }
        write_atomic(&staged, bytes)?;
        let sha256 = crate::io::hash::sha256_hex(bytes);
        self.record(StagedFile {
            relative: relative.to_owned(),
            table: table.to_owned(),
            format,
            staged,
            rows,
            content: sha256.clone(),
            sha256,
            bytes: bytes.len() as u64,
        });
        Ok(())
    }

    /// Records a staged file. When the output at `relative` already has this content, the
    /// previous version's file is hard-linked in its place (same inode and modification time,
    /// and the record of the run that wrote it); otherwise the staged copy is the new output.
    fn record(&mut self, f: StagedFile) {
        let kept = self
            .previous
            .iter()
            .find(|o| o.path == f.relative && o.intact(&self.out))
            .filter(|o| o.content_sha256 == f.content)
            .filter(|_| self.link_previous(&f))
            .cloned();
        let (sha256, bytes, run_id) = if let Some(o) = kept {
            (o.sha256, o.bytes, o.run_id)
        } else {
            (f.sha256, f.bytes, self.run_id.clone())
        };
        self.outputs.push(OutputRecord {
            table: f.table,
            path: f.relative,
            format: f.format.to_owned(),
            rows: f.rows,
            bytes,
            sha256,
            written_by: run_id.clone(),
        });
        self.written.push(Written {
            content_sha256: f.content,
            run_id,
        });
    }

    /// Puts the previous version's file (through `current`, or of the layout before versions)
    /// at the staged file's place; whether it did (if not, the staged copy stays).
    fn link_previous(&self, f: &StagedFile) -> bool {
        let Ok(previous) = fs_err::canonicalize(self.out.join(&f.relative)) else {
            return false;
        };
        let aside = f.staged.with_extension("new");
        if fs_err::rename(&f.staged, &aside).is_err() {
            return false;
        }
        if fs_err::hard_link(&previous, &f.staged).is_ok() {
            return fs_err::remove_file(&aside).is_ok();
        }
        // Not linked (another file system?): the staged copy stays the output.
        let _ = fs_err::rename(&aside, &f.staged);
        false
    }

    /// The outputs staged so far.
    pub fn outputs(&self) -> &[OutputRecord] {
        &self.outputs
    }

    /// Commits the run: its manifest joins the staged set, the set becomes a version, and
    /// `current` is switched to it in one rename; then the top-level links, the manifest's copy
    /// in `_runs/` and the removal of older versions. Returns the manifest's path in `_runs/` and
    /// what is now on disk, for the run state.
    pub fn commit(
        mut self,
        manifest: &impl Serialize,
    ) -> Result<(PathBuf, Vec<OutputDep>), InternalError> {
        let json = serde_json::to_vec_pretty(manifest)
            .map_err(|e| InternalError::Invariant(format!("serialising the manifest: {e}")))?;
        versions::fault("manifest")?;
        write_atomic(&self.staging.join("manifest.json"), &json)?;
        versions::fault("seal")?;
        self.staging = versions::seal(&self.staging, &self.out, &self.run_id)?;
        let before = versions::current_version(&self.out);
        versions::fault("swap")?;
        versions::swap(&self.out, &self.run_id)?;
        self.committed = true;
        self.after_commit(&json, before.as_deref())
            .map_err(|e| InternalError::AfterCommit {
                run_id: self.run_id.clone(),
                source: Box::new(e),
            })
    }

    /// The steps after the commit: links, the manifest in `_runs/`, older versions removed.
    fn after_commit(
        &self,
        json: &[u8],
        before: Option<&str>,
    ) -> Result<(PathBuf, Vec<OutputDep>), InternalError> {
        versions::fault("links")?;
        let listed = |relative: &str| self.owned.iter().any(|o| o == relative);
        versions::link_names(&self.out, &self.staging, &self.run_id, &listed)?;
        versions::fault("runs-manifest")?;
        let path = self.out.join("_runs").join(format!("{}.json", self.run_id));
        write_atomic(&path, json)?;
        versions::fault("cleanup")?;
        let keep: Vec<&str> = std::iter::once(self.run_id.as_str())
            .chain(before)
            .collect();
        versions::remove_old(&self.out, &keep)?;
        let mut deps = Vec::with_capacity(self.outputs.len());
        for (o, w) in self.outputs.iter().zip(&self.written) {
            let target = self.out.join(&o.path);
            let (bytes, modified_ns) = crate::io::file_stat(&target)
                .ok_or_else(|| write_error(&target, "the output vanished after publishing"))?;
            deps.push(OutputDep {
                path: o.path.clone(),
                bytes,
                modified_ns,
                sha256: o.sha256.clone(),
                rows: o.rows,
                content_sha256: w.content_sha256.clone(),
                run_id: w.run_id.clone(),
            });
        }
        Ok((path, deps))
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        // A run that did not commit leaves nothing: its staging (or sealed) folder goes.
        if !self.committed {
            let _ = fs_err::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Threads writing the same file at once each succeed, and the file is whole.
    #[test]
    fn concurrent_atomic_writes_of_one_file_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payload");
        let bytes = vec![7_u8; 1 << 16];
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..25 {
                        write_atomic(&path, &bytes).unwrap();
                    }
                });
            }
        });
        assert_eq!(fs_err::read(&path).unwrap(), bytes);
        let left: Vec<_> = fs_err::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "temporary files left behind");
    }

    /// A `mergers` table of `n` rows.
    fn mergers(n: usize) -> DataFrame {
        let effective = Column::new("effective".into(), vec![None::<i32>; n])
            .cast(&DataType::Date)
            .unwrap();
        DataFrame::new(
            n,
            vec![
                Column::new("abolished".into(), vec!["KU001"; n]),
                Column::new("joined".into(), vec!["KU002"; n]),
                effective,
            ],
        )
        .unwrap()
    }

    /// Tables written together are recorded in the order given, not in the order their
    /// threads finish (the first and largest finishes last); the first failure in that order is
    /// the one returned.
    #[test]
    fn tables_staged_together_keep_their_order() {
        let out = tempfile::tempdir().unwrap();
        let contract = || Contract::for_table("mergers").unwrap();
        let mut publisher = Publisher::new(out.path(), "run", "p", None).unwrap();
        let (mut a, mut b, mut c) = (mergers(300_000), mergers(3), mergers(1));
        publisher
            .stage_together(vec![
                (contract(), "a", &mut a),
                (contract(), "b", &mut b),
                (contract(), "c", &mut c),
            ])
            .unwrap();
        let staged: Vec<(&str, usize)> = publisher
            .outputs()
            .iter()
            .map(|o| (o.path.as_str(), o.rows))
            .collect();
        assert_eq!(
            staged,
            [("a.parquet", 300_000), ("b.parquet", 3), ("c.parquet", 1)]
        );

        let mut publisher = Publisher::new(out.path(), "run2", "p", None).unwrap();
        let mut renamed = mergers(2);
        renamed.rename("joined", "successor".into()).unwrap();
        let mut dropped = mergers(2).drop("abolished").unwrap();
        let mut fine = mergers(2);
        let err = publisher
            .stage_together(vec![
                (contract(), "fine", &mut fine),
                (contract(), "renamed", &mut renamed),
                (contract(), "dropped", &mut dropped),
            ])
            .unwrap_err()
            .to_string();
        assert!(err.contains("successor"), "{err}");
        let staged: Vec<&str> = publisher
            .outputs()
            .iter()
            .map(|o| o.path.as_str())
            .collect();
        assert_eq!(staged, ["fine.parquet"]);
    }
}
