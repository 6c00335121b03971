//! A reader of Sotkanet `/json` rows as THL publishes them, for the column path
//! ([`super::sotkanet::decode_json_resolved`]).
//!
//! It reads each row in place, as `serde_json` would deserialize the payload into
//! [`TypedRow`]s — unknown keys skipped, `value` and `absValue` optional and nullable, every
//! number to the very same `f64` — without a vector of rows or a string per key, and it gives up
//! (`None`) wherever `serde_json` would fail, and also where it does not try to follow: a key
//! written with an escape. A number it cannot compute exactly as `serde_json` does is handed to
//! `serde_json` itself. Giving up sends the payload to the loose path, which decides.

use serde::de::IgnoredAny;

use super::jsonstat::stream::{is_token_byte, is_ws};

/// One `/json` row as THL publishes it: every field present and of its type (`value` and
/// `absValue` may be absent or null).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TypedRow<'a> {
    pub indicator: i64,
    pub region: i64,
    pub year: i64,
    pub gender: &'a str,
    pub value: Option<f64>,
    pub abs_value: Option<f64>,
}

/// Calls `f` with each row of a `/json` payload (an array of row objects), in order; `None` as
/// soon as the payload is not such an array or `f` says `None`.
pub(super) fn each_row<'a>(
    bytes: &'a [u8],
    mut f: impl FnMut(TypedRow<'a>) -> Option<()>,
) -> Option<()> {
    let mut r = Reader { bytes, at: 0 };
    r.expect(b'[')?;
    if r.peek()? == b']' {
        r.at += 1;
    } else {
        loop {
            f(r.row()?)?;
            match r.next_byte()? {
                b',' => {}
                b']' => break,
                _ => return None,
            }
        }
    }
    r.skip_whitespace();
    (r.at == bytes.len()).then_some(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn skip_whitespace(&mut self) {
        while self.bytes.get(self.at).is_some_and(|&b| is_ws(b)) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.at).copied()
    }

    /// The next byte after whitespace, consumed.
    fn next_byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        (self.next_byte()? == b).then_some(())
    }

    /// A string without escapes or control characters, as its bytes.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let rest = &self.bytes[self.at..];
        let len = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest[len] != b'"' {
            return None;
        }
        self.at += len + 1;
        Some(&rest[..len])
    }

    /// Whether the bytes at the cursor are `literal` (consumed if so). The length is known when
    /// this is compiled, so the comparison is a few machine words, not a call to `memcmp`.
    fn literal<const N: usize>(&mut self, literal: &[u8; N]) -> bool {
        let found = self
            .bytes
            .get(self.at..self.at + N)
            .and_then(|b| <&[u8; N]>::try_from(b).ok())
            == Some(literal);
        if found {
            self.at += N;
        }
        found
    }

    /// A row's key as THL writes it, quoted and without an escape, consumed; `None`, and
    /// nothing consumed, for any other key.
    fn known_key(&mut self) -> Option<&'static [u8]> {
        self.skip_whitespace();
        let (quoted, key): (bool, &'static [u8]) = match self.bytes.get(self.at + 1)? {
            b'i' => (self.literal(b"\"indicator\""), b"indicator"),
            b'r' => (self.literal(b"\"region\""), b"region"),
            b'y' => (self.literal(b"\"year\""), b"year"),
            b'g' => (self.literal(b"\"gender\""), b"gender"),
            b'v' => (self.literal(b"\"value\""), b"value"),
            b'a' => (self.literal(b"\"absValue\""), b"absValue"),
            _ => return None,
        };
        quoted.then_some(key)
    }

    /// A gender as THL writes it, consumed; `None`, and nothing consumed, otherwise.
    fn known_gender(&mut self) -> Option<&'static str> {
        self.skip_whitespace();
        let (quoted, gender) = match self.bytes.get(self.at + 1)? {
            b't' => (self.literal(b"\"total\""), "total"),
            b'm' => (self.literal(b"\"male\""), "male"),
            b'f' => (self.literal(b"\"female\""), "female"),
            _ => return None,
        };
        quoted.then_some(gender)
    }

    /// A number or literal: the bytes up to the next delimiter.
    fn token(&mut self) -> &'a [u8] {
        self.skip_whitespace();
        let rest = &self.bytes[self.at..];
        let len = rest
            .iter()
            .position(|&b| !is_token_byte(b))
            .unwrap_or(rest.len());
        self.at += len;
        &rest[..len]
    }

    /// An integer of at most 18 digits, written as an integer (`serde_json` refuses `1.0`, `1e3`
    /// and `-0`, which it reads as floats, for an integer field); longer ones are left to the
    /// loose path.
    fn integer(&mut self) -> Option<i64> {
        self.skip_whitespace();
        let rest = &self.bytes[self.at..];
        let negative = rest.first() == Some(&b'-');
        let digits = &rest[usize::from(negative)..];
        let len = leading_digits(digits);
        if len == 0 || len > 18 || (len > 1 && digits[0] == b'0') || continues(digits.get(len)) {
            return None;
        }
        let v = digits[..len]
            .iter()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
        if negative && v == 0 {
            return None;
        }
        self.at += usize::from(negative) + len;
        Some(if negative { -v } else { v })
    }

    /// A number, or `null` (`Some(None)`); `None` for anything else.
    #[allow(clippy::option_option)] // Three cases, as serde_json's `Option<f64>` field has.
    fn number_or_null(&mut self) -> Option<Option<f64>> {
        self.skip_whitespace();
        if let Some(v) = self.plain_decimal() {
            return Some(Some(v));
        }
        match self.token() {
            b"null" => Some(None),
            token => number(token).map(Some),
        }
    }

    /// The common case of [`number`], read without a token: `-?digits(.digits)?` with at most
    /// 15 significant digits, no exponent.
    #[allow(clippy::cast_precision_loss)] // at most 15 digits: exact
    fn plain_decimal(&mut self) -> Option<f64> {
        let rest = &self.bytes[self.at..];
        let negative = rest.first() == Some(&b'-');
        let unsigned = &rest[usize::from(negative)..];
        let integer = leading_digits(unsigned);
        if integer == 0 || integer > 15 || (integer > 1 && unsigned[0] == b'0') {
            return None;
        }
        let (mut len, mut fraction) = (integer, 0);
        if unsigned.get(integer) == Some(&b'.') {
            fraction = leading_digits(&unsigned[integer + 1..]);
            if fraction == 0 {
                return None;
            }
            len = integer + 1 + fraction;
        }
        // At most 15 digits in all (a leading `0.` does not count, but is rare enough to leave
        // to `number`), and nothing after them that would make another number.
        if integer + fraction > 15 || continues(unsigned.get(len)) {
            return None;
        }
        let digits = unsigned[..len]
            .iter()
            .filter(|d| d.is_ascii_digit())
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
        let v = digits as f64 / POW10[fraction];
        self.at += usize::from(negative) + len;
        Some(if negative { -v } else { v })
    }

    /// Skips the value of a key the row does not have, as `serde_json` would (it must be valid
    /// JSON).
    fn skip_value(&mut self) -> Option<()> {
        let mut values =
            serde_json::Deserializer::from_slice(&self.bytes[self.at..]).into_iter::<IgnoredAny>();
        values.next()?.ok()?;
        self.at += values.byte_offset();
        Some(())
    }

    fn row(&mut self) -> Option<TypedRow<'a>> {
        fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
            // A key given twice is an error to serde_json.
            slot.is_none().then(|| *slot = Some(value))
        }
        self.expect(b'{')?;
        let (mut indicator, mut region, mut year, mut gender) = (None, None, None, None);
        let (mut value, mut abs_value) = (None, None);
        if self.peek()? == b'}' {
            self.at += 1;
        } else {
            loop {
                let key = match self.known_key() {
                    Some(key) => key,
                    None => self.string()?,
                };
                self.expect(b':')?;
                match key {
                    b"indicator" => set(&mut indicator, self.integer()?)?,
                    b"region" => set(&mut region, self.integer()?)?,
                    b"year" => set(&mut year, self.integer()?)?,
                    b"gender" => {
                        let g = match self.known_gender() {
                            Some(g) => g,
                            None => std::str::from_utf8(self.string()?).ok()?,
                        };
                        set(&mut gender, g)?;
                    }
                    b"value" => set(&mut value, self.number_or_null()?)?,
                    b"absValue" => set(&mut abs_value, self.number_or_null()?)?,
                    other => {
                        std::str::from_utf8(other).ok()?;
                        self.skip_value()?;
                    }
                }
                match self.next_byte()? {
                    b',' => {}
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        Some(TypedRow {
            indicator: indicator?,
            region: region?,
            year: year?,
            gender: gender?,
            value: value.flatten(),
            abs_value: abs_value.flatten(),
        })
    }
}

/// How many ASCII digits `bytes` starts with.
fn leading_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Whether the byte after a number's digits would continue it (a fraction, an exponent, or
/// something that makes it no number at all) rather than end it.
fn continues(next: Option<&u8>) -> bool {
    next.is_some_and(|&b| is_token_byte(b))
}

/// `0` or digits without a leading zero.
fn is_json_integer(digits: &[u8]) -> bool {
    !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits.len() == 1 || digits[0] != b'0')
}

/// Exact powers of ten as `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A JSON number token as `serde_json` reads it into an `f64`; `None` when it is not a JSON
/// number. `serde_json` (without its `float_roundtrip` feature) reads a number as its digits,
/// an integer, and a power of ten, and converts by one multiplication or division; when the
/// digits (at most 15) and the power (at most 22) are both exact in an `f64`, that one operation
/// is correctly rounded, and is computed here the same way. Any other number is handed to
/// `serde_json`, so that a value never depends on which path read it.
#[allow(clippy::cast_precision_loss)] // at most 15 digits: exact
fn number(token: &[u8]) -> Option<f64> {
    let (negative, unsigned) = match token.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let integer_len = unsigned.iter().take_while(|b| b.is_ascii_digit()).count();
    let (integer, mut rest) = unsigned.split_at(integer_len);
    if !is_json_integer(integer) {
        return None;
    }
    let mut fraction: &[u8] = &[];
    if let Some(after) = rest.strip_prefix(b".") {
        let n = after.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        (fraction, rest) = after.split_at(n);
    }
    let mut exponent: Option<i32> = None;
    if let Some(after) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        let (sign, digits) = match after.split_first() {
            Some((b'-', d)) => (-1, d),
            Some((b'+', d)) => (1, d),
            _ => (1, after),
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // A long exponent: serde_json decides (it may be out of range).
        let e: i32 = std::str::from_utf8(digits)
            .ok()?
            .parse()
            .ok()
            .filter(|e| *e <= 999)?;
        exponent = Some(sign * e);
        rest = &[];
    }
    if !rest.is_empty() {
        return None;
    }
    let significant = integer
        .iter()
        .chain(fraction)
        .skip_while(|&&d| d == b'0')
        .count();
    let power = exponent.unwrap_or(0) - i32::try_from(fraction.len()).ok()?;
    if significant > 15 || power.unsigned_abs() > 22 {
        return serde_json::from_slice(token).ok();
    }
    let digits = integer
        .iter()
        .chain(fraction)
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    let magnitude = digits as f64;
    let pow = POW10[power.unsigned_abs() as usize];
    let v = if power >= 0 {
        magnitude * pow
    } else {
        magnitude / pow
    };
    Some(if negative { -v } else { v })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// What `serde_json` makes of a number token for an `f64` field.
    fn serde(token: &str) -> Option<f64> {
        serde_json::from_str(token).ok()
    }

    /// Every number computed here is bit for bit what `serde_json` reads, and what it refuses is
    /// refused here.
    #[test]
    fn numbers_are_serde_jsons_to_the_bit() {
        let mut tokens: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "6.5",
            "-17",
            "674500",
            "1.5e3",
            "1E-2",
            "2.5e+2",
            "0.1",
            "0.30000000000000004",
            "30492504214.699993",
            "123456789012345",
            "1234567890123456",
            "9007199254740993",
            "18446744073709551616",
            "1e22",
            "1e23",
            "1e-22",
            "1e-23",
            "4.9e-324",
            "1.7976931348623157e308",
            "1e400",
            "0.000001",
            "123.456e-7",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "1e+",
            "nan",
            "inf",
            "true",
            "1x",
            "--1",
            "1.5.5",
            "",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let digits = 1 + seed % 17;
            let point = seed / 17 % (digits + 1);
            let mut s: String = (0..digits)
                .map(|i| char::from(b'0' + u8::try_from((seed >> (i * 3)) % 10).unwrap()))
                .collect();
            if point > 0 && point < digits {
                s.insert(usize::try_from(point).unwrap(), '.');
            }
            if seed.is_multiple_of(5) {
                s = format!("{s}e{}", i64::try_from(seed % 50).unwrap() - 25);
            }
            if seed.is_multiple_of(3) {
                s.insert(0, '-');
            }
            tokens.push(s);
        }
        for t in &tokens {
            let theirs = serde(t).map(f64::to_bits);
            assert_eq!(number(t.as_bytes()).map(f64::to_bits), theirs, "{t}");
            // As a field's value, before the object's end (the reader's own fast path).
            let field = format!("{t}}}");
            let mut r = Reader {
                bytes: field.as_bytes(),
                at: 0,
            };
            let read = r.number_or_null().flatten();
            assert_eq!(read.map(f64::to_bits), theirs, "{t} in a row");
            if read.is_some() {
                assert_eq!(r.at, t.len(), "{t} read to its end");
            }
        }
    }

    fn rows(json: &str) -> Option<Vec<TypedRow<'_>>> {
        let mut out = Vec::new();
        each_row(json.as_bytes(), |r| {
            out.push(r);
            Some(())
        })?;
        Some(out)
    }

    /// The reference: what the column path read the rows with before this reader.
    #[derive(serde::Deserialize)]
    struct SerdeRow<'a> {
        indicator: i64,
        region: i64,
        year: i64,
        gender: &'a str,
        #[serde(default)]
        value: Option<f64>,
        #[serde(rename = "absValue", default)]
        abs_value: Option<f64>,
    }

    fn serde_rows(json: &str) -> Option<Vec<TypedRow<'_>>> {
        let rows: Vec<SerdeRow<'_>> = serde_json::from_str(json).ok()?;
        Some(
            rows.into_iter()
                .map(|r| TypedRow {
                    indicator: r.indicator,
                    region: r.region,
                    year: r.year,
                    gender: r.gender,
                    value: r.value,
                    abs_value: r.abs_value,
                })
                .collect(),
        )
    }

    /// Payloads read here exactly as `serde_json` reads them into rows, or refused where it
    /// refuses them: whitespace, keys in any order, an unknown key of any JSON value, `value`
    /// null, `absValue` absent, an empty array; and missing, repeated and mistyped fields,
    /// malformed JSON around and inside rows.
    #[test]
    fn rows_read_as_serde_json_reads_them() {
        let ok = r#"{"indicator":127,"region":46,"year":2023,"gender":"total","value":674500}"#;
        let cases = [
            format!(" [ {ok} ] "),
            r#"[{"gender":"male","year":2023,"region":-3,"indicator":127,"value":null,
                "absValue":2.5,"extra":{"a":[1,"x\"y",null,-0.5e3]}},
               {"indicator":127,"region":46,"year":2024,"gender":"female","absValue":3}]"#
                .to_owned(),
            "[]".to_owned(),
            " [\n] ".to_owned(),
        ];
        for json in &cases {
            let ours = rows(json).unwrap();
            assert_eq!(Some(ours), serde_rows(json), "{json}");
        }
        let bad_rows = [
            r#"{"indicator":1,"region":2,"year":2023,"value":1}"#,
            r#"{"indicator":1,"indicator":1,"region":2,"year":2023,"gender":"total"}"#,
            r#"{"indicator":1.0,"region":2,"year":2023,"gender":"total"}"#,
            r#"{"indicator":1e3,"region":2,"year":2023,"gender":"total"}"#,
            r#"{"indicator":1,"region":-0,"year":2023,"gender":"total"}"#,
            r#"{"indicator":1,"region":2,"year":"2023","gender":"total"}"#,
            r#"{"indicator":1,"region":2,"year":2023,"gender":"total","value":"1"}"#,
            r#"{"indicator":1,"region":2,"year":2023,"gender":"total","value":true}"#,
            r#"{"indicator":1,"region":2,"year":2023,"gender":"total","value":01}"#,
            r#"{"indicator":1,"region":2,"year":2023,"gender":"total","x":[1,}"#,
            r#"{"indicator":1,"region":2,"year":2023,"gender":"total","x":tru}"#,
            r#"{"indicator":1,"region":2,"year":2023,"gender":"total",}"#,
            r#"{"indicator":1,"region":2,"year":2023,"gender":"total" "value":1}"#,
            r#"{"indicator":99999999999999999999,"region":2,"year":2023,"gender":"total"}"#,
            r#"{"indicator":9223372036854775808,"region":2,"year":2023,"gender":"total"}"#,
            "{\"indicator\":1,\"region\":2,\"year\":2023,\"gender\":\"to\ttal\"}",
            "{}",
            "[]",
            "1",
        ];
        for bad in bad_rows {
            let json = format!("[{ok},{bad}]");
            assert!(serde_rows(&json).is_none(), "serde_json takes {bad}");
            assert!(rows(&json).is_none(), "{bad}");
        }
        for bad in ["", "[", "[{}", "{}", "null"] {
            assert!(serde_rows(bad).is_none() && rows(bad).is_none(), "{bad}");
        }
        for bad in [
            format!("[{ok}"),
            format!("[{ok},]"),
            format!("[{ok}] x"),
            ok.to_owned(),
        ] {
            assert!(serde_rows(&bad).is_none() && rows(&bad).is_none(), "{bad}");
        }
        // A gender with an escape cannot be borrowed: both refuse it.
        let escaped = r#"[{"indicator":1,"region":2,"year":2023,"gender":"tot\u0061l"}]"#;
        assert!(serde_rows(escaped).is_none() && rows(escaped).is_none());
        // Left to the loose path although serde_json would read it: a key with an escape.
        let escaped = r#"[{"indic\u0061tor":1,"region":2,"year":2023,"gender":"total"}]"#;
        assert!(serde_rows(escaped).is_some() && rows(escaped).is_none());
    }
}
