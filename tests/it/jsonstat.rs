#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
#![allow(clippy::float_cmp, clippy::cast_precision_loss)] // Exact values; small test numbers.
//! JSON-stat: a small document of every form (`tests/fixtures/jsonstat/`), the validator corpus,
//! and a property test of the cell order. The published json-stat.org samples cannot be copied
//! into the repository (their copies are LGPL-licensed): the `extra_` tests read them from the
//! folder named by `MITTARI_EXTRA_FIXTURES` and are ignored, with that reason shown, when it is
//! not set (`.ci/run` sets it where the corpus is present).

use crate::common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use mittari::error::SourceError;
use mittari::model::observation::{RegionId, Sex};
use mittari::stages::normalize::jsonstat::stream::{Cell, CellSink};
use mittari::stages::normalize::jsonstat::{DimensionRoles, Input};
use mittari::stages::normalize::{DecodeContext, jsonstat};
use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    common::repo().join("tests/fixtures/jsonstat").join(name)
}

/// A file of the extra corpus (`$MITTARI_EXTRA_FIXTURES/jsonstat-samples/`).
fn extra(name: &str) -> PathBuf {
    let dir = std::env::var_os("MITTARI_EXTRA_FIXTURES")
        .expect("the extra suite needs MITTARI_EXTRA_FIXTURES (see tests/fixtures/NOTICE)");
    PathBuf::from(dir).join("jsonstat-samples").join(name)
}

fn ctx(dataset: &str) -> DecodeContext {
    DecodeContext {
        source_id: "t".into(),
        dataset: dataset.into(),
        file: "t.json".into(),
        raw_sha256: String::new(),
        unit: None,
        latest_year: None,
    }
}

fn decode(bytes: &[u8], roles: &DimensionRoles) -> common::decoded::Decoded {
    common::decoded::decode_jsonstat(bytes, roles, &ctx("t")).unwrap()
}

/// Every cell of every dataset, by (dataset, position).
struct Collect(BTreeMap<(usize, usize), Cell>);

impl CellSink for Collect {
    fn cell(&mut self, dataset: usize, pos: usize, cell: Cell) -> Result<(), String> {
        self.0.insert((dataset, pos), cell);
        Ok(())
    }
}

fn cells(
    bytes: &[u8],
) -> (
    Vec<jsonstat::validate::Resolved>,
    BTreeMap<(usize, usize), Cell>,
) {
    let (form, resolved, findings) = jsonstat::validate(Input::Bytes(bytes), "t.json").unwrap();
    assert!(findings.iter().all(|f| !f.error), "{findings:?}");
    let pointers: Vec<String> = resolved.iter().map(|r| r.pointer.clone()).collect();
    let mut sink = Collect(BTreeMap::new());
    jsonstat::stream::stream(bytes, form, &pointers, &mut sink).unwrap();
    (resolved, sink.0)
}

/// Category ids of a cell, from its position, computed here independently (row-major over `id`).
fn coords(r: &jsonstat::validate::Resolved, pos: usize) -> Vec<String> {
    let mut rest = pos;
    let mut out = vec![String::new(); r.dims.len()];
    for (k, d) in r.dims.iter().enumerate().rev() {
        out[k].clone_from(&d.categories[rest % d.categories.len()]);
        rest /= d.categories.len();
    }
    out
}

#[test]
fn order_is_row_major() {
    let bytes = std::fs::read(fixture("order.json")).unwrap();
    let (resolved, cells) = cells(&bytes);
    assert_eq!(cells.len(), 24);
    for ((_, pos), cell) in &cells {
        let c = coords(&resolved[0], *pos);
        let expected = format!("A{}B{}C{}", c[0], c[1], c[2]);
        assert_eq!(*cell, Cell::Text(expected), "position {pos}");
    }
    assert_eq!(cells[&(0, 5)], Cell::Text("A1B2C2".into()));
    assert_eq!(cells[&(0, 23)], Cell::Text("A3B2C4".into()));
}

#[test]
fn status_for_all_cells_and_units() {
    let d = decode(
        &std::fs::read(fixture("status_all_units.json")).unwrap(),
        &DimensionRoles::default(),
    );
    assert_eq!(d.rows.len(), 12);
    assert!(d.rows.iter().all(|r| r.status.as_deref() == Some("p")));
    let first = &d.rows[0];
    assert_eq!((first.value, first.measure.as_str()), (Some(64.5), "POP"));
    assert_eq!(first.region, RegionId::Code("HVA12".into()));
    assert_eq!(
        first.unit.as_deref(),
        Some("thousands of persons (decimals: 1)")
    );
    assert_eq!(
        (d.rows[6].value, d.rows[6].measure.as_str()),
        (Some(2.3), "PERCENT")
    );
    assert_eq!(d.rows[6].unit.as_deref(), Some("% (decimals: 1)"));
    assert_eq!(
        d.datasets[0].source.as_deref(),
        Some("mittari test fixture (invented figures)")
    );
}

#[test]
fn sparse_status_object_and_notes() {
    let bytes = std::fs::read(fixture("status_object_notes.json")).unwrap();
    let d = decode(&bytes, &DimensionRoles::default());
    assert_eq!(d.rows.len(), 12);
    assert_eq!(d.rows[0].value, Some(5.0));
    // `index` is an object in shuffled key order: FI is still category 0, and position 3 is
    // FI x 2024.
    let r3 = &d.rows[3];
    assert_eq!(r3.status.as_deref(), Some("e"));
    assert_eq!(
        r3.status_label, None,
        "`e` is the publisher's own code: no label is invented"
    );
    assert_eq!(r3.region, RegionId::Code("FI".into()));
    assert_eq!(r3.period, "2024");
    assert_eq!(d.rows[7].region, RegionId::Code("SE".into()));
    assert_eq!(d.rows[7].status.as_deref(), Some("e"));
    assert_eq!(d.rows[2].status, None);
    assert!(d.datasets[0].notes[0].starts_with("Figures for 2024 are provisional"));
}

#[test]
fn metric_dimension() {
    let d = decode(
        &std::fs::read(fixture("metric.json")).unwrap(),
        &DimensionRoles::default(),
    );
    assert_eq!(d.rows.len(), 8);
    assert_eq!(
        (d.rows[1].measure.as_str(), d.rows[1].value),
        ("perc", Some(1.5))
    );
    assert_eq!(
        (d.rows[2].measure.as_str(), d.rows[2].value),
        ("gsp", Some(20_000.0))
    );
    assert_eq!(d.rows[2].region, RegionId::Code("KU049".into()));
}

#[test]
fn size_given_as_strings() {
    let bytes = std::fs::read(fixture("size_as_strings.json")).unwrap();
    let (resolved, cells) = cells(&bytes);
    assert_eq!(resolved[0].total, 24);
    assert_eq!(cells.len(), 24);
}

#[test]
fn v1_single_dataset_and_bundle() {
    let bytes = std::fs::read(fixture("v1_dataset.json")).unwrap();
    let d = decode(&bytes, &DimensionRoles::default());
    assert_eq!(d.rows.len(), 12);
    // id = [serie, year, area], area varies fastest: position 10 is 2013 x ES.
    assert_eq!(
        (d.rows[10].period.as_str(), d.rows[10].value),
        ("2013", Some(21.5))
    );
    assert_eq!(d.rows[10].region, RegionId::Code("ES".into()));
    assert_eq!(d.rows[10].breakdown, "serie=serie");
    // The same dataset inside a 1.x bundle, next to another one.
    let inner: Value = serde_json::from_slice(&bytes).unwrap();
    let bundle = json!({"unemployment": inner, "copy": inner});
    let d = decode(bundle.to_string().as_bytes(), &DimensionRoles::default());
    assert_eq!(d.rows.len(), 24);
    for name in ["unemployment", "copy"] {
        let rows: Vec<_> = d
            .rows
            .iter()
            .filter(|r| r.dataset == format!("t#/{name}"))
            .collect();
        assert_eq!(rows.len(), 12, "{name}");
        assert_eq!(rows[10].value, Some(21.5), "{name}");
    }
    let mut pointers: Vec<&str> = d.datasets.iter().map(|i| i.pointer.as_str()).collect();
    pointers.sort_unstable();
    assert_eq!(pointers, ["/copy", "/unemployment"]);
}

#[test]
fn collection_with_embedded_datasets_and_one_of_links() {
    let corpus: Value =
        serde_json::from_slice(&std::fs::read(fixture("validator_corpus_cases.json")).unwrap())
            .unwrap();
    let case = corpus
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "valid/collection-embedded")
        .unwrap();
    let (resolved, cells) = cells(case["input"].to_string().as_bytes());
    assert!(!resolved.is_empty());
    assert_eq!(resolved[0].pointer, "/link/item/0");
    assert!(!cells.is_empty());
    // A collection that only links to datasets: a clear error, not an empty result.
    let bytes = std::fs::read(fixture("collection_links.json")).unwrap();
    let err = common::decoded::decode_jsonstat(&bytes, &DimensionRoles::default(), &ctx("t"))
        .unwrap_err();
    assert!(err.to_string().contains("embeds no dataset"), "{err}");
}

// Decoding a small dataset of every value and status form.

fn unit_ctx() -> DecodeContext {
    DecodeContext {
        source_id: "s".into(),
        dataset: "t:1".into(),
        file: "t.json".into(),
        raw_sha256: "00".into(),
        unit: None,
        latest_year: None,
    }
}

fn roles() -> DimensionRoles {
    DimensionRoles {
        region: Some("alue".into()),
        time: Some("vuosi".into()),
        ..DimensionRoles::default()
    }
}

const BASE: &str = r#"{"version":"2.0","class":"dataset","id":["alue","vuosi","sukupuoli"],"size":[2,1,3],
  "dimension":{
    "sukupuoli":{"category":{"index":{"SSS":0,"1":1,"2":2}}},
    "alue":{"category":{"index":["KU091","KU049"]}},
    "vuosi":{"category":{"label":{"2024":"2024"}}}},
  VALUE}"#;

fn decode_with(value: &str) -> Result<common::decoded::Decoded, SourceError> {
    let text = BASE.replace("VALUE", value);
    let mut r = roles();
    r.sex = Some("sukupuoli".into());
    common::decoded::decode_jsonstat(text.as_bytes(), &r, &unit_ctx())
}

#[test]
fn dense_row_major_with_object_index_and_labels_only_dimension() {
    let d = decode_with(r#""value":[1,2,3,4,5,6]"#).unwrap();
    assert_eq!(d.rows.len(), 6);
    let r = &d.rows[4];
    assert_eq!(r.region, RegionId::Code("KU049".into()));
    assert_eq!(r.sex, Sex::Male);
    assert_eq!(r.value, Some(5.0));
    assert_eq!(r.period, "2024");
    assert_eq!(r.breakdown, "");
}

#[test]
fn sparse_value_with_status_object() {
    let d = decode_with(r#""value":{"0":10,"5":60},"status":{"3":".."}"#).unwrap();
    let got: Vec<_> = d.rows.iter().map(|r| (r.value, r.status.clone())).collect();
    // Listed cells stream first; cells that only have a status follow.
    assert_eq!(
        got,
        vec![
            (Some(10.0), None),
            (Some(60.0), None),
            (None, Some("..".into()))
        ]
    );
    // Position 3: KU049, sex total.
    assert_eq!(
        (&d.rows[2].region, d.rows[2].sex),
        (&RegionId::Code("KU049".into()), Sex::Total)
    );
    assert_eq!(
        d.rows[2].status_label.as_deref(),
        Some("PX missing-value symbol DATASYMBOL2")
    );
}

#[test]
fn status_string_and_length_one_array_apply_to_all() {
    for status in [r#""status":"e""#, r#""status":["e"]"#] {
        let d = decode_with(&format!(r#""value":[1,2,3,4,5,6],{status}"#)).unwrap();
        assert!(
            d.rows.iter().all(|r| r.status.as_deref() == Some("e")),
            "{status}"
        );
    }
}

#[test]
fn status_array_per_cell() {
    let d = decode_with(r#""value":[1,null,3,4,5,6],"status":[null,"..",null,null,null,null]"#)
        .unwrap();
    assert_eq!(d.rows[1].value, None);
    assert_eq!(d.rows[1].status.as_deref(), Some(".."));
    assert_eq!(d.rows[0].status, None);
}

#[test]
fn wrong_length_names_pointer() {
    let err = decode_with(r#""value":[1,2,3]"#).unwrap_err();
    let SourceError::Malformed {
        location, message, ..
    } = err
    else {
        panic!()
    };
    assert_eq!(location, "/value");
    assert!(message.contains("product of `size` is 6"), "{message}");
}

#[test]
fn sparse_key_out_of_range() {
    let err = decode_with(r#""value":{"6":1}"#).unwrap_err();
    assert!(err.to_string().contains("/value/6"), "{err}");
}

#[test]
fn unmapped_sex_code_is_quarantined() {
    let text = BASE
        .replace("\"2\":2", "\"9\":2")
        .replace("VALUE", r#""value":[1,2,3,4,5,6]"#);
    let mut r = roles();
    r.sex = Some("sukupuoli".into());
    let d = common::decoded::decode_jsonstat(text.as_bytes(), &r, &unit_ctx()).unwrap();
    assert_eq!(d.rows.len(), 4);
    assert_eq!(d.quarantine.len(), 2);
    assert_eq!(d.quarantine[0].location, "t.json#/value/2");
}

#[test]
fn unnamed_dimensions_go_to_breakdown() {
    let d = common::decoded::decode_jsonstat(
        BASE.replace("VALUE", r#""value":[1,2,3,4,5,6]"#).as_bytes(),
        &roles(),
        &unit_ctx(),
    )
    .unwrap();
    assert_eq!(d.rows[1].breakdown, "sukupuoli=1");
    assert_eq!(d.rows[1].sex, Sex::Total);
}

// The extra suite: the published json-stat.org samples, as served (see the module doc).

#[test]
#[ignore = "extra fixture corpus: set MITTARI_EXTRA_FIXTURES (tests/fixtures/NOTICE)"]
fn extra_order_sample_is_row_major() {
    let bytes = std::fs::read(extra("order.json")).unwrap();
    let (resolved, cells) = cells(&bytes);
    assert_eq!(cells.len(), 24);
    for ((_, pos), cell) in &cells {
        let c = coords(&resolved[0], *pos);
        let expected = format!("A{}B{}C{}", c[0], c[1], c[2]);
        if *pos == 11 {
            // The published sample has a typo here: it says A1B1C4 where A2B1C4 belongs.
            assert_eq!(expected, "A2B1C4");
            assert_eq!(*cell, Cell::Text("A1B1C4".into()));
        } else {
            assert_eq!(*cell, Cell::Text(expected), "position {pos}");
        }
    }
}

#[test]
#[ignore = "extra fixture corpus: set MITTARI_EXTRA_FIXTURES (tests/fixtures/NOTICE)"]
fn extra_canada_status_for_all_cells_and_units() {
    let d = decode(
        &std::fs::read(extra("canada.json")).unwrap(),
        &DimensionRoles::default(),
    );
    assert_eq!(d.rows.len(), 120);
    assert!(d.rows.iter().all(|r| r.status.as_deref() == Some("a")));
    let first = &d.rows[0];
    assert_eq!(
        (first.value, first.measure.as_str()),
        (Some(34_880.5), "POP")
    );
    assert_eq!(first.region, RegionId::Code("CA".into()));
    assert_eq!(
        first.unit.as_deref(),
        Some("thousands of persons (decimals: 1)")
    );
    assert_eq!(first.breakdown, "age=T;sex=T");
}

#[test]
#[ignore = "extra fixture corpus: set MITTARI_EXTRA_FIXTURES (tests/fixtures/NOTICE)"]
fn extra_oecd_sparse_status_object_and_notes() {
    let bytes = std::fs::read(extra("oecd.json")).unwrap();
    let d = decode(&bytes, &DimensionRoles::default());
    assert_eq!(d.rows.len(), 432);
    assert_eq!(d.rows[0].value, Some(5.943_826_289));
    assert_eq!(d.rows[10].status.as_deref(), Some("e"));
    assert_eq!(d.rows[10].period, "2013");
    assert_eq!(d.rows[9].status, None);
    assert!(d.datasets[0].notes[0].starts_with("Most of the data in this dataset"));
}

#[test]
#[ignore = "extra fixture corpus: set MITTARI_EXTRA_FIXTURES (tests/fixtures/NOTICE)"]
fn extra_us_gsp_and_edge_cases() {
    let d = decode(
        &std::fs::read(extra("us-gsp.json")).unwrap(),
        &DimensionRoles::default(),
    );
    assert_eq!(d.rows.len(), 204);
    assert_eq!(
        (d.rows[4].measure.as_str(), d.rows[4].value),
        ("gsp", Some(45_600.0))
    );
    let (resolved, _) =
        cells(&std::fs::read(extra("edge_three_dim_size_as_string_v2.json")).unwrap());
    assert_eq!(resolved[0].total, 24);
    let d = decode(
        &std::fs::read(extra("edge_dataset_unemployment_v1.json")).unwrap(),
        &DimensionRoles::default(),
    );
    assert_eq!(
        (d.rows[5].period.as_str(), d.rows[5].value),
        ("2013", Some(22.0))
    );
    let err = common::decoded::decode_jsonstat(
        &std::fs::read(extra("collection.json")).unwrap(),
        &DimensionRoles::default(),
        &ctx("t"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("embeds no dataset"), "{err}");
}

#[test]
fn validator_corpus_case_by_case() {
    let corpus: Value =
        serde_json::from_slice(&std::fs::read(fixture("validator_corpus_cases.json")).unwrap())
            .unwrap();
    let cases = corpus.as_array().unwrap();
    assert_eq!(cases.len(), 20);
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let findings =
            jsonstat::findings(case["input"].to_string().as_bytes(), "case.json").unwrap();
        let codes: Vec<&str> = findings.iter().map(|f| f.code).collect();
        let errors: Vec<&str> = findings
            .iter()
            .filter(|f| f.error)
            .map(|f| f.code)
            .collect();
        let expected = &case["expected"];
        if let Some(valid) = expected["valid"].as_bool() {
            assert_eq!(errors.is_empty(), valid, "{id}: findings {findings:?}");
        }
        for code in expected["codes"].as_array().into_iter().flatten() {
            assert!(
                codes.contains(&code.as_str().unwrap()),
                "{id}: expected {code}, got {codes:?}"
            );
        }
        if expected["noOtherErrors"] == true {
            let allowed: Vec<&str> = expected["codes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c.as_str().unwrap())
                .collect();
            assert!(
                errors.iter().all(|e| allowed.contains(e)),
                "{id}: unexpected errors {errors:?}"
            );
        }
        for f in &findings {
            assert!(f.pointer.starts_with('/'), "{id}: pointer {:?}", f.pointer);
        }
    }
}

#[test]
fn invalid_dataset_names_rule_and_pointer() {
    let bad = json!({"version": "2.0", "class": "dataset", "id": ["sex"], "size": [2],
        "dimension": {"sex": {"category": {"index": ["M", "F"], "label": {"M": "male", "X": "x"}}}},
        "value": [1, 2]});
    let err = common::decoded::decode_jsonstat(
        bad.to_string().as_bytes(),
        &DimensionRoles::default(),
        &ctx("t"),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("/dimension/sex/category/label/X"), "{text}");
    assert!(text.contains("LABEL_KEY_UNKNOWN"), "{text}");
}

/// A small deterministic generator (xorshift64*), so the property test needs no dependency and
/// every failure is reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> usize {
        usize::try_from(self.next() % n).unwrap()
    }
}

/// For random shapes, a table encoded to JSON-stat (dense or sparse `value`, `index` as array or
/// object in shuffled key order, dimension objects in shuffled order) decodes to the same cells at
/// the same coordinates.
#[test]
fn property_encode_decode_round_trip() {
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let ndims = 1 + rng.below(4);
        let sizes: Vec<usize> = (0..ndims).map(|_| 1 + rng.below(5)).collect();
        let ids: Vec<String> = (0..ndims).map(|k| format!("d{k}")).collect();
        let cats: Vec<Vec<String>> = sizes
            .iter()
            .enumerate()
            .map(|(k, n)| (0..*n).map(|i| format!("c{k}_{i}")).collect())
            .collect();
        let total: usize = sizes.iter().product();
        // Cells: coordinates -> value (some null), some positions left out when sparse.
        let sparse = rng.below(2) == 0;
        let mut truth: BTreeMap<Vec<String>, Option<f64>> = BTreeMap::new();
        let mut dense = Vec::with_capacity(total);
        let mut sparse_map = serde_json::Map::new();
        for pos in 0..total {
            let mut rest = pos;
            let mut c = vec![String::new(); ndims];
            for k in (0..ndims).rev() {
                c[k] = cats[k][rest % sizes[k]].clone();
                rest /= sizes[k];
            }
            let v = if rng.below(10) == 0 {
                None
            } else {
                Some(rng.below(1_000_000) as f64 / 100.0)
            };
            dense.push(v.map_or(Value::Null, |x| json!(x)));
            if !sparse || rng.below(3) > 0 {
                sparse_map.insert(pos.to_string(), v.map_or(Value::Null, |x| json!(x)));
                truth.insert(c, v);
            } else if !sparse {
                truth.insert(c, v);
            }
        }
        let mut dims: Vec<(String, Value)> = (0..ndims)
            .map(|k| {
                let index = if rng.below(2) == 0 {
                    json!(cats[k])
                } else {
                    // Object form, keys written in shuffled order.
                    let mut order: Vec<usize> = (0..sizes[k]).collect();
                    for i in (1..order.len()).rev() {
                        order.swap(i, rng.below(i as u64 + 1));
                    }
                    let mut m = serde_json::Map::new();
                    for i in order {
                        m.insert(cats[k][i].clone(), json!(i));
                    }
                    Value::Object(m)
                };
                (ids[k].clone(), json!({"category": {"index": index}}))
            })
            .collect();
        for i in (1..dims.len()).rev() {
            dims.swap(i, rng.below(i as u64 + 1));
        }
        let doc = json!({
            "version": "2.0", "class": "dataset",
            "dimension": Value::Object(dims.into_iter().collect()),
            "value": if sparse { Value::Object(sparse_map) } else { Value::Array(dense) },
            "id": ids, "size": sizes,
        });
        let bytes = doc.to_string();
        let (resolved, got) = cells(bytes.as_bytes());
        let decoded: BTreeMap<Vec<String>, Option<f64>> = got
            .iter()
            .map(|((_, pos), cell)| {
                let v = match cell {
                    Cell::Number(x) => Some(*x),
                    Cell::Null => None,
                    Cell::Text(t) => panic!("seed {seed}: text cell {t}"),
                };
                (coords(&resolved[0], *pos), v)
            })
            .collect();
        assert_eq!(decoded, truth, "seed {seed}: {bytes}");
    }
}

/// `mittari convert jsonstat INPUT -o OUT EXTRA...`, which must succeed.
fn convert_ok(input: &std::path::Path, out: &std::path::Path, extra: &[&str]) {
    let run = common::mittari()
        .args(["convert", "jsonstat"])
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", common::stderr(&run));
}

/// A dense dataset of 56 000 cells (about 0.4 MB, more than one read buffer of either pass):
/// four regions (one unknown), two measures with units, an age dimension left to `breakdown`,
/// 35 years; every 97th cell null with a status from a status object, some numbers with a
/// fraction and exponent, some negative. (Numbers given as text are left to
/// `convert_writes_text_cells_last_in_the_same_schema`: they change the row order.)
fn big_document() -> String {
    let ages: Vec<String> = (0..200).map(|a| format!("\"{a}\"")).collect();
    let years: Vec<String> = (1990..2025).map(|y| format!("\"{y}\"")).collect();
    let cells = 4 * 2 * 200 * 35;
    let mut value = Vec::with_capacity(cells);
    let mut status = Vec::new();
    for i in 0..cells {
        if i % 97 == 0 {
            value.push("null".to_owned());
            status.push(format!("\"{i}\": \"..\""));
        } else if i % 1000 == 1 {
            value.push(format!("{}.25e1", i % 89));
        } else if i % 501 == 0 {
            value.push("-3".to_owned());
        } else {
            value.push(((i * 7919) % 100_003).to_string());
        }
    }
    format!(
        r#"{{"version": "2.0", "class": "dataset", "label": "big",
  "id": ["alue", "tiedot", "ika", "vuosi"], "size": [4, 2, 200, 35],
  "role": {{"geo": ["alue"], "time": ["vuosi"], "metric": ["tiedot"]}},
  "dimension": {{
    "alue": {{"category": {{"index": ["SSS", "KU091", "KU049", "KU999"]}}}},
    "tiedot": {{"category": {{"index": ["vaesto", "osuus"],
      "unit": {{"vaesto": {{"label": "persons", "decimals": 0}}, "osuus": {{"label": "%", "decimals": 1}}}}}}}},
    "ika": {{"category": {{"index": [{}]}}}},
    "vuosi": {{"category": {{"index": [{}]}}}}}},
  "extension": {{"missingValueDescriptions": {{"..": "confidential"}}}},
  "value": [{}],
  "status": {{{}}}}}"#,
        ages.join(", "),
        years.join(", "),
        value.join(", "),
        status.join(", ")
    )
}

/// `convert` (columnar path) writes exactly what the row path decodes: same cells, regions,
/// statuses, labels, units and breakdowns, and the same quarantine.
#[test]
fn convert_columns_equal_the_row_path() {
    use mittari::model::observation::Provenance;
    use mittari::model::regions::Registry;
    use mittari::model::regions::resolve::RegionResolver;
    let registry = Registry::builtin().unwrap();
    let resolver = RegionResolver {
        registry: &registry,
        sotkanet_regions: None,
    };
    let dir = tempfile::TempDir::new().unwrap();
    let big = dir.path().join("big.json");
    std::fs::write(&big, big_document()).unwrap();
    let cases: [(PathBuf, &[&str]); 4] = [
        (big, &[]),
        (
            common::repo().join("sample-data/statfin/11s5_population_by_municipality_2024M12.json"),
            &[],
        ),
        (
            common::repo().join("tests/fixtures/statfi_jsonstat2_12st_with_nulls_status.json"),
            &["--region-code", "SSS"],
        ),
        (fixture("status_object_notes.json"), &[]),
    ];
    for (input, extra) in cases {
        let out = dir.path().join("out.parquet");
        convert_ok(&input, &out, &[&["--dataset", "t"], extra].concat());
        // The row path, resolved through the same registry.
        let bytes = std::fs::read(&input).unwrap();
        let roles = DimensionRoles {
            region_code: extra.get(1).map(|s| (*s).to_owned()),
            ..Default::default()
        };
        let mut c = ctx("t");
        c.file = input.display().to_string();
        let prov = Provenance {
            source_id: "input",
            raw_sha256: "",
            retrieved_at: chrono::Utc::now(),
        };
        let (cols, quarantine) = common::oracle::resolved(&bytes, &roles, &c, &resolver, &prov);
        let rows = { cols }.take_frame().unwrap();
        let written = common::read_parquet(&out);
        assert_eq!(written.height(), rows.height(), "{}", input.display());
        for name in [
            "measure",
            "region",
            "region_level",
            "period",
            "year",
            "sex",
            "age",
            "breakdown",
            "value",
            "status",
            "status_label",
            "unit",
        ] {
            let a = written
                .column(name)
                .unwrap()
                .as_materialized_series()
                .clone();
            let b = rows.column(name).unwrap().as_materialized_series().clone();
            assert!(
                a.equals_missing(&b),
                "{}: column {name} differs:\n{a}\n{b}",
                input.display()
            );
        }
        // Key columns are stored dictionary-encoded (see `columns::Dicts`), as an independent
        // reader sees them (canada.json has no usable row: only the empty last batch is written).
        let schema = mittari::io::parquet::read_parquet_metadata(&out)
            .unwrap()
            .schema;
        let keys = [
            "source",
            "dataset",
            "measure",
            "region",
            "region_level",
            "period",
            "sex",
            "age",
            "breakdown",
            "status",
            "status_label",
            "unit",
            "raw_sha256",
        ];
        for name in keys.iter().filter(|_| written.height() > 0) {
            let dt = schema.field_with_name(name).unwrap().data_type();
            assert!(
                matches!(dt, arrow_schema::DataType::Dictionary(..)),
                "{}: {name} is {dt}",
                input.display()
            );
        }
        let qpath = dir.path().join("out.quarantine.parquet");
        let q_written = if qpath.exists() {
            common::read_parquet(&qpath).height()
        } else {
            0
        };
        assert_eq!(q_written, quarantine.len(), "{}", input.display());
        let _ = std::fs::remove_file(&qpath);
    }
}

/// The pipeline's conform stage takes JSON-stat's column path: its batches, appended to the
/// run's observation columns, give exactly the row path's table (every column, in
/// `observations` order) and the same quarantine entries, for documents with suppressed cells,
/// statuses, breakdowns, text values and regions that do not resolve.
#[test]
fn keyed_batches_equal_the_row_path_in_observations() {
    use mittari::model::observation::Provenance;
    use mittari::model::regions::Registry;
    use mittari::model::regions::resolve::RegionResolver;
    use mittari::stages::normalize::jsonstat::columns::{ColumnOptions, decode_columns};
    use mittari::stages::normalize::{Collect, Decoded};
    let registry = Registry::builtin().unwrap();
    let resolver = RegionResolver {
        registry: &registry,
        sotkanet_regions: None,
    };
    let prov = Provenance {
        source_id: "t",
        raw_sha256: "abc",
        retrieved_at: chrono::Utc::now(),
    };
    let with_text_and_unknown = r#"{"version":"2.0","class":"dataset","id":["alue","vuosi"],
        "size":[4,2],
        "dimension":{"alue":{"category":{"index":["KU091","KU999","SSS","KU049"]}},
                     "vuosi":{"category":{"index":["2023","2024"]}}},
        "role":{"geo":["alue"],"time":["vuosi"]},
        "value":[1,"2.5",3,null,"..",6,7,8],"status":{"3":"..","4":".."}}"#;
    let cases: [(Vec<u8>, Option<&str>); 5] = [
        (big_document().into_bytes(), None),
        (with_text_and_unknown.as_bytes().to_vec(), None),
        (
            std::fs::read(
                common::repo().join("tests/fixtures/statfi_jsonstat2_12st_with_nulls_status.json"),
            )
            .unwrap(),
            Some("SSS"),
        ),
        (
            std::fs::read(fixture("status_object_notes.json")).unwrap(),
            None,
        ),
        (
            std::fs::read(fixture("collection_fast_and_sparse.json")).unwrap(),
            None,
        ),
    ];
    for (n, (bytes, region_code)) in cases.iter().enumerate() {
        let roles = DimensionRoles {
            region_code: region_code.map(str::to_owned),
            ..Default::default()
        };
        let mut context = ctx("t");
        context.raw_sha256 = "abc".into();
        // The oracle: every cell mapped on its own.
        let (by_rows, q_rows) = common::oracle::resolved(bytes, &roles, &context, &resolver, &prov);
        // The column path, as the pipeline runs it (small batches: several per document).
        let resolve = |id: &RegionId| resolver.resolve(id).map(|(c, l)| (c, l.as_str()));
        let options = ColumnOptions {
            resolve_region: &resolve,
            retrieved_at_micros: prov.retrieved_at.timestamp_micros(),
            batch_rows: 1000,
        };
        let mut sink = Collect::new(&resolver, &prov);
        decode_columns(Input::Bytes(bytes), &roles, &context, &options, &mut sink).unwrap();
        let Decoded {
            resolved: by_columns,
            quarantine: q_cols,
            ..
        } = sink.finish();
        let (rows_frame, columns_frame) = (
            by_rows.into_frame().unwrap(),
            by_columns.into_frame().unwrap(),
        );
        assert!(rows_frame.height() > 0 || n == 3, "case {n} has rows");
        assert_eq!(rows_frame.height(), columns_frame.height(), "case {n}");
        for (x, y) in rows_frame.columns().iter().zip(columns_frame.columns()) {
            assert_eq!(x.name(), y.name(), "case {n}");
            let same = x
                .as_materialized_series()
                .equals_missing(y.as_materialized_series());
            assert!(same, "case {n}: column {} differs", x.name());
        }
        assert_eq!(q_rows, q_cols, "case {n}");
    }
}

/// Cells given as text go through the row path and are written after the columnar batches, cast
/// to the batches' dictionary-encoded columns.
#[test]
fn convert_writes_text_cells_last_in_the_same_schema() {
    let dir = tempfile::TempDir::new().unwrap();
    let input = dir.path().join("t.json");
    std::fs::write(
        &input,
        r#"{"version":"2.0","class":"dataset","id":["alue","vuosi"],"size":[3,1],
            "dimension":{"alue":{"category":{"index":["KU091","KU049","SSS"]}},
                         "vuosi":{"category":{"index":["2024"]}}},
            "role":{"geo":["alue"],"time":["vuosi"]},
            "value":[1,"2.5",null],"status":{"2":".."}}"#,
    )
    .unwrap();
    let out = dir.path().join("t.parquet");
    convert_ok(&input, &out, &[]);
    let df = common::read_parquet(&out);
    let regions: Vec<_> = df.column("region").unwrap().str().unwrap().iter().collect();
    assert_eq!(regions, [Some("KU091"), Some("SSS"), Some("KU049")]);
    let values: Vec<_> = df.column("value").unwrap().f64().unwrap().iter().collect();
    assert_eq!(values, [Some(1.0), None, Some(2.5)]);
    let schema = mittari::io::parquet::read_parquet_metadata(&out)
        .unwrap()
        .schema;
    let dt = schema.field_with_name("region").unwrap().data_type();
    assert!(matches!(dt, arrow_schema::DataType::Dictionary(..)), "{dt}");
}

/// Quarantine entries are written as they come, in batches: a document whose 70 000 cells all
/// have a period without a year converts, with every cell in the quarantine file and an empty
/// `observations`.
#[test]
fn convert_quarantines_more_cells_than_a_batch() {
    let dir = tempfile::TempDir::new().unwrap();
    let input = dir.path().join("bad_periods.json");
    let n = 70_000;
    let periods: Vec<String> = (0..n).map(|i| format!("\"P{i}\"")).collect();
    let values = vec!["1"; n].join(",");
    std::fs::write(
        &input,
        format!(
            r#"{{"version":"2.0","class":"dataset","id":["alue","vuosi"],"size":[1,{n}],
                "dimension":{{"alue":{{"category":{{"index":["SSS"]}}}},
                              "vuosi":{{"category":{{"index":[{}]}}}}}},
                "role":{{"geo":["alue"],"time":["vuosi"]}},"value":[{values}]}}"#,
            periods.join(",")
        ),
    )
    .unwrap();
    let out = dir.path().join("t.parquet");
    convert_ok(&input, &out, &[]);
    assert_eq!(common::read_parquet(&out).height(), 0);
    let q = common::read_parquet(&dir.path().join("t.quarantine.parquet"));
    assert_eq!(q.height(), n);
    let rules = q.column("rule").unwrap().str().unwrap();
    assert!(rules.iter().all(|r| r == Some("bad_period")));
}
