//! Tests of loading and validating pipeline files.

use std::path::Path;

use super::*;
use crate::error::ConfigError;

const MINIMAL: &str = r#"
[pipeline]
name = "t"
reference_year = 2025
years = [2024]

[regions]
focus = ["HVA12"]

[[sources]]
id = "pop"
format = "jsonstat"
path = "pop.json"
dataset = "statfin:11s5"

[[indicators]]
id = "population"
title_fi = "Väestö"
title_en = "Population"
unit = "persons"
aggregation = "count"
numerator = { dataset = "statfin:11s5", measure = "vaesto" }
"#;

fn parse_error(text: &str) -> (usize, usize, String) {
    match Pipeline::parse(Path::new("p.toml"), text) {
        Err(ConfigError::Parse {
            line,
            column,
            message,
            ..
        }) => (line, column, message),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn minimal_pipeline_parses() {
    let p = Pipeline::parse(Path::new("x/p.toml"), MINIMAL).unwrap();
    assert_eq!(p.file.pipeline.name, "t");
    assert_eq!(p.file.pipeline.reference_year, 2025);
    assert_eq!(p.resolve(Path::new("a.json")), Path::new("x/a.json"));
    assert_eq!(p.resolve(Path::new("../out/s")), Path::new("out/s"));
    assert_eq!(
        normalize_lexically(Path::new("../a/./b/../c")),
        Path::new("../a/c")
    );
}

#[test]
fn unknown_key_names_line_and_column() {
    let text = MINIMAL.replace("unit = \"persons\"", "unit = \"persons\"\ncolour = \"red\"");
    let (line, column, message) = parse_error(&text);
    assert_eq!((line, column), (21, 1), "{message}");
    assert!(message.contains("colour"), "{message}");
}

#[test]
fn dataset_without_source_is_pointed_at() {
    let text = MINIMAL.replace(
        "numerator = { dataset = \"statfin:11s5\"",
        "numerator = { dataset = \"statfin:99zz\"",
    );
    let (line, column, message) = parse_error(&text);
    assert_eq!(line, 22);
    assert_eq!(column, 25);
    assert!(message.contains("statfin:99zz"), "{message}");
}

#[test]
fn ratio_needs_denominator() {
    let text = MINIMAL.replace("\"count\"", "\"ratio\"");
    let err = Pipeline::parse(Path::new("p.toml"), &text).unwrap_err();
    assert!(err.to_string().contains("needs a `denominator`"), "{err}");
}

#[test]
fn line_column_counts_characters() {
    let text = "ä = 1\nöö = x";
    assert_eq!(line_column(text, text.find('x').unwrap()), (2, 6));
}

#[test]
fn an_error_in_a_nested_entry_names_that_entry_s_line() {
    let text = format!(
        "{MINIMAL}\n[[checks]]\nname = \"c\"\nkind = \"not_null\"\ntable = \"indicators\"\ncolumns = [\"value\"]\nwhere = {{ colour = \"red\" }}\n"
    );
    let (line, column, message) = parse_error(&text);
    let expected = text.lines().position(|l| l.starts_with("where")).unwrap() + 1;
    assert_eq!((line, column), (expected, 9), "{message}");
    assert!(message.contains("no column `colour`"), "{message}");
}

#[test]
fn an_error_in_a_table_names_the_offending_key_s_line() {
    let text = format!(
        "{MINIMAL}\n[population]\ndataset = \"statfin:11s5\"\nmeasure = \"vaesto\"\nsex = \"both\"\n"
    );
    let (line, _, message) = parse_error(&text);
    let sex = text.lines().position(|l| l.starts_with("sex")).unwrap() + 1;
    assert_eq!(line, sex, "{message}");
    let text = text.replace("sex = \"both\"\n", "bands = []\n");
    let (line, _, message) = parse_error(&text);
    let bands = text.lines().position(|l| l.starts_with("bands")).unwrap() + 1;
    assert_eq!(line, bands, "{message}");
}
