//! The assess stage: knowledge-management maturity per region, as the method `tjk-1` in
//! `docs/maturity-method.md` says (survey part: ingest and aggregation).
//!
//! Per region, assessment round and dimension (D1..D7):
//! 1. a respondent's score is the mean of their non-NA `current` items of the dimension, kept
//!    only when at least half of the dimension's items are answered (the same for satisfaction
//!    and target items);
//! 2. role means over the respondents of each role;
//! 3. the survey score S = Σ w(role)·mean(role) / Σ w(role) over the roles present (weights in
//!    [`Params`]); the unweighted mean and median are reported too;
//! 4. reliability `ok` (n ≥ 5 and ≥ 3 roles), `indicative` (3 ≤ n < 5, or fewer than 3 roles),
//!    `suppressed` (n < 3: no score published); role rows with fewer than 3 respondents are never
//!    exported;
//! 5. spread: SD, IQR, a 95 % confidence interval for S (t-based, S ± t·SD/√n, when n ≥ 10; else
//!    a percentile bootstrap of respondents, B draws, seeded so that reruns agree), rwg =
//!    max(0, 1 − SD²/2) with `low_agreement` below 0.70, `role_divergence` when role means span
//!    1.0 or more;
//! 6. dissatisfaction = 5 − mean(satisfaction), development need = max(0, mean(target) − S),
//!    priority = need × dissatisfaction / 4.
//!
//! Every parameter is in [`Params`] and written to `maturity_method_params`.

pub mod roadmap;
pub mod signals;
pub mod survey;
pub mod tables;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use survey::{Answer, AnswerType};

/// The method's version.
pub const METHOD_VERSION: &str = "tjk-1";

/// Dimensions: id, Finnish and English name.
pub const DIMENSIONS: [(&str, &str, &str); 7] = [
    (
        "D1",
        "Tietojohtamisen johtaminen ja strategia",
        "KM governance and strategy",
    ),
    (
        "D2",
        "Tietotarpeet ja mittarit",
        "Information needs and indicators",
    ),
    ("D3", "Data ja sen laatu", "Data and its quality"),
    (
        "D4",
        "Järjestelmät, arkkitehtuuri ja kirjaaminen",
        "Systems, architecture, recording",
    ),
    (
        "D5",
        "Analytiikka ja raportointi",
        "Analytics and reporting",
    ),
    (
        "D6",
        "Päätöksenteko ja tiedon käyttö",
        "Decision-making use",
    ),
    (
        "D7",
        "Osaaminen, roolit ja kulttuuri",
        "Competences, roles, culture",
    ),
];

/// Levels 1..5: Finnish and English names.
pub const LEVELS: [(&str, &str); 5] = [
    ("Alkava", "initial"),
    ("Kehittyvä", "developing"),
    ("Määritelty", "defined"),
    ("Johdettu", "managed"),
    ("Uudistuva", "optimising"),
];

/// The method's parameter set.
#[derive(Debug, Clone)]
pub struct Params {
    /// Role weights.
    pub role_weights: BTreeMap<&'static str, f64>,
    /// Share of a dimension's items a respondent must answer.
    pub min_answered_share: f64,
    /// `ok` needs at least this many respondents ...
    pub ok_min_n: usize,
    /// ... and this many roles.
    pub ok_min_roles: usize,
    /// Fewer respondents than this: suppressed; also the smallest role row exported.
    pub min_n: usize,
    /// rwg below this: `low_agreement`.
    pub rwg_threshold: f64,
    /// Role means spanning this much or more: `role_divergence`.
    pub divergence: f64,
    /// Bootstrap below this many respondents.
    pub bootstrap_below_n: usize,
    /// Bootstrap draws.
    pub bootstrap_draws: usize,
    /// Bootstrap seed.
    pub bootstrap_seed: u64,
    /// Confidence level.
    pub ci_level: f64,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            role_weights: BTreeMap::from([
                ("management", 1.0),
                ("organiser_expert", 1.0),
                ("finance", 1.0),
                ("ict", 1.0),
                ("service_line", 0.5),
                ("other", 0.5),
            ]),
            min_answered_share: 0.5,
            ok_min_n: 5,
            ok_min_roles: 3,
            min_n: 3,
            rwg_threshold: 0.70,
            divergence: 1.0,
            bootstrap_below_n: 10,
            bootstrap_draws: 2000,
            bootstrap_seed: 20_201_026,
            ci_level: 0.95,
        }
    }
}

impl Params {
    /// (name, value) pairs for `maturity_method_params`.
    pub fn rows(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .role_weights
            .iter()
            .map(|(r, w)| (format!("role_weight.{r}"), w.to_string()))
            .collect();
        out.extend([
            (
                "min_answered_share".into(),
                self.min_answered_share.to_string(),
            ),
            ("reliability.ok_min_n".into(), self.ok_min_n.to_string()),
            (
                "reliability.ok_min_roles".into(),
                self.ok_min_roles.to_string(),
            ),
            ("reliability.min_n".into(), self.min_n.to_string()),
            ("role_row_min_n".into(), self.min_n.to_string()),
            (
                "rwg.low_agreement_below".into(),
                self.rwg_threshold.to_string(),
            ),
            (
                "role_divergence.at_least".into(),
                self.divergence.to_string(),
            ),
            ("ci.level".into(), self.ci_level.to_string()),
            (
                "ci.bootstrap_below_n".into(),
                self.bootstrap_below_n.to_string(),
            ),
            (
                "ci.bootstrap_draws".into(),
                self.bootstrap_draws.to_string(),
            ),
            ("ci.bootstrap_seed".into(), self.bootstrap_seed.to_string()),
            (
                "level.rule".into(),
                "clamp(floor(score + 0.5), 1, 5)".into(),
            ),
        ]);
        out
    }
}

/// A score's level.
pub fn level(score: f64) -> u8 {
    // The largest level at or below score + 0.5, at least 1.
    [2u8, 3, 4, 5]
        .into_iter()
        .rev()
        .find(|v| f64::from(*v) <= score + 0.5)
        .unwrap_or(1)
}

/// A role's row (exported only with at least `min_n` respondents).
#[derive(Debug, Clone, PartialEq)]
pub struct RoleScore {
    /// Region.
    pub region: String,
    /// Round.
    pub round: String,
    /// Dimension.
    pub dimension: String,
    /// Role.
    pub role: &'static str,
    /// Respondents with a score.
    pub n: usize,
    /// Mean of their scores.
    pub mean: f64,
}

/// The survey part of a region × round × dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionScore {
    /// Region.
    pub region: String,
    /// Round.
    pub round: String,
    /// Dimension.
    pub dimension: String,
    /// Respondents with a score.
    pub n: usize,
    /// Roles present.
    pub roles: usize,
    /// The role-weighted survey score (null when suppressed).
    pub score: Option<f64>,
    /// Unweighted mean and median of respondent scores (null when suppressed).
    pub mean: Option<f64>,
    /// Median.
    pub median: Option<f64>,
    /// Sample SD.
    pub sd: Option<f64>,
    /// Interquartile range.
    pub iqr: Option<f64>,
    /// Confidence interval of the score.
    pub ci: Option<(f64, f64)>,
    /// `t` or `bootstrap`.
    pub ci_method: Option<&'static str>,
    /// Within-group agreement.
    pub rwg: Option<f64>,
    /// Mean satisfaction.
    pub satisfaction: Option<f64>,
    /// 5 − satisfaction.
    pub dissatisfaction: Option<f64>,
    /// Mean target.
    pub target: Option<f64>,
    /// max(0, target − score).
    pub dev_need: Option<f64>,
    /// need × dissatisfaction / 4.
    pub priority: Option<f64>,
    /// ok | indicative | suppressed.
    pub reliability: &'static str,
    /// `low_agreement`, `role_divergence`.
    pub flags: Vec<&'static str>,
}

/// Scores of one survey round of one region.
pub fn aggregate(
    region: &str,
    round: &str,
    answers: &[Answer],
    params: &Params,
) -> (Vec<DimensionScore>, Vec<RoleScore>) {
    let mut dims = Vec::new();
    let mut roles_out = Vec::new();
    for (d, _, _) in DIMENSIONS {
        let of = |t: AnswerType| -> Vec<&Answer> {
            answers
                .iter()
                .filter(|a| a.dimension == d && a.answer_type == t)
                .collect()
        };
        let current = of(AnswerType::Current);
        if current.is_empty() {
            continue;
        }
        let scores = respondent_scores(&current, params);
        let satisfaction = respondent_scores(&of(AnswerType::Satisfaction), params);
        let target = respondent_scores(&of(AnswerType::Target), params);
        // Role means.
        let mut by_role: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
        for (role, s) in &scores {
            by_role.entry(role).or_default().push(*s);
        }
        let role_means: BTreeMap<&'static str, f64> =
            by_role.iter().map(|(r, v)| (*r, mean(v))).collect();
        for (role, v) in &by_role {
            if v.len() >= params.min_n {
                roles_out.push(RoleScore {
                    region: region.to_owned(),
                    round: round.to_owned(),
                    dimension: d.to_owned(),
                    role,
                    n: v.len(),
                    mean: mean(v),
                });
            }
        }
        let weighted = |means: &BTreeMap<&'static str, f64>| {
            let (num, den) = means.iter().fold((0.0, 0.0), |(n, w), (r, m)| {
                let wr = params.role_weights.get(r).copied().unwrap_or(0.0);
                (n + wr * m, w + wr)
            });
            (den > 0.0).then(|| num / den)
        };
        let values: Vec<f64> = scores.iter().map(|(_, s)| *s).collect();
        let n = values.len();
        let n_roles = by_role.len();
        let reliability = if n < params.min_n {
            "suppressed"
        } else if n >= params.ok_min_n && n_roles >= params.ok_min_roles {
            "ok"
        } else {
            "indicative"
        };
        let published = reliability != "suppressed";
        let score = weighted(&role_means).filter(|_| published);
        let sd = (n >= 2).then(|| sample_sd(&values)).filter(|_| published);
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let q = |p: f64| crate::stages::derive::compare::quantile(&sorted, p);
        let ci = score.and_then(|s| {
            if n >= params.bootstrap_below_n {
                let sd = sd?;
                let half = t_quantile(params.ci_level, n - 1) * sd
                    / f64::from(u32::try_from(n).ok()?).sqrt();
                Some(((s - half, s + half), "t"))
            } else {
                bootstrap(&scores, params, &weighted).map(|c| (c, "bootstrap"))
            }
        });
        let rwg = sd.map(|sd| (1.0 - sd * sd / 2.0).max(0.0));
        let flags = agreement_flags(rwg, &role_means, published, params);
        let mean_of = |m: &[(&'static str, f64)]| {
            let v: Vec<f64> = m.iter().map(|(_, s)| *s).collect();
            (!v.is_empty() && published).then(|| mean(&v))
        };
        let sat = mean_of(&satisfaction);
        let tgt = mean_of(&target);
        let (dissatisfaction, dev_need, priority) = need_and_priority(sat, tgt, score);
        dims.push(DimensionScore {
            region: region.to_owned(),
            round: round.to_owned(),
            dimension: d.to_owned(),
            n,
            roles: n_roles,
            score,
            mean: published.then(|| mean(&values)),
            median: q(0.5).filter(|_| published),
            sd,
            iqr: q(0.75)
                .zip(q(0.25))
                .map(|(a, b)| a - b)
                .filter(|_| published),
            ci: ci.map(|c| c.0),
            ci_method: ci.map(|c| c.1),
            rwg,
            satisfaction: sat,
            dissatisfaction,
            target: tgt,
            dev_need,
            priority,
            reliability,
            flags,
        });
    }
    (dims, roles_out)
}

/// Scores from an aggregated export (item × option counts): the same statistics at item level.
/// A role's mean is the count-weighted mean of its answers to the dimension's current items; S
/// weights roles as usual (an export without roles is one group, `roles` = 0); n is the largest
/// number of answers to one item; SD, IQR and the interval come from the pooled answers (the
/// bootstrap resamples answers). Role rows follow the anonymity rule on n.
pub fn aggregate_frequencies(
    region: &str,
    round: &str,
    freqs: &[survey::Frequency],
    params: &Params,
) -> (Vec<DimensionScore>, Vec<RoleScore>) {
    let mut dims = Vec::new();
    let mut roles_out = Vec::new();
    for (d, _, _) in DIMENSIONS {
        let of = |t: AnswerType| -> Vec<&survey::Frequency> {
            freqs
                .iter()
                .filter(|f| f.dimension == d && f.answer_type == t && f.value.is_some())
                .collect()
        };
        let current = of(AnswerType::Current);
        if current.is_empty() {
            continue;
        }
        let wmean = |v: &[&survey::Frequency]| {
            let (s, n) = v.iter().fold((0.0, 0.0), |(s, n), f| {
                (s + f.value.unwrap_or_default() * f.count, n + f.count)
            });
            (n > 0.0).then(|| s / n)
        };
        let max_item = |v: &[&survey::Frequency]| {
            let mut per: BTreeMap<&str, f64> = BTreeMap::new();
            for f in v {
                *per.entry(f.item.as_str()).or_default() += f.count;
            }
            per.values().copied().fold(0.0, f64::max)
        };
        let mut by_role: BTreeMap<Option<&'static str>, Vec<&survey::Frequency>> = BTreeMap::new();
        for f in &current {
            by_role.entry(f.role).or_default().push(f);
        }
        let mut role_means: BTreeMap<&'static str, f64> = BTreeMap::new();
        let mut plain: Option<f64> = None;
        for (role, v) in &by_role {
            let m = wmean(v);
            let n = max_item(v);
            match (role, m) {
                (Some(r), Some(m)) => {
                    role_means.insert(r, m);
                    let count = format!("{n}").parse::<usize>().unwrap_or(0);
                    if count >= params.min_n {
                        roles_out.push(RoleScore {
                            region: region.to_owned(),
                            round: round.to_owned(),
                            dimension: d.to_owned(),
                            role: r,
                            n: count,
                            mean: m,
                        });
                    }
                }
                (None, m) => plain = m,
                _ => {}
            }
        }
        let n = format!("{}", max_item(&current))
            .parse::<usize>()
            .unwrap_or(0);
        let n_roles = role_means.len();
        let reliability = if n < params.min_n {
            "suppressed"
        } else if n >= params.ok_min_n && n_roles >= params.ok_min_roles {
            "ok"
        } else {
            "indicative"
        };
        let published = reliability != "suppressed";
        let weighted = |means: &BTreeMap<&'static str, f64>| {
            let (num, den) = means.iter().fold((0.0, 0.0), |(s, w), (r, m)| {
                let wr = params.role_weights.get(r).copied().unwrap_or(0.0);
                (s + wr * m, w + wr)
            });
            (den > 0.0).then(|| num / den)
        };
        let score = if role_means.is_empty() {
            plain
        } else {
            weighted(&role_means)
        }
        .filter(|_| published);
        // Pooled answers (a count of k is k answers).
        let mut pooled: Vec<f64> = Vec::new();
        for f in &current {
            let k = format!("{}", f.count).parse::<usize>().unwrap_or(0);
            pooled.extend(std::iter::repeat_n(f.value.unwrap_or_default(), k));
        }
        pooled.sort_by(f64::total_cmp);
        let sd = (pooled.len() >= 2)
            .then(|| sample_sd(&pooled))
            .filter(|_| published);
        let q = |p: f64| crate::stages::derive::compare::quantile(&pooled, p).filter(|_| published);
        let ci = score.and_then(|s| {
            if n >= params.bootstrap_below_n {
                let half = t_quantile(params.ci_level, n - 1) * sd?
                    / f64::from(u32::try_from(n).ok()?).sqrt();
                Some(((s - half, s + half), "t"))
            } else {
                let answers: Vec<(&'static str, f64)> =
                    pooled.iter().map(|v| ("other", *v)).collect();
                let plain_mean = |m: &BTreeMap<&'static str, f64>| m.values().next().copied();
                let (lo, hi) = bootstrap(&answers, params, &plain_mean)?;
                // Shift the pooled-mean interval onto the role-weighted score.
                let centre = mean(&pooled);
                Some(((lo - centre + s, hi - centre + s), "bootstrap"))
            }
        });
        let rwg = sd.map(|sd| (1.0 - sd * sd / 2.0).max(0.0));
        let flags = agreement_flags(rwg, &role_means, published, params);
        let sat = wmean(&of(AnswerType::Satisfaction)).filter(|_| published);
        let tgt = wmean(&of(AnswerType::Target)).filter(|_| published);
        let (dissatisfaction, dev_need, priority) = need_and_priority(sat, tgt, score);
        dims.push(DimensionScore {
            region: region.to_owned(),
            round: round.to_owned(),
            dimension: d.to_owned(),
            n,
            roles: n_roles,
            score,
            mean: (!pooled.is_empty() && published).then(|| mean(&pooled)),
            median: q(0.5),
            sd,
            iqr: q(0.75).zip(q(0.25)).map(|(a, b)| a - b),
            ci: ci.map(|c| c.0),
            ci_method: ci.map(|c| c.1),
            rwg,
            satisfaction: sat,
            dissatisfaction,
            target: tgt,
            dev_need,
            priority,
            reliability,
            flags,
        });
    }
    (dims, roles_out)
}

/// `low_agreement` and `role_divergence` of a dimension.
fn agreement_flags(
    rwg: Option<f64>,
    role_means: &BTreeMap<&'static str, f64>,
    published: bool,
    params: &Params,
) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if rwg.is_some_and(|r| r < params.rwg_threshold) {
        flags.push("low_agreement");
    }
    let (lo, hi) = role_means
        .values()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), m| {
            (a.min(*m), b.max(*m))
        });
    if published && role_means.len() >= 2 && hi - lo >= params.divergence {
        flags.push("role_divergence");
    }
    flags
}

/// (dissatisfaction, development need, priority) from mean satisfaction, mean target and S.
fn need_and_priority(
    satisfaction: Option<f64>,
    target: Option<f64>,
    score: Option<f64>,
) -> (Option<f64>, Option<f64>, Option<f64>) {
    let dissatisfaction = satisfaction.map(|s| 5.0 - s);
    let dev_need = target.zip(score).map(|(t, s)| (t - s).max(0.0));
    let priority = dev_need.zip(dissatisfaction).map(|(n, d)| n * d / 4.0);
    (dissatisfaction, dev_need, priority)
}

/// (role, score) of each respondent of the answers of one dimension and answer type, kept when
/// at least the required share of the dimension's items is answered, in the order the
/// respondents first appear in the answers (their file's order). Never in the order of their
/// keys: a key is salted, and sums and the bootstrap would then change with the salt.
fn respondent_scores(answers: &[&Answer], params: &Params) -> Vec<(&'static str, f64)> {
    let items: BTreeSet<&str> = answers.iter().map(|a| a.item.as_str()).collect();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut per: Vec<(&'static str, Vec<f64>)> = Vec::new();
    for a in answers {
        let i = *index.entry(a.respondent.as_str()).or_insert_with(|| {
            per.push((a.role, Vec::new()));
            per.len() - 1
        });
        if let Some(v) = a.value {
            per[i].1.push(v);
        }
    }
    let total = f64::from(u32::try_from(items.len()).unwrap_or(u32::MAX));
    per.into_iter()
        .filter(|(_, v)| {
            !v.is_empty()
                && f64::from(u32::try_from(v.len()).unwrap_or(0))
                    >= params.min_answered_share * total
        })
        .map(|(role, v)| (role, mean(&v)))
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / f64::from(u32::try_from(v.len()).unwrap_or(u32::MAX)).max(1.0)
}

fn sample_sd(v: &[f64]) -> f64 {
    let m = mean(v);
    let n = f64::from(u32::try_from(v.len()).unwrap_or(u32::MAX));
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// Percentile bootstrap of the role-weighted score, resampling respondents (seeded).
fn bootstrap(
    respondents: &[(&'static str, f64)],
    params: &Params,
    weighted: &dyn Fn(&BTreeMap<&'static str, f64>) -> Option<f64>,
) -> Option<(f64, f64)> {
    if respondents.is_empty() {
        return None;
    }
    let mut rng = fastrand::Rng::with_seed(params.bootstrap_seed);
    let mut stats = Vec::with_capacity(params.bootstrap_draws);
    for _ in 0..params.bootstrap_draws {
        let mut by_role: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
        for _ in 0..respondents.len() {
            let (role, s) = respondents[rng.usize(0..respondents.len())];
            by_role.entry(role).or_default().push(s);
        }
        let means = by_role.iter().map(|(r, v)| (*r, mean(v))).collect();
        if let Some(s) = weighted(&means) {
            stats.push(s);
        }
    }
    stats.sort_by(f64::total_cmp);
    let alpha = (1.0 - params.ci_level) / 2.0;
    Some((
        crate::stages::derive::compare::quantile(&stats, alpha)?,
        crate::stages::derive::compare::quantile(&stats, 1.0 - alpha)?,
    ))
}

/// Student's t quantile for a two-sided `level` interval: exact table values for 1..=30 degrees
/// of freedom at 95 %, a Cornish–Fisher expansion beyond (error below 0.001).
pub fn t_quantile(level: f64, df: usize) -> f64 {
    const T975: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    if (level - 0.95).abs() < 1e-12 && (1..=30).contains(&df) {
        return T975[df - 1];
    }
    // Normal quantile of (1 + level) / 2 (Acklam's rational approximation is overkill here:
    // the level is 0.95 in the method; other levels use the standard normal quantiles below).
    let z: f64 = match level {
        l if (l - 0.90).abs() < 1e-12 => 1.644_854,
        l if (l - 0.99).abs() < 1e-12 => 2.575_829,
        _ => 1.959_964,
    };
    let v = f64::from(u32::try_from(df.max(1)).unwrap_or(u32::MAX));
    z + (z.powi(3) + z) / (4.0 * v)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_half_up_and_clamp() {
        assert_eq!(level(0.2), 1);
        assert_eq!(level(2.49), 2);
        assert_eq!(level(2.5), 3);
        assert_eq!(level(4.6), 5);
        assert_eq!(level(7.0), 5);
    }

    #[test]
    fn t_quantiles() {
        assert!((t_quantile(0.95, 9) - 2.262).abs() < 1e-12);
        assert!((t_quantile(0.95, 60) - 2.000).abs() < 0.001);
        assert!((t_quantile(0.95, 120) - 1.980).abs() < 0.001);
    }
}
