//! Pass 1: the metadata of a JSON-stat document, read without its cells.
//!
//! Real files put keys in any order (Statistics Finland writes `value` before `size` and `role`),
//! so a cell's coordinates cannot be computed while `value` is first read. Instead of holding every
//! cell, mittari reads a document twice: this pass deserializes everything but the cells into
//! typed structures (`value` is only counted and its sparse keys range-checked), and
//! [`super::stream`] then streams the cells. Neither pass builds a `serde_json::Value` tree.
//!
//! Forms recognised: a 2.0 `dataset`; a 2.0 `collection` whose `link.item` embeds datasets; a
//! 1.x bundle (`{"name": {"dimension": {"id", "size", "role", ...}, "value"}}`, also accepted
//! with a 2.0 `version`, where the validator calls it deprecated); a 1.x single dataset (a top
//! level with `dimension.id`). Unknown keys are ignored everywhere.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A `size` item, or any list item that may be a number or a numeric string.
#[derive(Debug, Clone)]
pub struct Size(pub Option<usize>);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-negative integer or a string holding one")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Size, E> {
                Ok(Size(usize::try_from(v).ok()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Size, E> {
                Ok(Size(usize::try_from(v).ok()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Size, E> {
                Ok(Size(None))
            }
            fn visit_str<E>(self, v: &str) -> Result<Size, E> {
                Ok(Size(v.trim().parse().ok()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string-or-number list item (1.x `id` lists hold strings; tolerate numbers).
#[derive(Debug, Clone)]
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `category.index`: array of ids, or object id -> position.
#[derive(Debug, Clone)]
pub enum Index {
    /// Ids in position order.
    Array(Vec<String>),
    /// id -> position, in document order.
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
                while let Some(Text(s)) = seq.next_element()? {
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

/// Notes: a string, an array of strings, or (category notes) an object of id -> notes.
#[derive(Debug, Clone, Default)]
pub struct Notes(pub Vec<String>);

impl<'de> Deserialize<'de> for Notes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Notes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a note or a list of notes")
            }
            fn visit_str<E>(self, v: &str) -> Result<Notes, E> {
                Ok(Notes(vec![v.to_owned()]))
            }
            fn visit_unit<E>(self) -> Result<Notes, E> {
                Ok(Notes::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Notes, A::Error> {
                let mut out = Vec::new();
                while let Some(n) = seq.next_element::<Notes>()? {
                    out.extend(n.0);
                }
                Ok(Notes(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A category `unit`: label and decimals are read; `base`, `type`, `multiplier` and the like are
/// publisher extras and ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Unit {
    /// Label, e.g. `Number` or `Per cent`.
    #[serde(default)]
    pub label: Option<String>,
    /// Decimals, when given as an integer.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub decimals: Option<u32>,
}

fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(Size::deserialize(d)?.0.and_then(|v| u32::try_from(v).ok()))
}

/// `category`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Category {
    /// `index`.
    #[serde(default)]
    pub index: Option<Index>,
    /// `label`: id -> label.
    #[serde(default)]
    pub label: Option<BTreeMap<String, String>>,
    /// `unit`: id -> unit.
    #[serde(default)]
    pub unit: Option<BTreeMap<String, Unit>>,
    /// `note`: id -> notes.
    #[serde(default)]
    pub note: Option<BTreeMap<String, Notes>>,
    /// `coordinates`: only the keys are used (the validator checks them against the index).
    #[serde(default)]
    #[allow(clippy::zero_sized_map_values)]
    // Keys only; the coordinates themselves are skipped.
    pub coordinates: Option<BTreeMap<String, IgnoredAny>>,
    /// `child`: id -> child ids.
    #[serde(default)]
    pub child: Option<BTreeMap<String, Vec<String>>>,
}

/// A dimension object.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Dimension {
    /// `label`.
    #[serde(default)]
    pub label: Option<String>,
    /// `category` (required by the format; a missing one is a validation error).
    #[serde(default)]
    pub category: Option<Category>,
    /// `note`.
    #[serde(default)]
    pub note: Option<Notes>,
}

/// `role`.
#[derive(Debug, Clone, Default)]
pub struct Role(pub Vec<(String, Vec<String>)>);

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Role;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of role -> dimension ids")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Role, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Vec<Text>>()? {
                    out.push((k, v.into_iter().map(|t| t.0).collect()));
                }
                Ok(Role(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl Role {
    /// Dimension ids of a role.
    pub fn get(&self, role: &str) -> &[String] {
        self.0
            .iter()
            .find(|(r, _)| r == role)
            .map_or(&[], |(_, v)| v.as_slice())
    }
}

/// `dimension`: dimension objects by id; in 1.x also `id`, `size` and `role`.
#[derive(Debug, Clone, Default)]
pub struct Dimensions {
    /// Dimension objects in document order.
    pub dims: Vec<(String, Dimension)>,
    /// 1.x `dimension.id`.
    pub id: Option<Vec<String>>,
    /// 1.x `dimension.size`.
    pub size: Option<Vec<Size>>,
    /// 1.x `dimension.role`.
    pub role: Option<Role>,
}

enum DimOrList {
    Dim(Box<Dimension>),
    List(Vec<Size>, Vec<String>),
}

impl<'de> Deserialize<'de> for DimOrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DimOrList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a dimension object or a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DimOrList, A::Error> {
                let (mut sizes, mut texts) = (Vec::new(), Vec::new());
                while let Some(item) = seq.next_element::<ListItem>()? {
                    sizes.push(Size(item.number));
                    texts.push(item.text);
                }
                Ok(DimOrList::List(sizes, texts))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<DimOrList, A::Error> {
                Dimension::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|d| DimOrList::Dim(Box::new(d)))
            }
        }
        d.deserialize_any(V)
    }
}

/// An item of a 1.x `id` or `size` list: kept both as text and as a number.
struct ListItem {
    text: String,
    number: Option<usize>,
}

impl<'de> Deserialize<'de> for ListItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ListItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E>(self, v: &str) -> Result<ListItem, E> {
                Ok(ListItem {
                    text: v.to_owned(),
                    number: v.trim().parse().ok(),
                })
            }
            fn visit_u64<E>(self, v: u64) -> Result<ListItem, E> {
                Ok(ListItem {
                    text: v.to_string(),
                    number: usize::try_from(v).ok(),
                })
            }
            fn visit_i64<E>(self, v: i64) -> Result<ListItem, E> {
                Ok(ListItem {
                    text: v.to_string(),
                    number: usize::try_from(v).ok(),
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Dimensions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Dimensions;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of dimensions")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Dimensions, A::Error> {
                let mut out = Dimensions::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "role" {
                        out.role = Some(map.next_value()?);
                        continue;
                    }
                    match map.next_value::<DimOrList>()? {
                        DimOrList::Dim(dim) => out.dims.push((key, *dim)),
                        DimOrList::List(sizes, texts) => match key.as_str() {
                            "id" => out.id = Some(texts),
                            "size" => out.size = Some(sizes),
                            _ => {}
                        },
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// What pass 1 learns of `value` without keeping the cells.
#[derive(Debug, Clone)]
pub enum ValueSummary {
    /// An array of this many cells.
    Dense(usize),
    /// An object of this many cells; the largest position and the first key that is not one.
    Sparse {
        /// Number of cells.
        count: usize,
        /// Largest position.
        max: Option<usize>,
        /// A key that is not a decimal position.
        bad_key: Option<String>,
    },
}

/// The newtype name under which [`ValueSummary`] asks [`super::de::Deserializer`] to count a
/// dense `value` itself (an array of millions of numbers, each otherwise a round trip through
/// `serde`). Any other deserializer treats it as an ordinary newtype.
pub const COUNT_CELLS: &str = "$mittari::count_cells";

impl<'de> Deserialize<'de> for ValueSummary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ValueSummary;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of cells or an object of position -> cell")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ValueSummary, A::Error> {
                let mut n = 0usize;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(ValueSummary::Dense(n))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ValueSummary, A::Error> {
                let (mut count, mut max, mut bad_key) = (0usize, None::<usize>, None);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    map.next_value::<IgnoredAny>()?;
                    count += 1;
                    match key.parse::<usize>() {
                        Ok(p) => max = Some(max.map_or(p, |m| m.max(p))),
                        Err(_) => {
                            bad_key.get_or_insert_with(|| key.into_owned());
                        }
                    }
                }
                Ok(ValueSummary::Sparse {
                    count,
                    max,
                    bad_key,
                })
            }
        }
        /// Accepts what `V` does, wrapped in [`COUNT_CELLS`], and a count of dense cells from
        /// the deserializer that understands it.
        struct Counted;
        impl<'de> Visitor<'de> for Counted {
            type Value = ValueSummary;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                V.expecting(f)
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<ValueSummary, D::Error> {
                d.deserialize_any(V)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<ValueSummary, E> {
                usize::try_from(n)
                    .map(ValueSummary::Dense)
                    .map_err(|_| E::custom("too many cells"))
            }
        }
        d.deserialize_newtype_struct(COUNT_CELLS, Counted)
    }
}

/// A status item: a string, or a number or null tolerated.
#[derive(Debug, Clone)]
pub struct StatusItem(pub Option<String>);

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
#[derive(Debug, Clone)]
pub enum Status {
    /// One status for every cell.
    All(String),
    /// One per cell (or one item for all).
    Array(Vec<StatusItem>),
    /// position key -> status.
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

/// `extension`: only what mittari uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Extension {
    /// Statistics Finland: numeric status code -> meaning.
    #[serde(default, rename = "missingValueDescriptions")]
    pub missing_value_descriptions: Option<BTreeMap<String, String>>,
}

/// `link` of a collection: only embedded `item`s matter.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Link {
    /// Embedded datasets (or references, which have no `value`).
    #[serde(default)]
    pub item: Option<Vec<RawDataset>>,
}

/// Every key of a dataset (2.0 or 1.x) or of a document's top level, except the cells.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawDataset {
    /// `version`.
    #[serde(default)]
    pub version: Option<String>,
    /// `class`.
    #[serde(default)]
    pub class: Option<String>,
    /// `href`.
    #[serde(default)]
    pub href: Option<String>,
    /// `label`.
    #[serde(default)]
    pub label: Option<String>,
    /// `source`.
    #[serde(default)]
    pub source: Option<String>,
    /// `updated`, as published (`2022-12-21T06.00.00Z` and zone-less forms are kept verbatim).
    #[serde(default)]
    pub updated: Option<String>,
    /// `note`.
    #[serde(default)]
    pub note: Option<Notes>,
    /// `id`.
    #[serde(default)]
    pub id: Option<Vec<String>>,
    /// `size`.
    #[serde(default)]
    pub size: Option<Vec<Size>>,
    /// `dimension`.
    #[serde(default)]
    pub dimension: Option<Dimensions>,
    /// `value`, summarised.
    #[serde(default)]
    pub value: Option<ValueSummary>,
    /// `status`.
    #[serde(default)]
    pub status: Option<Status>,
    /// `role`.
    #[serde(default)]
    pub role: Option<Role>,
    /// `extension`.
    #[serde(default)]
    pub extension: Option<Extension>,
    /// `link` (collections).
    #[serde(default)]
    pub link: Option<Link>,
}

/// The document's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// A 2.0 dataset at the top level.
    Dataset,
    /// A 1.x dataset at the top level (`dimension.id`).
    V1Dataset,
    /// A 2.0 collection with embedded datasets in `link.item`.
    Collection,
    /// A bundle of named datasets (1.x, or 2.0 deprecated).
    Bundle,
}

/// A whole document: the top level and, for bundles, the named datasets.
#[derive(Debug, Clone)]
pub struct Document {
    /// The form.
    pub form: Form,
    /// Datasets with their JSON pointer (`""`, `/link/item/0`, `/unemployment`).
    pub datasets: Vec<(String, RawDataset)>,
    /// The top level's `version`.
    pub version: Option<String>,
}

/// Top level: known keys typed, unknown keys whose value is an object kept as bundle candidates.
struct TopLevel {
    top: RawDataset,
    named: Vec<(String, RawDataset)>,
}

const TOP_KEYS: [&str; 16] = [
    "version",
    "class",
    "href",
    "label",
    "source",
    "updated",
    "note",
    "id",
    "size",
    "dimension",
    "value",
    "status",
    "role",
    "extension",
    "link",
    "error",
];

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TopLevel;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON-stat object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
                let mut top = RawDataset::default();
                let mut named = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "version" => top.version = map.next_value()?,
                        "class" => top.class = map.next_value()?,
                        "href" => top.href = map.next_value()?,
                        "label" => top.label = map.next_value()?,
                        "source" => top.source = map.next_value()?,
                        "updated" => top.updated = map.next_value()?,
                        "note" => top.note = map.next_value()?,
                        "id" => top.id = map.next_value()?,
                        "size" => top.size = map.next_value()?,
                        "dimension" => top.dimension = map.next_value()?,
                        "value" => top.value = map.next_value()?,
                        "status" => top.status = map.next_value()?,
                        "role" => top.role = map.next_value()?,
                        "extension" => top.extension = map.next_value()?,
                        "link" => top.link = map.next_value()?,
                        _ => {
                            if let Some(ds) = map.next_value::<MaybeDataset>()?.0 {
                                named.push((key, ds));
                            }
                        }
                    }
                }
                Ok(TopLevel { top, named })
            }
        }
        d.deserialize_map(V)
    }
}

/// An unknown top-level value: a dataset when it is an object with a `dimension`.
struct MaybeDataset(Option<RawDataset>);

impl<'de> Deserialize<'de> for MaybeDataset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeDataset;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MaybeDataset, A::Error> {
                let ds = RawDataset::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(MaybeDataset(ds.dimension.is_some().then_some(ds)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeDataset, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeDataset(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<MaybeDataset, E> {
                Ok(MaybeDataset(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<MaybeDataset, E> {
                Ok(MaybeDataset(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<MaybeDataset, E> {
                Ok(MaybeDataset(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<MaybeDataset, E> {
                Ok(MaybeDataset(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<MaybeDataset, E> {
                Ok(MaybeDataset(None))
            }
            fn visit_unit<E>(self) -> Result<MaybeDataset, E> {
                Ok(MaybeDataset(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl Document {
    /// Reads pass 1 from any JSON source.
    pub fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Document>, D::Error> {
        let TopLevel { top, named } = TopLevel::deserialize(d)?;
        let version = top.version.clone();
        let is_top_dataset = top.id.is_some() || top.size.is_some() || top.value.is_some();
        Ok(if top.class.as_deref() == Some("collection") {
            let items = top.link.and_then(|l| l.item).unwrap_or_default();
            Some(Document {
                form: Form::Collection,
                datasets: items
                    .into_iter()
                    .enumerate()
                    .filter(|(_, d)| d.value.is_some() || d.dimension.is_some())
                    .map(|(i, d)| (format!("/link/item/{i}"), d))
                    .collect(),
                version,
            })
        } else if is_top_dataset || top.dimension.is_some() {
            let v1 = top.id.is_none() && top.dimension.as_ref().is_some_and(|d| d.id.is_some());
            Some(Document {
                form: if v1 { Form::V1Dataset } else { Form::Dataset },
                datasets: vec![(String::new(), top)],
                version,
            })
        } else if !named.is_empty() {
            Some(Document {
                form: Form::Bundle,
                datasets: named
                    .into_iter()
                    .map(|(k, d)| (format!("/{}", escape(&k)), d))
                    .collect(),
                version,
            })
        } else {
            None
        })
    }

    /// Whether a top-level key is part of the 2.0 dataset vocabulary (not a bundle entry).
    pub fn is_top_key(key: &str) -> bool {
        TOP_KEYS.contains(&key)
    }
}

/// Escapes a key for a JSON pointer (RFC 6901).
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
