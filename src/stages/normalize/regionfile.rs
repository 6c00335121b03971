//! A region's own files: cost and client figures (KPA) as CSV from a finance or client system.
//!
//! What real exports look like, and what is accepted:
//! - a workbook (`.xlsx`, `.xls`, `.ods`: its first sheet) or delimited text, read through
//!   [`crate::io::tabular`]: `;` (or tab) separated, fields optionally in double quotes, which
//!   may hold separators and line breaks; UTF-8, UTF-16 or Windows-1252 (`encoding = "auto"`
//!   decides from the bytes);
//! - Finnish headers, matched without regard to case, spaces or a trailing `€`/`(€)`/`eur`:
//!   `Vuosi`, `Palveluluokka`, `Kustannukset €`, `Asiakkaat` (or `Asiakasmäärä`) and optionally
//!   `Suoritteet` with `Suoriteyksikkö` (service units and their name);
//! - numbers with a decimal comma, spaces (also no-break spaces) between thousands and an
//!   optional `€`: `1 234 567,89 €`. An empty cell is missing, never 0.
//!
//! A cell that is not a number is quarantined with `file:line:column`; a file without the
//! required headers is an error naming the header line and what was found.

use std::collections::HashMap;

use crate::error::SourceError;
use crate::io::tabular::{XCell, XRow};
use crate::model::quarantine::QuarantineEntry;

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

/// Reads a number written the Finnish way: `1 234,5`, `-12,00 €`, `1234`. `Ok(None)` for an
/// empty cell. Digits may be grouped by spaces (also no-break and narrow no-break ones), and then
/// every group after the first has three digits: `9 234 8`, a number cut short, is an error, not
/// 92 348.
pub fn parse_fi_number(cell: &str) -> Result<Option<f64>, String> {
    let integer_part = cell
        .trim()
        .trim_end_matches('€')
        .trim_end()
        .split(',')
        .next()
        .unwrap_or_default();
    let groups: Vec<&str> = integer_part
        .split([' ', '\u{a0}', '\u{202f}'])
        .filter(|g| !g.is_empty())
        .collect();
    if groups.len() > 1 {
        let digits = |g: &str| g.trim_start_matches('-').len();
        let first = digits(groups[0]);
        if !(1..=3).contains(&first) || groups[1..].iter().any(|g| g.len() != 3) {
            return Err(format!(
                "`{}` is not a number: digits grouped by spaces come in threes after the first \
                 group (`1 234 567,89`); is the cell cut short?",
                cell.trim()
            ));
        }
    }
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

/// Reads a KPA file's rows (a workbook's first sheet or delimited text, see
/// [`crate::io::tabular`]): KPA rows, and quarantine entries for cells that are not numbers.
/// Locations are `file:row:column` (for text, the line and the field's number).
pub fn read_kpa(
    rows: &[XRow],
    file: &str,
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
                Some(XCell::Date(_)) => Err((
                    format!("{file}:{n}:{c}"),
                    format!("{name}: `{}` is a date, not a number", text(c).trim()),
                )),
                Some(XCell::Text(t)) => parse_fi_number(t)
                    .map_err(|m| (format!("{file}:{n}:{c}"), format!("{name}: {m}"))),
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
                    format!("{file}:{n}:{year_c}"),
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
            // Clients and service units are counts: a negative one is not a small one.
            let count = |c: usize, name: &str| match number(c, name)? {
                Some(v) if v < 0.0 => Err((
                    format!("{file}:{n}:{c}"),
                    format!(
                        "{name}: `{}` is negative; a count cannot be",
                        text(c).trim()
                    ),
                )),
                v => Ok(v),
            };
            Ok(KpaRow {
                line: n,
                year,
                service_class: class,
                costs: number(cost_c, "Kustannukset")?,
                clients: count(client_c, "Asiakkaat")?,
                units: units_c
                    .map(|c| count(c, "Suoritteet"))
                    .transpose()?
                    .flatten(),
                unit_name: unit_name_c
                    .map(|c| text(c).trim().to_owned())
                    .filter(|s| !s.is_empty()),
            })
        })();
        let record = || {
            cells
                .iter()
                .map(|(_, v)| v.raw_text())
                .collect::<Vec<_>>()
                .join(";")
        };
        match parsed {
            Ok(r) => out.push((r, record())),
            Err((location, reason)) => {
                rejected.push(quarantine(location, "bad_number", reason, record()));
            }
        }
    }
    let out = one_row_per_class_and_year(out, file, quarantine, &mut rejected);
    Ok((out, rejected))
}

/// A service class's year given twice: the same row again is kept once (each repeat
/// quarantined as `duplicate_row`); rows that disagree are all quarantined
/// (`conflicting_duplicate`), and the class has no figures that year. Never a sum of both.
fn one_row_per_class_and_year(
    rows: Vec<(KpaRow, String)>,
    file: &str,
    quarantine: &dyn Fn(String, &'static str, String, String) -> QuarantineEntry,
    rejected: &mut Vec<QuarantineEntry>,
) -> Vec<KpaRow> {
    let key = |r: &KpaRow| (r.year, r.service_class.to_lowercase());
    let mut groups: Vec<Vec<(KpaRow, String)>> = Vec::new();
    let mut index: HashMap<(i16, String), usize> = HashMap::new();
    for (row, record) in rows {
        let g = *index.entry(key(&row)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push((row, record));
    }
    let same = |a: &KpaRow, b: &KpaRow| {
        a.costs == b.costs
            && a.clients == b.clients
            && a.units == b.units
            && a.unit_name == b.unit_name
    };
    let mut out = Vec::new();
    for mut group in groups {
        let first = group.remove(0);
        let lines = || {
            std::iter::once(first.0.line)
                .chain(group.iter().map(|(r, _)| r.line))
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let what = format!("{} {}", first.0.service_class, first.0.year);
        if group.iter().all(|(r, _)| same(r, &first.0)) {
            for (r, record) in &group {
                rejected.push(quarantine(
                    format!("{file}:{}", r.line),
                    "duplicate_row",
                    format!(
                        "{what} is given again (lines {}) with the same figures: kept once",
                        lines()
                    ),
                    record.clone(),
                ));
            }
            out.push(first.0);
        } else {
            let reason = format!(
                "{what} is given more than once (lines {}) with different figures: none is used",
                lines()
            );
            for (r, record) in std::iter::once(&first).chain(&group) {
                rejected.push(quarantine(
                    format!("{file}:{}", r.line),
                    "conflicting_duplicate",
                    reason.clone(),
                    record.clone(),
                ));
            }
        }
    }
    out
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
    fn a_number_cut_short_in_its_digit_groups_is_an_error() {
        assert_eq!(parse_fi_number("9 234 844,45"), Ok(Some(9_234_844.45)));
        assert_eq!(parse_fi_number("-1 234"), Ok(Some(-1234.0)));
        assert_eq!(parse_fi_number("1234567,5"), Ok(Some(1_234_567.5)));
        for cut in ["9 234 8", "9 234 84", "9 23", "1234 567", "9 234 8,45"] {
            let err = parse_fi_number(cut).unwrap_err();
            assert!(err.contains("in threes"), "{cut}: {err}");
        }
    }
}
