#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! The JSON Schema of pipeline files (issue 30, point 5): `mittari schema` prints it, the
//! committed `schemas/pipeline.schema.json` is the same, every shipped pipeline names it on its
//! first line and is valid under it, and it refuses what the loader refuses (checked with
//! Python's `jsonschema`, as a TOML editor checks, `MITTARI_BENCH_PYTHON`).

use std::process::Command;

use crate::common;

use common::*;

const PIPELINES: [&str; 4] = ["county-costs", "etela-savo", "national", "sample"];

#[test]
fn the_committed_schema_is_what_mittari_prints() {
    let o = mittari().arg("schema").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let printed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let committed: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo().join("schemas/pipeline.schema.json")).unwrap(),
    )
    .unwrap();
    assert!(
        printed == committed,
        "schemas/pipeline.schema.json is stale: `mittari schema > schemas/pipeline.schema.json`"
    );
    assert_eq!(printed["title"], "mittari pipeline file");
    // Sections and their fields, with the doc comments as descriptions.
    let props = &printed["properties"];
    for section in [
        "pipeline", "regions", "sources", "output", "checks", "report",
    ] {
        assert!(props.get(section).is_some(), "{section}");
    }
    assert_eq!(printed["additionalProperties"], false);
    for name in PIPELINES {
        let text = std::fs::read_to_string(repo().join(format!("pipelines/{name}.toml"))).unwrap();
        assert_eq!(
            text.lines().next(),
            Some("#:schema ../schemas/pipeline.schema.json"),
            "{name}"
        );
    }
}

#[test]
fn pipelines_are_valid_under_the_schema_and_mistakes_are_not() {
    let Some(python) = python_with("jsonschema") else {
        return;
    };
    let ws = Workspace::new();
    // A pipeline `init` writes, with the schema it names beside it.
    let o = mittari()
        .args(["init", "--county", "HVA12", "--peers", "HVA13"])
        .arg(ws.path("county"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let written = ws.path("county/etela-savo.toml");
    assert!(
        std::fs::read_to_string(&written)
            .unwrap()
            .starts_with("#:schema ./pipeline.schema.json\n")
    );
    // Mistakes the loader refuses: an unknown section, an unknown field, a wrong type, a value
    // outside an enumeration.
    let mistakes = [
        ("unknown_section", "[output]\n", "[outptu]\n"),
        (
            "unknown_field",
            "[output]\n",
            "[output]\npartitoned = true\n",
        ),
        (
            "wrong_type",
            "[output]\n",
            "[output]\npartitioned = \"yes\"\n",
        ),
        (
            "enumeration",
            "[output]\n",
            "[output]\ncsv_dialect = \"excel\"\n",
        ),
    ];
    let sample = std::fs::read_to_string(ws.pipeline()).unwrap();
    let mut files = vec![written.clone()];
    files.extend(PIPELINES.map(|n| repo().join(format!("pipelines/{n}.toml"))));
    for (name, from, to) in mistakes {
        let path = ws.path(&format!("pipelines/{name}.toml"));
        assert!(sample.contains(from));
        std::fs::write(&path, sample.replacen(from, to, 1)).unwrap();
        // The loader refuses it too (exit 2).
        let o = mittari().arg("validate").arg(&path).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        files.push(path);
    }
    let o = Command::new(&python)
        .arg(repo().join("tests/python/check_schema.py"))
        .arg(ws.path("county/pipeline.schema.json"))
        .args(&files)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let errors: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for f in &files {
        let found = errors[f.to_str().unwrap()].as_array().unwrap();
        let mistake = f.file_stem().unwrap().to_str().unwrap();
        if mistakes.iter().any(|(n, _, _)| *n == mistake) {
            assert!(!found.is_empty(), "{mistake} passed the schema");
        } else {
            assert!(found.is_empty(), "{}: {found:?}", f.display());
        }
    }
}
