//! Pass 1's JSON reader: a `serde` deserializer over the same buffered scanner as pass 2.
//!
//! `serde_json` reading from an `io::Read` goes byte by byte through an iterator that also
//! counts lines, and pass 1 must walk every cell of `value` (to count them and check sparse
//! keys): on a national table that walk was most of pass 1. This reader scans a buffer instead,
//! and is strict where pass 1 must be, since pass 1 is where a malformed document is rejected:
//! the JSON grammar of numbers and literals, escapes, no control characters in strings, no
//! trailing commas, nothing after the document, and at most [`MAX_DEPTH`] levels of nesting.
//! Errors carry the line and column where they were found.

use std::fmt;
use std::io::Read;

use serde::de::{self, DeserializeSeed, Visitor};

use super::model::COUNT_CELLS;
use super::stream::{Scanner, StreamError};

/// Deepest nesting of arrays and objects accepted (as `serde_json`).
pub const MAX_DEPTH: usize = 128;

type Result<T> = std::result::Result<T, StreamError>;

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(
                f,
                "{} at line {} column {}",
                self.message, self.line, self.column
            )
        }
    }
}

impl std::error::Error for StreamError {}

impl de::Error for StreamError {
    /// An error raised by a `Deserialize` impl; [`Deserializer`] adds where it happened.
    fn custom<T: fmt::Display>(msg: T) -> StreamError {
        StreamError {
            line: 0,
            column: 0,
            message: msg.to_string(),
        }
    }
}

/// Whether `token` is a JSON number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_number(token: &[u8]) -> bool {
    let digits = |t: &[u8]| t.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut t = token.strip_prefix(b"-").unwrap_or(token);
    match digits(t) {
        0 => return false,
        n if n > 1 && t[0] == b'0' => return false,
        n => t = &t[n..],
    }
    if let Some(rest) = t.strip_prefix(b".") {
        let n = digits(rest);
        if n == 0 {
            return false;
        }
        t = &rest[n..];
    }
    if let Some(rest) = t.strip_prefix(b"e").or_else(|| t.strip_prefix(b"E")) {
        let rest = rest
            .strip_prefix(b"+")
            .or_else(|| rest.strip_prefix(b"-"))
            .unwrap_or(rest);
        let n = digits(rest);
        if n == 0 {
            return false;
        }
        t = &rest[n..];
    }
    t.is_empty()
}

/// A `serde` deserializer of one JSON document from `R`.
pub struct Deserializer<R> {
    s: Scanner<R>,
    depth: usize,
}

/// A scalar token.
enum Scalar {
    Bool(bool),
    Null,
    U64(u64),
    I64(i64),
    F64(f64),
}

impl<R: Read> Deserializer<R> {
    /// A deserializer reading `src` in large blocks.
    pub fn new(src: R) -> Deserializer<R> {
        Deserializer {
            s: Scanner::new(src),
            depth: 0,
        }
    }

    /// Checks that nothing but whitespace follows the document.
    pub fn end(&mut self) -> Result<()> {
        match self.s.peek()? {
            None => Ok(()),
            Some(b) => Err(self.s.error(format!(
                "trailing characters after the document: `{}`",
                b.escape_ascii()
            ))),
        }
    }

    /// Gives an error from a `Deserialize` impl the current position.
    fn at(&self, e: StreamError) -> StreamError {
        if e.line == 0 {
            self.s.error(e.message)
        } else {
            e
        }
    }

    /// A number or literal, checked against the JSON grammar.
    fn scalar(&mut self) -> Result<Scalar> {
        let len = self.s.token_len()?;
        let token = self.s.token(len);
        let scalar = match token {
            b"true" => Scalar::Bool(true),
            b"false" => Scalar::Bool(false),
            b"null" => Scalar::Null,
            _ if is_number(token) => {
                let text = std::str::from_utf8(token).unwrap_or_default();
                let integer = !token.iter().any(|b| matches!(b, b'.' | b'e' | b'E'));
                match (integer, token.first()) {
                    (true, Some(b'-')) => text.parse().map_or_else(
                        |_| Scalar::F64(text.parse().unwrap_or(f64::NEG_INFINITY)),
                        Scalar::I64,
                    ),
                    (true, _) => text.parse().map_or_else(
                        |_| Scalar::F64(text.parse().unwrap_or(f64::INFINITY)),
                        Scalar::U64,
                    ),
                    _ => Scalar::F64(text.parse().unwrap_or(f64::NAN)),
                }
            }
            [] => {
                let found = self.s.peek()?;
                return Err(self.s.unexpected("a value", found));
            }
            _ => {
                return Err(self.s.error(format!(
                    "`{}` is not a JSON value",
                    String::from_utf8_lossy(token)
                )));
            }
        };
        self.s.pos += len;
        Ok(scalar)
    }

    /// Checks a number or literal without converting it.
    fn skip_scalar(&mut self) -> Result<()> {
        let len = self.s.token_len()?;
        let token = self.s.token(len);
        if matches!(token, b"true" | b"false" | b"null") || is_number(token) {
            self.s.pos += len;
            return Ok(());
        }
        // The same error as reading it.
        self.scalar().map(|_| ())
    }

    /// The members of the object or array whose opening bracket is next, handed to `visit`, one
    /// level deeper.
    fn nested<T>(&mut self, visit: impl FnOnce(Members<'_, R>) -> Result<T>) -> Result<T> {
        self.enter()?;
        self.s.pos += 1;
        let v = visit(Members {
            de: &mut *self,
            first: true,
        });
        self.depth -= 1;
        v
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self
                .s
                .error(format!("nested more than {MAX_DEPTH} levels deep")));
        }
        Ok(())
    }

    /// Skips one value, checking it as strictly as reading it would, without recursion.
    fn skip(&mut self) -> Result<()> {
        // The open containers: `true` for an object.
        let mut open: Vec<bool> = Vec::new();
        loop {
            // A value.
            match self.s.expect_any("a value")? {
                b'{' | b'[' => {
                    let object = self.s.peek()? == Some(b'{');
                    self.s.pos += 1;
                    let close = if object { b'}' } else { b']' };
                    if self.depth + open.len() + 1 > MAX_DEPTH {
                        return Err(self
                            .s
                            .error(format!("nested more than {MAX_DEPTH} levels deep")));
                    }
                    if self.s.peek()? == Some(close) {
                        self.s.pos += 1;
                    } else {
                        open.push(object);
                        if object {
                            self.member_key()?;
                        }
                        continue;
                    }
                }
                b'"' => self.s.skip_string()?,
                _ => self.skip_scalar()?,
            }
            // After a value: close what ends here, or move to the next member.
            loop {
                let Some(&object) = open.last() else {
                    return Ok(());
                };
                if self.s.more(if object { b'}' } else { b']' })? {
                    if object {
                        self.member_key()?;
                    } else {
                        self.no_trailing_comma(b']')?;
                    }
                    break;
                }
                open.pop();
            }
        }
    }

    /// The elements of the array whose `[` is next, each checked as [`Deserializer::skip`] would.
    fn count_elements(&mut self) -> Result<u64> {
        self.enter()?;
        self.s.pos += 1;
        let mut n = 0u64;
        if self.s.expect_any("a value")? == b']' {
            self.s.pos += 1;
        } else {
            loop {
                // Integers and their commas (the common cells), then one value of any kind.
                let run = self.s.integer_run();
                if run > 0 {
                    n += run;
                    self.no_trailing_comma(b']')?;
                }
                n += 1;
                match self.s.expect_any("a value")? {
                    b'{' | b'[' | b'"' => self.skip()?,
                    _ => self.skip_scalar()?,
                }
                if !self.s.more(b']')? {
                    break;
                }
                self.no_trailing_comma(b']')?;
            }
        }
        self.depth -= 1;
        Ok(n)
    }

    /// A member's key and its `:`, when skipping.
    fn member_key(&mut self) -> Result<()> {
        match self.s.peek()? {
            Some(b'"') => self.s.skip_string()?,
            found => return Err(self.s.unexpected("a key", found)),
        }
        self.s.consume(b':')
    }

    fn no_trailing_comma(&mut self, close: u8) -> Result<()> {
        if self.s.peek()? == Some(close) {
            return Err(self
                .s
                .error(format!("a trailing comma before `{}`", close as char)));
        }
        Ok(())
    }
}

impl<'de, R: Read> de::Deserializer<'de> for &mut Deserializer<R> {
    type Error = StreamError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let result = match self.s.expect_any("a value")? {
            b'{' => self.nested(|members| visitor.visit_map(members)),
            b'[' => self.nested(|members| visitor.visit_seq(members)),
            b'"' => {
                let text = self.s.string()?;
                visitor.visit_string(text)
            }
            _ => match self.scalar()? {
                Scalar::Bool(b) => visitor.visit_bool(b),
                Scalar::Null => visitor.visit_unit(),
                Scalar::U64(v) => visitor.visit_u64(v),
                Scalar::I64(v) => visitor.visit_i64(v),
                Scalar::F64(v) => visitor.visit_f64(v),
            },
        };
        result.map_err(|e| self.at(e))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let len = if self.s.expect_any("a value")? == b'n' {
            self.s.token_len()?
        } else {
            0
        };
        if len == 4 && self.s.token(4) == b"null" {
            self.s.pos += 4;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    /// [`COUNT_CELLS`] on an array: the array is checked and counted here, and the visitor gets
    /// the count. Anything else is an ordinary newtype.
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == COUNT_CELLS && self.s.expect_any("a value")? == b'[' {
            let n = self.count_elements()?;
            return visitor.visit_u64(n).map_err(|e| self.at(e));
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip()?;
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct enum identifier
    }
}

/// The members of an object or the elements of an array, after its opening bracket.
struct Members<'a, R> {
    de: &'a mut Deserializer<R>,
    first: bool,
}

impl<R: Read> Members<'_, R> {
    /// Whether another member follows (consuming the `,` before it, or the closing bracket).
    fn next(&mut self, close: u8) -> Result<bool> {
        let s = &mut self.de.s;
        if std::mem::take(&mut self.first) {
            if s.expect_any("a value")? == close {
                s.pos += 1;
                return Ok(false);
            }
            return Ok(true);
        }
        if !s.more(close)? {
            return Ok(false);
        }
        self.de.no_trailing_comma(close)?;
        Ok(true)
    }
}

impl<'de, R: Read> de::MapAccess<'de> for Members<'_, R> {
    type Error = StreamError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if !self.next(b'}')? {
            return Ok(None);
        }
        match self.de.s.peek()? {
            Some(b'"') => {}
            found => return Err(self.de.s.unexpected("a key", found)),
        }
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        self.de.s.consume(b':')?;
        seed.deserialize(&mut *self.de)
    }
}

impl<'de, R: Read> de::SeqAccess<'de> for Members<'_, R> {
    type Error = StreamError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if !self.next(b']')? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde::de::IgnoredAny;

    use super::*;

    fn read<T: for<'de> Deserialize<'de>>(json: &str) -> Result<T> {
        let mut de = Deserializer::new(json.as_bytes());
        let v = T::deserialize(&mut de)?;
        de.end()?;
        Ok(v)
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct S {
        a: Option<u32>,
        b: Option<Vec<String>>,
        #[serde(default)]
        c: BTreeMap<String, i64>,
    }

    #[test]
    fn reads_what_serde_json_reads() {
        let json = r#" {"a": [1, -2, 3.5, 1e3, true, false, null, "x\"y\u00e4"], "b": {}, "c": [],
            "d": {"e": {"f": [[]]}}, "big": 18446744073709551616, "neg": -9223372036854775809} "#;
        let ours: serde_json::Value = read(json).unwrap_or_default();
        let theirs: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
        assert_eq!(ours, theirs);
        assert!(ours["a"].is_array());
        let s: S = read(r#"{"a": null, "b": ["p", "q"], "c": {"k": -1}, "z": [1, {"y": 2}]}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s,
            S {
                a: None,
                b: Some(vec!["p".into(), "q".into()]),
                c: BTreeMap::from([("k".into(), -1)])
            }
        );
    }

    #[test]
    fn rejects_what_is_not_json() {
        for bad in [
            "[1,]",
            "[1 2]",
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            "{a: 1}",
            "[01]",
            "[1.]",
            "[.5]",
            "[1e]",
            "[-]",
            "[tru]",
            "[nul]",
            "[NaN]",
            "[\"a\u{1}\"]",
            r#"["\x"]"#,
            r#"["\u12"]"#,
            "[1] 2",
            "[1",
            r#"{"a": [1, 2}"#,
            "",
        ] {
            let err = read::<IgnoredAny>(bad).err();
            assert!(err.is_some(), "accepted {bad:?}");
            let value = read::<serde_json::Value>(bad).err();
            assert!(value.is_some(), "accepted {bad:?} as a value");
            assert!(
                serde_json::from_str::<serde_json::Value>(bad).is_err(),
                "{bad:?}"
            );
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(read::<IgnoredAny>(&deep).is_err());
        assert!(read::<serde_json::Value>(&deep).is_err());
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(read::<IgnoredAny>(&ok).is_ok());
    }

    #[test]
    fn errors_say_where() {
        let err = read::<serde_json::Value>("{\"a\": [1,\n 2,]}").err();
        let err = err.map(|e| (e.line, e.column, e.message));
        assert_eq!(err, Some((2, 4, "a trailing comma before `]`".to_owned())));
        // An error from a Deserialize impl gets the position too.
        let err = read::<BTreeMap<String, u8>>("{\"a\":\n  300}").err();
        let err = err.map(|e| (e.line, e.message.contains("300")));
        assert_eq!(err, Some((2, true)));
    }

    #[test]
    fn counts_dense_cells_itself_and_agrees_with_serde_json() {
        use super::super::model::ValueSummary;
        let count = |json: &str| match read::<ValueSummary>(json) {
            Ok(ValueSummary::Dense(n)) => Some(n),
            _ => None,
        };
        let theirs = |json: &str| match serde_json::from_str::<ValueSummary>(json) {
            Ok(ValueSummary::Dense(n)) => Some(n),
            _ => None,
        };
        for json in [
            "[]",
            "[1]",
            "[1, 2 ,3]",
            r#"[1, -2.5e3, "x", null, {"a": [1, 2]}, [3], true, 12345678901234567890123]"#,
            "[\n 0,\n 0 \n]",
        ] {
            assert_eq!(count(json), theirs(json), "{json}");
            assert!(count(json).is_some(), "{json}");
        }
        assert_eq!(count("[1, 2, 3]"), Some(3));
        for bad in [
            "[1,,2]", "[1,]", "[,1]", "[01]", "[1 2]", "[1, 2", "[1, tru]",
        ] {
            assert!(read::<ValueSummary>(bad).is_err(), "{bad}");
        }
        // An object still goes the ordinary way.
        assert!(matches!(
            read::<ValueSummary>(r#"{"3": 1, "x": 2}"#),
            Ok(ValueSummary::Sparse {
                count: 2,
                max: Some(3),
                ..
            })
        ));
    }

    #[test]
    fn numbers() {
        for ok in ["0", "-0", "12", "-1.5", "1e5", "1E+5", "2.5e-3", "0.0"] {
            assert!(is_number(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "", "-", "01", "1.", ".1", "1e", "1e+", "+1", "0x1", "1.2.3", "--1",
        ] {
            assert!(!is_number(bad.as_bytes()), "{bad}");
        }
    }
}
