//! mittari: a data pipeline for knowledge-based management (tiedolla johtaminen) in Finnish
//! social and health care.
//!
//! It turns THL Sotkanet, Statistics Finland StatFin (JSON-stat) and region-supplied files into
//! canonical Parquet tables, conforms every figure to today's wellbeing services counties and
//! derives indicators per region, recomputing county and country rates from summed numerators
//! and denominators.
//!
//! The modules are layers, and imports point one way, from the top of this list down:
//!
//! 1. [`cli`]: the command-line edge (arguments, logging, stdout);
//! 2. [`app`]: what each command does (sequencing a run, `validate`, `convert`, `inspect`,
//!    `runs`, the manifest, state, lock and history);
//! 3. [`stages`]: extract, normalize, conform, derive, assess, check, publish, each using only
//!    the stages before it;
//! 4. [`model`]: the checked pipeline, the region registry, observation columns, contracts;
//! 5. [`http`]: the HTTP client (retries, rate limits, conditional requests);
//! 6. [`archive`]: the raw payload archive;
//! 7. [`io`]: atomic writes, hashing, Parquet and workbook readers;
//! 8. [`error`] and [`env_vars`]: the error types and the environment's names.
//!
//! `tests/it/layers.rs` fails on any import that points upward or closes a cycle.

pub mod app;
pub mod archive;
pub mod cli;
pub mod env_vars;
pub mod error;
pub mod http;
pub mod io;
pub mod model;
pub mod stages;

pub use cli::commands::run;
