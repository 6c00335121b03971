//! The application layer: what each command does, built from the stages.
//!
//! - [`run`]: sequencing a pipeline run through the stages, under the output folder's [`lock`],
//!   with incremental reruns ([`state`]), the run [`manifest`] and the run [`history`];
//! - [`convert`]: one payload to one Parquet file, through the same decoders;
//! - [`inspect`]: what a Parquet file holds;
//! - [`generate`]: a synthetic national workspace for benchmarks.

pub mod convert;
pub mod doctor;
pub mod generate;
pub mod history;
pub mod indicators;
pub mod init;
pub mod inspect;
pub mod lock;
pub mod manifest;
pub mod run;
pub mod state;
pub mod validate;
