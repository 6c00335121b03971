//! The production JSON-stat decoder, read back as rows for assertions.
//!
//! Tests decode through the column path the pipeline and `convert` use
//! (`jsonstat::columns::decode_columns` into an [`ObservationSink`]), with every region taken as
//! published (each id resolves to itself, so a document about Canada or Spain decodes too), and
//! read the resulting `observations` columns back as one [`Row`] per cell, in the order the
//! decoder wrote them: cells in document order, then any cell given as text.

use mittari::error::SourceError;
use mittari::model::columns::ObservationColumns;
use mittari::model::observation::Provenance;
use mittari::model::observation::{RawObservation, RegionId, Sex};
use mittari::model::quarantine::QuarantineEntry;
use mittari::model::regions::Registry;
use mittari::model::regions::resolve::RegionResolver;
use mittari::stages::normalize::jsonstat::columns::{ArrowBatch, ColumnOptions, decode_columns};
use mittari::stages::normalize::jsonstat::{DatasetInfo, DimensionRoles, Input};
use mittari::stages::normalize::{
    Collect, DecodeContext, ObservationSink, PayloadFormat, decode_payload, sotkanet,
};
use polars::prelude::*;

/// One decoded cell, as `observations` has it (a row read back from columns has no `location`:
/// only quarantine entries keep one).
pub type Row = RawObservation;

/// What a document decoded to.
#[derive(Debug)]
pub struct Decoded {
    pub rows: Vec<Row>,
    pub quarantine: Vec<QuarantineEntry>,
    pub datasets: Vec<DatasetInfo>,
}

/// Keeps what the decoder hands over, single rows apart (their regions are not resolved here).
#[derive(Default)]
struct Keep {
    columns: ObservationColumns,
    single: Vec<RawObservation>,
    quarantine: Vec<QuarantineEntry>,
}

impl ObservationSink for Keep {
    fn batch(&mut self, batch: ArrowBatch) -> Result<(), String> {
        batch.append_to(&mut self.columns);
        Ok(())
    }

    fn columns(&mut self, columns: ObservationColumns) -> Result<(), String> {
        self.columns.append(columns);
        Ok(())
    }

    fn row(&mut self, row: RawObservation) -> Result<(), String> {
        self.single.push(row);
        Ok(())
    }

    fn quarantine(&mut self, entry: QuarantineEntry) -> Result<(), String> {
        self.quarantine.push(entry);
        Ok(())
    }
}

/// Decodes a JSON-stat document held in memory.
pub fn decode_jsonstat(
    bytes: &[u8],
    roles: &DimensionRoles,
    ctx: &DecodeContext,
) -> Result<Decoded, SourceError> {
    let as_published = |id: &RegionId| match id {
        RegionId::Code(code) => Ok((code.clone(), "municipality")),
        RegionId::Sotkanet(n) => Ok((n.to_string(), "municipality")),
    };
    let options = ColumnOptions {
        resolve_region: &as_published,
        retrieved_at_micros: 0,
        batch_rows: 1000,
    };
    let mut keep = Keep::default();
    let datasets = decode_columns(Input::Bytes(bytes), roles, ctx, &options, &mut keep)?;
    let mut rows = rows_of(&keep.columns.take_frame().unwrap());
    rows.extend(keep.single);
    Ok(Decoded {
        rows,
        quarantine: keep.quarantine,
        datasets,
    })
}

/// Decodes a Sotkanet `/json` or `/csv` payload as a run does ([`decode_payload`] into
/// [`Collect`]), with Sotkanet's region ids resolved through the sample's `/regions` payload.
pub fn decode_sotkanet(
    format: PayloadFormat,
    bytes: &[u8],
    ctx: &DecodeContext,
) -> Result<Decoded, SourceError> {
    let registry = Registry::builtin().unwrap();
    let regions =
        std::fs::read(super::repo().join("sample-data/sotkanet/regions_2015.json")).unwrap();
    let regions = sotkanet::decode_regions(&regions, "regions_2015.json").unwrap();
    let resolver = RegionResolver {
        registry: &registry,
        sotkanet_regions: Some(("regions_2015.json", &regions)),
    };
    let provenance = Provenance {
        source_id: &ctx.source_id,
        raw_sha256: &ctx.raw_sha256,
        retrieved_at: chrono::Utc::now(),
    };
    let mut sink = Collect::new(&resolver, &provenance);
    let roles = DimensionRoles::default();
    decode_payload(
        format,
        bytes,
        &roles,
        ctx,
        &resolver,
        &provenance,
        &mut sink,
    )?;
    let decoded = sink.finish();
    Ok(Decoded {
        rows: rows_of(&{ decoded.resolved }.take_frame().unwrap()),
        quarantine: decoded.quarantine,
        datasets: decoded.datasets,
    })
}

/// The rows of an `observations` frame, in its order.
fn rows_of(df: &DataFrame) -> Vec<Row> {
    let text = |name: &str| -> Vec<Option<String>> {
        let c = df.column(name).unwrap().cast(&DataType::String).unwrap();
        c.str()
            .unwrap()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect()
    };
    let number = |name: &str| -> Vec<Option<f64>> {
        df.column(name).unwrap().f64().unwrap().iter().collect()
    };
    let years: Vec<Option<i16>> = df.column("year").unwrap().i16().unwrap().iter().collect();
    let [
        dataset,
        measure,
        region,
        period,
        sex,
        age,
        breakdown,
        status,
        status_label,
        unit,
    ] = [
        "dataset",
        "measure",
        "region",
        "period",
        "sex",
        "age",
        "breakdown",
        "status",
        "status_label",
        "unit",
    ]
    .map(text);
    let (value, abs_value) = (number("value"), number("abs_value"));
    (0..df.height())
        .map(|i| Row {
            dataset: dataset[i].clone().unwrap(),
            measure: measure[i].clone().unwrap(),
            region: RegionId::Code(region[i].clone().unwrap()),
            period: period[i].clone().unwrap(),
            year: years[i].unwrap(),
            sex: Sex::parse(sex[i].as_deref().unwrap()).unwrap(),
            age: age[i].clone().unwrap(),
            breakdown: breakdown[i].clone().unwrap_or_default(),
            value: value[i],
            abs_value: abs_value[i],
            status: status[i].clone(),
            status_label: status_label[i].clone(),
            unit: unit[i].clone(),
            location: String::new(),
        })
        .collect()
}
