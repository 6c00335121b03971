//! Roadmap progress (method tjk-1, "Roadmap"): actions and milestones of a region's roadmap
//! workbook, and per region × dimension at an as-of date T: gap to target, milestone execution
//! (SPI), trend, projected year, on-track and RAG.
//!
//! Input: an `.xlsx` with sheets `Toimenpiteet` (actions) and `Virstanpylväät` (milestones), or
//! two `;` CSV files, with the method's Finnish headers. Dates come in every form the method
//! lists — `26.10.2020`, `10/2021`, `Q3/2021`, `syksy 2021` (Sep–Nov), `kevät 2022` (Mar–May),
//! `H1 2022`, `2022` — and keep their precision; a due date is compared at the end of its period.
//!
//! Rules (parameters in [`RoadmapParams`]):
//! - cancelled (`Peruttu`) milestones leave every count; a milestone is done when its status is
//!   `Valmis` or it has a done date on or before T; due when its planned period ends on or before
//!   T; on time when done within 30 days of the planned end; late when due and not done;
//! - SPI = Σ w·\[done ∧ due\] / Σ w·\[due\] (w = the action's effort, default 1), NULL when nothing is
//!   due; progress = Σ w·done / Σ w;
//! - gap = target level − current score; gap closed = (current − baseline) / (target − baseline),
//!   clamped to 0..100 %, NULL when the target is not above the baseline. The current score is
//!   the latest round's survey score (blending with data signals is not implemented yet), the
//!   baseline the first round's;
//! - trend: OLS slope of the score on the fractional year over three or more rounds, the
//!   two-point slope (marked) over two, none over one; projected year = last round + gap / slope
//!   when the slope is positive, else none and not converging; on track when projected ≤ target
//!   year + 0.5;
//! - RAG: green when on track, SPI ≥ 0.9 and late/due ≤ 10 %; red when not converging, SPI < 0.6
//!   or projected > target year + 2; amber otherwise; grey without enough data. With a single
//!   round (no trend) the RAG comes from SPI and gap alone: green when SPI ≥ 0.9, late/due ≤ 10 %
//!   and the target is reached (gap ≤ 0), red when SPI < 0.6, amber otherwise.

use chrono::{Datelike, NaiveDate};

use super::survey::{excel_date, parse_date};
use crate::error::SourceError;
use crate::io::tabular::{XCell, XRow, header_and_rows};

/// How precise a date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// A day.
    Day,
    /// A month.
    Month,
    /// A quarter.
    Quarter,
    /// A season (spring Mar–May, autumn Sep–Nov).
    Season,
    /// A half year.
    Half,
    /// A year.
    Year,
}

impl Precision {
    /// The name in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Day => "day",
            Precision::Month => "month",
            Precision::Quarter => "quarter",
            Precision::Season => "season",
            Precision::Half => "half_year",
            Precision::Year => "year",
        }
    }
}

/// A period: first and last day, and its precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day.
    pub start: NaiveDate,
    /// Last day (the one a due date is compared at).
    pub end: NaiveDate,
    /// Precision.
    pub precision: Precision,
}

fn month_end(y: i32, m: u32) -> Option<NaiveDate> {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1)?.pred_opt()
}

fn span(y: i32, m0: u32, m1: u32, precision: Precision) -> Option<Period> {
    Some(Period {
        start: NaiveDate::from_ymd_opt(y, m0, 1)?,
        end: month_end(y, m1)?,
        precision,
    })
}

/// Reads a date in any of the method's forms.
pub fn parse_period(s: &str) -> Option<Period> {
    let t = s.trim().to_lowercase();
    let year = |y: &str| {
        y.trim()
            .parse::<i32>()
            .ok()
            .filter(|y| (1900..=2200).contains(y))
    };
    if let Some(d) = NaiveDate::parse_from_str(&t, "%d.%m.%Y")
        .ok()
        .or_else(|| parse_date(&t).filter(|_| t.contains('-') || t.contains('.')))
    {
        return Some(Period {
            start: d,
            end: d,
            precision: Precision::Day,
        });
    }
    if let Some((q, y)) = t.strip_prefix('q').and_then(|r| r.split_once('/')) {
        let q: u32 = q.parse().ok().filter(|q| (1..=4).contains(q))?;
        return span(year(y)?, 3 * q - 2, 3 * q, Precision::Quarter);
    }
    if let Some((m, y)) = t.split_once('/') {
        let m: u32 = m.trim().parse().ok().filter(|m| (1..=12).contains(m))?;
        return span(year(y)?, m, m, Precision::Month);
    }
    if let Some(y) = t.strip_prefix("syksy") {
        return span(year(y)?, 9, 11, Precision::Season);
    }
    if let Some(y) = t.strip_prefix("kevät") {
        return span(year(y)?, 3, 5, Precision::Season);
    }
    if let Some(y) = t.strip_prefix("h1") {
        return span(year(y)?, 1, 6, Precision::Half);
    }
    if let Some(y) = t.strip_prefix("h2") {
        return span(year(y)?, 7, 12, Precision::Half);
    }
    if let Some(y) = year(&t) {
        return span(y, 1, 12, Precision::Year);
    }
    None
}

/// A roadmap action.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// Tunnus.
    pub id: String,
    /// Toimenpide.
    pub title: String,
    /// Osa-alue: dimensions D1..D7.
    pub dimensions: Vec<String>,
    /// Vastuutaho.
    pub owner: Option<String>,
    /// Alkaa.
    pub start: Option<Period>,
    /// Päättyy.
    pub due: Option<Period>,
    /// Tila.
    pub status: Status,
    /// Tavoitetaso.
    pub target_level: Option<f64>,
    /// Tavoitevuosi.
    pub target_year: Option<i32>,
    /// Mittari.
    pub metric: Option<String>,
    /// Tavoitearvo.
    pub target_value: Option<f64>,
    /// Resurssit (effort; weight of its milestones).
    pub effort: f64,
}

/// A milestone.
#[derive(Debug, Clone, PartialEq)]
pub struct Milestone {
    /// Tunnus.
    pub id: String,
    /// The action's Tunnus.
    pub action: String,
    /// Title.
    pub title: String,
    /// Suunniteltu pvm.
    pub planned: Option<Period>,
    /// Toteutunut pvm.
    pub done_on: Option<Period>,
    /// Tila.
    pub status: Status,
}

/// The method's statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Ei aloitettu.
    NotStarted,
    /// Käynnissä.
    InProgress,
    /// Valmis.
    Done,
    /// Viivästynyt.
    Late,
    /// Peruttu.
    Cancelled,
}

impl Status {
    fn parse(s: &str) -> Option<Status> {
        Some(match s.trim().to_lowercase().as_str() {
            "ei aloitettu" | "" => Status::NotStarted,
            "käynnissä" => Status::InProgress,
            "valmis" => Status::Done,
            "viivästynyt" => Status::Late,
            "peruttu" => Status::Cancelled,
            _ => return None,
        })
    }

    /// The Finnish status as written in the method.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotStarted => "Ei aloitettu",
            Status::InProgress => "Käynnissä",
            Status::Done => "Valmis",
            Status::Late => "Viivästynyt",
            Status::Cancelled => "Peruttu",
        }
    }
}

/// A date cell: a date the workbook stores as one, a text form, or an Excel serial number.
fn period_cell(c: Option<&XCell>) -> Result<Option<Period>, String> {
    match c {
        None => Ok(None),
        Some(XCell::Date(d)) => Ok(Some(Period {
            start: d.date(),
            end: d.date(),
            precision: Precision::Day,
        })),
        Some(XCell::Number(n)) if *n > 3000.0 => Ok(excel_date(*n).map(|d| Period {
            start: d,
            end: d,
            precision: Precision::Day,
        })),
        Some(c) => {
            let t = c.text();
            if t.is_empty() {
                return Ok(None);
            }
            parse_period(&t).map(Some).ok_or_else(|| format!("`{t}` is not a date (e.g. 26.10.2020, 10/2021, Q3/2021, syksy 2021, kevät 2022, H1 2022, 2022)"))
        }
    }
}

/// A row as (lower-case header, cell) pairs, with its row number.
type Record = (usize, Vec<(String, XCell)>);

/// Rows of a sheet as header -> cell maps, with their row numbers.
fn records(rows: &[XRow], file: &str, required: &[&str]) -> Result<Vec<Record>, SourceError> {
    let ((h, header), rows) = header_and_rows(rows, file)?;
    let names: Vec<(usize, String)> = header
        .iter()
        .map(|(c, v)| (*c, v.text().to_lowercase()))
        .collect();
    for r in required {
        if !names.iter().any(|(_, n)| n == &r.to_lowercase()) {
            return Err(SourceError::Malformed {
                path: file.into(),
                location: format!("line {h}"),
                message: format!(
                    "no `{r}` column; the header has: {}",
                    header
                        .iter()
                        .map(|(_, v)| v.text())
                        .collect::<Vec<_>>()
                        .join(" | ")
                ),
            });
        }
    }
    Ok(rows
        .map(|(n, cells)| {
            let rec = cells
                .iter()
                .filter_map(|(c, v)| {
                    names
                        .iter()
                        .find(|(col, _)| col == c)
                        .map(|(_, name)| (name.clone(), v.clone()))
                })
                .collect();
            (*n, rec)
        })
        .collect())
}

fn field<'a>(rec: &'a [(String, XCell)], name: &str) -> Option<&'a XCell> {
    rec.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// Dimension ids of an `Osa-alue` cell: `D3`, `D3, D5`, or dimension names.
fn dimensions_of(cell: &str) -> Vec<String> {
    cell.split([',', ';', '/'])
        .filter_map(|part| {
            let p = part.trim();
            let upper = p.to_uppercase();
            if let Some(d) = super::DIMENSIONS.iter().find(|d| upper.starts_with(d.0)) {
                return Some(d.0.to_owned());
            }
            super::DIMENSIONS
                .iter()
                .find(|d| d.1.eq_ignore_ascii_case(p) || d.2.eq_ignore_ascii_case(p))
                .map(|d| d.0.to_owned())
        })
        .collect()
}

/// Reads actions and milestones; rows that cannot be used come back as (location, reason).
pub fn read(actions: &[XRow], milestones: &[XRow], file: &str) -> Result<Roadmap, SourceError> {
    let mut bad = Vec::new();
    let mut out_a = Vec::new();
    for (n, rec) in records(actions, file, &["Tunnus", "Toimenpide", "Osa-alue", "Tila"])? {
        let t = |k: &str| field(&rec, k).map(XCell::text).filter(|s| !s.is_empty());
        let num = |k: &str| -> Result<Option<f64>, String> {
            match field(&rec, k) {
                Some(XCell::Number(v)) => Ok(Some(*v)),
                Some(XCell::Date(d)) => Err(format!("{k}: a date ({d}) is not a number")),
                Some(XCell::Text(s)) if s.trim().is_empty() => Ok(None),
                Some(XCell::Text(s)) => crate::stages::normalize::regionfile::parse_fi_number(s)
                    .map_err(|m| format!("{k}: {m}")),
                None => Ok(None),
            }
        };
        let parsed = (|| -> Result<Action, String> {
            let status_text = t("tila").unwrap_or_default();
            let status = Status::parse(&status_text).ok_or_else(|| format!("Tila `{status_text}` is none of Ei aloitettu, Käynnissä, Valmis, Viivästynyt, Peruttu"))?;
            let dims = dimensions_of(&t("osa-alue").unwrap_or_default());
            if dims.is_empty() {
                return Err(format!(
                    "Osa-alue `{}` names no dimension D1..D7",
                    t("osa-alue").unwrap_or_default()
                ));
            }
            Ok(Action {
                id: t("tunnus").ok_or("Tunnus is empty")?,
                title: t("toimenpide").unwrap_or_default(),
                dimensions: dims,
                owner: t("vastuutaho"),
                start: period_cell(field(&rec, "alkaa")).map_err(|m| format!("Alkaa: {m}"))?,
                due: period_cell(field(&rec, "päättyy")).map_err(|m| format!("Päättyy: {m}"))?,
                status,
                target_level: num("tavoitetaso")?,
                target_year: num("tavoitevuosi")?.and_then(|y| format!("{y}").parse().ok()),
                metric: t("mittari"),
                target_value: num("tavoitearvo")?,
                effort: num("resurssit")?.filter(|w| *w > 0.0).unwrap_or(1.0),
            })
        })();
        match parsed {
            Ok(a) => out_a.push(a),
            Err(reason) => bad.push((format!("{file}: Toimenpiteet row {n}"), reason)),
        }
    }
    let mut out_m = Vec::new();
    for (n, rec) in records(
        milestones,
        file,
        &["Tunnus", "Toimenpide", "Suunniteltu pvm"],
    )? {
        let t = |k: &str| field(&rec, k).map(XCell::text).filter(|s| !s.is_empty());
        let parsed = (|| -> Result<Milestone, String> {
            let status_text = t("tila").unwrap_or_default();
            Ok(Milestone {
                id: t("tunnus").ok_or("Tunnus is empty")?,
                action: t("toimenpide").ok_or("Toimenpide is empty")?,
                title: t("virstanpylväs").unwrap_or_default(),
                planned: period_cell(field(&rec, "suunniteltu pvm"))
                    .map_err(|m| format!("Suunniteltu pvm: {m}"))?,
                done_on: period_cell(field(&rec, "toteutunut pvm"))
                    .map_err(|m| format!("Toteutunut pvm: {m}"))?,
                status: Status::parse(&status_text)
                    .ok_or_else(|| format!("Tila `{status_text}` is not a status"))?,
            })
        })();
        match parsed {
            Ok(m) if out_a.iter().any(|a: &Action| a.id == m.action) => out_m.push(m),
            Ok(m) => bad.push((
                format!("{file}: Virstanpylväät row {n}"),
                format!("action `{}` is not in Toimenpiteet", m.action),
            )),
            Err(reason) => bad.push((format!("{file}: Virstanpylväät row {n}"), reason)),
        }
    }
    Ok(Roadmap {
        actions: out_a,
        milestones: out_m,
        rejected: bad,
    })
}

/// A roadmap as read.
#[derive(Debug, Clone, Default)]
pub struct Roadmap {
    /// Actions.
    pub actions: Vec<Action>,
    /// Milestones of those actions.
    pub milestones: Vec<Milestone>,
    /// Rows that could not be used: (location, reason).
    pub rejected: Vec<(String, String)>,
}

/// Thresholds of the RAG and the on-time grace.
#[derive(Debug, Clone)]
pub struct RoadmapParams {
    /// Days after the planned end a milestone still counts as on time.
    pub on_time_days: i64,
    /// Green needs SPI at least this ...
    pub green_spi: f64,
    /// ... and late/due at most this.
    pub green_late_share: f64,
    /// Red below this SPI.
    pub red_spi: f64,
    /// On track: projected year ≤ target year + this.
    pub on_track_slack: f64,
    /// Red: projected year > target year + this.
    pub red_slack: f64,
}

impl Default for RoadmapParams {
    fn default() -> RoadmapParams {
        RoadmapParams {
            on_time_days: 30,
            green_spi: 0.9,
            green_late_share: 0.10,
            red_spi: 0.6,
            on_track_slack: 0.5,
            red_slack: 2.0,
        }
    }
}

impl RoadmapParams {
    /// (name, value) pairs for `maturity_method_params`.
    pub fn rows(&self) -> Vec<(String, String)> {
        vec![
            ("roadmap.on_time_days".into(), self.on_time_days.to_string()),
            ("roadmap.green_spi".into(), self.green_spi.to_string()),
            (
                "roadmap.green_late_share".into(),
                self.green_late_share.to_string(),
            ),
            ("roadmap.red_spi".into(), self.red_spi.to_string()),
            (
                "roadmap.on_track_slack_years".into(),
                self.on_track_slack.to_string(),
            ),
            ("roadmap.red_slack_years".into(), self.red_slack.to_string()),
        ]
    }
}

/// Progress of one region × dimension at T.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Dimension.
    pub dimension: String,
    /// Milestones (cancelled excluded).
    pub total: usize,
    /// Due by T.
    pub due: usize,
    /// Done by T.
    pub done: usize,
    /// Done within the grace of the planned end.
    pub done_on_time: usize,
    /// Due and not done.
    pub late: usize,
    /// Largest overdue of a late milestone, days.
    pub max_overdue_days: Option<i64>,
    /// done / total × 100.
    pub pct_done: Option<f64>,
    /// Schedule performance index.
    pub spi: Option<f64>,
    /// Effort-weighted done share × 100.
    pub progress_pct: Option<f64>,
    /// Highest target level of the dimension's actions, and its (latest) target year.
    pub target_level: Option<f64>,
    /// Target year.
    pub target_year: Option<i32>,
    /// First round's score.
    pub baseline: Option<f64>,
    /// Latest round's score.
    pub current: Option<f64>,
    /// target − current.
    pub gap: Option<f64>,
    /// Share of the gap closed since the baseline, %.
    pub gap_closed_pct: Option<f64>,
    /// Score per year.
    pub slope: Option<f64>,
    /// `ols`, `two_point` or none.
    pub trend_method: Option<&'static str>,
    /// When the target would be reached at the trend.
    pub projected_year: Option<f64>,
    /// Slope > 0.
    pub converging: Option<bool>,
    /// Projected ≤ target year + slack.
    pub on_track: Option<bool>,
    /// green | amber | red | grey.
    pub rag: &'static str,
}

/// Progress per dimension of one region: `rounds` are (fractional year, score) per round of the
/// dimension, oldest first.
pub fn progress(
    dimension: &str,
    actions: &[Action],
    milestones: &[Milestone],
    rounds: &[(f64, f64)],
    as_of: NaiveDate,
    params: &RoadmapParams,
) -> Progress {
    let mine: Vec<&Action> = actions
        .iter()
        .filter(|a| a.dimensions.iter().any(|d| d == dimension))
        .collect();
    let effort = |m: &Milestone| {
        mine.iter()
            .find(|a| a.id == m.action)
            .map_or(1.0, |a| a.effort)
    };
    let ms: Vec<&Milestone> = milestones
        .iter()
        .filter(|m| m.status != Status::Cancelled && mine.iter().any(|a| a.id == m.action))
        .collect();
    let is_done =
        |m: &Milestone| m.status == Status::Done || m.done_on.is_some_and(|d| d.end <= as_of);
    let is_due = |m: &Milestone| m.planned.is_some_and(|p| p.end <= as_of);
    let (mut due, mut done, mut on_time, mut late) = (0, 0, 0, 0);
    let (mut w_due, mut w_done_due, mut w_all, mut w_done) = (0.0, 0.0, 0.0, 0.0);
    let mut max_overdue: Option<i64> = None;
    for m in &ms {
        let w = effort(m);
        w_all += w;
        let (d, fin) = (is_due(m), is_done(m));
        if fin {
            done += 1;
            w_done += w;
            if let (Some(p), Some(on)) = (m.planned, m.done_on)
                && (on.end - p.end).num_days() <= params.on_time_days
            {
                on_time += 1;
            }
        }
        if d {
            due += 1;
            w_due += w;
            if fin {
                w_done_due += w;
            } else {
                late += 1;
                let over = m.planned.map(|p| (as_of - p.end).num_days());
                max_overdue = max_overdue.max(over);
            }
        }
    }
    let spi = (w_due > 0.0).then(|| (w_done_due / w_due).clamp(0.0, 1.0));
    let target = mine
        .iter()
        .filter_map(|a| a.target_level.map(|l| (l, a.target_year)))
        .fold(None, |acc: Option<(f64, Option<i32>)>, (l, y)| match acc {
            Some((al, ay)) if al > l => Some((al, ay)),
            Some((al, ay)) if (al - l).abs() < f64::EPSILON => Some((al, ay.max(y))),
            _ => Some((l, y)),
        });
    let (target_level, target_year) = (target.map(|t| t.0), target.and_then(|t| t.1));
    let baseline = rounds.first().map(|r| r.1);
    let current = rounds.last().map(|r| r.1);
    let gap = target_level.zip(current).map(|(t, c)| t - c);
    let gap_closed_pct = match (target_level, baseline, current) {
        (Some(t), Some(b), Some(c)) if t > b => Some(((c - b) / (t - b)).clamp(0.0, 1.0) * 100.0),
        _ => None,
    };
    let (slope, trend_method) = match rounds.len() {
        0 | 1 => (None, None),
        2 => {
            let ((x0, y0), (x1, y1)) = (rounds[0], rounds[1]);
            ((x1 > x0).then(|| (y1 - y0) / (x1 - x0)), Some("two_point"))
        }
        _ => (ols_slope(rounds), Some("ols")),
    };
    let converging = slope.map(|s| s > 0.0);
    let projected_year = match (slope, gap, rounds.last()) {
        (Some(s), Some(g), Some((t_last, _))) if s > 0.0 => Some(t_last + g.max(0.0) / s),
        _ => None,
    };
    let on_track = projected_year
        .zip(target_year)
        .map(|(p, y)| p <= f64::from(y) + params.on_track_slack);
    let late_share = (due > 0).then(|| {
        f64::from(u32::try_from(late).unwrap_or(u32::MAX))
            / f64::from(u32::try_from(due).unwrap_or(u32::MAX))
    });
    let green_schedule = spi.is_some_and(|s| s >= params.green_spi)
        && late_share.is_none_or(|l| l <= params.green_late_share);
    let rag = if slope.is_none() {
        // One round: SPI and gap only.
        match (spi, gap) {
            (None, _) | (_, None) => "grey",
            (Some(s), _) if s < params.red_spi => "red",
            (Some(_), Some(g)) if green_schedule && g <= 0.0 => "green",
            _ => "amber",
        }
    } else if converging == Some(false)
        || spi.is_some_and(|s| s < params.red_spi)
        || projected_year
            .zip(target_year)
            .is_some_and(|(p, y)| p > f64::from(y) + params.red_slack)
    {
        "red"
    } else if spi.is_none() || target_year.is_none() {
        "grey"
    } else if on_track == Some(true) && green_schedule {
        "green"
    } else {
        "amber"
    };
    let count = |n: usize| f64::from(u32::try_from(n).unwrap_or(u32::MAX));
    Progress {
        dimension: dimension.to_owned(),
        total: ms.len(),
        due,
        done,
        done_on_time: on_time,
        late,
        max_overdue_days: max_overdue,
        pct_done: (!ms.is_empty()).then(|| count(done) / count(ms.len()) * 100.0),
        spi,
        progress_pct: (w_all > 0.0).then(|| w_done / w_all * 100.0),
        target_level,
        target_year,
        baseline,
        current,
        gap,
        gap_closed_pct,
        slope,
        trend_method,
        projected_year,
        converging,
        on_track,
        rag,
    }
}

/// Ordinary least-squares slope of y on x.
fn ols_slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = f64::from(u32::try_from(points.len()).ok()?);
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    (sxx > 0.0).then(|| points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx)
}

/// A fractional year: 2020-07-02 -> 2020.5.
pub fn fractional_year(d: NaiveDate) -> f64 {
    let days = if d.leap_year() { 366.0 } else { 365.0 };
    f64::from(d.year()) + f64::from(d.ordinal0()) / days
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn every_date_form_with_its_precision() {
        let p = |s| parse_period(s).unwrap();
        assert_eq!(
            p("26.10.2020"),
            Period {
                start: d(2020, 10, 26),
                end: d(2020, 10, 26),
                precision: Precision::Day
            }
        );
        assert_eq!(
            p("10/2021"),
            Period {
                start: d(2021, 10, 1),
                end: d(2021, 10, 31),
                precision: Precision::Month
            }
        );
        assert_eq!(
            p("Q3/2021"),
            Period {
                start: d(2021, 7, 1),
                end: d(2021, 9, 30),
                precision: Precision::Quarter
            }
        );
        assert_eq!(
            p("syksy 2021"),
            Period {
                start: d(2021, 9, 1),
                end: d(2021, 11, 30),
                precision: Precision::Season
            }
        );
        assert_eq!(
            p("kevät 2022"),
            Period {
                start: d(2022, 3, 1),
                end: d(2022, 5, 31),
                precision: Precision::Season
            }
        );
        assert_eq!(
            p("H1 2022"),
            Period {
                start: d(2022, 1, 1),
                end: d(2022, 6, 30),
                precision: Precision::Half
            }
        );
        assert_eq!(
            p("2022"),
            Period {
                start: d(2022, 1, 1),
                end: d(2022, 12, 31),
                precision: Precision::Year
            }
        );
        assert_eq!(p("2/2024").end, d(2024, 2, 29));
        assert_eq!(parse_period("Q5/2021"), None);
        assert_eq!(parse_period("joskus"), None);
    }

    fn action(id: &str, effort: f64) -> Action {
        Action {
            id: id.into(),
            title: String::new(),
            dimensions: vec!["D3".into()],
            owner: None,
            start: None,
            due: None,
            status: Status::InProgress,
            target_level: Some(3.5),
            target_year: Some(2025),
            metric: None,
            target_value: None,
            effort,
        }
    }

    fn ms(id: &str, action: &str, planned: &str, done: Option<&str>, status: Status) -> Milestone {
        Milestone {
            id: id.into(),
            action: action.into(),
            title: String::new(),
            planned: parse_period(planned),
            done_on: done.and_then(parse_period),
            status,
        }
    }

    /// SPI with a cancelled and a late milestone: four milestones due by 1.1.2023 (one
    /// cancelled, so three), two of them done (one 60 days late), weights 2 and 1.
    #[test]
    fn spi_with_cancelled_and_late_milestones() {
        let actions = [action("A", 2.0), action("B", 1.0)];
        let m = [
            ms("1", "A", "3/2022", Some("15.3.2022"), Status::Done),
            ms("2", "A", "Q2/2022", None, Status::Late),
            ms("3", "B", "kevät 2022", Some("30.7.2022"), Status::Done),
            ms("4", "B", "2022", None, Status::Cancelled),
            ms("5", "B", "H1 2023", None, Status::NotStarted),
        ];
        let p = progress(
            "D3",
            &actions,
            &m,
            &[(2020.8, 2.0), (2022.8, 2.6)],
            d(2023, 1, 1),
            &RoadmapParams::default(),
        );
        assert_eq!((p.total, p.due, p.done, p.late), (4, 3, 2, 1));
        assert_eq!(
            p.done_on_time, 1,
            "the spring milestone was done 60 days after 31 May"
        );
        // (2 [done, A] + 1 [done, B]) / (2 + 2 + 1)
        assert!((p.spi.unwrap() - 3.0 / 5.0).abs() < 1e-12);
        assert!((p.progress_pct.unwrap() - 3.0 / 6.0 * 100.0).abs() < 1e-12);
        assert_eq!(
            p.max_overdue_days,
            Some((d(2023, 1, 1) - d(2022, 6, 30)).num_days())
        );
        // Two rounds: the two-point slope 0.3 a year; gap 0.9 -> projected 2025.8, not on track.
        assert_eq!(p.trend_method, Some("two_point"));
        assert!((p.slope.unwrap() - 0.3).abs() < 1e-9);
        assert!((p.projected_year.unwrap() - 2025.8).abs() < 1e-9);
        assert_eq!(p.on_track, Some(false));
        assert!((p.gap_closed_pct.unwrap() - 0.6 / 1.5 * 100.0).abs() < 1e-9);
        assert_eq!(
            p.rag, "amber",
            "SPI 0.6 is not below 0.6; late, not on track"
        );
    }

    #[test]
    fn one_round_rag_from_spi_and_gap_and_a_falling_trend_is_red() {
        let actions = [action("A", 1.0)];
        let m = [ms("1", "A", "3/2022", Some("1.3.2022"), Status::Done)];
        let params = RoadmapParams::default();
        let one = progress("D3", &actions, &m, &[(2022.8, 3.6)], d(2023, 1, 1), &params);
        assert_eq!((one.slope, one.trend_method), (None, None));
        assert_eq!(one.rag, "green", "SPI 1 and the target 3.5 reached");
        let one_short = progress("D3", &actions, &m, &[(2022.8, 2.0)], d(2023, 1, 1), &params);
        assert_eq!(one_short.rag, "amber");
        let falling = progress(
            "D3",
            &actions,
            &m,
            &[(2020.8, 2.6), (2021.8, 2.5), (2022.8, 2.4)],
            d(2023, 1, 1),
            &params,
        );
        assert_eq!(falling.trend_method, Some("ols"));
        assert_eq!(falling.converging, Some(false));
        assert_eq!(falling.projected_year, None);
        assert_eq!(falling.rag, "red");
        let nothing_due = progress(
            "D3",
            &actions,
            &[ms("1", "A", "2030", None, Status::NotStarted)],
            &[(2022.8, 2.0)],
            d(2023, 1, 1),
            &params,
        );
        assert_eq!((nothing_due.spi, nothing_due.rag), (None, "grey"));
    }
}
