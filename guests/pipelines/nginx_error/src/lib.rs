//! `nginx_error` pipeline: nginx error logs into the fields of DataKit's nginx pipeline.
//!
//! The format (nginx's `error_log`; the multi-line joining is the host's):
//!
//! ```text
//! 2024/10/10 13:55:36 [error] 1234#5678: *99 open() "/var/www/x" failed (2: No such file or directory), client: 10.0.0.1, server: example.com, request: "GET /x HTTP/1.1", host: "example.com", referrer: "https://a/"
//! ```
//!
//! that is `$date $time [$level] $pid#$tid: [*$connection ]$message[, client: ..., key: value...]`.
//!
//! Fields (DataKit's names): `pid`, `tid` (int), `connection_id` (int, the `*N`; absent when the
//! line has none), `msg` (the message, without the trailing pairs), and from the trailing
//! `key: value` pairs (quoted values without their quotes): `client_ip` (client), `server`,
//! `http_method`, `http_url`, `http_version` (from `request: "METHOD URL HTTP/x.y"`; `request`
//! when it is not in that form), `ip_or_host` (host: DataKit's name, which also keeps clear of
//! the agent's `host` tag), `referrer`, `upstream`; any other key under its own name (as
//! written, e.g. `subrequest`, `login`, `bytes from/to client`). Empty values, keys already
//! written, keys named like the line's own parts (`status`, `pid`, `tid`, `connection_id`, `msg`,
//! `message`, `time`) and pairs past the 32nd are left out.
//!
//! The trailing pairs start at `, client: `. The message may hold that text too (a quoted file
//! name from a request's path), so the first of the first four `, client: ` from which the rest
//! of the line reads as pairs is taken; when none does, the whole rest is `msg`.
//!
//! The record's time is the line's, which nginx writes in local time without a zone (config
//! `timezone`). The `status` tag is the level as DataKit's status: debug, info, notice,
//! `warn` -> warning, error, `crit` -> critical, alert, emerg. A line that is not in this format
//! (another level, a missing `pid#tid:`, nginx's own `nginx: [emerg] ...` on stderr) passes
//! through as its `message` only.
//!
//! Config:
//! - `timezone` (default "+00:00"): the offset of nginx's local time, "+08:00", "-0500", "Z" or
//!   "UTC".
//! - `keep_message` (default true): keep the raw line as `message`, as DataKit does.

use memchr::{memchr, memmem};
use sandkit_sdk::time::{days_from_civil, days_in_month};
use sandkit_sdk::{Category, Config, FieldKind, MeasurementInfo, Pipeline, PluginInfo, Records};

/// How many `, client: ` are tried as the start of the trailing pairs.
const TAIL_TRIES: usize = 4;
/// The most trailing pairs written (nginx writes at most about eight).
const MAX_PAIRS: usize = 32;
/// The longest key of a trailing pair.
const MAX_KEY: usize = 64;
/// Names the line's own parts take; a trailing key of one of these names is left out.
const RESERVED: [&str; 7] = [
    "status",
    "pid",
    "tid",
    "connection_id",
    "msg",
    "message",
    "time",
];

/// One parsed error-log line; every string is a slice of the line.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorLine<'a> {
    /// The local date and time, in seconds since the epoch as if it were UTC (None when a part
    /// is out of range, like a 13th month).
    pub local_secs: Option<i64>,
    /// DataKit's status for the level.
    pub status: &'static str,
    pub pid: i64,
    pub tid: i64,
    pub connection_id: Option<i64>,
    pub msg: &'a str,
    /// The trailing pairs, from `client: ` on (empty when none); read them with [`pairs`].
    pub tail: &'a str,
}

/// Parse one error-log line.
pub fn parse(line: &str) -> Option<ErrorLine<'_>> {
    let b = line.as_bytes();
    if b.len() < 21 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in &b[r] {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + i64::from(d);
        }
        Some(v)
    };
    if b[4] != b'/'
        || b[7] != b'/'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b' '
        || b[20] != b'['
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, m, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let local_secs = ((1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && h <= 23
        && m <= 59
        && s <= 60)
        .then(|| days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s);

    let rest = &line[21..];
    let (level, rest) = rest.split_once("] ")?;
    let status = match level {
        "debug" => "debug",
        "info" => "info",
        "notice" => "notice",
        "warn" => "warning",
        "error" => "error",
        "crit" => "critical",
        "alert" => "alert",
        "emerg" => "emerg",
        _ => return None,
    };
    let hash = memchr(b'#', rest.as_bytes())?;
    let pid = int(&rest[..hash])?;
    let rest = &rest[hash + 1..];
    let colon = memchr(b':', rest.as_bytes())?;
    let tid = int(&rest[..colon])?;
    let rest = &rest[colon + 1..];
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let (connection_id, rest) = match rest
        .strip_prefix('*')
        .and_then(|r| r.split_once(' '))
        .and_then(|(n, m)| Some((int(n)?, m)))
    {
        Some((n, m)) => (Some(n), m),
        None => (None, rest),
    };
    let (msg, tail) = split_tail(rest);
    Some(ErrorLine {
        local_secs,
        status,
        pid,
        tid,
        connection_id,
        msg,
        tail,
    })
}

/// A decimal integer of 1 to 18 digits.
fn int(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The message and the trailing pairs (from `client: ` on, or "").
fn split_tail(s: &str) -> (&str, &str) {
    for i in memmem::find_iter(s.as_bytes(), b", client: ").take(TAIL_TRIES) {
        let tail = &s[i + 2..];
        if valid_tail(tail) {
            return (&s[..i], tail);
        }
    }
    (s, "")
}

fn valid_tail(mut s: &str) -> bool {
    while !s.is_empty() {
        match pair(s) {
            Some((_, rest)) => s = rest,
            None => return false,
        }
    }
    true
}

/// The length of the key at the start of `s` when a `:` follows it: a letter, then letters,
/// digits, `_`, `-`, `/` or spaces (`bytes from/to client:0/0`).
fn key_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let colon = memchr(b':', &b[..b.len().min(MAX_KEY + 1)])?;
    let key = &b[..colon];
    let ok = key.first().is_some_and(u8::is_ascii_alphabetic)
        && key
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'/' | b' '));
    ok.then_some(colon)
}

/// The first `key: value` of `s` and the rest after its `, `. A quoted value ends at the first
/// `"` followed by the end, or by `, ` and a pair (nginx does not escape a `"` in a request line,
/// so `request: "GET /a", b: c HTTP/1.1", host: "h"` reads as it should); an unquoted one at the
/// next `, `.
fn pair(s: &str) -> Option<((&str, &str), &str)> {
    pair_at(s, true)
}

/// [`pair`], with `look_ahead` false for the pair after a quoted value (where a key is enough).
fn pair_at(s: &str, look_ahead: bool) -> Option<((&str, &str), &str)> {
    let k = key_len(s)?;
    let key = &s[..k];
    let v = &s[k + 1..];
    let v = v.strip_prefix(' ').unwrap_or(v);
    if let Some(q) = v.strip_prefix('"') {
        let mut from = 0;
        loop {
            let i = from + memchr(b'"', &q.as_bytes()[from..])?;
            let after = &q[i + 1..];
            if after.is_empty() {
                return Some(((key, &q[..i]), ""));
            }
            if let Some(rest) = after.strip_prefix(", ") {
                let next = if look_ahead {
                    pair_at(rest, false).is_some()
                } else {
                    key_len(rest).is_some()
                };
                if next {
                    return Some(((key, &q[..i]), rest));
                }
            }
            from = i + 1;
        }
    }
    let (value, rest) = match memmem::find(v.as_bytes(), b", ") {
        Some(i) => (&v[..i], &v[i + 2..]),
        None => (v, ""),
    };
    // A `"` is a quoted value cut short; a `, ` at the very end, a missing pair.
    if value.contains('"') || (rest.is_empty() && v.len() != value.len()) {
        return None;
    }
    Some(((key, value), rest))
}

/// The trailing pairs of a tail, in order.
pub fn pairs(tail: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut s = tail;
    std::iter::from_fn(move || {
        let (p, rest) = pair(s)?;
        s = rest;
        Some(p)
    })
}

/// The request line, cut when it is `METHOD URL HTTP/x.y`.
#[derive(Debug, Clone, PartialEq)]
pub enum Request<'a> {
    Parts {
        method: &'a str,
        url: &'a str,
        version: &'a str,
    },
    Raw(&'a str),
}

pub fn split_request(r: &str) -> Request<'_> {
    let Some((method, rest)) = r.split_once(' ') else {
        return Request::Raw(r);
    };
    match rest.rsplit_once(' ') {
        Some((url, proto))
            if proto.len() > 5 && proto.starts_with("HTTP/") && !method.is_empty() =>
        {
            Request::Parts {
                method,
                url,
                version: &proto[5..],
            }
        }
        _ => Request::Raw(r),
    }
}

/// A UTC offset in seconds: `+08:00`, `-0530`, `Z`, `UTC`.
pub fn parse_offset(s: &str) -> Option<i64> {
    if s == "Z" || s.eq_ignore_ascii_case("utc") {
        return Some(0);
    }
    let b = s.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = match &b[1..] {
        [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => ([*h1, *h2], [*m1, *m2]),
        _ => return None,
    };
    let two = |d: [u8; 2]| -> Option<i64> {
        let (a, b) = (d[0].wrapping_sub(b'0'), d[1].wrapping_sub(b'0'));
        (a < 10 && b < 10).then(|| i64::from(a * 10 + b))
    };
    let (h, m) = (two(h)?, two(m)?);
    (h <= 23 && m <= 59).then_some(sign * (h * 3600 + m * 60))
}

/// The pipeline's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// nginx's local time minus UTC, in seconds.
    pub offset_secs: i64,
    pub keep_message: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            offset_secs: 0,
            keep_message: true,
        }
    }
}

impl Options {
    /// The settings of a `[config]` table.
    ///
    /// # Errors
    /// An unknown key, a value of the wrong type, a timezone that is not an offset.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        config.check_keys(&["timezone", "keep_message"])?;
        let tz = config.str_or("timezone", "+00:00")?;
        let offset_secs = parse_offset(&tz).ok_or_else(|| {
            format!("config key \"timezone\": expected an offset like \"+08:00\" (got {tz:?})")
        })?;
        Ok(Options {
            offset_secs,
            keep_message: config.bool_or("keep_message", true)?,
        })
    }
}

/// Write the record of one line (the pipeline's work, shared with native tests and benches).
pub fn write_line(line: &str, opts: &Options, out: &mut Records) {
    let Some(e) = parse(line) else {
        out.passthrough();
        return;
    };
    let mut r = out.record();
    r.tag("status", e.status)
        .field("pid", e.pid)
        .field("tid", e.tid);
    if let Some(c) = e.connection_id {
        r.field("connection_id", c);
    }
    r.field("msg", e.msg);
    // Names written from the pairs, to leave out a repeated key (a request writes four).
    let mut written: [&str; MAX_PAIRS + 3] = [""; MAX_PAIRS + 3];
    let mut n = 0;
    for (key, value) in pairs(e.tail).take(MAX_PAIRS) {
        if value.is_empty() {
            continue;
        }
        let name = match key {
            "client" => "client_ip",
            "host" => "ip_or_host",
            other => other,
        };
        if RESERVED.contains(&name) || written[..n].contains(&name) {
            continue;
        }
        written[n] = name;
        n += 1;
        if name != "request" {
            r.field(name, value);
            continue;
        }
        match split_request(value) {
            Request::Parts {
                method,
                url,
                version,
            } if !["http_method", "http_url", "http_version"]
                .iter()
                .any(|k| written[..n].contains(k)) =>
            {
                r.field("http_method", method)
                    .field("http_url", url)
                    .field("http_version", version);
                written[n..n + 3].copy_from_slice(&["http_method", "http_url", "http_version"]);
                n += 3;
            }
            _ => {
                r.field("request", value);
            }
        }
    }
    if let Some(t) = e
        .local_secs
        .and_then(|s| s.checked_sub(opts.offset_secs)?.checked_mul(1_000_000_000))
    {
        r.time_ns(t);
    }
    if opts.keep_message {
        r.keep_message();
    }
}

/// The pipeline.
pub struct NginxError {
    opts: Options,
}

impl Pipeline for NginxError {
    fn describe() -> PluginInfo {
        let text = FieldKind::Text;
        let int = FieldKind::Int;
        PluginInfo::new(
            "nginx_error",
            "0.1.0",
            "nginx error logs into DataKit's nginx error fields",
        )
        .measurement(
            MeasurementInfo::new(
                "nginx",
                "one error-log entry (the measurement is the source's)",
            )
            .category(Category::Logging)
            .tag(
                "status",
                "the level: debug, info, notice, warning, error, critical, alert, emerg",
            )
            .field("pid", int, "", "the nginx process id")
            .field("tid", int, "", "the thread id")
            .field("connection_id", int, "", "the connection number (*N)")
            .field("msg", text, "", "the message, without the trailing pairs")
            .field("client_ip", text, "", "client:")
            .field("server", text, "", "server:")
            .field("http_method", text, "", "request method")
            .field("http_url", text, "", "request URI")
            .field("http_version", text, "", "HTTP version (1.1, 2.0)")
            .field(
                "request",
                text,
                "",
                "the request when it is not METHOD URL HTTP/x",
            )
            .field("ip_or_host", text, "", "host: (the request's Host header)")
            .field("referrer", text, "", "referrer:")
            .field("upstream", text, "", "upstream:")
            .field(
                "*",
                text,
                "",
                "any other trailing pair under its own key (subrequest, login, bytes from/to client)",
            )
            .field("message", text, "", "the raw line (keep_message)"),
        )
    }

    fn init(config: Config) -> Result<Self, String> {
        Ok(NginxError {
            opts: Options::from_config(&config)?,
        })
    }

    fn process_line(&mut self, line: &str, out: &mut Records) {
        write_line(line, &self.opts, out);
    }
}

sandkit_sdk::pipeline!(NginxError);
sandkit_sdk::default_conf!("../conf.toml");

#[cfg(test)]
mod tests;
