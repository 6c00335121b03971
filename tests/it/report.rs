#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! The report of the sample: pages per focus region and language, self-contained; the figures
//! shown equal `indicators` (read back and formatted here); the workbook and the region profile
//! for people; and every page checked in headless Chromium (`tests/browser/check_report.py`): no
//! request leaves the machine, no console error, nothing blank, the figures as in the tables.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use calamine::Reader as _;

use common::*;

/// A number as Finnish writes it (no-break space between thousands, decimal comma): written here
/// independently of the report's own formatter.
fn finnish(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let digits: Vec<char> = int.chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{a0}');
        }
        out.push(*c);
    }
    if let Some(f) = frac {
        out.push(',');
        out.push_str(f);
    }
    out
}

/// The headline figures of the sample as Etelä-Savo's Finnish page must show them, from
/// `indicators.parquet`.
fn expected_headline(out: &Path) -> Vec<(String, i16, String)> {
    let ind = read_parquet(&out.join("indicators.parquet"));
    let value = |id: &str| {
        one_f64(
            &ind,
            &[("indicator", id), ("region", "HVA12")],
            2024,
            "value",
        )
        .unwrap()
    };
    vec![
        (
            "population_31_12".into(),
            2024,
            finnish(value("population_31_12"), 0),
        ),
        (
            "share_aged_75plus".into(),
            2024,
            format!("{}\u{a0}%", finnish(value("share_aged_75plus"), 1)),
        ),
        (
            "morbidity_index_thl_age_standardised".into(),
            2024,
            finnish(value("morbidity_index_thl_age_standardised"), 0),
        ),
        (
            "sote_net_cost_per_capita".into(),
            2024,
            format!("{}\u{a0}€", finnish(value("sote_net_cost_per_capita"), 0)),
        ),
    ]
}

/// The report's files: a page per focus region and language, an index per language, the
/// workbook and the region profile for people; each page self-contained.
#[test]
fn the_sample_writes_its_report() {
    let ws = Workspace::new();
    let o = ws.run();
    assert!(o.status.success(), "{}", stderr(&o));
    let report = ws.out().join("report");
    for lang in ["fi", "sv", "en"] {
        for region in ["HVA12", "HVA13", "HVA18"] {
            let page =
                std::fs::read_to_string(report.join(format!("{region}.{lang}.html"))).unwrap();
            assert!(page.starts_with("<!DOCTYPE html>"));
            assert!(page.contains(&format!("<html lang=\"{lang}\">")));
            // Self-contained: no script, no external stylesheet, font or image.
            for needle in [
                "<script", "<link", "src=", "url(", "@import", "http://", "https://",
            ] {
                assert!(!page.contains(needle), "{region}.{lang}: `{needle}`");
            }
            for section in [
                "id=\"headline\"",
                "id=\"population\"",
                "id=\"services\"",
                "id=\"kpa\"",
                "id=\"maturity\"",
                "id=\"roadmap\"",
                "id=\"sources\"",
            ] {
                assert!(page.contains(section), "{region}.{lang}: no {section}");
            }
        }
        let index = std::fs::read_to_string(report.join(format!("index.{lang}.html"))).unwrap();
        assert!(index.contains(&format!("href=\"HVA12.{lang}.html\"")));
    }
    let fi = std::fs::read_to_string(report.join("HVA12.fi.html")).unwrap();
    // The headline figures are those of `indicators`, in Finnish.
    for (id, year, text) in expected_headline(&ws.out()) {
        let tag = format!(
            "data-indicator=\"{id}\" data-region=\"HVA12\" data-year=\"{year}\">{text}</span>"
        );
        assert!(fi.contains(&tag), "no `{tag}`");
    }
    // Synthetic inputs are marked; the sources name their producers; KPA never shows a
    // suppressed class as a number; RAG is said in words, not by colour alone.
    assert!(fi.contains("SYNTEETTINEN AINEISTO"));
    assert!(fi.contains("Lähde: "));
    assert!(
        fi.contains("Tilastokeskus") || fi.contains("Statistics Finland"),
        "producers named"
    );
    assert!(
        fi.contains("keltainen – riski")
            || fi.contains("punainen – jäljessä")
            || fi.contains("vihreä – aikataulussa")
    );
    let kp = std::fs::read_to_string(report.join("HVA18.fi.html")).unwrap();
    assert!(
        kp.contains("salattu"),
        "Keski-Pohjanmaa's class of 3 clients is suppressed"
    );
    // The workbook: a sheet per decision-maker table, Finnish headers, region names.
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(report.join("sample.xlsx")).unwrap();
    let sheets = wb.sheet_names();
    for s in [
        "Profiili",
        "Vertailut",
        "KPA",
        "Kypsyys",
        "Tiekartta",
        "Kaaviot",
    ] {
        assert!(sheets.iter().any(|x| x == s), "no sheet {s}: {sheets:?}");
    }
    let profile = wb.worksheet_range("Profiili").unwrap();
    assert_eq!(profile.get((0, 0)).unwrap().to_string(), "Alue");
    let names: Vec<String> = (1..profile.height())
        .map(|r| profile.get((r, 0)).unwrap().to_string())
        .collect();
    assert!(
        names.iter().any(|n| n == "Etelä-Savon hyvinvointialue"),
        "{names:?}"
    );
    // The region profile for people: Finnish Excel's dialect, names and titles with units.
    let csv = std::fs::read(report.join("region_profile.fi.csv")).unwrap();
    assert!(csv.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let header = text.lines().next().unwrap();
    assert!(header.starts_with("Alue;Aluekoodi;Vuosi;"), "{header}");
    assert!(
        header.contains("euroa / asukas (EUR per capita)"),
        "{header}"
    );
    assert!(text.contains("\r\n"));
    let row = text
        .lines()
        .find(|l| l.starts_with("Etelä-Savon hyvinvointialue;HVA12;2024;"))
        .unwrap();
    assert!(!row.contains('.'), "decimal commas: {row}");
    // The manifest lists the report's files.
    let m = manifests(&ws.out()).pop().unwrap();
    let outputs: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert!(
        outputs.contains(&"report/HVA12.fi.html") && outputs.contains(&"report/sample.xlsx"),
        "{outputs:?}"
    );
}

/// Chromium, from `MITTARI_CHROMIUM` or the PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MITTARI_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    })
}

/// A Python with `websockets`: `MITTARI_BROWSER_PYTHON`, else `python3`.
fn browser_python() -> Option<String> {
    let python = std::env::var("MITTARI_BROWSER_PYTHON").unwrap_or_else(|_| "python3".into());
    Command::new(&python)
        .args(["-c", "import websockets"])
        .status()
        .ok()
        .filter(std::process::ExitStatus::success)
        .map(|_| python)
}

/// Every page of the sample in headless Chromium: loads with no request leaving the machine, no
/// console error, text and drawn charts on it, and Etelä-Savo's figures as `indicators` has
/// them. Needs Chromium and Python's `websockets` (`.ci/run` installs both); without them the
/// test fails in CI and says what is missing elsewhere.
#[test]
#[allow(clippy::print_stderr)] // says why it did not open a browser outside CI
fn every_page_in_a_real_browser() {
    let (Some(chromium), Some(python)) = (chromium(), browser_python()) else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must have Chromium and Python's websockets (see .ci/run)"
        );
        eprintln!(
            "skipped: no Chromium or no Python `websockets` (set MITTARI_CHROMIUM, MITTARI_BROWSER_PYTHON)"
        );
        return;
    };
    let ws = Workspace::new();
    let o = ws.run();
    assert!(o.status.success(), "{}", stderr(&o));
    let report = ws.out().join("report");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&report)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    pages.sort();
    assert_eq!(pages.len(), 12);
    let out = Command::new(&python)
        .arg(repo().join("tests/browser/check_report.py"))
        .arg(&chromium)
        .args(&pages)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for page in seen["pages"].as_array().unwrap() {
        let name = page["page"].as_str().unwrap();
        let requests: Vec<&str> = page["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert!(
            requests.iter().all(|r| r.starts_with("file://")),
            "{name}: requests {requests:?}"
        );
        assert_eq!(
            requests.len(),
            1,
            "{name}: only the page itself: {requests:?}"
        );
        assert_eq!(page["console"], serde_json::json!([]), "{name}");
        assert!(page["text_length"].as_u64().unwrap() > 100, "{name}: blank");
        for svg in page["svgs"].as_array().unwrap() {
            assert!(
                svg["width"].as_f64().unwrap() > 100.0 && svg["drawn"].as_u64().unwrap() > 0,
                "{name}: a blank chart {svg}"
            );
        }
        if name.ends_with("HVA12.fi.html") {
            let shown: Vec<(String, i16, String)> = page["figures"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    (
                        f["indicator"].as_str().unwrap().to_owned(),
                        i16::try_from(f["year"].as_i64().unwrap()).unwrap(),
                        f["text"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            assert_eq!(shown, expected_headline(&ws.out()), "{name}");
            assert!(
                page["svgs"].as_array().unwrap().len() >= 8,
                "{name}: charts"
            );
        }
    }
}
