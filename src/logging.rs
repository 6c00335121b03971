//! Logging to stderr with `tracing`: level from `-v`/`-q` (or `MITTARI_LOG`), colour only on a
//! terminal, never when `NO_COLOR` is set.

use std::io::IsTerminal;

use tracing::level_filters::LevelFilter;

use crate::cli::{ColorChoice, GlobalArgs};
use crate::env_vars;

/// Installs the global subscriber. Call once, from `main`.
pub fn init(args: &GlobalArgs) {
    let from_flags = match (i16::from(args.verbose) - i16::from(args.quiet)).clamp(-2, 2) {
        -2 => LevelFilter::ERROR,
        -1 => LevelFilter::WARN,
        0 => LevelFilter::INFO,
        1 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let level = std::env::var(env_vars::MITTARI_LOG)
        .ok()
        .and_then(|v| v.parse::<LevelFilter>().ok())
        .unwrap_or(from_flags);
    let no_color = std::env::var_os(env_vars::NO_COLOR).is_some_and(|v| !v.is_empty());
    let ansi = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => !no_color && std::io::stderr().is_terminal(),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_ansi(ansi)
        .with_target(false)
        .init();
}
