//! The one place that writes to stdout (data and machine-readable output).
//!
//! Logs go to stderr through `tracing`; stdout carries only what a command produces, so that it
//! can be piped. A closed pipe (`mittari inspect x | head`) is not an error.

use std::io::{self, Write};

/// Writes lines to stdout. A broken pipe ends the output quietly.
pub fn print_lines<I, S>(lines: I) -> io::Result<()>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    for line in lines {
        if let Err(e) = writeln!(out, "{}", line.as_ref()) {
            return quiet_broken_pipe(e);
        }
    }
    out.flush().or_else(quiet_broken_pipe)
}

fn quiet_broken_pipe(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e)
    }
}
