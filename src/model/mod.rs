//! The shared model: the types every stage speaks, depending on nothing above them.
//!
//! - [`config`]: the pipeline file, parsed and validated into checked types;
//! - [`regions`]: the region registry, the crosswalk to today's counties, and the resolver that
//!   turns published region identifiers into canonical codes;
//! - [`observation`] and [`columns`]: one observation, and the columns every decoder writes into;
//! - [`contract`]: each output table's columns, types and nullability (`schemas/`);
//! - [`quarantine`]: a row that could not be used, and its table.

pub mod columns;
pub mod config;
pub mod contract;
pub mod intern;
pub mod observation;
pub mod quarantine;
pub mod regions;
