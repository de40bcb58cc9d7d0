//! Writing the encoding: what a pipeline guest builds with the SDK, with no allocation per
//! record or per field.

use crate::{kind, prefix, Value, F_MESSAGE, F_TIME, HEADER, MAGIC};

/// A batch of input lines, as the host sent it.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    source: &'a str,
    data: &'a str,
    ends: &'a [u32],
}

impl<'a> Batch<'a> {
    /// A batch over `data` with line `i` at `data[ends[i-1]..ends[i]]`.
    ///
    /// # Errors
    /// When an end is out of order, past `data`, or not on a character boundary.
    pub fn new(source: &'a str, data: &'a str, ends: &'a [u32]) -> Result<Self, String> {
        let mut prev = 0usize;
        for (i, &e) in ends.iter().enumerate() {
            let e = e as usize;
            if e < prev || e > data.len() || !data.is_char_boundary(e) {
                return Err(format!(
                    "line {i} of the batch ends at byte {e}, which is not a line end in {} bytes",
                    data.len()
                ));
            }
            prev = e;
        }
        Ok(Batch { source, data, ends })
    }

    /// The source the lines come from (the file task or HTTP source).
    pub fn source(&self) -> &'a str {
        self.source
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the batch has no lines.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Line `i` (without its line break).
    ///
    /// # Panics
    /// When `i` is not below [`Batch::len`].
    #[inline]
    pub fn line(&self, i: usize) -> &'a str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }

    /// The lines in order.
    pub fn lines(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.len()).map(|i| self.line(i))
    }

    /// All lines concatenated (what `ends` indexes).
    pub fn data(&self) -> &'a str {
        self.data
    }
}

/// The records a pipeline makes from a batch, written straight into the output encoding.
#[derive(Debug)]
pub struct Records {
    buf: Vec<u8>,
    /// Address range of the batch's data: strings inside it are written as references.
    data_start: usize,
    data_len: usize,
    line: u32,
}

impl Records {
    /// An empty output for records of `batch`, with room for about `capacity` bytes.
    pub fn new(batch: &Batch<'_>, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity.max(64));
        buf.extend_from_slice(MAGIC);
        Records {
            buf,
            data_start: batch.data.as_ptr() as usize,
            data_len: batch.data.len(),
            line: 0,
        }
    }

    /// Set the input line the next records come from (the SDK's batch loop does this).
    pub fn set_line(&mut self, line: usize) {
        self.line = u32::try_from(line).unwrap_or(u32::MAX);
    }

    /// Start a record for the current line. Add its fields with the builder's methods; it is
    /// complete when the builder is dropped. A line may give zero, one or many records.
    #[inline]
    pub fn record(&mut self) -> Record<'_> {
        let at = self.buf.len();
        let l = self.line.to_le_bytes();
        // line, flags, time, item count (set when the record is dropped)
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(&l);
        self.buf.extend_from_slice(&header);
        Record {
            out: self,
            at,
            items: 0,
        }
    }

    /// A record that is the input line as it came, in the `message` field.
    pub fn passthrough(&mut self) {
        self.record().keep_message();
    }

    /// The encoded output.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no record was written.
    pub fn is_empty(&self) -> bool {
        self.buf.len() == MAGIC.len()
    }

    /// Where `s` lies in the batch's data, if it does.
    #[inline(always)]
    fn slice_of_data(&self, s: &str) -> Option<(u32, u32)> {
        let p = s.as_ptr() as usize;
        if p >= self.data_start && p + s.len() <= self.data_start + self.data_len {
            Some(((p - self.data_start) as u32, s.len() as u32))
        } else {
            None
        }
    }

    /// One item: kind, key and a fixed-size value, with one capacity check. Inlined, so that a
    /// constant key is copied with a few stores (a Wasm `memory.copy` is a call into the host).
    ///
    /// The item is written into room made with `resize` through slices of known length, not with
    /// `extend_from_slice`: that one stayed a call (`append_elements`, 4% of the nginx
    /// pipeline's time) ending in `memory.copy` for every key.
    #[inline(always)]
    fn item<const N: usize>(&mut self, kind: u8, key: &str, value: [u8; N]) {
        let k = key_bytes(key);
        let start = self.buf.len();
        self.buf.resize(start + 3 + k.len() + N, 0);
        let out = &mut self.buf[start..];
        let n = (k.len() as u16).to_le_bytes();
        out[0] = kind;
        out[1] = n[0];
        out[2] = n[1];
        out[3..3 + k.len()].copy_from_slice(k);
        out[3 + k.len()..].copy_from_slice(&value);
    }

    #[inline(always)]
    fn string(&mut self, inline: u8, by_ref: u8, key: &str, value: &str) {
        match self.slice_of_data(value) {
            Some((start, len)) => {
                let (s, l) = (start.to_le_bytes(), len.to_le_bytes());
                self.item(
                    by_ref,
                    key,
                    [s[0], s[1], s[2], s[3], l[0], l[1], l[2], l[3]],
                );
            }
            None => self.inline_string(inline, key, value),
        }
    }

    /// A string that is not a slice of the batch, copied into the output.
    fn inline_string(&mut self, kind: u8, key: &str, value: &str) {
        let v = prefix(value, u32::MAX as usize).as_bytes();
        self.item(kind, key, (v.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(v);
    }
}

/// A key's bytes, cut to the 65,535 its length field holds.
#[inline(always)]
fn key_bytes(key: &str) -> &[u8] {
    if key.len() <= u16::MAX as usize {
        key.as_bytes()
    } else {
        prefix(key, u16::MAX as usize).as_bytes()
    }
}

/// One record being written; complete when dropped. A record holds at most 65,535 items
/// (tags, fields and a measurement); items past that are left out.
#[derive(Debug)]
pub struct Record<'r> {
    out: &'r mut Records,
    at: usize,
    items: u16,
}

impl Record<'_> {
    #[inline(always)]
    fn counted(&mut self) -> &mut Self {
        self.items += 1;
        self
    }

    #[inline(always)]
    fn full(&self) -> bool {
        self.items == u16::MAX
    }

    /// Add a tag (indexed, low cardinality: status, method, host...). A tag with an empty key
    /// is left out (the host would refuse the record).
    #[inline(always)]
    pub fn tag(&mut self, key: &str, value: &str) -> &mut Self {
        if self.full() || key.is_empty() {
            return self;
        }
        self.out.string(kind::TAG, kind::TAG_REF, key, value);
        self.counted()
    }

    /// Add a field. A field with an empty key is left out (the host would refuse the record).
    #[inline(always)]
    pub fn field<'v>(&mut self, key: &str, value: impl Into<Value<'v>>) -> &mut Self {
        if self.full() || key.is_empty() {
            return self;
        }
        match value.into() {
            Value::Text(s) => self.out.string(kind::TEXT, kind::TEXT_REF, key, s),
            Value::Int(x) => self.out.item(kind::INT, key, x.to_le_bytes()),
            Value::Uint(x) => self.out.item(kind::UINT, key, x.to_le_bytes()),
            Value::Float(x) => self.out.item(kind::FLOAT, key, x.to_bits().to_le_bytes()),
            Value::Bool(x) => self.out.item(kind::BOOL, key, [u8::from(x)]),
        }
        self.counted()
    }

    /// Set the record's time in nanoseconds since the Unix epoch (default: when it was read).
    #[inline]
    pub fn time_ns(&mut self, ns: i64) -> &mut Self {
        self.out.buf[self.at + 4] |= F_TIME;
        self.out.buf[self.at + 5..self.at + 13].copy_from_slice(&ns.to_le_bytes());
        self
    }

    /// Keep the input line as the `message` field (the host adds it from its own copy).
    #[inline]
    pub fn keep_message(&mut self) -> &mut Self {
        self.out.buf[self.at + 4] |= F_MESSAGE;
        self
    }

    /// Send the record under another measurement than the source's (an empty name is
    /// ignored).
    pub fn measurement(&mut self, name: &str) -> &mut Self {
        if self.full() || name.is_empty() {
            return self;
        }
        self.out.inline_string(kind::MEASUREMENT, "", name);
        self.counted()
    }
}

impl Drop for Record<'_> {
    #[inline]
    fn drop(&mut self) {
        let n = self.items.to_le_bytes();
        self.out.buf[self.at + 13..self.at + 15].copy_from_slice(&n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{kind, prefix, F_MESSAGE, F_TIME, HEADER, MAGIC};

    #[test]
    fn slices_of_the_line_become_references_and_others_inline() {
        let data = "GET /a 200";
        let ends = [data.len() as u32];
        let batch = Batch::new("nginx", data, &ends).unwrap();
        let mut out = Records::new(&batch, 0);
        out.set_line(0);
        let line = batch.line(0);
        let owned = String::from("GET");
        out.record()
            .tag("method", &line[..3])
            .field("path", &owned)
            .field("status", 200i64)
            .time_ns(7)
            .keep_message();
        let b = out.into_bytes();
        assert_eq!(&b[..4], MAGIC);
        assert_eq!(u32::from_le_bytes(b[4..8].try_into().unwrap()), 0);
        assert_eq!(b[8], F_TIME | F_MESSAGE);
        assert_eq!(i64::from_le_bytes(b[9..17].try_into().unwrap()), 7);
        assert_eq!(u16::from_le_bytes(b[17..19].try_into().unwrap()), 3);
        // tag by reference: kind, key, start 0, len 3
        assert_eq!(b[19], kind::TAG_REF);
        assert_eq!(&b[22..28], b"method");
        assert_eq!(u32::from_le_bytes(b[28..32].try_into().unwrap()), 0);
        assert_eq!(u32::from_le_bytes(b[32..36].try_into().unwrap()), 3);
        // text inline
        assert_eq!(b[36], kind::TEXT);
        assert_eq!(&b[39..43], b"path");
        assert_eq!(u32::from_le_bytes(b[43..47].try_into().unwrap()), 3);
        assert_eq!(&b[47..50], b"GET");
        assert_eq!(b[50], kind::INT);
    }

    #[test]
    fn items_past_the_count_limit_are_left_out_and_keys_cut_on_a_boundary() {
        let batch = Batch::new("s", "x", &[1]).unwrap();
        let mut out = Records::new(&batch, 0);
        {
            let mut r = out.record();
            for _ in 0..70_000 {
                r.field("k", 1i64);
            }
        }
        let b = out.into_bytes();
        assert_eq!(u16::from_le_bytes(b[17..19].try_into().unwrap()), u16::MAX);
        // header + 65,535 items of kind, key length, "k", i64
        assert_eq!(b.len(), 4 + HEADER + 65_535 * (1 + 2 + 1 + 8));
        let long = "é".repeat(40_000); // 80,000 bytes
        assert_eq!(prefix(&long, 65_535).len(), 65_534);
    }

    #[test]
    fn bad_ends_are_refused() {
        assert!(Batch::new("s", "abc", &[2, 1]).is_err());
        assert!(Batch::new("s", "abc", &[4]).is_err());
        assert!(Batch::new("s", "é", &[1]).is_err());
        let b = Batch::new("s", "abcd", &[1, 1, 4]).unwrap();
        assert_eq!(b.lines().collect::<Vec<_>>(), ["a", "", "bcd"]);
    }
}
