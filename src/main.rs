//! The `mittari` binary: parse arguments, set up logging, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;
use mittari::cli::Cli;
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
    mittari::logging::init(&cli.global);
    match mittari::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let status = err.exit_status();
            report(&err);
            ExitCode::from(status as u8)
        }
    }
}

/// Prints the error with its whole chain of causes, then a hint where there is one.
#[allow(clippy::print_stderr)] // The one place that writes errors for people.
fn report(err: &mittari::error::Error) {
    use std::fmt::Write as _;
    let mut message = format!("error: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let _ = write!(message, "\n  caused by: {cause}");
        source = cause.source();
    }
    eprintln!("{message}");
    if let Some(hint) = err.hint() {
        eprintln!("hint: {hint}");
    }
}
