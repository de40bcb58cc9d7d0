//! `grok` pipeline: any line format, described by grok patterns (Logstash's and DataKit's syntax).
//!
//! A grok pattern is a regular expression in which `%{NAME}` stands for a named pattern:
//! `%{NAME}` matches it, `%{NAME:field}` also captures what it matched as `field`, and
//! `%{NAME:field:type}` converts the capture (`int`, `float`, `bool` or `string`; a capture that
//! does not convert stays text). Named patterns are the standard set (Logstash's core patterns,
//! listed in `patterns.rs`) and the config's own; they may use each other, to any depth up to 32
//! (a cycle is an error). The captures of the named patterns a pattern uses are fields too:
//! `%{COMBINEDAPACHELOG}` gives `clientip`, `ident` and `auth` (absent when `-`), `timestamp`,
//! `verb`, `request`, `httpversion` (or `rawrequest` for another request line), `response` and
//! `bytes` (ints), `referrer` and `agent` (without their quotes, absent when `-`);
//! `%{SYSLOGPROG}` gives `program` and `pid` (int). A plain regex named group `(?<name>...)`
//! captures `name` (as text).
//!
//! The patterns are tried in order and the first that matches a line (anywhere in it: anchor
//! with `^` and `$` to match whole lines) gives its record:
//! - each capture that took part in the match and is not empty is a field (or a tag, when it is
//!   named in `tags`); when one field name is captured more than once, the first non-empty
//!   capture wins;
//! - the `time_field` capture is the record's time when it parses (see [`time`] for the forms:
//!   HTTPDATE, ISO 8601 and RFC 3339, `YYYY-MM-DD HH:MM:SS`, `YYYY/MM/DD HH:MM:SS`,
//!   SYSLOGTIMESTAMP, Unix seconds, milliseconds, microseconds or nanoseconds); otherwise it
//!   stays a field;
//! - the `level_field` capture is the `status` tag, normalised to DataKit's levels by
//!   [`status_level`] (`emerg`, `alert`, `critical`, `error`, `warning`, `notice`, `info`,
//!   `debug`, `OK`, else `unknown`), and is not a field;
//! - the raw line is kept as `message` (unless `keep_message = false`).
//!
//! A line that no pattern matches passes through as its `message` only.
//!
//! Config (`[config]` table):
//! - `patterns` (required): list of grok patterns, tried in order;
//! - `custom_patterns`: table of `NAME = "regex"` (may use `%{OTHER}`; a name of the standard
//!   set is replaced);
//! - `tags`: capture names written as tags instead of fields;
//! - `time_field` (default `"time"`), `level_field` (default `"level"`);
//! - `timezone` (default `"+00:00"`): the UTC offset of times without a zone (`+08:00`, `-0500`,
//!   `Z`, `UTC`);
//! - `year` (default 2024): the year of syslog times, which have none (a sandboxed plugin has no
//!   trustworthy clock to guess it from);
//! - `keep_message` (default true).
//!
//! Everything is compiled once by `init`, into one `regex` per pattern (linear time per line: no
//! look-around and no backreferences, see `patterns.rs`); a config error names its key and the
//! pattern. A pattern that does not match a line costs one DFA scan of it. The one that matches
//! also runs a capture engine: the `regex` crate's own (a one-pass DFA when the pattern allows,
//! else a bounded backtracker) up to about a thousand bytes of line for a big pattern, and past
//! that a backtracker given more room (up to about 20 KB for `%{COMBINEDAPACHELOG}`), so that
//! long lines do not fall to the crate's PikeVM, ten times slower, which still takes the
//! longest. Natively, `%{COMBINEDAPACHELOG}` costs about 3 to 4 µs a line, and about 40 ns a
//! byte on long lines; in the sandbox, about 15 times the fuel of the hand-written `nginx`
//! pipeline.

mod compile;
mod patterns;
pub mod time;

pub use compile::MAX_DEPTH;
pub use patterns::STANDARD;

use compile::{build_regex, compile_pattern, custom_patterns, Compiled, Expander, Role, Roles};
use regex::CaptureLocations;
use regex_automata::nfa::thompson::backtrack;
use regex_automata::util::captures::Captures;
use regex_automata::{Anchored, Input};
use sandkit_sdk::{
    Category, Config, FieldKind, MeasurementInfo, Pipeline, PluginInfo, Record, Records, Value,
};

/// The config keys.
pub const KEYS: &[&str] = &[
    "patterns",
    "custom_patterns",
    "tags",
    "time_field",
    "level_field",
    "timezone",
    "year",
    "keep_message",
];

/// The type of a capture (`%{NAME:field:type}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Float,
    Bool,
    Str,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        match s {
            "int" => Some(Kind::Int),
            "float" => Some(Kind::Float),
            "bool" => Some(Kind::Bool),
            "string" => Some(Kind::Str),
            _ => None,
        }
    }

    /// `text` as this type, or as text when it does not convert.
    pub fn convert(self, text: &str) -> Value<'_> {
        let v = match self {
            Kind::Int => text.parse::<i64>().ok().map(Value::Int),
            Kind::Float => text
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Value::Float),
            Kind::Bool => parse_bool(text).map(Value::Bool),
            Kind::Str => None,
        };
        v.unwrap_or(Value::Text(text))
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    const TRUE: [&str; 4] = ["true", "yes", "on", "1"];
    const FALSE: [&str; 4] = ["false", "no", "off", "0"];
    if TRUE.iter().any(|t| s.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|f| s.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

/// DataKit's log level (the `status` tag) for a level as logs write it, case-insensitively:
/// `emerg`/`emergency`/`panic`, `alert`, `crit`/`critical`/`fatal`, `err`/`error`/`severe`,
/// `warn`/`warning`, `notice`, `info`/`informational`, `debug`/`trace`/`verbose`,
/// `ok`/`success`, their first letters (as DataKit maps them, but `f` is `critical` like
/// `fatal`), and syslog severities `0` to `7`; anything else is `unknown`.
pub fn status_level(level: &str) -> &'static str {
    let mut buf = [0u8; 16];
    let Some(b) = buf.get_mut(..level.len()) else {
        return "unknown";
    };
    b.copy_from_slice(level.as_bytes());
    b.make_ascii_lowercase();
    match &*b {
        b"emerg" | b"emergency" | b"panic" | b"0" => "emerg",
        b"alert" | b"a" | b"1" => "alert",
        b"crit" | b"critical" | b"fatal" | b"c" | b"f" | b"2" => "critical",
        b"err" | b"error" | b"severe" | b"e" | b"3" => "error",
        b"warn" | b"warning" | b"w" | b"4" => "warning",
        b"notice" | b"n" | b"5" => "notice",
        b"info" | b"information" | b"informational" | b"i" | b"6" => "info",
        b"debug" | b"trace" | b"verbose" | b"d" | b"t" | b"7" => "debug",
        b"ok" | b"success" | b"o" | b"s" => "OK",
        _ => "unknown",
    }
}

/// A sink for the items of a matched line.
trait Sink<'a> {
    fn tag(&mut self, key: &str, value: &'a str);
    fn field(&mut self, key: &str, value: Value<'a>);
    fn time(&mut self, ns: i64);
}

impl<'a> Sink<'a> for Record<'_> {
    fn tag(&mut self, key: &str, value: &'a str) {
        Record::tag(self, key, value);
    }
    fn field(&mut self, key: &str, value: Value<'a>) {
        Record::field(self, key, value);
    }
    fn time(&mut self, ns: i64) {
        self.time_ns(ns);
    }
}

/// What a line gave, for tests and native callers ([`Grok::parse`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed<'a> {
    /// Index of the pattern that matched.
    pub pattern: usize,
    pub time_ns: Option<i64>,
    /// Tags in order (`status` included).
    pub tags: Vec<(String, &'a str)>,
    /// Fields in order.
    pub fields: Vec<(String, Value<'a>)>,
}

impl<'a> Parsed<'a> {
    /// The field `key`, if any.
    pub fn field(&self, key: &str) -> Option<Value<'a>> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// The tag `key`, if any.
    pub fn tag(&self, key: &str) -> Option<&'a str> {
        self.tags.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

impl<'a> Sink<'a> for Parsed<'a> {
    fn tag(&mut self, key: &str, value: &'a str) {
        self.tags.push((key.to_string(), value));
    }
    fn field(&mut self, key: &str, value: Value<'a>) {
        self.fields.push((key.to_string(), value));
    }
    fn time(&mut self, ns: i64) {
        self.time_ns = Some(ns);
    }
}

/// A compiled config: the pure parser, usable natively.
#[derive(Debug)]
pub struct Grok {
    patterns: Vec<Compiled>,
    defaults: time::Defaults,
    keep_message: bool,
}

impl Grok {
    /// Compile the plugin's `[config]` table.
    ///
    /// # Errors
    /// A message naming the config key, and the pattern at fault.
    pub fn new(config: &Config) -> Result<Grok, String> {
        config.check_keys(KEYS)?;
        let patterns = config
            .get_str_list("patterns")?
            .ok_or("config key \"patterns\" is required: a list of grok patterns")?;
        if patterns.is_empty() {
            return Err("config key \"patterns\": expected at least one pattern".into());
        }
        let custom = custom_patterns(config)?;
        let tags = config.get_str_list("tags")?.unwrap_or_default();
        let time_field = config.str_or("time_field", "time")?;
        let level_field = config.str_or("level_field", "level")?;
        let timezone = config.str_or("timezone", "+00:00")?;
        let offset_s = time::zone_offset(timezone.as_bytes()).ok_or_else(|| {
            format!("config key \"timezone\": expected a UTC offset like +08:00, got {timezone:?}")
        })?;
        let year = config.u64_or("year", 2024)?;
        if !(1..=9999).contains(&year) {
            return Err(format!(
                "config key \"year\": expected a year from 1 to 9999, got {year}"
            ));
        }
        let keep_message = config.bool_or("keep_message", true)?;

        let exp = Expander { custom: &custom };
        // Every custom pattern must stand on its own, used or not.
        for (name, _) in &custom {
            exp.expand(&format!("%{{{name}}}"))
                .and_then(|e| build_regex(&e.regex))
                .map_err(|e| format!("config key \"custom_patterns\": {name}: {e}"))?;
        }
        let roles = Roles {
            tags: &tags,
            time_field: &time_field,
            level_field: &level_field,
        };
        let mut compiled = Vec::with_capacity(patterns.len());
        for p in &patterns {
            if p.is_empty() {
                return Err("config key \"patterns\": a pattern is empty".into());
            }
            let c = compile_pattern(&exp, p, &roles)
                .map_err(|e| format!("config key \"patterns\": {p:?}: {e}"))?;
            compiled.push(c);
        }
        let captured = |f: &str| compiled.iter().any(|c| c.slots.iter().any(|s| s.name == f));
        let mut named: Vec<(&str, &str)> = tags.iter().map(|t| ("tags", t.as_str())).collect();
        for key in ["time_field", "level_field"] {
            if let Some(f) = config.get_str(key) {
                named.push((key, f));
            }
        }
        if let Some((key, f)) = named.into_iter().find(|(_, f)| !captured(f)) {
            return Err(format!("config key {key:?}: no pattern captures {f:?}"));
        }
        Ok(Grok {
            patterns: compiled,
            defaults: time::Defaults {
                offset_s,
                year: year as i64,
            },
            keep_message,
        })
    }

    /// Fresh working memory for [`Grok::find`].
    fn scratch(&self) -> Scratch {
        let first = self.patterns.first().map(|p| p.bt.create_cache());
        Scratch {
            cache: first,
            caps: self
                .patterns
                .iter()
                .map(|p| p.bt.create_captures())
                .collect(),
            locs: self
                .patterns
                .iter()
                .map(|p| p.re.capture_locations())
                .collect(),
        }
    }

    /// The first pattern that matches `line`, and which engine holds its captures in `scratch`.
    fn find(&self, line: &str, scratch: &mut Scratch) -> Option<(usize, Engine)> {
        for (i, p) in self.patterns.iter().enumerate() {
            if line.len() <= p.short {
                let locs = scratch.locs.get_mut(i)?;
                if p.re.captures_read(locs, line).is_some() {
                    return Some((i, Engine::Regex));
                }
                continue;
            }
            // A long line: the DFA finds the match, then our backtracker, which has room for
            // longer lines than the crate's, searches its captures in the match alone.
            let Some(m) = p.re.find(line) else { continue };
            if let (Some(cache), Some(caps)) = (scratch.cache.as_mut(), scratch.caps.get_mut(i)) {
                p.bt.reset_cache(cache);
                let input = Input::new(line)
                    .span(m.start()..m.end())
                    .anchored(Anchored::Yes);
                // An error is a match too long for the visited set.
                if p.bt.try_search(cache, &input, caps).is_ok() && caps.is_match() {
                    return Some((i, Engine::Backtrack));
                }
            }
            let locs = scratch.locs.get_mut(i)?;
            if p.re.captures_read(locs, line).is_some() {
                return Some((i, Engine::Regex));
            }
        }
        None
    }

    /// Write the items of a line that pattern `i` matched.
    fn emit<'a>(&self, i: usize, line: &'a str, found: Found<'_>, sink: &mut impl Sink<'a>) {
        let Some(p) = self.patterns.get(i) else {
            return;
        };
        for slot in &p.slots {
            let hit = slot
                .groups
                .iter()
                .find_map(|&(g, kind)| match found.group(g) {
                    Some((s, e)) if e > s => line.get(s..e).map(|t| (t, kind)),
                    _ => None,
                });
            let Some((text, kind)) = hit else { continue };
            match slot.role {
                Role::Level => sink.tag("status", status_level(text)),
                Role::Tag => sink.tag(&slot.name, text),
                Role::Time => match time::parse(text, self.defaults) {
                    Some(ns) => sink.time(ns),
                    None => sink.field(&slot.name, kind.convert(text)),
                },
                Role::Field => sink.field(&slot.name, kind.convert(text)),
            }
        }
    }

    /// Parse one line: `None` when no pattern matches it.
    pub fn parse<'a>(&self, line: &'a str) -> Option<Parsed<'a>> {
        let mut scratch = self.scratch();
        let (i, engine) = self.find(line, &mut scratch)?;
        let mut p = Parsed {
            pattern: i,
            ..Parsed::default()
        };
        self.emit(i, line, scratch.found(i, engine)?, &mut p);
        Some(p)
    }

    /// The regexes the patterns expanded to, in order (to debug a pattern).
    pub fn regexes(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(|p| p.re.as_str())
    }

    /// Whether the raw line is kept as `message`.
    pub fn keep_message(&self) -> bool {
        self.keep_message
    }
}

/// Compile `config` and parse `line` with it (for one-off native use; the pipeline compiles once).
///
/// # Errors
/// The config's error, as `init` would give it.
pub fn parse_line<'a>(config: &Config, line: &'a str) -> Result<Option<Parsed<'a>>, String> {
    Ok(Grok::new(config)?.parse(line))
}

/// Which engine found the captures of a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Backtrack,
    Regex,
}

/// Working memory of the searches, reused from line to line.
#[derive(Debug)]
struct Scratch {
    /// The backtracker's, shared by the patterns (reset for each); `None` without patterns.
    cache: Option<backtrack::Cache>,
    caps: Vec<Captures>,
    locs: Vec<CaptureLocations>,
}

impl Scratch {
    fn found(&self, i: usize, engine: Engine) -> Option<Found<'_>> {
        match engine {
            Engine::Backtrack => self.caps.get(i).map(Found::Backtrack),
            Engine::Regex => self.locs.get(i).map(Found::Regex),
        }
    }
}

/// The captures of a match.
#[derive(Clone, Copy)]
enum Found<'s> {
    Backtrack(&'s Captures),
    Regex(&'s CaptureLocations),
}

impl Found<'_> {
    /// Where group `g` matched, if it took part.
    fn group(self, g: usize) -> Option<(usize, usize)> {
        match self {
            Found::Backtrack(c) => c.get_group(g).map(|s| (s.start, s.end)),
            Found::Regex(l) => l.get(g),
        }
    }
}

/// The pipeline: a compiled config and the searches' working memory.
pub struct GrokPipeline {
    grok: Grok,
    scratch: Scratch,
}

impl GrokPipeline {
    /// Compile `config` (what `init` does).
    ///
    /// # Errors
    /// See [`Grok::new`].
    pub fn new(config: &Config) -> Result<Self, String> {
        let grok = Grok::new(config)?;
        let scratch = grok.scratch();
        Ok(GrokPipeline { grok, scratch })
    }

    /// Write the record of one line (the pipeline's work, shared with native benches).
    pub fn write_line(&mut self, line: &str, out: &mut Records) {
        let Some((i, engine)) = self.grok.find(line, &mut self.scratch) else {
            out.passthrough();
            return;
        };
        let mut r = out.record();
        if let Some(found) = self.scratch.found(i, engine) {
            self.grok.emit(i, line, found, &mut r);
        }
        if self.grok.keep_message {
            r.keep_message();
        }
    }
}

impl Pipeline for GrokPipeline {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "grok",
            "0.1.0",
            "any log format, cut by grok patterns (Logstash's syntax and core patterns)",
        )
        .measurement(
            MeasurementInfo::new(
                "grok",
                "one log line (the measurement is the source's); its fields are the patterns' captures",
            )
            .category(Category::Logging)
            .tag(
                "status",
                "the level_field capture as DataKit's level: emerg, alert, critical, error, warning, notice, info, debug, OK, unknown",
            )
            .tag("*", "each capture named in `tags`")
            .field("message", FieldKind::Text, "", "the raw line (keep_message)")
            .field("*", FieldKind::Text, "", "every other capture (`%{NAME:field}`, or `:string`)")
            .field("*", FieldKind::Int, "", "a capture converted with `:int`")
            .field("*", FieldKind::Float, "", "a capture converted with `:float`")
            .field("*", FieldKind::Boolean, "", "a capture converted with `:bool`"),
        )
    }

    fn init(config: Config) -> Result<Self, String> {
        GrokPipeline::new(&config)
    }

    fn process_line(&mut self, line: &str, out: &mut Records) {
        self.write_line(line, out);
    }
}

sandkit_sdk::pipeline!(GrokPipeline);
sandkit_sdk::default_conf!("../conf.toml");

#[cfg(test)]
mod tests;
