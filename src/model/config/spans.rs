//! Where a value sits in a TOML file, found by its key path, for error messages.
//!
//! The configuration types are plain Rust values: nothing outside this layer sees a TOML span.
//! When a check finds a problem it names the value by its key path (`sources.2.dataset`,
//! `indicators.0.aggregation`), and this module parses the file's text again to find the byte
//! range of that value. A key that the file leaves out (its default applies) points at the
//! nearest enclosing table or array element that the file has (for `[[sources]]` entries, its
//! header line), so every error still names a line. Parsing happens only when an error is reported, never on the run's path.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The byte range of the value at `path` in `text` (keys joined by `.`, array elements by their
/// index), or of its nearest ancestor present in the file; `0..0` when the text does not parse
/// or the path's first key is absent.
pub fn span_of(text: &str, path: &str) -> Range<usize> {
    let Ok(root) = DeTable::parse(text) else {
        return 0..0;
    };
    let mut found = 0..0;
    let mut node = Node::Table(root.get_ref());
    for key in path.split('.').filter(|k| !k.is_empty()) {
        let next = match node {
            Node::Table(table) => table
                .iter()
                .find(|(k, _)| k.get_ref() == key)
                .map(|(_, v)| v),
            Node::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            Node::Leaf => None,
        };
        let Some(value) = next else { break };
        found = value.span();
        node = Node::of(value);
    }
    found
}

/// A step of the walk down a parsed document.
enum Node<'a, 'i> {
    Table(&'a DeTable<'i>),
    Array(&'a [Spanned<DeValue<'i>>]),
    Leaf,
}

impl<'a, 'i> Node<'a, 'i> {
    fn of(value: &'a Spanned<DeValue<'i>>) -> Self {
        match value.get_ref() {
            DeValue::Table(t) => Node::Table(t),
            DeValue::Array(a) => Node::Array(a),
            _ => Node::Leaf,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::span_of;

    const TEXT: &str = "[pipeline]\nname = \"x\"\nyears = [2023, 2024]\n\n[[sources]]\nid = \"a\"\n\n[[sources]]\nid = \"b\"\ndataset = \"sotkanet:1\"\n";

    fn at(path: &str) -> &'static str {
        &TEXT[span_of(TEXT, path)]
    }

    #[test]
    fn a_key_path_finds_its_value() {
        assert_eq!(at("pipeline.name"), "\"x\"");
        assert_eq!(at("pipeline.years.1"), "2024");
        assert_eq!(at("sources.1.dataset"), "\"sotkanet:1\"");
        assert_eq!(at("sources.0.id"), "\"a\"");
    }

    #[test]
    fn a_key_the_file_leaves_out_points_at_the_nearest_value_it_has() {
        let first_source = span_of(TEXT, "sources.0.dataset");
        assert_eq!(&TEXT[first_source.clone()], "[[sources]]");
        assert_eq!(first_source.start, TEXT.find("[[sources]]").unwrap());
        assert_eq!(at("pipeline.years.7"), "[2023, 2024]");
        assert_eq!(span_of(TEXT, "population.bands"), 0..0);
    }
}
