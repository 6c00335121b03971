//! Pass 2: streams the cells of `value` to a sink, one at a time, skipping everything else.
//!
//! The sink receives (dataset number, cell position, cell). For a dense `value` the position is
//! the array index; for a sparse one, the object key. Nothing but the current cell is held.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::model::{Document, Form, escape};

/// A cell of `value`.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A number.
    Number(f64),
    /// `null`: missing.
    Null,
    /// A string (some producers put numbers or missing-value symbols in strings).
    Text(String),
}

/// Receives cells.
pub trait CellSink {
    /// One cell of dataset `dataset` (its index among the document's datasets) at `pos`.
    fn cell(&mut self, dataset: usize, pos: usize, cell: Cell) -> Result<(), String>;
}

struct CellSeed;

impl<'de> DeserializeSeed<'de> for CellSeed {
    type Value = Cell;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cell, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Cell;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, null or a string")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Cell, E> {
                Ok(Cell::Number(v))
            }
            #[allow(clippy::cast_precision_loss)] // JSON numbers are f64 in the output, as in JSON-stat.
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

/// `value` of dataset `dataset`.
struct ValueSeed<'s, S> {
    dataset: usize,
    sink: &'s mut S,
}

impl<'de, S: CellSink> DeserializeSeed<'de> for ValueSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: CellSink> Visitor<'de> for ValueSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of cells or an object of position -> cell")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut pos = 0usize;
        while let Some(cell) = seq.next_element_seed(CellSeed)? {
            self.sink
                .cell(self.dataset, pos, cell)
                .map_err(de::Error::custom)?;
            pos += 1;
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let pos = key
                .parse::<usize>()
                .map_err(|_| de::Error::custom(format!("sparse key {key:?}")))?;
            let cell = map.next_value_seed(CellSeed)?;
            self.sink
                .cell(self.dataset, pos, cell)
                .map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

/// A dataset object: only its `value` is read.
struct DatasetSeed<'s, S> {
    dataset: usize,
    sink: &'s mut S,
}

impl<'de, S: CellSink> DeserializeSeed<'de> for DatasetSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: CellSink> Visitor<'de> for DatasetSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a dataset object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let DatasetSeed { dataset, sink } = self;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "value" {
                map.next_value_seed(ValueSeed {
                    dataset,
                    sink: &mut *sink,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The top level, for every form.
struct TopSeed<'a, S> {
    form: Form,
    pointers: &'a [String],
    sink: &'a mut S,
}

impl<'de, S: CellSink> DeserializeSeed<'de> for TopSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: CellSink> Visitor<'de> for TopSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON-stat object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let TopSeed {
            form,
            pointers,
            sink,
        } = self;
        let find = |ptr: &str| pointers.iter().position(|p| p == ptr);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match (form, key.as_ref()) {
                (Form::Dataset | Form::V1Dataset, "value") => {
                    map.next_value_seed(ValueSeed {
                        dataset: 0,
                        sink: &mut *sink,
                    })?;
                }
                (Form::Collection, "link") => {
                    map.next_value_seed(LinkSeed {
                        pointers,
                        sink: &mut *sink,
                    })?;
                }
                (Form::Bundle, k) if !Document::is_top_key(k) => {
                    match find(&format!("/{}", escape(k))) {
                        Some(dataset) => map.next_value_seed(DatasetSeed {
                            dataset,
                            sink: &mut *sink,
                        })?,
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `link` of a collection: `item` holds the datasets.
struct LinkSeed<'a, S> {
    pointers: &'a [String],
    sink: &'a mut S,
}

impl<'de, S: CellSink> DeserializeSeed<'de> for LinkSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: CellSink> Visitor<'de> for LinkSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a link object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let LinkSeed { pointers, sink } = self;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "item" {
                map.next_value_seed(ItemsSeed {
                    pointers,
                    sink: &mut *sink,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct ItemsSeed<'a, S> {
    pointers: &'a [String],
    sink: &'a mut S,
}

impl<'de, S: CellSink> DeserializeSeed<'de> for ItemsSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, S: CellSink> Visitor<'de> for ItemsSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of items")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ItemsSeed { pointers, sink } = self;
        let mut i = 0usize;
        loop {
            let ptr = format!("/link/item/{i}");
            let more = match pointers.iter().position(|p| *p == ptr) {
                Some(dataset) => seq
                    .next_element_seed(DatasetSeed {
                        dataset,
                        sink: &mut *sink,
                    })?
                    .is_some(),
                None => seq.next_element::<IgnoredAny>()?.is_some(),
            };
            if !more {
                return Ok(());
            }
            i += 1;
        }
    }
}

/// Streams the cells of the datasets at `pointers` (as [`Document`] named them) to `sink`.
pub fn stream<'de, D: Deserializer<'de>, S: CellSink>(
    d: D,
    form: Form,
    pointers: &[String],
    sink: &mut S,
) -> Result<(), D::Error> {
    TopSeed {
        form,
        pointers,
        sink,
    }
    .deserialize(d)
}
