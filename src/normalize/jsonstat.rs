//! JSON-stat 2.0 datasets (<https://json-stat.org/full/>) -> observations.
//!
//! The payload is deserialized into typed structures, never into a `serde_json::Value` tree:
//! `value` goes straight into a vector of cells, so a large table costs one pass and little more
//! memory than its cells. Forms that real publishers emit are all accepted:
//!
//! - `value` dense (array of length Π size) or sparse (object of position -> value);
//! - `status` as one string for all cells, an array (of length Π size, or of length 1 for all
//!   cells), or an object of position -> symbol;
//! - `category.index` as an array or an object id -> position, or absent for a one-category
//!   dimension that has only a `label`;
//! - `size` items given as strings (`"3"`); unknown keys anywhere (ignored).
//!
//! Cells are in row-major order over `id` (the last dimension varies fastest), so each cell's
//! coordinates are computed from its position: `i_k = (pos / stride_k) % size_k`. Dimension order
//! comes from `id`, never from the key order of `dimension`.
//!
//! A value `null` stays missing; its status (a PX symbol such as `..` or a numeric code) goes to
//! `status`, and `extension.missingValueDescriptions` explains numeric codes in `status_label`.
//! A sparse `value` yields the cells it lists plus cells that only have a status.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{DecodeContext, Decoded, RawObservation, RegionId, Sex, year_of_period};
use crate::error::SourceError;

/// Which dimension is which. `None` falls back to the dataset's `role`.
#[derive(Debug, Clone, Default)]
pub struct DimensionRoles {
    /// Region dimension.
    pub region: Option<String>,
    /// The region of every cell, for a dataset without a region dimension (e.g. `SSS` for a
    /// national table). Never inferred: a dataset without either is an error.
    pub region_code: Option<String>,
    /// Time dimension.
    pub time: Option<String>,
    /// Measure dimension.
    pub measure: Option<String>,
    /// Sex dimension.
    pub sex: Option<String>,
    /// Age dimension.
    pub age: Option<String>,
    /// Sex category id -> sex; `None` uses Statistics Finland's `SSS`/`1`/`2` and the plain
    /// words `total`/`male`/`female`.
    pub sex_codes: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct Dataset {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    class: Option<String>,
    id: Vec<String>,
    size: Vec<Size>,
    dimension: HashMap<String, Dimension>,
    value: Values,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    extension: Option<Extension>,
}

#[derive(Debug, Deserialize)]
struct Dimension {
    category: Category,
}

#[derive(Debug, Deserialize)]
struct Category {
    #[serde(default)]
    index: Option<Index>,
    #[serde(default)]
    label: Option<BTreeMap<String, String>>,
    #[serde(default)]
    unit: Option<HashMap<String, Unit>>,
}

#[derive(Debug, Deserialize)]
struct Unit {
    #[serde(default)]
    label: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Role {
    #[serde(default)]
    time: Vec<String>,
    #[serde(default)]
    geo: Vec<String>,
    #[serde(default)]
    metric: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Extension {
    #[serde(default, rename = "missingValueDescriptions")]
    missing_value_descriptions: Option<HashMap<String, String>>,
}

/// A `size` item: an integer, or an integer written as a string.
#[derive(Debug, Clone, Copy)]
struct Size(usize);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-negative integer or a string holding one")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                usize::try_from(v).map(Size).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                usize::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom(format!("negative size {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                v.trim()
                    .parse()
                    .map(Size)
                    .map_err(|_| E::custom(format!("size {v:?} is not an integer")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A cell of `value`.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Number(f64),
    Null,
    Text(String),
}

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Cell;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, null or a string")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Cell, E> {
                Ok(Cell::Number(v))
            }
            #[allow(clippy::cast_precision_loss)] // JSON numbers become f64, as everywhere.
            fn visit_i64<E>(self, v: i64) -> Result<Cell, E> {
                Ok(Cell::Number(v as f64))
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_u64<E>(self, v: u64) -> Result<Cell, E> {
                Ok(Cell::Number(v as f64))
            }
            fn visit_unit<E>(self) -> Result<Cell, E> {
                Ok(Cell::Null)
            }
            fn visit_none<E>(self) -> Result<Cell, E> {
                Ok(Cell::Null)
            }
            fn visit_str<E>(self, v: &str) -> Result<Cell, E> {
                Ok(Cell::Text(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `value`: dense or sparse.
#[derive(Debug)]
enum Values {
    Dense(Vec<Cell>),
    Sparse(Vec<(String, Cell)>),
}

impl<'de> Deserialize<'de> for Values {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Values;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of cells or an object of position -> cell")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Values, A::Error> {
                let mut cells = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(c) = seq.next_element()? {
                    cells.push(c);
                }
                Ok(Values::Dense(cells))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Values, A::Error> {
                let mut cells = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry()? {
                    cells.push(entry);
                }
                Ok(Values::Sparse(cells))
            }
        }
        d.deserialize_any(V)
    }
}

/// A status item: a string, or a number or null tolerated in arrays.
#[derive(Debug, Clone)]
struct StatusItem(Option<String>);

impl<'de> Deserialize<'de> for StatusItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StatusItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a status string or null")
            }
            fn visit_str<E>(self, v: &str) -> Result<StatusItem, E> {
                Ok(StatusItem(Some(v.to_owned())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<StatusItem, E> {
                Ok(StatusItem(Some(v.to_string())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<StatusItem, E> {
                Ok(StatusItem(Some(v.to_string())))
            }
            fn visit_unit<E>(self) -> Result<StatusItem, E> {
                Ok(StatusItem(None))
            }
            fn visit_none<E>(self) -> Result<StatusItem, E> {
                Ok(StatusItem(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// `status`: for all cells, per cell, or sparse.
#[derive(Debug)]
enum Status {
    All(String),
    Array(Vec<StatusItem>),
    Sparse(Vec<(String, StatusItem)>),
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Status;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, an array of strings or an object of position -> string")
            }
            fn visit_str<E>(self, v: &str) -> Result<Status, E> {
                Ok(Status::All(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Status, A::Error> {
                let mut items = Vec::new();
                while let Some(s) = seq.next_element()? {
                    items.push(s);
                }
                Ok(Status::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Status, A::Error> {
                let mut items = Vec::new();
                while let Some(e) = map.next_entry()? {
                    items.push(e);
                }
                Ok(Status::Sparse(items))
            }
        }
        d.deserialize_any(V)
    }
}

/// `category.index`: array of ids, or object id -> position.
#[derive(Debug)]
enum Index {
    Array(Vec<String>),
    Object(Vec<(String, Size)>),
}

impl<'de> Deserialize<'de> for Index {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Index;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of category ids or an object of id -> position")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Index, A::Error> {
                let mut ids = Vec::new();
                while let Some(s) = seq.next_element()? {
                    ids.push(s);
                }
                Ok(Index::Array(ids))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Index, A::Error> {
                let mut ids = Vec::new();
                while let Some(e) = map.next_entry()? {
                    ids.push(e);
                }
                Ok(Index::Object(ids))
            }
        }
        d.deserialize_any(V)
    }
}

/// A dimension ready for decoding: category ids by position and units by category.
struct ResolvedDimension {
    id: String,
    categories: Vec<String>,
    units: HashMap<String, String>,
}

/// Decodes a JSON-stat 2.0 dataset.
pub fn decode(
    bytes: &[u8],
    roles: &DimensionRoles,
    ctx: &DecodeContext,
) -> Result<Decoded, SourceError> {
    let malformed = |location: String, message: String| SourceError::Malformed {
        path: ctx.file.clone().into(),
        location,
        message,
    };
    let ds: Dataset = serde_json::from_slice(bytes).map_err(|e| {
        malformed(
            format!("line {}, column {}", e.line(), e.column()),
            format!("not a JSON-stat dataset: {e}"),
        )
    })?;
    if let Some(class) = ds.class.as_deref().filter(|c| *c != "dataset") {
        return Err(malformed(
            "/class".to_owned(),
            format!("class `{class}` is not supported here; expected `dataset`"),
        ));
    }
    if let Some(version) = ds.version.as_deref().filter(|v| !v.starts_with('2')) {
        return Err(malformed(
            "/version".to_owned(),
            format!("JSON-stat version `{version}` is not supported here; expected 2.0"),
        ));
    }
    if ds.id.len() != ds.size.len() {
        return Err(malformed(
            "/size".to_owned(),
            format!(
                "`id` has {} dimensions but `size` has {}",
                ds.id.len(),
                ds.size.len()
            ),
        ));
    }

    let mut dims = Vec::with_capacity(ds.id.len());
    for (k, (id, size)) in ds.id.iter().zip(&ds.size).enumerate() {
        let dim = ds.dimension.get(id).ok_or_else(|| {
            malformed(
                format!("/id/{k}"),
                format!("dimension `{id}` is listed in `id` but missing from `dimension`"),
            )
        })?;
        let categories = category_ids(&dim.category, size.0)
            .map_err(|m| malformed(format!("/dimension/{id}/category"), m))?;
        let units = dim
            .category
            .unit
            .iter()
            .flatten()
            .filter_map(|(cat, u)| Some((cat.clone(), u.label.clone()?)))
            .collect();
        dims.push(ResolvedDimension {
            id: id.clone(),
            categories,
            units,
        });
    }

    let role = ds.role.unwrap_or_default();
    let pick = |explicit: &Option<String>,
                from_role: &[String],
                what: &str|
     -> Result<Option<usize>, SourceError> {
        let name = match explicit {
            Some(n) => Some(n.clone()),
            None if from_role.len() == 1 => Some(from_role[0].clone()),
            None => None,
        };
        name.map(|n| {
            dims.iter().position(|d| d.id == n).ok_or_else(|| {
                malformed(
                    "/id".to_owned(),
                    format!(
                        "the {what} dimension `{n}` is not in this dataset (dimensions: {})",
                        ds.id.join(", ")
                    ),
                )
            })
        })
        .transpose()
    };
    let region = pick(&roles.region, &role.geo, "region")?;
    if region.is_none() && roles.region_code.is_none() {
        return Err(malformed(
            "/role".to_owned(),
            "no region dimension: name one (`dimensions.region`), give the dataset a `geo` role, \
             or set the region of a national table (`dimensions.region_code = \"SSS\"`)"
                .to_owned(),
        ));
    }
    let time = pick(&roles.time, &role.time, "time")?.ok_or_else(|| {
        malformed(
            "/role".to_owned(),
            "no time dimension: name one (`dimensions.time`) or give the dataset a `time` role"
                .to_owned(),
        )
    })?;
    let measure = pick(&roles.measure, &role.metric, "measure")?;
    let sex = pick(&roles.sex, &[], "sex")?;
    let age = pick(&roles.age, &[], "age")?;

    let total: usize = dims
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(d.categories.len()))
        .ok_or_else(|| {
            malformed(
                "/size".to_owned(),
                "the product of `size` overflows".to_owned(),
            )
        })?;

    // Cells as (position, cell), in position order.
    let cells: Vec<(usize, Cell)> = match ds.value {
        Values::Dense(v) => {
            if v.len() != total {
                return Err(malformed(
                    "/value".to_owned(),
                    format!(
                        "`value` has {} cells but the product of `size` is {total}",
                        v.len()
                    ),
                ));
            }
            v.into_iter().enumerate().collect()
        }
        Values::Sparse(v) => {
            let mut cells = Vec::with_capacity(v.len());
            for (key, cell) in v {
                let pos =
                    position(&key, total).map_err(|m| malformed(format!("/value/{key}"), m))?;
                cells.push((pos, cell));
            }
            cells
        }
    };

    let status = status_lookup(ds.status, total).map_err(|(loc, m)| malformed(loc, m))?;
    let descriptions = ds
        .extension
        .and_then(|e| e.missing_value_descriptions)
        .unwrap_or_default();

    let mut cells = cells;
    if let StatusLookup::Sparse(map) = &status {
        // A status without a value is still a cell: keep it, with value null.
        let present: std::collections::HashSet<usize> = cells.iter().map(|(p, _)| *p).collect();
        cells.extend(
            map.keys()
                .filter(|p| !present.contains(p))
                .map(|p| (*p, Cell::Null)),
        );
    }
    cells.sort_by_key(|(p, _)| *p);

    let strides: Vec<usize> = {
        let mut s = vec![1usize; dims.len()];
        for k in (0..dims.len().saturating_sub(1)).rev() {
            s[k] = s[k + 1] * dims[k + 1].categories.len();
        }
        s
    };
    let others: Vec<usize> = (0..dims.len())
        .filter(|k| ![region, Some(time), measure, sex, age].contains(&Some(*k)))
        .collect();

    let mut out = Decoded::default();
    out.rows.reserve(cells.len());
    for (pos, cell) in cells {
        let coord =
            |k: usize| dims[k].categories[(pos / strides[k]) % dims[k].categories.len()].as_str();
        let location = format!("{}#/value/{pos}", ctx.file);
        let record = || {
            let coords: Vec<String> = (0..dims.len())
                .map(|k| format!("{}={}", dims[k].id, coord(k)))
                .collect();
            format!("{} value={cell:?}", coords.join(";"))
        };
        let period = coord(time);
        let Some(year) = year_of_period(period) else {
            out.quarantine.push(ctx.quarantine(
                location,
                "bad_period",
                format!(
                    "period `{period}` of dimension `{}` has no year",
                    dims[time].id
                ),
                record(),
            ));
            continue;
        };
        let sex_value = match sex {
            None => Sex::Total,
            Some(k) => {
                let Some(s) = sex_of(coord(k), roles.sex_codes.as_ref()) else {
                    out.quarantine.push(ctx.quarantine(
                        location,
                        "unknown_code",
                        format!(
                            "sex category `{}` is not mapped (see `sex_codes`)",
                            coord(k)
                        ),
                        record(),
                    ));
                    continue;
                };
                s
            }
        };
        let (mut status_value, status_label) = match status.get(pos) {
            Some(code) => {
                let label = descriptions
                    .get(code)
                    .cloned()
                    .or_else(|| px_symbol_label(code));
                (Some(code.to_owned()), label)
            }
            None => (None, None),
        };
        let value = match &cell {
            Cell::Number(v) => Some(*v),
            Cell::Null => None,
            Cell::Text(t) => {
                if let Ok(v) = t.trim().parse::<f64>() {
                    Some(v)
                } else if px_symbol_label(t).is_some() {
                    // Some producers put the PX symbol in `value` itself.
                    status_value.get_or_insert_with(|| t.clone());
                    None
                } else {
                    out.quarantine.push(ctx.quarantine(
                        location,
                        "wrong_type",
                        format!("cell value {t:?} is neither a number nor a missing-value symbol"),
                        record(),
                    ));
                    continue;
                }
            }
        };
        let status_label =
            status_label.or_else(|| status_value.as_deref().and_then(px_symbol_label));
        let measure_id = measure.map_or("value", |k| coord(k));
        let unit = measure
            .and_then(|k| dims[k].units.get(coord(k)).cloned())
            .or_else(|| ctx.unit.clone());
        let breakdown = others
            .iter()
            .map(|k| format!("{}={}", dims[*k].id, coord(*k)))
            .collect::<Vec<_>>()
            .join(";");
        out.rows.push(RawObservation {
            dataset: ctx.dataset.clone(),
            measure: measure_id.to_owned(),
            region: RegionId::Code(match region {
                Some(k) => coord(k).to_owned(),
                None => roles.region_code.clone().unwrap_or_default(),
            }),
            period: period.to_owned(),
            year,
            sex: sex_value,
            age: age
                .map_or("total", |k| match coord(k) {
                    "SSS" => "total",
                    a => a,
                })
                .to_owned(),
            breakdown,
            value,
            abs_value: None,
            status: status_value,
            status_label,
            unit,
            location,
        });
    }
    Ok(out)
}

/// Category ids in position order.
fn category_ids(c: &Category, size: usize) -> Result<Vec<String>, String> {
    let ids = match &c.index {
        Some(Index::Array(ids)) => ids.clone(),
        Some(Index::Object(pairs)) => {
            let mut ids = vec![None; pairs.len()];
            for (id, Size(pos)) in pairs {
                match ids.get_mut(*pos) {
                    Some(slot @ None) => *slot = Some(id.clone()),
                    _ => return Err(format!("`index` positions are not a permutation of 0..{}", pairs.len())),
                }
            }
            ids.into_iter().flatten().collect()
        }
        None => match &c.label {
            Some(labels) if labels.len() == 1 => labels.keys().cloned().collect(),
            _ => return Err("`index` is missing; it may be left out only for a dimension with one category and a `label`".to_owned()),
        },
    };
    if ids.len() != size {
        return Err(format!(
            "`index` has {} categories but `size` says {size}",
            ids.len()
        ));
    }
    Ok(ids)
}

fn position(key: &str, total: usize) -> Result<usize, String> {
    match key.parse::<usize>() {
        Ok(p) if p < total => Ok(p),
        Ok(p) => Err(format!("cell position {p} is outside 0..{total}")),
        Err(_) => Err(format!("sparse key {key:?} is not a cell position")),
    }
}

enum StatusLookup {
    None,
    All(String),
    Dense(Vec<Option<String>>),
    Sparse(HashMap<usize, String>),
}

impl StatusLookup {
    fn get(&self, pos: usize) -> Option<&str> {
        match self {
            StatusLookup::None => None,
            StatusLookup::All(s) => Some(s),
            StatusLookup::Dense(v) => v.get(pos).and_then(Option::as_deref),
            StatusLookup::Sparse(m) => m.get(&pos).map(String::as_str),
        }
    }
}

fn status_lookup(status: Option<Status>, total: usize) -> Result<StatusLookup, (String, String)> {
    Ok(match status {
        None => StatusLookup::None,
        Some(Status::All(s)) => StatusLookup::All(s),
        Some(Status::Array(mut items)) if items.len() == 1 => match items.pop().and_then(|s| s.0) {
            Some(s) => StatusLookup::All(s),
            None => StatusLookup::None,
        },
        Some(Status::Array(items)) => {
            if items.len() != total {
                return Err((
                    "/status".to_owned(),
                    format!("`status` has {} items; expected 1 or {total}", items.len()),
                ));
            }
            StatusLookup::Dense(items.into_iter().map(|s| s.0).collect())
        }
        Some(Status::Sparse(items)) => {
            let mut map = HashMap::with_capacity(items.len());
            for (key, item) in items {
                let pos = position(&key, total).map_err(|m| (format!("/status/{key}"), m))?;
                if let Some(s) = item.0 {
                    map.insert(pos, s);
                }
            }
            StatusLookup::Sparse(map)
        }
    })
}

fn sex_of(code: &str, codes: Option<&BTreeMap<String, String>>) -> Option<Sex> {
    match codes {
        Some(map) => map.get(code).and_then(|s| Sex::parse(s)),
        None => match code {
            "SSS" | "total" => Some(Sex::Total),
            "1" | "male" => Some(Sex::Male),
            "2" | "female" => Some(Sex::Female),
            _ => None,
        },
    }
}

/// The PX format's default missing-value symbols (`DATASYMBOL1`..`6`, `DATASYMBOLNIL`).
/// Their meaning is table-specific, so the label names the symbol rather than guessing a meaning.
fn px_symbol_label(code: &str) -> Option<String> {
    let name = match code {
        "." => "DATASYMBOL1",
        ".." => "DATASYMBOL2",
        "..." => "DATASYMBOL3",
        "...." => "DATASYMBOL4",
        "....." => "DATASYMBOL5",
        "......" => "DATASYMBOL6",
        "-" => "DATASYMBOLNIL (magnitude nil)",
        _ => return None,
    };
    Some(format!("PX missing-value symbol {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> DecodeContext {
        DecodeContext {
            source_id: "s".into(),
            dataset: "t:1".into(),
            file: "t.json".into(),
            raw_sha256: "00".into(),
            unit: None,
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

    fn decode_with(value: &str) -> Result<Decoded, SourceError> {
        let text = BASE.replace("VALUE", value);
        let mut r = roles();
        r.sex = Some("sukupuoli".into());
        decode(text.as_bytes(), &r, &ctx())
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
        assert_eq!(
            got,
            vec![
                (Some(10.0), None),
                (None, Some("..".into())),
                (Some(60.0), None)
            ]
        );
        assert_eq!(
            d.rows[1].status_label.as_deref(),
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
        let d = decode(text.as_bytes(), &r, &ctx()).unwrap();
        assert_eq!(d.rows.len(), 4);
        assert_eq!(d.quarantine.len(), 2);
        assert_eq!(d.quarantine[0].location, "t.json#/value/2");
    }

    #[test]
    fn unnamed_dimensions_go_to_breakdown() {
        let d = decode(
            BASE.replace("VALUE", r#""value":[1,2,3,4,5,6]"#).as_bytes(),
            &roles(),
            &ctx(),
        )
        .unwrap();
        assert_eq!(d.rows[1].breakdown, "sukupuoli=1");
        assert_eq!(d.rows[1].sex, Sex::Total);
    }
}
