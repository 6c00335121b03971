#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)] // Small counts, 64-bit.
//! End to end: the binary runs `pipelines/sample.toml` and its outputs are read back and checked
//! against figures computed here, independently, from the raw sample files.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::*;
use mittari::check::Contract;
use mittari::publish::read_parquet_metadata;
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
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let manifest: Value = serde_json::from_slice(&std::fs::read(&runs[0]).unwrap()).unwrap();
    let run_id = manifest["run_id"].as_str().unwrap().to_owned();
    assert_eq!(runs[0].file_stem().unwrap().to_str().unwrap(), run_id);
    assert_eq!(manifest["status"], "success");
    assert_eq!(manifest["inputs"].as_array().unwrap().len(), 7);
    let outputs = manifest["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 10, "5 tables x (parquet + csv)");
    for o in outputs {
        let path = dir.join(o["path"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            mittari::hash::sha256_hex(&bytes),
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
            mittari::hash::sha256_hex(&archived),
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
        ("quarantine", "quarantine/observations.parquet"),
        ("quarantine", "quarantine/indicators.parquet"),
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
        320 + 23 + 1,
        "municipalities of 2013-2026, counties, country"
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

/// A municipality that has no successor in the reference division (Pertunmaa `KU588`, whose
/// merger the classification key does not record) is quarantined, not dropped, once its year is
/// derived; the entry names the pipeline source it came from.
#[test]
fn municipality_outside_the_reference_division_is_quarantined() {
    let ws = Workspace::new();
    ws.edit(
        "pipelines/sample.toml",
        "years = [2019, 2023, 2024]",
        "years = [2009, 2019, 2023, 2024]",
    );
    let out = ws.run();
    assert!(out.status.success(), "{}", stderr(&out));
    let q = read_parquet(&ws.out().join("quarantine/indicators.parquet"));
    let row = row_where(&q, "rule", "not_in_reference_division");
    assert_eq!(row["source"], "sotkanet_127_2009_csv");
    assert_eq!(row["stage"], "conform");
    assert!(
        row["reason"].contains("KU588") && row["reason"].contains("2025 division"),
        "{}",
        row["reason"]
    );
    assert!(
        row["location"].contains("sotkanet:127 127 KU588 2009"),
        "{}",
        row["location"]
    );
}
