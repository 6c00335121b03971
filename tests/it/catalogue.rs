#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! The indicator catalogue (`pipelines/catalogue.toml`): every entry computed on a small table of
//! Keski-Pohjanmaa's municipalities, its county value checked against its rule recomputed here
//! from the municipal numbers; and the catalogue's errors.

use crate::common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use mittari::model::config::{Aggregation, MeasureRef, Pipeline};
use mittari::model::regions::Registry;
use mittari::stages::derive::{DeriveInput, derive};
use polars::prelude::*;

fn pipeline_with_catalogue(dir: &Path, datasets: &BTreeSet<String>, extra: &str) -> Pipeline {
    let sources: Vec<String> = datasets
        .iter()
        .enumerate()
        .map(|(i, d)| {
            format!("[[sources]]\nid = \"s{i}\"\nformat = \"sotkanet-json\"\npath = \"s{i}.json\"\ndataset = \"{d}\"\n\n")
        })
        .collect();
    let sources = sources.concat();
    let text = format!(
        "[pipeline]\nname = \"c\"\nreference_year = 2025\nyears = [2022]\n\n[regions]\nfocus = [\"HVA18\"]\n\n{sources}[catalogue]\npath = \"{}\"\n{extra}",
        common::repo().join("pipelines/catalogue.toml").display()
    );
    let path = dir.join("c.toml");
    std::fs::write(&path, &text).unwrap();
    Pipeline::load(&path).unwrap()
}

/// Every (dataset, measure, field) the catalogue reads.
fn measures(p: &Pipeline) -> BTreeSet<(String, String, String)> {
    let c = p.catalogue.as_ref().unwrap();
    c.entries
        .iter()
        .flat_map(|e| {
            std::iter::once(&e.numerator)
                .chain(e.denominator.as_ref())
                .chain(e.weight.as_ref())
        })
        .map(|m| {
            (
                m.dataset.clone(),
                m.measure.clone(),
                m.field.column().to_owned(),
            )
        })
        .collect()
}

#[test]
#[allow(clippy::many_single_char_names)] // p, f, d, e, v: the pipeline, its file, what it derived ...
fn every_catalogue_indicator_follows_its_rule() {
    let dir = tempfile::TempDir::new().unwrap();
    // First load to learn the datasets, then a pipeline that provides all of them.
    let probe = {
        let text =
            std::fs::read_to_string(common::repo().join("pipelines/catalogue.toml")).unwrap();
        let mut d = BTreeSet::new();
        for line in text.lines() {
            for part in line.split("dataset = \"").skip(1) {
                d.insert(part.split('"').next().unwrap().to_owned());
            }
        }
        d
    };
    let p = pipeline_with_catalogue(dir.path(), &probe, "");
    let cat = p.catalogue.as_ref().unwrap();
    assert_eq!(cat.version, "2026.2");
    assert!(cat.skipped.is_empty(), "{:?}", cat.skipped);
    assert_eq!(cat.used.len(), cat.entries.len());
    assert!(cat.entries.len() >= 40);

    // Keski-Pohjanmaa's municipalities; each measure gets a value per municipality (value and
    // abs_value), and the county its own published value (what an index takes).
    let registry = Registry::builtin().unwrap();
    let cw = registry.crosswalk(2025).unwrap();
    let munis: Vec<String> = cw.members()["HVA18"].iter().cloned().collect();
    let mut rows: Vec<(String, String, String, f64, f64)> = Vec::new();
    let mut values: HashMap<(String, String, String, String), f64> = HashMap::new();
    for (k, (dataset, measure, _)) in measures(&p).into_iter().enumerate() {
        let kf = f64::from(u32::try_from(k).unwrap());
        for (j, m) in munis.iter().enumerate() {
            let jf = f64::from(u32::try_from(j).unwrap());
            let (v, abs) = (10.0 + kf + 3.0 * jf, 1000.0 + 100.0 * kf + 37.0 * jf * jf);
            values.insert(
                (dataset.clone(), measure.clone(), "value".into(), m.clone()),
                v,
            );
            values.insert(
                (
                    dataset.clone(),
                    measure.clone(),
                    "abs_value".into(),
                    m.clone(),
                ),
                abs,
            );
            rows.push((dataset.clone(), measure.clone(), m.clone(), v, abs));
        }
        rows.push((
            dataset.clone(),
            measure.clone(),
            "HVA18".into(),
            500.0 + kf,
            0.0,
        ));
    }
    // The price index of the real-terms entries: the country's rows of 2022 and of the base
    // year 2024 (the years the test's rows carry are in `year_of`).
    let (index_2022, index_2024) = (110.0, 121.0);
    for (y, v) in [("2022", index_2022), ("2024", index_2024)] {
        rows.push((
            "prices:public_sote".into(),
            "index".into(),
            format!("SSS@{y}"),
            v,
            0.0,
        ));
    }
    let year_of = |r: &str| -> i16 { r.split_once('@').map_or(2022, |(_, y)| y.parse().unwrap()) };
    let region_of = |r: &str| r.split_once('@').map_or(r, |(c, _)| c).to_owned();
    let level = |r: &str| {
        if r.starts_with("HVA") {
            "wellbeing_county"
        } else if r.starts_with("SSS") {
            "country"
        } else {
            "municipality"
        }
    };
    let obs = df!(
        "dataset" => rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        "measure" => rows.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
        "region" => rows.iter().map(|r| region_of(&r.2)).collect::<Vec<_>>(),
        "region_level" => rows.iter().map(|r| level(&r.2)).collect::<Vec<_>>(),
        "period" => rows.iter().map(|r| year_of(&r.2).to_string()).collect::<Vec<_>>(),
        "year" => rows.iter().map(|r| year_of(&r.2)).collect::<Vec<_>>(),
        "sex" => rows.iter().map(|_| "total").collect::<Vec<_>>(),
        "age" => rows.iter().map(|_| "total").collect::<Vec<_>>(),
        "breakdown" => rows.iter().map(|_| "").collect::<Vec<_>>(),
        "value" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        "abs_value" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
        "raw_sha256" => rows.iter().map(|_| "sha").collect::<Vec<_>>(),
    )
    .unwrap();
    let f = &p.file;
    let d = derive(&DeriveInput {
        observations: &obs,
        crosswalk: &cw,
        indicators: &f.indicators,
        years: &f.pipeline.years,
        source_of: &HashMap::new(),
        population: None,
        crosschecks: &[],
        memo: mittari::stages::derive::Memo::default(),
    })
    .unwrap();
    let got: BTreeMap<String, f64> = {
        let county = d
            .indicators
            .clone()
            .lazy()
            .filter(col("region").eq(lit("HVA18")))
            .collect()
            .unwrap();
        let ids = county.column("indicator").unwrap().str().unwrap().clone();
        let v = county.column("value").unwrap().f64().unwrap().clone();
        (0..county.height())
            .map(|i| (ids.get(i).unwrap().to_owned(), v.get(i).unwrap()))
            .collect()
    };
    let recomputed: BTreeMap<String, f64> = {
        let county = d
            .reconciliation
            .clone()
            .lazy()
            .filter(col("region").eq(lit("HVA18")))
            .collect()
            .unwrap();
        // Dictionary-encoded in the table: read as text.
        let ids = county
            .column("indicator")
            .unwrap()
            .cast(&DataType::String)
            .unwrap();
        let ids = ids.str().unwrap().clone();
        let v = county.column("recomputed").unwrap().f64().unwrap().clone();
        (0..county.height())
            .map(|i| (ids.get(i).unwrap().to_owned(), v.get(i).unwrap()))
            .collect()
    };
    let sum = |m: &MeasureRef| -> f64 {
        munis
            .iter()
            .map(|x| {
                values[&(
                    m.dataset.clone(),
                    m.measure.clone(),
                    m.field.column().to_owned(),
                    x.clone(),
                )]
            })
            .sum()
    };
    for e in &cat.entries {
        let id = &e.id;
        let expected = match e.aggregation {
            Aggregation::Count => sum(&e.numerator) * e.scale,
            Aggregation::Ratio => {
                sum(&e.numerator) / sum(e.denominator.as_ref().unwrap()) * e.scale
            }
            Aggregation::Mean => {
                let w = e.weight.as_ref().unwrap();
                let xw: f64 = munis
                    .iter()
                    .map(|x| {
                        let key = |m: &MeasureRef| {
                            (
                                m.dataset.clone(),
                                m.measure.clone(),
                                m.field.column().to_owned(),
                                x.clone(),
                            )
                        };
                        values[&key(&e.numerator)] * values[&key(w)]
                    })
                    .sum();
                xw / sum(w) * e.scale
            }
            Aggregation::Index => {
                let k = measures(&p)
                    .iter()
                    .position(|(ds, ms, _)| {
                        ds == &e.numerator.dataset && ms == &e.numerator.measure
                    })
                    .unwrap();
                (500.0 + f64::from(u32::try_from(k).unwrap())) * e.scale
            }
        };
        let close = |v: f64, expected: f64| (v - expected).abs() <= 1e-9 * expected.abs().max(1.0);
        // The county's own row is published for every measure: `count` and `mean` take it (as
        // published, × the scale), and their recomputed value is reconciled with it; a `ratio`
        // (these observations have no unit to match) and an `index` keep the rule's value.
        // In 2024 prices: × index(2024) / index(2022), published and recomputed alike.
        let deflated = if e.real_terms.is_some() {
            index_2024 / index_2022
        } else {
            1.0
        };
        let v = got[id] / deflated;
        match e.aggregation {
            Aggregation::Count | Aggregation::Mean => {
                let k = measures(&p)
                    .iter()
                    .position(|(ds, ms, _)| {
                        ds == &e.numerator.dataset && ms == &e.numerator.measure
                    })
                    .unwrap();
                let own = match e.numerator.field.column() {
                    "value" => 500.0 + f64::from(u32::try_from(k).unwrap()),
                    _ => 0.0,
                };
                assert!(close(v, own * e.scale), "{id}: {v} vs published {own}");
                let r = recomputed[id];
                assert!(close(r, expected), "{id}: recomputed {r} vs {expected}");
            }
            Aggregation::Ratio | Aggregation::Index => {
                assert!(close(v, expected), "{id}: {v} vs {expected}");
            }
        }
    }
}

#[test]
fn catalogue_errors_name_their_file() {
    let dir = tempfile::TempDir::new().unwrap();
    let datasets: BTreeSet<String> = ["sotkanet:127".to_owned()].into_iter().collect();
    // `use` naming an unknown id, or one whose dataset is missing: errors at the pipeline's line.
    for (extra, message) in [
        (
            "use = [\"no_such\"]\n",
            "`catalogue.use`: `no_such` is not in",
        ),
        (
            "use = [\"share_aged_75plus\"]\n",
            "`share_aged_75plus` needs dataset `sotkanet:171`",
        ),
    ] {
        let text = format!(
            "[pipeline]\nname = \"c\"\nreference_year = 2025\nyears = [2022]\n\n[regions]\nfocus = [\"HVA18\"]\n\n[[sources]]\nid = \"s\"\nformat = \"sotkanet-json\"\npath = \"s.json\"\ndataset = \"sotkanet:127\"\n\n[catalogue]\npath = \"{}\"\n{extra}",
            common::repo().join("pipelines/catalogue.toml").display()
        );
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        let err = Pipeline::load(&path).unwrap_err().to_string();
        assert!(
            err.contains(message) && err.starts_with(&format!("{}:", path.display())),
            "{err}"
        );
    }
    // Without `use`: what the sources provide is derived, the rest skipped with the reason.
    let p = pipeline_with_catalogue(dir.path(), &datasets, "");
    let c = p.catalogue.as_ref().unwrap();
    assert_eq!(c.used, ["population_31_12"]);
    assert!(
        c.skipped
            .iter()
            .any(|(id, why)| id == "share_aged_75plus" && why.contains("sotkanet:171"))
    );
    // A broken catalogue entry: its own file, line and column.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "version = \"x\"\n\n[[indicators]]\nid = \"a\"\ntitle_fi = \"a\"\ntitle_en = \"a\"\nunit = \"%\"\naggregation = \"mean\"\nnumerator = { dataset = \"sotkanet:127\", measure = \"127\" }\n",
    )
    .unwrap();
    let text = "[pipeline]\nname = \"c\"\nreference_year = 2025\nyears = [2022]\n\n[regions]\nfocus = [\"HVA18\"]\n\n[[sources]]\nid = \"s\"\nformat = \"sotkanet-json\"\npath = \"s.json\"\ndataset = \"sotkanet:127\"\n\n[catalogue]\npath = \"bad.toml\"\n";
    let path = dir.path().join("c2.toml");
    std::fs::write(&path, text).unwrap();
    let err = Pipeline::load(&path).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}:8:", bad.display())) && err.contains("needs a `weight`"),
        "{err}"
    );
}

/// The catalogue's need index is THL's National Health Index (Sotkanet 5641): a pipeline that
/// derives it and names no need indicator of its own compares costs by it; one without its
/// dataset has none; a pipeline's own `[comparison] need_indicator` wins. The morbidity indices
/// 243 and 244 stay as historical series.
#[test]
fn the_need_index_is_the_national_health_index() {
    let dir = tempfile::TempDir::new().unwrap();
    let with = |datasets: &[&str], extra: &str| {
        let d: BTreeSet<String> = datasets.iter().map(|s| (*s).to_owned()).collect();
        pipeline_with_catalogue(dir.path(), &d, extra)
    };
    let p = with(&["sotkanet:5641", "sotkanet:243", "sotkanet:244"], "");
    assert_eq!(p.need_indicator(), Some("national_health_index"));
    let cat = p.catalogue.as_ref().unwrap();
    let entry = cat
        .entries
        .iter()
        .find(|e| e.id == "national_health_index")
        .unwrap();
    assert_eq!(entry.numerator.dataset, "sotkanet:5641");
    assert_eq!(entry.aggregation, Aggregation::Index);
    for id in [
        "morbidity_index_thl_age_standardised",
        "morbidity_index_thl",
    ] {
        assert!(cat.used.iter().any(|u| u == id), "{id} kept");
    }
    assert_eq!(with(&["sotkanet:243"], "").need_indicator(), None);
    let own = with(
        &["sotkanet:5641", "sotkanet:243"],
        "\n[comparison]\npeers = [\"HVA18\"]\nneed_indicator = \"morbidity_index_thl_age_standardised\"\n",
    );
    assert_eq!(
        own.need_indicator(),
        Some("morbidity_index_thl_age_standardised")
    );
    // The live pipelines fetch 5641 and compare by it.
    for live in ["etela-savo", "national"] {
        let p = Pipeline::load(&common::repo().join(format!("pipelines/{live}.toml"))).unwrap();
        assert_eq!(p.need_indicator(), Some("national_health_index"), "{live}");
        assert!(
            p.file
                .sources
                .iter()
                .any(|s| s.dataset.as_deref() == Some("sotkanet:5641")),
            "{live}"
        );
    }
}
