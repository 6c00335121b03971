//! What each command does at the edge: call the application layer and print its result on
//! stdout (through [`crate::cli::output`]). Nothing here computes anything.

use crate::app::{convert, generate, history, inspect, run as pipeline};
use crate::cli::{Cli, Command};
use crate::error::{Error, InternalError};
use crate::model::config;

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
        Command::Validate(args) => match args.format {
            crate::cli::DoctorFormat::Text => {
                print(crate::app::validate::validate(&args.pipeline)?)
            }
            crate::cli::DoctorFormat::Json => {
                print_json(&crate::app::validate::validate_json(&args.pipeline)?)
            }
        },
        Command::Indicators(command) => {
            let lookup = |l: crate::cli::LookupArgs| crate::app::indicators::Lookup {
                api: l.api_url,
                cache: l.cache.unwrap_or_else(pipeline::default_cache_dir),
                offline: l.offline,
                lang: l.lang,
            };
            match command {
                crate::cli::IndicatorsCommand::Search { text, lookup: l } => {
                    print(crate::app::indicators::search(&text, &lookup(l))?)
                }
                crate::cli::IndicatorsCommand::Show { id, lookup: l } => {
                    print(crate::app::indicators::show(id, &lookup(l))?)
                }
            }
        }
        Command::Doctor(args) => {
            let health = crate::app::doctor::doctor(&args.pipeline)?;
            let failing = health.iter().filter(|h| !h.ok).count();
            match args.format {
                crate::cli::DoctorFormat::Text => print(crate::app::doctor::lines(&health))?,
                crate::cli::DoctorFormat::Json => {
                    let json = serde_json::to_string_pretty(&health)
                        .map_err(|e| InternalError::Invariant(format!("doctor's JSON: {e}")))?;
                    print([json])?;
                }
            }
            if failing > 0 {
                return Err(crate::error::SourceError::BadResponse {
                    request: format!("doctor {}", args.pipeline.display()),
                    message: format!("{failing} of {} sources would fail", health.len()),
                }
                .into());
            }
            Ok(())
        }
        Command::Init(args) => {
            let path = crate::app::init::init(&crate::app::init::InitRequest {
                county: args.county,
                peers: args.peers,
                dir: args.dir,
                force: args.force,
            })?;
            print([
                format!("wrote {}", path.display()),
                format!(
                    "next: set http.contact in it (or MITTARI_CONTACT), then `mittari validate {}`",
                    path.display()
                ),
            ])
        }
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
            let request = convert::ConvertRequest {
                format: match args.format {
                    crate::cli::ConvertFormat::Jsonstat => convert::ConvertFormat::Jsonstat,
                    crate::cli::ConvertFormat::SotkanetJson => convert::ConvertFormat::SotkanetJson,
                    crate::cli::ConvertFormat::SotkanetCsv => convert::ConvertFormat::SotkanetCsv,
                },
                input: args.input.clone(),
                output: args.output.clone(),
                dataset: args.dataset.clone(),
                roles: crate::stages::normalize::jsonstat::DimensionRoles {
                    region: args.region_dim.clone(),
                    region_code: args.region_code.clone(),
                    time: args.time_dim.clone(),
                    measure: args.measure_dim.clone(),
                    sex: args.sex_dim.clone(),
                    age: args.age_dim.clone(),
                    sex_codes: None,
                },
            };
            let done = convert::convert(&request)?;
            print([format!(
                "wrote {} rows to {}{}",
                done.rows,
                args.output.display(),
                done.quarantine_path
                    .map(|q| format!("; {} rows quarantined to {}", done.quarantined, q.display()))
                    .unwrap_or_default()
            )])
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "mittari", &mut out);
            print([String::from_utf8_lossy(&out)])
        }
        Command::Schema => print_json(&config::json_schema()),
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .map_err(|e| InternalError::Write {
                    path: "<stdout>".into(),
                    source: e.into(),
                })?;
            print([String::from_utf8_lossy(&out)])
        }
        Command::Inspect(args) => match args.format {
            crate::cli::DoctorFormat::Text => print(inspect::inspect(&args.file, args.rows)?),
            crate::cli::DoctorFormat::Json => {
                print_json(&inspect::inspect_json(&args.file, args.rows)?)
            }
        },
        Command::Runs(args) => {
            let out = match (&args.out, &args.pipeline) {
                (Some(out), _) => pipeline::output_folder(out)?,
                (None, Some(p)) => pipeline::output_dir(&config::Pipeline::load(p)?, None)?,
                (None, None) => {
                    return Err(crate::error::ConfigError::Usage {
                        message: "`mittari runs` needs a pipeline file or `--out DIR`".into(),
                    }
                    .into());
                }
            };
            match args.format {
                crate::cli::DoctorFormat::Text => print(history::list(&out, args.limit)?),
                crate::cli::DoctorFormat::Json => {
                    print_json(&history::list_json(&out, args.limit)?)
                }
            }
        }
    }
}

/// One JSON document, pretty-printed.
fn print_json(value: &serde_json::Value) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| InternalError::Invariant(format!("writing JSON: {e}")))?;
    print([text])
}

fn print<I: IntoIterator<Item = S>, S: AsRef<str>>(lines: I) -> Result<(), Error> {
    crate::cli::output::print_lines(lines).map_err(|e| {
        Error::Internal(InternalError::Write {
            path: "<stdout>".into(),
            source: e.into(),
        })
    })
}
