//! Decoding an output into owned values, for tests: a guest's unit tests check what their
//! `process` wrote without a reader of their own.

use crate::{Header, Item, RecordError, RecordReader, Value};

/// A field value, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedValue {
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
    Text(String),
}

impl From<Value<'_>> for OwnedValue {
    fn from(v: Value<'_>) -> Self {
        match v {
            Value::Int(x) => OwnedValue::Int(x),
            Value::Uint(x) => OwnedValue::Uint(x),
            Value::Float(x) => OwnedValue::Float(x),
            Value::Bool(x) => OwnedValue::Bool(x),
            Value::Text(s) => OwnedValue::Text(s.to_string()),
        }
    }
}

/// One record, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Index of the input line it came from.
    pub line: u32,
    pub time: Option<i64>,
    pub keep_message: bool,
    pub measurement: Option<String>,
    pub tags: Vec<(String, String)>,
    pub fields: Vec<(String, OwnedValue)>,
    /// Strings written as references into the batch's data (not copied into the output).
    pub refs: usize,
}

impl Decoded {
    /// The value of tag `key`, if the record has it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of field `key`, if the record has it.
    pub fn field(&self, key: &str) -> Option<&OwnedValue> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The fields' keys, in order.
    pub fn keys(&self) -> Vec<&str> {
        self.fields.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// Whether the record is the input line as it came: `message` kept, nothing else.
    pub fn is_passthrough(&self) -> bool {
        self.keep_message
            && self.time.is_none()
            && self.measurement.is_none()
            && self.tags.is_empty()
            && self.fields.is_empty()
    }

    /// The text of field `key`, if it has one.
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.field(key) {
            Some(OwnedValue::Text(s)) => Some(s),
            _ => None,
        }
    }
}

/// Every record of `output` (what `process` returned for a batch of `lines` lines whose text is
/// `data`), checked as the agent checks it.
///
/// # Errors
/// The first malformed record, or an output past the limits.
pub fn decode(output: &[u8], data: &str, lines: usize) -> Result<Vec<Decoded>, RecordError> {
    // A reference resolves to a slice of `data` itself; an inline string lies in `output`.
    let (start, end) = (data.as_ptr() as usize, data.as_ptr() as usize + data.len());
    let in_data = |s: &str| {
        let p = s.as_ptr() as usize;
        p >= start && p + s.len() <= end
    };
    let mut reader = RecordReader::new(output, data, lines)?;
    let mut out = Vec::new();
    while let Some(r) = reader.next_record() {
        let (h, items): (Header, &[Item<'_>]) = r?;
        let mut rec = Decoded {
            line: h.line,
            time: h.time,
            keep_message: h.keep_message,
            measurement: None,
            tags: Vec::new(),
            fields: Vec::new(),
            refs: 0,
        };
        for item in items {
            match *item {
                Item::Tag(k, v) => {
                    rec.refs += usize::from(in_data(v));
                    rec.tags.push((k.to_string(), v.to_string()));
                }
                Item::Field(k, v) => {
                    if let Value::Text(s) = v {
                        rec.refs += usize::from(in_data(s));
                    }
                    rec.fields.push((k.to_string(), v.into()));
                }
                Item::Measurement(m) => rec.measurement = Some(m.to_string()),
            }
        }
        out.push(rec);
    }
    Ok(out)
}

/// The records `write` makes of one `line` of `source`, decoded and checked as the agent
/// checks them: a pipeline's unit tests run their line function through it.
///
/// # Panics
/// When `write`'s output is malformed, or one of its records is not of this line (it is for
/// tests).
pub fn records_of_line(
    source: &str,
    line: &str,
    write: impl FnOnce(&mut crate::Records),
) -> Vec<Decoded> {
    let ends = [u32::try_from(line.len()).expect("a line under 4 GiB")];
    let batch = crate::Batch::new(source, line, &ends).expect("one line is a batch");
    let mut out = crate::Records::new(&batch, 0);
    out.set_line(0);
    write(&mut out);
    let recs = decode(&out.into_bytes(), line, 1).expect("the output decodes");
    assert!(recs.iter().all(|r| r.line == 0), "{recs:?}");
    recs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Batch, Records};

    #[test]
    fn what_the_writer_wrote_comes_back_with_its_references_counted() {
        let data = "GET /a 200";
        let ends = [data.len() as u32];
        let batch = Batch::new("nginx", data, &ends).unwrap();
        let mut out = Records::new(&batch, 0);
        out.set_line(0);
        let line = batch.line(0);
        out.record()
            .tag("method", &line[..3])
            .field("path", "/a")
            .field("status", 200i64)
            .field("ok", true)
            .measurement("web")
            .time_ns(7)
            .keep_message();
        out.record().field("n", 1u64);
        let recs = decode(&out.into_bytes(), data, 1).unwrap();
        assert_eq!(recs.len(), 2);
        let r = &recs[0];
        assert_eq!((r.line, r.time, r.keep_message), (0, Some(7), true));
        assert_eq!(r.measurement.as_deref(), Some("web"));
        assert_eq!(r.tag("method"), Some("GET"));
        assert_eq!(r.text("path"), Some("/a"));
        assert_eq!(r.field("status"), Some(&OwnedValue::Int(200)));
        assert_eq!(r.field("ok"), Some(&OwnedValue::Bool(true)));
        assert_eq!(r.refs, 1, "only the method is a slice of the line");
        assert_eq!(recs[1].field("n"), Some(&OwnedValue::Uint(1)));
        assert_eq!(r.keys(), ["path", "status", "ok"]);
        assert!(!r.is_passthrough());
        assert_eq!((recs[1].time, recs[1].keep_message), (None, false));
        assert!(decode(b"SKR1\x05", data, 1).is_err());
    }
}
