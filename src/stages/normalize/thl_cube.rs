//! A THL cube's data answer made readable by the JSON-stat reader, in memory (the archived
//! payload stays as THL sent it): each category of a resolved dimension gets the id it has in
//! `observations` (a region node its canonical code, a year node its year, a measure node its
//! measure id, as [`crate::stages::extract::thl_cube`] resolved them), and a value THL writes
//! as text with a decimal comma (`"12,5"`, the form THL's own exporter counts as a number) becomes
//! that number. Categories without a resolution keep their ids (an area node that names no
//! region of the registry is then quarantined as an unknown region); other text values are left
//! to the reader (symbols, or quarantined). The document's structure is unchanged, so JSON
//! pointers in messages point into the archived payload.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::SourceError;

/// Dimension id -> category id -> the id it gets.
pub type Categories = BTreeMap<String, BTreeMap<String, String>>;

/// The categories of a resolution recorded in a source's metadata (`categories`).
pub fn categories_of(metadata: Option<&Value>) -> Categories {
    metadata
        .and_then(|m| serde_json::from_value(m["categories"].clone()).ok())
        .unwrap_or_default()
}

/// The answer with its categories renamed and comma decimals read.
pub fn adapt(bytes: &[u8], categories: &Categories, file: &str) -> Result<Vec<u8>, SourceError> {
    let malformed = |location: &str, message: String| SourceError::Malformed {
        path: file.into(),
        location: location.to_owned(),
        message,
    };
    let mut doc: Value = serde_json::from_slice(bytes).map_err(|e| {
        malformed(
            &format!("line {}, column {}", e.line(), e.column()),
            format!("not a THL cube's JSON-stat answer: {e}"),
        )
    })?;
    let (dataset, pointer) = match doc.get_mut("dataset") {
        Some(d) if d.is_object() => (d, "/dataset"),
        _ => (&mut doc, ""),
    };
    if let Some(dims) = dataset.get_mut("dimension").and_then(Value::as_object_mut) {
        for (dim, renames) in categories {
            let Some(category) = dims.get_mut(dim).and_then(|d| d.get_mut("category")) else {
                continue;
            };
            let at = format!("{pointer}/dimension/{dim}/category/index");
            rename_keys(category, "index", renames).map_err(|m| malformed(&at, m))?;
            rename_keys(category, "label", renames).map_err(|m| malformed(&at, m))?;
        }
    }
    if let Some(values) = dataset.get_mut("value") {
        let cells: Box<dyn Iterator<Item = &mut Value>> = match values {
            Value::Object(m) => Box::new(m.values_mut()),
            Value::Array(a) => Box::new(a.iter_mut()),
            _ => Box::new(std::iter::empty()),
        };
        for cell in cells {
            if let Some(n) = cell.as_str().and_then(comma_decimal) {
                *cell = n;
            }
        }
    }
    serde_json::to_vec(&doc).map_err(|e| malformed("", e.to_string()))
}

/// Renames the keys of `category.<key>` (an object) or the items of it (an array of ids).
fn rename_keys(
    category: &mut Value,
    key: &str,
    renames: &BTreeMap<String, String>,
) -> Result<(), String> {
    let Some(v) = category.get_mut(key) else {
        return Ok(());
    };
    let new = |id: &str| renames.get(id).cloned().unwrap_or_else(|| id.to_owned());
    match v {
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (id, x) in std::mem::take(m) {
                let to = new(&id);
                if out.insert(to.clone(), x).is_some() {
                    return Err(format!("two categories would both be `{to}`"));
                }
            }
            *m = out;
        }
        Value::Array(a) => {
            for item in a.iter_mut() {
                if let Some(id) = item.as_str() {
                    *item = Value::String(new(id));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// A number written with a decimal comma (`-12,5`), as a JSON number.
fn comma_decimal(text: &str) -> Option<Value> {
    let t = text.trim();
    let (int, frac) = t.split_once(',')?;
    let digits = int.strip_prefix('-').unwrap_or(int);
    let ok = !digits.is_empty()
        && !frac.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return None;
    }
    let v: f64 = format!("{int}.{frac}").parse().ok()?;
    serde_json::Number::from_f64(v).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_renamed_and_comma_decimals_read() {
        let answer = br#"{"dataset": {"version": "2.0", "class": "dataset", "label": "x",
          "dimension": {"id": ["hva", "vuosi"], "size": [2, 1],
            "hva": {"category": {"index": {"112": 0, "999": 1}, "label": {"112": "Etel\u00e4-Savo", "999": "?"}}},
            "vuosi": {"category": {"index": {"2023": 0}, "label": {"2023": "2023"}}}},
          "value": {"0": "4512,5", "1": ".."}}}"#;
        let cats: Categories = BTreeMap::from([(
            "hva".to_owned(),
            BTreeMap::from([("112".to_owned(), "HVA12".to_owned())]),
        )]);
        let out: Value = serde_json::from_slice(&adapt(answer, &cats, "f").unwrap()).unwrap();
        let d = &out["dataset"];
        assert_eq!(d["dimension"]["hva"]["category"]["index"]["HVA12"], 0);
        assert_eq!(d["dimension"]["hva"]["category"]["index"]["999"], 1);
        assert_eq!(
            d["dimension"]["hva"]["category"]["label"]["HVA12"],
            "Etelä-Savo"
        );
        assert_eq!(d["value"]["0"], 4512.5);
        assert_eq!(d["value"]["1"], "..");
        // "1,234,5" or "1 234" are not THL's number form: left as text for the reader.
        assert_eq!(comma_decimal("1,234,5"), None);
        assert_eq!(comma_decimal("12,"), None);
        assert_eq!(comma_decimal("-0,5"), Some(serde_json::json!(-0.5)));
        // Two categories renamed to one id are an error, not a silent merge.
        let cats: Categories = BTreeMap::from([(
            "hva".to_owned(),
            BTreeMap::from([
                ("112".to_owned(), "HVA12".to_owned()),
                ("999".to_owned(), "HVA12".to_owned()),
            ]),
        )]);
        let err = adapt(answer, &cats, "f").unwrap_err().to_string();
        assert!(
            err.contains("/dataset/dimension/hva/category/index"),
            "{err}"
        );
    }
}
