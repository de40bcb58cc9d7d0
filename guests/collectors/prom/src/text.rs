//! The Prometheus text exposition format (version 0.0.4), and the parts of OpenMetrics text that
//! share its syntax (`# EOF`, exemplars after ` # `, `_total`/`_created` suffixes).
//!
//! A sample line: `name{label="value",...} value [timestamp_ms]`. Label values escape `\\`,
//! `\"` and `\n`. Values follow Go's `ParseFloat` (`NaN`, `+Inf`, `-Inf`, any case).

use std::collections::HashMap;

/// One sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    pub name: &'a str,
    /// In the order written; empty values are kept (the caller drops them, as Prometheus does).
    pub labels: Vec<(&'a str, String)>,
    pub value: f64,
    /// Milliseconds since the Unix epoch, when the line has one.
    pub timestamp_ms: Option<i64>,
}

/// A line that is not valid, with its number (from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The parsed exposition: the samples of the valid lines, the type of each family that declares
/// one, and the lines that could not be parsed.
#[derive(Debug, Default)]
pub struct Exposition<'a> {
    pub samples: Vec<Sample<'a>>,
    pub types: HashMap<&'a str, &'a str>,
    pub errors: Vec<LineError>,
}

impl<'a> Exposition<'a> {
    /// The declared type of the family `name` belongs to ("counter", "gauge", "histogram",
    /// "summary", ...), or "untyped". `x_bucket`, `x_sum`, `x_count` belong to `x`, and so do
    /// OpenMetrics' `x_total` and `x_created`.
    pub fn type_of(&self, name: &str) -> &'a str {
        if let Some(t) = self.types.get(name) {
            return t;
        }
        for suffix in [
            "_bucket", "_sum", "_count", "_total", "_created", "_gcount", "_gsum",
        ] {
            if let Some(family) = name.strip_suffix(suffix) {
                if let Some(t) = self.types.get(family) {
                    return t;
                }
            }
        }
        "untyped"
    }
}

/// Parses a whole exposition. A bad line is reported in `errors` and skipped; the others are
/// kept.
pub fn parse(text: &str) -> Exposition<'_> {
    let mut out = Exposition::default();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() {
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            let mut words = comment.split_ascii_whitespace();
            if words.next() == Some("TYPE") {
                if let (Some(name), Some(kind)) = (words.next(), words.next()) {
                    out.types.insert(name, kind);
                }
            }
            continue;
        }
        match sample(trimmed) {
            Ok(s) => out.samples.push(s),
            Err(message) => out.errors.push(LineError {
                line: i + 1,
                message,
            }),
        }
    }
    out
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

fn is_name_byte(b: u8) -> bool {
    is_name_start(b) || b.is_ascii_digit()
}

/// The name at the start of `s` (metric names may hold `:`, label names may not).
fn name_at(s: &str, colon: bool) -> &str {
    let b = s.as_bytes();
    let ok = |c: u8| is_name_byte(c) && (colon || c != b':');
    if b.first().is_none_or(|&c| !ok(c) || c.is_ascii_digit()) {
        return "";
    }
    let end = b.iter().position(|&c| !ok(c)).unwrap_or(b.len());
    &s[..end]
}

fn sample(line: &str) -> Result<Sample<'_>, String> {
    let name = name_at(line, true);
    if name.is_empty() {
        return Err(format!("no metric name at the start of {:?}", cut(line)));
    }
    let mut rest = &line[name.len()..];
    let mut labels = Vec::new();
    if let Some(after) = rest.trim_start_matches([' ', '\t']).strip_prefix('{') {
        rest = label_set(after, &mut labels).map_err(|e| format!("{name}: {e}"))?;
    }
    // An OpenMetrics exemplar (` # {labels} value [ts]`) follows the sample: not kept.
    let rest = rest.split_once('#').map_or(rest, |(sample, _)| sample);
    let mut words = rest.split_ascii_whitespace();
    let value = words
        .next()
        .ok_or_else(|| format!("{name}: no value"))
        .and_then(|v| float(v).ok_or_else(|| format!("{name}: value {v:?} is not a number")))?;
    let timestamp_ms = match words.next() {
        None => None,
        Some(w) => Some(
            w.parse::<i64>()
                .map_err(|_| format!("{name}: timestamp {w:?} is not an integer"))?,
        ),
    };
    if let Some(w) = words.next() {
        return Err(format!("{name}: unexpected {w:?} after the value"));
    }
    Ok(Sample {
        name,
        labels,
        value,
        timestamp_ms,
    })
}

/// Parses `label="value",...}` and returns what follows the `}`.
fn label_set<'a>(mut s: &'a str, labels: &mut Vec<(&'a str, String)>) -> Result<&'a str, String> {
    loop {
        s = s.trim_start_matches([' ', '\t']);
        if let Some(rest) = s.strip_prefix('}') {
            return Ok(rest);
        }
        let name = name_at(s, false);
        if name.is_empty() {
            return Err(format!("bad label name at {:?}", cut(s)));
        }
        s = s[name.len()..].trim_start_matches([' ', '\t']);
        s = s
            .strip_prefix('=')
            .ok_or_else(|| format!("label {name}: no '=' after the name"))?
            .trim_start_matches([' ', '\t']);
        s = s
            .strip_prefix('"')
            .ok_or_else(|| format!("label {name}: the value is not quoted"))?;
        let (value, rest) = quoted(s).ok_or_else(|| format!("label {name}: unterminated value"))?;
        if labels.iter().any(|(k, _)| *k == name) {
            return Err(format!("label {name} appears twice"));
        }
        labels.push((name, value));
        s = rest.trim_start_matches([' ', '\t']);
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        } else if !s.starts_with('}') {
            return Err(format!(
                "label {name}: expected ',' or '}}' after the value"
            ));
        }
    }
}

/// The unescaped text up to the closing quote, and what follows it.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            },
            c => out.push(c),
        }
    }
    None
}

/// Go's `ParseFloat` on what exporters write.
fn float(s: &str) -> Option<f64> {
    let unsigned = s.trim_start_matches(['+', '-']);
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if s.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    if s.bytes()
        .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
    {
        return None;
    }
    s.parse().ok()
}

/// The start of `s`, for error messages.
fn cut(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: &str = r#"# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.21
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 3.14e+06
node_cpu_seconds_total{cpu="0",mode="user"} 1234.5
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.1"} 10
http_request_duration_seconds_bucket{le="+Inf"} 12
http_request_duration_seconds_sum 3.5
http_request_duration_seconds_count 12
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5"} NaN
rpc_duration_seconds_count 0
odd{path="C:\\dir\"x\"\nend",empty=""} -Inf 1700000000000
"#;

    #[test]
    fn samples_labels_and_types() {
        let e = parse(NODE);
        assert!(e.errors.is_empty(), "{:?}", e.errors);
        assert_eq!(e.samples.len(), 10);
        assert_eq!(
            e.samples[0],
            Sample {
                name: "node_load1",
                labels: vec![],
                value: 0.21,
                timestamp_ms: None
            }
        );
        let cpu = &e.samples[1];
        assert_eq!(cpu.name, "node_cpu_seconds_total");
        assert_eq!(
            cpu.labels,
            vec![("cpu", "0".to_string()), ("mode", "idle".to_string())]
        );
        assert_eq!(cpu.value, 3.14e6);
        assert_eq!(e.samples[4].labels, vec![("le", "+Inf".to_string())]);
        assert!(e.samples[7].value.is_nan());
        let odd = &e.samples[9];
        assert_eq!(odd.labels[0].1, "C:\\dir\"x\"\nend");
        assert_eq!(odd.labels[1], ("empty", String::new()));
        assert_eq!(odd.value, f64::NEG_INFINITY);
        assert_eq!(odd.timestamp_ms, Some(1_700_000_000_000));

        assert_eq!(e.type_of("node_load1"), "gauge");
        assert_eq!(e.type_of("node_cpu_seconds_total"), "counter");
        assert_eq!(
            e.type_of("http_request_duration_seconds_bucket"),
            "histogram"
        );
        assert_eq!(
            e.type_of("http_request_duration_seconds_count"),
            "histogram"
        );
        assert_eq!(e.type_of("rpc_duration_seconds"), "summary");
        assert_eq!(e.type_of("odd"), "untyped");
    }

    #[test]
    fn openmetrics_exemplars_eof_and_crlf() {
        let text = "# TYPE foo counter\r\nfoo_total{a=\"b\"} 17.0 # {trace_id=\"x\"} 1.0 1520879607.789\r\nfoo_created 1.5e9\n# EOF\n";
        let e = parse(text);
        assert!(e.errors.is_empty(), "{:?}", e.errors);
        assert_eq!(e.samples.len(), 2);
        assert_eq!(e.samples[0].value, 17.0);
        assert_eq!(e.samples[0].timestamp_ms, None);
        assert_eq!(e.type_of("foo_total"), "counter");
        assert_eq!(e.type_of("foo_created"), "counter");
    }

    #[test]
    fn whitespace_and_trailing_commas() {
        let e = parse("  spaced { a = \"1\" , b=\"2\", } \t 5  123\n");
        assert!(e.errors.is_empty(), "{:?}", e.errors);
        let s = &e.samples[0];
        assert_eq!(s.name, "spaced");
        assert_eq!(s.labels.len(), 2);
        assert_eq!(s.value, 5.0);
        assert_eq!(s.timestamp_ms, Some(123));
    }

    #[test]
    fn bad_lines_are_reported_by_number_and_skipped() {
        let text = "good 1\n9bad 1\nnovalue\nx{a=\"1\" 2\nx{a=1} 2\nx{a=\"1\",a=\"2\"} 3\nx{a=\"open} 1\nx one\nx 1 1.5\nx 1 2 3\ngood2 2\n";
        let e = parse(text);
        assert_eq!(e.samples.len(), 2, "{:?}", e.samples);
        let lines: Vec<usize> = e.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 7, 8, 9, 10]);
        let msg = |n: usize| e.errors[n].to_string();
        assert_eq!(msg(0), "line 2: no metric name at the start of \"9bad 1\"");
        assert_eq!(msg(1), "line 3: novalue: no value");
        assert!(msg(2).contains("expected ',' or '}'"), "{}", msg(2));
        assert!(msg(3).contains("not quoted"), "{}", msg(3));
        assert!(msg(4).contains("appears twice"), "{}", msg(4));
        assert!(msg(5).contains("unterminated"), "{}", msg(5));
        assert!(msg(6).contains("\"one\" is not a number"), "{}", msg(6));
        assert!(msg(7).contains("timestamp"), "{}", msg(7));
        assert!(msg(8).contains("unexpected"), "{}", msg(8));
    }

    #[test]
    fn go_floats() {
        assert_eq!(float("+Inf"), Some(f64::INFINITY));
        assert_eq!(float("-inf"), Some(f64::NEG_INFINITY));
        assert!(float("NaN").unwrap().is_nan());
        assert_eq!(float("1e3"), Some(1000.0));
        assert_eq!(float("-0.5"), Some(-0.5));
        assert_eq!(float("0x10"), None);
        assert_eq!(float("abc"), None);
    }
}
