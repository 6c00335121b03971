#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::float_cmp)] // Tests: plain std::fs, unwrap on setup; hand-checked figures compared exactly.
//! Cost per client (KPA): the sample's region files end to end, suppression, cost bases,
//! encodings and malformed numbers; deflation and needs adjustment on hand-checked numbers; the
//! `excel-fi` CSV read back.

use crate::common;

use std::collections::{BTreeMap, HashMap};

use common::*;
use mittari::model::config::{CostBasis, CostKind, KpaConfig, Overheads, Pipeline};
use mittari::model::regions::Registry;
use mittari::stages::derive::DeriveInput;
use mittari::stages::derive::kpa::{KpaSource, PriceIndex, kpa_frame};
use mittari::stages::normalize::regionfile::KpaRow;
use polars::prelude::*;

#[test]
fn sample_kpa_files_decode_and_small_counts_are_suppressed() {
    let ws = Workspace::new();
    let out = ws.run();
    assert!(out.status.success(), "{}", stderr(&out));
    let kpa = read_parquet(&ws.out().join("kpa.parquet"));
    // 3 counties x 3 years x 5 classes + Keski-Pohjanmaa's small class in 3 years.
    assert_eq!(kpa.height(), 48);
    // Etelä-Savo's file is Windows-1252: its Finnish letters arrive intact.
    let es = kpa
        .clone()
        .lazy()
        .filter(
            col("region")
                .eq(lit("HVA12"))
                .and(col("service_class").eq(lit("Ikääntyneiden kotihoito")))
                .and(col("year").eq(lit(2024i16))),
        )
        .collect()
        .unwrap();
    assert_eq!(es.height(), 1, "{es}");
    let f = |name: &str| es.column(name).unwrap().f64().unwrap().get(0).unwrap();
    assert_eq!(f("cost_per_client"), f("costs") / f("clients"));
    assert_eq!(
        f("clients_per_1000"),
        f("clients") / f("population") * 1000.0
    );
    assert_eq!(
        f("cost_per_client_real"),
        f("cost_per_client"),
        "2024 is the base year"
    );
    // Fewer than 5 clients: clients and every figure per client are null, with the flag.
    let small = kpa
        .clone()
        .lazy()
        .filter(col("service_class").eq(lit("Vaativa erityishuolto")))
        .collect()
        .unwrap();
    assert_eq!(small.height(), 3);
    let flags: Vec<_> = small
        .column("flags")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    assert!(
        flags
            .iter()
            .all(|f| *f == Some("suppressed: fewer than 5 clients")),
        "{flags:?}"
    );
    assert_eq!(small.column("clients").unwrap().null_count(), 3);
    assert_eq!(small.column("cost_per_client").unwrap().null_count(), 3);
    assert_eq!(
        small.column("costs").unwrap().null_count(),
        0,
        "costs identify no one"
    );
}

#[test]
fn different_cost_bases_are_refused_naming_both() {
    let ws = Workspace::new();
    let text = std::fs::read_to_string(ws.path("pipelines/sample.toml")).unwrap();
    let i = text.find("id = \"kpa_pohjois_savo\"").unwrap();
    let edited = format!(
        "{}{}",
        &text[..i],
        text[i..].replacen(
            "cost_basis = { costs = \"net\", overheads = \"allocated\" }",
            "cost_basis = { costs = \"gross\", overheads = \"not_allocated\" }",
            1
        )
    );
    std::fs::write(ws.path("pipelines/sample.toml"), edited).unwrap();
    let out = ws.run();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("source `kpa_pohjois_savo` reports gross costs, overheads not allocated, but source `kpa_etela_savo` reports net costs, overheads allocated"),
        "{err}"
    );
    assert!(err.contains("pipelines/sample.toml:"), "{err}");
}

#[test]
fn a_malformed_number_is_quarantined_with_file_line_and_column() {
    let ws = Workspace::new();
    let rel = "sample-data/kpa/SYNTHETIC_kpa_keski_pohjanmaa_2022_2024.csv";
    let text = std::fs::read_to_string(ws.path(rel)).unwrap();
    let line2 = text.lines().nth(1).unwrap().to_owned();
    let fields: Vec<&str> = line2.split(';').collect();
    // The column is the field's number, as a spreadsheet shows the file.
    let column = 3;
    let broken = line2.replacen(fields[2], "8 462,754,48", 1);
    std::fs::write(ws.path(rel), text.replacen(&line2, &broken, 1)).unwrap();
    let out = ws.run();
    assert!(out.status.success(), "{}", stderr(&out));
    let q = read_parquet(&ws.out().join("quarantine/observations.parquet"));
    let row = row_where(&q, "rule", "bad_number");
    assert_eq!(row["source"], "kpa_keski_pohjanmaa");
    assert!(
        row["location"].ends_with(&format!(
            "SYNTHETIC_kpa_keski_pohjanmaa_2022_2024.csv:2:{column}"
        )),
        "{}",
        row["location"]
    );
    assert!(
        row["reason"].contains("Kustannukset: `8 462,754,48` is not a number"),
        "{}",
        row["reason"]
    );
    // The other rows of the file are there.
    let kpa = read_parquet(&ws.out().join("kpa.parquet"));
    assert_eq!(kpa.height(), 47);
}

#[test]
fn excel_fi_csv_reads_back_in_finnish_excel_form() {
    let ws = Workspace::new();
    ws.edit(
        "pipelines/sample.toml",
        "csv = true",
        "csv = true\ncsv_dialect = \"excel-fi\"",
    );
    let out = ws.run();
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(ws.out().join("csv/kpa.csv")).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 byte-order mark");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut lines = text.split("\r\n");
    let header: Vec<&str> = lines.next().unwrap().split(';').collect();
    assert_eq!(
        header[..4],
        ["region", "region_level", "year", "service_class"]
    );
    let row = lines
        .find(|l| l.starts_with("HVA12;") && l.contains(";Ikääntyneiden kotihoito;"))
        .unwrap();
    let cells: Vec<&str> = row.split(';').collect();
    let costs = cells[header.iter().position(|h| *h == "costs").unwrap()];
    assert!(
        costs.contains(',') && !costs.contains('.'),
        "decimal comma: {costs}"
    );
    let parsed: f64 = costs.replace(',', ".").parse().unwrap();
    let kpa = read_parquet(&ws.out().join("kpa.parquet"));
    let first = kpa
        .lazy()
        .filter(
            col("region")
                .eq(lit("HVA12"))
                .and(col("service_class").eq(lit("Ikääntyneiden kotihoito"))),
        )
        .collect()
        .unwrap();
    let exact = first
        .column("costs")
        .unwrap()
        .f64()
        .unwrap()
        .get(0)
        .unwrap();
    assert!((parsed - exact).abs() < 1e-6, "{parsed} vs {exact}");
}

/// Hand-checked: Helsinki (its own county) with 10 persons at each age 0..99 and 5 aged 100+
/// (255 aged 75+), one service class for those aged 75+ in 2023.
#[test]
fn deflation_and_needs_adjustment_by_hand() {
    let registry = Registry::builtin().unwrap();
    let cw = registry.crosswalk(2025).unwrap();
    let mut region = Vec::new();
    let mut age = Vec::new();
    let mut value = Vec::new();
    let mut dataset = Vec::new();
    let mut measure = Vec::new();
    for a in 0..100 {
        region.push("KU091");
        age.push(format!("{a}"));
        value.push(10.0);
        dataset.push("p");
        measure.push("vaesto");
    }
    region.push("KU091");
    age.push("100-".to_owned());
    value.push(5.0);
    dataset.push("p");
    measure.push("vaesto");
    // The need index of the county: 125 (country = 100).
    region.push("HVA90");
    age.push("total".to_owned());
    value.push(125.0);
    dataset.push("n");
    measure.push("243");
    let n = region.len();
    let level: Vec<&str> = region
        .iter()
        .map(|r| {
            if r.starts_with("KU") {
                "municipality"
            } else {
                "wellbeing_county"
            }
        })
        .collect();
    let obs = df!(
        "dataset" => dataset, "measure" => measure, "region" => region.clone(), "region_level" => level,
        "period" => vec!["2023"; n], "year" => vec![2023i16; n], "sex" => vec!["total"; n],
        "age" => age, "breakdown" => vec![""; n], "value" => value,
        "abs_value" => vec![None::<f64>; n], "raw_sha256" => vec!["sha"; n],
    )
    .unwrap();
    let text = r#"
[pipeline]
name = "k"
reference_year = 2025
years = [2023]
[regions]
focus = ["HVA90"]
[[sources]]
id = "p"
format = "jsonstat"
path = "p.json"
dataset = "p"
[[sources]]
id = "n"
format = "jsonstat"
path = "n.json"
dataset = "n"
[kpa]
population = { dataset = "p", measure = "vaesto" }
target_groups = { "Kotihoito" = [75] }
need_index = { dataset = "n", measure = "243" }
"#;
    let p = Pipeline::parse(std::path::Path::new("k.toml"), text).unwrap();
    let cfg: &KpaConfig = p.file.kpa.as_ref().unwrap();
    let rows = [KpaRow {
        line: 2,
        year: 2023,
        service_class: "Kotihoito".into(),
        costs: Some(1_000_000.0),
        clients: Some(100.0),
        units: Some(400.0),
        unit_name: Some("käynti".into()),
    }];
    let sources = [KpaSource {
        source: "k",
        region: "HVA90",
        cost_basis: CostBasis {
            costs: CostKind::Net,
            overheads: Overheads::Allocated,
        },
        raw_sha256: "sha",
        rows: &rows,
    }];
    let prices = PriceIndex {
        name: "test".into(),
        base_year: 2024,
        values: BTreeMap::from([(2023, 120.0), (2024, 126.0)]),
    };
    let input = DeriveInput {
        observations: &obs,
        crosswalk: &cw,
        indicators: &[],
        years: &[2023],
        source_of: &HashMap::new(),
        population: None,
        crosschecks: &[],
        memo: mittari::stages::derive::Memo::default(),
    };
    let df = kpa_frame(&sources, cfg, Some(&prices), &input).unwrap();
    let f = |name: &str| df.column(name).unwrap().f64().unwrap().get(0).unwrap();
    assert_eq!(f("population"), 255.0);
    assert_eq!(f("cost_per_client"), 10_000.0);
    assert!(
        (f("cost_per_client_real") - 10_500.0).abs() < 1e-9,
        "× 126 / 120"
    );
    assert_eq!(f("cost_per_unit"), 2500.0);
    assert!((f("clients_per_1000") - 100.0 / 255.0 * 1000.0).abs() < 1e-9);
    assert!((f("cost_per_capita") - 1_000_000.0 / 255.0).abs() < 1e-9);
    assert!((f("cost_per_capita_real") - 1_000_000.0 / 255.0 * 1.05).abs() < 1e-9);
    assert!((f("cost_per_capita_need_adjusted") - 1_000_000.0 / 255.0 / 1.25).abs() < 1e-9);
    assert_eq!(
        df.column("cost_basis").unwrap().str().unwrap().get(0),
        Some("net costs, overheads allocated")
    );
}

/// A quarantine entry as the pipeline makes one, for calling the KPA reader directly.
fn reject(
    location: String,
    rule: &'static str,
    reason: String,
    record: String,
) -> mittari::model::quarantine::QuarantineEntry {
    mittari::model::quarantine::QuarantineEntry {
        stage: "normalize",
        source: "t".into(),
        raw_sha256: String::new(),
        location,
        rule,
        reason,
        record,
    }
}

/// The same figures as an Excel workbook (numbers as numbers, one cost as text with a decimal
/// comma, the data on the first of two sheets) give the same rows as the CSV.
#[test]
fn an_xlsx_workbook_reads_like_the_csv() {
    use mittari::io::tabular::{Encoding, decode_text, delimited_rows, workbook};
    use mittari::stages::normalize::regionfile::read_kpa;
    let xlsx = std::fs::read(
        repo().join("tests/fixtures/kpa/SYNTHETIC_kpa_keski_pohjanmaa_2022_2024.xlsx"),
    )
    .unwrap();
    let (from_xlsx, q) = read_kpa(
        &workbook::first_sheet(&xlsx, "kp.xlsx").unwrap(),
        "kp.xlsx",
        &reject,
    )
    .unwrap();
    assert!(q.is_empty(), "{q:?}");
    let csv =
        std::fs::read(repo().join("sample-data/kpa/SYNTHETIC_kpa_keski_pohjanmaa_2022_2024.csv"))
            .unwrap();
    let text = decode_text(&csv, Encoding::Auto, "kp.csv").unwrap();
    let (from_csv, q) =
        read_kpa(&delimited_rows(&text, "kp.csv").unwrap(), "kp.csv", &reject).unwrap();
    assert!(q.is_empty(), "{q:?}");
    assert_eq!(from_xlsx.len(), 18);
    assert_eq!(from_xlsx, from_csv);
    // A workbook that is not one: an error naming the file.
    let err = workbook::first_sheet(b"Vuosi;Palveluluokka", "broken.xlsx")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("broken.xlsx") && err.contains("not a readable workbook"),
        "{err}"
    );
}

/// A `kpa-xlsx` source in a pipeline gives the same `kpa` table as the CSV it replaces.
#[test]
fn a_kpa_xlsx_source_runs_in_the_pipeline() {
    let ws = Workspace::new();
    std::fs::copy(
        repo().join("tests/fixtures/kpa/SYNTHETIC_kpa_keski_pohjanmaa_2022_2024.xlsx"),
        ws.path("sample-data/kpa/kp.xlsx"),
    )
    .unwrap();
    ws.edit(
        "pipelines/sample.toml",
        "format = \"kpa-csv\"\npath = \"../sample-data/kpa/SYNTHETIC_kpa_keski_pohjanmaa_2022_2024.csv\"",
        "format = \"kpa-xlsx\"\npath = \"../sample-data/kpa/kp.xlsx\"",
    );
    let out = ws.run();
    assert!(out.status.success(), "{}", stderr(&out));
    let kpa = read_parquet(&ws.out().join("kpa.parquet"));
    assert_eq!(kpa.height(), 48);
    let costs = one_f64(
        &kpa,
        &[
            ("region", "HVA18"),
            ("service_class", "Ympärivuorokautinen palveluasuminen"),
        ],
        2022,
        "costs",
    );
    assert_eq!(
        costs,
        Some(23_093_512.0),
        "the cost stored as text with a decimal comma"
    );
}

#[test]
fn an_unknown_need_indicator_is_a_config_error() {
    let ws = Workspace::new();
    ws.edit(
        "pipelines/sample.toml",
        "need_indicator = \"morbidity_index_thl_age_standardised\"",
        "need_indicator = \"morbidity\"",
    );
    let out = mittari()
        .arg("validate")
        .arg(ws.pipeline())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("`comparison.need_indicator`: `morbidity` is not an indicator"),
        "{err}"
    );
    assert!(err.contains("sample.toml:"), "{err}");
}

/// The same figures saved as the old binary `.xls` and as the `OpenDocument` `.ods` of `LibreOffice`
/// (`tests/fixtures/make_kpa_xls_ods.py`) read as the CSV does, and the export date the
/// workbooks store as a date arrives as a date, not as Excel's serial number.
#[test]
fn xls_and_ods_workbooks_read_like_the_csv() {
    use mittari::io::tabular::{Encoding, XCell, decode_text, delimited_rows, workbook};
    use mittari::stages::normalize::regionfile::read_kpa;
    let csv =
        std::fs::read(repo().join("sample-data/kpa/SYNTHETIC_kpa_keski_pohjanmaa_2022_2024.csv"))
            .unwrap();
    let text = decode_text(&csv, Encoding::Auto, "kp.csv").unwrap();
    let (from_csv, _) =
        read_kpa(&delimited_rows(&text, "kp.csv").unwrap(), "kp.csv", &reject).unwrap();
    assert_eq!(from_csv.len(), 18);
    for ext in ["xls", "ods"] {
        let file = format!("kp.{ext}");
        let bytes = std::fs::read(repo().join(format!(
            "tests/fixtures/kpa/SYNTHETIC_kpa_keski_pohjanmaa_2022_2024.{ext}"
        )))
        .unwrap();
        let rows = workbook::first_sheet(&bytes, &file).unwrap();
        let (got, q) = read_kpa(&rows, &file, &reject).unwrap();
        assert!(q.is_empty(), "{ext}: {q:?}");
        assert_eq!(got, from_csv, "{ext}");
        let exported = rows[1].1.iter().find(|(c, _)| *c == 7).map(|(_, v)| v);
        assert_eq!(
            exported,
            Some(&XCell::Date(
                chrono::NaiveDate::from_ymd_opt(2025, 3, 1)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap()
            )),
            "{ext}"
        );
        // A sheet by name, and a missing one named with the sheets there are.
        assert!(workbook::sheet(&bytes, &file, Some("huomiot")).is_ok());
        let err = workbook::sheet(&bytes, &file, Some("Toimenpiteet")).unwrap_err();
        assert!(err.to_string().contains("Kustannukset, Huomiot"), "{err}");
    }
}

/// Excel's "Unicode text" export (UTF-16LE with a byte-order mark, tab-separated) of a cost file
/// whose service class has a line break inside its quotes runs through the pipeline: the class
/// keeps its line break, and every other figure is as in the original file.
#[test]
fn a_utf16_export_with_a_quoted_line_break_runs() {
    let ws = Workspace::new();
    let rel = "sample-data/kpa/SYNTHETIC_kpa_keski_pohjanmaa_2022_2024.csv";
    let text = std::fs::read_to_string(ws.path(rel)).unwrap();
    let unicode_text: String = text
        .lines()
        .map(|l| {
            l.replace(';', "\t")
                .replace("Ikääntyneiden kotihoito", "\"Ikääntyneiden\nkotihoito\"")
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    let bytes: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(unicode_text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    std::fs::write(ws.path(rel), bytes).unwrap();
    let out = ws.run();
    assert!(out.status.success(), "{}", stderr(&out));
    let kpa = read_parquet(&ws.out().join("kpa.parquet"));
    let classes = kpa.column("service_class").unwrap().str().unwrap().clone();
    let regions = kpa.column("region").unwrap().str().unwrap().clone();
    let of_kp: Vec<&str> = classes
        .iter()
        .zip(regions.iter())
        .filter(|(_, r)| *r == Some("HVA18"))
        .filter_map(|(c, _)| c)
        .collect();
    assert!(of_kp.contains(&"Ikääntyneiden\nkotihoito"), "{of_kp:?}");
    assert!(!of_kp.contains(&"Ikääntyneiden kotihoito"));
    assert_eq!(of_kp.len(), 18, "every row of the file: {of_kp:?}");
}
