//! Compiling grok patterns: expanding `%{NAME:field:type}` into one regex with a group per
//! capture, and mapping the groups back to output names.

use crate::{patterns, Kind};
use regex::{Regex, RegexBuilder};
use regex_automata::nfa::thompson::{self, backtrack::BoundedBacktracker};
use regex_automata::PatternID;
use sandkit_sdk::Config;

/// Named patterns nest at most this deep.
pub const MAX_DEPTH: usize = 32;
/// An expanded pattern is at most this long (nesting can grow it exponentially).
const MAX_REGEX_LEN: usize = 1 << 20;
/// The compiled size a pattern's regex may take.
const REGEX_SIZE_LIMIT: usize = 32 << 20;
/// Our backtracker's visited set, in bytes: one bit per NFA state and byte of the match, so
/// `%{COMBINEDAPACHELOG}` (about 1,600 states) takes lines of up to about 20 KB. The set grows
/// only as far as the longest line needs, and one set serves every pattern.
const BACKTRACK_CAPACITY: usize = 4 << 20;
/// The visited set of the `regex` crate's own backtracker (256 KB in regex-automata 0.4: about
/// 1,300 bytes of line for `%{COMBINEDAPACHELOG}`); past it, the crate uses its PikeVM, ten
/// times slower than a backtracker.
const REGEX_BACKTRACK_CAPACITY: usize = 256 << 10;
/// Internal group names: `__g0`, `__g1`... (one per `%{NAME:field}`).
const GROUP_PREFIX: &str = "__g";

/// What a capture becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Field,
    Tag,
    Time,
    Level,
}

/// One output name of a pattern and the groups that capture it, in order.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) name: String,
    pub(crate) role: Role,
    pub(crate) groups: Vec<(usize, Kind)>,
}

#[derive(Debug)]
pub(crate) struct Compiled {
    /// Finds the match (a DFA) and its captures, for lines of up to `short` bytes (with a
    /// one-pass DFA when the pattern allows, else a backtracker), and lines too long for `bt`.
    pub(crate) re: Regex,
    /// The captures of longer lines, in the match `re` found.
    pub(crate) bt: BoundedBacktracker,
    /// The longest line `re` takes without falling back to its PikeVM (less a margin).
    pub(crate) short: usize,
    pub(crate) slots: Vec<Slot>,
}

/// A pattern with its `%{...}` expanded.
#[derive(Debug, Default)]
pub(crate) struct Expansion {
    pub(crate) regex: String,
    /// Field and type of the group `__g{i}`.
    pub(crate) captures: Vec<(String, Kind)>,
}

/// Expands `%{...}` with the config's named patterns, then the standard ones.
pub(crate) struct Expander<'c> {
    pub(crate) custom: &'c [(String, String)],
}

impl Expander<'_> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.custom
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.as_str())
            .or_else(|| patterns::standard(name))
    }

    pub(crate) fn expand(&self, pattern: &str) -> Result<Expansion, String> {
        let mut e = Expansion::default();
        self.expand_into(pattern, &mut Vec::new(), &mut e)?;
        Ok(e)
    }

    fn expand_into(
        &self,
        pattern: &str,
        stack: &mut Vec<String>,
        e: &mut Expansion,
    ) -> Result<(), String> {
        let within = |stack: &[String]| {
            if stack.is_empty() {
                String::new()
            } else {
                format!(" (in {})", stack.join(" -> "))
            }
        };
        let mut rest = pattern;
        while let Some(i) = rest.find("%{") {
            e.regex.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else {
                return Err(format!("unclosed %{{{}", within(stack)));
            };
            let spec = &after[..end];
            rest = &after[end + 1..];
            let mut parts = spec.splitn(3, ':');
            let name = parts.next().unwrap_or_default();
            if !valid_name(name) {
                return Err(format!(
                    "bad pattern name in %{{{spec}}}{}: expected letters, digits, _ or -",
                    within(stack)
                ));
            }
            let field = parts.next();
            let kind = match parts.next() {
                None => Kind::Str,
                Some(t) => Kind::parse(t).ok_or_else(|| {
                    format!(
                        "unknown type {t:?} in %{{{spec}}}{} (expected int, float, bool or string)",
                        within(stack)
                    )
                })?,
            };
            if field == Some("") {
                return Err(format!("empty field name in %{{{spec}}}{}", within(stack)));
            }
            if let Some(at) = stack.iter().position(|n| n == name) {
                return Err(format!(
                    "patterns refer to each other in a cycle: {} -> {name}",
                    stack[at..].join(" -> ")
                ));
            }
            if stack.len() >= MAX_DEPTH {
                return Err(format!(
                    "patterns nest deeper than {MAX_DEPTH} levels at %{{{name}}}{}",
                    within(stack)
                ));
            }
            let Some(body) = self.lookup(name) else {
                return Err(format!("unknown pattern %{{{name}}}{}", within(stack)));
            };
            match field {
                Some(f) => {
                    let n = e.captures.len();
                    e.regex.push_str(&format!("(?P<{GROUP_PREFIX}{n}>"));
                    e.captures.push((f.to_string(), kind));
                }
                None => e.regex.push_str("(?:"),
            }
            stack.push(name.to_string());
            self.expand_into(body, stack, e)?;
            stack.pop();
            e.regex.push(')');
            if e.regex.len() > MAX_REGEX_LEN {
                return Err(format!(
                    "expands to a regex of more than {MAX_REGEX_LEN} bytes"
                ));
            }
        }
        e.regex.push_str(rest);
        Ok(())
    }
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(crate) fn build_regex(re: &str) -> Result<Regex, String> {
    RegexBuilder::new(re)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            // "regex parse error:\n    <the regex>\n    ^^^\nerror: <why>": the regex is the
            // expansion, much longer than what the user wrote; keep the why.
            regex::Error::Syntax(s) => {
                let why = s.lines().rev().find_map(|l| l.strip_prefix("error: "));
                format!("invalid regex: {}", why.unwrap_or(&s).trim())
            }
            regex::Error::CompiledTooBig(n) => {
                format!("the regex is too big (it compiles to more than {n} bytes)")
            }
            other => format!("invalid regex: {other}"),
        })
}

/// Which captures are tags, the time and the level.
pub(crate) struct Roles<'a> {
    pub(crate) tags: &'a [String],
    pub(crate) time_field: &'a str,
    pub(crate) level_field: &'a str,
}

impl Roles<'_> {
    pub(crate) fn of(&self, name: &str) -> Role {
        if name == self.time_field {
            Role::Time
        } else if name == self.level_field {
            Role::Level
        } else if self.tags.iter().any(|t| t == name) {
            Role::Tag
        } else {
            Role::Field
        }
    }
}

pub(crate) fn compile_pattern(
    exp: &Expander<'_>,
    pattern: &str,
    roles: &Roles<'_>,
) -> Result<Compiled, String> {
    let e = exp.expand(pattern)?;
    let re = build_regex(&e.regex)?;
    let bt = BoundedBacktracker::builder()
        .configure(BoundedBacktracker::config().visited_capacity(BACKTRACK_CAPACITY))
        .thompson(thompson::Config::new().nfa_size_limit(Some(REGEX_SIZE_LIMIT)))
        .build(&e.regex)
        .map_err(|e| format!("invalid regex: {e}"))?;
    // Both engines number the groups alike (one parser, one compiler); `emit` relies on it.
    let bt_names = bt.get_nfa().group_info().pattern_names(PatternID::ZERO);
    if !re.capture_names().eq(bt_names) {
        return Err("internal error: the regex engines number the groups differently".into());
    }
    let mut slots: Vec<Slot> = Vec::new();
    for (g, name) in re.capture_names().enumerate() {
        let Some(name) = name else { continue };
        let ours = name
            .strip_prefix(GROUP_PREFIX)
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| e.captures.get(n));
        let (field, kind) = match ours {
            Some((f, k)) => (f.as_str(), *k),
            None => (name, Kind::Str),
        };
        match slots.iter_mut().find(|s| s.name == field) {
            Some(s) => s.groups.push((g, kind)),
            None => slots.push(Slot {
                name: field.to_string(),
                role: roles.of(field),
                groups: vec![(g, kind)],
            }),
        }
    }
    let states = bt.get_nfa().states().len().max(1);
    let short = (8 * REGEX_BACKTRACK_CAPACITY / states).saturating_sub(1) * 9 / 10;
    Ok(Compiled {
        re,
        bt,
        short,
        slots,
    })
}

/// `custom_patterns` as (name, regex) pairs.
pub(crate) fn custom_patterns(config: &Config) -> Result<Vec<(String, String)>, String> {
    let bad = || "config key \"custom_patterns\": expected a table of NAME = \"regex\"".to_string();
    let Some(v) = config.value().get("custom_patterns") else {
        return Ok(Vec::new());
    };
    let table = v.as_object().ok_or_else(bad)?;
    let mut out = Vec::with_capacity(table.len());
    for (name, p) in table {
        let p = p.as_str().ok_or_else(bad)?;
        if !valid_name(name) {
            return Err(format!(
                "config key \"custom_patterns\": bad pattern name {name:?}: expected letters, digits, _ or -"
            ));
        }
        out.push((name.clone(), p.to_string()));
    }
    Ok(out)
}
