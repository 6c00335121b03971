#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
#![allow(clippy::float_cmp)] // Sums of whole numbers are compared exactly on purpose.
//! Each decoder on real recorded payloads, with exact values asserted at known positions.

use crate::common;

use common::repo;
use mittari::model::observation::{RegionId, Sex};
use mittari::model::regions::Level;
use mittari::model::regions::resolve::SotkanetRegion::{Canonical, OtherCategory};
use mittari::stages::normalize::jsonstat::DimensionRoles;
use mittari::stages::normalize::{DecodeContext, PayloadFormat, sotkanet};

fn ctx(file: &str, dataset: &str) -> (Vec<u8>, DecodeContext) {
    let path = repo().join(file);
    let bytes = std::fs::read(&path).unwrap();
    let ctx = DecodeContext {
        source_id: "test".into(),
        dataset: dataset.into(),
        file: file.into(),
        raw_sha256: mittari::io::hash::sha256_hex(&bytes),
        unit: None,
        latest_year: None,
    };
    (bytes, ctx)
}

#[test]
fn sotkanet_json_127_real() {
    let (bytes, c) = ctx(
        "sample-data/sotkanet/127_population_2019_2023_five_cities.json",
        "sotkanet:127",
    );
    let d = common::decoded::decode_sotkanet(PayloadFormat::SotkanetJson, &bytes, &c).unwrap();
    assert!(d.quarantine.is_empty());
    assert_eq!(d.rows.len(), 10);
    let r = &d.rows[0];
    assert_eq!(
        (r.region.clone(), r.year, r.sex),
        (RegionId::Code("KU091".into()), 2019, Sex::Total)
    );
    assert_eq!(r.value, Some(653_835.0));
    assert_eq!(r.abs_value, None, "127 has no absValue: null, not 0");
    assert_eq!(r.measure, "127");
    assert_eq!(d.rows[9].region, RegionId::Code("KU837".into()));
    assert_eq!(d.rows[9].value, Some(255_050.0));
}

#[test]
fn sotkanet_json_171_real_with_abs_value() {
    let (bytes, c) = ctx(
        "sample-data/sotkanet/171_share_75plus_2019_2023_five_cities.json",
        "sotkanet:171",
    );
    let d = common::decoded::decode_sotkanet(PayloadFormat::SotkanetJson, &bytes, &c).unwrap();
    assert_eq!(d.rows.len(), 10);
    let r = &d.rows[4];
    assert_eq!(
        (r.region.clone(), r.year),
        (RegionId::Code("KU091".into()), 2023)
    );
    assert_eq!(r.value, Some(8.6));
    assert_eq!(r.abs_value, Some(57_877.0));
}

#[test]
fn sotkanet_csv_127_real() {
    let (bytes, c) = ctx(
        "sample-data/sotkanet/127_population_2009.csv",
        "sotkanet:127",
    );
    assert!(
        bytes.windows(2).any(|w| w == b"\r\n"),
        "the recorded file is CRLF"
    );
    let d = common::decoded::decode_sotkanet(PayloadFormat::SotkanetCsv, &bytes, &c).unwrap();
    let lines = String::from_utf8(bytes)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .count();
    // Every row is kept or quarantined: ELY centres, sub-regions and major regions are levels
    // mittari does not model, and some 2009 ids are not in the 2015 `/regions` payload.
    assert_eq!(d.rows.len() + d.quarantine.len(), lines - 1);
    let rules: std::collections::BTreeSet<&str> = d.quarantine.iter().map(|q| q.rule).collect();
    assert!(
        rules.is_subset(&["unknown_region", "unsupported_level"].into()),
        "{rules:?}"
    );
    let first = &d.rows[0];
    assert_eq!(
        (
            first.region.clone(),
            first.year,
            first.value,
            first.abs_value
        ),
        (RegionId::Code("KU151".into()), 2009, Some(2406.0), None)
    );
    // Line 5: Sotkanet region 841, major region 2, 1 153 669 persons.
    let major = d
        .quarantine
        .iter()
        .find(|q| q.location.ends_with(".csv:5"))
        .unwrap();
    assert!(major.reason.contains("SUURALUE"), "{}", major.reason);
}

#[test]
fn sotkanet_regions_real_2015() {
    let bytes = std::fs::read(repo().join("sample-data/sotkanet/regions_2015.json")).unwrap();
    let r = sotkanet::decode_regions(&bytes, "regions_2015.json").unwrap();
    assert_eq!(r.len(), 511);
    assert_eq!(
        r[&344],
        Canonical("KU740".into(), Level::Municipality),
        "Savonlinna"
    );
    assert_eq!(r[&658], Canonical("SSS".into(), Level::Country));
    // Hospital districts keep their own level (never mapped to a county); Åland's is 22 in
    // Sotkanet and 00 in Statistics Finland's classification.
    assert_eq!(
        r[&608],
        Canonical("SHP11".into(), Level::HospitalDistrict),
        "Itä-Savo hospital district"
    );
    assert_eq!(r[&620], Canonical("SHP00".into(), Level::HospitalDistrict));
    assert_eq!(
        r[&496],
        Canonical("MK10".into(), Level::Region),
        "Etelä-Savo"
    );
    assert_eq!(r[&547], OtherCategory("SEUTUKUNTA".into()));
}

#[test]
fn jsonstat_statfin_11s5_real() {
    let (bytes, c) = ctx(
        "sample-data/statfin/11s5_population_by_municipality_2024M12.json",
        "statfin:11s5",
    );
    let roles = DimensionRoles {
        region: Some("alue".into()),
        time: Some("kuukausi".into()),
        measure: Some("tiedot".into()),
        ..Default::default()
    };
    let d = common::decoded::decode_jsonstat(&bytes, &roles, &c).unwrap();
    assert!(d.quarantine.is_empty());
    assert_eq!(d.rows.len(), 308);
    let akaa = &d.rows[0];
    assert_eq!(akaa.region, RegionId::Code("KU020".into()));
    assert_eq!((akaa.period.as_str(), akaa.year), ("2024M12", 2024));
    assert_eq!(akaa.value, Some(16_387.0));
    assert_eq!(akaa.measure, "vaesto_kuukausi");
    assert_eq!(akaa.unit.as_deref(), Some("Number (decimals: 0)"));
    assert_eq!(akaa.status, None);
    assert_eq!(d.rows[2].region, RegionId::Code("KU009".into()));
    assert_eq!(d.rows[2].value, Some(2_410.0));
    let total: f64 = d.rows.iter().filter_map(|r| r.value).sum();
    assert_eq!(total, 5_635_971.0);
    // The same roles come from the dataset's `role` when not named.
    let by_role = common::decoded::decode_jsonstat(&bytes, &DimensionRoles::default(), &c).unwrap();
    assert_eq!(by_role.rows, d.rows);
}

#[test]
fn jsonstat_statfin_12st_nulls_keep_status() {
    let (bytes, c) = ctx(
        "tests/fixtures/statfi_jsonstat2_12st_with_nulls_status.json",
        "statfin:12st",
    );
    let roles = DimensionRoles {
        region_code: Some("SSS".into()),
        ..Default::default()
    };
    let d = common::decoded::decode_jsonstat(&bytes, &roles, &c).unwrap();
    assert_eq!(d.rows.len(), 36);
    // Row-major over id = [vuosineljannes, energialahde, tiedot]: 2010Q1 x {SSS, 1, 2} first.
    let first = &d.rows[0];
    assert_eq!(
        (first.period.as_str(), first.breakdown.as_str()),
        ("2010Q1", "energialahde=SSS")
    );
    assert_eq!(first.value, None);
    assert_eq!(first.status.as_deref(), Some("2"));
    assert_eq!(first.status_label.as_deref(), Some("Not applicable"));
    assert_eq!(first.region, RegionId::Code("SSS".into()));
    let p12 = &d.rows[12];
    assert_eq!(
        (p12.period.as_str(), p12.breakdown.as_str()),
        ("2011Q1", "energialahde=SSS")
    );
    assert_eq!(p12.value, Some(-1.31));
    assert_eq!(p12.status, None);
    assert_eq!(p12.unit.as_deref(), Some("Per cent (decimals: 1)"));
    assert_eq!(d.rows[35].value, Some(2.09));
    assert_eq!(d.rows.iter().filter(|r| r.value.is_none()).count(), 12);
    // Without a region dimension or code, the decoder refuses rather than guesses.
    let err = common::decoded::decode_jsonstat(&bytes, &DimensionRoles::default(), &c).unwrap_err();
    assert!(err.to_string().contains("region_code"), "{err}");
}
