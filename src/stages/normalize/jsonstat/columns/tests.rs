//! Tests of the JSON-stat column path against the row path and hand-made documents.

#![allow(clippy::unwrap_used)]
use polars::prelude::{DataFrame, DataType, Series};

use super::*;
use crate::model::observation::Provenance;
use crate::model::regions::Registry;
use crate::model::regions::resolve::{RegionResolver, unresolved};

/// A collection of two datasets. The first (region × sex × year, every category usable)
/// takes its cells without working out their coordinates; its statuses are a status
/// object. The second is sparse with gaps and a status-only cell (position 3), has a
/// region that does not resolve (quarantined) and an age dimension left to `breakdown`.
const DOC: &str = r#"{"version": "2.0", "class": "collection", "link": {"item": [
  {"class": "dataset", "id": ["alue", "sukupuoli", "vuosi"], "size": [3, 3, 4],
   "role": {"geo": ["alue"], "time": ["vuosi"]},
   "dimension": {
     "alue": {"category": {"index": ["SSS", "KU091", "KU049"]}},
     "sukupuoli": {"category": {"index": ["SSS", "1", "2"]}},
     "vuosi": {"category": {"index": ["2020", "2021", "2022", "2023"]}}},
   "value": [1, 2, 3, 4, 5, null, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, null, 19, 20,
             21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36],
   "status": {"5": "..", "17": ".", "30": "-"}},
  {"class": "dataset", "id": ["alue", "sukupuoli", "ika", "vuosi"], "size": [3, 1, 2, 5],
   "role": {"geo": ["alue"], "time": ["vuosi"]},
   "dimension": {
     "alue": {"category": {"index": ["KU091", "KU999", "KU049"]}},
     "sukupuoli": {"category": {"index": ["SSS"]}},
     "ika": {"category": {"index": ["0-14", "15-64"]}},
     "vuosi": {"category": {"index": ["2019", "2020", "2021", "2022", "2023"]}}},
   "value": {"0": 1, "1": 2, "2": null, "4": 4, "5": 5, "6": 6, "9": 9, "12": 12,
             "13": 13, "20": 20, "21": 21, "22": 22, "23": null, "29": 29},
   "status": {"2": "..", "3": "-", "23": "."}}]}}"#;

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
    let reject = |raw: &RawObservation, rule, reason| unresolved(raw, &provenance, rule, reason);
    let opts = ColumnOptions {
        resolve_region: &resolve,
        reject_region: &reject,
        retrieved_at_micros: provenance.retrieved_at.timestamp_micros(),
        batch_rows,
    };
    let (ctx, roles) = (ctx(), roles());
    let mut out = ObservationColumns::default();
    let mut quarantined = 0;
    decode_columns(
        Input::Bytes(DOC.as_bytes()),
        &roles,
        &ctx,
        &opts,
        |_| {
            quarantined += 1;
            Ok(())
        },
        |batch| {
            assert!(batch.height() <= batch_rows);
            // Every column the writer would take has its field's type and the batch's rows.
            for (i, field) in batch.schema.iter_values().enumerate() {
                let array = batch.column(i).unwrap();
                assert_eq!(array.dtype(), field.dtype(), "{}", field.name);
                assert_eq!(array.len(), batch.height(), "{}", field.name);
            }
            batch.append_to(&mut out);
            Ok(())
        },
        |row| Err(format!("no cell here is text: {row:?}")),
    )
    .unwrap();
    (out.take_frame().unwrap(), quarantined)
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
fn batches_of_any_size_give_the_rows_the_row_path_gives() {
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
    // The row path, through the same registry.
    let registry = Registry::builtin().unwrap();
    let resolver = RegionResolver {
        registry: &registry,
        sotkanet_regions: None,
    };
    let provenance = provenance();
    let (ctx, roles) = (ctx(), roles());
    let decoded = super::super::decode(DOC.as_bytes(), &roles, &ctx).unwrap();
    let mut rows = ObservationColumns::default();
    let mut quarantine = decoded.quarantine;
    rows.push_resolved(decoded.rows, &resolver, &provenance, &mut quarantine);
    assert_eq!(quarantine.len(), quarantined);
    let rows = rows.take_frame().unwrap();
    for (a, b) in as_text(&whole).iter().zip(as_text(&rows)) {
        assert!(a.equals_missing(&b), "{a}\n{b}");
    }
}
