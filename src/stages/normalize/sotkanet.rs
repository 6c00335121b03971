//! THL Sotkanet REST 1.1 payloads (<https://sotkanet.fi/rest/1.1/>).
//!
//! - `/json`: an array of `{"indicator","region","year","gender","value","absValue"}`. `absValue`
//!   is absent when the indicator has no absolute value; an absent or null `value` is a missing
//!   value (THL does not publish municipal figures of fewer than five cases), never 0.
//! - `/csv`: `indicator;region;year;gender;primary value;absolute value`, `;`-separated, CRLF,
//!   decimal point, empty fields for missing values.
//! - `/regions`: `{"id","code","category","title":{fi,sv,en},"memberOf","uri"}`.
//!
//! `region` is Sotkanet's internal id, not an official code; the conform stage maps it.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::{
    DecodeContext, ObservationSink, RawObservation, RegionId, Sex, SourceKind, sink_failed,
    sotkanet_rows,
};
use crate::error::SourceError;
use crate::model::columns::{CodedRow, ObservationColumns, Text};
use crate::model::intern::NULL;
use crate::model::observation::{Provenance, plausible_year};
use crate::model::quarantine::QuarantineEntry;
use crate::model::regions::resolve::{RegionResolver, SotkanetRegion, unresolved};
use crate::model::regions::{COUNTRY, Level};

/// One `/json` row with every field kept loose, so that a wrong type quarantines the row with a
/// precise pointer instead of failing the payload.
#[derive(Debug, Deserialize, serde::Serialize)]
struct JsonRow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    indicator: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    year: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gender: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<Value>,
    #[serde(rename = "absValue", default, skip_serializing_if = "Option::is_none")]
    abs_value: Option<Value>,
}

/// The indicator id a dataset id names (`sotkanet:171` -> 171).
fn dataset_indicator(dataset: &str) -> Option<i64> {
    dataset.strip_prefix("sotkanet:")?.parse().ok()
}

/// A row's year is not after the context's latest year: THL publishes no figures ahead.
fn not_ahead(ctx: &DecodeContext, year: i16) -> Result<(), String> {
    match ctx.latest_year {
        Some(latest) if year > latest => Err(format!(
            "year {year} is after {latest}, the run's as-of year: no statistics are published ahead"
        )),
        _ => Ok(()),
    }
}

/// The dataset of a row: the context's, or `sotkanet:<indicator>` when the context names none.
fn row_dataset(ctx: &DecodeContext, indicator: i64) -> String {
    if ctx.dataset.is_empty() {
        format!("sotkanet:{indicator}")
    } else {
        ctx.dataset.clone()
    }
}

/// Decodes a `/json` response into `sink`: the typed column path (`typed_columns`) when every
/// row is as THL publishes them; otherwise the loose reader, which quarantines each odd row with
/// its JSON pointer (or names the error when the payload is not an array of rows at all).
pub fn decode_json(
    bytes: &[u8],
    ctx: &DecodeContext,
    resolver: &RegionResolver<'_>,
    provenance: &Provenance<'_>,
    sink: &mut impl ObservationSink,
) -> Result<(), SourceError> {
    let failed = |e: String| sink_failed(ctx, "/", e);
    let Some((columns, quarantine)) = typed_columns(bytes, ctx, resolver, provenance) else {
        return decode_json_loose(bytes, ctx, sink);
    };
    sink.columns(columns).map_err(failed)?;
    for entry in quarantine {
        sink.quarantine(entry).map_err(failed)?;
    }
    Ok(())
}

/// The loose reader of a `/json` response: every row through `serde_json` values, so that a row
/// of the wrong shape is quarantined with its pointer and the others are kept.
fn decode_json_loose(
    bytes: &[u8],
    ctx: &DecodeContext,
    sink: &mut impl ObservationSink,
) -> Result<(), SourceError> {
    let rows: Vec<JsonRow> = serde_json::from_slice(bytes).map_err(|e| SourceError::Malformed {
        path: ctx.file.clone().into(),
        location: format!("line {}, column {}", e.line(), e.column()),
        message: format!("not a Sotkanet `/json` array of rows: {e}"),
    })?;
    let expected_indicator = dataset_indicator(&ctx.dataset);
    for (i, row) in rows.iter().enumerate() {
        let handed = match json_row(row, i, expected_indicator, ctx) {
            Ok(obs) => sink.row(obs),
            Err((field, rule, reason)) => {
                let record = serde_json::to_string(row).unwrap_or_default();
                sink.quarantine(ctx.quarantine(
                    format!(
                        "{}#/{i}{}",
                        ctx.file,
                        field.map(|f| format!("/{f}")).unwrap_or_default()
                    ),
                    rule,
                    reason,
                    record,
                ))
            }
        };
        handed.map_err(|e| sink_failed(ctx, &format!("/{i}"), e))?;
    }
    Ok(())
}

type RowError = (Option<&'static str>, &'static str, String);

fn json_row(
    row: &JsonRow,
    index: usize,
    expected_indicator: Option<i64>,
    ctx: &DecodeContext,
) -> Result<RawObservation, RowError> {
    let int = |field: &'static str, v: &Option<Value>| -> Result<i64, RowError> {
        match v {
            Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
                (
                    Some(field),
                    "wrong_type",
                    format!("`{field}` must be an integer, found {n}"),
                )
            }),
            Some(other) => Err((
                Some(field),
                "wrong_type",
                format!("`{field}` must be an integer, found {}", kind(other)),
            )),
            None => Err((
                Some(field),
                "missing_field",
                format!("`{field}` is missing"),
            )),
        }
    };
    let number = |field: &'static str, v: &Option<Value>| -> Result<Option<f64>, RowError> {
        match v {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(other) => Err((
                Some(field),
                "wrong_type",
                format!("`{field}` must be a number or null, found {}", kind(other)),
            )),
        }
    };
    let indicator = int("indicator", &row.indicator)?;
    if let Some(expected) = expected_indicator
        && indicator != expected
    {
        return Err((
            Some("indicator"),
            "wrong_dataset",
            format!(
                "indicator {indicator} does not belong to dataset `{}`",
                ctx.dataset
            ),
        ));
    }
    let region = int("region", &row.region)?;
    let year = int("year", &row.year)?;
    let year = plausible_year(year).ok_or_else(|| {
        (
            Some("year"),
            "out_of_range",
            format!("year {year} is not a plausible year"),
        )
    })?;
    if let Err(reason) = not_ahead(ctx, year) {
        return Err((Some("year"), "year_in_future", reason));
    }
    let sex = match &row.gender {
        Some(Value::String(g)) => Sex::parse(g).ok_or_else(|| {
            (
                Some("gender"),
                "unknown_code",
                format!("gender `{g}` is not total, male or female"),
            )
        })?,
        Some(other) => {
            return Err((
                Some("gender"),
                "wrong_type",
                format!("`gender` must be a string, found {}", kind(other)),
            ));
        }
        None => {
            return Err((
                Some("gender"),
                "missing_field",
                "`gender` is missing".to_owned(),
            ));
        }
    };
    let value = number("value", &row.value)?;
    let abs_value = number("absValue", &row.abs_value)?;
    Ok(observation(
        ctx,
        index,
        &Fields {
            indicator,
            region,
            year,
            sex,
            value,
            abs_value,
        },
    ))
}

/// The fields of a well-formed `/json` row.
struct Fields {
    indicator: i64,
    region: i64,
    year: i16,
    sex: Sex,
    value: Option<f64>,
    abs_value: Option<f64>,
}

/// The observation of the row at `index`.
fn observation(ctx: &DecodeContext, index: usize, f: &Fields) -> RawObservation {
    RawObservation {
        dataset: row_dataset(ctx, f.indicator),
        measure: f.indicator.to_string(),
        region: RegionId::Sotkanet(f.region),
        period: f.year.to_string(),
        year: f.year,
        sex: f.sex,
        age: "total".to_owned(),
        breakdown: String::new(),
        value: f.value,
        abs_value: f.abs_value,
        status: None,
        status_label: None,
        unit: ctx.unit.clone(),
        location: format!("{}#/{index}", ctx.file),
    }
}

/// A map that remembers the last key asked for: rows come in runs (one indicator per payload, a
/// region's years and sexes together), so most lookups need no hash.
struct Recent<K, V> {
    map: HashMap<K, V>,
    last: Option<(K, V)>,
}

impl<K: std::hash::Hash + Eq + Copy, V: Clone> Recent<K, V> {
    fn new() -> Self {
        Recent {
            map: HashMap::new(),
            last: None,
        }
    }

    fn get_or_insert_with(&mut self, key: K, f: impl FnOnce() -> V) -> V {
        if let Some((k, v)) = &self.last
            && *k == key
        {
            return v.clone();
        }
        let v = self.map.entry(key).or_insert_with(f).clone();
        self.last = Some((key, v.clone()));
        v
    }
}

/// Reads a `/json` response straight into `observations` columns with regions resolved (and
/// the rows whose region does not resolve quarantined, as the conform stage does), when every
/// row is well-formed, as THL's are: rows read in place (by `sotkanet_rows`), no string per row,
/// each distinct indicator, region, year and sex looked up once. `None` when any row is not (or
/// the payload is not JSON at all): the loose reader then decides.
fn typed_columns(
    bytes: &[u8],
    ctx: &DecodeContext,
    resolver: &RegionResolver<'_>,
    provenance: &Provenance<'_>,
) -> Option<(ObservationColumns, Vec<QuarantineEntry>)> {
    let expected_indicator = dataset_indicator(&ctx.dataset);
    let mut columns = ObservationColumns::default();
    let mut quarantine = Vec::new();
    let mut constant = |column, value| columns.code(column, value);
    let age = constant(Text::Age, Some("total"));
    let breakdown = constant(Text::Breakdown, Some(""));
    let unit = constant(Text::Unit, ctx.unit.as_deref());
    let raw_sha256 = constant(Text::RawSha256, Some(provenance.raw_sha256));
    let retrieved_at_micros = provenance.retrieved_at.timestamp_micros();
    // Per indicator: source, dataset, measure; per region id: code and level, or why not.
    let mut indicators: Recent<i64, [u32; 3]> = Recent::new();
    let mut regions: Recent<i64, Result<[u32; 2], (&'static str, String)>> = Recent::new();
    let mut periods: Recent<i16, u32> = Recent::new();
    let mut sexes: Recent<Sex, u32> = Recent::new();
    let mut index = 0;
    sotkanet_rows::each_row(bytes, |row| {
        let position = index;
        index += 1;
        let f = Fields {
            indicator: row.indicator,
            region: row.region,
            year: plausible_year(row.year).filter(|y| not_ahead(ctx, *y).is_ok())?,
            sex: Sex::parse(row.gender)?,
            value: row.value,
            abs_value: row.abs_value,
        };
        if expected_indicator.is_some_and(|e| e != f.indicator) {
            return None;
        }
        let region = regions.get_or_insert_with(f.region, || {
            resolver
                .resolve(&RegionId::Sotkanet(f.region))
                .map(|(code, level)| {
                    [
                        columns.code(Text::Region, Some(&code)),
                        columns.code(Text::RegionLevel, Some(level.as_str())),
                    ]
                })
        });
        let [region, region_level] = match region {
            Ok(codes) => codes,
            Err((rule, reason)) => {
                let row = observation(ctx, position, &f);
                quarantine.push(unresolved(&row, provenance, rule, reason));
                return Some(());
            }
        };
        let [source, dataset, measure] = indicators.get_or_insert_with(f.indicator, || {
            let dataset = row_dataset(ctx, f.indicator);
            [
                columns.code(
                    Text::Source,
                    Some(SourceKind::of_dataset(&dataset).as_str()),
                ),
                columns.code(Text::Dataset, Some(&dataset)),
                columns.code(Text::Measure, Some(&f.indicator.to_string())),
            ]
        });
        let period = periods.get_or_insert_with(f.year, || {
            columns.code(Text::Period, Some(&f.year.to_string()))
        });
        let sex = sexes.get_or_insert_with(f.sex, || columns.code(Text::Sex, Some(f.sex.as_str())));
        columns.push_coded(&CodedRow {
            text: [
                source,
                dataset,
                measure,
                region,
                region_level,
                period,
                sex,
                age,
                breakdown,
                NULL,
                NULL,
                unit,
                raw_sha256,
            ],
            year: f.year,
            value: f.value,
            abs_value: f.abs_value,
            retrieved_at_micros,
        });
        Some(())
    })?;
    Some((columns, quarantine))
}

fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Newlines in a byte slice (only used to name the line of an encoding error).
#[allow(clippy::naive_bytecount)] // An error path over one payload: not worth a dependency.
fn bytecount_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count()
}

const CSV_HEADER: [&str; 6] = [
    "indicator",
    "region",
    "year",
    "gender",
    "primary value",
    "absolute value",
];

/// Decodes a `/csv` response into `sink`.
pub fn decode_csv(
    bytes: &[u8],
    ctx: &DecodeContext,
    sink: &mut impl ObservationSink,
) -> Result<(), SourceError> {
    let malformed = |line: usize, message: String| SourceError::Malformed {
        path: ctx.file.clone().into(),
        location: format!("line {line}"),
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytecount_newlines(&bytes[..e.valid_up_to()]) + 1;
        malformed(line, "not UTF-8 text".to_owned())
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(malformed(1, format!("unreadable header: {e}"))),
        None => csv::StringRecord::new(),
    };
    let header: Vec<&str> = header.iter().map(str::trim).collect();
    if header != CSV_HEADER {
        return Err(malformed(
            1,
            format!(
                "expected the Sotkanet CSV header `{}`, found `{}`",
                CSV_HEADER.join(";"),
                header.join(";")
            ),
        ));
    }
    let expected_indicator = dataset_indicator(&ctx.dataset);
    let mut lines = crate::io::tabular::delimited::Lines::default();
    for record in records {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            malformed(
                usize::try_from(line).unwrap_or(usize::MAX),
                format!("unreadable row: {e}"),
            )
        })?;
        let line_no = lines.of_record(text.as_bytes(), &record);
        let fields: Vec<&str> = record.iter().collect();
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let handed = match csv_row(&fields, line_no, expected_indicator, ctx) {
            Ok(obs) => sink.row(obs),
            Err((column, rule, reason)) => sink.quarantine(ctx.quarantine(
                format!(
                    "{}:{line_no}{}",
                    ctx.file,
                    column.map(|c| format!(":{c}")).unwrap_or_default()
                ),
                rule,
                reason,
                fields.join(";"),
            )),
        };
        handed.map_err(|e| malformed(line_no, e))?;
    }
    Ok(())
}

type CsvError = (Option<usize>, &'static str, String);

fn csv_row(
    fields: &[&str],
    line_no: usize,
    expected_indicator: Option<i64>,
    ctx: &DecodeContext,
) -> Result<RawObservation, CsvError> {
    if fields.len() != CSV_HEADER.len() {
        return Err((
            None,
            "wrong_field_count",
            format!(
                "expected {} fields, found {}",
                CSV_HEADER.len(),
                fields.len()
            ),
        ));
    }
    // Column numbers are 1-based character positions of the field, as editors show them.
    let column = |idx: usize| {
        fields[..idx]
            .iter()
            .map(|f| f.chars().count() + 1)
            .sum::<usize>()
            + 1
    };
    let int = |idx: usize| -> Result<i64, CsvError> {
        fields[idx].trim().parse().map_err(|_| {
            (
                Some(column(idx)),
                "wrong_type",
                format!(
                    "`{}` must be an integer, found {:?}",
                    CSV_HEADER[idx], fields[idx]
                ),
            )
        })
    };
    let number = |idx: usize| -> Result<Option<f64>, CsvError> {
        let f = fields[idx].trim();
        if f.is_empty() {
            return Ok(None);
        }
        f.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| {
                (
                    Some(column(idx)),
                    "wrong_type",
                    format!(
                        "`{}` must be a number or empty, found {f:?}",
                        CSV_HEADER[idx]
                    ),
                )
            })
    };
    let indicator = int(0)?;
    if let Some(expected) = expected_indicator
        && indicator != expected
    {
        return Err((
            Some(1),
            "wrong_dataset",
            format!(
                "indicator {indicator} does not belong to dataset `{}`",
                ctx.dataset
            ),
        ));
    }
    let region = int(1)?;
    let year = int(2)?;
    let year = plausible_year(year).ok_or_else(|| {
        (
            Some(column(2)),
            "out_of_range",
            format!("year {year} is not a plausible year"),
        )
    })?;
    if let Err(reason) = not_ahead(ctx, year) {
        return Err((Some(column(2)), "year_in_future", reason));
    }
    let sex = Sex::parse(fields[3].trim()).ok_or_else(|| {
        (
            Some(column(3)),
            "unknown_code",
            format!("gender `{}` is not total, male or female", fields[3]),
        )
    })?;
    Ok(RawObservation {
        dataset: row_dataset(ctx, indicator),
        measure: indicator.to_string(),
        region: RegionId::Sotkanet(region),
        period: year.to_string(),
        year,
        sex,
        age: "total".to_owned(),
        breakdown: String::new(),
        value: number(4)?,
        abs_value: number(5)?,
        status: None,
        status_label: None,
        unit: ctx.unit.clone(),
        location: format!("{}:{line_no}", ctx.file),
    })
}

#[derive(Deserialize)]
struct RegionItem {
    id: i64,
    code: String,
    category: String,
}

/// Decodes a `/regions` response into id -> region.
pub fn decode_regions(
    bytes: &[u8],
    file: &str,
) -> Result<HashMap<i64, SotkanetRegion>, SourceError> {
    let items: Vec<RegionItem> =
        serde_json::from_slice(bytes).map_err(|e| SourceError::Malformed {
            path: file.into(),
            location: format!("line {}, column {}", e.line(), e.column()),
            message: format!("not a Sotkanet `/regions` array: {e}"),
        })?;
    let mut out = HashMap::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let code = item.code.trim();
        let digits = !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit());
        let region = match item.category.as_str() {
            "KUNTA" if digits && code.len() <= 3 => {
                SotkanetRegion::Canonical(format!("KU{code:0>3}"), Level::Municipality)
            }
            // Zero-padded to 2: whether Sotkanet writes "08" or "8" is not documented.
            "HYVINVOINTIALUE" if digits && code.len() <= 2 => {
                SotkanetRegion::Canonical(format!("HVA{code:0>2}"), Level::WellbeingCounty)
            }
            "MAA" => SotkanetRegion::Canonical(COUNTRY.to_owned(), Level::Country),
            "MAAKUNTA" if digits && code.len() <= 2 => {
                SotkanetRegion::Canonical(format!("MK{code:0>2}"), Level::Region)
            }
            // Sotkanet codes Åland's hospital district 22; Statistics Finland (and the
            // registry) 00.
            "SAIRAANHOITOPIIRI" if code == "22" => {
                SotkanetRegion::Canonical("SHP00".to_owned(), Level::HospitalDistrict)
            }
            "SAIRAANHOITOPIIRI" if digits && code.len() <= 2 => {
                SotkanetRegion::Canonical(format!("SHP{code:0>2}"), Level::HospitalDistrict)
            }
            "YTA" if digits && code.len() == 1 => {
                SotkanetRegion::Canonical(format!("YTA{code}"), Level::CollaborationArea)
            }
            "KUNTA" | "HYVINVOINTIALUE" | "MAAKUNTA" | "SAIRAANHOITOPIIRI" | "YTA" => {
                return Err(SourceError::Malformed {
                    path: file.into(),
                    location: format!("/{i}/code"),
                    message: format!("{} code {code:?} is not numeric", item.category),
                });
            }
            other => SotkanetRegion::OtherCategory(other.to_owned()),
        };
        out.insert(item.id, region);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(dataset: &str) -> DecodeContext {
        DecodeContext {
            source_id: "s".into(),
            dataset: dataset.into(),
            file: "f.json".into(),
            raw_sha256: "00".into(),
            unit: None,
            latest_year: None,
        }
    }

    /// Region ids resolved through the registry alone.
    fn registry_only(registry: &crate::model::regions::Registry) -> RegionResolver<'_> {
        RegionResolver {
            registry,
            sotkanet_regions: None,
        }
    }

    /// What a decoder hands over, kept as it comes (single rows not resolved).
    #[derive(Default)]
    struct Kept {
        rows: Vec<RawObservation>,
        columns: ObservationColumns,
        quarantine: Vec<QuarantineEntry>,
    }

    impl ObservationSink for Kept {
        fn batch(&mut self, _: super::super::jsonstat::columns::ArrowBatch) -> Result<(), String> {
            Err("Sotkanet decoders hand over no JSON-stat batches".into())
        }
        fn columns(&mut self, columns: ObservationColumns) -> Result<(), String> {
            self.columns.append(columns);
            Ok(())
        }
        fn row(&mut self, row: RawObservation) -> Result<(), String> {
            self.rows.push(row);
            Ok(())
        }
        fn quarantine(&mut self, entry: QuarantineEntry) -> Result<(), String> {
            self.quarantine.push(entry);
            Ok(())
        }
    }

    fn loose(json: &[u8], c: &DecodeContext) -> Result<Kept, SourceError> {
        let mut kept = Kept::default();
        decode_json_loose(json, c, &mut kept)?;
        Ok(kept)
    }

    fn csv(bytes: &[u8], c: &DecodeContext) -> Result<Kept, SourceError> {
        let mut kept = Kept::default();
        decode_csv(bytes, c, &mut kept)?;
        Ok(kept)
    }

    fn provenance() -> Provenance<'static> {
        Provenance {
            source_id: "s",
            raw_sha256: "00",
            retrieved_at: chrono::Utc::now(),
        }
    }

    /// The column path gives the loose path's observations (every column, in `observations`
    /// order) and the conform stage's quarantine: several indicators in one payload (dataset
    /// from each row), missing values, absent and present `absValue`, an id no registry knows.
    #[test]
    fn resolved_columns_equal_the_loose_rows_conformed() {
        use crate::model::regions::Registry;
        let json = br#"[{"indicator":127,"region":46,"year":2023,"gender":"total","value":674500},
            {"indicator":127,"region":20,"year":2023,"gender":"male","value":null},
            {"indicator":171,"region":959,"year":2022,"gender":"female","value":8.6,"absValue":12},
            {"indicator":171,"region":999999,"year":2022,"gender":"total","value":1.5},
            {"indicator":171,"region":46,"year":2024,"gender":"total","absValue":3,"extra":"x"}]"#;
        let registry = Registry::builtin().unwrap();
        let (resolver, provenance) = (registry_only(&registry), provenance());
        let c = ctx("");
        let mut conformed = super::super::Collect::new(&resolver, &provenance);
        decode_json_loose(json, &c, &mut conformed).unwrap();
        let loose = conformed.finish();
        let (columns, quarantine) = typed_columns(json, &c, &resolver, &provenance).unwrap();
        assert_eq!(quarantine, loose.quarantine);
        assert_eq!(quarantine.len(), 1, "the unknown id");
        let (a, b) = (
            loose.resolved.into_frame().unwrap(),
            columns.into_frame().unwrap(),
        );
        assert_eq!((a.height(), b.height()), (4, 4));
        for (x, y) in a.columns().iter().zip(b.columns()) {
            let same = x
                .as_materialized_series()
                .equals_missing(y.as_materialized_series());
            assert!(same, "column {} differs", x.name());
        }
    }

    /// Any row the loose path would quarantine sends the whole payload there.
    #[test]
    fn an_odd_row_leaves_the_column_path() {
        let registry = crate::model::regions::Registry::builtin().unwrap();
        let (resolver, provenance) = (registry_only(&registry), provenance());
        let good = r#"{"indicator":127,"region":46,"year":2023,"gender":"total","value":1}"#;
        for odd in [
            r#"{"indicator":127,"region":46,"year":2023,"gender":"total","value":"1"}"#,
            r#"{"indicator":127,"region":46,"year":2023,"gender":"both","value":1}"#,
            r#"{"indicator":127,"region":46,"year":1700,"gender":"total","value":1}"#,
            r#"{"indicator":171,"region":46,"year":2023,"gender":"total","value":1}"#,
            r#"{"indicator":127,"region":46,"gender":"total","value":1}"#,
            r#"{"indicator":127,"region":46.5,"year":2023,"gender":"total","value":1}"#,
        ] {
            let json = format!("[{good},{odd}]");
            let c = ctx("sotkanet:127");
            assert!(
                typed_columns(json.as_bytes(), &c, &resolver, &provenance).is_none(),
                "{odd}"
            );
            assert_eq!(
                loose(json.as_bytes(), &c).unwrap().quarantine.len(),
                1,
                "{odd}"
            );
        }
        assert!(typed_columns(b"[{", &ctx(""), &resolver, &provenance).is_none());
    }

    /// `decode_json` hands a payload as THL writes it over in columns, and one with an odd row
    /// to the loose reader: the good rows as rows, the odd one quarantined, nothing twice.
    #[test]
    fn decode_json_takes_the_loose_reader_for_an_odd_payload_only() {
        let registry = crate::model::regions::Registry::builtin().unwrap();
        let (resolver, provenance) = (registry_only(&registry), provenance());
        let c = ctx("sotkanet:127");
        let good = r#"{"indicator":127,"region":46,"year":2023,"gender":"total","value":1}"#;
        let odd = r#"{"indicator":127,"region":46,"year":2023,"gender":"total","value":"1"}"#;
        let mut kept = Kept::default();
        decode_json(
            format!("[{good},{good}]").as_bytes(),
            &c,
            &resolver,
            &provenance,
            &mut kept,
        )
        .unwrap();
        assert_eq!((kept.rows.len(), kept.quarantine.len()), (0, 0));
        assert_eq!(kept.columns.len(), 2);
        let mut kept = Kept::default();
        decode_json(
            format!("[{good},{odd},{good}]").as_bytes(),
            &c,
            &resolver,
            &provenance,
            &mut kept,
        )
        .unwrap();
        assert_eq!((kept.rows.len(), kept.quarantine.len()), (2, 1));
        assert!(kept.columns.is_empty());
        assert_eq!(kept.quarantine[0].location, "f.json#/1/value");
    }

    #[test]
    fn absent_abs_value_is_none_and_null_value_is_none() {
        let json = br#"[{"indicator":127,"region":46,"year":2023,"gender":"total","value":674500},
                        {"indicator":127,"region":20,"year":2023,"gender":"male","value":null}]"#;
        let d = loose(json, &ctx("sotkanet:127")).unwrap();
        assert_eq!(d.rows.len(), 2);
        assert_eq!(d.rows[0].value, Some(674_500.0));
        assert_eq!(d.rows[0].abs_value, None);
        assert_eq!(d.rows[1].value, None);
        assert_eq!(d.rows[1].sex, Sex::Male);
    }

    #[test]
    fn wrong_type_quarantines_row_with_pointer() {
        let json =
            br#"[{"indicator":127,"region":46,"year":2023,"gender":"total","value":"9646"}]"#;
        let d = loose(json, &ctx("sotkanet:127")).unwrap();
        assert!(d.rows.is_empty());
        let q = &d.quarantine[0];
        assert_eq!(q.location, "f.json#/0/value");
        assert_eq!(q.rule, "wrong_type");
        assert!(q.reason.contains("string \"9646\""), "{}", q.reason);
    }

    #[test]
    fn truncated_json_names_line_and_column() {
        let err = loose(b"[{\"indicator\":127,\n\"region\":4", &ctx("sotkanet:127"))
            .err()
            .unwrap();
        let SourceError::Malformed { location, .. } = err else {
            panic!()
        };
        assert_eq!(
            location, "line 2, column 10",
            "the input ends after `\"region\":4`"
        );
    }

    #[test]
    fn row_of_other_indicator_is_quarantined() {
        let json = br#"[{"indicator":171,"region":46,"year":2023,"gender":"total","value":8.6}]"#;
        let d = loose(json, &ctx("sotkanet:127")).unwrap();
        assert_eq!(d.quarantine[0].rule, "wrong_dataset");
    }

    #[test]
    fn csv_bad_number_names_line_and_column() {
        let text = b"indicator;region;year;gender;primary value;absolute value\r\n127;69;2009;total;24x6;\r\n";
        let d = csv(text, &ctx("sotkanet:127")).unwrap();
        assert_eq!(d.quarantine[0].location, "f.json:2:19");
        assert!(d.quarantine[0].reason.contains("24x6"));
    }

    #[test]
    fn csv_wrong_header_is_malformed() {
        let err = csv(b"a;b\r\n1;2\r\n", &ctx("sotkanet:127")).err().unwrap();
        assert!(
            err.to_string().contains("expected the Sotkanet CSV header"),
            "{err}"
        );
    }

    #[test]
    fn regions_map_categories() {
        let json = br#"[{"id":46,"code":"091","category":"KUNTA","title":{}},
                        {"id":959,"code":"12","category":"HYVINVOINTIALUE","title":{}},
                        {"id":962,"code":"8","category":"HYVINVOINTIALUE","title":{}},
                        {"id":658,"code":"358","category":"MAA","title":{}},
                        {"id":547,"code":"101","category":"SEUTUKUNTA","title":{}}]"#;
        let r = decode_regions(json, "r.json").unwrap();
        assert_eq!(
            r[&46],
            SotkanetRegion::Canonical("KU091".into(), Level::Municipality)
        );
        assert_eq!(
            r[&962],
            SotkanetRegion::Canonical("HVA08".into(), Level::WellbeingCounty)
        );
        assert_eq!(
            r[&658],
            SotkanetRegion::Canonical("SSS".into(), Level::Country)
        );
        assert_eq!(r[&547], SotkanetRegion::OtherCategory("SEUTUKUNTA".into()));
    }
}
