//! Reading the encoding: everything the guest wrote is checked here: bounds, UTF-8, references
//! that fall on character boundaries of the batch data, line numbers within the batch, and the
//! output limits. A bad output is an error that names the byte; it never panics (the agent
//! fuzzes it with arbitrary bytes).

use crate::{kind, Value, F_MESSAGE, F_TIME, HEADER, MAGIC};
use std::fmt;

/// Records one input line may produce.
pub const MAX_RECORDS_PER_LINE: usize = 1_000;
/// What the records of one output may add up to once references into the batch are expanded
/// (keys, values and a fixed cost per item and record): this many times the batch's text...
pub const MAX_EXPANSION: usize = 8;
/// ... plus this much per line.
pub const EXPANSION_PER_LINE: usize = 4096;
/// The fixed cost of a record and of an item in that count (what the agent spends on one).
const RECORD_COST: usize = 64;
const ITEM_COST: usize = 16;

/// The most the records of a batch of `lines` lines and `data_len` bytes may expand to.
pub fn expansion_budget(data_len: usize, lines: usize) -> usize {
    data_len
        .saturating_mul(MAX_EXPANSION)
        .saturating_add(lines.saturating_mul(EXPANSION_PER_LINE))
}

/// A malformed output, or one past the output limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Byte offset in the output.
    pub at: usize,
    pub reason: String,
    /// Well formed, but more than a pipeline call may produce ([`MAX_RECORDS_PER_LINE`],
    /// [`expansion_budget`]).
    pub over_limit: bool,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed record encoding at byte {}: {}",
            self.at, self.reason
        )
    }
}

impl std::error::Error for RecordError {}

/// One item of a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Item<'a> {
    Tag(&'a str, &'a str),
    Field(&'a str, Value<'a>),
    Measurement(&'a str),
}

/// A record's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Index of the input line it came from.
    pub line: u32,
    pub time: Option<i64>,
    pub keep_message: bool,
}

/// Iterates over the records of an output, validating each.
#[derive(Debug)]
pub struct RecordReader<'a> {
    buf: &'a [u8],
    data: &'a str,
    lines: usize,
    at: usize,
    failed: bool,
    /// The items of the last record read, reused from one record to the next.
    scratch: Vec<Item<'a>>,
    /// Records per line so far.
    per_line: Vec<u32>,
    /// Expanded size of the records so far, and its cap.
    expanded: usize,
    budget: usize,
}

impl<'a> RecordReader<'a> {
    /// A reader over `output`, for a batch of `lines` lines whose text is `data`.
    ///
    /// # Errors
    /// When the output does not start with the magic.
    pub fn new(output: &'a [u8], data: &'a str, lines: usize) -> Result<Self, RecordError> {
        if output.get(..4) != Some(MAGIC.as_slice()) {
            return Err(RecordError {
                over_limit: false,
                at: 0,
                reason: format!(
                    "no SKR1 magic (the first bytes are {:?})",
                    &output[..output.len().min(4)]
                ),
            });
        }
        Ok(RecordReader {
            buf: output,
            data,
            lines,
            at: 4,
            failed: false,
            scratch: Vec::new(),
            per_line: Vec::new(),
            expanded: 0,
            budget: expansion_budget(data.len(), lines),
        })
    }

    /// Check a whole output without keeping anything; the number of records.
    ///
    /// # Errors
    /// The first malformed record.
    pub fn validate(output: &'a [u8], data: &'a str, lines: usize) -> Result<usize, RecordError> {
        let mut r = RecordReader::new(output, data, lines)?;
        let mut n = 0;
        while let Some(rec) = r.next_record() {
            rec?;
            n += 1;
        }
        Ok(n)
    }

    fn err(&self, at: usize, reason: impl Into<String>) -> RecordError {
        RecordError {
            over_limit: false,
            at,
            reason: reason.into(),
        }
    }

    fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], RecordError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.at..end];
                self.at = end;
                Ok(s)
            }
            None => Err(self.err(
                self.at,
                format!(
                    "{what} needs {n} bytes, {} are left",
                    self.buf.len() - self.at
                ),
            )),
        }
    }

    fn u16(&mut self, what: &str) -> Result<u16, RecordError> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, RecordError> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &str) -> Result<u64, RecordError> {
        let b = self.bytes(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn str_of(&mut self, len: usize, what: &str) -> Result<&'a str, RecordError> {
        let at = self.at;
        let b = self.bytes(len, what)?;
        // Keys and most values are short ASCII: checked a word at a time, without the general
        // validator's set-up (it was 4% of a file task's time on nginx lines).
        if b.is_ascii() {
            #[allow(unsafe_code)]
            // SAFETY: ASCII is valid UTF-8.
            return Ok(unsafe { std::str::from_utf8_unchecked(b) });
        }
        std::str::from_utf8(b)
            .map_err(|e| self.err(at + e.valid_up_to(), format!("{what} is not UTF-8")))
    }

    fn inline(&mut self, what: &str) -> Result<&'a str, RecordError> {
        let len = self.u32(what)? as usize;
        self.str_of(len, what)
    }

    fn by_ref(&mut self, what: &str) -> Result<&'a str, RecordError> {
        let at = self.at;
        let start = self.u32(what)? as usize;
        let len = self.u32(what)? as usize;
        start
            .checked_add(len)
            .and_then(|end| self.data.get(start..end))
            .ok_or_else(|| {
                self.err(
                    at,
                    format!(
                        "{what} refers to bytes {start}..+{len}, not a slice of the {}-byte batch on character boundaries",
                        self.data.len()
                    ),
                )
            })
    }

    /// Count `n` more expanded bytes against the budget.
    fn spend(&mut self, at: usize, n: usize) -> Result<(), RecordError> {
        self.expanded = self.expanded.saturating_add(n);
        if self.expanded > self.budget {
            return Err(RecordError {
                at,
                reason: format!(
                    "output limit: the records expand to more than {} bytes ({MAX_EXPANSION}x the batch's {} bytes plus {EXPANSION_PER_LINE} a line)",
                    self.budget,
                    self.data.len()
                ),
                over_limit: true,
            });
        }
        Ok(())
    }

    fn item(&mut self) -> Result<Item<'a>, RecordError> {
        let item = self.item_unchecked()?;
        let size = match item {
            Item::Tag(k, v) | Item::Field(k, Value::Text(v)) => k.len() + v.len(),
            Item::Field(k, _) => k.len() + 8,
            Item::Measurement(m) => m.len(),
        };
        self.spend(self.at, size + ITEM_COST)?;
        Ok(item)
    }

    fn item_unchecked(&mut self) -> Result<Item<'a>, RecordError> {
        let at = self.at;
        let kind = self.bytes(1, "item kind")?[0];
        let klen = self.u16("key length")? as usize;
        let key = self.str_of(klen, "key")?;
        if key.is_empty() != (kind == kind::MEASUREMENT) {
            return Err(self.err(
                at,
                if key.is_empty() {
                    "empty key"
                } else {
                    "a measurement item has a key"
                },
            ));
        }
        Ok(match kind {
            kind::TAG => Item::Tag(key, self.inline("tag value")?),
            kind::TAG_REF => Item::Tag(key, self.by_ref("tag value")?),
            kind::TEXT => Item::Field(key, Value::Text(self.inline("text value")?)),
            kind::TEXT_REF => Item::Field(key, Value::Text(self.by_ref("text value")?)),
            kind::INT => Item::Field(key, Value::Int(self.u64("int")? as i64)),
            kind::UINT => Item::Field(key, Value::Uint(self.u64("uint")?)),
            kind::FLOAT => Item::Field(key, Value::Float(f64::from_bits(self.u64("float")?))),
            kind::BOOL => match self.bytes(1, "bool")?[0] {
                0 => Item::Field(key, Value::Bool(false)),
                1 => Item::Field(key, Value::Bool(true)),
                b => return Err(self.err(self.at - 1, format!("bool byte {b}"))),
            },
            kind::MEASUREMENT => {
                let m = self.inline("measurement")?;
                if m.is_empty() {
                    return Err(self.err(at, "empty measurement"));
                }
                Item::Measurement(m)
            }
            k => return Err(self.err(at, format!("unknown item kind {k}"))),
        })
    }

    /// The next record, its items borrowed from the reader (no allocation per record); `None`
    /// at the end or after an error.
    pub fn next_record(&mut self) -> Option<Result<(Header, &[Item<'a>]), RecordError>> {
        if self.failed || self.at >= self.buf.len() {
            return None;
        }
        match self.record() {
            Ok(h) => Some(Ok((h, &self.scratch))),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }

    fn record(&mut self) -> Result<Header, RecordError> {
        let at = self.at;
        if self.buf.len() - self.at < HEADER {
            return Err(self.err(
                at,
                format!(
                    "a record header needs {HEADER} bytes, {} are left",
                    self.buf.len() - at
                ),
            ));
        }
        let line = self.u32("line")?;
        if line as usize >= self.lines {
            return Err(self.err(
                at,
                format!("record for line {line} of a batch of {} lines", self.lines),
            ));
        }
        if self.per_line.is_empty() {
            self.per_line = vec![0; self.lines];
        }
        let count = &mut self.per_line[line as usize];
        *count += 1;
        if *count as usize > MAX_RECORDS_PER_LINE {
            return Err(RecordError {
                at,
                reason: format!(
                    "output limit: line {line} has more than {MAX_RECORDS_PER_LINE} records"
                ),
                over_limit: true,
            });
        }
        self.spend(at, RECORD_COST)?;
        let flags = self.bytes(1, "flags")?[0];
        if flags & !(F_TIME | F_MESSAGE) != 0 {
            return Err(self.err(at + 4, format!("unknown flags {flags:#04x}")));
        }
        let time = self.u64("time")? as i64;
        let n = self.u16("item count")?;
        self.scratch.clear();
        for _ in 0..n {
            let item = self.item()?;
            self.scratch.push(item);
        }
        Ok(Header {
            line,
            time: (flags & F_TIME != 0).then_some(time),
            keep_message: flags & F_MESSAGE != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind;

    /// Writes the record encoding, for the tests (guests use the SDK's writer).
    #[derive(Debug)]
    pub struct RecordWriter {
        buf: Vec<u8>,
    }

    impl Default for RecordWriter {
        fn default() -> Self {
            RecordWriter {
                buf: MAGIC.to_vec(),
            }
        }
    }

    impl RecordWriter {
        /// Start a record for `line` with `time` and the message flag; then push its items.
        pub fn record(
            &mut self,
            line: u32,
            time: Option<i64>,
            keep_message: bool,
            items: &[Item<'_>],
        ) {
            self.buf.extend_from_slice(&line.to_le_bytes());
            let flags =
                if time.is_some() { F_TIME } else { 0 } | if keep_message { F_MESSAGE } else { 0 };
            self.buf.push(flags);
            self.buf.extend_from_slice(&time.unwrap_or(0).to_le_bytes());
            self.buf
                .extend_from_slice(&u16::try_from(items.len()).unwrap_or(u16::MAX).to_le_bytes());
            for item in items.iter().take(u16::MAX as usize) {
                let (k, key) = match item {
                    Item::Tag(k, _) => (kind::TAG, *k),
                    Item::Field(k, Value::Text(_)) => (kind::TEXT, *k),
                    Item::Field(k, Value::Int(_)) => (kind::INT, *k),
                    Item::Field(k, Value::Uint(_)) => (kind::UINT, *k),
                    Item::Field(k, Value::Float(_)) => (kind::FLOAT, *k),
                    Item::Field(k, Value::Bool(_)) => (kind::BOOL, *k),
                    Item::Measurement(_) => (kind::MEASUREMENT, ""),
                };
                let key = &key.as_bytes()[..key.len().min(u16::MAX as usize)];
                self.buf.push(k);
                self.buf
                    .extend_from_slice(&(key.len() as u16).to_le_bytes());
                self.buf.extend_from_slice(key);
                match item {
                    Item::Tag(_, v) | Item::Field(_, Value::Text(v)) | Item::Measurement(v) => {
                        self.buf.extend_from_slice(&(v.len() as u32).to_le_bytes());
                        self.buf.extend_from_slice(v.as_bytes());
                    }
                    Item::Field(_, Value::Int(x)) => self.buf.extend_from_slice(&x.to_le_bytes()),
                    Item::Field(_, Value::Uint(x)) => self.buf.extend_from_slice(&x.to_le_bytes()),
                    Item::Field(_, Value::Float(x)) => {
                        self.buf.extend_from_slice(&x.to_bits().to_le_bytes())
                    }
                    Item::Field(_, Value::Bool(x)) => self.buf.push(u8::from(*x)),
                }
            }
        }

        pub fn into_bytes(self) -> Vec<u8> {
            self.buf
        }
    }

    #[test]
    fn round_trip_and_references() {
        let data = "GET /x";
        let mut w = RecordWriter::default();
        w.record(
            0,
            Some(5),
            true,
            &[
                Item::Tag("status", "OK"),
                Item::Field("n", Value::Int(-3)),
                Item::Field("f", Value::Float(0.5)),
                Item::Field("b", Value::Bool(true)),
                Item::Field("u", Value::Uint(7)),
                Item::Measurement("web"),
            ],
        );
        w.record(0, None, false, &[Item::Field("t", Value::Text("é"))]);
        let mut out = w.into_bytes();
        // A reference item, as the SDK writes for slices of the line: text field "m" = data[0..3].
        let at = out.len();
        out.extend_from_slice(&0u32.to_le_bytes());
        out.push(0);
        out.extend_from_slice(&0i64.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.push(kind::TEXT_REF);
        out.extend_from_slice(&1u16.to_le_bytes());
        out.push(b'm');
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&3u32.to_le_bytes());
        let mut reader = RecordReader::new(&out, data, 1).unwrap();
        let mut recs = Vec::new();
        while let Some(r) = reader.next_record() {
            let (h, items) = r.unwrap();
            recs.push((h, items.to_vec()));
        }
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].0.time, Some(5));
        assert!(recs[0].0.keep_message);
        assert_eq!(recs[0].1[0], Item::Tag("status", "OK"));
        assert_eq!(recs[0].1[5], Item::Measurement("web"));
        assert_eq!(recs[1].0.time, None);
        assert_eq!(recs[1].1, [Item::Field("t", Value::Text("é"))]);
        assert_eq!(recs[2].1, [Item::Field("m", Value::Text("GET"))]);
        // The same reference past the data, or on a non-boundary, is refused with its byte.
        let mut bad = out.clone();
        let len_at = bad.len() - 4;
        bad[len_at..].copy_from_slice(&9u32.to_le_bytes());
        let e = RecordReader::validate(&bad, data, 1).unwrap_err();
        assert!(e.reason.contains("not a slice"), "{e}");
        assert!(e.at > at, "{e}");
        assert_eq!(RecordReader::validate(&out, data, 1), Ok(3));
    }

    #[test]
    fn errors_name_what_is_wrong() {
        assert!(RecordReader::new(b"SKR2", "", 0).is_err());
        let mut w = RecordWriter::default();
        w.record(3, None, false, &[Item::Field("n", Value::Int(1))]);
        let e = RecordReader::validate(&w.into_bytes(), "", 2).unwrap_err();
        assert!(e.reason.contains("line 3 of a batch of 2"), "{e}");
        let mut w = RecordWriter::default();
        w.record(0, None, false, &[Item::Field("n", Value::Int(1))]);
        let mut b = w.into_bytes();
        b.truncate(b.len() - 1);
        let e = RecordReader::validate(&b, "", 1).unwrap_err();
        assert!(e.reason.contains("int needs 8 bytes, 7 are left"), "{e}");
        let mut w = RecordWriter::default();
        w.record(0, None, false, &[Item::Field("", Value::Int(1))]);
        assert!(RecordReader::validate(&w.into_bytes(), "", 1)
            .unwrap_err()
            .reason
            .contains("empty key"));
    }
}
