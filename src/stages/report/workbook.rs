//! The Excel workbook for the people who work on the figures, written with `rust_xlsxwriter`
//! (a maintained XLSX writer with native charts, number formats, frozen panes and filters):
//! a sheet per decision-maker table with Finnish headers, region names and units, and a sheet of
//! native line charts for the headline series.

use std::collections::BTreeSet;

use polars::prelude::DataFrame;
use rust_xlsxwriter::{Chart, ChartType, Format, Workbook, Worksheet, XlsxError};

use super::model::{Indicators, nums, strs};
use super::numbers::{Lang, decimals_for};
use super::{ReportInput, region_name};
use crate::error::InternalError;
use crate::model::regions::COUNTRY;

fn xlsx(e: &XlsxError) -> InternalError {
    InternalError::Invariant(format!("writing the report workbook: {e}"))
}

/// A column of a sheet: its header and how a row's cell is read.
enum Cell {
    Text(Vec<Option<String>>),
    Number(Vec<Option<f64>>, usize),
}

/// Writes `columns` under `headers` as a sheet with a bold frozen header row and filters.
fn sheet(
    ws: &mut Worksheet,
    name: &str,
    headers: &[String],
    columns: &[Cell],
    rows: &[usize],
) -> Result<(), XlsxError> {
    ws.set_name(name)?;
    let bold = Format::new().set_bold().set_text_wrap();
    let formats = [
        Format::new().set_num_format("#,##0"),
        Format::new().set_num_format("#,##0.0"),
        Format::new().set_num_format("#,##0.00"),
    ];
    for (c, h) in headers.iter().enumerate() {
        let col = u16::try_from(c).unwrap_or(u16::MAX);
        ws.write_string_with_format(0, col, h, &bold)?;
        ws.set_column_width(col, if c == 0 { 28 } else { 16 })?;
    }
    for (r, &i) in rows.iter().enumerate() {
        let row = u32::try_from(r + 1).unwrap_or(u32::MAX);
        for (c, column) in columns.iter().enumerate() {
            let col = u16::try_from(c).unwrap_or(u16::MAX);
            match column {
                Cell::Text(v) => {
                    if let Some(t) = &v[i] {
                        ws.write_string(row, col, t)?;
                    }
                }
                Cell::Number(v, d) => {
                    if let Some(x) = v[i] {
                        ws.write_number_with_format(row, col, x, &formats[(*d).min(2)])?;
                    }
                }
            }
        }
    }
    ws.set_freeze_panes(1, 0)?;
    let last_row = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    let last_col = u16::try_from(headers.len().saturating_sub(1)).unwrap_or(u16::MAX);
    ws.autofilter(0, 0, last_row.max(1), last_col)?;
    Ok(())
}

/// Where a column of a fixed sheet comes from.
enum Source {
    /// The region's Finnish name.
    RegionName,
    /// The indicator's Finnish title and unit.
    IndicatorHeader,
    /// A text column.
    Text(&'static str),
    /// A number column, shown with this many decimals.
    Number(&'static str, usize),
}

/// A sheet whose columns do not depend on the run: the table, the sheet's name, and each column's
/// Finnish header and source, in order.
type FixedSheet = (
    &'static str,
    &'static str,
    &'static [(&'static str, Source)],
);

/// The sheets of fixed columns, after the profile.
const FIXED: [FixedSheet; 4] = [
    (
        "comparisons",
        "Vertailut",
        &[
            ("Indikaattori", Source::IndicatorHeader),
            ("Alue", Source::RegionName),
            ("Aluekoodi", Source::Text("region")),
            ("Vuosi", Source::Number("year", 0)),
            ("Arvo", Source::Number("value", 1)),
            (
                "Indeksi (koko maa = 100)",
                Source::Number("index_country", 0),
            ),
            (
                "Vertailualueiden mediaani",
                Source::Number("peer_median", 1),
            ),
            ("Paras neljännes", Source::Number("peer_best_quartile", 1)),
            ("Ero mediaaniin", Source::Number("diff_to_peer_median", 1)),
            (
                "Tarvevakioitu arvo",
                Source::Number("needs_adjusted_value", 0),
            ),
        ],
    ),
    (
        "kpa",
        "KPA",
        &[
            ("Alue", Source::RegionName),
            ("Vuosi", Source::Number("year", 0)),
            ("Palveluluokka", Source::Text("service_class")),
            (
                "Kustannus / asiakas, €",
                Source::Number("cost_per_client", 0),
            ),
            (
                "Kustannus / asiakas, € (reaalinen)",
                Source::Number("cost_per_client_real", 0),
            ),
            ("Asiakkaat", Source::Number("clients", 0)),
            (
                "Asiakkaat / 1 000 asukasta",
                Source::Number("clients_per_1000", 1),
            ),
            (
                "Kustannus / asukas, €",
                Source::Number("cost_per_capita", 0),
            ),
            ("Huomiot", Source::Text("flags")),
        ],
    ),
    (
        "maturity_dimension_scores",
        "Kypsyys",
        &[
            ("Alue", Source::RegionName),
            ("Kierros", Source::Text("round")),
            ("Ulottuvuus", Source::Text("dimension_id")),
            ("Nimi", Source::Text("name_fi")),
            ("Kyselyn pistemäärä", Source::Number("survey_score", 2)),
            ("Yhdistetty pistemäärä", Source::Number("final_score", 2)),
            ("Taso", Source::Number("final_level", 0)),
            ("Luotettavuus", Source::Text("reliability")),
            ("Vastaajia", Source::Number("n", 0)),
            ("Huomiot", Source::Text("flags")),
        ],
    ),
    (
        "roadmap_progress",
        "Tiekartta",
        &[
            ("Alue", Source::RegionName),
            ("Ulottuvuus", Source::Text("dimension_id")),
            ("Välitavoitteet", Source::Number("milestones", 0)),
            ("Valmiit", Source::Number("done", 0)),
            ("Aikatauluindeksi (SPI)", Source::Number("spi", 2)),
            ("Kuilusta kurottu, %", Source::Number("gap_closed_pct", 1)),
            ("Ennustettu vuosi", Source::Number("projected_year", 0)),
            ("Tilanne (RAG)", Source::Text("rag")),
        ],
    ),
];

/// The rows of `df` whose `region` is one of `regions`.
fn rows_for(df: &DataFrame, regions: &BTreeSet<String>) -> Result<Vec<usize>, InternalError> {
    let r = strs(df, "region")?;
    Ok((0..df.height())
        .filter(|i| r[*i].as_ref().is_some_and(|x| regions.contains(x)))
        .collect())
}

/// The workbook's bytes.
pub(super) fn workbook(
    input: &ReportInput<'_>,
    data: &Indicators,
) -> Result<Vec<u8>, InternalError> {
    let mut wb = Workbook::new();
    let regions: BTreeSet<String> = input
        .focus
        .iter()
        .chain(input.peers)
        .cloned()
        .chain([COUNTRY.to_owned()])
        .collect();
    let names = |df: &DataFrame| -> Result<Vec<Option<String>>, InternalError> {
        Ok(strs(df, "region")?
            .into_iter()
            .map(|r| r.map(|r| region_name(input.registry, &r, Lang::Fi)))
            .collect())
    };
    // Profile: a row per region and year, a column per indicator.
    if let Some(df) = input.tables.get("region_profile") {
        let rows = rows_for(df, &regions)?;
        let mut headers = vec![
            "Alue".to_owned(),
            "Aluekoodi".to_owned(),
            "Vuosi".to_owned(),
        ];
        let mut cols = vec![
            Cell::Text(names(df)?),
            Cell::Text(strs(df, "region")?),
            Cell::Number(nums(df, "year")?, 0),
        ];
        for c in df.get_column_names().iter().skip(2) {
            let id = c.as_str();
            headers.push(data.header_fi(id));
            cols.push(Cell::Number(nums(df, id)?, decimals_for(data.unit_of(id))));
        }
        sheet(wb.add_worksheet(), "Profiili", &headers, &cols, &rows).map_err(|e| xlsx(&e))?;
    }
    // The sheets of fixed columns, as `FIXED` lists them.
    for (table, name, columns) in FIXED {
        let Some(df) = input.tables.get(table) else {
            continue;
        };
        let rows = rows_for(df, &regions)?;
        let headers: Vec<String> = columns.iter().map(|(h, _)| (*h).to_owned()).collect();
        let cols = columns
            .iter()
            .map(|(_, from)| {
                Ok(match from {
                    Source::RegionName => Cell::Text(names(df)?),
                    Source::IndicatorHeader => Cell::Text(
                        strs(df, "indicator")?
                            .into_iter()
                            .map(|i| i.map(|id| data.header_fi(&id)))
                            .collect(),
                    ),
                    Source::Text(c) => Cell::Text(strs(df, c)?),
                    Source::Number(c, d) => Cell::Number(nums(df, c)?, *d),
                })
            })
            .collect::<Result<Vec<_>, InternalError>>()?;
        sheet(wb.add_worksheet(), name, &headers, &cols, &rows).map_err(|e| xlsx(&e))?;
    }
    charts_sheet(&mut wb, input, data).map_err(|e| xlsx(&e))?;
    wb.save_to_buffer().map_err(|e| xlsx(&e))
}

/// The headline series (a table per indicator: years down, the focus regions and the country
/// across) with a native line chart of each.
fn charts_sheet(
    wb: &mut Workbook,
    input: &ReportInput<'_>,
    data: &Indicators,
) -> Result<(), XlsxError> {
    let candidates = [
        "population_31_12",
        "population",
        "share_aged_75plus",
        "share_75plus",
        input.need_indicator.unwrap_or("national_health_index"),
        "sote_net_cost_per_capita",
        "county_net_cost_per_capita_total",
    ];
    let regions: Vec<String> = input
        .focus
        .iter()
        .cloned()
        .chain([COUNTRY.to_owned()])
        .collect();
    let years: Vec<i16> = data.years.iter().copied().collect();
    let ws = wb.add_worksheet();
    ws.set_name("Kaaviot")?;
    let bold = Format::new().set_bold();
    let mut top: u32 = 0;
    let mut charts = Vec::new();
    for id in candidates
        .iter()
        .filter(|id| data.values.contains_key(**id))
    {
        let meta = data.meta.get(*id);
        let name = meta.map_or_else(
            || (*id).to_owned(),
            |m| format!("{} ({})", m.title_fi, m.unit),
        );
        ws.write_string_with_format(top, 0, &name, &bold)?;
        ws.write_string_with_format(top + 1, 0, "Vuosi", &bold)?;
        for (c, r) in regions.iter().enumerate() {
            let col = u16::try_from(c + 1).unwrap_or(u16::MAX);
            ws.write_string_with_format(
                top + 1,
                col,
                region_name(input.registry, r, Lang::Fi),
                &bold,
            )?;
            for (k, y) in years.iter().enumerate() {
                let row = top + 2 + u32::try_from(k).unwrap_or(0);
                ws.write_number(row, 0, f64::from(*y))?;
                if let Some(v) = data
                    .series(id, r)
                    .and_then(|m| m.get(y))
                    .and_then(|p| p.value)
                {
                    ws.write_number(row, col, v)?;
                }
            }
        }
        let first = top + 2;
        let last = first + u32::try_from(years.len().saturating_sub(1)).unwrap_or(0);
        let mut chart = Chart::new(ChartType::Line);
        chart.title().set_name(&name);
        for c in 0..regions.len() {
            let col = u16::try_from(c + 1).unwrap_or(u16::MAX);
            chart
                .add_series()
                .set_name(("Kaaviot", top + 1, col))
                .set_categories(("Kaaviot", first, 0, last, 0))
                .set_values(("Kaaviot", first, col, last, col));
        }
        charts.push((top, chart));
        top = last + 3;
    }
    for (row, chart) in &charts {
        ws.insert_chart(*row, 6, chart)?;
    }
    ws.set_column_width(0, 34)?;
    Ok(())
}
