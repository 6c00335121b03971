//! Tabular files as rows of cells, whatever made them: workbooks ([`workbook`], with `calamine`)
//! and delimited text ([`delimited`], with the `csv` crate, decoded with `encoding_rs`).
//!
//! Both give the same shape, [`XRow`]: a row's 1-based number in the file (for text, the line
//! on which the record starts; a quoted field may span lines) and its non-empty cells by 1-based
//! column (for text, the field's number). Readers of a region's own files (KPA, surveys,
//! roadmaps, price indices) work on that shape alone, so a workbook and a CSV export of it read
//! the same, and every message can say `file:row:column`. The one writer here,
//! [`excel_fi_writer`], writes the CSV files mittari makes for people in Finnish Excel's dialect.

pub mod delimited;
pub mod workbook;

pub use delimited::{Encoding, decode_text, delimited_rows};

use chrono::NaiveDateTime;

use crate::error::SourceError;

/// A cell's stored value.
#[derive(Debug, Clone, PartialEq)]
pub enum XCell {
    /// Text.
    Text(String),
    /// A number.
    Number(f64),
    /// A date (or date and time) that the workbook stores as one.
    Date(NaiveDateTime),
}

/// A row: its 1-based number and its cells by 1-based column.
pub type XRow = (usize, Vec<(usize, XCell)>);

impl XCell {
    /// The cell as text, as stored (a number as Rust writes it, a date as ISO 8601).
    pub fn raw_text(&self) -> String {
        match self {
            XCell::Text(t) => t.clone(),
            XCell::Number(n) => n.to_string(),
            XCell::Date(d) => iso(d),
        }
    }

    /// The cell as trimmed text (a number as Rust writes it, a date as ISO 8601).
    pub fn text(&self) -> String {
        match self {
            XCell::Text(t) => t.trim().to_owned(),
            XCell::Number(n) => n.to_string(),
            XCell::Date(d) => iso(d),
        }
    }
}

/// `2022-03-01`, or `2022-03-01T09:30:00` when there is a time of day.
fn iso(d: &NaiveDateTime) -> String {
    if d.time() == chrono::NaiveTime::MIN {
        d.date().format("%Y-%m-%d").to_string()
    } else {
        d.format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}

/// A sheet's first row with a non-empty cell (its header) and the non-empty rows after it; an
/// error naming the file when there is none.
pub fn header_and_rows<'a>(
    rows: &'a [XRow],
    file: &str,
) -> Result<(&'a XRow, impl Iterator<Item = &'a XRow>), SourceError> {
    let mut rows = rows
        .iter()
        .filter(|(_, c)| c.iter().any(|(_, v)| !v.text().is_empty()));
    let header = rows.next().ok_or_else(|| SourceError::Malformed {
        path: file.into(),
        location: "line 1".into(),
        message: "empty".into(),
    })?;
    Ok((header, rows))
}

/// The rows of a region's file, whether a workbook or delimited text: a workbook's first sheet
/// (or the one named), else the text decoded as `encoding` says.
pub fn rows_of(
    bytes: &[u8],
    file: &str,
    encoding: Encoding,
    sheet: Option<&str>,
) -> Result<Vec<XRow>, SourceError> {
    if is_workbook(bytes) {
        workbook::sheet(bytes, file, sheet)
    } else {
        text_rows(bytes, file, encoding)
    }
}

/// The rows of delimited text, decoded as `encoding` says.
pub fn text_rows(bytes: &[u8], file: &str, encoding: Encoding) -> Result<Vec<XRow>, SourceError> {
    delimited_rows(&decode_text(bytes, encoding, file)?, file)
}

/// Whether the bytes are a workbook: a ZIP container (`.xlsx`, `.xlsb`, `.ods`) or an OLE
/// compound file (the old binary `.xls`).
pub fn is_workbook(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")
}

/// A CSV writer into memory in Finnish Excel's dialect: `;` between fields, CRLF line ends, and
/// a UTF-8 byte-order mark first, so that Excel opens the file with `ä` and `ö` intact. Decimal
/// commas are the caller's to write (the `csv` crate writes text as given).
pub fn excel_fi_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(vec![0xEF, 0xBB, 0xBF])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_iso() {
        let d = chrono::NaiveDate::from_ymd_opt(2022, 3, 1).unwrap();
        assert_eq!(
            XCell::Date(d.and_hms_opt(0, 0, 0).unwrap()).text(),
            "2022-03-01"
        );
        assert_eq!(
            XCell::Date(d.and_hms_opt(9, 30, 0).unwrap()).text(),
            "2022-03-01T09:30:00"
        );
    }

    #[test]
    fn workbooks_are_recognised_by_content() {
        assert!(is_workbook(b"PK\x03\x04rest"));
        assert!(is_workbook(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest"));
        assert!(!is_workbook(b"Vuosi;Palveluluokka"));
    }
}
