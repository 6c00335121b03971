//! Survey ingest: respondent-level exports of a knowledge-management maturity assessment.
//!
//! An export (CSV from Webropol, Forms or `LimeSurvey`, or the first sheet of an XLSX) has one row
//! per respondent: an id, a timestamp, a role, then one column per statement. The pipeline's
//! `question_map` (a `;` CSV: `header_regex;item_id;dimension_id;answer_type;scale_min;scale_max;
//! reverse_coded`) says which statement is which: the first regex that matches a header (case
//! insensitive) wins; columns no regex matches are ignored and listed in the log.
//!
//! Quirks handled: `;` separators and decimal commas, UTF-8 with a byte-order mark or
//! Windows-1252 ([`crate::io::tabular::decode_text`]), two-row headers (a group title
//! row, merged cells forward-filled, over the statement row: the two are joined with a space),
//! a trailing `Yhteensä` row, `d.m.yyyy` (with or without a time), ISO and Excel serial dates.
//! Likert labels in Finnish, Swedish or English map to 1–5, numbers are taken on the item's
//! scale; "En osaa sanoa" / "Vet inte" / "Don't know" and empty cells are NA, never a number. An
//! answer outside the item's scale, or a label not on it, is quarantined with file, row and
//! column. Other scales are rescaled linearly to 1–5 and reverse-coded items mirrored.
//!
//! Respondent ids never leave this module: each is replaced by `sha256(salt + id)` (first 16 hex
//! digits) before anything is stored.

use chrono::NaiveDate;

use crate::error::SourceError;
use crate::io::tabular::{XCell, XRow, header_and_rows};
use crate::model::quarantine::QuarantineEntry;

/// What an item asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnswerType {
    /// The current state.
    Current,
    /// Satisfaction with the current state.
    Satisfaction,
    /// The target state.
    Target,
}

impl AnswerType {
    /// The name in files and outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerType::Current => "current",
            AnswerType::Satisfaction => "satisfaction",
            AnswerType::Target => "target",
        }
    }
}

/// One line of the question map.
#[derive(Debug, Clone)]
pub struct MappedItem {
    /// Matches the column header.
    pub pattern: regex::Regex,
    /// Item id.
    pub item: String,
    /// Dimension `D1`..`D7`.
    pub dimension: String,
    /// What it asks.
    pub answer_type: AnswerType,
    /// Scale of the source.
    pub scale: (f64, f64),
    /// Whether agreement means a lower state.
    pub reverse: bool,
}

impl MappedItem {
    /// An answer on the item's scale -> 1..5, reverse-coded items mirrored.
    pub fn to_common_scale(&self, v: f64) -> f64 {
        let v = if self.reverse {
            self.scale.0 + self.scale.1 - v
        } else {
            v
        };
        1.0 + 4.0 * (v - self.scale.0) / (self.scale.1 - self.scale.0)
    }
}

/// The roles of respondents.
pub const ROLES: [&str; 6] = [
    "management",
    "organiser_expert",
    "finance",
    "ict",
    "service_line",
    "other",
];

/// A role as written (id, or a Finnish, Swedish or English label) -> role id.
pub fn role_of(label: &str) -> Option<&'static str> {
    let l = label.trim().to_lowercase();
    if let Some(r) = ROLES.iter().find(|r| **r == l) {
        return Some(r);
    }
    let has = |words: &[&str]| words.iter().any(|w| l.contains(w));
    Some(
        if has(&["johto", "ledning", "management", "johtaja", "manager"]) {
            "management"
        } else if has(&[
            "järjestä",
            "asiantuntija",
            "anordnar",
            "sakkunnig",
            "expert",
            "organiser",
        ]) {
            "organiser_expert"
        } else if has(&["talous", "ekonomi", "finance"]) {
            "finance"
        } else if has(&["ict", "tietohallinto", "it-", "data", "digi"]) {
            "ict"
        } else if has(&["palvelu", "tjänst", "service"]) {
            "service_line"
        } else if has(&["muu", "annan", "other"]) {
            "other"
        } else {
            return None;
        },
    )
}

/// A Likert label -> 1..5, `Some(None)` for "don't know", `None` when not a label.
pub fn likert(label: &str) -> Option<Option<f64>> {
    let l = label.trim().to_lowercase();
    let v = match l.as_str() {
        "täysin eri mieltä" | "helt av annan åsikt" | "strongly disagree" => 1.0,
        "jokseenkin eri mieltä" | "delvis av annan åsikt" | "disagree" | "somewhat disagree" => {
            2.0
        }
        "ei samaa eikä eri mieltä" | "varken eller" | "neither agree nor disagree" | "neutral" => {
            3.0
        }
        "jokseenkin samaa mieltä" | "delvis av samma åsikt" | "agree" | "somewhat agree" => 4.0,
        "täysin samaa mieltä" | "helt av samma åsikt" | "strongly agree" => 5.0,
        "en osaa sanoa" | "eos" | "vet inte" | "don't know" | "dont know" | "do not know" => {
            return Some(None);
        }
        _ => return None,
    };
    Some(Some(v))
}

/// A date: `d.m.yyyy` (time ignored), ISO `yyyy-mm-dd`, or an Excel serial day number.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let day = s.split_whitespace().next()?;
    if let Ok(d) = NaiveDate::parse_from_str(day, "%d.%m.%Y") {
        return Some(d);
    }
    if let Ok(d) = NaiveDate::parse_from_str(day.get(..10).unwrap_or(day), "%Y-%m-%d") {
        return Some(d);
    }
    let serial: f64 = s.replace(',', ".").parse().ok()?;
    excel_date(serial)
}

/// Excel's day number (1900 date system, with its phantom 29 February 1900) -> date.
pub fn excel_date(serial: f64) -> Option<NaiveDate> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let days = format!("{}", serial.floor()).parse::<i64>().ok()?;
    NaiveDate::from_ymd_opt(1899, 12, 30)?.checked_add_signed(chrono::Duration::days(days))
}

/// Reads a question map: a `;` CSV (or a sheet) with a header row and the columns
/// `header_regex;item_id;dimension_id;answer_type;scale_min;scale_max;reverse_coded`.
pub fn read_question_map(rows: &[XRow], file: &str) -> Result<Vec<MappedItem>, SourceError> {
    let mut out = Vec::new();
    let (_, rows) = header_and_rows(rows, file)?;
    for (line, cells) in rows {
        let bad = |message: String| SourceError::Malformed {
            path: file.into(),
            location: format!("line {line}"),
            message,
        };
        let width = cells.iter().map(|(c, _)| *c).max().unwrap_or(0);
        let texts: Vec<String> = (1..=width)
            .map(|c| {
                cells
                    .iter()
                    .find(|(x, _)| *x == c)
                    .map(|(_, v)| v.text())
                    .unwrap_or_default()
            })
            .collect();
        let f: Vec<&str> = texts.iter().map(String::as_str).collect();
        let [pattern, item, dimension, answer, min, max, reverse] = f.as_slice() else {
            return Err(bad(
                "expected `header_regex;item_id;dimension_id;answer_type;scale_min;scale_max;reverse_coded`".into(),
            ));
        };
        let pattern = regex::Regex::new(&format!("(?i){pattern}"))
            .map_err(|e| bad(format!("header_regex: {e}")))?;
        let answer_type = match *answer {
            "current" => AnswerType::Current,
            "satisfaction" => AnswerType::Satisfaction,
            "target" => AnswerType::Target,
            other => {
                return Err(bad(format!(
                    "answer_type `{other}`: use current, satisfaction or target"
                )));
            }
        };
        let num = |s: &str| {
            s.replace(',', ".")
                .parse::<f64>()
                .map_err(|_| bad(format!("`{s}` is not a number")))
        };
        let scale = (num(min)?, num(max)?);
        if scale.1 <= scale.0 {
            return Err(bad(format!("scale {}..{} is empty", scale.0, scale.1)));
        }
        if !(1..=7).any(|d| *dimension == format!("D{d}")) {
            return Err(bad(format!("dimension `{dimension}`: use D1..D7")));
        }
        out.push(MappedItem {
            pattern,
            item: (*item).to_owned(),
            dimension: (*dimension).to_owned(),
            answer_type,
            scale,
            reverse: matches!(*reverse, "1" | "true" | "yes" | "kyllä"),
        });
    }
    Ok(out)
}

/// One answer, on 1–5.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Salted hash of the respondent id.
    pub respondent: String,
    /// Role id.
    pub role: &'static str,
    /// When the respondent answered, if the export says.
    pub answered: Option<NaiveDate>,
    /// Item id.
    pub item: String,
    /// Dimension.
    pub dimension: String,
    /// What it asks.
    pub answer_type: AnswerType,
    /// The answer on 1–5 (after rescaling and reverse coding); `None` for "don't know" or empty.
    pub value: Option<f64>,
    /// The answer as written.
    pub raw: String,
}

/// How a respondent-level export is read.
pub struct ResponseFile<'a> {
    /// Header rows (1 or 2).
    pub header_rows: usize,
    /// The question map.
    pub map: &'a [MappedItem],
    /// The salt of respondent keys.
    pub salt: &'a str,
    /// The file, for locations.
    pub file: &'a str,
    /// Whether every row has all its fields (delimited text does; a workbook leaves empty cells
    /// out): then a row with fewer fields than the header was cut short.
    pub complete_rows: bool,
    /// No answer is dated after this day (the run's as-of date).
    pub latest: NaiveDate,
}

/// Reads a respondent-level export already split into rows of cells.
///
/// A row is quarantined whole, with the first offending cell, when its role is unknown, it was
/// cut short, an answer is off its item's scale, or its date cannot be read or lies after
/// `latest`. A respondent given twice is kept once when the rows agree and quarantined (every
/// row) when they do not. Quarantined records carry the respondent's salted key in place of the
/// id: no id leaves this function in clear.
pub fn read_responses(
    rows: &[XRow],
    how: &ResponseFile<'_>,
    quarantine: &dyn Fn(String, &'static str, String, String) -> QuarantineEntry,
) -> Result<(Vec<Answer>, Vec<QuarantineEntry>), SourceError> {
    let ResponseFile {
        header_rows,
        map,
        salt,
        file,
        ..
    } = *how;
    let text = XCell::raw_text;
    let rows: Vec<&XRow> = rows
        .iter()
        .filter(|(_, c)| c.iter().any(|(_, v)| !text(v).trim().is_empty()))
        .collect();
    if rows.len() < header_rows.max(1) {
        return Err(SourceError::Malformed {
            path: file.into(),
            location: "line 1".into(),
            message: "no header".into(),
        });
    }
    let width = rows[..header_rows.max(1)]
        .iter()
        .flat_map(|(_, c)| c.iter().map(|(col, _)| *col))
        .max()
        .unwrap_or(0);
    // The header of each column: a two-row header joins the (forward-filled) group row and the
    // statement row.
    let cell_at = |row: &XRow, col: usize| {
        row.1
            .iter()
            .find(|(c, _)| *c == col)
            .map(|(_, v)| text(v))
            .unwrap_or_default()
    };
    let mut headers = vec![String::new(); width + 1];
    let mut group = String::new();
    for (col, header) in headers.iter_mut().enumerate().skip(1) {
        let last = cell_at(rows[header_rows.max(1) - 1], col);
        if header_rows >= 2 {
            let g = cell_at(rows[0], col);
            if !g.trim().is_empty() {
                g.trim().clone_into(&mut group);
            }
            format!("{group} {}", last.trim()).trim().clone_into(header);
        } else {
            last.trim().clone_into(header);
        }
    }
    let find = |names: &[&str]| {
        headers.iter().position(|h| {
            let h = h.to_lowercase();
            names
                .iter()
                .any(|n| h == *n || h.ends_with(&format!(" {n}")))
        })
    };
    let id_col = find(&[
        "vastaajatunnus",
        "vastaaja",
        "respondent_id",
        "respondent",
        "id",
        "tunnus",
    ]);
    let role_col = find(&["rooli", "role", "roll", "tehtävä"]);
    let time_col = find(&[
        "aikaleima",
        "vastausaika",
        "timestamp",
        "päivämäärä",
        "date",
    ]);
    let (Some(id_col), Some(role_col)) = (id_col, role_col) else {
        return Err(SourceError::Malformed {
            path: file.into(),
            location: format!("line {}", rows[header_rows.max(1) - 1].0),
            message: format!(
                "no respondent id or role column (looked for `Vastaajatunnus`/`respondent_id` and `Rooli`/`role`); the header has: {}",
                headers[1..].join(" | ")
            ),
        });
    };
    // Statement columns: the first matching map line.
    let items: Vec<(usize, &MappedItem)> = (1..=width)
        .filter(|c| *c != id_col && *c != role_col && Some(*c) != time_col)
        .filter_map(|c| {
            map.iter()
                .find(|m| m.pattern.is_match(&headers[c]))
                .map(|m| (c, m))
        })
        .collect();
    if items.is_empty() {
        return Err(SourceError::Malformed {
            path: file.into(),
            location: "header".into(),
            message: "no column matches the question map".into(),
        });
    }
    let mut rejected = Vec::new();
    // Each respondent's answers, with the line and record of the row they came from.
    let mut respondents: Vec<Respondent> = Vec::new();
    for row in &rows[header_rows.max(1)..] {
        let (n, _) = row;
        let id = cell_at(row, id_col);
        if id.trim().eq_ignore_ascii_case("yhteensä")
            || cell_at(row, 1).trim().eq_ignore_ascii_case("yhteensä")
        {
            continue;
        }
        let respondent = {
            let h = crate::io::hash::sha256_hex(format!("{salt}\u{1f}{}", id.trim()).as_bytes());
            h[..16].to_owned()
        };
        // The record as written, the respondent id replaced by its key.
        let record = row
            .1
            .iter()
            .map(|(c, v)| {
                if *c == id_col {
                    format!("respondent:{respondent}")
                } else {
                    text(v)
                }
            })
            .collect::<Vec<_>>()
            .join(";");
        let mut reject = |location: String, rule, reason: String| {
            rejected.push(quarantine(location, rule, reason, record.clone()));
        };
        let fields = row.1.iter().map(|(c, _)| *c).max().unwrap_or(0);
        if how.complete_rows && fields < width {
            reject(
                format!("{file}:{n}:{}", fields + 1),
                "truncated_row",
                format!("the row has {fields} fields and the header {width}: it was cut short"),
            );
            continue;
        }
        let Some(role) = role_of(&cell_at(row, role_col)) else {
            reject(
                format!("{file}:{n}:{role_col}"),
                "unknown_role",
                format!(
                    "role `{}` is none of {}",
                    cell_at(row, role_col).trim(),
                    ROLES.join(", ")
                ),
            );
            continue;
        };
        let answered = match time_col.map(|c| (c, cell_at(row, c))) {
            Some((c, t)) if !t.trim().is_empty() => match parse_date(&t) {
                Some(d) if d <= how.latest => Some(d),
                Some(d) => {
                    reject(
                        format!("{file}:{n}:{c}"),
                        "date_in_future",
                        format!("answered on {d}, after {}", how.latest),
                    );
                    continue;
                }
                None => {
                    reject(
                        format!("{file}:{n}:{c}"),
                        "bad_date",
                        format!(
                            "`{}` is not a date (d.m.yyyy, yyyy-mm-dd or a day number)",
                            t.trim()
                        ),
                    );
                    continue;
                }
            },
            _ => None,
        };
        match row_answers(row, &items, &respondent, role, answered) {
            Ok(answers) => respondents.push(Respondent {
                key: respondent,
                line: *n,
                record,
                answers,
            }),
            // One answer off the scale makes the respondent's row unusable as a whole: it is
            // quarantined with the first offending cell.
            Err((col, reason)) => {
                reject(format!("{file}:{n}:{col}"), "answer_out_of_scale", reason);
            }
        }
    }
    let answers = one_row_per_respondent(respondents, file, quarantine, &mut rejected);
    Ok((answers, rejected))
}

/// One respondent's row, read.
struct Respondent {
    key: String,
    line: usize,
    record: String,
    answers: Vec<Answer>,
}

/// A respondent given twice: the same answers again are kept once (each repeat quarantined as
/// `duplicate_row`); rows that disagree are all quarantined (`conflicting_duplicate`), and the
/// respondent counts in no score.
fn one_row_per_respondent(
    respondents: Vec<Respondent>,
    file: &str,
    quarantine: &dyn Fn(String, &'static str, String, String) -> QuarantineEntry,
    rejected: &mut Vec<QuarantineEntry>,
) -> Vec<Answer> {
    let mut order: Vec<String> = Vec::new();
    let mut by_key: std::collections::HashMap<String, Vec<Respondent>> =
        std::collections::HashMap::new();
    for r in respondents {
        if !by_key.contains_key(&r.key) {
            order.push(r.key.clone());
        }
        by_key.entry(r.key.clone()).or_default().push(r);
    }
    let mut out = Vec::new();
    for key in order {
        let mut rows = by_key.remove(&key).unwrap_or_default();
        if rows.is_empty() {
            continue;
        }
        let first = rows.remove(0);
        let lines = std::iter::once(first.line)
            .chain(rows.iter().map(|r| r.line))
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if rows.iter().all(|r| r.answers == first.answers) {
            for r in &rows {
                rejected.push(quarantine(
                    format!("{file}:{}", r.line),
                    "duplicate_row",
                    format!("respondent {key} answers again (lines {lines}) with the same answers: kept once"),
                    r.record.clone(),
                ));
            }
            out.extend(first.answers);
        } else {
            let reason = format!(
                "respondent {key} answers more than once (lines {lines}) with different answers: none is used"
            );
            for r in std::iter::once(&first).chain(&rows) {
                rejected.push(quarantine(
                    format!("{file}:{}", r.line),
                    "conflicting_duplicate",
                    reason.clone(),
                    r.record.clone(),
                ));
            }
        }
    }
    out
}

/// The answers of one row, or the column and reason of the first answer off its scale.
fn row_answers(
    row: &XRow,
    items: &[(usize, &MappedItem)],
    respondent: &str,
    role: &'static str,
    answered: Option<NaiveDate>,
) -> Result<Vec<Answer>, (usize, String)> {
    let text = XCell::raw_text;
    let mut answers = Vec::new();
    for (col, m) in items {
        let raw = row.1.iter().find(|(c, _)| c == col).map(|(_, v)| v.clone());
        let value = match &raw {
            None => Ok(None),
            Some(XCell::Number(v)) => on_scale(*v, m),
            Some(XCell::Date(d)) => Err(format!("a date ({d}) is not an answer")),
            Some(XCell::Text(t)) if t.trim().is_empty() => Ok(None),
            Some(XCell::Text(t)) => match likert(t) {
                Some(None) => Ok(None),
                Some(Some(v)) if m.scale == (1.0, 5.0) => Ok(Some(v)),
                Some(Some(_)) => Err(format!(
                    "`{}` is a 1-5 label but item `{}` is on {}..{}",
                    t.trim(),
                    m.item,
                    m.scale.0,
                    m.scale.1
                )),
                None => match t.trim().replace(',', ".").parse::<f64>() {
                    Ok(v) => on_scale(v, m),
                    Err(_) => Err(format!(
                        "`{}` is not an answer on item `{}`'s scale",
                        t.trim(),
                        m.item
                    )),
                },
            },
        };
        match value {
            Ok(v) => answers.push(Answer {
                respondent: respondent.to_owned(),
                role,
                answered,
                item: m.item.clone(),
                dimension: m.dimension.clone(),
                answer_type: m.answer_type,
                value: v.map(|v| m.to_common_scale(v)),
                raw: raw.as_ref().map(text).unwrap_or_default(),
            }),
            Err(reason) => return Err((*col, reason)),
        }
    }
    Ok(answers)
}

fn on_scale(v: f64, m: &MappedItem) -> Result<Option<f64>, String> {
    if v >= m.scale.0 && v <= m.scale.1 && v.fract() == 0.0 {
        Ok(Some(v))
    } else {
        Err(format!(
            "{v} is outside item `{}`'s scale {}..{}",
            m.item, m.scale.0, m.scale.1
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likert_labels_in_three_languages() {
        assert_eq!(likert("Täysin samaa mieltä"), Some(Some(5.0)));
        assert_eq!(likert(" jokseenkin eri mieltä "), Some(Some(2.0)));
        assert_eq!(likert("Varken eller"), Some(Some(3.0)));
        assert_eq!(likert("Strongly disagree"), Some(Some(1.0)));
        assert_eq!(likert("En osaa sanoa"), Some(None));
        assert_eq!(likert("Vet inte"), Some(None));
        assert_eq!(likert("maybe"), None);
    }

    #[test]
    fn dates_in_every_export_form() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd);
        assert_eq!(parse_date("26.10.2020"), d(2020, 10, 26));
        assert_eq!(parse_date("6.1.2022 14:03"), d(2022, 1, 6));
        assert_eq!(parse_date("2020-10-26T08:00:00"), d(2020, 10, 26));
        assert_eq!(parse_date("44130"), d(2020, 10, 26));
        assert_eq!(parse_date("44130,6"), d(2020, 10, 26));
        assert_eq!(parse_date("soon"), None);
    }

    #[test]
    fn roles_from_labels() {
        assert_eq!(role_of("Johto"), Some("management"));
        assert_eq!(role_of("Talous ja hallinto"), Some("finance"));
        assert_eq!(role_of("ICT"), Some("ict"));
        assert_eq!(role_of("Palvelulinjan esihenkilö"), Some("service_line"));
        assert_eq!(role_of("organiser_expert"), Some("organiser_expert"));
        assert_eq!(role_of("astronaut"), None);
    }
}

/// One cell of an aggregated export: how many answered `value` to an item (in a role, when the
/// export has roles).
#[derive(Debug, Clone, PartialEq)]
pub struct Frequency {
    /// Role, when the export has a role column.
    pub role: Option<&'static str>,
    /// Item id.
    pub item: String,
    /// Dimension.
    pub dimension: String,
    /// What it asks.
    pub answer_type: AnswerType,
    /// The answer on 1–5; `None` for "don't know".
    pub value: Option<f64>,
    /// How many gave it.
    pub count: f64,
}

/// Reads an aggregated export (`granularity = "aggregated"`): one row per question × option with
/// a count (`Kysymys`, `Vaihtoehto`, `Lukumäärä`, optionally `Rooli`). Rows that cannot be used are
/// quarantined with file, row and column.
pub fn read_frequencies(
    rows: &[XRow],
    map: &[MappedItem],
    file: &str,
    quarantine: &dyn Fn(String, &'static str, String, String) -> QuarantineEntry,
) -> Result<(Vec<Frequency>, Vec<QuarantineEntry>), SourceError> {
    let text = XCell::text;
    let ((h, header), rows) = header_and_rows(rows, file)?;
    let col = |names: &[&str]| {
        header
            .iter()
            .find(|(_, v)| names.contains(&text(v).to_lowercase().as_str()))
            .map(|(c, _)| *c)
    };
    let (Some(q_col), Some(o_col), Some(n_col)) = (
        col(&["kysymys", "question", "väittämä"]),
        col(&["vaihtoehto", "option", "vastaus"]),
        col(&["lukumäärä", "count", "vastaajia", "n"]),
    ) else {
        return Err(SourceError::Malformed {
            path: file.into(),
            location: format!("line {h}"),
            message: "an aggregated export needs `Kysymys`, `Vaihtoehto` and `Lukumäärä` columns"
                .into(),
        });
    };
    let role_col = col(&["rooli", "role"]);
    let mut out = Vec::new();
    let mut rejected = Vec::new();
    for (n, cells) in rows {
        let cell = |c: usize| cells.iter().find(|(x, _)| *x == c).map(|(_, v)| v);
        let record = cells
            .iter()
            .map(|(_, v)| text(v))
            .collect::<Vec<_>>()
            .join(";");
        let question = cell(q_col).map(&text).unwrap_or_default();
        // A closing total row is not data.
        if cells
            .iter()
            .any(|(_, v)| text(v).eq_ignore_ascii_case("yhteensä"))
        {
            continue;
        }
        let Some(m) = map.iter().find(|m| m.pattern.is_match(&question)) else {
            rejected.push(quarantine(
                format!("{file}:{n}:{q_col}"),
                "unmapped_question",
                format!("question `{question}` matches no line of the question map"),
                record,
            ));
            continue;
        };
        let written_role = role_col.map(|c| cell(c).map(&text).unwrap_or_default());
        let role = written_role.as_deref().map(role_of);
        if let (Some(None), Some(r)) = (role, &written_role) {
            rejected.push(quarantine(
                format!("{file}:{n}:{}", role_col.unwrap_or(1)),
                "unknown_role",
                format!("role `{r}` is none of {}", ROLES.join(", ")),
                record,
            ));
            continue;
        }
        let role = role.flatten();
        let count = match cell(n_col) {
            Some(XCell::Number(v)) => Some(*v),
            Some(XCell::Text(t)) => t.trim().replace(',', ".").parse::<f64>().ok(),
            Some(XCell::Date(_)) | None => None,
        }
        .filter(|c| *c >= 0.0 && c.fract() == 0.0);
        let Some(count) = count else {
            rejected.push(quarantine(
                format!("{file}:{n}:{n_col}"),
                "bad_number",
                "Lukumäärä is not a whole number".into(),
                record,
            ));
            continue;
        };
        let option = cell(o_col);
        let value = match option {
            Some(XCell::Number(v)) => on_scale(*v, m),
            Some(XCell::Date(d)) => Err(format!("a date ({d}) is not an answer")),
            Some(XCell::Text(t)) => match likert(t) {
                Some(v) => Ok(v),
                None => t
                    .trim()
                    .replace(',', ".")
                    .parse::<f64>()
                    .map_err(|_| {
                        format!(
                            "`{}` is not an answer on item `{}`'s scale",
                            t.trim(),
                            m.item
                        )
                    })
                    .and_then(|v| on_scale(v, m)),
            },
            None => Ok(None),
        };
        match value {
            Ok(v) => out.push(Frequency {
                role,
                item: m.item.clone(),
                dimension: m.dimension.clone(),
                answer_type: m.answer_type,
                value: v.map(|v| m.to_common_scale(v)),
                count,
            }),
            Err(reason) => rejected.push(quarantine(
                format!("{file}:{n}:{o_col}"),
                "answer_out_of_scale",
                reason,
                record,
            )),
        }
    }
    Ok((out, rejected))
}
