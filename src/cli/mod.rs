//! Command-line interface (clap derive only; no logic here).

pub mod commands;
pub mod logging;
pub mod output;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::env_vars;

/// `--version`: the package version and the build id every output's manifest names.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (build ",
    env!("MITTARI_BUILD_ID"),
    ")"
);

/// What `--help` adds after the options: examples, the environment, the exit codes.
const AFTER_HELP: &str = "\
Examples:
  mittari run pipelines/sample.toml                 run the sample (offline) into out/sample/
  mittari validate pipelines/etela-savo.toml        check a pipeline and print its plan
  mittari run pipelines/etela-savo.toml --wait 600  a scheduled run: wait up to 10 min for the folder
  mittari doctor pipelines/etela-savo.toml --format json
  mittari runs --out out/sample                     the latest runs of an output folder
  mittari completions bash > /etc/bash_completion.d/mittari
  mittari run pipelines/etela-savo.toml --out az://analytics/mittari/etela-savo
                                                    publish to Azure (managed identity)

Environment:
  MITTARI_OUT, MITTARI_CACHE     output folder or URL, and raw archive (default: the pipeline's, ~/.cache/mittari)
  MITTARI_LINEAGE                OpenLineage events to a file or an http(s) URL
  AZURE_STORAGE_ACCOUNT_NAME, AZURE_*, AWS_*, GOOGLE_*
                                 object storage credentials (none: managed identity / instance role)
  MITTARI_LOG, MITTARI_LOG_FORMAT  log filter (e.g. info, mittari=debug) and text|json
  MITTARI_CONTACT                the operator's contact in the User-Agent (Sotkanet asks for one)
  MITTARI_SURVEY_SALT            the salt of respondent keys (stable keys from run to run)
  NO_COLOR                       no colours in logs

Exit codes:
  0 success   1 a check of error severity failed   2 usage or configuration error
  3 source or network error   4 internal error (also: the store could not be written)
  5 the output folder or prefix is in use by another run (retry later)";

/// mittari: service use, costs and population structure per Finnish wellbeing services county.
#[derive(Debug, Parser)]
#[command(name = "mittari", version = VERSION, about, long_about = None, after_help = AFTER_HELP)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
    /// Logging options, shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Options that apply to every command.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// More log output (`-v` debug, `-vv` trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Less log output (`-q` warnings and errors only, `-qq` errors only).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,
    /// When to colour log output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    /// Log lines as text, or as one JSON object per line (for schedulers and log collectors).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true, env = env_vars::MITTARI_LOG_FORMAT)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `time LEVEL message field=value ...`
    Text,
    /// `{"timestamp": ..., "level": ..., "message": ..., "field": value, ...}`
    Json,
}

/// When to colour log output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal and `NO_COLOR` is not set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline: extract, normalize, conform, derive, check and publish.
    Run(RunArgs),
    /// Parse and check a pipeline file and its inputs, print the plan, write nothing.
    Validate(ValidateArgs),
    /// Decode one source file into a canonical `observations` Parquet file.
    Convert(ConvertArgs),
    /// Print a Parquet file's schema, row count, key-value metadata and first rows.
    Inspect(InspectArgs),
    /// List the latest runs of an output folder (from `_runs/history.parquet`).
    Runs(RunsArgs),
    /// Write a starting pipeline for a wellbeing services county (and the indicator catalogue).
    Init(InitArgs),
    /// Find Sotkanet indicators: `search TEXT` over the indicator list, `show ID` for one.
    #[command(subcommand)]
    Indicators(IndicatorsCommand),
    /// Check every source of a pipeline with one cheap request each (metadata or config, never
    /// data): would it run today, and what changed since the last run. Exit 3 when one would fail.
    Doctor(DoctorArgs),
    /// Print a completion script for a shell (bash, zsh, fish, powershell, elvish).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), generated from the same definitions as `--help`.
    Man,
    /// Print the JSON Schema of pipeline files, derived from the types the pipeline is read
    /// into (`schemas/pipeline.schema.json` is its copy that the shipped pipelines name).
    Schema,
    /// Write a synthetic national-scale input set and its pipeline (for the benchmark).
    #[command(hide = true)]
    Generate(GenerateArgs),
}

/// Arguments of `mittari generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The folder to write into.
    pub dir: PathBuf,
    /// Scale factor: 64 Sotkanet indicators per unit (1 is about 3.2 M observation rows, 16 about
    /// 22 M).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Years, ending with 2024 (fewer make a small data set for tests).
    #[arg(long, default_value_t = 20)]
    pub years: u8,
}

/// `mittari indicators ...`.
#[derive(Debug, Subcommand)]
pub enum IndicatorsCommand {
    /// Indicators whose id is TEXT or whose title contains it.
    Search {
        /// Words of a title, or an id.
        text: String,
        /// How to ask.
        #[command(flatten)]
        lookup: LookupArgs,
    },
    /// One indicator's full metadata.
    Show {
        /// The indicator's id.
        id: u32,
        /// How to ask.
        #[command(flatten)]
        lookup: LookupArgs,
    },
}

/// Where `indicators` asks.
#[derive(Debug, Args)]
pub struct LookupArgs {
    /// Titles in this language.
    #[arg(long, default_value = "fi", value_parser = ["fi", "sv", "en"])]
    pub lang: String,
    /// Answer from the raw archive only.
    #[arg(long)]
    pub offline: bool,
    /// Folder of the raw payload archive.
    #[arg(long, env = env_vars::MITTARI_CACHE)]
    pub cache: Option<PathBuf>,
    /// Sotkanet's REST API.
    #[arg(long, default_value = "https://sotkanet.fi/rest/1.1")]
    pub api_url: String,
}

/// Arguments of `mittari doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The pipeline file.
    pub pipeline: PathBuf,
    /// `text` (a block per source) or `json` (an array of objects).
    #[arg(long, value_enum, default_value_t = DoctorFormat::Text)]
    pub format: DoctorFormat,
}

/// Output formats of `doctor`, `validate`, `runs` and `inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DoctorFormat {
    /// Lines for people.
    Text,
    /// One JSON document, for schedulers and scripts.
    Json,
}

/// Arguments of `mittari init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The county, e.g. `HVA12` (Etelä-Savo); `HVA90` is Helsinki.
    #[arg(long)]
    pub county: String,
    /// Counties to compare it with, e.g. `HVA13,HVA18`.
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<String>,
    /// The folder to write into.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite a pipeline file already there.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `mittari runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// A pipeline file, whose output folder is listed (or give `--out`).
    pub pipeline: Option<PathBuf>,
    /// The output folder.
    #[arg(long, env = env_vars::MITTARI_OUT)]
    pub out: Option<PathBuf>,
    /// How many runs, latest last.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub limit: usize,
    /// `text` (a line per run) or `json` (an array of objects, one per run).
    #[arg(long, value_enum, default_value_t = DoctorFormat::Text)]
    pub format: DoctorFormat,
}

/// Arguments of `mittari run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline file (TOML).
    pub pipeline: PathBuf,
    /// Output folder (default: the pipeline's `output.dir`).
    #[arg(long, env = env_vars::MITTARI_OUT)]
    pub out: Option<PathBuf>,
    /// Folder of the raw payload archive (default: `$XDG_CACHE_HOME/mittari` or `~/.cache/mittari`).
    #[arg(long, env = env_vars::MITTARI_CACHE)]
    pub cache: Option<PathBuf>,
    /// Send no web request: answer each from the raw archive, and fail (exit 3) naming any the
    /// archive does not have.
    #[arg(long)]
    pub offline: bool,
    /// The date roadmap progress is measured at (YYYY-MM-DD; default: today).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Seconds to wait for another run on the same output folder before giving up (exit 5).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub wait: u64,
    /// Treat failing checks of severity `warn` as errors: publish nothing, exit 1.
    #[arg(long)]
    pub strict: bool,
    /// Rebuild and rewrite every output even when nothing changed since the last successful run.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `mittari validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The pipeline file (TOML).
    pub pipeline: PathBuf,
    /// `text` (the plan, line by line) or `json` (one object: the pipeline, its sources with the
    /// requests they will send, indicators, checks and outputs).
    #[arg(long, value_enum, default_value_t = DoctorFormat::Text)]
    pub format: DoctorFormat,
}

/// Source formats that `convert` decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConvertFormat {
    /// A JSON-stat 2.0 dataset.
    Jsonstat,
    /// A THL Sotkanet `/rest/1.1/json` response.
    SotkanetJson,
    /// A THL Sotkanet `/rest/1.1/csv` response.
    SotkanetCsv,
}

/// Arguments of `mittari convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The format of the input.
    #[arg(value_enum)]
    pub format: ConvertFormat,
    /// The input file.
    pub input: PathBuf,
    /// The Parquet file to write. Rows that cannot be decoded go to `<OUT>.quarantine.parquet`.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Dataset id written to the `dataset` column (default: derived from the input).
    #[arg(long)]
    pub dataset: Option<String>,
    /// JSON-stat: the dimension holding regions (default: the `geo` role).
    #[arg(long)]
    pub region_dim: Option<String>,
    /// JSON-stat: region code of every cell, for a table without a region dimension (e.g. `SSS`).
    #[arg(long, conflicts_with = "region_dim")]
    pub region_code: Option<String>,
    /// JSON-stat: the dimension holding periods (default: the `time` role).
    #[arg(long)]
    pub time_dim: Option<String>,
    /// JSON-stat: the dimension holding measures (default: the `metric` role).
    #[arg(long)]
    pub measure_dim: Option<String>,
    /// JSON-stat: the dimension holding sex.
    #[arg(long)]
    pub sex_dim: Option<String>,
    /// JSON-stat: the dimension holding age.
    #[arg(long)]
    pub age_dim: Option<String>,
}

/// Arguments of `mittari inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The Parquet file.
    pub file: PathBuf,
    /// How many rows to show.
    #[arg(long, default_value_t = 10)]
    pub rows: usize,
    /// `text` or `json` (one object: rows, schema, key-value metadata, the first rows).
    #[arg(long, value_enum, default_value_t = DoctorFormat::Text)]
    pub format: DoctorFormat,
}
