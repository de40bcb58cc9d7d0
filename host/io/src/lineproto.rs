//! InfluxDB line protocol encoding.
//!
//! Escaping follows InfluxDB (and Telegraf's serializer): in measurements, commas and spaces are
//! escaped; in tag keys, tag values and field keys also `=`; newlines, carriage returns, tabs and
//! form feeds are written as `\n`, `\r`, `\t`, `\f` so names stay on one line. A backslash in a
//! name is written as it is, except where it would be read as an escape (see
//! `backslash_is_ambiguous`), and a measurement starting with `#` is written `\#` so the line is
//! not a comment. String field values are quoted with `"` and `\` escaped (raw newlines stay
//! inside the quotes, as InfluxDB allows). Integers carry `i`, unsigned integers `u`.
//! Points are validated at construction, so encoding cannot fail.

use crate::{FieldValue, Point};
use std::fmt::Write as _;

/// `eq` is false for measurements (which leave `=` alone) and true for keys and tag values.
fn escape_into(out: &mut String, s: &str, eq: bool) {
    // Fast path: most names need no escaping at all.
    let plain = !s.starts_with('#')
        && !s
            .bytes()
            .any(|b| matches!(b, b',' | b' ' | b'=' | b'\\' | b'\n' | b'\r' | b'\t' | 0x0c));
    if plain {
        out.push_str(s);
        return;
    }
    let mut chars = s.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        match c {
            ',' => out.push_str("\\,"),
            ' ' => out.push_str("\\ "),
            '=' if eq => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{c}' => out.push_str("\\f"),
            // A line starting with `#` is a comment.
            '#' if first && !eq => out.push_str("\\#"),
            '\\' if backslash_is_ambiguous(chars.peek().copied(), eq, first) => {
                out.push_str("\\\\")
            }
            c => out.push(c),
        }
        first = false;
    }
}

/// A backslash is written as it is unless a decoder would read it as the start of an escape:
/// before an escaped character, another backslash, `n`, `r`, `t`, `f` (or `#` at the start of
/// a measurement), and at the end, where the delimiter that follows would look escaped. There
/// it is written `\\`, which InfluxDB 2.x reads as one backslash.
fn backslash_is_ambiguous(next: Option<char>, eq: bool, first: bool) -> bool {
    match next {
        None => true,
        Some(',' | ' ' | '\\' | '\n' | '\r' | '\t' | '\u{c}' | 'n' | 'r' | 't' | 'f') => true,
        Some('=') => eq,
        Some('#') => first && !eq,
        Some(_) => false,
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
    escape_into(out, p.measurement(), false);
    for (k, v) in p.tags() {
        if v.is_empty() {
            // InfluxDB refuses empty tag values; an empty tag carries no information.
            continue;
        }
        out.push(',');
        escape_into(out, k, true);
        out.push('=');
        escape_into(out, v, true);
    }
    out.push(' ');
    for (i, (k, v)) in p.fields().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        escape_into(out, k, true);
        out.push('=');
        // Writing to a String cannot fail.
        let _ = match v {
            FieldValue::Int(x) => {
                out.push_str(itoa::Buffer::new().format(*x));
                out.push('i');
                Ok(())
            }
            FieldValue::Uint(x) if uint_support => {
                out.push_str(itoa::Buffer::new().format(*x));
                out.push('u');
                Ok(())
            }
            FieldValue::Uint(x) => {
                out.push_str(itoa::Buffer::new().format(i64::try_from(*x).unwrap_or(i64::MAX)));
                out.push('i');
                Ok(())
            }
            FieldValue::Float(x) => write!(out, "{x}"),
            FieldValue::Bool(x) => {
                out.push_str(if *x { "true" } else { "false" });
                Ok(())
            }
            FieldValue::Text(s) if !s.bytes().any(|b| b == b'"' || b == b'\\') => {
                out.push('"');
                out.push_str(s);
                out.push('"');
                Ok(())
            }
            FieldValue::Text(s) => {
                out.push('"');
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
                Ok(())
            }
        };
    }
    out.push(' ');
    out.push_str(itoa::Buffer::new().format(p.timestamp_ns()));
    out.push('\n');
}

/// Encode points as line protocol, one line each.
pub fn encode_points(points: &[Point]) -> String {
    encode_points_with(points, true)
}

/// As [`encode_points`], with the `uint_support` choice of [`encode_point_with`].
pub fn encode_points_with(points: &[Point], uint_support: bool) -> String {
    let mut out = String::with_capacity(points.len() * 96);
    for p in points {
        encode_point_with(&mut out, p, uint_support);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Category;

    fn point(m: &str, tags: &[(&str, &str)], fields: Vec<(&str, FieldValue)>) -> Point {
        Point::new(
            m.into(),
            tags.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            fields
                .into_iter()
                .map(|(a, b)| (a.to_string(), b))
                .collect(),
            1_700_000_000_000_000_000,
            Category::Metric,
        )
        .unwrap()
    }

    #[test]
    fn encodes_every_field_type() {
        let p = point(
            "cpu",
            &[("host", "a"), ("cpu", "cpu-total")],
            vec![
                ("i", FieldValue::Int(-3)),
                ("u", FieldValue::Uint(7)),
                ("f", FieldValue::Float(1.5)),
                ("whole", FieldValue::Float(2.0)),
                ("b", FieldValue::Bool(true)),
                ("s", FieldValue::Text("hi".into())),
            ],
        );
        assert_eq!(
            encode_points(&[p]),
            "cpu,cpu=cpu-total,host=a i=-3i,u=7u,f=1.5,whole=2,b=true,s=\"hi\" 1700000000000000000\n"
        );
    }

    #[test]
    fn escapes_like_influxdb() {
        let p = point(
            "my measure,x",
            &[("tag key", "v=1,2"), ("t", "a\nb")],
            vec![("field=k", FieldValue::Text("say \"hi\" \\ bye".into()))],
        );
        assert_eq!(
            encode_points(&[p]),
            "my\\ measure\\,x,t=a\\nb,tag\\ key=v\\=1\\,2 field\\=k=\"say \\\"hi\\\" \\\\ bye\" 1700000000000000000\n"
        );
    }

    #[test]
    fn backslashes_are_doubled_only_where_they_would_read_as_escapes() {
        // Regression: a name ending in `\`, or holding `\n` as text, or a measurement starting
        // with `#`, did not decode back to itself.
        let p = point(
            r"#m\",
            &[(r"C:\Users", r"C:\new\"), (r"k\", r"\,\=\\")],
            vec![(r"f\", FieldValue::Int(1))],
        );
        assert_eq!(
            encode_points(&[p]),
            concat!(
                r"\#m\\,C:\Users=C:\\new\\,k\\=\\\,\\\=\\\\ f\\=1i",
                " 1700000000000000000\n"
            )
        );
    }

    #[test]
    fn uints_become_ints_for_influxdb_1() {
        let p = point(
            "m",
            &[],
            vec![
                ("a", FieldValue::Uint(5)),
                ("b", FieldValue::Uint(u64::MAX)),
            ],
        );
        assert_eq!(
            encode_points_with(&[p], false),
            "m a=5i,b=9223372036854775807i 1700000000000000000\n"
        );
    }

    #[test]
    fn empty_tag_values_are_left_out() {
        let p = point(
            "m",
            &[("a", ""), ("b", "x")],
            vec![("f", FieldValue::Int(1))],
        );
        assert_eq!(encode_points(&[p]), "m,b=x f=1i 1700000000000000000\n");
    }

    #[test]
    fn floats_keep_precision() {
        let p = point(
            "m",
            &[],
            vec![
                ("f", FieldValue::Float(0.1 + 0.2)),
                ("g", FieldValue::Float(1e300)),
            ],
        );
        let line = encode_points(&[p]);
        let f: f64 = line.split(['=', ',']).nth(1).unwrap().parse().unwrap();
        assert_eq!(f, 0.1 + 0.2);
        let g: f64 = line
            .split(' ')
            .nth(1)
            .and_then(|f| f.split(',').find_map(|kv| kv.strip_prefix("g=")))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(g, 1e300, "{line}");
    }
}
