//! Data signals S1–S12, the data score per dimension, and blending with the survey (method
//! tjk-1: "Data signals", "Blending").
//!
//! Each signal of a region at a date T is a ratio in [0, 1] with its numerator and denominator
//! kept; a zero denominator gives NULL, never 0. The indicator set is the run's indicators (its
//! catalogue's and its own), the window the 5 years up to T's year. Choices the method leaves
//! open, made here:
//! - "available nationally" = some region has a value for the indicator in the window (a signal
//!   never counts an indicator nobody has);
//! - S4 "delivery" of a region's own file is when mittari first archived it; the period end is
//!   31 December of the file's last year;
//! - S6 uses the run's cross-source checks that compare this region;
//! - S8 needs `kpa.national_classes` (the national service classification), else NULL;
//! - S10 counts roadmap actions with a target (level or value) and a target year, over all
//!   actions; S11 is the region's whole-roadmap SPI at T;
//! - S12 counts indicators the run has for the region by sex and by age (any non-total row).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};

use super::roadmap::{Action, Milestone, Status};

/// One computed signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// `S1` .. `S12`.
    pub id: &'static str,
    /// What it measures.
    pub name: &'static str,
    /// Numerator.
    pub numerator: f64,
    /// Denominator.
    pub denominator: f64,
    /// numerator / denominator in [0, 1]; `None` when the denominator is 0.
    pub value: Option<f64>,
}

fn signal(id: &'static str, name: &'static str, numerator: f64, denominator: f64) -> Signal {
    Signal {
        id,
        name,
        numerator,
        denominator,
        value: (denominator > 0.0).then(|| (numerator / denominator).clamp(0.0, 1.0)),
    }
}

fn n(v: usize) -> f64 {
    f64::from(u32::try_from(v).unwrap_or(u32::MAX))
}

/// One indicator value of the run.
#[derive(Debug, Clone)]
pub struct Value {
    /// Indicator id.
    pub indicator: String,
    /// Region.
    pub region: String,
    /// Its level (plausibility compares regions of one level).
    pub level: String,
    /// Year.
    pub year: i16,
    /// Value (null: missing).
    pub value: Option<f64>,
}

/// A KPA row of the region.
#[derive(Debug, Clone)]
pub struct KpaFact {
    /// Year.
    pub year: i16,
    /// Service class.
    pub class: String,
    /// Whether clients per 1 000, cost per client and needs-adjusted cost per capita all exist.
    pub complete: bool,
}

/// A region's own file.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Last year of data in it.
    pub last_year: i16,
    /// When mittari first archived it.
    pub delivered: NaiveDate,
}

/// Everything the signals read for one region.
#[derive(Debug, Clone, Default)]
pub struct Inputs<'a> {
    /// Every indicator value of the run (all regions).
    pub values: &'a [Value],
    /// (indicator, region) pairs the run has by sex, and by age.
    pub by_sex: BTreeSet<(String, String)>,
    /// Same, by age.
    pub by_age: BTreeSet<(String, String)>,
    /// The region's KPA rows.
    pub kpa: Vec<KpaFact>,
    /// The region's own files.
    pub deliveries: Vec<Delivery>,
    /// Cross-source comparisons of the region: (status).
    pub crosschecks: Vec<&'static str>,
    /// National service classes, when known.
    pub national_classes: Option<&'a [String]>,
    /// The region's roadmap.
    pub actions: &'a [Action],
    /// Its milestones.
    pub milestones: &'a [Milestone],
}

/// S1–S12 of `region` at `as_of`.
pub fn signals(region: &str, as_of: NaiveDate, inputs: &Inputs<'_>) -> Vec<Signal> {
    let year = i16::try_from(as_of.year()).unwrap_or(i16::MAX);
    let window = |y: i16| y <= year && y > year - 5;
    let inw: Vec<&Value> = inputs.values.iter().filter(|v| window(v.year)).collect();
    // Indicators available nationally, with their national latest year.
    let mut national: BTreeMap<&str, i16> = BTreeMap::new();
    for v in inw.iter().filter(|v| v.value.is_some()) {
        let e = national.entry(v.indicator.as_str()).or_insert(v.year);
        *e = (*e).max(v.year);
    }
    let mine: Vec<&&Value> = inw.iter().filter(|v| v.region == region).collect();
    let latest_of = |ind: &str| {
        mine.iter()
            .filter(|v| v.indicator == ind && v.value.is_some())
            .map(|v| v.year)
            .max()
    };
    let covered = national.keys().filter(|i| latest_of(i).is_some()).count();
    let current_year_covered = national
        .iter()
        .filter(|(i, y)| {
            mine.iter()
                .any(|v| v.indicator == **i && v.year == **y && v.value.is_some())
        })
        .count();
    let timeliness: f64 = national
        .iter()
        .map(|(i, y)| latest_of(i).map_or(0.0, |l| (1.0 - f64::from(y - l) / 3.0).max(0.0)))
        .sum();
    // S5: cells expected = indicator x window years in which it is available nationally.
    let mut expected = 0usize;
    let mut present = 0usize;
    for ind in national.keys() {
        let years: BTreeSet<i16> = inw
            .iter()
            .filter(|v| v.indicator == *ind && v.value.is_some())
            .map(|v| v.year)
            .collect();
        expected += years.len();
        present += years
            .iter()
            .filter(|y| {
                mine.iter()
                    .any(|v| v.indicator == *ind && v.year == **y && v.value.is_some())
            })
            .count();
    }
    // S7: inside the fences across regions of the same level, and no jump over 50 %.
    let mut checked = 0usize;
    let mut plausible = 0usize;
    for v in mine.iter().filter(|v| v.value.is_some()) {
        let mut peers: Vec<f64> = inw
            .iter()
            .filter(|o| o.indicator == v.indicator && o.year == v.year && o.level == v.level)
            .filter_map(|o| o.value)
            .collect();
        peers.sort_by(f64::total_cmp);
        let (Some(q1), Some(q3)) = (
            crate::stages::derive::compare::quantile(&peers, 0.25),
            crate::stages::derive::compare::quantile(&peers, 0.75),
        ) else {
            continue;
        };
        let x = v.value.unwrap_or_default();
        let iqr = q3 - q1;
        let fenced = x >= q1 - 3.0 * iqr && x <= q3 + 3.0 * iqr;
        let previous = inputs
            .values
            .iter()
            .find(|o| o.indicator == v.indicator && o.region == v.region && o.year == v.year - 1)
            .and_then(|o| o.value);
        let steady = previous.is_none_or(|p| p == 0.0 || ((x - p) / p).abs() <= 0.5);
        checked += 1;
        if fenced && steady {
            plausible += 1;
        }
    }
    let delivered: Vec<f64> = inputs
        .deliveries
        .iter()
        .filter_map(|d| {
            let end = NaiveDate::from_ymd_opt(i32::from(d.last_year), 12, 31)?;
            let days = (d.delivered - end).num_days().max(0);
            Some((1.0 - f64::from(i32::try_from(days).unwrap_or(i32::MAX)) / 365.0).max(0.0))
        })
        .collect();
    let kpa_latest = inputs.kpa.iter().map(|k| k.year).max();
    let latest_kpa: Vec<&KpaFact> = inputs
        .kpa
        .iter()
        .filter(|k| Some(k.year) == kpa_latest)
        .collect();
    let classes: BTreeSet<&str> = inputs.kpa.iter().map(|k| k.class.as_str()).collect();
    let conforming = inputs.national_classes.map(|nc| {
        classes
            .iter()
            .filter(|c| nc.iter().any(|x| x.eq_ignore_ascii_case(c)))
            .count()
    });
    let targeted = inputs
        .actions
        .iter()
        .filter(|a| {
            (a.target_level.is_some() || a.target_value.is_some()) && a.target_year.is_some()
        })
        .count();
    let spi = whole_spi(inputs.actions, inputs.milestones, as_of);
    let broken_down = national
        .keys()
        .filter(|i| {
            let key = ((**i).to_owned(), region.to_owned());
            inputs.by_sex.contains(&key) && inputs.by_age.contains(&key)
        })
        .count();
    vec![
        signal("S1", "coverage", n(covered), n(national.len())),
        signal(
            "S2",
            "latest-year coverage",
            n(current_year_covered),
            n(national.len()),
        ),
        signal("S3", "timeliness", timeliness, n(national.len())),
        signal(
            "S4",
            "own-data latency",
            delivered.iter().sum(),
            n(delivered.len()),
        ),
        signal("S5", "completeness", n(present), n(expected)),
        signal(
            "S6",
            "cross-source consistency",
            n(inputs.crosschecks.iter().filter(|s| **s == "match").count()),
            n(inputs
                .crosschecks
                .iter()
                .filter(|s| **s != "not_comparable")
                .count()),
        ),
        signal("S7", "plausibility", n(plausible), n(checked)),
        signal(
            "S8",
            "classification conformance",
            conforming.map_or(0.0, n),
            if conforming.is_some() {
                n(classes.len())
            } else {
                0.0
            },
        ),
        signal(
            "S9",
            "derived-metric readiness",
            n(latest_kpa.iter().filter(|k| k.complete).count()),
            n(latest_kpa.len()),
        ),
        signal(
            "S10",
            "target-setting",
            n(targeted),
            n(inputs.actions.len()),
        ),
        match spi {
            Some((num, den)) => signal("S11", "roadmap execution", num, den),
            None => signal("S11", "roadmap execution", 0.0, 0.0),
        },
        signal("S12", "breakdown depth", n(broken_down), n(national.len())),
    ]
}

/// (Σ w·\[done ∧ due\], Σ w·\[due\]) over all milestones, cancelled left out.
fn whole_spi(actions: &[Action], milestones: &[Milestone], as_of: NaiveDate) -> Option<(f64, f64)> {
    let (mut num, mut den) = (0.0, 0.0);
    for m in milestones.iter().filter(|m| m.status != Status::Cancelled) {
        let w = actions
            .iter()
            .find(|a| a.id == m.action)
            .map_or(1.0, |a| a.effort);
        if m.planned.is_some_and(|p| p.end <= as_of) {
            den += w;
            if m.status == Status::Done || m.done_on.is_some_and(|d| d.end <= as_of) {
                num += w;
            }
        }
    }
    (den > 0.0).then_some((num, den))
}

/// The signals of each dimension (D6, D7: survey only).
pub fn dimension_signals(dimension: &str) -> &'static [&'static str] {
    match dimension {
        "D1" => &["S10", "S11"],
        "D2" => &["S1", "S10"],
        "D3" => &["S2", "S3", "S5", "S6", "S7"],
        "D4" => &["S4", "S8"],
        "D5" => &["S9", "S12"],
        _ => &[],
    }
}

/// Data score (0–100) of a dimension: the mean of its non-null signals × 100, needing at least
/// `min_signals` of them.
pub fn data_score(dimension: &str, signals: &[Signal], min_signals: usize) -> Option<f64> {
    let v: Vec<f64> = dimension_signals(dimension)
        .iter()
        .filter_map(|id| signals.iter().find(|s| s.id == *id).and_then(|s| s.value))
        .collect();
    (v.len() >= min_signals && !v.is_empty()).then(|| v.iter().sum::<f64>() / n(v.len()) * 100.0)
}

/// The method's blending parameters.
#[derive(Debug, Clone)]
pub struct BlendParams {
    /// Weight of the survey for D2–D5.
    pub alpha: f64,
    /// Weight of the survey for D1 when S11 exists.
    pub alpha_d1: f64,
    /// No credit beyond the data level plus this.
    pub evidence_cap: f64,
    /// |S − data level| at least this: optimism / pessimism.
    pub flag_gap: f64,
    /// Signals a data score needs.
    pub min_signals: usize,
    /// Finals the overall score needs.
    pub min_dimensions: usize,
}

impl Default for BlendParams {
    fn default() -> BlendParams {
        BlendParams {
            alpha: 0.6,
            alpha_d1: 0.8,
            evidence_cap: 1.0,
            flag_gap: 1.5,
            min_signals: 2,
            min_dimensions: 5,
        }
    }
}

impl BlendParams {
    /// (name, value) pairs for `maturity_method_params`.
    pub fn rows(&self) -> Vec<(String, String)> {
        vec![
            ("blend.alpha".into(), self.alpha.to_string()),
            ("blend.alpha_d1_with_s11".into(), self.alpha_d1.to_string()),
            (
                "blend.evidence_cap_levels".into(),
                self.evidence_cap.to_string(),
            ),
            (
                "blend.optimism_pessimism_gap".into(),
                self.flag_gap.to_string(),
            ),
            (
                "data_score.min_signals".into(),
                self.min_signals.to_string(),
            ),
            (
                "overall.min_dimensions".into(),
                self.min_dimensions.to_string(),
            ),
            ("data_level.rule".into(), "1 + 4 x data_score / 100".into()),
            ("signals.window_years".into(), "5".into()),
        ]
    }
}

/// A blended dimension: final score, its source, and flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Blended {
    /// The data level, when the data score exists.
    pub data_level: Option<f64>,
    /// The final score.
    pub final_score: Option<f64>,
    /// `blended`, `survey`, `data_only` or none.
    pub source: Option<&'static str>,
    /// `survey_optimism`, `survey_pessimism`, `evidence_cap`.
    pub flags: Vec<&'static str>,
}

/// Blends a dimension's survey score with its data score.
pub fn blend(
    dimension: &str,
    survey: Option<f64>,
    data_score: Option<f64>,
    has_s11: bool,
    p: &BlendParams,
) -> Blended {
    let data_level = data_score.map(|d| 1.0 + 4.0 * d / 100.0);
    let alpha = match dimension {
        "D2" | "D3" | "D4" | "D5" => Some(p.alpha),
        "D1" if has_s11 => Some(p.alpha_d1),
        _ => None,
    };
    let mut flags = Vec::new();
    let (final_score, source) = match (survey, data_level, alpha) {
        (Some(s), Some(dl), Some(a)) => {
            if s - dl >= p.flag_gap {
                flags.push("survey_optimism");
            } else if s - dl <= -p.flag_gap {
                flags.push("survey_pessimism");
            }
            let b = a * s + (1.0 - a) * dl;
            let capped = b.min(dl + p.evidence_cap);
            if capped < b {
                flags.push("evidence_cap");
            }
            (Some(capped), Some("blended"))
        }
        (Some(s), _, _) => (Some(s), Some("survey")),
        (None, Some(dl), Some(_)) => (Some(dl), Some("data_only")),
        (None, _, _) => (None, None),
    };
    Blended {
        data_level,
        final_score,
        source,
        flags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A survey of 5 against data level 2 ends at 3 and is flagged optimistic.
    #[test]
    fn the_evidence_cap() {
        let p = BlendParams::default();
        // Data score 25 -> data level 2.
        let b = blend("D3", Some(5.0), Some(25.0), false, &p);
        assert_eq!(b.data_level, Some(2.0));
        assert_eq!(
            b.final_score,
            Some(3.0),
            "0.6 x 5 + 0.4 x 2 = 3.8, capped at 2 + 1"
        );
        assert_eq!(b.flags, ["survey_optimism", "evidence_cap"]);
        assert_eq!(b.source, Some("blended"));
        // D6 is survey only; D1 without S11 too; no survey but data: data only.
        assert_eq!(
            blend("D6", Some(4.0), Some(25.0), false, &p).final_score,
            Some(4.0)
        );
        assert_eq!(
            blend("D1", Some(4.0), Some(25.0), false, &p).source,
            Some("survey")
        );
        let d1 = blend("D1", Some(4.0), Some(75.0), true, &p);
        assert!((d1.final_score.unwrap() - (0.8 * 4.0 + 0.2 * 4.0)).abs() < 1e-12);
        let data_only = blend("D4", None, Some(50.0), false, &p);
        assert_eq!(
            (data_only.final_score, data_only.source),
            (Some(3.0), Some("data_only"))
        );
        let pess = blend("D2", Some(1.5), Some(100.0), false, &p);
        assert_eq!(pess.flags, ["survey_pessimism"]);
    }

    /// Each signal on a small constructed dataset (as of mid-2024: window 2020–2024).
    #[test]
    fn each_signal_by_hand() {
        let mut values = Vec::new();
        let mut v = |ind: &str, region: &str, year: i16, x: Option<f64>| {
            values.push(Value {
                indicator: ind.into(),
                region: region.into(),
                level: "wellbeing_county".into(),
                year,
                value: x,
            });
        };
        for y in 2020..=2024 {
            // i1: R every year (a 100 % jump in 2024), P every year.
            v("i1", "R", y, Some(if y == 2024 { 20.0 } else { 10.0 }));
            v("i1", "P", y, Some(10.0));
            // i2: R until 2022, P every year; i3: P only; i4: nobody.
            if y <= 2022 {
                v("i2", "R", y, Some(10.0));
            }
            v("i2", "P", y, Some(10.0));
            v("i3", "P", y, Some(5.0));
            v("i4", "R", y, None);
        }
        v("i1", "R", 2019, Some(10.0)); // outside the window
        let key = |i: &str| (i.to_owned(), "R".to_owned());
        let classes = vec!["Kotihoito".to_owned()];
        let action = |id: &str, level: Option<f64>| Action {
            id: id.into(),
            title: String::new(),
            dimensions: vec!["D1".into()],
            owner: None,
            start: None,
            due: None,
            status: Status::InProgress,
            target_level: level,
            target_year: Some(2025),
            metric: None,
            target_value: None,
            effort: 1.0,
        };
        let actions = [action("A", Some(3.0)), action("B", None)];
        let inputs = Inputs {
            values: &values,
            by_sex: [key("i1")].into(),
            by_age: [key("i1"), key("i2")].into(),
            kpa: vec![
                KpaFact {
                    year: 2024,
                    class: "Kotihoito".into(),
                    complete: true,
                },
                KpaFact {
                    year: 2024,
                    class: "Oma luokka".into(),
                    complete: false,
                },
                KpaFact {
                    year: 2023,
                    class: "Kotihoito".into(),
                    complete: false,
                },
            ],
            deliveries: vec![Delivery {
                last_year: 2023,
                delivered: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            }],
            crosschecks: vec!["match", "mismatch", "not_comparable"],
            national_classes: Some(&classes),
            actions: &actions,
            milestones: &[],
        };
        let s = signals("R", NaiveDate::from_ymd_opt(2024, 6, 1).unwrap(), &inputs);
        let get = |id: &str| s.iter().find(|x| x.id == id).unwrap();
        let is = |id: &str, num: f64, den: f64| {
            let x = get(id);
            assert!(
                (x.numerator - num).abs() < 1e-12 && (x.denominator - den).abs() < 1e-12,
                "{x:?}"
            );
            assert!((x.value.unwrap() - num / den).abs() < 1e-12, "{x:?}");
        };
        is("S1", 2.0, 3.0);
        is("S2", 1.0, 3.0);
        is("S3", 1.0 + 1.0 / 3.0, 3.0);
        is("S4", 1.0 - 61.0 / 365.0, 1.0);
        is("S5", 8.0, 15.0);
        is("S6", 1.0, 2.0);
        is("S7", 7.0, 8.0);
        is("S8", 1.0, 2.0);
        is("S9", 1.0, 2.0);
        is("S10", 1.0, 2.0);
        // Nothing due: a zero denominator is NULL, not 0.
        assert_eq!(get("S11").value, None);
        assert!(get("S11").denominator.abs() < f64::EPSILON);
        is("S12", 1.0, 3.0);
    }

    #[test]
    fn a_data_score_needs_two_signals() {
        let s = |id, v: Option<f64>| Signal {
            id,
            name: "",
            numerator: 0.0,
            denominator: 0.0,
            value: v,
        };
        let sig = [
            s("S2", Some(0.5)),
            s("S3", Some(1.0)),
            s("S5", None),
            s("S4", Some(0.2)),
        ];
        assert!((data_score("D3", &sig, 2).unwrap() - 75.0).abs() < 1e-12);
        assert_eq!(data_score("D4", &sig, 2), None, "only S4");
        assert_eq!(data_score("D6", &sig, 2), None);
    }
}
