//! Reading one complete record (without its newline) into a [`Point`].
//!
//! A record is read first and checked second: syntax errors are reported in reading order,
//! then duplicate tag keys, then duplicate field keys.

use super::Settings;
use crate::{DecodeReason, FieldValue, Point};

/// A refused record: the byte offset in the record where the problem is, and what it is.
#[derive(Debug, PartialEq)]
pub(super) struct Failure {
    pub(super) offset: usize,
    pub(super) reason: DecodeReason,
}

/// Decode one record. `Ok(None)` for a blank or comment line.
pub(super) fn record(rec: &[u8], settings: &Settings) -> Result<Option<Point>, Failure> {
    // A carriage return is a byte like any other (InfluxDB refuses `m f=1\r`).
    let Some(start) = rec.iter().position(|&b| b != b' ' && b != b'\t') else {
        return Ok(None);
    };
    if rec.get(start) == Some(&b'#') {
        return Ok(None);
    }
    if let Err(e) = std::str::from_utf8(rec) {
        return Err(Failure {
            offset: e.valid_up_to(),
            reason: DecodeReason::InvalidUtf8,
        });
    }
    Parser {
        buf: rec,
        pos: start,
    }
    .point(settings)
    .map(Some)
}

/// Which escapes apply to a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// `=` is a plain byte.
    Measurement,
    /// Tag keys and tag values: `=` is a delimiter.
    Key,
    /// Field keys: `=` is a delimiter, and a backslash takes the byte after it whatever it is
    /// (InfluxDB 1.x scans the field set in pairs: `f\\=1` is the key `f\\`).
    FieldKey,
}

#[derive(Debug)]
struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn point(&mut self, settings: &Settings) -> Result<Point, Failure> {
        let at = self.pos;
        let measurement = self.name(Part::Measurement);
        if measurement.is_empty() {
            return fail(at, DecodeReason::MissingMeasurement);
        }
        let mut tags = Vec::new();
        while self.peek() == Some(b',') {
            self.pos += 1;
            tags.push(self.tag()?);
        }
        self.skip_spaces();
        if self.peek().is_none() {
            return fail(self.pos, DecodeReason::MissingFields);
        }
        let mut fields = self.fields()?;
        let timestamp_ns = self.timestamp(settings)?;
        if let Some((key, _, at)) = first_duplicate(&tags).and_then(|i| tags.get(i)) {
            let key = key.clone();
            return fail(*at, DecodeReason::DuplicateTag { key });
        }
        // As InfluxDB: a field given twice with values of one type keeps the last value; of
        // two types, the record is refused.
        while let Some(i) = first_duplicate(&fields) {
            let (key, value, at) = &fields[i];
            let first = fields
                .iter()
                .position(|f| &f.0 == key)
                .expect("a duplicate has a first occurrence");
            if std::mem::discriminant(&fields[first].1) != std::mem::discriminant(value) {
                let key = key.clone();
                return fail(*at, DecodeReason::DuplicateField { key });
            }
            let (_, value, _) = fields.remove(i);
            fields[first].1 = value;
        }
        Point::new(
            measurement,
            tags.into_iter().map(|(k, v, _)| (k, v)).collect(),
            fields.into_iter().map(|(k, v, _)| (k, v)).collect(),
            timestamp_ns,
            settings.category,
        )
        // Unreachable: every check of `Point::new` was made above, with a position.
        .map_err(|e| Failure {
            offset: at,
            reason: e.into(),
        })
    }

    /// `key=value` after a comma of the series, with the key's offset.
    fn tag(&mut self) -> Result<(String, String, usize), Failure> {
        let at = self.pos;
        let key = self.name(Part::Key);
        if key.is_empty() {
            return fail(at, DecodeReason::MissingTagKey);
        }
        if self.peek() != Some(b'=') {
            return fail(self.pos, DecodeReason::MissingTagEquals { key });
        }
        self.pos += 1;
        let value_at = self.pos;
        // As InfluxDB 1.x, the first byte of a tag value may be a plain `=`.
        let lead = if self.peek() == Some(b'=') {
            self.pos += 1;
            "="
        } else {
            ""
        };
        let value = format!("{lead}{}", self.name(Part::Key));
        if self.peek() == Some(b'=') {
            return fail(self.pos, DecodeReason::UnescapedEquals { key });
        }
        if value.is_empty() {
            return fail(value_at, DecodeReason::MissingTagValue { key });
        }
        Ok((key, value, at))
    }

    /// The field set, each field with its key's offset.
    fn fields(&mut self) -> Result<Vec<(String, FieldValue, usize)>, Failure> {
        let mut fields = Vec::new();
        loop {
            let at = self.pos;
            let key = self.name(Part::FieldKey);
            if key.is_empty() {
                return fail(at, DecodeReason::MissingFieldKey);
            }
            // InfluxDB reads `=` right after a backslash as escaped when it splits a field, even
            // when that backslash was paired with one before it (`f\\=1` is refused).
            if self.peek() != Some(b'=') || self.buf.get(self.pos - 1) == Some(&b'\\') {
                return fail(self.pos, DecodeReason::MissingFieldEquals { key });
            }
            self.pos += 1;
            let value = self.field_value(&key)?;
            fields.push((key, value, at));
            if self.peek() != Some(b',') {
                // A space before the timestamp, or the end of the record.
                return Ok(fields);
            }
            self.pos += 1;
        }
    }

    fn field_value(&mut self, key: &str) -> Result<FieldValue, Failure> {
        let at = self.pos;
        let key = || key.to_string();
        match self.peek() {
            None | Some(b',' | b' ') => fail(at, DecodeReason::MissingFieldValue { key: key() }),
            Some(b'"') => {
                self.pos += 1;
                let Some(text) = self.text() else {
                    return fail(at, DecodeReason::UnterminatedString { key: key() });
                };
                match self.peek() {
                    None | Some(b',' | b' ') => Ok(FieldValue::Text(text)),
                    Some(_) => fail(self.pos, DecodeReason::TextAfterString { key: key() }),
                }
            }
            Some(_) => {
                let token = self.token(|b| b == b',' || b == b' ');
                bare_value(token).map_err(|reason| Failure { offset: at, reason })
            }
        }
    }

    /// The optional timestamp, scaled to nanoseconds, and nothing but spaces after it.
    fn timestamp(&mut self, settings: &Settings) -> Result<i64, Failure> {
        self.skip_spaces();
        if self.peek().is_none() {
            return Ok(settings.default_time_ns);
        }
        let at = self.pos;
        let token = self.token(|b| b == b' ');
        let value = || snippet(token);
        let digits = token.strip_prefix(b"-").unwrap_or(token);
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return fail(at, DecodeReason::InvalidTimestamp { value: value() });
        }
        let Some(ns) = std::str::from_utf8(token)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .and_then(|t| t.checked_mul(settings.precision.nanos()))
        else {
            return fail(at, DecodeReason::TimestampOutOfRange { value: value() });
        };
        self.skip_spaces();
        if self.peek().is_some() {
            let text = snippet(self.rest());
            return fail(self.pos, DecodeReason::TextAfterTimestamp { text });
        }
        Ok(ns)
    }

    /// An escaped name, up to its first unescaped delimiter (`,` or space, and `=` for keys).
    /// As in InfluxDB 1.x, a delimiter right after a `\` is escaped (whatever comes before that
    /// backslash: `\\ ` is a backslash and an escaped space), and every other backslash is kept
    /// as it is (`\\`, `\n` and `\#` stay two bytes).
    fn name(&mut self, part: Part) -> String {
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            match b {
                b',' | b' ' => break,
                b'=' if part != Part::Measurement => break,
                b'\\' if part == Part::FieldKey => {
                    let next = self.buf.get(self.pos + 1).copied();
                    match (unescape(next), next) {
                        (Some(c), _) => out.push(c),
                        (None, Some(c)) => out.extend_from_slice(&[b'\\', c]),
                        (None, None) => out.push(b'\\'),
                    }
                    self.pos += 2;
                }
                b'\\' => {
                    let next = self.buf.get(self.pos + 1).copied();
                    match unescape(next) {
                        Some(c) => {
                            out.push(c);
                            self.pos += 2;
                        }
                        None => {
                            out.push(b'\\');
                            self.pos += 1;
                        }
                    }
                }
                _ => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
        into_string(out)
    }

    /// A string value after its opening quote, through the closing one; `None` if unclosed.
    fn text(&mut self) -> Option<String> {
        let mut out = Vec::new();
        loop {
            let rest = self.rest();
            let n = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
            let (plain, rest) = rest.split_at_checked(n)?;
            out.extend_from_slice(plain);
            self.pos += n + 1;
            match rest {
                [b'\\', c @ (b'"' | b'\\'), ..] => {
                    out.push(*c);
                    self.pos += 1;
                }
                [b'\\', ..] => out.push(b'\\'),
                _ => return Some(into_string(out)),
            }
        }
    }

    /// Bytes up to the first one that `stop` accepts, or to the end.
    fn token(&mut self, stop: impl Fn(u8) -> bool) -> &'a [u8] {
        let rest = self.rest();
        let n = rest.iter().position(|&b| stop(b)).unwrap_or(rest.len());
        self.pos += n;
        rest.get(..n).unwrap_or(rest)
    }
}

fn fail<T>(offset: usize, reason: DecodeReason) -> Result<T, Failure> {
    Err(Failure { offset, reason })
}

/// The delimiter that `\` followed by `next` escapes, if it is one (`=` too in a measurement,
/// where it is no delimiter: InfluxDB reads `m\=x` as `m=x`).
fn unescape(next: Option<u8>) -> Option<u8> {
    match next? {
        c @ (b',' | b' ' | b'=') => Some(c),
        _ => None,
    }
}

/// The index of the first item whose key appeared before it.
fn first_duplicate<V>(items: &[(String, V, usize)]) -> Option<usize> {
    if items.len() <= 16 {
        return (1..items.len()).find(|&i| {
            let key = items.get(i).map(|t| &t.0);
            items.iter().take(i).any(|t| Some(&t.0) == key)
        });
    }
    let mut keys: Vec<(&str, usize)> = items
        .iter()
        .enumerate()
        .map(|(i, t)| (t.0.as_str(), i))
        .collect();
    keys.sort_unstable();
    keys.windows(2)
        .filter(|w| w[0].0 == w[1].0)
        .map(|w| w[1].1)
        .min()
}

/// A number, boolean or other unquoted field value.
fn bare_value(token: &[u8]) -> Result<FieldValue, DecodeReason> {
    match token {
        b"t" | b"T" | b"true" | b"True" | b"TRUE" => return Ok(FieldValue::Bool(true)),
        b"f" | b"F" | b"false" | b"False" | b"FALSE" => return Ok(FieldValue::Bool(false)),
        _ => {}
    }
    let text = std::str::from_utf8(token).unwrap_or_default();
    let value = || snippet(token);
    if let Some(num) = text.strip_suffix('i').filter(|n| is_integer(n)) {
        return num
            .parse()
            .map(FieldValue::Int)
            .map_err(|_| DecodeReason::IntegerOutOfRange { value: value() });
    }
    if let Some(num) = text.strip_suffix('u').filter(|n| is_integer(n)) {
        if num.starts_with('-') {
            return Err(DecodeReason::NegativeUnsigned { value: value() });
        }
        return num
            .parse()
            .map(FieldValue::Uint)
            .map_err(|_| DecodeReason::IntegerOutOfRange { value: value() });
    }
    if is_float(text) {
        return match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(FieldValue::Float(f)),
            Ok(_) => Err(DecodeReason::FloatOutOfRange { value: value() }),
            Err(_) => Err(DecodeReason::InvalidFieldValue { value: value() }),
        };
    }
    let word = text.trim_start_matches(['-', '+']).to_ascii_lowercase();
    if matches!(word.as_str(), "nan" | "inf" | "infinity") {
        return Err(DecodeReason::NonFiniteFloat { value: value() });
    }
    Err(DecodeReason::InvalidFieldValue { value: value() })
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `-?[0-9]+`
fn is_integer(s: &str) -> bool {
    digits(s.strip_prefix('-').unwrap_or(s))
}

/// `-?` then digits with at most one `.` (at least one digit), then an optional exponent
/// `[eE][+-]?[0-9]+`: what InfluxDB accepts, and no `inf` or `nan`.
fn is_float(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exponent) = match s.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (s, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mantissa_ok = (int.is_empty() || digits(int))
        && (frac.is_empty() || digits(frac))
        && !(int.is_empty() && frac.is_empty());
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// A value for an error message: at most 64 characters.
fn snippet(bytes: &[u8]) -> String {
    const MAX: usize = 64;
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", text.get(..cut).unwrap_or_default()),
        None => text.into_owned(),
    }
}

/// The record was checked to be UTF-8, and names and strings are cut only next to ASCII
/// delimiters, with ASCII escapes replaced by ASCII bytes, so this is never lossy.
fn into_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
