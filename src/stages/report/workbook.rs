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
    let title = |id: &str| {
        data.meta.get(id).map_or_else(
            || id.to_owned(),
            |m| {
                let t = if m.title_fi.is_empty() {
                    id
                } else {
                    &m.title_fi
                };
                format!("{t} ({})", m.unit)
            },
        )
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
            let unit = data
                .meta
                .get(id)
                .map(|m| m.unit.clone())
                .unwrap_or_default();
            headers.push(title(id));
            cols.push(Cell::Number(nums(df, id)?, decimals_for(&unit)));
        }
        sheet(wb.add_worksheet(), "Profiili", &headers, &cols, &rows).map_err(|e| xlsx(&e))?;
    }
    if let Some(df) = input.tables.get("comparisons") {
        let rows = rows_for(df, &regions)?;
        let ids = strs(df, "indicator")?;
        let titles: Vec<Option<String>> = ids.iter().map(|i| i.as_deref().map(title)).collect();
        let headers: Vec<String> = [
            "Indikaattori",
            "Alue",
            "Aluekoodi",
            "Vuosi",
            "Arvo",
            "Indeksi (koko maa = 100)",
            "Vertailualueiden mediaani",
            "Paras neljännes",
            "Ero mediaaniin",
            "Tarvevakioitu arvo",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let cols = vec![
            Cell::Text(titles),
            Cell::Text(names(df)?),
            Cell::Text(strs(df, "region")?),
            Cell::Number(nums(df, "year")?, 0),
            Cell::Number(nums(df, "value")?, 1),
            Cell::Number(nums(df, "index_country")?, 0),
            Cell::Number(nums(df, "peer_median")?, 1),
            Cell::Number(nums(df, "peer_best_quartile")?, 1),
            Cell::Number(nums(df, "diff_to_peer_median")?, 1),
            Cell::Number(nums(df, "needs_adjusted_value")?, 0),
        ];
        sheet(wb.add_worksheet(), "Vertailut", &headers, &cols, &rows).map_err(|e| xlsx(&e))?;
    }
    if let Some(df) = input.tables.get("kpa") {
        let rows = rows_for(df, &regions)?;
        let headers: Vec<String> = [
            "Alue",
            "Vuosi",
            "Palveluluokka",
            "Kustannus / asiakas, €",
            "Kustannus / asiakas, € (reaalinen)",
            "Asiakkaat",
            "Asiakkaat / 1 000 asukasta",
            "Kustannus / asukas, €",
            "Huomiot",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let cols = vec![
            Cell::Text(names(df)?),
            Cell::Number(nums(df, "year")?, 0),
            Cell::Text(strs(df, "service_class")?),
            Cell::Number(nums(df, "cost_per_client")?, 0),
            Cell::Number(nums(df, "cost_per_client_real")?, 0),
            Cell::Number(nums(df, "clients")?, 0),
            Cell::Number(nums(df, "clients_per_1000")?, 1),
            Cell::Number(nums(df, "cost_per_capita")?, 0),
            Cell::Text(strs(df, "flags")?),
        ];
        sheet(wb.add_worksheet(), "KPA", &headers, &cols, &rows).map_err(|e| xlsx(&e))?;
    }
    if let Some(df) = input.tables.get("maturity_dimension_scores") {
        let rows = rows_for(df, &regions)?;
        let headers: Vec<String> = [
            "Alue",
            "Kierros",
            "Ulottuvuus",
            "Nimi",
            "Kyselyn pistemäärä",
            "Yhdistetty pistemäärä",
            "Taso",
            "Luotettavuus",
            "Vastaajia",
            "Huomiot",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let cols = vec![
            Cell::Text(names(df)?),
            Cell::Text(strs(df, "round")?),
            Cell::Text(strs(df, "dimension_id")?),
            Cell::Text(strs(df, "name_fi")?),
            Cell::Number(nums(df, "survey_score")?, 2),
            Cell::Number(nums(df, "final_score")?, 2),
            Cell::Number(nums(df, "final_level")?, 0),
            Cell::Text(strs(df, "reliability")?),
            Cell::Number(nums(df, "n")?, 0),
            Cell::Text(strs(df, "flags")?),
        ];
        sheet(wb.add_worksheet(), "Kypsyys", &headers, &cols, &rows).map_err(|e| xlsx(&e))?;
    }
    if let Some(df) = input.tables.get("roadmap_progress") {
        let rows = rows_for(df, &regions)?;
        let headers: Vec<String> = [
            "Alue",
            "Ulottuvuus",
            "Välitavoitteet",
            "Valmiit",
            "Aikatauluindeksi (SPI)",
            "Kuilusta kurottu, %",
            "Ennustettu vuosi",
            "Tilanne (RAG)",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let cols = vec![
            Cell::Text(names(df)?),
            Cell::Text(strs(df, "dimension_id")?),
            Cell::Number(nums(df, "milestones")?, 0),
            Cell::Number(nums(df, "done")?, 0),
            Cell::Number(nums(df, "spi")?, 2),
            Cell::Number(nums(df, "gap_closed_pct")?, 1),
            Cell::Number(nums(df, "projected_year")?, 0),
            Cell::Text(strs(df, "rag")?),
        ];
        sheet(wb.add_worksheet(), "Tiekartta", &headers, &cols, &rows).map_err(|e| xlsx(&e))?;
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
