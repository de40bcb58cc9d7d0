//! `json` pipeline: JSON logs, one object per line (Docker and Kubernetes payloads, structured
//! application logs: zap, logrus, slog, pino, bunyan, ECS...).
//!
//! Each line that is a JSON object becomes one record. Any other line (an array, a scalar, invalid
//! JSON, an empty line, an object nested deeper than serde_json's limit of 128 levels, a number
//! too large for an f64) passes through as its `message` only.
//!
//! Fields: every key of the object is a field under its own name.
//! - Nested objects are flattened with `separator`: `{"a":{"b":1}}` gives `a.b`. An object whose
//!   keys would have more than `max_depth` parts is kept as its JSON text; an empty object is left
//!   out.
//! - Arrays are kept as their compact JSON text (`["a",1]`) in one text field.
//! - Numbers: an integer that fits an i64 is an int field, a larger one a uint, any other number a
//!   float. Booleans are bool fields, strings text fields. `null` is left out.
//! - Keys come in sorted order (serde_json's map). When two flattened keys are the same
//!   (`{"a.b":1,"a":{"b":2}}`), the first is kept. Tags and fields share one set of names (DataKit
//!   drops a field named like a tag): the `status` tag comes first, so a `status` key that is not
//!   the level is left out when a level was found. `message` is reserved (see below). An empty
//!   top-level key (and all below it), a key longer than 1,024 bytes and any key past the 1,024th item of a record
//!   are left out.
//! - Keys named in `tags` are tags instead of fields (a nested key by its flattened name); their
//!   value is the string, or the JSON text of any other value.
//!
//! Time: the first present (not null) of `time`, `timestamp`, `@timestamp`, `ts`, or the one key
//! `time_field`, read as `time_format`, is the record's time and is not a field. `rfc3339` reads
//! `2024-03-01T12:00:00Z`, with any fraction of a second (digits past nanoseconds are cut), an
//! offset `+08:00` (or `+0800`), `t`/`z` in lower case, or a space instead of `T`. A time with no
//! offset is not RFC 3339 and is not read. `unix`, `unix_ms`, `unix_us` and `unix_ns` read epoch
//! seconds, milliseconds, microseconds or nanoseconds, as a number or a decimal string, with a
//! fraction. When the value does not parse, it stays a normal field and the host's read time is
//! used.
//!
//! Level: the first present of `level`, `severity`, `lvl`, `status`, or the one key
//! `level_field`, becomes the `status` tag (and is not a field), normalised to DataKit's values
//! (case-insensitive; DataKit's one-letter codes included):
//! - `emerg`: f, emerg, emergency, panic; `alert`: a, alert; `critical`: c, crit, critical,
//!   fatal, dpanic; `error`: e, err, error, severe; `warning`: w, warn, warning; `notice`: n,
//!   notice; `info`: i, info, information, informational; `debug`: d, debug, dbg, trace,
//!   verbose, v, fine, finer, finest; `OK`: o, s, ok, success; `unknown`: unknown.
//! - Numbers: syslog severities 0 to 7 (0 emerg ... 7 debug) and pino/bunyan levels 10 trace,
//!   20 debug, 30 info, 40 warn, 50 error, 60 fatal; except under the default `status` key, where a
//!   number is usually an HTTP or application code.
//! - Any other value is not a level: it stays a normal field and no `status` tag is set (the
//!   host's default applies).
//!
//! Message: a top-level `message` string (or number, boolean or array, as its text) is the
//! record's `message`; failing that, a top-level `msg` string is (and is then not a field `msg`).
//! Otherwise the raw line is kept as `message` when `keep_message` is true, and also when the
//! record would have no field at all (a record needs one).
//!
//! Config (all optional):
//! - `separator` (default "."): joins the keys of nested objects.
//! - `time_field`: the key holding the time (default: the first present of the four above; ""
//!   reads no time).
//! - `time_format` (default "rfc3339"): "rfc3339", "unix", "unix_ms", "unix_us" or "unix_ns".
//! - `level_field`: the key holding the level (default: the first present of the four above; ""
//!   reads no level).
//! - `tags` (default []): keys to emit as tags, e.g. `["service", "env", "kubernetes.namespace"]`.
//! - `keep_message` (default true): keep the raw line as `message` when the object has none.
//! - `max_depth` (default 10, at least 1): the most key parts of a flattened key.

pub use sandkit_sdk::time::{decimal_ns, rfc3339_ns};
use sandkit_sdk::{
    Category, Config, FieldKind, MeasurementInfo, Pipeline, PluginInfo, Record, Records,
};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::collections::HashSet;

/// The keys read as the time when `time_field` is not set, first present first.
pub const DEFAULT_TIME_FIELDS: [&str; 4] = ["time", "timestamp", "@timestamp", "ts"];
/// The keys read as the level when `level_field` is not set, first present first.
pub const DEFAULT_LEVEL_FIELDS: [&str; 4] = ["level", "severity", "lvl", "status"];
/// The most tags and fields of one record (the record encoding counts them in 16 bits).
pub const MAX_ITEMS: usize = 1024;
/// The longest key kept, in bytes (the record encoding has 16-bit key lengths).
pub const MAX_KEY: usize = 1024;

const CONFIG_KEYS: [&str; 7] = [
    "separator",
    "time_field",
    "time_format",
    "level_field",
    "tags",
    "keep_message",
    "max_depth",
];

/// How the time field is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    Rfc3339,
    Unix,
    UnixMs,
    UnixUs,
    UnixNs,
}

impl TimeFormat {
    /// The format named in the config.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "rfc3339" => TimeFormat::Rfc3339,
            "unix" => TimeFormat::Unix,
            "unix_ms" => TimeFormat::UnixMs,
            "unix_us" => TimeFormat::UnixUs,
            "unix_ns" => TimeFormat::UnixNs,
            _ => return None,
        })
    }

    /// Decimal digits of nanoseconds in one unit of an epoch format (None for RFC 3339).
    fn digits(self) -> Option<u32> {
        match self {
            TimeFormat::Rfc3339 => None,
            TimeFormat::Unix => Some(9),
            TimeFormat::UnixMs => Some(6),
            TimeFormat::UnixUs => Some(3),
            TimeFormat::UnixNs => Some(0),
        }
    }
}

/// The pipeline's settings, from its config.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub separator: String,
    /// Keys that may hold the time, first present first (empty: read no time).
    pub time_fields: Vec<String>,
    pub time_format: TimeFormat,
    /// Keys that may hold the level, first present first, each with whether a number there is a
    /// level (empty: read no level).
    pub level_fields: Vec<(String, bool)>,
    pub tags: Vec<String>,
    pub keep_message: bool,
    pub max_depth: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            separator: ".".into(),
            time_fields: DEFAULT_TIME_FIELDS.iter().map(|k| k.to_string()).collect(),
            time_format: TimeFormat::Rfc3339,
            level_fields: DEFAULT_LEVEL_FIELDS
                .iter()
                .map(|k| (k.to_string(), *k != "status"))
                .collect(),
            tags: Vec::new(),
            keep_message: true,
            max_depth: 10,
        }
    }
}

impl Options {
    /// The settings of a `[config]` table.
    ///
    /// # Errors
    /// An unknown key, a value of the wrong type, an unknown `time_format`, `max_depth = 0`.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        config.check_keys(&CONFIG_KEYS)?;
        let d = Options::default();
        let has = |k: &str| config.value().get(k).is_some();
        let time_fields = if has("time_field") {
            let k = config.str_or("time_field", "")?;
            if k.is_empty() {
                Vec::new()
            } else {
                vec![k]
            }
        } else {
            d.time_fields
        };
        let level_fields = if has("level_field") {
            let k = config.str_or("level_field", "")?;
            if k.is_empty() {
                Vec::new()
            } else {
                vec![(k, true)]
            }
        } else {
            d.level_fields
        };
        let format = config.str_or("time_format", "rfc3339")?;
        let time_format = TimeFormat::from_name(&format).ok_or_else(|| {
            format!(
                "config key \"time_format\": expected one of rfc3339, unix, unix_ms, unix_us, unix_ns (got {format:?})"
            )
        })?;
        let max_depth = config.u64_or("max_depth", 10)?;
        if max_depth == 0 {
            return Err("config key \"max_depth\": expected at least 1".into());
        }
        Ok(Options {
            separator: config.str_or("separator", ".")?,
            time_fields,
            time_format,
            level_fields,
            tags: config.get_str_list("tags")?.unwrap_or_default(),
            keep_message: config.bool_or("keep_message", true)?,
            max_depth: usize::try_from(max_depth).unwrap_or(usize::MAX),
        })
    }
}

/// A leaf of the flattened object: its key and value.
type Entry<'v> = (String, &'v Value);

/// The leaves of `obj` in order, without nulls, empty objects and the top-level key `skip`.
fn flatten<'v>(obj: &'v Map<String, Value>, skip: Option<&str>, opts: &Options) -> Vec<Entry<'v>> {
    let mut out = Vec::with_capacity(obj.len());
    let mut key = String::new();
    for (k, v) in obj {
        if k.is_empty() || Some(k.as_str()) == skip {
            continue;
        }
        key.clear();
        key.push_str(k);
        leaves(&mut key, v, 1, opts, &mut out);
    }
    out
}

/// `v` under `key` (with `depth` parts): itself, or the leaves of an object.
fn leaves<'v>(
    key: &mut String,
    v: &'v Value,
    depth: usize,
    opts: &Options,
    out: &mut Vec<Entry<'v>>,
) {
    match v {
        Value::Null => {}
        Value::Object(m) if m.is_empty() => {}
        Value::Object(m) if depth < opts.max_depth => {
            let len = key.len();
            for (k, v) in m {
                key.truncate(len);
                key.push_str(&opts.separator);
                key.push_str(k);
                leaves(key, v, depth + 1, opts, out);
            }
            key.truncate(len);
        }
        _ => {
            if key.len() <= MAX_KEY {
                out.push((key.clone(), v));
            }
        }
    }
}

/// Keys already in the record: a list for the usual handful, a set beyond (a hostile line with
/// 100,000 keys costs linear time, not quadratic).
#[derive(Default)]
struct Seen<'a> {
    list: Vec<&'a str>,
    set: Option<HashSet<&'a str>>,
}

impl<'a> Seen<'a> {
    /// Whether `k` is new (it is then remembered).
    fn insert(&mut self, k: &'a str) -> bool {
        if let Some(set) = &mut self.set {
            return set.insert(k);
        }
        if self.list.contains(&k) {
            return false;
        }
        self.list.push(k);
        if self.list.len() > 32 {
            self.set = Some(self.list.drain(..).collect());
        }
        true
    }
}

/// DataKit's status for a level name (case-insensitive), if it is one.
pub fn normalize_level(s: &str) -> Option<&'static str> {
    let t = s.trim().as_bytes();
    let mut buf = [0u8; 16];
    let lower = buf.get_mut(..t.len())?;
    for (d, c) in lower.iter_mut().zip(t) {
        *d = c.to_ascii_lowercase();
    }
    Some(match &*lower {
        b"f" | b"emerg" | b"emergency" | b"panic" => "emerg",
        b"a" | b"alert" => "alert",
        b"c" | b"crit" | b"critical" | b"fatal" | b"dpanic" => "critical",
        b"e" | b"err" | b"error" | b"severe" => "error",
        b"w" | b"warn" | b"warning" => "warning",
        b"n" | b"notice" => "notice",
        b"i" | b"info" | b"information" | b"informational" => "info",
        b"d" | b"debug" | b"dbg" | b"trace" | b"verbose" | b"v" | b"fine" | b"finer"
        | b"finest" => "debug",
        b"o" | b"s" | b"ok" | b"success" => "OK",
        b"unknown" => "unknown",
        _ => return None,
    })
}

/// DataKit's status for a numeric level: a syslog severity or a pino/bunyan level.
pub fn numeric_level(n: i64) -> Option<&'static str> {
    Some(match n {
        0 => "emerg",
        1 => "alert",
        2 | 60 => "critical",
        3 | 50 => "error",
        4 | 40 => "warning",
        5 => "notice",
        6 | 30 => "info",
        7 | 10 | 20 => "debug",
        _ => return None,
    })
}

fn level_of(v: &Value, numbers: bool) -> Option<&'static str> {
    match v {
        Value::String(s) => normalize_level(s),
        Value::Number(n) if numbers => n.as_i64().and_then(numeric_level),
        _ => None,
    }
}

/// The time in `v` read as `format`, in nanoseconds since the epoch.
pub fn parse_time(v: &Value, format: TimeFormat) -> Option<i64> {
    let Some(digits) = format.digits() else {
        return rfc3339_ns(v.as_str()?);
    };
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.checked_mul(10i64.pow(digits)),
            // Beyond i64 (u64): too far for nanoseconds anyway. A float: its shortest decimal
            // text (never an exponent), read exactly.
            None if n.is_u64() => None,
            None => decimal_ns(&n.as_f64()?.to_string(), digits),
        },
        Value::String(s) => decimal_ns(s.trim(), digits),
        _ => None,
    }
}

fn number_field(r: &mut Record<'_>, key: &str, n: &Number) {
    if let Some(i) = n.as_i64() {
        r.field(key, i);
    } else if let Some(u) = n.as_u64() {
        r.field(key, u);
    } else {
        match n.as_f64() {
            Some(f) if f.is_finite() => r.field(key, f),
            _ => r.field(key, n.to_string().as_str()),
        };
    }
}

/// Write `v` under `key` as a tag or a field; whether a field was written.
fn put(r: &mut Record<'_>, key: &str, v: &Value, tag: bool) -> bool {
    let text;
    let s: &str = match v {
        Value::Null => return false,
        Value::String(s) => s,
        Value::Bool(b) if !tag => {
            r.field(key, *b);
            return true;
        }
        Value::Number(n) if !tag => {
            number_field(r, key, n);
            return true;
        }
        // Numbers and booleans as tags; arrays, and objects past max_depth.
        other => {
            text = other.to_string();
            &text
        }
    };
    if tag {
        r.tag(key, s);
        false
    } else {
        r.field(key, s);
        true
    }
}

/// Write the record of one line (the pipeline's work, shared with native tests and benches).
pub fn write_line(line: &str, opts: &Options, out: &mut Records) {
    let text = line.strip_prefix('\u{feff}').unwrap_or(line);
    // Most non-JSON lines are refused here, before the parser.
    if !text.trim_start().starts_with('{') {
        return out.passthrough();
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(obj)) => write_object(&obj, opts, out),
        _ => out.passthrough(),
    }
}

/// Write the record of one parsed object.
pub fn write_object(obj: &Map<String, Value>, opts: &Options, out: &mut Records) {
    // The object's own message, and the top-level key it came from.
    let (message, message_key): (Option<Cow<'_, str>>, Option<&str>) = match obj.get("message") {
        Some(Value::String(s)) => (Some(Cow::Borrowed(s)), Some("message")),
        Some(v @ (Value::Number(_) | Value::Bool(_) | Value::Array(_))) => {
            (Some(Cow::Owned(v.to_string())), Some("message"))
        }
        _ => match obj.get("msg") {
            Some(Value::String(s)) => (Some(Cow::Borrowed(s)), Some("msg")),
            _ => (None, None),
        },
    };
    let entries = flatten(obj, message_key, opts);
    let find = |k: &str| entries.iter().position(|(e, _)| e == k);
    let time_at = opts.time_fields.iter().find_map(|k| find(k));
    let time = time_at.and_then(|i| parse_time(entries[i].1, opts.time_format));
    let time_at = time_at.filter(|_| time.is_some());
    let level_at = opts
        .level_fields
        .iter()
        .find_map(|(k, numbers)| find(k).map(|i| (i, *numbers)))
        .filter(|(i, _)| Some(*i) != time_at);
    let status = level_at.and_then(|(i, numbers)| level_of(entries[i].1, numbers));
    let level_at = level_at.map(|(i, _)| i).filter(|_| status.is_some());

    let mut r = out.record();
    let mut seen = Seen::default();
    seen.insert("message");
    let mut items = usize::from(message.is_some());
    if let Some(s) = status {
        r.tag("status", s);
        seen.insert("status");
        items += 1;
    }
    let mut fields = 0usize;
    for (i, (k, v)) in entries.iter().enumerate() {
        // Consumed keys go through `seen` too, so that a later duplicate is left out.
        if !seen.insert(k) || Some(i) == time_at || Some(i) == level_at {
            continue;
        }
        if items >= MAX_ITEMS {
            break;
        }
        let tag = opts.tags.iter().any(|t| t == k);
        if put(&mut r, k, v, tag) {
            fields += 1;
        }
        items += 1;
    }
    match message {
        Some(m) => {
            r.field("message", m.as_ref());
        }
        None if opts.keep_message || fields == 0 => {
            r.keep_message();
        }
        None => {}
    }
    if let Some(t) = time {
        r.time_ns(t);
    }
}

/// The pipeline.
pub struct Json {
    opts: Options,
}

impl Pipeline for Json {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "json",
            "0.1.0",
            "JSON logs (one object per line) flattened into fields, with time and level",
        )
        .measurement(
            MeasurementInfo::new(
                "json",
                "one JSON object; every key is a field under its flattened name (a.b), arrays and \
                 objects past max_depth as JSON text (the measurement is the source's)",
            )
            .category(Category::Logging)
            .tag(
                "status",
                "the level (level_field: level, severity, lvl, status) as DataKit's status",
            )
            .field(
                "message",
                FieldKind::Text,
                "",
                "the object's message or msg, else the raw line (keep_message)",
            )
            .field(
                "*",
                FieldKind::Text,
                "",
                "a string under its flattened key (a.b), or an array or object as JSON text",
            )
            .field("*", FieldKind::Int, "", "an integer that fits 64 bits")
            .field(
                "*",
                FieldKind::Uint,
                "",
                "an integer past i64 that fits u64",
            )
            .field("*", FieldKind::Float, "", "any other number")
            .field("*", FieldKind::Boolean, "", "true or false"),
        )
    }

    fn init(config: Config) -> Result<Self, String> {
        Ok(Json {
            opts: Options::from_config(&config)?,
        })
    }

    fn process_line(&mut self, line: &str, out: &mut Records) {
        write_line(line, &self.opts, out);
    }
}

sandkit_sdk::pipeline!(Json);
sandkit_sdk::default_conf!("../conf.toml");

#[cfg(test)]
mod tests;
