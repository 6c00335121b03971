#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)] // Small counts, 64-bit.
//! End to end: the binary runs `pipelines/sample.toml` and its outputs are read back and checked
//! against figures computed here, independently, from the raw sample files.

use crate::common;

use std::collections::{BTreeMap, HashMap};

use common::*;
use mittari::io::parquet::read_parquet_metadata;
use mittari::model::contract::Contract;
use polars::prelude::{IntoLazy, col, lit};
use serde_json::Value;

/// Municipality codes (`KU###`) of a county in 2025, straight from the registry CSV.
fn members(county: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(repo().join("registry/municipality_key_2013-2026.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[0] == "2025" && format!("HVA{}", f[12]) == county)
        .map(|f| format!("KU{}", f[1]))
        .collect()
}

/// Sotkanet id -> `KU###` from the sample's `/regions` payload.
fn sotkanet_municipalities(ws: &Workspace) -> HashMap<i64, String> {
    let v: Value = serde_json::from_slice(
        &std::fs::read(ws.path("sample-data/sotkanet/regions_2015.json")).unwrap(),
    )
    .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["category"] == "KUNTA")
        .map(|r| {
            (
                r["id"].as_i64().unwrap(),
                format!("KU{}", r["code"].as_str().unwrap()),
            )
        })
        .collect()
}

/// `KU###` -> field of a Sotkanet `/json` sample file.
fn sotkanet_values(ws: &Workspace, file: &str, field: &str) -> HashMap<String, f64> {
    let ids = sotkanet_municipalities(ws);
    let v: Value = serde_json::from_slice(&std::fs::read(ws.path(file)).unwrap()).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter_map(|r| Some((ids.get(&r["region"].as_i64()?)?.clone(), r[field].as_f64()?)))
        .collect()
}

#[test]
fn sample_pipeline_end_to_end() {
    let ws = Workspace::new();
    let out = ws.run();
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    assert!(stderr(&out).contains("Run succeeded"), "{}", stderr(&out));
    let dir = ws.out();

    // The manifest is there, lists every output with its sha256 and row count, and matches disk.
    let runs: Vec<_> = std::fs::read_dir(dir.join("_runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| is_manifest(p))
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(dir.join("_runs/history.parquet").is_file());
    let manifest: Value = serde_json::from_slice(&std::fs::read(&runs[0]).unwrap()).unwrap();
    let run_id = manifest["run_id"].as_str().unwrap().to_owned();
    assert_eq!(runs[0].file_stem().unwrap().to_str().unwrap(), run_id);
    assert_eq!(manifest["status"], "success");
    assert_eq!(manifest["inputs"].as_array().unwrap().len(), 15);
    let outputs = manifest["outputs"].as_array().unwrap();
    // 22 tables x (parquet + csv), the report (3 regions x 3 languages + 3 indexes, the workbook
    // and the region profile for people), the data dictionary and the data package.
    assert_eq!(
        outputs.len(),
        44 + 14 + 2,
        "tables, the report, the dictionary"
    );
    for o in outputs {
        let path = dir.join(o["path"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            mittari::io::hash::sha256_hex(&bytes),
            o["sha256"].as_str().unwrap(),
            "{}",
            path.display()
        );
        if o["format"] == "csv" {
            let lines = String::from_utf8(bytes).unwrap().lines().count();
            assert_eq!(
                lines as u64,
                o["rows"].as_u64().unwrap() + 1,
                "{}: header + rows",
                path.display()
            );
        }
    }
    for payload in manifest["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["payloads"].as_array().unwrap())
    {
        assert_eq!(payload["origin"], "file");
        let sha = payload["sha256"].as_str().unwrap();
        let archived = std::fs::read(ws.path("cache/raw").join(sha)).unwrap();
        assert_eq!(
            mittari::io::hash::sha256_hex(&archived),
            sha,
            "archive holds the payload unchanged"
        );
    }
    assert!(!std::fs::read_dir(&dir).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".staging")
    }));

    // Every Parquet file: contract schema (read with arrow-rs), metadata, row counts.
    for (table, rel) in [
        ("observations", "observations.parquet"),
        ("regions", "regions.parquet"),
        ("indicators", "indicators.parquet"),
        ("reconciliation", "reconciliation.parquet"),
        ("quarantine", "quarantine/observations.parquet"),
        ("quarantine", "quarantine/indicators.parquet"),
        ("crosswalk", "crosswalk.parquet"),
        ("mergers", "mergers.parquet"),
        ("indicator_catalogue", "indicator_catalogue.parquet"),
        ("kpa", "kpa.parquet"),
        ("comparisons", "comparisons.parquet"),
        ("region_profile", "region_profile.parquet"),
        ("maturity_responses", "maturity_responses.parquet"),
        ("maturity_role_scores", "maturity_role_scores.parquet"),
        (
            "maturity_dimension_scores",
            "maturity_dimension_scores.parquet",
        ),
        ("maturity_method_params", "maturity_method_params.parquet"),
        ("quarantine", "quarantine/maturity.parquet"),
        ("roadmap_actions", "roadmap_actions.parquet"),
        ("roadmap_milestones", "roadmap_milestones.parquet"),
        ("roadmap_progress", "roadmap_progress.parquet"),
        ("maturity_signals", "maturity_signals.parquet"),
        ("maturity_overall", "maturity_overall.parquet"),
    ] {
        let path = dir.join(rel);
        let rows = outputs.iter().find(|o| o["path"] == rel).unwrap()["rows"]
            .as_u64()
            .unwrap() as usize;
        Contract::for_table(table)
            .unwrap()
            .check_parquet(&path, rows, &run_id)
            .unwrap();
        let meta = read_parquet_metadata(&path).unwrap();
        assert_eq!(meta.key_value["mittari.pipeline"], "sample");
        assert_eq!(read_parquet(&path).height(), rows);
    }

    let obs = read_parquet(&dir.join("observations.parquet"));
    let ind = read_parquet(&dir.join("indicators.parquet"));
    let regions = read_parquet(&dir.join("regions.parquet"));
    // 308 (StatFin) + 20 (five cities, two indicators, two years) + 2 x 309 (synthetic 2024,
    // with the country) + the 2009 CSV rows that resolved to a municipality or the country.
    assert!(obs.height() > 308 + 20 + 618, "{}", obs.height());
    assert_eq!(
        regions.height(),
        320 + 23 + 1 + 19 + 21 + 6,
        "municipalities of 2013-2026, counties, country, regions, hospital districts, collaboration areas"
    );

    // Population structure of the three focus counties (from the synthetic table by age),
    // recomputed here from the raw file's county rows.
    let by_age: Value = serde_json::from_slice(
        &std::fs::read(ws.path("sample-data/statfin/SYNTHETIC_population_by_age_2014_2024.json"))
            .unwrap(),
    )
    .unwrap();
    let areas: Vec<&str> = by_age["dimension"]["alue"]["category"]["index"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let cell = |area: &str, age: usize, year: usize| {
        let a = areas.iter().position(|x| *x == area).unwrap();
        by_age["value"][(a * 102 + age) * 6 + year]
            .as_f64()
            .unwrap()
    };
    for county in ["HVA12", "HVA13", "HVA18"] {
        // Age index 0 is the total; age n is index n + 1; 2024 is the sixth year.
        let sum = |from: usize, to: usize| (from..=to).map(|a| cell(county, a + 1, 5)).sum::<f64>();
        let (young, working, old) = (sum(0, 14), sum(15, 64), sum(65, 100));
        let total = cell(county, 0, 5);
        let get = |id: &str| {
            one_f64(
                &ind,
                &[("indicator", id), ("region", county)],
                2024,
                "value",
            )
            .unwrap()
        };
        assert_eq!(
            one_f64(
                &ind,
                &[("indicator", "population_total"), ("region", county)],
                2024,
                "value"
            ),
            Some(total),
            "{county}"
        );
        assert!(
            (get("dependency_ratio_demographic") - (young + old) / working * 100.0).abs() < 1e-9
        );
        assert!((get("dependency_ratio_old_age") - old / working * 100.0).abs() < 1e-9);
        assert!((get("population_share_85plus") - sum(85, 100) / total * 100.0).abs() < 1e-9);
    }
    // The catalogue's entries with datasets here are derived; the others are listed as skipped.
    assert_eq!(manifest["catalogue"]["version"], "2026.2");
    let derived: Vec<&str> = manifest["catalogue"]["derived"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        derived,
        [
            "phc_physician_visits_per_1000",
            "specialised_somatic_days_75plus_per_1000",
            "sote_net_cost_per_capita",
            "population_31_12",
            "share_aged_75plus",
            "morbidity_index_thl_age_standardised"
        ]
    );
    assert_eq!(
        one_f64(
            &ind,
            &[("indicator", "share_aged_75plus"), ("region", "HVA90")],
            2024,
            "value"
        ),
        one_f64(
            &ind,
            &[("indicator", "share_75plus"), ("region", "HVA90")],
            2024,
            "value"
        ),
        "the catalogue's share aged 75+ is the sample's own definition"
    );
    let catalogue = read_parquet(&dir.join("indicator_catalogue.parquet"));
    let skipped = row_where(&catalogue, "indicator", "home_care_75plus_pct");
    assert!(
        skipped["skipped_reason"].contains("sotkanet:2723"),
        "{skipped:?}"
    );
    // The cross-source checks are in the manifest: counties summed from municipalities match
    // the published county rows exactly.
    let checks = manifest["crosschecks"].as_array().unwrap();
    let county_checks: Vec<_> = checks
        .iter()
        .filter(|c| c["check"] == "population_by_age_county_totals")
        .collect();
    let (matched, other): (Vec<&&Value>, Vec<&&Value>) =
        county_checks.iter().partition(|c| c["status"] == "match");
    assert_eq!(matched.len(), 9, "3 counties x 3 years");
    assert!(matched.iter().all(|c| c["difference"] == 0.0));
    // The country: its other municipalities are not in the table, so it cannot be compared.
    assert!(
        other
            .iter()
            .all(|c| c["region"] == "SSS" && c["status"] == "not_comparable")
    );

    // County population = sum of its municipalities, from the raw JSON-stat file.
    let js: Value = serde_json::from_slice(
        &std::fs::read(ws.path("sample-data/statfin/11s5_population_by_municipality_2024M12.json"))
            .unwrap(),
    )
    .unwrap();
    let codes = js["dimension"]["alue"]["category"]["index"]
        .as_array()
        .unwrap();
    let values = js["value"].as_array().unwrap();
    let pop: BTreeMap<String, f64> = codes
        .iter()
        .zip(values)
        .map(|(c, v)| (c.as_str().unwrap().to_owned(), v.as_f64().unwrap()))
        .collect();
    for county in ["HVA12", "HVA13", "HVA18", "HVA90"] {
        let expected: f64 = members(county).iter().map(|m| pop[m]).sum();
        let got = one_f64(
            &ind,
            &[("indicator", "population"), ("region", county)],
            2024,
            "value",
        );
        assert_eq!(got, Some(expected), "{county}");
    }
    assert_eq!(
        one_f64(
            &ind,
            &[("indicator", "population"), ("region", "SSS")],
            2024,
            "value"
        ),
        Some(5_635_971.0)
    );
    assert_eq!(
        one_f64(
            &ind,
            &[("indicator", "population"), ("region", "KU740")],
            2024,
            "value"
        ),
        Some(pop["KU740"]),
        "Savonlinna as published"
    );

    // Share aged 75+ = summed 75+ counts / summed population x 100, never a mean of shares.
    let old = sotkanet_values(
        &ws,
        "sample-data/sotkanet/SYNTHETIC_171_share_75plus_2024.json",
        "absValue",
    );
    let people = sotkanet_values(
        &ws,
        "sample-data/sotkanet/SYNTHETIC_127_population_2024.json",
        "value",
    );
    for county in ["HVA12", "HVA13", "HVA18"] {
        let m = members(county);
        let num: f64 = m.iter().map(|c| old[c]).sum();
        let den: f64 = m.iter().map(|c| people[c]).sum();
        let filt = [("indicator", "share_75plus"), ("region", county)];
        assert_eq!(one_f64(&ind, &filt, 2024, "numerator"), Some(num));
        assert_eq!(one_f64(&ind, &filt, 2024, "denominator"), Some(den));
        let got = one_f64(&ind, &filt, 2024, "value").unwrap();
        assert!((got - num / den * 100.0).abs() < 1e-12, "{county}: {got}");
        let mean_of_shares =
            m.iter().map(|c| old[c] / people[c] * 100.0).sum::<f64>() / m.len() as f64;
        assert!(
            (got - mean_of_shares).abs() > 1e-6,
            "{county}: must not be a mean of shares"
        );
        // Index against the country, recomputed the same way.
        let country = one_f64(
            &ind,
            &[("indicator", "share_75plus"), ("region", "SSS")],
            2024,
            "value",
        )
        .unwrap();
        let index = one_f64(&ind, &filt, 2024, "index_country").unwrap();
        assert!((index - got / country * 100.0).abs() < 1e-9);
    }
    assert!(
        one_f64(
            &ind,
            &[("indicator", "share_75plus"), ("region", "HVA12")],
            2024,
            "index_country"
        )
        .unwrap()
            > 130.0,
        "Etelä-Savo is much older than the country"
    );

    // Real Sotkanet data: Helsinki (its own county, HVA90) in 2019 is complete; the country is not.
    let filt = [("indicator", "share_75plus"), ("region", "HVA90")];
    let v = one_f64(&ind, &filt, 2019, "value").unwrap();
    assert!((v - 48_189.0 / 653_835.0 * 100.0).abs() < 1e-12, "{v}");
    // Year-on-year change: 2024 (synthetic) against 2023 (real, 57 877 people aged 75+).
    let pop75 = [("indicator", "population_75plus"), ("region", "HVA90")];
    let yoy = one_f64(&ind, &pop75, 2024, "yoy_change_pct").unwrap();
    assert!(
        (yoy - (old["KU091"] / 57_877.0 - 1.0) * 100.0).abs() < 1e-9,
        "{yoy}"
    );
    assert_eq!(
        one_f64(&ind, &pop75, 2019, "yoy_change_pct"),
        None,
        "no 2018 value"
    );
    let country = [("indicator", "share_75plus"), ("region", "SSS")];
    assert_eq!(
        one_f64(&ind, &country, 2019, "value"),
        None,
        "5 of 308 municipalities is no country figure"
    );
    assert_eq!(
        one_str(&ind, &country, 2019, "flags").as_deref(),
        Some(
            "numerator incomplete: 5 of 308 municipalities; denominator incomplete: 5 of 308 municipalities"
        )
    );
    let espoo_county = [("indicator", "share_75plus"), ("region", "HVA03")];
    assert_eq!(one_f64(&ind, &espoo_county, 2023, "value"), None);

    // Observations keep what was published: absent absValue is null, not 0.
    let helsinki_pop = obs
        .clone()
        .lazy()
        .filter(
            col("dataset")
                .eq(lit("sotkanet:127"))
                .and(col("region").eq(lit("KU091")))
                .and(col("year").eq(lit(2019i16))),
        )
        .collect()
        .unwrap();
    assert_eq!(helsinki_pop.height(), 1);
    assert_eq!(
        helsinki_pop.column("value").unwrap().f64().unwrap().get(0),
        Some(653_835.0)
    );
    assert_eq!(
        helsinki_pop
            .column("abs_value")
            .unwrap()
            .f64()
            .unwrap()
            .get(0),
        None
    );

    // The 2009 CSV holds regions of categories mittari does not model: quarantined, with file:line.
    let q = read_parquet(&dir.join("quarantine/observations.parquet"));
    assert!(q.height() > 0);
    let rules: Vec<String> = q
        .column("rule")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|r| r.unwrap().to_owned())
        .collect();
    assert!(
        rules
            .iter()
            .all(|r| r == "unsupported_level" || r == "unknown_region"),
        "{rules:?}"
    );
    let loc = q
        .column("location")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_owned();
    assert!(loc.contains("127_population_2009.csv:"), "{loc}");
    let counts: u64 = manifest["quarantine"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rows"].as_u64().unwrap())
        .sum();
    let qi = read_parquet(&dir.join("quarantine/indicators.parquet"));
    assert_eq!(counts as usize, q.height() + qi.height());
}

/// Pertunmaa (`KU588`) joined Mäntyharju (`KU507`) in 2025: its 2009 population (Sotkanet CSV)
/// lands in Mäntyharju of the 2025 division, so Mäntyharju's 2009 figure is the sum of the two,
/// and nothing is left outside the division.
#[test]
fn a_merged_municipality_lands_in_its_successor() {
    let ws = Workspace::new();
    ws.edit(
        "pipelines/sample.toml",
        "years = [2019, 2023, 2024]",
        "years = [2009, 2019, 2023, 2024]",
    );
    ws.edit(
        "pipelines/sample.toml",
        "[output]",
        "[[indicators]]\nid = \"population_sotkanet\"\ntitle_fi = \"Väestö\"\ntitle_en = \"Population\"\nunit = \"persons\"\naggregation = \"count\"\nnumerator = { dataset = \"sotkanet:127\", measure = \"127\" }\n\n[output]",
    );
    let out = ws.run();
    assert!(out.status.success(), "{}", stderr(&out));
    let obs = read_parquet(&ws.out().join("observations.parquet"));
    let part = |code: &str| {
        one_f64(
            &obs,
            &[("dataset", "sotkanet:127"), ("region", code)],
            2009,
            "value",
        )
        .unwrap()
    };
    let ind = read_parquet(&ws.out().join("indicators.parquet"));
    assert_eq!(
        one_f64(
            &ind,
            &[("indicator", "population_sotkanet"), ("region", "KU507")],
            2009,
            "value"
        ),
        Some(part("KU588") + part("KU507"))
    );
    let q = read_parquet(&ws.out().join("quarantine/indicators.parquet"));
    assert_eq!(q.height(), 0, "nothing left outside the 2025 division: {q}");
}

/// Etelä-Savo (third from last), all ages, 2024, in the synthetic population table: one person
/// more than its municipalities. Returns the true figure.
fn add_one_to_etela_savo_2024(ws: &Workspace) -> f64 {
    let rel = "sample-data/statfin/SYNTHETIC_population_by_age_2014_2024.json";
    let mut doc: Value = serde_json::from_slice(&std::fs::read(ws.path(rel)).unwrap()).unwrap();
    let areas = doc["dimension"]["alue"]["category"]["index"]
        .as_array()
        .unwrap()
        .len();
    let i = ((areas - 3) * 102) * 6 + 5;
    let v = doc["value"][i].as_f64().unwrap();
    doc["value"][i] = serde_json::json!(v + 1.0);
    std::fs::write(ws.path(rel), serde_json::to_vec(&doc).unwrap()).unwrap();
    v
}

/// A published county figure that disagrees with its municipalities fails the run (exit 1),
/// names the check, the county and both figures, and publishes nothing.
#[test]
fn a_cross_source_mismatch_fails_the_run() {
    let ws = Workspace::new();
    let v = add_one_to_etela_savo_2024(&ws);
    let out = ws.run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("check `population_by_age_county_totals` failed"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "HVA12 2024: computed {v} vs published {}",
            v + 1.0
        )),
        "{err}"
    );
    assert!(
        !ws.out().join("observations.parquet").exists(),
        "nothing published"
    );
}

/// Etelä-Savo's profile against the country and its peers shows what the reform projects
/// described: old, ill, heavy use of specialised care, light use of primary-care appointments,
/// high costs. Peer medians and best quartiles are recomputed here from the three counties.
#[test]
fn etela_savo_profile_against_country_and_peers() {
    let ws = Workspace::new();
    let out = ws.run();
    assert!(out.status.success(), "{}", stderr(&out));
    let cmp = read_parquet(&ws.out().join("comparisons.parquet"));
    let get = |indicator: &str, region: &str, column: &str| {
        one_f64(
            &cmp,
            &[("indicator", indicator), ("region", region)],
            2024,
            column,
        )
    };
    let index = |indicator: &str| get(indicator, "HVA12", "index_country").unwrap();
    assert!(index("share_aged_75plus") > 120.0, "old");
    assert!(index("morbidity_index_thl_age_standardised") > 110.0, "ill");
    assert!(
        index("specialised_somatic_days_75plus_per_1000") > 110.0,
        "heavy specialised care"
    );
    assert!(
        index("phc_physician_visits_per_1000") < 90.0,
        "light primary care"
    );
    assert!(index("sote_net_cost_per_capita") > 105.0, "high costs");
    // Peer median and best quartile (lower quartile: higher costs are worse), by hand.
    let mut peers: Vec<f64> = ["HVA12", "HVA13", "HVA18"]
        .iter()
        .map(|r| get("sote_net_cost_per_capita", r, "value").unwrap())
        .collect();
    peers.sort_by(f64::total_cmp);
    let value = get("sote_net_cost_per_capita", "HVA12", "value").unwrap();
    assert_eq!(
        get("sote_net_cost_per_capita", "HVA12", "peer_median"),
        Some(peers[1])
    );
    let lower_quartile = peers[0] + (peers[1] - peers[0]) * 0.5;
    let best = get("sote_net_cost_per_capita", "HVA12", "peer_best_quartile").unwrap();
    assert!((best - lower_quartile).abs() < 1e-9);
    let diff = get(
        "sote_net_cost_per_capita",
        "HVA12",
        "diff_to_peer_best_quartile",
    )
    .unwrap();
    assert!((diff - (value - lower_quartile)).abs() < 1e-9);
    // Needs-adjusted: cost per inhabitant divided by the morbidity index / 100 (121 for Etelä-Savo).
    let adjusted = get("sote_net_cost_per_capita", "HVA12", "needs_adjusted_value").unwrap();
    assert!((adjusted - value / 1.21).abs() < 1e-9, "{adjusted}");
    // The index of the same year (2024) was used.
    let need_year = cmp
        .clone()
        .lazy()
        .filter(
            col("indicator")
                .eq(lit("sote_net_cost_per_capita"))
                .and(col("region").eq(lit("HVA12")))
                .and(col("year").eq(lit(2024i16))),
        )
        .collect()
        .unwrap();
    assert_eq!(
        need_year
            .column("need_index_year")
            .unwrap()
            .i16()
            .unwrap()
            .get(0),
        Some(2024)
    );
    assert_eq!(
        get("share_aged_75plus", "HVA12", "needs_adjusted_value"),
        None
    );
    // Context indicators have no best quartile.
    assert_eq!(
        get("share_aged_75plus", "HVA12", "peer_best_quartile"),
        None
    );

    // The profile: a row per region and year, a column per indicator, in Finnish Excel's CSV.
    let profile = read_parquet(&ws.out().join("region_profile.parquet"));
    let es = one_f64(
        &profile,
        &[("region", "HVA12")],
        2024,
        "sote_net_cost_per_capita",
    );
    assert_eq!(es, Some(value));
    let csv = std::fs::read(ws.out().join("csv/region_profile.csv")).unwrap();
    assert!(csv.starts_with(b"\xEF\xBB\xBFregion;year;"));
}

/// Every run, successful or failed, is in `_runs/history.parquet` and `mittari runs` lists them;
/// a failed run gets a manifest saying why.
#[test]
fn run_history_and_mittari_runs() {
    let ws = Workspace::new();
    let out = ws.run();
    assert!(out.status.success(), "{}", stderr(&out));
    // A cross-source mismatch: exit 1, nothing published, recorded.
    let _ = add_one_to_etela_savo_2024(&ws);
    assert_eq!(ws.run().status.code(), Some(1));
    let history = read_parquet(&ws.out().join("_runs/history.parquet"));
    assert_eq!(history.height(), 2);
    let status: Vec<_> = history
        .column("status")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(status, [Some("success"), Some("failed")]);
    let codes: Vec<_> = history
        .column("exit_code")
        .unwrap()
        .i16()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(codes, [Some(0), Some(1)]);
    let failed = row_where(&history, "status", "failed");
    assert!(
        failed["error"].contains("population_by_age_county_totals"),
        "{}",
        failed["error"]
    );
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(ws.out().join(format!("_runs/{}.json", failed["run_id"]))).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["status"], "failed");
    assert_eq!(manifest["exit_code"], 1);
    let listed = mittari()
        .arg("runs")
        .arg("--out")
        .arg(ws.out())
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", stderr(&listed));
    let text = stdout(&listed);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[1].contains("\tsuccess\t0\t") && lines[2].contains("\tfailed\t1\t"),
        "{text}"
    );
}
