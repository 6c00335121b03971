//! A region's own files: cost and client figures (KPA) as CSV from a finance or client system.
//!
//! What real exports look like, and what is accepted:
//! - `;` separated, fields optionally in double quotes (`""` inside for a quote);
//! - UTF-8 (with or without a byte-order mark) or Windows-1252 (`encoding = "auto"` decides by
//!   whether the bytes are valid UTF-8; `utf-8` or `windows-1252` force one);
//! - Finnish headers, matched without regard to case, spaces or a trailing `€`/`(€)`/`eur`:
//!   `Vuosi`, `Palveluluokka`, `Kustannukset €`, `Asiakkaat` (or `Asiakasmäärä`) and optionally
//!   `Suoritteet` with `Suoriteyksikkö` (service units and their name);
//! - numbers with a decimal comma, spaces (also no-break spaces) between thousands and an
//!   optional `€`: `1 234 567,89 €`. An empty cell is missing, never 0.
//!
//! A cell that is not a number is quarantined with `file:line:column`; a file without the
//! required headers is an error naming the header line and what was found.

use crate::error::SourceError;
use crate::normalize::QuarantineEntry;
use crate::normalize::xlsx::{XCell, XRow};

/// One row of a KPA file.
#[derive(Debug, Clone, PartialEq)]
pub struct KpaRow {
    /// 1-based line in the file.
    pub line: usize,
    /// Year.
    pub year: i16,
    /// Service class as written (e.g. `Ikääntyneiden kotihoito`).
    pub service_class: String,
    /// Costs in euros (missing when empty).
    pub costs: Option<f64>,
    /// Clients (missing when empty).
    pub clients: Option<f64>,
    /// Service units (visits, days ...), when given.
    pub units: Option<f64>,
    /// The units' name, when given.
    pub unit_name: Option<String>,
}

/// How the bytes of a file are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// UTF-8 when the bytes are valid UTF-8, else Windows-1252.
    #[default]
    Auto,
    /// UTF-8 (a byte-order mark is skipped).
    #[serde(rename = "utf-8")]
    Utf8,
    /// Windows-1252 (Excel's "CSV" on Finnish Windows).
    #[serde(rename = "windows-1252")]
    Windows1252,
}

/// Windows-1252's characters for bytes 0x80..=0x9F (the rest of 0x80..=0xFF is Latin-1);
/// `None` where the code page leaves a byte undefined.
const CP1252_80_9F: [Option<char>; 32] = [
    Some('€'),
    None,
    Some('‚'),
    Some('ƒ'),
    Some('„'),
    Some('…'),
    Some('†'),
    Some('‡'),
    Some('ˆ'),
    Some('‰'),
    Some('Š'),
    Some('‹'),
    Some('Œ'),
    None,
    Some('Ž'),
    None,
    None,
    Some('‘'),
    Some('’'),
    Some('“'),
    Some('”'),
    Some('•'),
    Some('–'),
    Some('—'),
    Some('˜'),
    Some('™'),
    Some('š'),
    Some('›'),
    Some('œ'),
    None,
    Some('ž'),
    Some('Ÿ'),
];

/// Decodes a file's bytes to text.
pub fn decode_text(bytes: &[u8], encoding: Encoding, file: &str) -> Result<String, SourceError> {
    let utf8 = |b: &[u8]| {
        std::str::from_utf8(b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b)).map(str::to_owned)
    };
    match encoding {
        Encoding::Utf8 => utf8(bytes).map_err(|e| SourceError::Malformed {
            path: file.into(),
            location: format!("byte {}", e.valid_up_to()),
            message:
                "not valid UTF-8 (declare `encoding = \"windows-1252\"` if the file is from Excel)"
                    .into(),
        }),
        Encoding::Auto if utf8(bytes).is_ok() => utf8(bytes).map_err(|_| SourceError::Malformed {
            path: file.into(),
            location: String::new(),
            message: "not valid UTF-8".into(),
        }),
        Encoding::Auto | Encoding::Windows1252 => bytes
            .iter()
            .enumerate()
            .map(|(i, b)| match b {
                0x80..=0x9F => {
                    CP1252_80_9F[usize::from(b - 0x80)].ok_or_else(|| SourceError::Malformed {
                        path: file.into(),
                        location: format!("byte {i}"),
                        message: format!("byte 0x{b:02X} is undefined in Windows-1252"),
                    })
                }
                _ => Ok(char::from(*b)),
            })
            .collect(),
    }
}

/// Reads a number written the Finnish way: `1 234,5`, `-12,00 €`, `1234`. `Ok(None)` for an
/// empty cell.
pub fn parse_fi_number(cell: &str) -> Result<Option<f64>, String> {
    let t: String = cell
        .trim()
        .trim_end_matches('€')
        .trim_end()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .collect();
    if t.is_empty() {
        return Ok(None);
    }
    let ok = t
        .bytes()
        .enumerate()
        .all(|(i, b)| b.is_ascii_digit() || b == b',' || (b == b'-' && i == 0))
        && t.matches(',').count() <= 1
        && t.bytes().any(|b| b.is_ascii_digit())
        && !t.ends_with(',');
    if !ok {
        return Err(format!(
            "`{}` is not a number (expected e.g. `1 234,56`)",
            cell.trim()
        ));
    }
    t.replace(',', ".")
        .parse::<f64>()
        .map(Some)
        .map_err(|e| format!("`{}` is not a number: {e}", cell.trim()))
}

/// Splits a line at `;` outside double quotes; returns each field with its 1-based column.
fn split_fields(line: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut start = 1;
    let mut quoted = false;
    let mut chars = line.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' if quoted && chars.peek().is_some_and(|(_, n)| *n == '"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push((start, std::mem::take(&mut field)));
                start = i + 2;
            }
            _ => field.push(c),
        }
    }
    out.push((start, field));
    out
}

fn normalise_header(h: &str) -> String {
    let h = h.trim().to_lowercase();
    let h = h
        .trim_end_matches("(€)")
        .trim_end_matches('€')
        .trim_end_matches("(eur)")
        .trim_end_matches("eur")
        .trim();
    h.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads a KPA CSV file: rows, and quarantine entries for cells that are not numbers.
pub fn read_kpa(
    text: &str,
    file: &str,
    quarantine: &dyn Fn(String, &'static str, String, String) -> QuarantineEntry,
) -> Result<(Vec<KpaRow>, Vec<QuarantineEntry>), SourceError> {
    // Cells are numbered by field; locations report the field's character column.
    let mut columns: std::collections::HashMap<(usize, usize), usize> =
        std::collections::HashMap::new();
    let rows: Vec<XRow> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let cells = split_fields(l)
                .into_iter()
                .enumerate()
                .map(|(k, (c, v))| {
                    columns.insert((i + 1, k + 1), c);
                    (k + 1, XCell::Text(v))
                })
                .collect();
            (i + 1, cells)
        })
        .collect();
    read_kpa_rows(
        &rows,
        file,
        &|row, field| columns.get(&(row, field)).copied().unwrap_or(1),
        quarantine,
    )
}

/// Reads a KPA workbook (`.xlsx`, first sheet): as [`read_kpa`], with numbers as Excel stores
/// them; locations are `file:row:column`.
pub fn read_kpa_xlsx(
    bytes: &[u8],
    file: &str,
    quarantine: &dyn Fn(String, &'static str, String, String) -> QuarantineEntry,
) -> Result<(Vec<KpaRow>, Vec<QuarantineEntry>), SourceError> {
    let rows = crate::normalize::xlsx::first_sheet(bytes, file)?;
    read_kpa_rows(&rows, file, &|_, column| column, quarantine)
}

/// Rows of cells (1-based row and column numbers) -> KPA rows.
fn read_kpa_rows(
    rows: &[XRow],
    file: &str,
    locate: &dyn Fn(usize, usize) -> usize,
    quarantine: &dyn Fn(String, &'static str, String, String) -> QuarantineEntry,
) -> Result<(Vec<KpaRow>, Vec<QuarantineEntry>), SourceError> {
    let mut rows = rows.iter().filter(|(_, cells)| {
        cells
            .iter()
            .any(|(_, c)| !matches!(c, XCell::Text(t) if t.trim().is_empty()))
    });
    let Some((h_line, header)) = rows.next() else {
        return Err(SourceError::Malformed {
            path: file.into(),
            location: "line 1".into(),
            message: "the file is empty".into(),
        });
    };
    let headers: Vec<(usize, String)> = header
        .iter()
        .map(|(c, v)| (*c, normalise_header(&v.raw_text())))
        .collect();
    let find = |names: &[&str]| {
        headers
            .iter()
            .find(|(_, h)| names.contains(&h.as_str()))
            .map(|(c, _)| *c)
    };
    let required = [
        ("Vuosi", find(&["vuosi"])),
        ("Palveluluokka", find(&["palveluluokka"])),
        (
            "Kustannukset €",
            find(&["kustannukset", "kustannukset yhteensä"]),
        ),
        (
            "Asiakkaat",
            find(&["asiakkaat", "asiakasmäärä", "asiakkaita"]),
        ),
    ];
    if let Some((name, _)) = required.iter().find(|(_, i)| i.is_none()) {
        return Err(SourceError::Malformed {
            path: file.into(),
            location: format!("line {h_line}"),
            message: format!(
                "no `{name}` column; the header has: {}",
                header
                    .iter()
                    .map(|(_, h)| h.raw_text())
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
        });
    }
    let [year_c, class_c, cost_c, client_c] = required.map(|(_, i)| i.unwrap_or_default());
    let units_c = find(&["suoritteet", "suoritemäärä"]);
    let unit_name_c = find(&["suoriteyksikkö"]);
    let mut out = Vec::new();
    let mut rejected = Vec::new();
    for (n, cells) in rows {
        let n = *n;
        let cell = |c: usize| cells.iter().find(|(col, _)| *col == c).map(|(_, v)| v);
        let text = |c: usize| cell(c).map(XCell::raw_text).unwrap_or_default();
        // A closing total row (`Yhteensä`) is a sum of the rows above, not data.
        if text(class_c).trim().eq_ignore_ascii_case("yhteensä")
            || text(year_c).trim().eq_ignore_ascii_case("yhteensä")
        {
            continue;
        }
        let number = |c: usize, name: &str| -> Result<Option<f64>, (String, String)> {
            match cell(c) {
                Some(XCell::Number(v)) => Ok(Some(*v)),
                Some(XCell::Text(t)) => parse_fi_number(t).map_err(|m| {
                    (
                        format!("{file}:{n}:{}", locate(n, c)),
                        format!("{name}: {m}"),
                    )
                }),
                None => Ok(None),
            }
        };
        let parsed = (|| {
            let year = match cell(year_c) {
                Some(XCell::Number(v)) if v.fract() == 0.0 && (1900.0..=2100.0).contains(v) => {
                    format!("{v}").parse::<i16>().ok()
                }
                Some(XCell::Text(t)) => t.trim().parse::<i16>().ok(),
                _ => None,
            }
            .ok_or_else(|| {
                (
                    format!("{file}:{n}:{}", locate(n, year_c)),
                    format!("Vuosi: `{}` is not a year", text(year_c).trim()),
                )
            })?;
            let class = text(class_c).trim().to_owned();
            if class.is_empty() {
                return Err((
                    format!("{file}:{n}:{class_c}"),
                    "Palveluluokka is empty".to_owned(),
                ));
            }
            Ok(KpaRow {
                line: n,
                year,
                service_class: class,
                costs: number(cost_c, "Kustannukset")?,
                clients: number(client_c, "Asiakkaat")?,
                units: units_c
                    .map(|c| number(c, "Suoritteet"))
                    .transpose()?
                    .flatten(),
                unit_name: unit_name_c
                    .map(|c| text(c).trim().to_owned())
                    .filter(|s| !s.is_empty()),
            })
        })();
        match parsed {
            Ok(r) => out.push(r),
            Err((location, reason)) => {
                let record = cells
                    .iter()
                    .map(|(_, v)| v.raw_text())
                    .collect::<Vec<_>>()
                    .join(";");
                rejected.push(quarantine(location, "bad_number", reason, record));
            }
        }
    }
    Ok((out, rejected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finnish_numbers() {
        assert_eq!(parse_fi_number("1 234 567,89 €"), Ok(Some(1_234_567.89)));
        assert_eq!(parse_fi_number("1\u{a0}234,5"), Ok(Some(1234.5)));
        assert_eq!(parse_fi_number("-12,00"), Ok(Some(-12.0)));
        assert_eq!(parse_fi_number("  "), Ok(None));
        assert!(parse_fi_number("12,3,4").is_err());
        assert!(
            parse_fi_number("1.234,5").is_err(),
            "a dot is not a Finnish thousands separator"
        );
        assert!(parse_fi_number("n/a").is_err());
        assert!(parse_fi_number("12,").is_err());
    }

    #[test]
    fn windows_1252_and_utf8() {
        let cp = b"Palveluluokka;Kustannukset \x80\n\xc4ldre;\xf6";
        let t = decode_text(cp, Encoding::Auto, "f").unwrap();
        assert_eq!(t, "Palveluluokka;Kustannukset €\nÄldre;ö");
        let utf = "\u{feff}Ikääntyneet;€".as_bytes();
        assert_eq!(
            decode_text(utf, Encoding::Auto, "f").unwrap(),
            "Ikääntyneet;€"
        );
        assert!(decode_text(cp, Encoding::Utf8, "f").is_err());
        assert!(decode_text(b"\x81", Encoding::Windows1252, "f").is_err());
    }

    #[test]
    fn quoted_fields_keep_their_semicolons() {
        let f = split_fields(r#"2024;"Koti; ja asumis""palvelut""";"1 000,5""#);
        let v: Vec<&str> = f.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(v, ["2024", "Koti; ja asumis\"palvelut\"", "1 000,5"]);
        assert_eq!(f.iter().map(|(c, _)| *c).collect::<Vec<_>>(), [1, 6, 36]);
    }
}
