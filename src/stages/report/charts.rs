//! The report's charts: the geometry of each kind computed here (scales, ticks, paths), drawn as
//! inline SVG by the components of `templates/charts.html.j2` (one macro a kind). Every chart
//! carries the table of its figures, its text alternative. Colours are the Okabe–Ito palette,
//! which reads for the common kinds of colour blindness, and series differ by dash pattern and
//! marker too, never by colour alone.

use std::fmt::Write as _;

use serde::Serialize;

use super::numbers::{Lang, number};

/// Okabe–Ito colours: blue, orange, bluish green, vermillion, reddish purple, sky blue, black.
pub const PALETTE: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000",
];

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// One series of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Its name in the legend and the table.
    pub label: String,
    /// (year, value); a missing value breaks the line.
    pub points: Vec<(i16, Option<f64>)>,
    /// The SVG dash pattern (empty: solid).
    pub dash: &'static str,
    /// Colour.
    pub color: &'static str,
}

/// A drawn line chart.
#[derive(Debug, Clone, Serialize)]
pub struct LineChart {
    /// Its id (for `aria-labelledby`).
    pub id: String,
    /// Caption.
    pub title: String,
    /// `viewBox` width and height.
    pub width: f64,
    /// See `width`.
    pub height: f64,
    /// Plot area: left, top, right, bottom.
    pub area: [f64; 4],
    /// Horizontal grid lines with their labels.
    pub y_ticks: Vec<Tick>,
    /// Year labels.
    pub x_ticks: Vec<Tick>,
    /// The lines.
    pub lines: Vec<Line>,
    /// The table: header, then a row per year.
    pub table: Table,
}

/// A tick: position and label.
#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    /// Pixel position along its axis.
    pub at: f64,
    /// Text.
    pub label: String,
}

/// A drawn series.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// Legend text.
    pub label: String,
    /// SVG path data (`M x y L x y ...`, a new `M` after a gap).
    pub path: String,
    /// The points (for markers).
    pub points: Vec<[f64; 2]>,
    /// Colour.
    pub color: &'static str,
    /// Dash pattern.
    pub dash: &'static str,
}

/// A chart's figures as a table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Table {
    /// Column headers.
    pub header: Vec<String>,
    /// Rows of cells (already formatted).
    pub rows: Vec<Vec<String>>,
}

/// A linear scale from a data range to pixels.
fn scale(lo: f64, hi: f64, from: f64, to: f64) -> impl Fn(f64) -> f64 {
    let span = if hi > lo { hi - lo } else { 1.0 };
    move |v| from + (v - lo) / span * (to - from)
}

/// Round tick values covering `lo..=hi` (about five).
fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).abs().max(f64::EPSILON);
    let raw = span / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(magnitude * 10.0);
    let first = (lo / step).floor() * step;
    let mut out = vec![first];
    // Up to the first tick at or above the largest value.
    while out.last().is_some_and(|l| *l < hi - step * 1e-9) && out.len() < 12 {
        out.push(first + step * count(out.len()));
    }
    out
}

/// The value range of a chart: from the tick below the smallest value (or 0 when all values are
/// positive and the smallest is under half the largest) to the tick above the largest.
fn range(values: &[f64]) -> (f64, f64) {
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if lo >= 0.0 && lo < hi * 0.5 {
        lo = 0.0;
    }
    if (hi - lo).abs() < f64::EPSILON {
        hi = lo + 1.0;
    }
    let ticks = nice_ticks(lo, hi);
    (
        ticks.first().copied().unwrap_or(lo),
        ticks.last().copied().unwrap_or(hi),
    )
}

/// A line chart of `series` over `years`, values shown with `decimals` decimals.
pub fn line_chart(
    id: &str,
    title: &str,
    years: &[i16],
    series: &[Series],
    decimals: usize,
    lang: Lang,
    year_header: &str,
) -> LineChart {
    let values: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().filter_map(|p| p.1))
        .collect();
    let (lo, hi) = range(&values);
    let area = [LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM];
    let y = scale(lo, hi, area[3], area[1]);
    let (first, last) = (
        years.first().copied().unwrap_or(0),
        years.last().copied().unwrap_or(0),
    );
    let x = scale(
        f64::from(first),
        f64::from(last),
        area[0] + 8.0,
        area[2] - 8.0,
    );
    let y_ticks = nice_ticks(lo, hi)
        .into_iter()
        .filter(|v| *v >= lo - 1e-9 && *v <= hi + 1e-9)
        .map(|v| Tick {
            at: y(v),
            label: number(v, tick_decimals(lo, hi, decimals), lang),
        })
        .collect();
    let every = (years.len() / 8).max(1);
    let x_ticks = years
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0 || *i + 1 == years.len())
        .map(|(_, yr)| Tick {
            at: x(f64::from(*yr)),
            label: yr.to_string(),
        })
        .collect();
    let lines = series
        .iter()
        .map(|s| {
            let mut path = String::new();
            let mut points = Vec::new();
            let mut pen_down = false;
            for (yr, v) in &s.points {
                match v {
                    Some(v) => {
                        let (px, py) = (x(f64::from(*yr)), y(*v));
                        let _ =
                            write!(path, "{}{px:.1} {py:.1} ", if pen_down { "L" } else { "M" });
                        points.push([round1(px), round1(py)]);
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            Line {
                label: s.label.clone(),
                path: path.trim_end().to_owned(),
                points,
                color: s.color,
                dash: s.dash,
            }
        })
        .collect();
    let mut header = vec![year_header.to_owned()];
    header.extend(series.iter().map(|s| s.label.clone()));
    let rows = years
        .iter()
        .map(|yr| {
            let mut row = vec![yr.to_string()];
            row.extend(series.iter().map(|s| {
                s.points
                    .iter()
                    .find(|p| p.0 == *yr)
                    .and_then(|p| p.1)
                    .map_or_else(|| "–".to_owned(), |v| number(v, decimals, lang))
            }));
            row
        })
        .collect();
    LineChart {
        id: id.to_owned(),
        title: title.to_owned(),
        width: WIDTH,
        height: HEIGHT,
        area,
        y_ticks,
        x_ticks,
        lines,
        table: Table { header, rows },
    }
}

/// Decimals of tick labels: the data's, or none when the ticks are whole.
fn tick_decimals(lo: f64, hi: f64, decimals: usize) -> usize {
    if hi - lo >= 10.0 { 0 } else { decimals.max(1) }
}

/// A count as a number of pixels' worth.
fn count(n: usize) -> f64 {
    f64::from(u32::try_from(n).unwrap_or(u32::MAX))
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// One bar of a bar chart.
#[derive(Debug, Clone)]
pub struct Bar {
    /// Its label (a region's name).
    pub label: String,
    /// Its value; `None` is drawn as no bar with `missing` as its text.
    pub value: Option<f64>,
    /// The focus region's bar.
    pub highlight: bool,
}

/// A reference line across a bar chart (the peer median, the best quartile).
#[derive(Debug, Clone)]
pub struct Reference {
    /// Its label.
    pub label: String,
    /// Its value.
    pub value: f64,
    /// Dash pattern.
    pub dash: &'static str,
}

/// A drawn horizontal bar chart.
#[derive(Debug, Clone, Serialize)]
pub struct BarChart {
    /// Its id.
    pub id: String,
    /// Caption.
    pub title: String,
    /// `viewBox` width and height.
    pub width: f64,
    /// See `width`.
    pub height: f64,
    /// The bars.
    pub bars: Vec<DrawnBar>,
    /// Reference lines.
    pub references: Vec<DrawnReference>,
    /// Where the bars start (the value 0 or the range's start).
    pub x0: f64,
    /// The table.
    pub table: Table,
}

/// A drawn bar.
#[derive(Debug, Clone, Serialize)]
pub struct DrawnBar {
    /// Label.
    pub label: String,
    /// Value text.
    pub text: String,
    /// Top.
    pub y: f64,
    /// Width in pixels (0 when missing).
    pub w: f64,
    /// Bar height.
    pub h: f64,
    /// Fill.
    pub color: &'static str,
    /// Whether the value is missing.
    pub missing: bool,
}

/// A drawn reference line.
#[derive(Debug, Clone, Serialize)]
pub struct DrawnReference {
    /// Label.
    pub label: String,
    /// x position.
    pub x: f64,
    /// Dash pattern.
    pub dash: &'static str,
}

const BAR_LEFT: f64 = 210.0;
const BAR_RIGHT: f64 = 96.0;
const BAR_ROW: f64 = 26.0;

/// A horizontal bar chart, each bar's value written beside it (`missing` for a bar without
/// one), with reference lines.
#[allow(clippy::too_many_arguments)]
pub fn bar_chart(
    id: &str,
    title: &str,
    bars: &[Bar],
    references: &[Reference],
    format: &dyn Fn(f64) -> String,
    missing: &str,
    headers: [&str; 2],
) -> BarChart {
    let values: Vec<f64> = bars
        .iter()
        .filter_map(|b| b.value)
        .chain(references.iter().map(|r| r.value))
        .collect();
    let hi = values.iter().copied().fold(0.0_f64, f64::max);
    let lo = values.iter().copied().fold(0.0_f64, f64::min);
    let x = scale(
        lo,
        if hi > lo { hi } else { lo + 1.0 },
        BAR_LEFT,
        WIDTH - BAR_RIGHT,
    );
    let x0 = x(0.0_f64.max(lo));
    let height = TOP + BAR_ROW * count(bars.len()) + 32.0;
    let drawn = bars
        .iter()
        .enumerate()
        .map(|(i, b)| DrawnBar {
            label: b.label.clone(),
            text: b.value.map_or_else(|| missing.to_owned(), format),
            y: TOP + BAR_ROW * count(i),
            w: b.value.map_or(0.0, |v| (x(v) - x0).max(0.0)),
            h: BAR_ROW - 8.0,
            color: if b.highlight { PALETTE[0] } else { PALETTE[5] },
            missing: b.value.is_none(),
        })
        .collect();
    let refs = references
        .iter()
        .map(|r| DrawnReference {
            label: format!("{}: {}", r.label, format(r.value)),
            x: x(r.value),
            dash: r.dash,
        })
        .collect();
    let mut rows: Vec<Vec<String>> = bars
        .iter()
        .map(|b| {
            vec![
                b.label.clone(),
                b.value.map_or_else(|| missing.to_owned(), format),
            ]
        })
        .collect();
    rows.extend(
        references
            .iter()
            .map(|r| vec![r.label.clone(), format(r.value)]),
    );
    BarChart {
        id: id.to_owned(),
        title: title.to_owned(),
        width: WIDTH,
        height,
        bars: drawn,
        references: refs,
        x0,
        table: Table {
            header: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_data() {
        assert_eq!(nice_ticks(0.0, 100.0), [0.0, 25.0, 50.0, 75.0, 100.0]);
        let (lo, hi) = range(&[118.0, 131.5]);
        assert!(lo <= 118.0 && hi >= 131.5 && lo > 0.0, "{lo} {hi}");
        // Small positive values start from zero.
        assert!(range(&[2.0, 9.0]).0.abs() < f64::EPSILON);
    }

    #[test]
    fn lines_break_at_missing_values_and_tables_say_so() {
        let s = Series {
            label: "Etelä-Savo".into(),
            points: vec![
                (2019, Some(10.0)),
                (2020, None),
                (2021, Some(12.0)),
                (2022, Some(11.0)),
            ],
            dash: "",
            color: PALETTE[0],
        };
        let c = line_chart(
            "c",
            "t",
            &[2019, 2020, 2021, 2022],
            &[s],
            1,
            Lang::Fi,
            "Vuosi",
        );
        let path = &c.lines[0].path;
        assert_eq!(path.matches('M').count(), 2, "{path}");
        assert_eq!(path.matches('L').count(), 1, "{path}");
        assert_eq!(c.table.rows[1], ["2020", "–"]);
        assert_eq!(c.table.rows[2], ["2021", "12,0"]);
        // Higher values are higher on the page.
        assert!(c.lines[0].points[1][1] < c.lines[0].points[0][1]);
    }

    #[test]
    fn bars_scale_from_zero_and_missing_bars_are_not_zero() {
        let bars = [
            Bar {
                label: "A".into(),
                value: Some(50.0),
                highlight: true,
            },
            Bar {
                label: "B".into(),
                value: Some(100.0),
                highlight: false,
            },
            Bar {
                label: "C".into(),
                value: None,
                highlight: false,
            },
        ];
        let refs = [Reference {
            label: "median".into(),
            value: 75.0,
            dash: "4 3",
        }];
        let fmt = |v: f64| number(v, 0, Lang::Fi);
        let c = bar_chart("b", "t", &bars, &refs, &fmt, "suppressed", ["Alue", "Arvo"]);
        assert!((c.bars[1].w - 2.0 * c.bars[0].w).abs() < 1e-9);
        assert!(c.bars[2].missing && c.bars[2].w.abs() < f64::EPSILON);
        assert_eq!(c.bars[2].text, "suppressed");
        assert!((c.references[0].x - (c.x0 + 1.5 * c.bars[0].w)).abs() < 1e-9);
        assert_eq!(c.table.rows.len(), 4);
    }
}

/// One age group of a pyramid: its label and the shares (%) of the two sides (the left side
/// empty when the data has no sexes).
#[derive(Debug, Clone)]
pub struct AgeGroup {
    /// `0–9`, ..., `90+`.
    pub label: String,
    /// Men's share of the population, %.
    pub left: Option<f64>,
    /// Women's share (or everyone's, for a one-sided pyramid), %.
    pub right: Option<f64>,
}

/// A drawn age pyramid.
#[derive(Debug, Clone, Serialize)]
pub struct Pyramid {
    /// Its id.
    pub id: String,
    /// Caption.
    pub title: String,
    /// `viewBox` width and height.
    pub width: f64,
    /// See `width`.
    pub height: f64,
    /// The centre line's x.
    pub centre: f64,
    /// Rows, oldest first: label, y, left and right bar widths and texts.
    pub rows: Vec<PyramidRow>,
    /// Side headers (left, right).
    pub sides: [String; 2],
    /// The table.
    pub table: Table,
}

/// A drawn row of a pyramid.
#[derive(Debug, Clone, Serialize)]
pub struct PyramidRow {
    /// Age group.
    pub label: String,
    /// Top.
    pub y: f64,
    /// Left bar width.
    pub left: f64,
    /// Right bar width.
    pub right: f64,
    /// Left value text.
    pub left_text: String,
    /// Right value text.
    pub right_text: String,
}

/// An age pyramid of `groups` (youngest first), two-sided when `sides[0]` is not empty.
pub fn pyramid(
    id: &str,
    title: &str,
    groups: &[AgeGroup],
    sides: [&str; 2],
    lang: Lang,
) -> Pyramid {
    let two_sided = !sides[0].is_empty();
    let hi = groups
        .iter()
        .flat_map(|g| [g.left, g.right])
        .flatten()
        .fold(0.0_f64, f64::max)
        .max(f64::EPSILON);
    let centre = if two_sided { WIDTH / 2.0 } else { 120.0 };
    let half = if two_sided {
        WIDTH / 2.0 - 90.0
    } else {
        WIDTH - 220.0
    };
    let text =
        |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{} %", number(v, 1, lang)));
    let rows = groups
        .iter()
        .rev()
        .enumerate()
        .map(|(i, g)| PyramidRow {
            label: g.label.clone(),
            y: TOP + 20.0 + BAR_ROW * count(i),
            left: g.left.map_or(0.0, |v| v / hi * half),
            right: g.right.map_or(0.0, |v| v / hi * half),
            left_text: text(g.left),
            right_text: text(g.right),
        })
        .collect();
    let mut header = vec![String::new()];
    header.extend(
        sides
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| (*s).to_owned()),
    );
    let table_rows = groups
        .iter()
        .map(|g| {
            let mut row = vec![g.label.clone()];
            if two_sided {
                row.push(text(g.left));
            }
            row.push(text(g.right));
            row
        })
        .collect();
    Pyramid {
        id: id.to_owned(),
        title: title.to_owned(),
        width: WIDTH,
        height: TOP + 20.0 + BAR_ROW * count(groups.len()) + 12.0,
        centre,
        rows,
        sides: [sides[0].to_owned(), sides[1].to_owned()],
        table: Table {
            header,
            rows: table_rows,
        },
    }
}
