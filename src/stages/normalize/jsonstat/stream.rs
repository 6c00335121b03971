//! Pass 2: streams the cells of `value` to a sink, one at a time, skipping everything else.
//!
//! The sink receives (dataset number, cell position, cell). For a dense `value` the position is
//! the array index; for a sparse one, the object key. Nothing but the current cell is held.
//!
//! This pass reads bytes itself rather than through `serde_json`: pass 1 has already parsed the
//! whole document (so it is well-formed JSON), and what remains is to walk to each dataset's
//! `value` and turn millions of numbers into `f64`. `serde_json` reading from an `io::Read`
//! goes byte by byte through an iterator that also counts lines; on a national population table
//! that was most of the decoding time. Here the bytes are scanned in a buffer of
//! [`BUFFER_BYTES`], integers (the common case) are accumulated directly, and other numbers go
//! to the standard library's correctly rounded parser. Lines are counted a buffer at a time, only
//! so that an error can still say where it is.

use std::io::Read;

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
    fn cell(&mut self, dataset: usize, pos: usize, cell: Cell) -> std::result::Result<(), String>;
}

/// Bytes read from the input at a time.
pub const BUFFER_BYTES: usize = 256 * 1024;

/// A failure in pass 2, with where it happened.
#[derive(Debug)]
pub struct StreamError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in bytes).
    pub column: usize,
    /// What went wrong.
    pub message: String,
}

type Result<T> = std::result::Result<T, StreamError>;

/// A forward-only reader of JSON bytes (also under pass 1's deserializer, [`super::de`]).
pub(super) struct Scanner<R> {
    src: R,
    buf: Vec<u8>,
    pub(super) pos: usize,
    end: usize,
    eof: bool,
    /// Newlines in bytes already dropped from the buffer, and the column count since the last.
    lines_before: usize,
    column_before: usize,
}

impl<R: Read> Scanner<R> {
    pub(super) fn new(src: R) -> Scanner<R> {
        Scanner {
            src,
            buf: vec![0; BUFFER_BYTES],
            pos: 0,
            end: 0,
            eof: false,
            lines_before: 0,
            column_before: 0,
        }
    }

    pub(super) fn error(&self, message: impl Into<String>) -> StreamError {
        let seen = &self.buf[..self.pos.min(self.end)];
        let newlines = newlines(seen);
        let column = match seen.iter().rposition(|b| *b == b'\n') {
            Some(i) => seen.len() - i,
            None => self.column_before + seen.len() + 1,
        };
        StreamError {
            line: self.lines_before + newlines + 1,
            column,
            message: message.into(),
        }
    }

    /// Keeps the unread bytes, reads more after them. `false` at the end of the input.
    fn fill(&mut self) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let dropped = &self.buf[..self.pos];
        let newlines = newlines(dropped);
        match (newlines > 0)
            .then(|| dropped.iter().rposition(|b| *b == b'\n'))
            .flatten()
        {
            Some(i) => {
                self.lines_before += newlines;
                self.column_before = dropped.len() - i - 1;
            }
            None => self.column_before += dropped.len(),
        }
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.pos = 0;
        if self.end == self.buf.len() {
            return Err(self.error(format!(
                "a single token is longer than {BUFFER_BYTES} bytes"
            )));
        }
        loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.error(format!("reading: {e}"))),
            }
        }
    }

    /// The next byte that is not whitespace, not consumed; `None` at the end of the input.
    pub(super) fn peek(&mut self) -> Result<Option<u8>> {
        loop {
            while self.pos < self.end {
                let b = self.buf[self.pos];
                if !is_ws(b) {
                    return Ok(Some(b));
                }
                self.pos += 1;
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    pub(super) fn expect_any(&mut self, what: &str) -> Result<u8> {
        match self.peek()? {
            Some(b) => Ok(b),
            None => Err(self.error(format!("expected {what}, found the end of the input"))),
        }
    }

    pub(super) fn consume(&mut self, b: u8) -> Result<()> {
        match self.peek()? {
            Some(found) if found == b => {
                self.pos += 1;
                Ok(())
            }
            found => Err(self.unexpected(&format!("`{}`", b as char), found)),
        }
    }

    pub(super) fn unexpected(&self, expected: &str, found: Option<u8>) -> StreamError {
        match found {
            Some(f) => self.error(format!("expected {expected}, found `{}`", f.escape_ascii())),
            None => self.error(format!("expected {expected}, found the end of the input")),
        }
    }

    /// After a member or element: `true` if another follows (a `,` was consumed), `false` at
    /// `close` (consumed).
    pub(super) fn more(&mut self, close: u8) -> Result<bool> {
        match self.peek()? {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            found => Err(self.unexpected(&format!("`,` or `{}`", close as char), found)),
        }
    }

    /// Opens an object or array: `true` if it has a first member (which is next), `false` if it
    /// is empty (and consumed).
    fn open(&mut self, open: u8, close: u8) -> Result<bool> {
        self.consume(open)?;
        if self.expect_any("a value")? == close {
            self.pos += 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// An object key and its `:`.
    fn key(&mut self) -> Result<String> {
        let key = self.string()?;
        self.consume(b':')?;
        Ok(key)
    }

    /// A string, unescaped.
    pub(super) fn string(&mut self) -> Result<String> {
        self.consume(b'"')?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            if self.pos >= self.end && !self.fill()? {
                return Err(self.error("unterminated string"));
            }
            let rest = &self.buf[self.pos..self.end];
            let stop = rest
                .iter()
                .position(|b| *b == b'"' || *b == b'\\' || *b < 0x20);
            let take = stop.unwrap_or(rest.len());
            out.extend_from_slice(&rest[..take]);
            self.pos += take;
            if stop.is_none() {
                continue;
            }
            let b = self.buf[self.pos];
            if b < 0x20 {
                return Err(self.error("a control character in a string"));
            }
            self.pos += 1;
            if b == b'"' {
                return String::from_utf8(out).map_err(|_| self.error("a string is not UTF-8"));
            }
            self.escape(&mut out)?;
        }
    }

    pub(super) fn byte(&mut self) -> Result<u8> {
        if self.pos >= self.end && !self.fill()? {
            return Err(self.error("unexpected end of the input"));
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    /// The escape after a `\`, appended to `out` as UTF-8.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let c = match self.byte()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    if self.byte()? != b'\\' || self.byte()? != b'u' {
                        return Err(self.error("a lone surrogate in a \\u escape"));
                    }
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(self.error("a lone surrogate in a \\u escape"));
                    }
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                char::from_u32(code).ok_or_else(|| self.error("an invalid \\u escape"))?
            }
            b => {
                return Err(self.error(format!("an invalid escape `\\{}`", b.escape_ascii())));
            }
        };
        let mut utf8 = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let b = self.byte()?;
            let d = (b as char)
                .to_digit(16)
                .ok_or_else(|| self.error("an invalid \\u escape"))?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    /// Skips a string whose opening quote is next.
    pub(super) fn skip_string(&mut self) -> Result<()> {
        self.pos += 1;
        loop {
            if self.pos >= self.end && !self.fill()? {
                return Err(self.error("unterminated string"));
            }
            match self.buf[self.pos..self.end]
                .iter()
                .position(|b| *b == b'"' || *b == b'\\' || *b < 0x20)
            {
                None => self.pos = self.end,
                Some(i) => {
                    self.pos += i;
                    match self.buf[self.pos] {
                        b'"' => {
                            self.pos += 1;
                            return Ok(());
                        }
                        b'\\' => {
                            self.pos += 1;
                            // Checked as in `string`, without keeping the text.
                            self.escape(&mut Vec::new())?;
                        }
                        _ => return Err(self.error("a control character in a string")),
                    }
                }
            }
        }
    }

    /// Skips one value of any kind.
    fn skip_value(&mut self) -> Result<()> {
        let mut depth = 0usize;
        loop {
            let b = self.expect_any("a value")?;
            match b {
                b'"' => self.skip_string()?,
                b'{' | b'[' => {
                    depth += 1;
                    self.pos += 1;
                }
                b'}' | b']' => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| self.error(format!("unexpected `{}`", b as char)))?;
                    self.pos += 1;
                }
                b',' | b':' if depth > 0 => self.pos += 1,
                _ => self.skip_scalar()?,
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }

    /// Skips a number or literal.
    fn skip_scalar(&mut self) -> Result<()> {
        let start = self.pos;
        let len = self.token_len()?;
        if len == 0 {
            return Err(self.error(format!(
                "unexpected `{}`",
                self.buf[start.min(self.end.saturating_sub(1))].escape_ascii()
            )));
        }
        self.pos += len;
        Ok(())
    }

    /// The `len` bytes at `pos` (after [`Scanner::token_len`] made them available).
    pub(super) fn token(&self, len: usize) -> &[u8] {
        &self.buf[self.pos..self.pos + len]
    }

    /// Length of the number or literal at `pos`, with all its bytes in the buffer.
    pub(super) fn token_len(&mut self) -> Result<usize> {
        let mut i = 0;
        loop {
            let rest = &self.buf[self.pos + i..self.end];
            if let Some(j) = rest.iter().position(|b| !is_token_byte(*b)) {
                return Ok(i + j);
            }
            i += rest.len();
            // `fill` keeps the bytes from `pos` on.
            if !self.fill()? {
                return Ok(i);
            }
        }
    }

    /// The common cell, an integer wholly in the buffer, read in one pass over its bytes;
    /// `None` (nothing consumed) for anything else.
    #[allow(clippy::cast_precision_loss)] // As `number`.
    fn integer(&mut self) -> Option<f64> {
        let buf = &self.buf[self.pos..self.end];
        let mut i = 0;
        while i < buf.len() && is_ws(buf[i]) {
            i += 1;
        }
        let negative = buf.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        let start = i;
        let mut v = 0u64;
        while i < buf.len() && i - start < 19 && buf[i].is_ascii_digit() {
            v = v * 10 + u64::from(buf[i] - b'0');
            i += 1;
        }
        let digits = i - start;
        // The byte after must be in the buffer and end the number.
        if digits == 0
            || i >= buf.len()
            || is_token_byte(buf[i])
            || digits > 1 && buf[start] == b'0'
        {
            return None;
        }
        self.pos += i;
        let v = v as f64;
        Some(if negative && v != 0.0 { -v } else { v })
    }

    /// [`Scanner::integer`] followed by optional whitespace and a `,` (consumed too); `None`
    /// (nothing consumed) otherwise.
    pub(super) fn integer_then_comma(&mut self) -> Option<f64> {
        let start = self.pos;
        let v = self.integer()?;
        let rest = &self.buf[self.pos..self.end];
        match rest.iter().position(|b| !is_ws(*b)) {
            Some(i) if rest[i] == b',' => {
                self.pos += i + 1;
                Some(v)
            }
            _ => {
                self.pos = start;
                None
            }
        }
    }

    /// Consumes the longest run of `integer ,` elements (JSON integers, each followed by optional
    /// whitespace and a comma) wholly in the buffer, and returns how many; stops before anything
    /// else. Pass 1 counts a dense `value` with it.
    pub(super) fn integer_run(&mut self) -> u64 {
        let buf = &self.buf[self.pos..self.end];
        let (mut i, mut n, mut done) = (0, 0u64, 0);
        loop {
            while i < buf.len() && is_ws(buf[i]) {
                i += 1;
            }
            if buf.get(i) == Some(&b'-') {
                i += 1;
            }
            let first = i;
            while i < buf.len() && buf[i].is_ascii_digit() {
                i += 1;
            }
            if i == first || i - first > 1 && buf[first] == b'0' {
                break;
            }
            while i < buf.len() && is_ws(buf[i]) {
                i += 1;
            }
            if buf.get(i) != Some(&b',') {
                break;
            }
            i += 1;
            n += 1;
            done = i;
        }
        self.pos += done;
        n
    }

    /// A cell: a number, `null` or a string.
    fn cell(&mut self) -> Result<Cell> {
        if let Some(v) = self.integer() {
            return Ok(Cell::Number(v));
        }
        if self.expect_any("a cell")? == b'"' {
            return Ok(Cell::Text(self.string()?));
        }
        let len = self.token_len()?;
        let token = &self.buf[self.pos..self.pos + len];
        let cell = if token == b"null" {
            Cell::Null
        } else if let Some(v) = number(token) {
            Cell::Number(v)
        } else {
            return Err(self.error(format!(
                "invalid type: `{}`, expected a number, null or a string",
                String::from_utf8_lossy(token)
            )));
        };
        self.pos += len;
        Ok(cell)
    }
}

/// JSON whitespace.
pub(in crate::stages::normalize) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// Line feeds in `bytes`.
fn newlines(bytes: &[u8]) -> usize {
    bytes.iter().map(|b| usize::from(*b == b'\n')).sum()
}

/// Bytes that can be part of a number or of `true`, `false`, `null`.
pub(in crate::stages::normalize) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.')
}

/// A JSON number as `f64`: integers of up to 19 digits exactly as a 64-bit integer converted to
/// the nearest `f64` (what `serde_json` does), anything else by the standard library's correctly
/// rounded parser. `None` for what is not a JSON number.
#[allow(clippy::cast_precision_loss)] // JSON numbers are f64 in the output, as in JSON-stat.
fn number(token: &[u8]) -> Option<f64> {
    let (negative, digits) = match token.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, token),
    };
    if !digits.is_empty() && digits.len() <= 19 && digits.iter().all(u8::is_ascii_digit) {
        if digits.len() > 1 && digits[0] == b'0' {
            return None;
        }
        let v = digits
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
        let v = v as f64;
        return Some(if negative && v != 0.0 { -v } else { v });
    }
    let first = *digits.first()?;
    if !first.is_ascii_digit() || digits.iter().any(u8::is_ascii_alphabetic) && !is_exponent(digits)
    {
        return None;
    }
    std::str::from_utf8(token).ok()?.parse().ok()
}

/// Whether the only letters in a number's digits are one exponent marker.
fn is_exponent(digits: &[u8]) -> bool {
    digits
        .iter()
        .filter(|b| b.is_ascii_alphabetic())
        .all(|b| *b == b'e' || *b == b'E')
}

/// Streams the cells of the datasets at `pointers` (as [`Document`] named them) to `sink`.
pub fn stream<R: Read, S: CellSink>(
    src: R,
    form: Form,
    pointers: &[String],
    sink: &mut S,
) -> Result<()> {
    let mut s = Scanner::new(src);
    let find = |ptr: &str| pointers.iter().position(|p| p == ptr);
    // A dataset's `value` is read once: a key given twice (JSON allows it, JSON-stat does not
    // mean it) would count every cell twice.
    let mut seen = Seen(vec![false; pointers.len().max(1)]);
    if s.open(b'{', b'}')? {
        loop {
            let key = s.key()?;
            match (form, key.as_str()) {
                (Form::Dataset | Form::V1Dataset, "value") => {
                    seen.first(&s, 0, "")?;
                    value(&mut s, 0, sink)?;
                }
                (Form::Collection, "link") => link(&mut s, pointers, sink, &mut seen)?,
                (Form::Bundle, k) if !Document::is_top_key(k) => {
                    let pointer = format!("/{}", escape(k));
                    match find(&pointer) {
                        Some(d) => dataset(&mut s, d, &pointer, sink, &mut seen)?,
                        None => s.skip_value()?,
                    }
                }
                _ => s.skip_value()?,
            }
            if !s.more(b'}')? {
                break;
            }
        }
    }
    Ok(())
}

/// Which datasets' `value` has been read.
struct Seen(Vec<bool>);

impl Seen {
    /// Marks dataset `d`'s `value` read, or fails when it already was.
    fn first<R: Read>(&mut self, s: &Scanner<R>, d: usize, pointer: &str) -> Result<()> {
        if std::mem::replace(&mut self.0[d], true) {
            return Err(s.error(format!(
                "a second `value` for the dataset at `{}`: each dataset has one (read twice, \
                 every cell would count twice)",
                if pointer.is_empty() { "/" } else { pointer }
            )));
        }
        Ok(())
    }
}

/// A dataset object: only its `value` is read.
fn dataset<R: Read, S: CellSink>(
    s: &mut Scanner<R>,
    d: usize,
    pointer: &str,
    sink: &mut S,
    seen: &mut Seen,
) -> Result<()> {
    if s.open(b'{', b'}')? {
        loop {
            if s.key()? == "value" {
                seen.first(s, d, pointer)?;
                value(s, d, sink)?;
            } else {
                s.skip_value()?;
            }
            if !s.more(b'}')? {
                break;
            }
        }
    }
    Ok(())
}

/// `link` of a collection: `item` holds the datasets.
fn link<R: Read, S: CellSink>(
    s: &mut Scanner<R>,
    pointers: &[String],
    sink: &mut S,
    seen: &mut Seen,
) -> Result<()> {
    if s.open(b'{', b'}')? {
        loop {
            if s.key()? == "item" {
                if s.open(b'[', b']')? {
                    let mut i = 0usize;
                    loop {
                        let ptr = format!("/link/item/{i}");
                        match pointers.iter().position(|p| *p == ptr) {
                            Some(d) => dataset(s, d, &ptr, sink, seen)?,
                            None => s.skip_value()?,
                        }
                        i += 1;
                        if !s.more(b']')? {
                            break;
                        }
                    }
                }
            } else {
                s.skip_value()?;
            }
            if !s.more(b'}')? {
                break;
            }
        }
    }
    Ok(())
}

/// `value` of dataset `d`: an array of cells, or an object of position -> cell.
fn value<R: Read, S: CellSink>(s: &mut Scanner<R>, d: usize, sink: &mut S) -> Result<()> {
    match s.expect_any("`value`")? {
        b'[' => {
            if s.open(b'[', b']')? {
                let mut pos = 0usize;
                loop {
                    // An integer and the `,` after it, wholly in the buffer: most cells.
                    if let Some(v) = s.integer_then_comma() {
                        sink.cell(d, pos, Cell::Number(v)).map_err(|e| s.error(e))?;
                        pos += 1;
                        continue;
                    }
                    let cell = s.cell()?;
                    sink.cell(d, pos, cell).map_err(|e| s.error(e))?;
                    pos += 1;
                    if !s.more(b']')? {
                        break;
                    }
                }
            }
        }
        b'{' => {
            if s.open(b'{', b'}')? {
                loop {
                    let key = s.key()?;
                    let pos = key
                        .parse::<usize>()
                        .map_err(|_| s.error(format!("sparse key {key:?}")))?;
                    let cell = s.cell()?;
                    sink.cell(d, pos, cell).map_err(|e| s.error(e))?;
                    if !s.more(b'}')? {
                        break;
                    }
                }
            }
        }
        b => {
            return Err(s.error(format!(
                "`value` is `{}`..., expected an array of cells or an object of position -> cell",
                b.escape_ascii()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(usize, usize, Cell)>);

    impl CellSink for Collect {
        fn cell(
            &mut self,
            dataset: usize,
            pos: usize,
            cell: Cell,
        ) -> std::result::Result<(), String> {
            self.0.push((dataset, pos, cell));
            Ok(())
        }
    }

    fn cells(json: &str, form: Form, pointers: &[&str]) -> Result<Vec<(usize, usize, Cell)>> {
        let pointers: Vec<String> = pointers.iter().map(|p| (*p).to_owned()).collect();
        let mut sink = Collect::default();
        stream(json.as_bytes(), form, &pointers, &mut sink)?;
        Ok(sink.0)
    }

    #[test]
    fn numbers_parse_like_json() {
        assert_eq!(number(b"0"), Some(0.0));
        assert_eq!(number(b"-0"), Some(0.0));
        assert_eq!(number(b"12345"), Some(12345.0));
        assert_eq!(number(b"-17"), Some(-17.0));
        assert_eq!(number(b"1.5"), Some(1.5));
        assert_eq!(number(b"-2.5e3"), Some(-2500.0));
        assert_eq!(number(b"1E-2"), Some(0.01));
        assert_eq!(number(b"0.1"), Some(0.1));
        assert_eq!(number(b"9007199254740993"), Some(9_007_199_254_740_992.0));
        assert_eq!(
            number(b"12345678901234567890123"),
            Some(1.234_567_890_123_456_8e22)
        );
        for bad in [&b"true"[..], b"nan", b"inf", b"01", b"-", b"1x", b"", b"e5"] {
            assert_eq!(number(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_second_value_key_is_an_error_not_twice_the_cells() {
        for (json, form, pointers) in [
            (
                r#"{"value": [1, 2], "value": [1, 2]}"#,
                Form::Dataset,
                vec![String::new()],
            ),
            (
                r#"{"a": {"value": [1]}, "a": {"value": [1]}}"#,
                Form::Bundle,
                vec!["/a".to_owned()],
            ),
            (
                r#"{"link": {"item": [{"class": "dataset", "value": [1], "value": [2]}]}}"#,
                Form::Collection,
                vec!["/link/item/0".to_owned()],
            ),
        ] {
            let pointers: Vec<&str> = pointers.iter().map(String::as_str).collect();
            let err = cells(json, form, &pointers).unwrap_err();
            assert!(
                err.to_string().contains("a second `value`"),
                "{json}: {err}"
            );
        }
    }

    #[test]
    fn dense_and_sparse_values_with_skipped_members_around() {
        let json = r#"{"skip": {"a": [1, {"b": "}]\"["}], "c": null}, "value" : [ 1 , null,"..", -2.5e1 ],
            "status": {"1": "."}}"#;
        let got = cells(json, Form::Dataset, &[""]).unwrap_or_default();
        assert_eq!(
            got,
            vec![
                (0, 0, Cell::Number(1.0)),
                (0, 1, Cell::Null),
                (0, 2, Cell::Text("..".into())),
                (0, 3, Cell::Number(-25.0)),
            ]
        );
        let sparse = cells(r#"{"value": {"7": 3, "0": null}}"#, Form::Dataset, &[""]);
        assert_eq!(
            sparse.unwrap_or_default(),
            vec![(0, 7, Cell::Number(3.0)), (0, 0, Cell::Null)]
        );
        assert_eq!(
            cells(r#"{"value": []}"#, Form::Dataset, &[""]).unwrap_or_default(),
            vec![]
        );
        assert_eq!(
            cells("{}", Form::Dataset, &[""]).unwrap_or_default(),
            vec![]
        );
    }

    #[test]
    fn collection_items_and_bundle_members_by_pointer() {
        let json = r#"{"version":"2.0","class":"collection","link":{"item":[
            {"class":"dataset","value":[1]}, {"href":"x"}, {"class":"dataset","value":[3,4]}]}}"#;
        let got = cells(json, Form::Collection, &["/link/item/0", "/link/item/2"]);
        assert_eq!(
            got.unwrap_or_default(),
            vec![
                (0, 0, Cell::Number(1.0)),
                (1, 0, Cell::Number(3.0)),
                (1, 1, Cell::Number(4.0))
            ]
        );
        let bundle =
            r#"{"a/b": {"value": [5]}, "skipped": {"value": [6]}, "c\u00e4": {"value": [7]}}"#;
        let got = cells(bundle, Form::Bundle, &["/a~1b", "/cä"]);
        assert_eq!(
            got.unwrap_or_default(),
            vec![(0, 0, Cell::Number(5.0)), (1, 0, Cell::Number(7.0))]
        );
    }

    #[test]
    fn escapes_in_text_cells() {
        let got = cells(
            r#"{"value": ["a\"b\\c\n\u00e4\ud83d\ude00"]}"#,
            Form::Dataset,
            &[""],
        );
        assert_eq!(
            got.unwrap_or_default(),
            vec![(0, 0, Cell::Text("a\"b\\c\nä😀".into()))]
        );
    }

    #[test]
    fn errors_say_where() {
        let err = cells("{\"a\": 1,\n  \"value\": [1, true]}", Form::Dataset, &[""]);
        let err = err.err().map(|e| (e.line, e.column, e.message));
        assert_eq!(
            err,
            Some((
                2,
                16,
                "invalid type: `true`, expected a number, null or a string".to_owned()
            ))
        );
        let err = cells(r#"{"value": {"x": 1}}"#, Form::Dataset, &[""]).err();
        assert_eq!(err.map(|e| e.message), Some("sparse key \"x\"".to_owned()));
        let err = cells(r#"{"value": [1, 2"#, Form::Dataset, &[""]).err();
        assert_eq!(
            err.map(|e| e.message),
            Some("expected `,` or `]`, found the end of the input".to_owned())
        );
    }

    /// A reader that hands out one byte at a time, so every token straddles buffer refills.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(slot)) => {
                    *slot = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn tokens_across_refills() {
        let json = r#"{"label": "x\"y", "value": [123456789, -0.5e-3, "t\u00e4", null]}"#;
        let mut sink = Collect::default();
        stream(
            Trickle(json.as_bytes()),
            Form::Dataset,
            &[String::new()],
            &mut sink,
        )
        .map_err(|e| e.message)
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            sink.0,
            vec![
                (0, 0, Cell::Number(123_456_789.0)),
                (0, 1, Cell::Number(-0.0005)),
                (0, 2, Cell::Text("tä".into())),
                (0, 3, Cell::Null),
            ]
        );
    }
}
