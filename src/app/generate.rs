//! `mittari generate` (hidden from the main help): a national-scale synthetic input set in the
//! real source formats, for the benchmark (`benches/run.sh`) and its smoke test.
//!
//! At scale 1 (and the default 20 years): 64 Sotkanet indicators (`/json` payloads) × every municipality of the reference
//! division, every county and the country × 20 years (2005–2024) × 3 genders, about 1.27 M rows,
//! plus StatFin-shaped JSON-stat population by municipality, sex, single year of age (with the
//! `SSS` total) and year, 1.89 M cells. The number of indicators grows with the scale (16: 1 024
//! indicators, 20.3 M Sotkanet rows). Indicators cycle through four kinds, as Sotkanet publishes
//! them: a share in % with the persons counted in `absValue` (re-aggregated as a ratio to the
//! population), a rate per 1 000 (a mean weighted by population), a count, and an index
//! (published at every level). County and country rows are computed from the municipalities the
//! way THL does. About 2 % of municipal values by sex and 0.1 % of totals are missing (the row is
//! there without `value`), and
//! about 1 % of single-age population cells are null with status `..`.
//!
//! It also writes `pipeline.toml` (the mittari pipeline over these files), `regions.csv` (Sotkanet
//! id, code, level and county of every region used: the classification the peers need as data)
//! and `indicators.csv` (id, kind, scale: the catalogue the peers implement). Values come from a
//! seeded generator: the same scale gives the same bytes.
//!
//! SYNTHETIC: nothing here is statistics.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{ConfigError, Error, InternalError};
use crate::io::atomic::write_error;
use crate::model::regions::Registry;

/// The last year generated.
pub const LAST_YEAR: i16 = 2024;
/// Indicators at scale 1.
pub const INDICATORS_PER_SCALE: f64 = 64.0;
/// The reference division.
pub const REFERENCE_YEAR: i16 = 2025;
/// First Sotkanet indicator id used.
const FIRST_ID: u32 = 100_001;

/// The four kinds of generated indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A share in %, `absValue` the persons: a ratio to the population.
    Share,
    /// A rate per 1 000: a mean weighted by population.
    Rate,
    /// A count.
    Count,
    /// An index, published at every level.
    Index,
}

impl Kind {
    fn of(i: usize) -> Kind {
        [Kind::Share, Kind::Rate, Kind::Count, Kind::Index][i % 4]
    }

    /// The name in `indicators.csv`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Share => "share",
            Kind::Rate => "rate",
            Kind::Count => "count",
            Kind::Index => "index",
        }
    }
}

/// What was generated.
#[derive(Debug)]
pub struct Generated {
    /// Sotkanet indicators.
    pub indicators: usize,
    /// Sotkanet rows.
    pub sotkanet_rows: usize,
    /// JSON-stat cells.
    pub jsonstat_cells: usize,
    /// The pipeline file.
    pub pipeline: PathBuf,
}

/// A small deterministic generator (`SplitMix64`), so that the data set depends on the scale only.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    #[allow(clippy::cast_precision_loss)] // 53 random bits into an f64's mantissa.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

/// One municipality: code, Sotkanet id, county, and population by year index.
struct Muni {
    code: String,
    sotkanet_id: i64,
    county: String,
    /// Total, male, female per year.
    population: Vec<[f64; 3]>,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Writes the data set into `dir`: `scale` × 64 indicators over the `years` years up to 2024.
pub fn generate(dir: &Path, scale: f64, years: u8) -> Result<Generated, Error> {
    if !(scale.is_finite() && scale > 0.0) || years == 0 || years > 50 {
        return Err(ConfigError::Usage {
            message: format!(
                "`--scale` must be a positive number (not {scale}) and `--years` 1 to 50 (not {years})"
            ),
        }
        .into());
    }
    let registry = Registry::builtin()?;
    let cw = registry
        .crosswalk(REFERENCE_YEAR)
        .map_err(InternalError::Invariant)?;
    let mut rng = Rng(0x6d69_7474_6172_6931);
    let years: Vec<i16> = (LAST_YEAR - i16::from(years) + 1..=LAST_YEAR).collect();
    let sotkanet_id = |code: &str| registry.get(code).and_then(|r| r.sotkanet_id);

    // Municipalities with a Sotkanet id, and their populations.
    let mut munis = Vec::new();
    for (county, members) in cw.members() {
        for code in members {
            let Some(id) = sotkanet_id(code) else {
                continue;
            };
            let base = rng.between(800f64.ln(), 250_000f64.ln()).exp();
            let drift = rng.between(-0.012, 0.015);
            let male_share = rng.between(0.48, 0.51);
            let population = (0..years.len())
                .map(|y| {
                    let y = i32::try_from(y).unwrap_or(i32::MAX);
                    let total = (base * (1.0 + drift).powi(y)).round();
                    let male = (total * male_share).round();
                    [total, male, total - male]
                })
                .collect();
            munis.push(Muni {
                code: code.clone(),
                sotkanet_id: id,
                county: county.clone(),
                population,
            });
        }
    }
    let counties: Vec<(String, i64)> = cw
        .members()
        .keys()
        .filter_map(|c| Some((c.clone(), sotkanet_id(c)?)))
        .collect();
    let country = sotkanet_id("SSS")
        .ok_or_else(|| InternalError::Invariant("the country has no Sotkanet id".into()))?;

    let create = |p: &Path| -> Result<std::io::BufWriter<std::fs::File>, InternalError> {
        if let Some(d) = p.parent() {
            fs_err::create_dir_all(d).map_err(|e| write_error(d, e))?;
        }
        let f = fs_err::File::create(p).map_err(|e| write_error(p, e))?;
        Ok(std::io::BufWriter::with_capacity(1 << 20, f.into_parts().0))
    };

    // regions.csv
    let path = dir.join("regions.csv");
    let mut w = create(&path)?;
    let mut text = String::from("sotkanet_id,code,level,county\n");
    for m in &munis {
        let _ = writeln!(
            text,
            "{},{},municipality,{}",
            m.sotkanet_id, m.code, m.county
        );
    }
    for (c, id) in &counties {
        let _ = writeln!(text, "{id},{c},wellbeing_county,");
    }
    let _ = writeln!(text, "{country},SSS,country,");
    w.write_all(text.as_bytes())
        .map_err(|e| write_error(&path, e))?;
    w.flush().map_err(|e| write_error(&path, e))?;

    // Sotkanet payloads.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = (INDICATORS_PER_SCALE * scale).ceil().max(1.0) as usize;
    let mut rows = 0;
    let mut catalogue = String::from("indicator,kind,scale\n");
    let mut pipeline = pipeline_head(&years);
    for i in 0..n {
        let kind = Kind::of(i);
        let id = FIRST_ID + u32::try_from(i).unwrap_or(u32::MAX);
        let path = dir.join(format!("sotkanet/{id}.json"));
        rows += write_indicator(
            &path, id, kind, &munis, &counties, country, &years, &mut rng, &create,
        )?;
        let scale = if kind == Kind::Share { 100 } else { 1 };
        let _ = writeln!(catalogue, "{id},{},{scale}", kind.name());
        pipeline.push_str(&pipeline_indicator(id, kind));
    }
    let path = dir.join("indicators.csv");
    fs_err::write(&path, catalogue).map_err(|e| write_error(&path, e))?;

    // JSON-stat population.
    let path = dir.join("statfin/population_by_age.json");
    let cells = write_population(&path, &munis, &years, &mut rng, &create)?;

    let path = dir.join("pipeline.toml");
    fs_err::write(&path, pipeline).map_err(|e| write_error(&path, e))?;
    Ok(Generated {
        indicators: n,
        sotkanet_rows: rows,
        jsonstat_cells: cells,
        pipeline: path,
    })
}

#[allow(clippy::too_many_arguments)]
fn write_indicator(
    path: &Path,
    id: u32,
    kind: Kind,
    munis: &[Muni],
    counties: &[(String, i64)],
    country: i64,
    years: &[i16],
    rng: &mut Rng,
    create: &dyn Fn(&Path) -> Result<std::io::BufWriter<std::fs::File>, InternalError>,
) -> Result<usize, InternalError> {
    let mut w = create(path)?;
    let mut out = String::with_capacity(1 << 20);
    let mut rows = 0;
    out.push('[');
    let mut first = true;
    let mut row =
        |out: &mut String, region: i64, year: i16, g: usize, v: Option<(f64, Option<f64>)>| {
            if !first {
                out.push(',');
            }
            first = false;
            let gender = ["total", "male", "female"][g];
            let _ = write!(
                out,
                "\n{{\"indicator\":{id},\"region\":{region},\"year\":{year},\"gender\":\"{gender}\""
            );
            if let Some((value, abs)) = v {
                let _ = write!(out, ",\"value\":{value}");
                if let Some(a) = abs {
                    let _ = write!(out, ",\"absValue\":{a}");
                }
            }
            out.push('}');
            rows += 1;
        };
    // Each municipality's level for this indicator, then a value per year and gender.
    let level: Vec<f64> = munis
        .iter()
        .map(|_| match kind {
            Kind::Share => rng.between(0.02, 0.30),
            Kind::Rate => rng.between(50.0, 3000.0),
            Kind::Count => rng.between(0.001, 0.05),
            Kind::Index => rng.between(60.0, 140.0),
        })
        .collect();
    for (y, &year) in years.iter().enumerate() {
        // Per gender: sums over municipalities for the county and country rows.
        let mut county_sums: std::collections::BTreeMap<&str, [[f64; 3]; 3]> =
            std::collections::BTreeMap::new();
        let mut country_sum = [[0.0f64; 3]; 3];
        for (m, muni) in munis.iter().enumerate() {
            let trend = 1.0 + 0.01 * f64::from(year - years[0]);
            for (g, &pop) in muni.population[y].iter().enumerate() {
                // Suppressed: mostly by sex, rarely the total (as Sotkanet's small cells).
                let missing = rng.unit() < if g == 0 { 0.001 } else { 0.02 };
                let (value, abs, weight) = match kind {
                    Kind::Share => {
                        let a = (pop * level[m] * rng.between(0.95, 1.05)).round();
                        (round1(a / pop * 100.0), Some(a), a)
                    }
                    Kind::Rate => {
                        let v = round1(level[m] * trend * rng.between(0.9, 1.1));
                        (v, None, v * pop)
                    }
                    Kind::Count => {
                        let v = (pop * level[m] * rng.between(0.9, 1.1)).round();
                        (v, None, v)
                    }
                    Kind::Index => {
                        let v = round1(level[m] * rng.between(0.95, 1.05));
                        (v, None, v * pop)
                    }
                };
                row(
                    &mut out,
                    muni.sotkanet_id,
                    year,
                    g,
                    (!missing).then_some((value, abs)),
                );
                for s in [
                    &mut county_sums.entry(muni.county.as_str()).or_default()[g],
                    &mut country_sum[g],
                ] {
                    s[0] += weight;
                    s[1] += pop;
                    s[2] += abs.unwrap_or(0.0);
                }
            }
        }
        let published = |s: [f64; 3]| -> (f64, Option<f64>) {
            match kind {
                Kind::Share => (round1(s[2] / s[1] * 100.0), Some(s[2])),
                Kind::Rate | Kind::Index => (round1(s[0] / s[1]), None),
                Kind::Count => (s[0], None),
            }
        };
        for (code, sotkanet) in counties {
            let Some(sums) = county_sums.get(code.as_str()) else {
                continue;
            };
            for (g, s) in sums.iter().enumerate() {
                row(&mut out, *sotkanet, year, g, Some(published(*s)));
            }
        }
        for (g, s) in country_sum.iter().enumerate() {
            row(&mut out, country, year, g, Some(published(*s)));
        }
        w.write_all(out.as_bytes())
            .map_err(|e| write_error(path, e))?;
        out.clear();
    }
    w.write_all(b"\n]\n").map_err(|e| write_error(path, e))?;
    w.flush().map_err(|e| write_error(path, e))?;
    Ok(rows)
}

/// StatFin-shaped JSON-stat 2.0: `alue` × `sukupuoli` × `ika` (`SSS`, 0–100) × `vuosi` ×
/// `tiedot` (`vaesto`), dense.
fn write_population(
    path: &Path,
    munis: &[Muni],
    years: &[i16],
    rng: &mut Rng,
    create: &dyn Fn(&Path) -> Result<std::io::BufWriter<std::fs::File>, InternalError>,
) -> Result<usize, InternalError> {
    let mut w = create(path)?;
    let mut head = String::new();
    let quoted = |items: &mut dyn Iterator<Item = String>| {
        items
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    let areas = quoted(&mut munis.iter().map(|m| m.code.clone()));
    let ages =
        quoted(&mut std::iter::once("SSS".to_owned()).chain((0..=100).map(|a| a.to_string())));
    let year_list = quoted(&mut years.iter().map(ToString::to_string));
    let _ = write!(
        head,
        "{{\"version\":\"2.0\",\"class\":\"dataset\",\"label\":\"SYNTHETIC population by area, sex, single year of age and year (shaped like StatFin 11re; not statistics)\",\"source\":\"mittari generate (SYNTHETIC)\",\"updated\":\"2026-11-22T00:00:00Z\",\"id\":[\"alue\",\"sukupuoli\",\"ika\",\"vuosi\",\"tiedot\"],\"size\":[{},3,102,{},1],\"role\":{{\"geo\":[\"alue\"],\"time\":[\"vuosi\"],\"metric\":[\"tiedot\"]}},\"dimension\":{{\"alue\":{{\"category\":{{\"index\":[{areas}]}}}},\"sukupuoli\":{{\"category\":{{\"index\":[\"SSS\",\"1\",\"2\"]}}}},\"ika\":{{\"category\":{{\"index\":[{ages}]}}}},\"vuosi\":{{\"category\":{{\"index\":[{year_list}]}}}},\"tiedot\":{{\"category\":{{\"index\":[\"vaesto\"]}}}}}},\"value\":[",
        munis.len(),
        years.len()
    );
    w.write_all(head.as_bytes())
        .map_err(|e| write_error(path, e))?;
    // Age profile: a smooth share per single year (sums to 1 over 0–100).
    let profile: Vec<f64> = (0..=100)
        .map(|a: i32| {
            let a = f64::from(a);
            (1.0 - (a / 101.0).powi(3)).max(0.001)
        })
        .collect();
    let total: f64 = profile.iter().sum();
    let mut statuses = Vec::new();
    let mut cell = 0usize;
    let mut buf = String::with_capacity(1 << 20);
    for m in munis {
        for g in 0..3 {
            for age in 0..102 {
                for y in 0..years.len() {
                    if cell > 0 {
                        buf.push(',');
                    }
                    let pop = m.population[y][g];
                    if age == 0 {
                        let _ = write!(buf, "{pop}");
                    } else if rng.unit() < 0.01 {
                        buf.push_str("null");
                        statuses.push(cell);
                    } else {
                        let v = (pop * profile[age - 1] / total).round();
                        let _ = write!(buf, "{v}");
                    }
                    cell += 1;
                }
            }
        }
        w.write_all(buf.as_bytes())
            .map_err(|e| write_error(path, e))?;
        buf.clear();
    }
    buf.push_str("],\"status\":{");
    for (i, c) in statuses.iter().enumerate() {
        if i > 0 {
            buf.push(',');
        }
        let _ = write!(buf, "\"{c}\":\"..\"");
    }
    buf.push_str("}}\n");
    w.write_all(buf.as_bytes())
        .map_err(|e| write_error(path, e))?;
    w.flush().map_err(|e| write_error(path, e))?;
    Ok(cell)
}

fn pipeline_head(years: &[i16]) -> String {
    let years = years
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"# SYNTHETIC national-scale benchmark pipeline, written by `mittari generate`.
[pipeline]
name = "national-bench"
description = "Benchmark: every municipality, county and the country; synthetic Sotkanet and StatFin-shaped data"
reference_year = {REFERENCE_YEAR}
years = [{years}]

[regions]
focus = ["HVA12"]

[output]
csv = false

[[sources]]
id = "population_by_age"
format = "jsonstat"
path = "statfin/population_by_age.json"
dataset = "statfin:11re"
dimensions = {{ region = "alue", time = "vuosi", measure = "tiedot", sex = "sukupuoli", age = "ika" }}
synthetic = true

[[indicators]]
id = "population"
title_fi = "Väestö"
title_en = "Population"
unit = "persons"
aggregation = "count"
numerator = {{ dataset = "statfin:11re", measure = "vaesto" }}
"#
    )
}

fn pipeline_indicator(id: u32, kind: Kind) -> String {
    let source = format!(
        r#"
[[sources]]
id = "sotkanet_{id}"
format = "sotkanet-json"
path = "sotkanet/{id}.json"
dataset = "sotkanet:{id}"
synthetic = true
"#
    );
    let population = r#"{ dataset = "statfin:11re", measure = "vaesto" }"#;
    let rule = match kind {
        Kind::Share => format!(
            "unit = \"%\"\naggregation = \"ratio\"\nnumerator = {{ dataset = \"sotkanet:{id}\", measure = \"{id}\", field = \"abs_value\" }}\ndenominator = {population}\nscale = 100\n"
        ),
        Kind::Rate => format!(
            "unit = \"per 1000\"\naggregation = \"mean\"\nnumerator = {{ dataset = \"sotkanet:{id}\", measure = \"{id}\" }}\nweight = {population}\n"
        ),
        Kind::Count => format!(
            "unit = \"persons\"\naggregation = \"count\"\nnumerator = {{ dataset = \"sotkanet:{id}\", measure = \"{id}\" }}\n"
        ),
        Kind::Index => format!(
            "unit = \"index\"\naggregation = \"index\"\nnumerator = {{ dataset = \"sotkanet:{id}\", measure = \"{id}\" }}\n"
        ),
    };
    format!(
        "{source}\n[[indicators]]\nid = \"i{id}\"\ntitle_fi = \"Synteettinen {id}\"\ntitle_en = \"Synthetic {id} ({})\"\n{rule}",
        kind.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_seeded() {
        let (mut a, mut b) = (Rng(7), Rng(7));
        let xs: Vec<u64> = (0..5).map(|_| a.next()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next()).collect();
        assert_eq!(xs, ys);
        assert!((0..1000).all(|_| (0.0..1.0).contains(&a.unit())));
    }

    #[test]
    fn kinds_cycle() {
        let kinds: Vec<Kind> = (0..5).map(Kind::of).collect();
        assert_eq!(
            kinds,
            [
                Kind::Share,
                Kind::Rate,
                Kind::Count,
                Kind::Index,
                Kind::Share
            ]
        );
    }
}
