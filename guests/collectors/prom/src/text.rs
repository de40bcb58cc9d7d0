//! The Prometheus text exposition format (version 0.0.4), and the parts of OpenMetrics text that
//! share its syntax (`# EOF`, exemplars after ` # `, `_total`/`_created` suffixes).
//!
//! A sample line: `name{label="value",...} value [timestamp]`. Label values escape `\\`,
//! `\"` and `\n`. Values follow Go's `ParseFloat` (`NaN`, `+Inf`, `-Inf`, any case). The
//! timestamp is integer milliseconds in the Prometheus format and (possibly fractional) seconds
//! in OpenMetrics.

use std::borrow::Cow;
use std::collections::HashMap;

/// One sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    pub name: &'a str,
    /// In the order written; empty values are kept (the caller drops them, as Prometheus does).
    pub labels: Vec<(&'a str, Cow<'a, str>)>,
    pub value: f64,
    /// Nanoseconds since the Unix epoch, when the line has a timestamp.
    pub timestamp_ns: Option<i64>,
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
/// one, and how many lines could not be parsed (with the first of them).
#[derive(Debug, Default)]
pub struct Exposition<'a> {
    pub samples: Vec<Sample<'a>>,
    pub types: HashMap<&'a str, &'a str>,
    pub bad_lines: usize,
    pub first_error: Option<LineError>,
}

/// Which text format a body is in, from its `content-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Prometheus,
    OpenMetrics,
}

impl Format {
    pub fn of_content_type(content_type: &str) -> Self {
        if content_type
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("application/openmetrics-text")
        {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }
}

impl<'a> Exposition<'a> {
    /// The declared type of the family `name` belongs to ("counter", "gauge", "histogram",
    /// "summary", ...), or "untyped". A histogram's `x_bucket`, `x_sum`, `x_count`, a
    /// summary's `x_sum` and `x_count`, and OpenMetrics' `x_total` and `x_created` of a counter
    /// belong to `x`.
    pub fn type_of(&self, name: &str) -> &'a str {
        if let Some(t) = self.types.get(name) {
            return t;
        }
        const SUFFIXES: [(&str, &[&str]); 7] = [
            ("_bucket", &["histogram", "gaugehistogram"]),
            ("_sum", &["histogram", "summary"]),
            ("_count", &["histogram", "summary"]),
            ("_gcount", &["gaugehistogram"]),
            ("_gsum", &["gaugehistogram"]),
            ("_total", &["counter"]),
            ("_created", &["counter", "histogram", "summary"]),
        ];
        for (suffix, kinds) in SUFFIXES {
            if let Some(family) = name.strip_suffix(suffix) {
                if let Some(t) = self.types.get(family).filter(|t| kinds.contains(t)) {
                    return t;
                }
            }
        }
        "untyped"
    }
}

/// Parses a whole exposition. A bad line is counted and skipped; the others are kept.
pub fn parse(text: &str, format: Format) -> Exposition<'_> {
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
                    // The first declaration holds (a second one is an exporter bug).
                    out.types.entry(name).or_insert(kind);
                }
            }
            continue;
        }
        match sample(trimmed, format) {
            Ok(s) => out.samples.push(s),
            Err(message) => {
                out.bad_lines += 1;
                if out.first_error.is_none() {
                    out.first_error = Some(LineError {
                        line: i + 1,
                        message,
                    });
                }
            }
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

fn sample(line: &str, format: Format) -> Result<Sample<'_>, String> {
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
    let timestamp_ns = match words.next() {
        None => None,
        Some(w) => Some(timestamp(w, format).ok_or_else(|| match format {
            Format::Prometheus => format!("{name}: timestamp {w:?} is not integer milliseconds"),
            Format::OpenMetrics => format!("{name}: timestamp {w:?} is not seconds"),
        })?),
    };
    if let Some(w) = words.next() {
        return Err(format!("{name}: unexpected {w:?} after the value"));
    }
    Ok(Sample {
        name,
        labels,
        value,
        timestamp_ns,
    })
}

/// A timestamp in nanoseconds: integer milliseconds (Prometheus) or seconds (OpenMetrics).
fn timestamp(w: &str, format: Format) -> Option<i64> {
    match format {
        Format::Prometheus => w.parse::<i64>().ok()?.checked_mul(1_000_000),
        Format::OpenMetrics => {
            let secs = float(w).filter(|s| s.is_finite())?;
            let ns = secs * 1e9;
            (ns.abs() < 9.2e18).then_some(ns as i64)
        }
    }
}

/// Parses `label="value",...}` and returns what follows the `}`.
fn label_set<'a>(
    mut s: &'a str,
    labels: &mut Vec<(&'a str, Cow<'a, str>)>,
) -> Result<&'a str, String> {
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
        let (value, rest) = quoted(s).map_err(|e| format!("label {name}: {e}"))?;
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

/// The unescaped text up to the closing quote (borrowed when it has no escape), and what
/// follows it.
fn quoted(s: &str) -> Result<(Cow<'_, str>, &str), String> {
    let end = s
        .bytes()
        .position(|b| b == b'"' || b == b'\\')
        .ok_or("unterminated value")?;
    if s.as_bytes()[end] == b'"' {
        return Ok((Cow::Borrowed(&s[..end]), &s[end + 1..]));
    }
    let mut out = String::from(&s[..end]);
    let mut chars = s[end..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((Cow::Owned(out), &s[end + i + 1..])),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some(other) => return Err(format!("invalid escape \\{other}")),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("unterminated value".into())
}

/// Go's `ParseFloat` on what exporters write.
fn float(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if unsigned.eq_ignore_ascii_case("nan") {
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
# HELP odd A help text with "quotes", \\ and a # sign.
odd{path="C:\\dir\"x\"\nend",empty=""} -Inf 1700000000000
"#;

    fn prom(text: &str) -> Exposition<'_> {
        parse(text, Format::Prometheus)
    }

    #[test]
    fn samples_labels_and_types() {
        let e = prom(NODE);
        assert_eq!(e.bad_lines, 0, "{:?}", e.first_error);
        assert_eq!(e.samples.len(), 10);
        assert_eq!(
            e.samples[0],
            Sample {
                name: "node_load1",
                labels: vec![],
                value: 0.21,
                timestamp_ns: None
            }
        );
        let cpu = &e.samples[1];
        assert_eq!(cpu.name, "node_cpu_seconds_total");
        assert_eq!(
            cpu.labels,
            vec![("cpu", "0".into()), ("mode", "idle".into())]
        );
        assert!(
            matches!(cpu.labels[0].1, Cow::Borrowed(_)),
            "no copy without escapes"
        );
        assert_eq!(cpu.value, 3.14e6);
        assert_eq!(e.samples[4].labels, vec![("le", "+Inf".into())]);
        assert!(e.samples[7].value.is_nan());
        let odd = &e.samples[9];
        assert_eq!(odd.labels[0].1, "C:\\dir\"x\"\nend");
        assert_eq!(odd.labels[1], ("empty", "".into()));
        assert_eq!(odd.value, f64::NEG_INFINITY);
        assert_eq!(odd.timestamp_ns, Some(1_700_000_000_000_000_000));

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
        assert_eq!(
            e.type_of("rpc_duration_seconds_bucket"),
            "untyped",
            "not a histogram"
        );
        assert_eq!(e.type_of("node_load1_total"), "untyped", "not a counter");
        assert_eq!(e.type_of("odd"), "untyped");
    }

    #[test]
    fn the_first_type_declaration_holds() {
        let e = prom("# TYPE x gauge\n# TYPE x counter\nx 1\n");
        assert_eq!(e.type_of("x"), "gauge");
    }

    #[test]
    fn openmetrics_exemplars_eof_crlf_and_second_timestamps() {
        let text = "# TYPE foo counter\r\nfoo_total{a=\"b\"} 17.0 1520879607.789 # {trace_id=\"x\"} 1.0 1520879607.789\r\nfoo_created 1.5e9\n# EOF\n";
        let e = parse(text, Format::OpenMetrics);
        assert_eq!(e.bad_lines, 0, "{:?}", e.first_error);
        assert_eq!(e.samples.len(), 2);
        assert_eq!(e.samples[0].value, 17.0);
        let ns = e.samples[0].timestamp_ns.unwrap();
        assert!((ns - 1_520_879_607_789_000_000).abs() < 1_000, "{ns}");
        assert_eq!(e.type_of("foo_total"), "counter");
        assert_eq!(e.type_of("foo_created"), "counter");
        // The same line in the Prometheus format: a fractional timestamp is an error.
        assert_eq!(prom(text).bad_lines, 1);
        assert_eq!(
            Format::of_content_type("application/openmetrics-text; version=1.0.0"),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::of_content_type("text/plain; version=0.0.4"),
            Format::Prometheus
        );
    }

    #[test]
    fn whitespace_and_trailing_commas() {
        let e = prom("  spaced { a = \"1\" , b=\"2\", } \t 5  123\n");
        assert_eq!(e.bad_lines, 0, "{:?}", e.first_error);
        let s = &e.samples[0];
        assert_eq!(s.name, "spaced");
        assert_eq!(s.labels.len(), 2);
        assert_eq!(s.value, 5.0);
        assert_eq!(s.timestamp_ns, Some(123_000_000));
    }

    #[test]
    fn each_bad_line_says_what_is_wrong() {
        let cases = [
            ("9bad 1", "no metric name at the start of \"9bad 1\""),
            ("novalue", "novalue: no value"),
            ("x{a=\"1\" 2", "expected ',' or '}'"),
            ("x{a=1} 2", "not quoted"),
            ("x{a=\"1\",a=\"2\"} 3", "appears twice"),
            ("x{a=\"open} 1", "unterminated"),
            ("x{a=\"tab\\t\"} 1", "invalid escape \\t"),
            ("x one", "\"one\" is not a number"),
            ("x +-Inf", "\"+-Inf\" is not a number"),
            ("x 1 1.5", "not integer milliseconds"),
            ("x 1 2 3", "unexpected \"3\""),
        ];
        for (line, want) in cases {
            let e = prom(line);
            assert_eq!(e.bad_lines, 1, "{line}");
            let got = e.first_error.unwrap().to_string();
            assert!(
                got.starts_with("line 1: ") && got.contains(want),
                "{line}: {got}"
            );
        }
        // Bad lines are counted, the first is kept, good ones around them survive.
        let e = prom("good 1\nbad line\nx{\ngood2 2\n");
        assert_eq!(e.samples.len(), 2);
        assert_eq!(e.bad_lines, 2);
        assert_eq!(e.first_error.unwrap().line, 2);
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
        assert_eq!(float("--inf"), None);
    }
}
