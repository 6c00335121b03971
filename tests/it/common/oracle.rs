//! The oracle the JSON-stat column path is checked against: every cell of a document mapped on
//! its own by `DatasetMapper::map` (as the decoder maps the cells its fast path does not take),
//! in document order, then each sparse dataset's cells that only have a status. It builds one
//! observation of a dozen strings per cell, which is why the pipeline does not decode this way.

use mittari::model::columns::ObservationColumns;
use mittari::model::observation::{Provenance, RawObservation};
use mittari::model::quarantine::QuarantineEntry;
use mittari::model::regions::resolve::{RegionResolver, unresolved};
use mittari::stages::normalize::DecodeContext;
use mittari::stages::normalize::jsonstat::stream::{Cell, CellSink};
use mittari::stages::normalize::jsonstat::{self, DatasetMapper, DimensionRoles, Input};

/// Every cell's observation, or its quarantine entry.
pub fn rows(
    bytes: &[u8],
    roles: &DimensionRoles,
    ctx: &DecodeContext,
) -> (Vec<RawObservation>, Vec<QuarantineEntry>) {
    let (form, mut resolved, findings) =
        jsonstat::validate(Input::Bytes(bytes), &ctx.file).unwrap();
    assert!(findings.iter().all(|f| !f.error), "{findings:?}");
    let single = resolved.len() == 1;
    let pointers: Vec<String> = resolved.iter().map(|r| r.pointer.clone()).collect();
    let mappers = resolved
        .iter_mut()
        .map(|r| {
            let id = if single {
                ctx.dataset.clone()
            } else {
                format!("{}#{}", ctx.dataset, r.pointer)
            };
            DatasetMapper::new(r, roles, id, ctx).unwrap()
        })
        .collect();
    let mut each = EachCell {
        mappers,
        ctx,
        rows: Vec::new(),
        quarantine: Vec::new(),
    };
    jsonstat::stream::stream(bytes, form, &pointers, &mut each).unwrap();
    for d in 0..each.mappers.len() {
        for pos in each.mappers[d].status_only() {
            each.cell(d, pos, Cell::Null).unwrap();
        }
    }
    (each.rows, each.quarantine)
}

/// The oracle's rows with their regions resolved as the pipeline resolves them, in
/// `observations` columns, and every quarantine entry.
pub fn resolved(
    bytes: &[u8],
    roles: &DimensionRoles,
    ctx: &DecodeContext,
    resolver: &RegionResolver<'_>,
    provenance: &Provenance<'_>,
) -> (ObservationColumns, Vec<QuarantineEntry>) {
    let (rows, mut quarantine) = rows(bytes, roles, ctx);
    let mut columns = ObservationColumns::default();
    for row in rows {
        match resolver.resolve(&row.region) {
            Ok((code, level)) => columns.push_row(&row, &code, level, provenance),
            Err((rule, reason)) => quarantine.push(unresolved(&row, provenance, rule, reason)),
        }
    }
    (columns, quarantine)
}

struct EachCell<'a> {
    mappers: Vec<DatasetMapper>,
    ctx: &'a DecodeContext,
    rows: Vec<RawObservation>,
    quarantine: Vec<QuarantineEntry>,
}

impl CellSink for EachCell<'_> {
    fn cell(&mut self, dataset: usize, pos: usize, cell: Cell) -> Result<(), String> {
        match self.mappers[dataset].map(pos, &cell, self.ctx) {
            Ok(row) => self.rows.push(row),
            Err(entry) => self.quarantine.push(entry),
        }
        Ok(())
    }
}
