//! Tests of the JSON-stat column path on hand-made documents (its comparison with every cell
//! mapped on its own is in `tests/it/jsonstat.rs`).

#![allow(clippy::unwrap_used)]
use polars::prelude::{DataFrame, DataType, Series};

use super::*;
use crate::model::observation::Provenance;
use crate::model::observation::RawObservation;
use crate::model::quarantine::QuarantineEntry;
use crate::model::regions::Registry;
use crate::model::regions::resolve::RegionResolver;

/// `tests/fixtures/jsonstat/collection_fast_and_sparse.json`: a collection of two datasets. The first (region × sex × year, every category usable)
/// takes its cells without working out their coordinates; its statuses are a status
/// object. The second is sparse with gaps and a status-only cell (position 3), has a
/// region that does not resolve (quarantined) and an age dimension left to `breakdown`.
fn doc() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/jsonstat/collection_fast_and_sparse.json"
    );
    fs_err::read(path).unwrap()
}

fn provenance() -> Provenance<'static> {
    Provenance {
        source_id: "t",
        raw_sha256: "abc",
        retrieved_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
    }
}

fn ctx() -> DecodeContext {
    DecodeContext {
        source_id: "t".into(),
        dataset: "statfin:t".into(),
        file: "t.json".into(),
        raw_sha256: "abc".into(),
        unit: None,
        latest_year: None,
    }
}

fn roles() -> DimensionRoles {
    DimensionRoles {
        sex: Some("sukupuoli".into()),
        ..DimensionRoles::default()
    }
}

/// The rows `decode_columns` gives in batches of `batch_rows`, as the pipeline appends them,
/// and how many were quarantined.
fn columns(batch_rows: usize) -> (DataFrame, usize) {
    let registry = Registry::builtin().unwrap();
    let resolver = RegionResolver {
        registry: &registry,
        sotkanet_regions: None,
    };
    let provenance = provenance();
    let resolve = |id: &RegionId| resolver.resolve(id).map(|(c, l)| (c, l.as_str()));
    let opts = ColumnOptions {
        resolve_region: &resolve,
        retrieved_at_micros: provenance.retrieved_at.timestamp_micros(),
        batch_rows,
    };
    let (ctx, roles) = (ctx(), roles());
    let mut sink = Checked {
        batch_rows,
        out: ObservationColumns::default(),
        quarantined: 0,
    };
    decode_columns(Input::Bytes(&doc()), &roles, &ctx, &opts, &mut sink).unwrap();
    let (mut out, quarantined) = (sink.out, sink.quarantined);
    (out.take_frame().unwrap(), quarantined)
}

/// Checks each batch as the Parquet writer would take it, and keeps the rows.
struct Checked {
    batch_rows: usize,
    out: ObservationColumns,
    quarantined: usize,
}

impl ObservationSink for Checked {
    fn batch(&mut self, batch: ArrowBatch) -> Result<(), String> {
        assert!(batch.height() <= self.batch_rows);
        // Every column the writer would take has its field's type and the batch's rows.
        for (i, field) in batch.schema.iter_values().enumerate() {
            let array = batch.column(i).unwrap();
            assert_eq!(array.dtype(), field.dtype(), "{}", field.name);
            assert_eq!(array.len(), batch.height(), "{}", field.name);
        }
        batch.append_to(&mut self.out);
        Ok(())
    }

    fn columns(&mut self, _: ObservationColumns) -> Result<(), String> {
        Err("JSON-stat hands over batches".into())
    }

    /// No cell here is text: only the cells of the region no registry knows come one by one
    /// (a run's sink quarantines them).
    fn row(&mut self, row: RawObservation) -> Result<(), String> {
        if row.region != RegionId::Code("KU999".into()) {
            return Err(format!("a single row: {row:?}"));
        }
        self.quarantined += 1;
        Ok(())
    }

    fn quarantine(&mut self, _: QuarantineEntry) -> Result<(), String> {
        self.quarantined += 1;
        Ok(())
    }
}

/// A frame's columns, categoricals as text, so frames with different category mappings
/// compare.
fn as_text(df: &DataFrame) -> Vec<Series> {
    df.columns()
        .iter()
        .map(|c| {
            let s = c.as_materialized_series();
            match s.dtype() {
                DataType::Categorical(..) => s.cast(&DataType::String).unwrap(),
                _ => s.clone(),
            }
        })
        .collect()
}

#[test]
fn batches_of_any_size_give_the_same_rows() {
    let (whole, quarantined) = columns(1 << 16);
    // 36 cells; then 14 listed and one status-only, less the two in KU999's block.
    assert_eq!(quarantined, 2);
    assert_eq!(whole.height(), 36 + 14 + 1 - 2);
    for batch_rows in [1, 2, 3, 5, 7, 11, 36, 37] {
        let (df, q) = columns(batch_rows);
        assert_eq!(q, quarantined, "batches of {batch_rows}");
        for (a, b) in as_text(&df).iter().zip(as_text(&whole)) {
            assert!(a.equals_missing(&b), "batches of {batch_rows}: {a}\n{b}");
        }
    }
}
