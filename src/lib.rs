//! mittari: a data pipeline for knowledge-based management (tiedolla johtaminen) in Finnish
//! social and health care.
//!
//! It turns THL Sotkanet, Statistics Finland StatFin (JSON-stat) and region-supplied files into
//! canonical Parquet tables, conforms every figure to today's wellbeing services counties and
//! derives indicators per region, recomputing county and country rates from summed numerators
//! and denominators. The stages, one module each, follow `architecture.md`:
//!
//! - [`extract`]: read payloads and archive them by sha256;
//! - [`normalize`]: decode payloads into `observations` rows, quarantining what cannot be used;
//! - [`regions`]: the region registry and the conform stage;
//! - [`mod@derive`]: indicators per region and year;
//! - [`check`]: table contracts;
//! - [`publish`]: atomic outputs and the run manifest.
//!
//! [`pipeline`] sequences them; [`cli`] and `main` are the thin edge.

pub mod assess;
pub mod check;
pub mod cli;
pub mod config;
pub mod convert;
pub mod derive;
pub mod env_vars;
pub mod error;
pub mod extract;
pub mod generate;
pub mod hash;
pub mod history;
pub mod http;
pub mod inspect;
pub mod intern;
pub mod lock;
pub mod logging;
pub mod normalize;
pub mod output;
pub mod parallel;
pub mod pipeline;
pub mod publish;
pub mod regions;
pub mod state;

use cli::{Cli, Command};
use error::{Error, InternalError};

/// Runs one command. `main` maps the result to an exit code.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Run(args) => {
            pipeline::run(&pipeline::RunOptions {
                pipeline: args.pipeline,
                out: args.out,
                cache: args.cache,
                offline: args.offline,
                as_of: args.as_of,
                wait: std::time::Duration::from_secs(args.wait),
                strict: args.strict,
                force: args.force,
            })?;
            // `pipeline::run` logged the run's summary line.
            Ok(())
        }
        Command::Validate(args) => print(pipeline::validate(&args.pipeline)?),
        Command::Generate(args) => {
            let g = generate::generate(&args.dir, args.scale, args.years)?;
            print([format!(
                "wrote {} Sotkanet indicators ({} rows), {} JSON-stat cells and {}",
                g.indicators,
                g.sotkanet_rows,
                g.jsonstat_cells,
                g.pipeline.display()
            )])
        }
        Command::Convert(args) => {
            let done = convert::convert(&args)?;
            print([format!(
                "wrote {} rows to {}{}",
                done.rows,
                args.output.display(),
                done.quarantine_path
                    .map(|q| format!("; {} rows quarantined to {}", done.quarantined, q.display()))
                    .unwrap_or_default()
            )])
        }
        Command::Inspect(args) => print(inspect::inspect(&args.file, args.rows)?),
        Command::Runs(args) => {
            let out = match (&args.out, &args.pipeline) {
                (Some(out), _) => out.clone(),
                (None, Some(p)) => pipeline::output_dir(&config::Pipeline::load(p)?, None),
                (None, None) => {
                    return Err(error::ConfigError::Busy {
                        message: "`mittari runs` needs a pipeline file or `--out DIR`".into(),
                    }
                    .into());
                }
            };
            print(history::list(&out, args.limit)?)
        }
    }
}

fn print<I: IntoIterator<Item = S>, S: AsRef<str>>(lines: I) -> Result<(), Error> {
    output::print_lines(lines).map_err(|e| {
        Error::Internal(InternalError::Write {
            path: "<stdout>".into(),
            source: e.into(),
        })
    })
}

/// A file of this repository, for unit tests. `CARGO_MANIFEST_DIR` is read when the test runs
/// (cargo sets it then) rather than as compiled in: a test binary reused from a shared target
/// folder may have been built from another checkout.
#[cfg(test)]
pub(crate) fn repo_file(relative: &str) -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(
            || env!("CARGO_MANIFEST_DIR").into(),
            std::path::PathBuf::from,
        )
        .join(relative)
}
