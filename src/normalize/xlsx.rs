//! The first worksheet of an Excel workbook (`.xlsx`) as rows of text and number cells.
//!
//! An `.xlsx` file is a ZIP archive of XML parts. This reader takes only what a region's cost
//! and client export needs: the ZIP central directory (entries stored or deflated, read with
//! flate2), `xl/workbook.xml` and its relationships for the first sheet, `xl/sharedStrings.xml`
//! and the sheet's `<c>` cells (shared strings, inline strings, formula strings, numbers,
//! booleans). Formatting, formulas and dates as such are not interpreted: a cell is its stored
//! value. Any part larger than [`MAX_PART`] is refused (a ZIP bomb guard).

use std::collections::HashMap;
use std::io::Read;

use crate::error::SourceError;

/// Largest decompressed part accepted.
pub const MAX_PART: u64 = 256 * 1024 * 1024;

/// A cell's stored value.
#[derive(Debug, Clone, PartialEq)]
pub enum XCell {
    /// Text.
    Text(String),
    /// A number.
    Number(f64),
}

/// A row: its 1-based number and its cells by 1-based column.
pub type XRow = (usize, Vec<(usize, XCell)>);

impl XCell {
    /// The cell as text, as stored (a number as Rust writes it).
    pub fn raw_text(&self) -> String {
        match self {
            XCell::Text(t) => t.clone(),
            XCell::Number(n) => n.to_string(),
        }
    }

    /// The cell as trimmed text (a number as Rust writes it).
    pub fn text(&self) -> String {
        match self {
            XCell::Text(t) => t.trim().to_owned(),
            XCell::Number(n) => n.to_string(),
        }
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

fn malformed(file: &str, message: impl Into<String>) -> SourceError {
    SourceError::Malformed {
        path: file.into(),
        location: String::new(),
        message: format!("not a readable .xlsx workbook: {}", message.into()),
    }
}

fn u16_at(b: &[u8], i: usize) -> Option<usize> {
    Some(usize::from(u16::from_le_bytes(
        b.get(i..i + 2)?.try_into().ok()?,
    )))
}

fn u32_at(b: &[u8], i: usize) -> Option<usize> {
    usize::try_from(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?)).ok()
}

/// The parts of a ZIP archive by name (decompressed on demand).
struct Zip<'a> {
    bytes: &'a [u8],
    entries: HashMap<String, (usize, usize, usize, usize)>, // method, compressed, size, offset
}

impl<'a> Zip<'a> {
    fn open(bytes: &'a [u8], file: &str) -> Result<Zip<'a>, SourceError> {
        // End of central directory: the last `PK\5\6` (a comment may follow it).
        let eocd = (0..bytes.len().saturating_sub(21))
            .rev()
            .find(|i| bytes[*i..].starts_with(b"PK\x05\x06"))
            .ok_or_else(|| malformed(file, "no ZIP directory"))?;
        let count = u16_at(bytes, eocd + 10).ok_or_else(|| malformed(file, "short directory"))?;
        let mut at = u32_at(bytes, eocd + 16).ok_or_else(|| malformed(file, "short directory"))?;
        let mut entries = HashMap::new();
        for _ in 0..count {
            if !bytes
                .get(at..)
                .is_some_and(|b| b.starts_with(b"PK\x01\x02"))
            {
                return Err(malformed(file, "broken ZIP directory entry"));
            }
            let field = |o: usize| u16_at(bytes, at + o);
            let long = |o: usize| u32_at(bytes, at + o);
            let (
                Some(method),
                Some(csize),
                Some(size),
                Some(nlen),
                Some(xlen),
                Some(clen),
                Some(offset),
            ) = (
                field(10),
                long(20),
                long(24),
                field(28),
                field(30),
                field(32),
                long(42),
            )
            else {
                return Err(malformed(file, "short ZIP directory entry"));
            };
            let name = bytes
                .get(at + 46..at + 46 + nlen)
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .ok_or_else(|| malformed(file, "short ZIP entry name"))?;
            entries.insert(name, (method, csize, size, offset));
            at += 46 + nlen + xlen + clen;
        }
        Ok(Zip { bytes, entries })
    }

    fn read(&self, name: &str, file: &str) -> Result<Option<String>, SourceError> {
        let Some(&(method, csize, size, offset)) = self.entries.get(name) else {
            return Ok(None);
        };
        if size as u64 > MAX_PART {
            return Err(malformed(
                file,
                format!("part `{name}` is larger than {MAX_PART} bytes"),
            ));
        }
        let b = self.bytes;
        if !b
            .get(offset..)
            .is_some_and(|h| h.starts_with(b"PK\x03\x04"))
        {
            return Err(malformed(
                file,
                format!("part `{name}` has no local header"),
            ));
        }
        let (nlen, xlen) = (
            u16_at(b, offset + 26).unwrap_or_default(),
            u16_at(b, offset + 28).unwrap_or_default(),
        );
        let start = offset + 30 + nlen + xlen;
        let data = b
            .get(start..start + csize)
            .ok_or_else(|| malformed(file, format!("part `{name}` is cut off")))?;
        let mut out = Vec::with_capacity(size);
        match method {
            0 => out.extend_from_slice(data),
            8 => {
                flate2::read::DeflateDecoder::new(data)
                    .take(MAX_PART + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| malformed(file, format!("part `{name}`: {e}")))?;
            }
            m => {
                return Err(malformed(
                    file,
                    format!("part `{name}` uses compression method {m}"),
                ));
            }
        }
        String::from_utf8(out)
            .map(Some)
            .map_err(|_| malformed(file, format!("part `{name}` is not UTF-8")))
    }
}

/// A minimal XML event: a start or empty tag with attributes, an end tag, or text.
#[derive(Debug, PartialEq)]
enum Event<'a> {
    Start(&'a str, Vec<(&'a str, String)>, bool),
    End(&'a str),
    Text(String),
}

/// Splits XML into events (no DTDs; comments, declarations and CDATA are skipped or kept as text).
fn events(xml: &str) -> Vec<Event<'_>> {
    let mut out = Vec::new();
    let mut rest = xml;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            out.push(Event::Text(unescape(rest)));
            break;
        };
        if lt > 0 {
            out.push(Event::Text(unescape(&rest[..lt])));
        }
        rest = &rest[lt..];
        if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").unwrap_or(cdata.len());
            out.push(Event::Text(cdata[..end].to_owned()));
            rest = cdata.get(end + 3..).unwrap_or("");
            continue;
        }
        let Some(gt) = rest.find('>') else { break };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            out.push(Event::End(local(name.trim())));
            continue;
        }
        let empty = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, attrs) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
        out.push(Event::Start(local(name), attributes(attrs), empty));
    }
    out
}

/// `x:c` -> `c`.
fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

fn attributes(s: &str) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            break;
        };
        let Some(end) = after[1..].find(q) else { break };
        out.push((local(key), unescape(&after[1..=end])));
        rest = after[end + 2..].trim_start();
    }
    out
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let Some(semi) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..semi];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=semi]),
        }
        rest = &tail[semi + 1..];
    }
    out.push_str(rest);
    out
}

fn attr<'a>(attrs: &'a [(&str, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.as_str())
}

/// `B12` -> (12, 2).
fn cell_ref(r: &str) -> Option<(usize, usize)> {
    let letters = r.bytes().take_while(u8::is_ascii_alphabetic).count();
    let col = r[..letters].bytes().try_fold(0usize, |acc, b| {
        Some(acc * 26 + usize::from(b.to_ascii_uppercase().checked_sub(b'A')?) + 1)
    })?;
    let row = r[letters..].parse().ok()?;
    (col > 0).then_some((row, col))
}

/// Reads the first worksheet.
pub fn first_sheet(bytes: &[u8], file: &str) -> Result<Vec<XRow>, SourceError> {
    sheet(bytes, file, None)
}

/// Reads the worksheet named `name` (or the first one), erring with the sheets there are.
pub fn sheet(bytes: &[u8], file: &str, name: Option<&str>) -> Result<Vec<XRow>, SourceError> {
    let zip = Zip::open(bytes, file)?;
    let sheet_path = sheet_path(&zip, file, name)?;
    let shared = match zip.read("xl/sharedStrings.xml", file)? {
        Some(xml) => shared_strings(&xml),
        None => Vec::new(),
    };
    let xml = zip
        .read(&sheet_path, file)?
        .ok_or_else(|| malformed(file, format!("no worksheet `{sheet_path}`")))?;
    let mut rows: Vec<XRow> = Vec::new();
    let mut current: Option<(usize, usize, Option<String>)> = None; // row, col, type
    let mut value: Option<String> = None;
    let mut in_value = false;
    let mut next_row = 1;
    for ev in events(&xml) {
        match ev {
            Event::Start("row", attrs, empty) => {
                let n = attr(&attrs, "r")
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(next_row);
                next_row = n + 1;
                if !empty {
                    rows.push((n, Vec::new()));
                }
            }
            Event::Start("c", attrs, empty) => {
                let (row, col) = attr(&attrs, "r").and_then(cell_ref).unwrap_or_else(|| {
                    let row = rows.last().map_or(1, |r| r.0);
                    let col = rows.last().map_or(0, |r| r.1.last().map_or(0, |c| c.0)) + 1;
                    (row, col)
                });
                value = None;
                current = (!empty).then(|| (row, col, attr(&attrs, "t").map(str::to_owned)));
            }
            Event::Start("v" | "t", _, false) if current.is_some() => in_value = true,
            Event::Text(t) if in_value => value.get_or_insert_with(String::new).push_str(&t),
            Event::End("v" | "t") => in_value = false,
            Event::End("c") => {
                if let (Some((row, col, kind)), Some(v)) = (current.take(), value.take()) {
                    let cell = match kind.as_deref() {
                        Some("s") => v
                            .trim()
                            .parse::<usize>()
                            .ok()
                            .and_then(|i| shared.get(i).cloned())
                            .map(XCell::Text),
                        Some("str" | "inlineStr" | "e") => Some(XCell::Text(v)),
                        Some("b") => Some(XCell::Number(if v.trim() == "1" { 1.0 } else { 0.0 })),
                        _ => v
                            .trim()
                            .parse::<f64>()
                            .ok()
                            .map(XCell::Number)
                            .or(Some(XCell::Text(v))),
                    };
                    if let Some(cell) = cell {
                        match rows.last_mut() {
                            Some(r) if r.0 == row => r.1.push((col, cell)),
                            _ => rows.push((row, vec![(col, cell)])),
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(rows)
}

/// A sheet's part (the named one, or the first), through `xl/workbook.xml` and its
/// relationships.
fn sheet_path(zip: &Zip<'_>, file: &str, name: Option<&str>) -> Result<String, SourceError> {
    let fallback = "xl/worksheets/sheet1.xml".to_owned();
    let Some(workbook) = zip.read("xl/workbook.xml", file)? else {
        return Err(malformed(file, "no xl/workbook.xml"));
    };
    let sheets: Vec<(String, Option<String>)> = events(&workbook)
        .into_iter()
        .filter_map(|e| match e {
            Event::Start("sheet", attrs, _) => Some((
                attr(&attrs, "name").unwrap_or_default().to_owned(),
                attr(&attrs, "id").map(str::to_owned),
            )),
            _ => None,
        })
        .collect();
    let id = match name {
        None => sheets.first().and_then(|s| s.1.clone()),
        Some(n) => match sheets.iter().find(|s| s.0.trim().eq_ignore_ascii_case(n)) {
            Some(s) => s.1.clone(),
            None => {
                return Err(SourceError::Malformed {
                    path: file.into(),
                    location: String::new(),
                    message: format!(
                        "no sheet `{n}`; the workbook has: {}",
                        sheets
                            .iter()
                            .map(|s| s.0.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        },
    };
    let (Some(id), Some(rels)) = (id, zip.read("xl/_rels/workbook.xml.rels", file)?) else {
        return Ok(fallback);
    };
    let target = events(&rels).into_iter().find_map(|e| match e {
        Event::Start("Relationship", attrs, _) if attr(&attrs, "Id") == Some(id.as_str()) => {
            attr(&attrs, "Target").map(str::to_owned)
        }
        _ => None,
    });
    Ok(match target {
        Some(t) if t.starts_with('/') => t.trim_start_matches('/').to_owned(),
        Some(t) => format!("xl/{t}"),
        None => fallback,
    })
}

fn shared_strings(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let mut in_t = false;
    let mut in_phonetic = false;
    for ev in events(xml) {
        match ev {
            Event::Start("si", _, false) => current = Some(String::new()),
            Event::Start("si", _, true) => out.push(String::new()),
            Event::Start("rPh", _, false) => in_phonetic = true,
            Event::End("rPh") => in_phonetic = false,
            Event::Start("t", _, false) => in_t = !in_phonetic,
            Event::End("t") => in_t = false,
            Event::Text(t) if in_t => {
                if let Some(c) = &mut current {
                    c.push_str(&t);
                }
            }
            Event::End("si") => out.extend(current.take()),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references() {
        assert_eq!(cell_ref("A1"), Some((1, 1)));
        assert_eq!(cell_ref("AB12"), Some((12, 28)));
        assert_eq!(cell_ref("12"), None);
    }

    #[test]
    fn xml_events_and_entities() {
        let e = events(
            r#"<?xml version="1.0"?><x:si a='1'><t xml:space="preserve">A &amp; B &#228;</t></x:si><e/>"#,
        );
        assert_eq!(
            e,
            vec![
                Event::Start("si", vec![("a", "1".to_owned())], false),
                Event::Start("t", vec![("space", "preserve".to_owned())], false),
                Event::Text("A & B ä".to_owned()),
                Event::End("t"),
                Event::End("si"),
                Event::Start("e", vec![], true),
            ]
        );
    }

    #[test]
    fn shared_strings_join_runs() {
        let s = shared_strings(
            "<sst><si><t>Vuosi</t></si><si><r><t>Kustan</t></r><r><t>nukset €</t></r></si><si/></sst>",
        );
        assert_eq!(s, ["Vuosi", "Kustannukset €", ""]);
    }

    #[test]
    fn not_a_zip() {
        assert!(first_sheet(b"Vuosi;Palveluluokka", "f.xlsx").is_err());
    }
}
