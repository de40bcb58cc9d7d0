//! InfluxDB line protocol encoding.
//!
//! Escaping follows what InfluxDB 1.x reads back (its parser is the reference the decoder is
//! checked against): `,`, spaces and `=` in names are escaped (`=` in measurements too, where
//! InfluxDB unescapes it); every other backslash is written as it is, since a backslash escapes
//! only those three. Line protocol cannot carry some things in a name, and they read back
//! changed (see [`name_as_read_back`]): newlines, carriage returns, tabs and form feeds are
//! written as `\n`, `\r`, `\t`, `\f` (two characters), a measurement starting with `#` as
//! `\#`, and a backslash at the end of a name as U+FF3C. String field values are quoted with `"` and `\` escaped (raw newlines stay
//! inside the quotes, as InfluxDB allows). Integers carry `i`, unsigned integers `u`. Floats are
//! written as the shortest text that reads back as the same `f64` (`84`, `3.25`, `1e+30`).
//! Points are validated at construction, so encoding cannot fail.

use crate::records::FieldRef;
use crate::Point;

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Bytes of `w` that are zero get their high bit set (and maybe bytes above a zero one, so the
/// result only answers "is there any").
#[inline(always)]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(LO) & !w & HI
}

/// Some byte of `w` is `,`, `=`, `\`, a space or a control byte (which covers `\n`, `\r`, `\t`
/// and form feed). A superset of what [`escape_into`] escapes: the slow path decides exactly.
#[inline(always)]
fn name_special(w: u64) -> u64 {
    // Bytes below 0x21: the same borrow trick as `zero_bytes`; `!w` drops bytes >= 0x80.
    let low = w.wrapping_sub(LO * 0x21) & !w & HI;
    low | zero_bytes(w ^ (LO * u64::from(b',')))
        | zero_bytes(w ^ (LO * u64::from(b'=')))
        | zero_bytes(w ^ (LO * u64::from(b'\\')))
}

/// Some byte of `w` is `"` or `\`.
#[inline(always)]
fn text_special(w: u64) -> u64 {
    zero_bytes(w ^ (LO * u64::from(b'"'))) | zero_bytes(w ^ (LO * u64::from(b'\\')))
}

/// Whether `special` finds nothing in `s`, eight bytes at a time. Short tails are read as
/// overlapping words, or padded with `a`, which neither test flags.
#[inline(always)]
fn none_special(s: &[u8], special: impl Fn(u64) -> u64) -> bool {
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        u64::from_le_bytes(w)
    };
    let half = |b: &[u8]| {
        let mut w = [0u8; 4];
        w.copy_from_slice(b);
        u64::from(u32::from_le_bytes(w))
    };
    let n = s.len();
    if n >= 8 {
        let mut hits = 0;
        let mut chunks = s.chunks_exact(8);
        for c in &mut chunks {
            hits |= special(word(c));
        }
        if !chunks.remainder().is_empty() {
            hits |= special(word(&s[n - 8..]));
        }
        hits == 0
    } else if n >= 4 {
        special(half(&s[..4]) | (half(&s[n - 4..]) << 32)) == 0
    } else if n > 0 {
        let w = u64::from(s[0]) | (u64::from(s[n / 2]) << 8) | (u64::from(s[n - 1]) << 16);
        special(w | ((LO * u64::from(b'a')) << 24)) == 0
    } else {
        true
    }
}

/// Which part of a line a name is: InfluxDB 1.x reads them by slightly different rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamePart {
    Measurement,
    /// Tag keys and values.
    Tag,
    /// Field keys, which InfluxDB scans in pairs: a backslash takes the byte after it.
    FieldKey,
}

#[inline(always)]
pub(crate) fn escape_into(out: &mut String, s: &str, kind: NamePart) {
    // Fast path: most names need no escaping at all.
    if none_special(s.as_bytes(), name_special) && !s.starts_with('#') {
        out.push_str(s);
    } else {
        escape_slow(out, s, kind);
    }
}

#[cold]
#[inline(never)]
fn escape_slow(out: &mut String, s: &str, kind: NamePart) {
    let mut chars = s.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        match c {
            ',' => out.push_str("\\,"),
            ' ' => out.push_str("\\ "),
            // InfluxDB reads `\=` as `=` in a measurement too, where `=` is no delimiter: always
            // escaped, a backslash before it cannot pair with it.
            '=' => out.push_str("\\="),
            // Line protocol has no escape for these (InfluxDB 1.x keeps `\n` as two bytes): they
            // are written as the two characters, which is what a reader gets back.
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{c}' => out.push_str("\\f"),
            // A line starting with `#` is a comment; InfluxDB reads `\#` as those two bytes.
            '#' if first && kind == NamePart::Measurement => out.push_str("\\#"),
            // A backslash at the end would escape the delimiter after the name, and in a field
            // key one before an escaped byte would pair with its backslash: line protocol has
            // no way to write either, so it becomes a fullwidth reverse solidus.
            '\\' if next.is_none() => out.push(TRAILING_BACKSLASH),
            '\\' if kind == NamePart::FieldKey => match next {
                Some(',' | ' ' | '=' | '\n' | '\r' | '\t' | '\u{c}') => {
                    out.push(TRAILING_BACKSLASH)
                }
                // Two backslashes are a pair, kept as they are; at the end of the key the second
                // would stand right before `=`, which InfluxDB refuses.
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                    if chars.peek().is_none() {
                        out.push(TRAILING_BACKSLASH);
                    } else {
                        out.push('\\');
                    }
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
        first = false;
    }
}

/// `p` as it reads back from its line: its names through [`name_as_read_back`].
pub fn point_as_read_back(p: &Point) -> Point {
    let tag = |s: &str| name_as_read_back(s, NamePart::Tag);
    Point::new(
        name_as_read_back(p.measurement(), NamePart::Measurement),
        p.tags().iter().map(|(k, v)| (tag(k), tag(v))).collect(),
        p.fields()
            .iter()
            .map(|(k, v)| (name_as_read_back(k.as_str(), NamePart::FieldKey), v.clone()))
            .collect(),
        p.timestamp_ns(),
        p.category(),
    )
    .expect("names read back stay valid names")
}

/// What a backslash at the end of a name is written as (U+FF3C).
pub const TRAILING_BACKSLASH: char = '\u{ff3c}';

/// What a name reads back as after [`escape_into`]: the same but for the few things line
/// protocol cannot carry in a name (control characters written as two characters, a leading
/// `#` of a measurement as `\#`, a trailing backslash as [`TRAILING_BACKSLASH`]).
pub fn name_as_read_back(s: &str, kind: NamePart) -> String {
    let mut out = String::new();
    escape_slow(&mut out, s, kind);
    let mut back = String::new();
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('\\', Some(d @ (',' | ' ' | '='))) => {
                back.push(d);
                chars.next();
            }
            // A field key's backslash takes the character after it.
            ('\\', Some(d)) if kind == NamePart::FieldKey => {
                back.push('\\');
                back.push(d);
                chars.next();
            }
            _ => back.push(c),
        }
    }
    back
}

/// The integer nearest to `y`, if `|y| < 2^50` and `y` is within `|y| * 2^-51` of it.
///
/// If a decimal `n / 10^k` reads back as a float `x` (`|x - n / 10^k|` at most half the gap
/// between floats near `x`, which is at most `|x| * 2^-53`), then `y = x * 10^k` rounded to a
/// float is within `|y| * 2^-52` of `n`, so this finds `n` (it is below 1/2 away). Most floats
/// that are not short decimals fail the test, so [`write_float`] rarely needs to divide.
#[inline(always)]
fn near_integer(y: f64) -> Option<i64> {
    const MAX: f64 = (1u64 << 50) as f64;
    const NEAR: f64 = 1.0 / (1u64 << 51) as f64;
    if y.abs() < MAX {
        let n = (y + 0.5f64.copysign(y)) as i64;
        // Exact: `n` and `y` are within a factor of two (or `n` is 0).
        ((n as f64 - y).abs() <= y.abs() * NEAR).then_some(n)
    } else {
        None
    }
}

/// A finite float as the shortest text that reads back as the same `f64` (zmij, as ryu):
/// `1.5`, `-0.001`, `1e-7`, `1.7976931348623157e+308`, and integral values without `.0`
/// (`2`, `-0`), which line protocol still reads as floats since they carry no `i` or `u`.
#[inline]
fn write_float(out: &mut String, ints: &mut itoa::Buffer, x: f64) {
    // Fast paths, common in metrics: integral values (`84`), and decimals with at most three
    // digits after the point (`12.5`, `3.25`, `0.125`), written with itoa. For `x * 10^k`
    // below 2^50, at most one decimal with k digits after the point reads back as `x` (the
    // floats there are less than 10^-k / 4 apart), and `near_integer` finds it. The correctly
    // rounded division `n / 10^k` is what a parser reads from that text, so comparing its bits
    // with `x` checks it (and leaves `-0` to zmij). Trying k = 0, 1, 2, 3 in order gives the
    // fewest digits, without trailing zeros: the text zmij writes. `x * 1000` being near an
    // integer is needed for any of k = 1, 2, 3, so other floats skip those tries.
    if let Some(n) = near_integer(x) {
        if (n as f64).to_bits() == x.to_bits() {
            out.push_str(ints.format(n));
            return;
        }
    }
    if near_integer(x * 1000.0).is_some() {
        for (k, p) in [(1, 10.0), (2, 100.0), (3, 1000.0)] {
            if let Some(n) = near_integer(x * p) {
                if (n as f64 / p).to_bits() == x.to_bits() {
                    write_decimal(out, ints, n, k);
                    return;
                }
            }
        }
    }
    let mut buf = zmij::Buffer::new();
    // `format`, not `format_finite`: points cannot hold NaN or infinities, but if one did it
    // would read `NaN` or `inf` as before, not an arbitrary number.
    let s = buf.format(x);
    // zmij writes integral values in fixed notation as `123.0` (and -0.0 as `-0.0`); no other
    // output ends in `.0`. Integral values below 2^50 took the first path, and other floats
    // below it have a shortest text that is not an integer, so only look for `.0` (a read
    // that stalls on the bytes zmij has just written) where it can be.
    if x == 0.0 || x.abs() >= (1u64 << 50) as f64 {
        out.push_str(s.strip_suffix(".0").unwrap_or(s));
    } else {
        out.push_str(s);
    }
}

/// `n / 10^k` in fixed notation, for `k` from 1 to 3.
#[inline]
fn write_decimal(out: &mut String, ints: &mut itoa::Buffer, n: i64, k: usize) {
    if n < 0 {
        out.push('-');
    }
    let digits = ints.format(n.unsigned_abs());
    match digits.len().checked_sub(k) {
        Some(int @ 1..) => {
            let (int, frac) = digits.split_at(int);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        }
        // |x| < 1: `0.` and the zeros that lead the fraction.
        _ => {
            out.push_str(["0.", "0.0", "0.00"][k - digits.len()]);
            out.push_str(digits);
        }
    }
}

/// A string field value: quoted, with `"` and `\` escaped.
#[inline]
fn write_text(out: &mut String, s: &str) {
    out.push('"');
    if none_special(s.as_bytes(), text_special) {
        out.push_str(s);
    } else {
        // Copy the runs between `"` and `\` whole: both are ASCII, so every cut is on a
        // character boundary.
        out.reserve(s.len() + 8);
        let mut from = 0;
        for at in memchr::memchr2_iter(b'"', b'\\', s.as_bytes()) {
            out.push_str(&s[from..at]);
            out.push('\\');
            from = at;
        }
        out.push_str(&s[from..]);
    }
    out.push('"');
}

/// A field's value as line protocol; with `uint_support` false, unsigned values are written as
/// integers (clamped to i64::MAX).
#[inline]
pub(crate) fn write_value(
    out: &mut String,
    ints: &mut itoa::Buffer,
    v: FieldRef<'_>,
    uint_support: bool,
) {
    match v {
        FieldRef::Int(x) => {
            out.push_str(ints.format(x));
            out.push('i');
        }
        FieldRef::Uint(x) if uint_support => {
            out.push_str(ints.format(x));
            out.push('u');
        }
        FieldRef::Uint(x) => {
            out.push_str(ints.format(i64::try_from(x).unwrap_or(i64::MAX)));
            out.push('i');
        }
        FieldRef::Float(x) => write_float(out, ints, x),
        FieldRef::Bool(x) => out.push_str(if x { "true" } else { "false" }),
        FieldRef::Text(s) => write_text(out, s),
    }
}

/// Append one point as a line (with its trailing newline) to `out`.
pub fn encode_point(out: &mut String, p: &Point) {
    encode_point_with(out, p, true);
}

/// As [`encode_point`]; with `uint_support` false, unsigned fields are written as integers
/// (clamped to i64::MAX), for InfluxDB 1.x which refuses the `u` suffix (Telegraf's
/// `influx_uint_support = false`).
pub fn encode_point_with(out: &mut String, p: &Point, uint_support: bool) {
    let mut ints = itoa::Buffer::new();
    escape_into(out, p.measurement(), NamePart::Measurement);
    for (k, v) in p.tags() {
        if v.is_empty() {
            // InfluxDB refuses empty tag values; an empty tag carries no information.
            continue;
        }
        out.push(',');
        escape_into(out, k, NamePart::Tag);
        out.push('=');
        escape_into(out, v, NamePart::Tag);
    }
    let mut sep = ' ';
    for (k, v) in p.fields() {
        out.push(sep);
        sep = ',';
        escape_into(out, k, NamePart::FieldKey);
        out.push('=');
        write_value(out, &mut ints, FieldRef::from(v), uint_support);
    }
    out.push(' ');
    out.push_str(ints.format(p.timestamp_ns()));
    out.push('\n');
}

/// Encode points as line protocol, one line each.
pub fn encode_points(points: &[Point]) -> String {
    encode_points_with(points, true)
}

/// As [`encode_points`], with the `uint_support` choice of [`encode_point_with`].
pub fn encode_points_with(points: &[Point], uint_support: bool) -> String {
    // Size the buffer from the first few lines, so a large batch is not copied as it grows.
    // The guess per line is capped: one huge line in the sample must not reserve gigabytes.
    const SAMPLE: usize = 8;
    const MAX_GUESS: usize = 4096;
    let (head, rest) = points.split_at(points.len().min(SAMPLE));
    let mut out = String::with_capacity(head.len() * 160);
    for p in head {
        encode_point_with(&mut out, p, uint_support);
    }
    if !rest.is_empty() {
        let per_line = (out.len() / head.len()).min(MAX_GUESS);
        out.reserve(rest.len().saturating_mul(per_line + per_line / 8));
    }
    for p in rest {
        encode_point_with(&mut out, p, uint_support);
    }
    out
}

#[cfg(test)]
mod tests;
