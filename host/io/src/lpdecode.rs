//! InfluxDB line protocol decoding: the inverse of [`encode_points`](crate::encode_points),
//! streaming so input can arrive in chunks of any size.
//!
//! The rules are documented on [`LineDecoder`]. The work is split in two: `scan` finds where
//! a record ends, byte by byte, so input can come in any chunking; `parse` reads a complete
//! record.

mod parse;
mod scan;
#[cfg(test)]
mod tests;

use crate::{Category, DecodeError, DecodeReason, Point};
use scan::Scanner;
use std::fmt;

/// The default longest record, in bytes.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// The unit of timestamps in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    #[default]
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
    Minutes,
    Hours,
}

impl Precision {
    /// Nanoseconds in one unit.
    pub fn nanos(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
            Precision::Minutes => 60_000_000_000,
            Precision::Hours => 3_600_000_000_000,
        }
    }

    /// The `precision` parameter of InfluxDB's and DataKit's write APIs: `n`/`ns`, `u`/`us`/`µ`,
    /// `ms`, `s`, `m`, `h`.
    pub fn parse(s: &str) -> Option<Precision> {
        Some(match s {
            "n" | "ns" => Precision::Nanoseconds,
            "u" | "us" | "µ" | "µs" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            _ => return None,
        })
    }
}

/// What every record is decoded with.
#[derive(Debug, Clone, Copy)]
struct Settings {
    precision: Precision,
    default_time_ns: i64,
    category: Category,
    max_line_bytes: usize,
}

/// Record-by-record decoding of a buffer that the caller owns: `buf[start..]` is not consumed
/// yet, the current record starts at `start`, and `pos` is the next byte to scan.
#[derive(Debug, Clone)]
struct Records {
    settings: Settings,
    scanner: Scanner,
    /// The line number of the current record's first byte.
    line: usize,
    /// The current record passed the limit: its bytes are skipped up to its end.
    skipping: bool,
}

impl Records {
    fn new(settings: Settings) -> Self {
        Records {
            settings,
            scanner: Scanner::default(),
            line: 1,
            skipping: false,
        }
    }

    /// The next point or error, or `None` when `buf` holds no more complete record (with `eof`,
    /// the bytes after the last newline are a record too).
    fn next(
        &mut self,
        buf: &[u8],
        start: &mut usize,
        pos: &mut usize,
        eof: bool,
    ) -> Option<Result<Point, DecodeError>> {
        while let Some(&b) = buf.get(*pos) {
            *pos += 1;
            if self.scanner.push(b) {
                let rec = buf.get(*start..*pos - 1).unwrap_or_default();
                *start = *pos;
                if let Some(item) = self.end_record(rec) {
                    return Some(item);
                }
            } else if self.skipping {
                *start = *pos;
            } else if self.scanner.len() > self.settings.max_line_bytes {
                let rec = buf.get(*start..*pos).unwrap_or_default();
                let reason = DecodeReason::LineTooLong {
                    max: self.settings.max_line_bytes,
                };
                let err = locate(rec, rec.len().saturating_sub(1), self.line, reason);
                self.skipping = true;
                *start = *pos;
                return Some(Err(err));
            }
        }
        if eof && (*start < buf.len() || self.skipping) {
            let rec = buf.get(*start..).unwrap_or_default();
            *start = buf.len();
            return self.end_record(rec);
        }
        None
    }

    /// Decode a complete record (unless it is being skipped) and get ready for the next one.
    fn end_record(&mut self, rec: &[u8]) -> Option<Result<Point, DecodeError>> {
        let line = self.line;
        self.line += self.scanner.newlines() + 1;
        self.scanner = Scanner::default();
        if std::mem::take(&mut self.skipping) {
            return None;
        }
        match parse::record(rec, &self.settings) {
            Ok(point) => point.map(Ok),
            Err(f) => Some(Err(locate(rec, f.offset, line, f.reason))),
        }
    }
}

/// The error at byte `offset` of a record that starts at column 1 of `line`.
fn locate(rec: &[u8], offset: usize, line: usize, reason: DecodeReason) -> DecodeError {
    let before = rec.get(..offset).unwrap_or(rec);
    let newlines = before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    DecodeError {
        line: line + newlines,
        column: offset.saturating_sub(line_start) + 1,
        reason,
    }
}

/// A streaming line protocol decoder: [`feed`](Self::feed) it chunks as they arrive, take
/// points with [`next_point`](Self::next_point) (or as an iterator) until it returns `None`,
/// and call [`finish`](Self::finish) at the end of the input so that a last record without a
/// newline is decoded too.
///
/// The rules are InfluxDB's (1.x and 2.x), plus the escapes that the encoder writes:
/// - A record ends at a newline (`\n` or `\r\n`) that is not inside a string field value: as in
///   InfluxDB, string values may hold raw newlines. Blank lines and lines whose first non-blank
///   byte is `#` are skipped; leading spaces and tabs are skipped.
/// - In measurements, `\,` and `\ ` are escapes; in tag keys, tag values and field keys also
///   `\=`. In all of them `\n`, `\r`, `\t` and `\f` stand for newline, carriage return, tab and
///   form feed, `\\` for one backslash (InfluxDB 2.x), and a measurement that starts with `\#`
///   starts with `#`. Any other backslash is a plain byte.
/// - String field values are quoted; `\"` and `\\` are their escapes.
/// - Other field values: floats (`-1.5`, `2`, `1e-3`, `.5`), integers (`12i`), unsigned
///   integers (`12u`), booleans (`t`, `T`, `true`, `True`, `TRUE` and the same for false).
///   NaN and infinity are refused.
/// - The optional timestamp is a signed integer in the decoder's [`Precision`], scaled to
///   nanoseconds; without one a point gets the default time.
/// - Tag keys are sorted (by [`Point::new`]); empty keys, empty tag values, duplicate keys and
///   records without fields are refused.
///
/// A record longer than the limit (1 MiB by default, counted without its newline) is refused
/// as soon as the limit is passed and the rest of it is skipped without being kept, so memory
/// stays bounded whatever the input.
///
/// A bad record yields an error and decoding goes on with the next record. The decoder keeps
/// the fed bytes that it has not decoded yet; taking points as they come keeps that to about
/// one chunk plus one record.
///
/// ```
/// use sandkit_io::{Category, LineDecoder, Precision};
///
/// let mut decoder = LineDecoder::new(Precision::Seconds, 0, Category::Metric);
/// decoder.feed(b"cpu,host=a usage=0.5 17");
/// assert!(decoder.next_point().is_none()); // the record may go on
/// decoder.feed(b"00000000\nmem used=3i");
/// let cpu = decoder.next_point().unwrap().unwrap();
/// assert_eq!(cpu.timestamp_ns(), 1_700_000_000_000_000_000);
/// decoder.finish();
/// let mem = decoder.next_point().unwrap().unwrap();
/// assert_eq!(mem.timestamp_ns(), 0);
/// assert!(decoder.next_point().is_none());
/// ```
pub struct LineDecoder {
    records: Records,
    buf: Vec<u8>,
    start: usize,
    pos: usize,
    eof: bool,
}

impl fmt::Debug for LineDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineDecoder")
            .field("settings", &self.records.settings)
            .field("line", &self.records.line)
            .field("buffered", &self.buffered())
            .field("finished", &self.eof)
            .finish()
    }
}

impl LineDecoder {
    /// A decoder for timestamps in `precision`; points without a timestamp get
    /// `default_time_ns`, and every point gets `category`.
    pub fn new(precision: Precision, default_time_ns: i64, category: Category) -> Self {
        LineDecoder {
            records: Records::new(Settings {
                precision,
                default_time_ns,
                category,
                max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            }),
            buf: Vec::new(),
            start: 0,
            pos: 0,
            eof: false,
        }
    }

    /// Refuse records longer than `max` bytes (without their newline) instead of
    /// [`DEFAULT_MAX_LINE_BYTES`].
    pub fn with_max_line_bytes(mut self, max: usize) -> Self {
        self.records.settings.max_line_bytes = max;
        self
    }

    /// Add input. Feeding after [`finish`](Self::finish) continues the same stream.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.eof = false;
        let done = self.start.min(self.buf.len());
        if done > 0 && done >= self.buf.len() - done {
            self.buf.drain(..done);
            self.pos -= done;
            self.start = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// Mark the end of the input: the bytes after the last newline are a record too.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    /// The next point, or the error of the next bad record; `None` when more input is needed
    /// (or, after [`finish`](Self::finish), when the input is used up).
    ///
    /// # Errors
    /// A record that breaks the rules of [`LineDecoder`], or that is longer than the limit.
    pub fn next_point(&mut self) -> Option<Result<Point, DecodeError>> {
        let item = self
            .records
            .next(&self.buf, &mut self.start, &mut self.pos, self.eof);
        if item.is_none() && self.start >= self.buf.len() {
            self.buf.clear();
            self.start = 0;
            self.pos = 0;
        }
        item
    }

    /// Bytes fed and not yet consumed: the current record so far and the records after it.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }
}

impl Iterator for LineDecoder {
    type Item = Result<Point, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_point()
    }
}

/// Decode a whole input (the last record may lack its newline), stopping at the first bad
/// record. Records are limited to [`DEFAULT_MAX_LINE_BYTES`].
///
/// ```
/// use sandkit_io::{decode_lines, Category, FieldValue, Precision};
///
/// let points = decode_lines(b"m,t=a f=1i 5\n", Precision::Nanoseconds, 0, Category::Metric)?;
/// assert_eq!(points[0].field("f"), Some(&FieldValue::Int(1)));
///
/// let err = decode_lines(b"m f=1i\nm f=12x", Precision::Nanoseconds, 0, Category::Metric)
///     .unwrap_err();
/// assert_eq!(err.to_string(), r#"line 2, column 5: invalid field value "12x""#);
/// # Ok::<(), sandkit_io::DecodeError>(())
/// ```
///
/// # Errors
/// The first record that breaks the rules of [`LineDecoder`], or that is too long.
pub fn decode_lines(
    input: &[u8],
    precision: Precision,
    default_time_ns: i64,
    category: Category,
) -> Result<Vec<Point>, DecodeError> {
    let mut records = Records::new(Settings {
        precision,
        default_time_ns,
        category,
        max_line_bytes: DEFAULT_MAX_LINE_BYTES,
    });
    let (mut start, mut pos) = (0, 0);
    let mut points = Vec::new();
    while let Some(item) = records.next(input, &mut start, &mut pos, true) {
        points.push(item?);
    }
    Ok(points)
}
