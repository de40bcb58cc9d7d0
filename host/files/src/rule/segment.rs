//! One path component of a rule, and the time tokens of InLong-style patterns.

use std::ffi::OsStr;
use std::path::{Component, Path};

use globset::{GlobBuilder, GlobMatcher};
use regex::{Regex, RegexBuilder};

use crate::error::FilesError;

/// The time tokens, in the order they are tried at each position: (token, capture group).
const TOKENS: [(&str, &str); 5] = [
    ("YYYY", r"(?P<sk_year>[0-9]{4})"),
    ("MM", r"(?P<sk_month>[0-9]{2})"),
    ("DD", r"(?P<sk_day>[0-9]{2})"),
    ("hh", r"(?P<sk_hour>[0-9]{2})"),
    ("mm", r"(?P<sk_minute>[0-9]{2})"),
];
/// Capture group names with the valid range of each field, in `TOKENS` order.
const FIELDS: [(&str, u32, u32); 5] = [
    ("sk_year", 0, 9999),
    ("sk_month", 1, 12),
    ("sk_day", 1, 31),
    ("sk_hour", 0, 23),
    ("sk_minute", 0, 59),
];
/// Characters that make a time-pattern component a regex. `.` is not one of them, so that
/// `/opt/app.d/` stays literal, but inside a regex component `.` matches any character.
const REGEX_META: &[char] = &[
    '\\', '[', ']', '(', ')', '{', '}', '*', '+', '?', '|', '^', '$',
];
/// Characters that make a glob component a pattern.
const GLOB_META: &[char] = &['\\', '[', ']', '{', '}', '*', '?'];

/// What matches one component of a path.
#[derive(Debug, Clone)]
pub(super) enum Segment {
    /// Exactly this name.
    Literal(String),
    /// A glob within one component.
    Glob(GlobMatcher),
    /// `**`: zero or more directories.
    AnyDepth,
    /// An anchored regex, with the time tokens as named capture groups.
    Regex(Regex),
}

impl Segment {
    /// Whether one path component matches; `AnyDepth` matches any.
    pub(super) fn is_match(&self, name: &OsStr) -> bool {
        match self {
            Segment::Literal(s) => OsStr::new(s) == name,
            Segment::Glob(g) => g.is_match(Path::new(name)),
            Segment::AnyDepth => true,
            Segment::Regex(r) => name.to_str().is_some_and(|s| r.is_match(s)),
        }
    }
}

/// A piece of a component as the token scanner sees it.
enum Piece<'a> {
    /// Index into `TOKENS`.
    Token(usize),
    /// A backslash and the character it escapes, or any other single character.
    Text(&'a str),
}

/// Splits a component into tokens and text; a backslash escape is never part of a token.
fn pieces(component: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = component;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        if let Some(i) = TOKENS.iter().position(|(t, _)| rest.starts_with(t)) {
            rest = &rest[TOKENS[i].0.len()..];
            return Some(Piece::Token(i));
        }
        let mut len = first.len_utf8();
        if first == '\\' {
            len += rest[len..].chars().next().map_or(0, char::len_utf8);
        }
        let (text, tail) = rest.split_at(len);
        rest = tail;
        Some(Piece::Text(text))
    })
}

/// Whether a pattern is a time pattern: one of its components has `YYYY`, `MM` or `DD` as a
/// token (see [`time_pieces`]), outside a backslash escape.
pub(super) fn is_time_pattern(pattern: &str) -> bool {
    pattern.split('/').any(|c| {
        time_pieces(c)
            .iter()
            .any(|p| matches!(p, Piece::Token(i) if *i < 3))
    })
}

/// Why `pattern` is a time pattern, for errors: the first date token and its component (a rule
/// meant as a glob, under a directory like `HDD-1`, learns why `*` is refused).
fn why_time_pattern(pattern: &str) -> String {
    for c in pattern.split('/') {
        for p in time_pieces(c) {
            if let Piece::Token(i @ 0..=2) = p {
                return format!(
                    "the rule is a time pattern because of {} in {c:?}: its components with a \
                     token or a metacharacter are regexes, so write .* for a glob's *, or escape \
                     the token as \\{}",
                    TOKENS[i].0, TOKENS[i].0
                );
            }
        }
    }
    "the rule is a time pattern".to_string()
}

/// How many date tokens (`YYYY`, `MM`, `DD`) of `component` [`time_pieces`] reads as text
/// because they are glued to a word.
pub(super) fn date_tokens_read_as_text(component: &str) -> usize {
    let raw = pieces(component)
        .filter(|p| matches!(p, Piece::Token(0..=2)))
        .count();
    let kept = time_pieces(component)
        .iter()
        .filter(|p| matches!(p, Piece::Token(0..=2)))
        .count();
    raw - kept
}

/// The pieces of a time-pattern component, where some would-be tokens are plain text:
/// - a `hh` or `mm` with an ASCII letter on both sides: `summary`, `common` or `command` hold
///   no minute;
/// - a run of adjacent tokens with an ASCII letter or digit right before and right after it:
///   `ADDR`, `MMX1` or a temporary directory `.tmpuDD42E` hold no date, while `app_YYYYMMDD.log`,
///   `appYYYYMMDD.log` and `YYYYMMDDhh` do;
/// - a run of only `MM` and `DD` with a letter or digit on one side and the edge of the
///   component on the other: `MMS`, `ADD` or a temporary directory `.tmpBh1tDD` hold no date,
///   while a component that is only tokens (`MM`, `YYYYMMDD`), `appYYYYMMDD` and `loghh` do.
fn time_pieces(component: &str) -> Vec<Piece<'_>> {
    let mut out: Vec<Piece<'_>> = pieces(component).collect();
    let char_at = |p: Option<&Piece<'_>>, end: bool, test: fn(&char) -> bool| match p {
        Some(Piece::Text(t)) => {
            let c = if end {
                t.chars().last()
            } else {
                t.chars().next()
            };
            c.as_ref().is_some_and(test)
        }
        _ => false,
    };
    for i in 0..out.len() {
        if let Piece::Token(t @ 3..) = out[i] {
            let before = i.checked_sub(1).and_then(|j| out.get(j));
            if char_at(before, true, char::is_ascii_alphabetic)
                && char_at(out.get(i + 1), false, char::is_ascii_alphabetic)
            {
                out[i] = Piece::Text(TOKENS[t].0);
            }
        }
    }
    let mut i = 0;
    while i < out.len() {
        if !matches!(out[i], Piece::Token(_)) {
            i += 1;
            continue;
        }
        let start = i;
        while i < out.len() && matches!(out[i], Piece::Token(_)) {
            i += 1;
        }
        let before = start.checked_sub(1).and_then(|j| out.get(j));
        let word_before = char_at(before, true, char::is_ascii_alphanumeric);
        let word_after = char_at(out.get(i), false, char::is_ascii_alphanumeric);
        let at_edge = (start == 0 && word_after) || (i == out.len() && word_before);
        let month_day = out[start..i]
            .iter()
            .all(|p| matches!(p, Piece::Token(1 | 2)));
        if (word_before && word_after) || (at_edge && month_day) {
            for p in &mut out[start..i] {
                if let Piece::Token(t) = *p {
                    *p = Piece::Text(TOKENS[t].0);
                }
            }
        }
    }
    out
}

/// Builds the segment of one time-pattern component; `seen` tracks tokens across components.
pub(super) fn time_segment(
    pattern: &str,
    component: &str,
    seen: &mut [bool; 5],
) -> Result<Segment, FilesError> {
    let pieces = time_pieces(component);
    let has_token = pieces.iter().any(|p| matches!(p, Piece::Token(_)));
    if !has_token && !component.contains(REGEX_META) {
        return Ok(Segment::Literal(component.to_owned()));
    }
    let mut re = String::from("^(?:");
    for piece in pieces {
        match piece {
            Piece::Token(i) => {
                if std::mem::replace(&mut seen[i], true) {
                    return Err(FilesError::PathRule {
                        pattern: pattern.to_owned(),
                        reason: format!("time token {} is used more than once", TOKENS[i].0),
                    });
                }
                re.push_str(TOKENS[i].1);
            }
            Piece::Text(t) => re.push_str(t),
        }
    }
    re.push_str(")$");
    RegexBuilder::new(&re)
        .size_limit(1 << 20)
        .build()
        .map(Segment::Regex)
        .map_err(|source| FilesError::Regex {
            pattern: pattern.to_owned(),
            component: component.to_owned(),
            why: why_time_pattern(pattern),
            source,
        })
}

/// Builds the segment of one glob component.
pub(super) fn glob_segment(pattern: &str, component: &str) -> Result<Segment, FilesError> {
    if component == "**" {
        return Ok(Segment::AnyDepth);
    }
    if !component.contains(GLOB_META) {
        return Ok(Segment::Literal(component.to_owned()));
    }
    build_glob(component)
        .map(Segment::Glob)
        .map_err(|source| FilesError::Glob {
            pattern: pattern.to_owned(),
            source,
        })
}

/// Compiles a glob the way every glob of this module is: `*` never crosses `/`, `\` escapes.
pub(super) fn build_glob(glob: &str) -> Result<GlobMatcher, globset::Error> {
    GlobBuilder::new(glob)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher())
}

/// Checks that no `/` is inside `{...}` or `[...]` of a glob: rules are matched one component
/// at a time, so an alternative or a class cannot span directories.
pub(super) fn check_glob_nesting(pattern: &str) -> Result<(), FilesError> {
    let (mut braces, mut class, mut escaped) = (0usize, false, false);
    for c in pattern.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '[' if !class => class = true,
            ']' => class = false,
            '{' if !class => braces += 1,
            '}' if !class => braces = braces.saturating_sub(1),
            '/' if braces > 0 || class => {
                return Err(FilesError::PathRule {
                    pattern: pattern.to_owned(),
                    reason: "\"/\" inside {...} or [...] is not supported, write one rule per \
                             alternative"
                        .to_owned(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// The normal components of an absolute path, or `None` if it is relative or has `.`/`..`.
pub(super) fn normal_components(path: &Path) -> Option<Vec<&OsStr>> {
    let mut comps = path.components();
    if comps.next() != Some(Component::RootDir) {
        return None;
    }
    comps
        .map(|c| match c {
            Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect()
}

/// The time of a path whose components matched the segments one to one: `YYYYMMDDhhmm` as a
/// number, absent fields 0; `None` if a field is out of range (month 13, hour 24...).
pub(super) fn time_of(segments: &[Segment], names: &[&OsStr]) -> Option<u64> {
    let mut value = [0u32; 5];
    for (seg, name) in segments.iter().zip(names) {
        let Segment::Regex(re) = seg else { continue };
        let caps = re.captures(name.to_str()?)?;
        for (i, (group, lo, hi)) in FIELDS.iter().enumerate() {
            if let Some(m) = caps.name(group) {
                let v: u32 = m.as_str().parse().ok()?;
                if v < *lo || v > *hi {
                    return None;
                }
                value[i] = v;
            }
        }
    }
    let [y, mo, d, h, mi] = value.map(u64::from);
    Some(y * 100_000_000 + mo * 1_000_000 + d * 10_000 + h * 100 + mi)
}
