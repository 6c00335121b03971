//! The region registry and the conform stage.
//!
//! The registry knows every municipality of 2013–2026, the wellbeing services counties (including
//! Helsinki `HVA90` and Åland `HVA91`) and the country `SSS`, with fi/sv/en names, validity and
//! Sotkanet ids. It is built at start-up from the classification files in `registry/` (compiled
//! into the binary unchanged; see `registry/NOTICE` for origin and licences), so it can never
//! drift from its sources.
//!
//! Canonical codes follow Statistics Finland's PxWeb prefixes: `SSS`, `HVA` + 2 digits,
//! `KU` + 3 digits. A [`Crosswalk`] maps any municipality code of 2013 onwards to the
//! municipality and county of a reference year, following mergers (e.g. Juankoski `KU174` joined
//! Kuopio `KU297` in 2017).

pub mod resolve;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::error::InternalError;

const MUNICIPALITY_KEY: &str = include_str!("../../../registry/municipality_key_2013-2026.csv");
const ABOLISHED: &str = include_str!("../../../registry/abolished_municipalities.csv");
const CORRECTIONS: &str = include_str!("../../../registry/corrections.csv");
const SOTKANET_COUNTIES: &str = include_str!("../../../registry/sotkanet_hyvinvointialueet.csv");
const SOTKANET_REGIONS: &str = include_str!("../../../registry/sotkanet_regions_2015.json");

/// Sotkanet's id for the whole country (category `MAA`, code `358`).
pub const SOTKANET_COUNTRY_ID: i64 = 658;
/// Canonical code of the whole country.
pub const COUNTRY: &str = "SSS";

/// The level of a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// The whole country.
    Country,
    /// A wellbeing services county (hyvinvointialue), Helsinki or Åland.
    WellbeingCounty,
    /// A municipality (kunta).
    Municipality,
    /// A region (maakunta), `MK` + 2 digits.
    Region,
    /// A hospital district (sairaanhoitopiiri, until 2022), `SHP` + 2 digits.
    HospitalDistrict,
    /// A collaboration area of the counties (yhteistyöalue, from 2023), `YTA` + 1 digit.
    CollaborationArea,
}

impl Level {
    /// The value written to `region_level` columns.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Country => "country",
            Level::WellbeingCounty => "wellbeing_county",
            Level::Municipality => "municipality",
            Level::Region => "region",
            Level::HospitalDistrict => "hospital_district",
            Level::CollaborationArea => "collaboration_area",
        }
    }

    /// Every level, from the largest.
    pub const ALL: [Level; 6] = [
        Level::Country,
        Level::CollaborationArea,
        Level::WellbeingCounty,
        Level::Region,
        Level::HospitalDistrict,
        Level::Municipality,
    ];

    /// The level of a canonical code, from its prefix.
    pub fn of_code(code: &str) -> Option<Level> {
        let digits =
            |rest: &str, n: usize| rest.len() == n && rest.bytes().all(|b| b.is_ascii_digit());
        if code == COUNTRY {
            Some(Level::Country)
        } else if let Some(rest) = code.strip_prefix("HVA") {
            digits(rest, 2).then_some(Level::WellbeingCounty)
        } else if let Some(rest) = code.strip_prefix("KU") {
            digits(rest, 3).then_some(Level::Municipality)
        } else if let Some(rest) = code.strip_prefix("MK") {
            digits(rest, 2).then_some(Level::Region)
        } else if let Some(rest) = code.strip_prefix("SHP") {
            digits(rest, 2).then_some(Level::HospitalDistrict)
        } else if let Some(rest) = code.strip_prefix("YTA") {
            digits(rest, 1).then_some(Level::CollaborationArea)
        } else {
            None
        }
    }
}

/// One region of the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// Canonical code.
    pub code: String,
    /// Level.
    pub level: Level,
    /// Finnish name.
    pub name_fi: String,
    /// Swedish name.
    pub name_sv: String,
    /// English name.
    pub name_en: String,
    /// First day the region existed, when known to have started within the registry's span.
    pub valid_from: Option<NaiveDate>,
    /// Last day the region existed, when it has ended.
    pub valid_to: Option<NaiveDate>,
    /// Sotkanet's internal region id.
    pub sotkanet_id: Option<i64>,
}

/// A municipality's memberships in one year.
#[derive(Debug, Clone)]
pub struct MunicipalityYear {
    /// Finnish name.
    pub name_fi: Arc<str>,
    /// Swedish name.
    pub name_sv: Arc<str>,
    /// Wellbeing services county (`HVA..`), from 2021 in the key.
    pub county: Option<Arc<str>>,
    /// Region (`MK..`).
    pub region: Option<Arc<str>>,
    /// Hospital district (`SHP..`), 2017–2022 in the key.
    pub hospital_district: Option<Arc<str>>,
    /// Collaboration area (`YTA.`), from 2023.
    pub collaboration_area: Option<Arc<str>>,
}

/// A municipality that was abolished by joining another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merger {
    /// The abolished municipality.
    pub abolished: String,
    /// The municipality it joined.
    pub joined: String,
    /// When the merger took effect (1 January of the first year without the abolished
    /// municipality), or `None` when it was before the key's first year (2013).
    pub effective: Option<NaiveDate>,
}

/// All regions mittari knows, with the per-year municipality key.
#[derive(Debug)]
pub struct Registry {
    regions: BTreeMap<String, Region>,
    by_sotkanet_id: HashMap<i64, String>,
    years: BTreeMap<i16, BTreeMap<String, MunicipalityYear>>,
    abolished: HashMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct SotkanetRegion {
    id: i64,
    code: String,
    category: String,
    title: SotkanetTitle,
}

#[derive(Deserialize)]
struct SotkanetTitle {
    fi: Option<String>,
    sv: Option<String>,
    en: Option<String>,
}

impl Registry {
    /// Builds the registry from the compiled-in classification files.
    pub fn builtin() -> Result<Registry, InternalError> {
        let bad = |what: &str, line: usize, msg: &str| {
            InternalError::Invariant(format!("registry/{what}:{line}: {msg}"))
        };
        // Gathered as lists and made maps once complete: a map built from all its entries at
        // once has full nodes, where one grown by inserting them has half-empty ones (measured
        // with heaptrack: 473 kB against 812 kB; the registry lives through a whole run or
        // conversion).
        let mut gathered: BTreeMap<i16, Vec<(String, MunicipalityYear)>> = BTreeMap::new();
        // Names and codes repeat from year to year: each distinct one is held once.
        let mut distinct: HashSet<Arc<str>> = HashSet::new();
        let mut intern = |s: &str| -> Arc<str> {
            if let Some(held) = distinct.get(s) {
                return held.clone();
            }
            let held: Arc<str> = Arc::from(s);
            distinct.insert(held.clone());
            held
        };
        let mut counties: BTreeMap<String, [String; 3]> = BTreeMap::new();
        // Region, hospital district and collaboration area names (Finnish) by canonical code.
        let mut areas: BTreeMap<String, String> = BTreeMap::new();
        let mut area = |prefix: &str, code: &str, name: &str| {
            (!code.is_empty()).then(|| {
                let c = format!("{prefix}{code}");
                areas.entry(c.clone()).or_insert_with(|| name.to_owned());
                c
            })
        };
        for (i, line) in MUNICIPALITY_KEY.lines().enumerate().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 18 {
                return Err(bad(
                    "municipality_key_2013-2026.csv",
                    i + 1,
                    "expected 18 fields",
                ));
            }
            let year: i16 = f[0]
                .parse()
                .map_err(|_| bad("municipality_key_2013-2026.csv", i + 1, "bad year"))?;
            let county = (!f[12].is_empty()).then(|| intern(&format!("HVA{}", f[12])));
            if let Some(c) = &county {
                counties.insert(
                    c.to_string(),
                    [f[13].to_owned(), f[14].to_owned(), f[15].to_owned()],
                );
            }
            let region = area("MK", f[4], f[5]).map(|c| intern(&c));
            let hospital_district = area("SHP", f[8], f[9]).map(|c| intern(&c));
            let collaboration_area = area("YTA", f[16], f[17]).map(|c| intern(&c));
            gathered.entry(year).or_default().push((
                format!("KU{}", f[1]),
                MunicipalityYear {
                    name_fi: intern(f[2]),
                    name_sv: intern(f[3]),
                    county,
                    region,
                    hospital_district,
                    collaboration_area,
                },
            ));
        }
        let years: BTreeMap<i16, BTreeMap<String, MunicipalityYear>> = gathered
            .into_iter()
            .map(|(year, entries)| (year, entries.into_iter().collect()))
            .collect();

        let mut abolished: HashMap<String, Vec<String>> = HashMap::new();
        for line in ABOLISHED.lines().skip(1) {
            if let Some((joiner, joinee)) = line.split_once(',') {
                abolished
                    .entry(joiner.to_owned())
                    .or_default()
                    .push(joinee.to_owned());
            }
        }
        // Documented corrections (`registry/corrections.csv`) replace a joiner's entries.
        for (i, line) in CORRECTIONS.lines().enumerate().skip(1) {
            let mut f = line.splitn(3, ',');
            match (f.next(), f.next()) {
                (Some(abolished_code), Some(joined_code))
                    if abolished_code.starts_with("KU") && joined_code.starts_with("KU") =>
                {
                    abolished.insert(abolished_code.to_owned(), vec![joined_code.to_owned()]);
                }
                _ => return Err(bad("corrections.csv", i + 1, "expected `KU...,KU...,note`")),
            }
        }

        let sotkanet: Vec<SotkanetRegion> =
            serde_json::from_str(SOTKANET_REGIONS).map_err(|e| {
                InternalError::Invariant(format!("registry/sotkanet_regions_2015.json: {e}"))
            })?;
        let sotkanet_municipality: HashMap<String, &SotkanetRegion> = sotkanet
            .iter()
            .filter(|r| r.category == "KUNTA")
            .map(|r| (format!("KU{}", r.code), r))
            .collect();

        let mut regions = BTreeMap::new();
        let (first_year, last_year) = match (years.keys().next(), years.keys().next_back()) {
            (Some(f), Some(l)) => (*f, *l),
            _ => return Err(bad("municipality_key_2013-2026.csv", 1, "no rows")),
        };
        let mut seen: BTreeMap<&str, (i16, i16, &MunicipalityYear)> = BTreeMap::new();
        for (year, munis) in &years {
            for (code, m) in munis {
                seen.entry(code.as_str())
                    .and_modify(|e| {
                        e.1 = *year;
                        e.2 = m;
                    })
                    .or_insert((*year, *year, m));
            }
        }
        for (code, (from, to, m)) in &seen {
            let s = sotkanet_municipality.get(*code);
            regions.insert(
                (*code).to_owned(),
                Region {
                    code: (*code).to_owned(),
                    level: Level::Municipality,
                    name_fi: m.name_fi.to_string(),
                    name_sv: m.name_sv.to_string(),
                    name_en: s
                        .and_then(|s| s.title.en.clone())
                        .unwrap_or_else(|| m.name_fi.to_string()),
                    valid_from: (*from > first_year).then(|| jan1(*from)),
                    valid_to: (*to < last_year).then(|| dec31(*to)),
                    sotkanet_id: s.map(|s| s.id),
                },
            );
        }

        let mut county_ids: HashMap<String, i64> = HashMap::new();
        for (i, line) in SOTKANET_COUNTIES.lines().enumerate().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let parsed = (f.len() == 5)
                .then(|| Some((f[1].parse::<i64>().ok()?, f[3].parse::<u8>().ok()?)))
                .flatten();
            let (id, code) =
                parsed.ok_or_else(|| bad("sotkanet_hyvinvointialueet.csv", i + 1, "bad row"))?;
            county_ids.insert(format!("HVA{code:02}"), id);
        }
        for (code, [fi, sv, en]) in counties {
            regions.insert(
                code.clone(),
                Region {
                    sotkanet_id: county_ids.get(&code).copied(),
                    code,
                    level: Level::WellbeingCounty,
                    name_fi: fi,
                    name_sv: sv,
                    name_en: en,
                    valid_from: None,
                    valid_to: None,
                },
            );
        }
        // Regions, hospital districts and collaboration areas: names from Sotkanet where it has
        // them (fi/sv/en), else the key's Finnish name; validity from the years they have members.
        let sotkanet_area: HashMap<String, &SotkanetRegion> = sotkanet
            .iter()
            .filter_map(|r| {
                let code = match r.category.as_str() {
                    "MAAKUNTA" => format!("MK{:0>2}", r.code),
                    // Sotkanet codes Åland's hospital district 22; Statistics Finland 00.
                    "SAIRAANHOITOPIIRI" if r.code == "22" => "SHP00".to_owned(),
                    "SAIRAANHOITOPIIRI" => format!("SHP{:0>2}", r.code),
                    _ => return None,
                };
                Some((code, r))
            })
            .collect();
        for (code, name) in areas {
            let level = Level::of_code(&code)
                .ok_or_else(|| bad("municipality_key_2013-2026.csv", 1, "bad area code"))?;
            let member_years: Vec<i16> = years
                .iter()
                .filter(|(_, m)| {
                    m.values().any(|m| {
                        [&m.region, &m.hospital_district, &m.collaboration_area]
                            .iter()
                            .any(|c| c.as_deref() == Some(code.as_str()))
                    })
                })
                .map(|(y, _)| *y)
                .collect();
            let (from, to) = (
                member_years.first().copied().unwrap_or(first_year),
                member_years.last().copied().unwrap_or(last_year),
            );
            let s = sotkanet_area.get(&code);
            let title =
                |t: Option<&Option<String>>| t.cloned().flatten().unwrap_or_else(|| name.clone());
            regions.insert(
                code.clone(),
                Region {
                    code,
                    level,
                    name_fi: title(s.map(|s| &s.title.fi)),
                    name_sv: title(s.map(|s| &s.title.sv)),
                    name_en: title(s.map(|s| &s.title.en)),
                    // The key gives hospital districts only from 2017 and collaboration areas
                    // from 2023: a start inside the key's span is a real start only for the latter.
                    valid_from: (level == Level::CollaborationArea).then(|| jan1(from)),
                    valid_to: (to < last_year).then(|| dec31(to)),
                    sotkanet_id: s.map(|s| s.id),
                },
            );
        }
        let (fi, sv, en) = match sotkanet.iter().find(|r| r.category == "MAA") {
            Some(c) => (c.title.fi.clone(), c.title.sv.clone(), c.title.en.clone()),
            None => (None, None, None),
        };
        regions.insert(
            COUNTRY.to_owned(),
            Region {
                code: COUNTRY.to_owned(),
                level: Level::Country,
                name_fi: fi.unwrap_or_else(|| "Koko maa".to_owned()),
                name_sv: sv.unwrap_or_else(|| "Hela landet".to_owned()),
                name_en: en.unwrap_or_else(|| "Whole country".to_owned()),
                valid_from: None,
                valid_to: None,
                sotkanet_id: Some(SOTKANET_COUNTRY_ID),
            },
        );
        // Counties were founded on 1 January 2023 (the key carries them back to 2021 for
        // comparison); the registry says when they started to exist as organisations.
        for r in regions
            .values_mut()
            .filter(|r| r.level == Level::WellbeingCounty)
        {
            r.valid_from = NaiveDate::from_ymd_opt(2023, 1, 1);
        }

        let by_sotkanet_id = regions
            .values()
            .filter_map(|r| Some((r.sotkanet_id?, r.code.clone())))
            .collect();
        Ok(Registry {
            regions,
            by_sotkanet_id,
            years,
            abolished,
        })
    }

    /// The region with this canonical code.
    pub fn get(&self, code: &str) -> Option<&Region> {
        self.regions.get(code)
    }

    /// All regions, ordered by code.
    pub fn regions(&self) -> impl Iterator<Item = &Region> {
        self.regions.values()
    }

    /// The key: each year's municipalities with their memberships.
    pub fn years(&self) -> &BTreeMap<i16, BTreeMap<String, MunicipalityYear>> {
        &self.years
    }

    /// Every merger: abolished municipality, the one it joined, and when (from the key: 1 January
    /// of the first year the abolished municipality is gone).
    pub fn mergers(&self) -> Vec<Merger> {
        let mut out: Vec<Merger> = self
            .abolished
            .iter()
            .flat_map(|(abolished, joined)| {
                let last = self
                    .years
                    .iter()
                    .filter(|(_, m)| m.contains_key(abolished))
                    .map(|(y, _)| *y)
                    .next_back();
                joined.iter().map(move |j| Merger {
                    abolished: abolished.clone(),
                    joined: j.clone(),
                    effective: last.map(|y| jan1(y + 1)),
                })
            })
            .filter(|m| m.abolished != m.joined)
            .collect();
        out.sort_by(|a, b| (&a.abolished, &a.joined).cmp(&(&b.abolished, &b.joined)));
        out
    }

    /// The canonical code of a Sotkanet region id, if the registry knows it.
    pub fn by_sotkanet_id(&self, id: i64) -> Option<&str> {
        self.by_sotkanet_id.get(&id).map(String::as_str)
    }

    /// Years whose municipalities all have a county, usable as reference years.
    pub fn reference_years(&self) -> Vec<i16> {
        self.years
            .iter()
            .filter(|(_, m)| m.values().all(|m| m.county.is_some()))
            .map(|(y, _)| *y)
            .collect()
    }

    /// The crosswalk to the regional division of `reference_year`.
    pub fn crosswalk(&self, reference_year: i16) -> Result<Crosswalk, String> {
        let valid = self.reference_years();
        let Some(munis) = self
            .years
            .get(&reference_year)
            .filter(|_| valid.contains(&reference_year))
        else {
            return Err(format!(
                "reference year {reference_year} has no municipality -> county key; \
                 use one of {}..={}",
                valid.first().copied().unwrap_or_default(),
                valid.last().copied().unwrap_or_default()
            ));
        };
        let mut county_of = BTreeMap::new();
        let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (code, m) in munis {
            if let Some(c) = &m.county {
                county_of.insert(code.clone(), c.to_string());
                members
                    .entry(c.to_string())
                    .or_default()
                    .insert(code.clone());
            }
        }
        let mut successor = HashMap::new();
        let mut gone = HashMap::new();
        for code in self
            .regions
            .values()
            .filter(|r| r.level == Level::Municipality)
        {
            if let Some(s) = self.follow_mergers(&code.code, munis) {
                if s != code.code
                    && let Some(last) = self
                        .years
                        .iter()
                        .filter(|(_, m)| m.contains_key(&code.code))
                        .map(|(y, _)| *y)
                        .next_back()
                {
                    gone.insert(code.code.clone(), last + 1);
                }
                successor.insert(code.code.clone(), s);
            }
        }
        Ok(Crosswalk {
            reference_year,
            county_of,
            members,
            successor,
            gone,
        })
    }

    /// Follows the abolished -> joinee chain until a municipality of the target division.
    fn follow_mergers(
        &self,
        code: &str,
        target: &BTreeMap<String, MunicipalityYear>,
    ) -> Option<String> {
        let mut current = code.to_owned();
        // Chains are short (a merged municipality rarely merges again); the bound only guards
        // against a cycle in the source data.
        for _ in 0..8 {
            if target.contains_key(&current) {
                return Some(current);
            }
            match self.abolished.get(&current).map(Vec::as_slice) {
                Some([single]) => current.clone_from(single),
                _ => return None,
            }
        }
        None
    }
}

/// Municipality -> county mapping of one reference year, with merger successors.
#[derive(Debug, Clone)]
pub struct Crosswalk {
    /// The reference year.
    pub reference_year: i16,
    county_of: BTreeMap<String, String>,
    members: BTreeMap<String, BTreeSet<String>>,
    successor: HashMap<String, String>,
    /// Abolished municipalities of the key: the first year without them.
    gone: HashMap<String, i16>,
}

impl Crosswalk {
    /// The municipality of the reference year that `code` is or became part of.
    pub fn successor(&self, code: &str) -> Option<&str> {
        self.successor.get(code).map(String::as_str)
    }

    /// The county of a municipality of the reference year.
    pub fn county_of(&self, municipality: &str) -> Option<&str> {
        self.county_of.get(municipality).map(String::as_str)
    }

    /// The municipalities of each county in the reference year.
    pub fn members(&self) -> &BTreeMap<String, BTreeSet<String>> {
        &self.members
    }

    /// Number of municipalities in the reference year.
    pub fn municipality_count(&self) -> usize {
        self.county_of.len()
    }

    /// The municipalities that were still separate in `year` and are part of `municipality` of
    /// the reference year (by the key's years: 2013 on), in code order.
    pub fn separate_in(&self, municipality: &str, year: i16) -> Vec<&str> {
        let mut parts: Vec<&str> = self
            .gone
            .iter()
            .filter(|(code, gone)| **gone > year && self.successor(code) == Some(municipality))
            .map(|(code, _)| code.as_str())
            .collect();
        parts.sort_unstable();
        parts
    }

    /// Every known municipality code (any year) with its reference-year municipality and county.
    pub fn rows(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.successor.iter().filter_map(|(code, succ)| {
            Some((
                code.as_str(),
                succ.as_str(),
                self.county_of.get(succ)?.as_str(),
            ))
        })
    }
}

fn jan1(year: i16) -> NaiveDate {
    NaiveDate::from_ymd_opt(i32::from(year), 1, 1).unwrap_or_default()
}

fn dec31(year: i16) -> NaiveDate {
    NaiveDate::from_ymd_opt(i32::from(year), 12, 31).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Registry {
        Registry::builtin().unwrap()
    }

    #[test]
    fn counties_include_helsinki_and_aland() {
        let r = registry();
        let counties: Vec<_> = r
            .regions()
            .filter(|r| r.level == Level::WellbeingCounty)
            .map(|r| r.code.as_str())
            .collect();
        assert_eq!(counties.len(), 23);
        assert_eq!(r.get("HVA90").unwrap().name_fi, "Helsingin kaupunki");
        assert_eq!(r.get("HVA91").unwrap().sotkanet_id, Some(956));
        assert_eq!(
            r.get("HVA12").unwrap().name_en,
            "South Savo wellbeing services county"
        );
        assert_eq!(r.by_sotkanet_id(959), Some("HVA12"));
    }

    #[test]
    fn municipalities_have_sotkanet_ids_and_names() {
        let r = registry();
        let savonlinna = r.get("KU740").unwrap();
        assert_eq!(savonlinna.sotkanet_id, Some(344));
        assert_eq!(savonlinna.name_sv, "Nyslott");
        assert_eq!(r.by_sotkanet_id(46), Some("KU091"));
        assert_eq!(r.by_sotkanet_id(SOTKANET_COUNTRY_ID), Some(COUNTRY));
        let juankoski = r.get("KU174").unwrap();
        assert_eq!(juankoski.valid_to, NaiveDate::from_ymd_opt(2016, 12, 31));
    }

    #[test]
    fn crosswalk_2025_has_308_municipalities_and_moves() {
        let cw = registry().crosswalk(2025).unwrap();
        assert_eq!(cw.municipality_count(), 308);
        assert_eq!(cw.county_of("KU091"), Some("HVA90"));
        assert_eq!(
            cw.county_of("KU171"),
            Some("HVA13"),
            "Joroinen is in Pohjois-Savo"
        );
        assert_eq!(
            cw.county_of("KU288"),
            Some("HVA17"),
            "Kruunupyy is in Pohjanmaa"
        );
        assert_eq!(
            cw.county_of("KU691"),
            Some("HVA19"),
            "Reisjärvi is in Pohjois-Pohjanmaa"
        );
        assert_eq!(
            cw.successor("KU174"),
            Some("KU297"),
            "Juankoski joined Kuopio"
        );
        assert_eq!(cw.members()["HVA12"].len(), 11);
        assert_eq!(cw.members()["HVA18"].len(), 8);
    }

    #[test]
    fn reference_year_without_counties_is_refused() {
        let err = registry().crosswalk(2015).unwrap_err();
        assert!(err.contains("2021..=2026"), "{err}");
    }

    #[test]
    fn level_of_code() {
        assert_eq!(Level::of_code("KU091"), Some(Level::Municipality));
        assert_eq!(Level::of_code("HVA90"), Some(Level::WellbeingCounty));
        assert_eq!(Level::of_code("SSS"), Some(Level::Country));
        assert_eq!(Level::of_code("KU91"), None);
        assert_eq!(Level::of_code("091"), None);
    }
}
