//! Delimited text (CSV) as rows of cells, read with the `csv` crate, and the text decoded from
//! whatever encoding the exporting program used, with `encoding_rs`.
//!
//! What real exports look like, and what is read:
//! - separators `;` (Finnish Excel's "CSV"), a tab (Excel's "Unicode text") or `,`: the first
//!   of these that the first line holds outside quotes;
//! - fields in double quotes may hold separators, quotes (`""`) and line breaks (a free-text
//!   answer, a service class with a line break in its name); a row's number is the line its
//!   record starts on;
//! - encodings: UTF-8 with or without a byte-order mark, UTF-16 (little- or big-endian, Excel's
//!   "Unicode text" is UTF-16LE with a byte-order mark), and Windows-1252 (Excel's "CSV" on
//!   Finnish Windows). `encoding = "auto"` follows a byte-order mark, recognises UTF-16 without
//!   one by its zero bytes, takes valid UTF-8 as UTF-8 and anything else as Windows-1252.

use serde::Deserialize;

use super::{XCell, XRow};
use crate::error::SourceError;

/// How the bytes of a file are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
pub enum Encoding {
    /// Decided from the bytes (see the module documentation).
    #[default]
    #[serde(rename = "auto")]
    Auto,
    /// UTF-8 (a byte-order mark is skipped).
    #[serde(rename = "utf-8")]
    Utf8,
    /// UTF-16, little-endian (a byte-order mark is skipped).
    #[serde(rename = "utf-16le")]
    Utf16Le,
    /// UTF-16, big-endian (a byte-order mark is skipped).
    #[serde(rename = "utf-16be")]
    Utf16Be,
    /// Windows-1252.
    #[serde(rename = "windows-1252")]
    Windows1252,
}

impl Encoding {
    /// The name used in pipeline files and messages.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Auto => "auto",
            Encoding::Utf8 => "utf-8",
            Encoding::Utf16Le => "utf-16le",
            Encoding::Utf16Be => "utf-16be",
            Encoding::Windows1252 => "windows-1252",
        }
    }

    fn codec(self) -> &'static encoding_rs::Encoding {
        match self {
            Encoding::Auto | Encoding::Utf8 => encoding_rs::UTF_8,
            Encoding::Utf16Le => encoding_rs::UTF_16LE,
            Encoding::Utf16Be => encoding_rs::UTF_16BE,
            Encoding::Windows1252 => encoding_rs::WINDOWS_1252,
        }
    }

    /// The encoding the bytes show by themselves: a byte-order mark, or UTF-16's zero bytes
    /// (text mostly in Latin letters has a zero in every other byte).
    fn sniff(bytes: &[u8]) -> Option<Encoding> {
        match encoding_rs::Encoding::for_bom(bytes) {
            Some((e, _)) if e == encoding_rs::UTF_16LE => return Some(Encoding::Utf16Le),
            Some((e, _)) if e == encoding_rs::UTF_16BE => return Some(Encoding::Utf16Be),
            Some(_) => return Some(Encoding::Utf8),
            None => {}
        }
        let head = &bytes[..bytes.len().min(512) & !1];
        let zeros = |parity: usize| {
            head.iter()
                .skip(parity)
                .step_by(2)
                .filter(|b| **b == 0)
                .count()
        };
        let pairs = head.len() / 2;
        if pairs >= 2 && zeros(1) * 10 >= pairs * 9 && zeros(0) == 0 {
            Some(Encoding::Utf16Le)
        } else if pairs >= 2 && zeros(0) * 10 >= pairs * 9 && zeros(1) == 0 {
            Some(Encoding::Utf16Be)
        } else {
            None
        }
    }
}

/// Decodes a file's bytes to text, as `encoding` says.
pub fn decode_text(bytes: &[u8], encoding: Encoding, file: &str) -> Result<String, SourceError> {
    let sniffed = Encoding::sniff(bytes);
    let chosen = match encoding {
        Encoding::Auto => match sniffed {
            Some(e) => e,
            None if std::str::from_utf8(bytes).is_ok() => Encoding::Utf8,
            None => Encoding::Windows1252,
        },
        declared => declared,
    };
    let malformed = |location: String, message: String| SourceError::Malformed {
        path: file.into(),
        location,
        message,
    };
    if let Some(seen) = sniffed.filter(|s| *s != chosen && encoding != Encoding::Auto) {
        return Err(malformed(
            "byte 0".into(),
            format!(
                "the file is {} but the pipeline declares `encoding = \"{}\"` (use \"{}\" or \"auto\")",
                seen.name(),
                chosen.name(),
                seen.name()
            ),
        ));
    }
    if chosen == Encoding::Utf8 {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        return std::str::from_utf8(body).map(str::to_owned).map_err(|e| {
            malformed(
                format!("byte {}", e.valid_up_to()),
                "not valid UTF-8 (declare `encoding = \"windows-1252\"` if the file is from Excel)"
                    .into(),
            )
        });
    }
    let (text, _, had_errors) = chosen.codec().decode(bytes);
    if had_errors {
        return Err(malformed(
            String::new(),
            format!("not valid {} text", chosen.name()),
        ));
    }
    Ok(text.into_owned())
}

/// The separator of a delimited file: the first of `;`, tab and `,` on its first line outside
/// quotes (`;` when the line holds none of them).
fn separator(text: &str) -> u8 {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut quoted = false;
    let mut seen = [false; 3];
    for c in first.chars() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => seen[0] = true,
            '\t' if !quoted => seen[1] = true,
            ',' if !quoted => seen[2] = true,
            _ => {}
        }
    }
    [b';', b'\t', b','][seen.iter().position(|s| *s).unwrap_or(0)]
}

/// Line numbers of records, from their byte offsets: the csv crate's own line count for a record
/// lags behind where the record starts (it counts the previous record's line break later), so
/// the line is counted here, once over the text, as records come in order. Used by every reader
/// of delimited text (here and Sotkanet's `/csv`).
#[derive(Debug, Default)]
pub struct Lines {
    at: usize,
    line: usize,
}

impl Lines {
    /// The 1-based line on which the record at byte `start` of `text` begins (line breaks
    /// before it, such as blank lines, are skipped).
    pub fn of(&mut self, text: &[u8], start: usize) -> usize {
        let mut start = start.min(text.len());
        while start < text.len() && matches!(text[start], b'\r' | b'\n') {
            start += 1;
        }
        if start < self.at {
            self.at = 0;
            self.line = 0;
        }
        #[allow(clippy::naive_bytecount)] // Each byte is counted once over the whole text.
        let breaks = text[self.at..start].iter().filter(|b| **b == b'\n').count();
        self.line += breaks;
        self.at = start;
        self.line + 1
    }

    /// The 1-based line on which `record`, read from `text`, begins.
    pub fn of_record(&mut self, text: &[u8], record: &csv::StringRecord) -> usize {
        let start = record
            .position()
            .map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
        self.of(text, start)
    }

    /// Where the last record asked about begins (after any line breaks before it).
    pub fn start(&self) -> usize {
        self.at
    }
}

/// Reads delimited text into rows of text cells; blank lines are skipped. A quote left open or
/// another unreadable record is an error naming the line.
pub fn delimited_rows(text: &str, file: &str) -> Result<Vec<XRow>, SourceError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator(text))
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut lines = Lines::default();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = lines.of_record(text.as_bytes(), &record);
                let cells = record
                    .iter()
                    .enumerate()
                    .map(|(k, f)| (k + 1, XCell::Text(f.to_owned())))
                    .collect();
                rows.push((line, cells));
            }
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                return Err(SourceError::Malformed {
                    path: file.into(),
                    location: format!("line {line}"),
                    message: format!("not readable as delimited text: {e}"),
                });
            }
        }
    }
    // The csv crate reads a quote left open to the end of the file as one field: the last
    // record then holds an odd number of quotes.
    let last = text.get(lines.start()..).unwrap_or_default();
    if last.matches('"').count() % 2 == 1 {
        let line = rows.last().map_or(1, |r| r.0);
        return Err(SourceError::Malformed {
            path: file.into(),
            location: format!("line {line}"),
            message: "a quoted field is not closed before the end of the file".into(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(rows: &[XRow]) -> Vec<(usize, Vec<String>)> {
        rows.iter()
            .map(|(n, c)| (*n, c.iter().map(|(_, v)| v.raw_text()).collect()))
            .collect()
    }

    #[test]
    fn quoted_separators_and_line_breaks() {
        let text = "Vuosi;Palveluluokka;Kustannukset\r\n2024;\"Kotihoito;\nyö\";\"1 234,5\"\r\n\r\n2023;\"Sanoi \"\"hei\"\"\";5\r\n";
        let rows = delimited_rows(text, "f.csv").unwrap();
        assert_eq!(
            texts(&rows),
            vec![
                (
                    1,
                    vec![
                        "Vuosi".into(),
                        "Palveluluokka".into(),
                        "Kustannukset".into()
                    ]
                ),
                (
                    2,
                    vec!["2024".into(), "Kotihoito;\nyö".into(), "1 234,5".into()]
                ),
                (5, vec!["2023".into(), "Sanoi \"hei\"".into(), "5".into()]),
            ]
        );
    }

    #[test]
    fn separators_by_the_first_line() {
        assert_eq!(separator("a;b,c\n"), b';');
        assert_eq!(separator("a\tb,c\n"), b'\t');
        assert_eq!(separator("a,b\n"), b',');
        assert_eq!(separator("\"a;b\",c\n"), b',');
        assert_eq!(separator("yksi\n"), b';');
    }

    #[test]
    fn an_unclosed_quote_names_its_line() {
        let err = delimited_rows("a;b\n1;\"open\n2;3\n", "f.csv").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    fn utf16le(text: &str, bom: bool) -> Vec<u8> {
        let mut out = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
        out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        out
    }

    #[test]
    fn encodings() {
        let text = "Vuosi\tPalveluluokka\r\n2024\tIkääntyneiden kotihoito €\r\n";
        for bytes in [utf16le(text, true), utf16le(text, false)] {
            assert_eq!(decode_text(&bytes, Encoding::Auto, "f").unwrap(), text);
        }
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode_text(&be, Encoding::Auto, "f").unwrap(), text);
        let bom8 = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        assert_eq!(decode_text(&bom8, Encoding::Auto, "f").unwrap(), text);
        let cp1252 = b"Ik\xe4\xe4ntyneet \x80";
        assert_eq!(
            decode_text(cp1252, Encoding::Auto, "f").unwrap(),
            "Ikääntyneet €"
        );
        // A declared encoding that the bytes contradict names both.
        let err = decode_text(&utf16le(text, true), Encoding::Utf8, "f").unwrap_err();
        assert!(err.to_string().contains("utf-16le"), "{err}");
        let err = decode_text(cp1252, Encoding::Utf8, "f").unwrap_err();
        assert!(err.to_string().contains("byte 2"), "{err}");
    }
}
