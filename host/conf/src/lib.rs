//! Config primitives every crate parses the same way: durations ("10s", "250ms"), sizes
//! ("64MiB"), and TOML errors as one line with their position. The agent's config, the plugins'
//! configs, file tasks, the HTTP server and the election all take them from here, so a value
//! means the same and a mistake reads the same wherever it is written.

use serde::Deserialize;
use std::time::Duration;

/// Parse a duration written as text: "10s", "250ms", "1m 30s".
///
/// # Errors
/// A message naming the text, with an example of what is understood.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration ({e}); write e.g. \"10s\" or \"250ms\""))
}

/// A duration as it is shown back: "1m 30s".
pub fn format_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// A duration written as text: "10s", "250ms", "1m 30s".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s)
            .map(HumanDuration)
            .map_err(serde::de::Error::custom)
    }
}

/// A size in bytes written as an integer or as text: "64MiB", "512KiB", "1GiB", "10MB".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parse "64MiB" and friends.
    ///
    /// # Errors
    /// When the number or the unit is not understood.
    pub fn parse(s: &str) -> Result<u64, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a size; write e.g. \"64MiB\""))?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "KB" | "kB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            u => {
                return Err(format!(
                    "{s:?}: unknown unit {u:?}; use B, KiB, MiB, GiB, KB, MB or GB"
                ))
            }
        };
        n.checked_mul(mult)
            .ok_or_else(|| format!("{s:?} is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => ByteSize::parse(&s)
                .map(ByteSize)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// A toml error as one line with its position: `line 3, column 1: unknown field ...`.
pub fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => at_span(text, span, &msg),
        None => msg,
    }
}

/// `msg` with the position of `span` in `text` and the line it is on: `line 3, column 1: msg
/// (at `the line`)`, for errors found after parsing, in a value kept with its span
/// (`toml::Spanned`).
pub fn at_span(text: &str, span: std::ops::Range<usize>, msg: &str) -> String {
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.len() - line_start + 1;
    // The line itself names the key: `memory = "lots"`.
    let text_of_line: String = text[line_start..]
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .chars()
        .take(80)
        .collect();
    if text_of_line.is_empty() {
        format!("line {line}, column {column}: {msg}")
    } else {
        format!("line {line}, column {column}: {msg} (at `{text_of_line}`)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse_or_say_why() {
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        let e = parse_duration("soon").unwrap_err();
        assert!(
            e.contains("\"soon\" is not a duration") && e.contains("\"10s\""),
            "{e}"
        );
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s 500ms");
        assert_eq!(ByteSize::parse("64MiB"), Ok(64 << 20));
        assert_eq!(ByteSize::parse("10MB"), Ok(10_000_000));
        assert!(ByteSize::parse("3 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(ByteSize::parse("99999999999GiB")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn toml_errors_name_the_line_and_the_key() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct C {
            d: HumanDuration,
        }
        let text = "\nd = \"lots\"\n";
        let e = toml::from_str::<C>(text).unwrap_err();
        let m = toml_message(text, &e);
        assert!(m.starts_with("line 2, column 5:"), "{m}");
        assert!(
            m.contains("is not a duration") && m.contains("(at `d = \"lots\"`)"),
            "{m}"
        );
    }
}
