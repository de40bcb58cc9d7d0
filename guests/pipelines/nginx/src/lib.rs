//! `nginx` pipeline: nginx access logs into the fields of DataKit's nginx pipeline.
//!
//! The format is nginx's `combined`:
//!
//! ```text
//! $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
//! ```
//!
//! optionally followed by the usual extras, in any order: a quoted `$http_x_forwarded_for`, a bare
//! `$request_time` (seconds), and `key=value` timings (`rt=` request_time, `uct=`, `uht=`, `urt=`
//! upstream connect, header and response time; other keys keep their name).
//!
//! Fields (DataKit's names): `client_ip`, `http_ident`, `http_auth` (absent when `-`),
//! `http_method`, `http_url`, `http_version` (or `request` when the request line is not
//! `METHOD URL HTTP/x`), `status_code` (int), `bytes` (int), `referrer`, `agent` (absent when
//! `-`), `http_x_forwarded_for`, `request_time` and upstream times (float, seconds). The record's
//! time is `$time_local`; the `status` tag is DataKit's log level from the status code: 1xx
//! `info`, 2xx `OK`, 3xx `notice`, 4xx `warning`, 5xx `error`. A line that is not in this format
//! passes through as its `message` only.
//!
//! Config: `keep_message` (default true): keep the raw line as `message`, as DataKit does.

use sandkit_sdk::time::days_from_civil;
use sandkit_sdk::{Category, Config, FieldKind, MeasurementInfo, Pipeline, PluginInfo, Records};

/// One parsed access-log line; every string is a slice of the line.
#[derive(Debug, Clone, PartialEq)]
pub struct Access<'a> {
    pub client_ip: &'a str,
    pub ident: &'a str,
    pub auth: &'a str,
    /// `$time_local`, nanoseconds since the epoch (None when it does not parse).
    pub time_ns: Option<i64>,
    pub request: Request<'a>,
    pub status_code: i64,
    pub bytes: i64,
    pub referrer: &'a str,
    pub agent: &'a str,
    pub forwarded_for: Option<&'a str>,
    /// `$request_time` and `key=value` timings, in the order found.
    pub timings: [Option<(&'a str, f64)>; 4],
}

/// The request line, cut when it has the usual three parts.
#[derive(Debug, Clone, PartialEq)]
pub enum Request<'a> {
    Parts {
        method: &'a str,
        url: &'a str,
        version: &'a str,
    },
    Raw(&'a str),
}

/// Index of the first `b` in `hay`: sixteen bytes at a time with Wasm SIMD, inlined.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn find(hay: &[u8], b: u8) -> Option<usize> {
    use core::arch::wasm32::{u8x16_bitmask, u8x16_eq, u8x16_splat, v128, v128_load};
    let pattern = u8x16_splat(b);
    let mut at = 0;
    while at + 16 <= hay.len() {
        // SAFETY: `at + 16 <= hay.len()`: the sixteen bytes are in `hay`; v128_load needs no
        // alignment.
        let chunk = unsafe { v128_load(hay.as_ptr().add(at).cast::<v128>()) };
        let hits = u8x16_bitmask(u8x16_eq(chunk, pattern));
        if hits != 0 {
            return Some(at + hits.trailing_zeros() as usize);
        }
        at += 16;
    }
    find_swar(&hay[at..], b).map(|i| at + i)
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn find(hay: &[u8], b: u8) -> Option<usize> {
    find_swar(hay, b)
}

/// Index of the first `b` in `hay`: eight bytes at a time (SWAR), inlined. Fields of an access
/// line are short: this beats a call into a SIMD search, in Wasm and natively.
#[inline(always)]
fn find_swar(hay: &[u8], b: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * u64::from(b);
    let mut chunks = hay.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) ^ pattern;
        // The lowest byte of `w` that is zero sets the lowest bit here (higher ones may be
        // false positives, which the lowest set bit never is).
        let zero = w.wrapping_sub(LO) & !w & HI;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b)
        .map(|i| at + i)
}

/// A number of one to eighteen ASCII digits.
#[inline(always)]
fn digits(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 18 {
        return None;
    }
    let mut n = 0i64;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + i64::from(d);
    }
    Some(n)
}

/// A cursor over the bytes of a line.
struct Cursor<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    #[inline(always)]
    fn rest(&self) -> &'a [u8] {
        &self.s.as_bytes()[self.at..]
    }

    /// Up to (not including) the next `b`; the cursor moves past it.
    #[inline(always)]
    fn until(&mut self, b: u8) -> Option<&'a str> {
        let i = find(self.rest(), b)?;
        let out = &self.s[self.at..self.at + i];
        self.at += i + 1;
        Some(out)
    }

    #[inline(always)]
    fn expect(&mut self, b: u8) -> Option<()> {
        (self.rest().first() == Some(&b)).then(|| self.at += 1)
    }

    #[inline(always)]
    fn skip_spaces(&mut self) {
        while self.rest().first() == Some(&b' ') {
            self.at += 1;
        }
    }

    /// A space-separated token (to the next space or the end).
    #[inline(always)]
    fn token(&mut self) -> &'a str {
        let i = find(self.rest(), b' ').unwrap_or(self.rest().len());
        let out = &self.s[self.at..self.at + i];
        self.at += i;
        out
    }

    /// A double-quoted string (nginx escapes `"` inside as `\x22`, so the next `"` ends it).
    #[inline(always)]
    fn quoted(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        self.until(b'"')
    }
}

/// Parse one access-log line.
pub fn parse(line: &str) -> Option<Access<'_>> {
    let mut c = Cursor { s: line, at: 0 };
    let client_ip = c.until(b' ')?;
    let ident = c.until(b' ')?;
    let auth = c.until(b' ')?;
    c.expect(b'[')?;
    let time = c.until(b']')?;
    c.expect(b' ')?;
    let request = c.quoted()?;
    c.expect(b' ')?;
    let status_code = digits(c.token())?;
    c.expect(b' ')?;
    let bytes = digits(c.token())?;
    c.expect(b' ')?;
    let referrer = c.quoted()?;
    c.expect(b' ')?;
    let agent = c.quoted()?;
    let mut forwarded_for = None;
    let mut timings = [None; 4];
    let mut n = 0;
    loop {
        c.skip_spaces();
        match c.rest().first() {
            None => break,
            Some(b'"') => {
                let q = c.quoted()?;
                forwarded_for.get_or_insert(q);
            }
            Some(_) => {
                let t = c.token();
                let (key, value) = match t.split_once('=') {
                    // `urt="0.1, 0.2"`: a quoted value may hold spaces.
                    Some((k, v)) if v.starts_with('"') && !(v.len() > 1 && v.ends_with('"')) => {
                        let start = c.at - v.len() + 1;
                        let rest = c.until(b'"');
                        let end = c.at - usize::from(rest.is_some());
                        (timing_name(k), &line[start..end.max(start)])
                    }
                    Some((k, v)) => (timing_name(k), v.trim_matches('"')),
                    None => ("request_time", t),
                };
                // `-` (no upstream) and lists of upstream times (`0.1, 0.2`) are left out.
                if let (Ok(v), true) = (value.parse::<f64>(), n < timings.len()) {
                    timings[n] = Some((key, v));
                    n += 1;
                }
            }
        }
    }
    Some(Access {
        client_ip,
        ident,
        auth,
        time_ns: http_date_ns(time),
        request: split_request(request),
        status_code,
        bytes,
        referrer,
        agent,
        forwarded_for,
        timings,
    })
}

fn timing_name(key: &str) -> &str {
    match key {
        "rt" | "request_time" => "request_time",
        "uct" => "upstream_connect_time",
        "uht" => "upstream_header_time",
        "urt" => "upstream_response_time",
        other => other,
    }
}

fn split_request(r: &str) -> Request<'_> {
    let b = r.as_bytes();
    let Some(sp) = find(b, b' ') else {
        return Request::Raw(r);
    };
    // The protocol is the last word and short: look for its space from the end.
    let Some(last) = b.iter().rposition(|&c| c == b' ') else {
        return Request::Raw(r);
    };
    let (method, url, proto) = (&r[..sp], r.get(sp + 1..last), &r[last + 1..]);
    match url {
        Some(url) if last > sp && proto.starts_with("HTTP/") && !method.is_empty() => {
            Request::Parts {
                method,
                url,
                version: &proto[5..],
            }
        }
        _ => Request::Raw(r),
    }
}

/// `01/Mar/2024:13:55:36 +0100` as nanoseconds since the epoch.
pub fn http_date_ns(s: &str) -> Option<i64> {
    let b: &[u8; 26] = s.as_bytes().try_into().ok()?;
    if b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return None;
    }
    #[inline(always)]
    fn two(hi: u8, lo: u8) -> Option<i64> {
        let (h, l) = (hi.wrapping_sub(b'0'), lo.wrapping_sub(b'0'));
        (h < 10 && l < 10).then(|| i64::from(h) * 10 + i64::from(l))
    }
    let day = two(b[0], b[1])?;
    let month = match [b[3], b[4], b[5]] {
        [b'J', b'a', b'n'] => 1,
        [b'F', b'e', b'b'] => 2,
        [b'M', b'a', b'r'] => 3,
        [b'A', b'p', b'r'] => 4,
        [b'M', b'a', b'y'] => 5,
        [b'J', b'u', b'n'] => 6,
        [b'J', b'u', b'l'] => 7,
        [b'A', b'u', b'g'] => 8,
        [b'S', b'e', b'p'] => 9,
        [b'O', b'c', b't'] => 10,
        [b'N', b'o', b'v'] => 11,
        [b'D', b'e', b'c'] => 12,
        _ => return None,
    };
    let year = two(b[7], b[8])? * 100 + two(b[9], b[10])?;
    let (h, m, sec) = (two(b[12], b[13])?, two(b[15], b[16])?, two(b[18], b[19])?);
    let zone = two(b[22], b[23])? * 3600 + two(b[24], b[25])? * 60;
    let zone = match b[21] {
        b'+' => zone,
        b'-' => -zone,
        _ => return None,
    };
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + h * 3600 + m * 60 + sec - zone) * 1_000_000_000)
}

/// DataKit's log level for an HTTP status code.
pub fn status_level(code: i64) -> &'static str {
    match code {
        100..=199 => "info",
        200..=299 => "OK",
        300..=399 => "notice",
        400..=499 => "warning",
        500..=599 => "error",
        _ => "unknown",
    }
}

/// Write the record of one line (the pipeline's work, shared with the native bench).
pub fn write_line(line: &str, keep_message: bool, out: &mut Records) {
    let Some(a) = parse(line) else {
        out.passthrough();
        return;
    };
    let mut r = out.record();
    r.tag("status", status_level(a.status_code))
        .field("client_ip", a.client_ip);
    if a.ident != "-" {
        r.field("http_ident", a.ident);
    }
    if a.auth != "-" {
        r.field("http_auth", a.auth);
    }
    match a.request {
        Request::Parts {
            method,
            url,
            version,
        } => {
            r.field("http_method", method)
                .field("http_url", url)
                .field("http_version", version);
        }
        Request::Raw(req) => {
            r.field("request", req);
        }
    }
    r.field("status_code", a.status_code)
        .field("bytes", a.bytes);
    if a.referrer != "-" {
        r.field("referrer", a.referrer);
    }
    if a.agent != "-" {
        r.field("agent", a.agent);
    }
    if let Some(f) = a.forwarded_for.filter(|f| *f != "-") {
        r.field("http_x_forwarded_for", f);
    }
    for (k, v) in a.timings.iter().flatten() {
        r.field(k, *v);
    }
    if let Some(t) = a.time_ns {
        r.time_ns(t);
    }
    if keep_message {
        r.keep_message();
    }
}

/// The pipeline.
pub struct Nginx {
    keep_message: bool,
}

impl Pipeline for Nginx {
    fn describe() -> PluginInfo {
        let text = FieldKind::Text;
        PluginInfo::new(
            "nginx",
            "0.1.0",
            "nginx access logs (combined, with request_time) into DataKit's nginx fields",
        )
        .measurement(
            MeasurementInfo::new("nginx", "one request (the measurement is the source's)")
                .category(Category::Logging)
                .tag(
                    "status",
                    "log level from the status code: info, OK, notice, warning, error",
                )
                .field("client_ip", text, "", "$remote_addr")
                .field("http_ident", text, "", "the ident field (absent when -)")
                .field("http_auth", text, "", "$remote_user (absent when -)")
                .field("http_method", text, "", "request method")
                .field("http_url", text, "", "request URI")
                .field("http_version", text, "", "HTTP version (1.1, 2.0)")
                .field(
                    "request",
                    text,
                    "",
                    "the request line when it is not METHOD URL HTTP/x",
                )
                .field("status_code", FieldKind::Int, "", "$status")
                .field("bytes", FieldKind::Int, "bytes", "$body_bytes_sent")
                .field("referrer", text, "", "$http_referer (absent when -)")
                .field("agent", text, "", "$http_user_agent (absent when -)")
                .field("http_x_forwarded_for", text, "", "$http_x_forwarded_for")
                .field("request_time", FieldKind::Float, "s", "$request_time")
                .field(
                    "upstream_connect_time",
                    FieldKind::Float,
                    "s",
                    "$upstream_connect_time (uct=)",
                )
                .field(
                    "upstream_header_time",
                    FieldKind::Float,
                    "s",
                    "$upstream_header_time (uht=)",
                )
                .field(
                    "upstream_response_time",
                    FieldKind::Float,
                    "s",
                    "$upstream_response_time (urt=)",
                )
                .field(
                    "*",
                    FieldKind::Float,
                    "s",
                    "any other key=seconds pair after the user agent, under its own name",
                )
                .field("message", text, "", "the raw line (keep_message)"),
        )
    }

    fn init(config: Config) -> Result<Self, String> {
        config.check_keys(&["keep_message"])?;
        Ok(Nginx {
            keep_message: config.bool_or("keep_message", true)?,
        })
    }

    fn process_line(&mut self, line: &str, out: &mut Records) {
        write_line(line, self.keep_message, out);
    }
}

sandkit_sdk::pipeline!(Nginx);
sandkit_sdk::default_conf!("../conf.toml");

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"203.0.113.9 - alice [01/Mar/2024:13:55:36 +0100] "GET /api/v1/users/7?x=1 HTTP/1.1" 404 153 "https://example.com/" "curl/8.5.0" "10.0.0.1, 10.0.0.2" 0.012"#;

    #[test]
    fn combined_with_extras() {
        let a = parse(LINE).unwrap();
        assert_eq!(a.client_ip, "203.0.113.9");
        assert_eq!(a.auth, "alice");
        assert_eq!(
            a.request,
            Request::Parts {
                method: "GET",
                url: "/api/v1/users/7?x=1",
                version: "1.1"
            }
        );
        assert_eq!((a.status_code, a.bytes), (404, 153));
        assert_eq!(a.forwarded_for, Some("10.0.0.1, 10.0.0.2"));
        assert_eq!(a.timings[0], Some(("request_time", 0.012)));
        // 2024-03-01T12:55:36Z
        assert_eq!(a.time_ns, Some(1_709_297_736_000_000_000));
    }

    #[test]
    fn find_agrees_with_a_plain_search() {
        // Every position in and around the 8-byte chunks, with bytes that differ from the one
        // sought by the high bit and by one (the SWAR test's borderline cases).
        for len in 0..40 {
            for at in 0..=len {
                let mut hay = vec![b'!'; len];
                hay.iter_mut().step_by(3).for_each(|c| *c = 0xa0);
                if at < len {
                    hay[at] = b' ';
                }
                let want = hay.iter().position(|&c| c == b' ');
                assert_eq!(find(&hay, b' '), want, "len {len}, at {at}");
            }
        }
        assert_eq!(find(b"ab\x00cd", 0), Some(2));
    }

    #[test]
    fn numbers() {
        assert_eq!(digits("0"), Some(0));
        assert_eq!(digits("404"), Some(404));
        assert_eq!(digits("999999999999999999"), Some(999_999_999_999_999_999));
        for bad in ["", "-1", "+1", "1a", "1 ", "9999999999999999999"] {
            assert_eq!(digits(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(http_date_ns("01/Jan/1970:00:00:00 +0000"), Some(0));
        assert_eq!(
            http_date_ns("29/Feb/2024:23:59:59 -0130"),
            Some((1_709_251_199 + 5400) * 1_000_000_000)
        );
        assert_eq!(http_date_ns("1/Jan/1970:00:00:00 +0000"), None);
        assert_eq!(http_date_ns("01/Foo/1970:00:00:00 +0000"), None);
    }

    #[test]
    fn odd_requests_and_timings() {
        let a = parse(r#"1.2.3.4 - - [01/Mar/2024:00:00:00 +0000] "\x16\x03\x01" 400 0 "-" "-" rt=0.5 uct="-" urt=0.25"#).unwrap();
        assert_eq!(a.request, Request::Raw(r"\x16\x03\x01"));
        assert_eq!(a.timings[0], Some(("request_time", 0.5)));
        assert_eq!(a.timings[1], Some(("upstream_response_time", 0.25)));
        let a = parse(r#"1.2.3.4 - - [01/Mar/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-" uct="0.001" urt="0.1, 0.2" uht="0.5""#).unwrap();
        assert_eq!(a.timings[0], Some(("upstream_connect_time", 0.001)));
        assert_eq!(a.timings[1], Some(("upstream_header_time", 0.5)));
        assert_eq!(a.timings[2], None);
        assert!(parse("not an access log").is_none());
        assert!(parse(r#"1.2.3.4 - - [x] "GET / HTTP/1.1" abc 0 "-" "-""#).is_none());
    }
}
