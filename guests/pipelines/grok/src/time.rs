//! Parsing the time capture into nanoseconds since the Unix epoch.
//!
//! Accepted forms (a capture in none of them stays a field):
//! - HTTPDATE: `01/Mar/2024:13:55:36 +0100`;
//! - ISO 8601 / RFC 3339 and the like: `2024-03-01T12:00:00.123Z`, `2024-03-01 12:00:00+08:00`,
//!   `2024-03-01T120000`, `2024/03/01 12:00:00` (with `-` or `/` between the date's parts,
//!   `T` or spaces before the time, optional colons in it, a fraction after `.` or `,`);
//! - SYSLOGTIMESTAMP: `Mar  1 12:00:00` (month names in English, abbreviated or full), with an
//!   optional year after it (`Mar 1 12:00:00 2024`);
//! - all digits: 10 (Unix seconds), 13 (milliseconds), 16 (microseconds), 19 (nanoseconds), or
//!   14 (`20240301120000`, DATESTAMP_EVENTLOG).
//!
//! A zone is `Z`, `UTC`, `GMT`, `+08`, `+0800` or `+08:00`; a time without one is in the
//! configured offset (`timezone`), and a syslog time without a year is in the configured `year`.

use sandkit_sdk::time::{days_from_civil, days_in_month};

/// Where a time without a zone or a year is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    /// Seconds east of UTC.
    pub offset_s: i64,
    pub year: i64,
}

/// A cursor over the bytes of a time.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.at += usize::from(hit);
        hit
    }

    fn eat_any(&mut self, set: &[u8]) -> bool {
        match self.peek() {
            Some(c) if set.contains(&c) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn skip_spaces(&mut self) -> usize {
        let start = self.at;
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
        self.at - start
    }

    /// From `min` to `max` digits as a number.
    fn num(&mut self, min: usize, max: usize) -> Option<i64> {
        let start = self.at;
        let mut v: i64 = 0;
        while self.at - start < max {
            match self.peek() {
                Some(c @ b'0'..=b'9') => {
                    v = v * 10 + i64::from(c - b'0');
                    self.at += 1;
                }
                _ => break,
            }
        }
        (self.at - start >= min).then_some(v)
    }

    fn done(&self) -> bool {
        self.at == self.b.len()
    }

    /// `.123` or `,123456789`: nanoseconds (digits past the ninth are ignored); 0 when absent.
    fn fraction(&mut self) -> Option<i64> {
        if !self.eat_any(b".,") {
            return Some(0);
        }
        let start = self.at;
        let mut ns: i64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            if self.at - start < 9 {
                ns = ns * 10 + i64::from(c - b'0');
            }
            self.at += 1;
        }
        let n = self.at - start;
        if n == 0 {
            return None;
        }
        for _ in n..9 {
            ns *= 10;
        }
        Some(ns)
    }

    /// `HH:MM:SS`, the colons optional when `loose`; seconds optional when `loose`.
    fn clock(&mut self, loose: bool) -> Option<(i64, i64, i64, i64)> {
        let h = self.num(1, 2)?;
        if !self.eat(b':') && !loose {
            return None;
        }
        let m = self.num(2, 2)?;
        let colon = self.eat(b':');
        let (s, ns) = match self.peek() {
            Some(b'0'..=b'9') if colon || loose => (self.num(2, 2)?, self.fraction()?),
            _ if colon || !loose => return None,
            _ => (0, 0),
        };
        (h <= 23 && m <= 59 && s <= 60).then_some((h, m, s, ns))
    }

    /// A zone at the end (after optional spaces), or `default` when there is none.
    fn zone(&mut self, default: i64) -> Option<i64> {
        self.skip_spaces();
        if self.done() {
            return Some(default);
        }
        let z = zone_offset(&self.b[self.at..])?;
        self.at = self.b.len();
        Some(z)
    }
}

/// `Z`, `UTC`, `GMT`, `+08`, `+0800` or `+08:00` as seconds east of UTC.
pub fn zone_offset(z: &[u8]) -> Option<i64> {
    if z.eq_ignore_ascii_case(b"z")
        || z.eq_ignore_ascii_case(b"utc")
        || z.eq_ignore_ascii_case(b"gmt")
    {
        return Some(0);
    }
    let mut c = Cursor { b: z, at: 0 };
    let sign = match c.peek()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    c.at += 1;
    let h = c.num(2, 2)?;
    let m = if c.done() {
        0
    } else {
        c.eat(b':');
        c.num(2, 2)?
    };
    (c.done() && h <= 23 && m <= 59).then_some(sign * (h * 3600 + m * 60))
}

fn month(name: &[u8]) -> Option<i64> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let p = name.get(..3)?;
    MONTHS
        .iter()
        .position(|m| p.eq_ignore_ascii_case(&m[..]))
        .map(|i| i as i64 + 1)
}

/// The time as nanoseconds since the epoch, from its parts.
fn to_ns(date: (i64, i64, i64), clock: (i64, i64, i64, i64), offset_s: i64) -> Option<i64> {
    let (y, mo, d) = date;
    let (h, mi, s, ns) = clock;
    if !(1..=12).contains(&mo)
        || !(1..=days_in_month(y, mo)).contains(&d)
        || !(0..=9999).contains(&y)
    {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset_s;
    secs.checked_mul(1_000_000_000)?.checked_add(ns)
}

/// Parse a time capture; `None` when it is in none of the accepted forms.
pub fn parse(s: &str, defaults: Defaults) -> Option<i64> {
    let b = s.trim().as_bytes();
    let first = *b.first()?;
    if b.iter().all(u8::is_ascii_digit) {
        return digits(b, defaults);
    }
    let mut c = Cursor { b, at: 0 };
    if first.is_ascii_alphabetic() {
        return syslog(&mut c, defaults);
    }
    if b.len() > 4 && b[..4].iter().all(u8::is_ascii_digit) && matches!(b[4], b'-' | b'/') {
        return iso(&mut c, defaults);
    }
    http_date(&mut c, defaults)
}

/// Unix seconds (10 digits), milliseconds (13), microseconds (16), nanoseconds (19), or
/// `YYYYMMDDHHMMSS` (14, in the configured offset).
fn digits(b: &[u8], d: Defaults) -> Option<i64> {
    if b.len() == 14 {
        let mut c = Cursor { b, at: 0 };
        let date = (c.num(4, 4)?, c.num(2, 2)?, c.num(2, 2)?);
        let (h, m, s) = (c.num(2, 2)?, c.num(2, 2)?, c.num(2, 2)?);
        if h > 23 || m > 59 || s > 60 {
            return None;
        }
        return to_ns(date, (h, m, s, 0), d.offset_s);
    }
    let v: i64 = std::str::from_utf8(b).ok()?.parse().ok()?;
    match b.len() {
        10 => v.checked_mul(1_000_000_000),
        13 => v.checked_mul(1_000_000),
        16 => v.checked_mul(1_000),
        19 => Some(v),
        _ => None,
    }
}

/// `YYYY-MM-DD[T ]HH:MM[:SS[.frac]][zone]` (or `/` between the date's parts).
fn iso(c: &mut Cursor<'_>, d: Defaults) -> Option<i64> {
    let y = c.num(4, 4)?;
    let sep = c.peek()?;
    c.at += 1;
    let mo = c.num(1, 2)?;
    if !c.eat(sep) {
        return None;
    }
    let day = c.num(1, 2)?;
    if !c.eat_any(b"Tt") && c.skip_spaces() == 0 {
        return None;
    }
    let clock = c.clock(true)?;
    let offset = c.zone(d.offset_s)?;
    to_ns((y, mo, day), clock, offset)
}

/// `DD/Mon/YYYY:HH:MM:SS[.frac] +zzzz` (without a zone: in the configured offset).
fn http_date(c: &mut Cursor<'_>, d: Defaults) -> Option<i64> {
    let day = c.num(1, 2)?;
    if !c.eat(b'/') {
        return None;
    }
    let start = c.at;
    while c.peek().is_some_and(|x| x.is_ascii_alphabetic()) {
        c.at += 1;
    }
    let mo = month(&c.b[start..c.at])?;
    if !c.eat(b'/') {
        return None;
    }
    let y = c.num(4, 4)?;
    if !c.eat(b':') {
        return None;
    }
    let clock = c.clock(false)?;
    let offset = c.zone(d.offset_s)?;
    to_ns((y, mo, day), clock, offset)
}

/// `Mon DD HH:MM:SS[.frac][ YYYY]`.
fn syslog(c: &mut Cursor<'_>, d: Defaults) -> Option<i64> {
    let start = c.at;
    while c.peek().is_some_and(|x| x.is_ascii_alphabetic()) {
        c.at += 1;
    }
    let mo = month(&c.b[start..c.at])?;
    if c.skip_spaces() == 0 {
        return None;
    }
    let day = c.num(1, 2)?;
    if c.skip_spaces() == 0 {
        return None;
    }
    let clock = c.clock(false)?;
    let year = if c.skip_spaces() > 0 {
        c.num(4, 4)?
    } else {
        d.year
    };
    if !c.done() {
        return None;
    }
    to_ns((year, mo, day), clock, d.offset_s)
}
