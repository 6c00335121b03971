//! The `mittari` binary: parse arguments, set up logging, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;
use mittari::cli::{Cli, LogFormat};
use mittari::error::ExitStatus;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are successes; everything else clap rejects is a usage error.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(ExitStatus::Config as u8)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    mittari::cli::logging::init(&cli.global);
    let json = cli.global.log_format == LogFormat::Json;
    match mittari::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let status = err.exit_status();
            report(&err, json);
            ExitCode::from(status as u8)
        }
    }
}

/// Prints the error with its whole chain of causes, then a hint where there is one (as one JSON
/// line with `--log-format json`).
#[allow(clippy::print_stderr)] // The one place that writes errors for people.
fn report(err: &mittari::error::Error, json: bool) {
    use std::fmt::Write as _;
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let hint = err.hint();
    if json {
        let code = err.exit_status() as u8;
        eprintln!(
            "{}",
            mittari::cli::logging::error_line(&err.to_string(), &causes, code, hint.as_deref())
        );
        return;
    }
    let mut message = format!("error: {err}");
    for cause in &causes {
        let _ = write!(message, "\n  caused by: {cause}");
    }
    eprintln!("{message}");
    if let Some(hint) = hint {
        eprintln!("hint: {hint}");
    }
}
