//! Errors per area and the one place where an error becomes an exit code.
//!
//! Library code returns typed errors that carry what went wrong and where (file, line, column,
//! JSON pointer, table, column). Only `main` turns them into text and an exit code, using
//! [`Error::exit_status`], so the mapping documented in the README lives here and nowhere else:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a check of error severity failed; nothing was published |
//! | 2 | usage or configuration error (pipeline file, CLI arguments) |
//! | 3 | source error: an input is missing, unreadable or malformed |
//! | 4 | internal error: a bug, an output contract violated, an output that could not be written |

use std::path::PathBuf;

/// Any error that ends a mittari command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pipeline file or the command line is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A source payload is missing, unreadable or malformed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A check of error severity failed.
    #[error(transparent)]
    Check(#[from] CheckError),
    /// Something that should not happen: a bug or an environment failure while writing outputs.
    #[error(transparent)]
    Internal(#[from] InternalError),
}

/// The process exit status of a command, in one enum so that every code has one meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// The command did what it was asked.
    Success = 0,
    /// A check of error severity failed; nothing was published.
    CheckFailed = 1,
    /// Usage or configuration error.
    Config = 2,
    /// Source or network error.
    Source = 3,
    /// Internal error.
    Internal = 4,
    /// The output folder is in use by another run: nothing was done, and retrying later is safe.
    Busy = 5,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// What the code means, in a few words.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitStatus::Success => "success",
            ExitStatus::CheckFailed => "exit 1: a check of error severity failed",
            ExitStatus::Config => "exit 2: usage or configuration error",
            ExitStatus::Source => "exit 3: source or network error",
            ExitStatus::Internal => "exit 4: internal error",
            ExitStatus::Busy => "exit 5: the output folder is in use by another run (retry later)",
        }
    }
}

/// An error with its causes on one line: `error: cause: cause`.
pub fn chain(err: &Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.join(": ")
}

impl Error {
    /// The exit status this error ends the process with.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::Config(ConfigError::Busy { .. }) => ExitStatus::Busy,
            Error::Config(_) => ExitStatus::Config,
            Error::Source(_) => ExitStatus::Source,
            Error::Check(_) => ExitStatus::CheckFailed,
            Error::Internal(_) => ExitStatus::Internal,
        }
    }

    /// A line of advice printed after the error, where there is one to give.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Config(ConfigError::Parse { .. } | ConfigError::Invalid { .. }) => Some(
                "the pipeline file format is described in `docs/pipeline-reference.md`"
                    .to_owned(),
            ),
            Error::Source(SourceError::Missing { .. }) => Some(
                "paths in a pipeline file are relative to the pipeline file's own folder"
                    .to_owned(),
            ),
            Error::Source(SourceError::NotArchived { .. }) => Some(
                "`--offline` answers only requests an earlier online run archived: run once without `--offline`, with the same pipeline and cache"
                    .to_owned(),
            ),
            Error::Source(SourceError::Http {
                status: 403,
                request,
                ..
            }) => Some(forbidden_hint(request).to_owned()),
            Error::Internal(InternalError::Contract { .. }) => {
                Some("this is a bug in mittari: please report it with the run's log".to_owned())
            }
            _ => None,
        }
    }
}

/// The pipeline file or the command line is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The pipeline file could not be read.
    #[error("cannot read pipeline file `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The pipeline file is not valid TOML or does not match the pipeline format.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A command's arguments ask for something that cannot be done (exit 2).
    #[error("{message}")]
    Usage {
        /// What is wrong, and what would do.
        message: String,
    },
    /// Another run holds the output folder (exit 5: retrying later is safe).
    #[error("{message}")]
    Busy {
        /// Who holds it, and what to do.
        message: String,
    },
    /// The pipeline file parses but says something inconsistent.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
}

/// A source payload is missing, unreadable or malformed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// An input file does not exist or cannot be read.
    #[error("source `{source_id}`: cannot read `{}`", path.display())]
    Missing {
        /// The pipeline's id for the source.
        source_id: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A payload cannot be decoded as a whole (truncated JSON, wrong structure, bad header).
    #[error("{}: {location}: {message}", path.display())]
    Malformed {
        /// The file the payload came from.
        path: PathBuf,
        /// Where: `line L, column C` or a JSON pointer.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A server answered with an error status that retrying cannot fix.
    #[error("`{request}`: HTTP {status}{message}")]
    Http {
        /// `METHOD URL`.
        request: String,
        /// The status.
        status: u16,
        /// `: ` and the start of the server's message, or empty.
        message: String,
    },
    /// A request kept failing (connection, timeout, 5xx, 429) until the retries ran out.
    #[error("`{request}`: failed after {attempts} attempts: {message}")]
    Network {
        /// `METHOD URL`.
        request: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        message: String,
    },
    /// A response arrived but is not usable data (an HTML page, cut-off JSON, too large).
    #[error("`{request}`: {message}")]
    BadResponse {
        /// `METHOD URL`.
        request: String,
        /// What is wrong.
        message: String,
    },
    /// `--offline` and the archive has no response for a request.
    #[error("`{request}`{}: not in the raw archive (running with `--offline`)", body.as_ref().map(|b| format!(" with body {b}")).unwrap_or_default())]
    NotArchived {
        /// `METHOD URL`.
        request: String,
        /// The POST body.
        body: Option<String>,
    },
}

/// A check of error severity failed.
#[derive(Debug, thiserror::Error)]
#[error("check `{check}` failed: {message}")]
pub struct CheckError {
    /// The check's name.
    pub check: String,
    /// What failed, and where to look.
    pub message: String,
    /// How many checks failed (a cross-source check counts as one).
    pub failed: usize,
}

/// Something that should not happen.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    /// A table about to be written does not match its contract in `schemas/`.
    #[error("table `{table}` violates its contract: {message}")]
    Contract {
        /// The table.
        table: String,
        /// Which column and how.
        message: String,
    },
    /// polars failed while computing a stage.
    #[error("{context}")]
    Polars {
        /// What mittari was doing.
        context: String,
        /// The polars error.
        #[source]
        source: polars::error::PolarsError,
    },
    /// An output could not be written or read back.
    #[error("cannot write `{}`", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Any other invariant that failed.
    #[error("{0}")]
    Invariant(String),
    /// The run committed (its outputs are the current version), and a step after the commit
    /// failed: the outputs stand, what failed is said.
    #[error(
        "the outputs of run {run_id} are published (`current` names them), but a step after \
         publishing failed"
    )]
    AfterCommit {
        /// The run.
        run_id: String,
        /// What failed.
        #[source]
        source: Box<InternalError>,
    },
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds context to polars errors, which otherwise say what failed but not in which stage.
pub trait PolarsContext<T> {
    /// Wraps the error with a sentence saying what mittari was doing.
    fn context(self, context: impl Into<String>) -> Result<T, InternalError>;
}

impl<T> PolarsContext<T> for polars::error::PolarsResult<T> {
    fn context(self, context: impl Into<String>) -> Result<T, InternalError> {
        self.map_err(|source| InternalError::Polars {
            context: context.into(),
            source,
        })
    }
}

/// What a 403 means, by the API that gave it.
fn forbidden_hint(request: &str) -> &'static str {
    let r = request.to_lowercase();
    if r.contains("sotkanet") || r.contains("/rest/1.1/") {
        "Sotkanet refuses clients it cannot identify: set `http.contact` or MITTARI_CONTACT"
    } else if r.contains("pxweb") || r.contains("stat.fi") {
        "StatFin answers 403 with an HTML page when a query is larger than it takes; mittari \
         split the query smaller and was still refused: select fewer values, or try later"
    } else {
        "the service refused the request: check the API's terms of use and the request itself"
    }
}
