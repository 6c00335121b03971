#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! `mittari init`: a starting pipeline for a county that `validate` accepts.

use crate::common;

use common::*;

fn init(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    mittari().arg("init").args(args).arg(dir).output().unwrap()
}

#[test]
fn init_writes_a_pipeline_that_validates() {
    for (county, peers, file) in [
        ("HVA12", "HVA13,HVA18", "etela-savo.toml"),
        ("HVA90", "", "helsingin-kaupunki.toml"),
    ] {
        let dir = tempfile::TempDir::new().unwrap();
        let mut args = vec!["--county", county];
        if !peers.is_empty() {
            args.extend(["--peers", peers]);
        }
        let o = init(dir.path(), &args);
        assert!(o.status.success(), "{county}: {}", stderr(&o));
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{county}: {e}; wrote {}", stdout(&o));
        });
        assert!(text.contains(&format!("focus = [\"{county}\"")), "{text}");
        assert!(text.contains("csv_dialect = \"excel-fi\""));
        assert!(text.contains("table = \"vaerak/11re.px\""));
        assert!(dir.path().join("catalogue.toml").exists());
        let v = mittari().arg("validate").arg(&path).output().unwrap();
        assert!(v.status.success(), "{county}: {}", stderr(&v));
        assert!(
            stdout(&v).contains("check population_present"),
            "{}",
            stdout(&v)
        );
        // A second init does not overwrite it unless told to.
        let again = init(dir.path(), &args);
        assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
        assert!(stderr(&again).contains("--force"));
    }
}

#[test]
fn init_refuses_a_code_that_is_not_a_county() {
    let dir = tempfile::TempDir::new().unwrap();
    for code in ["HVA99", "KU091"] {
        let o = init(dir.path(), &["--county", code]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("is not a wellbeing services county"),
            "{}",
            stderr(&o)
        );
    }
}
