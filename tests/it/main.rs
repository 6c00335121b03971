#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! mittari's integration tests, in one test binary: each module used to be a binary of its own,
//! and each linked polars again (minutes of linking on two cores); as modules of one binary they
//! build once and run in parallel.
//!
//! Most tests run the `mittari` binary on a private copy of the sample workspace
//! ([`common::Workspace`]); HTTP sources are served by a local replay server on 127.0.0.1
//! ([`common::server`]). No test touches the network.

mod common;

mod bad_input;
mod bench;
mod catalogue;
mod checks;
mod cli;
mod decoders;
mod dictionary;
mod hostile;
mod incremental;
mod init;
mod jsonstat;
mod kpa;

mod layers;
mod lineage;
mod live_sources;
mod maturity;
mod object_storage;
mod official;
mod partitioned;
mod regions;
mod report;
mod sample_pipeline;
mod schema;
mod snapshots;
mod sotkanet_terms;
mod statfin_2026;
mod thl_cube;
