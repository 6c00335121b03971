//! Worksheets of a workbook as rows of cells, read with `calamine`: Excel's `.xlsx`, `.xlsm`,
//! `.xlsb` and the older binary `.xls`, and the `OpenDocument` `.ods` that `LibreOffice` writes, whichever the bytes are (the
//! format is recognised from the content, not the file name, because a region's files are often
//! renamed by hand).
//!
//! Cells keep what the workbook stores: text as text, numbers as numbers, and dates as dates
//! (an Excel cell whose number format is a date, an ODS date value), so that `1.3.2022` typed
//! into Excel reaches the survey and roadmap readers as a date, not as the serial number 44621.
//! Empty cells are left out. A sheet is found by name (ignoring case and surrounding spaces), or
//! is the first worksheet.

use std::io::Cursor;

use calamine::{Data, Reader};
use chrono::NaiveDateTime;

use super::{XCell, XRow};
use crate::error::SourceError;

fn malformed(file: &str, message: impl Into<String>) -> SourceError {
    SourceError::Malformed {
        path: file.into(),
        location: String::new(),
        message: format!(
            "not a readable workbook (.xlsx, .xls, .xlsb or .ods): {}",
            message.into()
        ),
    }
}

/// Reads the first worksheet.
pub fn first_sheet(bytes: &[u8], file: &str) -> Result<Vec<XRow>, SourceError> {
    sheet(bytes, file, None)
}

/// Reads the worksheet named `name` (or the first one), erring with the sheets there are.
pub fn sheet(bytes: &[u8], file: &str, name: Option<&str>) -> Result<Vec<XRow>, SourceError> {
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| malformed(file, e.to_string()))?;
    let names = book.sheet_names();
    let chosen = match name {
        None => names.first().cloned(),
        Some(n) => names
            .iter()
            .find(|s| s.trim().eq_ignore_ascii_case(n.trim()))
            .cloned(),
    };
    let Some(chosen) = chosen else {
        return Err(SourceError::Malformed {
            path: file.into(),
            location: String::new(),
            message: match name {
                Some(n) => format!("no sheet `{n}`; the workbook has: {}", names.join(", ")),
                None => "the workbook has no sheet".into(),
            },
        });
    };
    let range = book
        .worksheet_range(&chosen)
        .map_err(|e| malformed(file, format!("sheet `{chosen}`: {e}")))?;
    let (top, left) = range
        .start()
        .map_or((0, 0), |(r, c)| (r as usize, c as usize));
    let mut rows: Vec<XRow> = Vec::new();
    for (r, c, data) in range.used_cells() {
        let Some(cell) = cell_of(data) else {
            continue;
        };
        let (row, col) = (top + r + 1, left + c + 1);
        match rows.last_mut() {
            Some(last) if last.0 == row => last.1.push((col, cell)),
            _ => rows.push((row, vec![(col, cell)])),
        }
    }
    Ok(rows)
}

/// One stored value as a cell; `None` for an empty one.
fn cell_of(data: &Data) -> Option<XCell> {
    Some(match data {
        Data::Empty => return None,
        Data::String(s) | Data::DurationIso(s) => XCell::Text(s.clone()),
        #[allow(clippy::cast_precision_loss)] // Integers in a worksheet fit an f64 exactly.
        Data::Int(i) => XCell::Number(*i as f64),
        Data::Float(f) => XCell::Number(*f),
        Data::Bool(b) => XCell::Text(if *b { "TRUE" } else { "FALSE" }.into()),
        Data::DateTime(d) if d.is_datetime() => d
            .as_datetime()
            .map_or(XCell::Number(d.as_f64()), XCell::Date),
        // A duration: its number of days, as Excel stores it.
        Data::DateTime(d) => XCell::Number(d.as_f64()),
        Data::DateTimeIso(s) => iso_date(s).map_or_else(|| XCell::Text(s.clone()), XCell::Date),
        Data::Error(e) => XCell::Text(e.to_string()),
    })
}

/// An ODS date or date-time value (`2022-03-01`, `2022-03-01T09:30:00`).
fn iso_date(s: &str) -> Option<NaiveDateTime> {
    s.parse::<NaiveDateTime>().ok().or_else(|| {
        s.parse::<chrono::NaiveDate>()
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_workbook() {
        let err = first_sheet(b"Vuosi;Palveluluokka", "f.xlsx").unwrap_err();
        assert!(err.to_string().contains("not a readable workbook"), "{err}");
    }

    #[test]
    fn iso_dates_of_ods() {
        assert_eq!(
            iso_date("2022-03-01").map(|d| d.to_string()).as_deref(),
            Some("2022-03-01 00:00:00")
        );
        assert_eq!(
            iso_date("2022-03-01T09:30:00")
                .map(|d| d.to_string())
                .as_deref(),
            Some("2022-03-01 09:30:00")
        );
        assert_eq!(iso_date("maaliskuu"), None);
    }
}
