//! The stages of a run, in the order data flows through them: [`extract`] -> [`normalize`] ->
//! [`conform`] -> [`mod@derive`] -> [`assess`] -> [`check`] -> [`publish`].
//!
//! Each stage is a set of plain functions from typed inputs to typed outputs. A stage may use the
//! stages before it and the layers below (the shared [`crate::model`], [`crate::http`],
//! [`crate::archive`], [`crate::io`], [`crate::error`]); it never imports a later stage or the
//! application layer ([`crate::app`]) that sequences them. `tests/it/layers.rs` holds the code to
//! that.

pub mod assess;
pub mod check;
pub mod conform;
pub mod derive;
pub mod extract;
pub mod normalize;
pub mod publish;
pub mod report;
