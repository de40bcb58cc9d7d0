//! Line protocol written straight into one buffer, a line at a time, with the checks a
//! [`Point`](crate::Point) makes: for sources that turn many records into lines (a file task's
//! pipeline output) without building a `Point` per line.
//!
//! A line is a prefix (the escaped measurement and tag set, which a source makes once and
//! reuses), its fields and a time. [`LineWriter::begin`] starts one, [`LineWriter::field`] adds
//! a field and [`LineWriter::end`] checks and finishes it; a line that fails a check is taken out
//! of the buffer again, so the buffer only ever holds whole, valid lines. The text is what
//! [`encode_point_with`](crate::lineproto::encode_point_with) writes for the same point.

use crate::lineproto::{escape_into, write_value, NamePart};
use crate::records::FieldRef;
use crate::{PointError, SharedTags};

/// Why a line was not written (what [`PointError`] says of a point, without the measurement,
/// which the caller knows).
#[derive(Debug, Clone, PartialEq)]
pub enum LineError {
    NoFields,
    EmptyFieldKey,
    DuplicateField(String),
    NonFiniteFloat(String, f64),
}

impl LineError {
    /// The error a `Point` of `measurement` with the same fields gives.
    pub fn into_point_error(self, measurement: &str) -> PointError {
        let measurement = measurement.to_string();
        match self {
            LineError::NoFields => PointError::NoFields { measurement },
            LineError::EmptyFieldKey => PointError::EmptyKey {
                measurement,
                what: "field",
            },
            LineError::DuplicateField(key) => PointError::DuplicateKey {
                measurement,
                what: "field",
                key,
            },
            LineError::NonFiniteFloat(key, value) => PointError::NonFiniteFloat {
                measurement,
                key,
                value,
            },
        }
    }
}

/// The start of a line: measurement and tags, escaped (`nginx,filename=access.log`).
///
/// # Errors
/// An empty measurement, or tags with an empty or repeated key (`tags` are validated and sorted
/// by [`SharedTags`]).
pub fn line_prefix(measurement: &str, tags: &SharedTags) -> Result<String, PointError> {
    if measurement.is_empty() {
        return Err(PointError::EmptyMeasurement);
    }
    let mut out = String::with_capacity(measurement.len() + 16 * tags.as_slice().len());
    escape_into(&mut out, measurement, NamePart::Measurement);
    for (k, v) in tags.as_slice() {
        if v.is_empty() {
            // As the encoder: InfluxDB refuses empty tag values.
            continue;
        }
        out.push(',');
        escape_into(&mut out, k, NamePart::Tag);
        out.push('=');
        escape_into(&mut out, v, NamePart::Tag);
    }
    Ok(out)
}

/// Lines of one category, already in line protocol, and how many there are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lines {
    pub text: String,
    pub count: usize,
}

/// Writes lines into a buffer (see the module's documentation).
#[derive(Debug)]
pub struct LineWriter {
    lines: Lines,
    uint_support: bool,
    /// Where the line being written starts.
    mark: usize,
    /// Byte ranges of the current line's (escaped) field keys in the buffer.
    keys: Vec<(usize, usize)>,
    /// A check of the current line failed: `end` takes it out.
    failed: Option<LineError>,
}

impl LineWriter {
    /// With `uint_support` false, unsigned fields are written as integers (for InfluxDB 1.x,
    /// as the output would write them).
    pub fn new(uint_support: bool) -> Self {
        LineWriter {
            lines: Lines::default(),
            uint_support,
            mark: 0,
            keys: Vec::new(),
            failed: None,
        }
    }

    /// Reserve room for `bytes` more.
    pub fn reserve(&mut self, bytes: usize) {
        self.lines.text.reserve(bytes);
    }

    /// Start a line with `prefix` (from [`line_prefix`]).
    #[inline]
    pub fn begin(&mut self, prefix: &str) {
        self.mark = self.lines.text.len();
        self.keys.clear();
        self.failed = None;
        self.lines.text.push_str(prefix);
    }

    /// Add a field to the line begun.
    #[inline]
    pub fn field(&mut self, key: &str, value: FieldRef<'_>) {
        if self.failed.is_some() {
            return;
        }
        if key.is_empty() {
            self.failed = Some(LineError::EmptyFieldKey);
            return;
        }
        if let FieldRef::Float(x) = value {
            if !x.is_finite() {
                self.failed = Some(LineError::NonFiniteFloat(key.to_string(), x));
                return;
            }
        }
        let text = &mut self.lines.text;
        text.push(if self.keys.is_empty() { ' ' } else { ',' });
        let start = text.len();
        escape_into(text, key, NamePart::FieldKey);
        self.keys.push((start, text.len()));
        text.push('=');
        write_value(text, &mut itoa::Buffer::new(), value, self.uint_support);
    }

    /// Finish the line begun at `timestamp_ns`, or take it out again if a check failed.
    ///
    /// # Errors
    /// No fields, an empty or repeated field key, or a NaN or infinite float: the line is not
    /// written.
    pub fn end(&mut self, timestamp_ns: i64) -> Result<(), LineError> {
        let failed = self.failed.take().or_else(|| self.check_keys());
        if let Some(e) = failed {
            self.lines.text.truncate(self.mark);
            return Err(e);
        }
        let text = &mut self.lines.text;
        text.push(' ');
        text.push_str(itoa::Buffer::new().format(timestamp_ns));
        text.push('\n');
        self.lines.count += 1;
        Ok(())
    }

    /// No fields, or a repeated key (compared escaped, which is one-to-one).
    fn check_keys(&self) -> Option<LineError> {
        let text = self.lines.text.as_bytes();
        let key = |&(a, b): &(usize, usize)| &text[a..b];
        let n = self.keys.len();
        if n == 0 {
            return Some(LineError::NoFields);
        }
        let dup = if n <= 16 {
            (1..n).find_map(|i| {
                self.keys[..i]
                    .iter()
                    .any(|k| key(k) == key(&self.keys[i]))
                    .then(|| key(&self.keys[i]))
            })
        } else {
            // A hostile record with 100,000 fields costs n log n, not n².
            let mut sorted: Vec<&[u8]> = self.keys.iter().map(key).collect();
            sorted.sort_unstable();
            sorted.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
        };
        dup.map(|k| LineError::DuplicateField(unescape_key(k)))
    }

    /// Where the buffer stands: [`LineWriter::rollback`] takes out every line written after.
    pub fn checkpoint(&self) -> (usize, usize) {
        (self.lines.text.len(), self.lines.count)
    }

    /// Take out the lines written since `checkpoint`.
    pub fn rollback(&mut self, checkpoint: (usize, usize)) {
        self.lines.text.truncate(checkpoint.0);
        self.lines.count = checkpoint.1;
    }

    /// Take the lines written so far.
    pub fn take(&mut self) -> Lines {
        std::mem::take(&mut self.lines)
    }
}

/// A field key as it was before [`escape_into`] (for error messages only).
fn unescape_key(escaped: &[u8]) -> String {
    let s = String::from_utf8_lossy(escaped);
    s.replace("\\,", ",")
        .replace("\\=", "=")
        .replace("\\ ", " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineproto::encode_point_with;
    use crate::{Category, FieldValue, Point};

    fn tags(t: &[(&str, &str)]) -> SharedTags {
        SharedTags::new(
            t.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
        .unwrap()
    }

    /// The writer's line for a point, and the encoder's.
    fn both(
        m: &str,
        t: &[(&str, &str)],
        fields: Vec<(&str, FieldValue)>,
        uint: bool,
    ) -> (Result<String, PointError>, Result<String, PointError>) {
        let shared = tags(t);
        let mut w = LineWriter::new(uint);
        let written = line_prefix(m, &shared).and_then(|prefix| {
            w.begin(&prefix);
            for (k, v) in &fields {
                w.field(k, FieldRef::from(v));
            }
            w.end(42).map_err(|e| e.into_point_error(m))?;
            Ok(w.take().text)
        });
        let point = Point::new(
            m.to_string(),
            t.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            42,
            Category::Logging,
        )
        .map(|p| {
            let mut s = String::new();
            encode_point_with(&mut s, &p, uint);
            s
        });
        (written, point)
    }

    #[test]
    fn writes_what_the_point_encoder_writes() {
        let fields = || {
            vec![
                ("a b", FieldValue::Int(-3)),
                ("u", FieldValue::Uint(u64::MAX)),
                ("f", FieldValue::Float(0.125)),
                ("big", FieldValue::Float(1e300)),
                ("ok", FieldValue::Bool(true)),
                ("msg", FieldValue::Text("say \"hi\" \\ \n there".into())),
                ("k=,", FieldValue::Text(String::new())),
            ]
        };
        for uint in [true, false] {
            let (w, p) = both(
                "my m,x",
                &[("z", "1"), ("a", "b c"), ("empty", "")],
                fields(),
                uint,
            );
            assert_eq!(w.unwrap(), p.unwrap());
        }
    }

    #[test]
    fn refuses_what_a_point_refuses_and_keeps_the_buffer_whole() {
        let cases: Vec<Vec<(&str, FieldValue)>> = vec![
            vec![],
            vec![("", FieldValue::Int(1))],
            vec![("x", FieldValue::Int(1)), ("x", FieldValue::Bool(true))],
            vec![("n", FieldValue::Float(f64::NAN))],
            vec![("i", FieldValue::Float(f64::INFINITY))],
            (0..40)
                .map(|i| (["k", "a", "b", "c"][i % 4], FieldValue::Int(1)))
                .collect(),
        ];
        for fields in cases {
            let (w, p) = both("m", &[], fields.clone(), true);
            let (w, p) = (w.unwrap_err(), p.unwrap_err());
            assert_eq!(
                std::mem::discriminant(&w),
                std::mem::discriminant(&p),
                "{fields:?}: {w} / {p}"
            );
        }
        // A refused line between two good ones leaves exactly the good ones.
        let prefix = line_prefix("m", &tags(&[])).unwrap();
        let mut w = LineWriter::new(true);
        w.begin(&prefix);
        w.field("v", FieldRef::Int(1));
        w.end(1).unwrap();
        w.begin(&prefix);
        w.field("v", FieldRef::Int(1));
        w.field("v", FieldRef::Int(2));
        assert_eq!(w.end(2), Err(LineError::DuplicateField("v".into())));
        w.begin(&prefix);
        w.field("w", FieldRef::Float(1.5));
        w.end(3).unwrap();
        assert_eq!(
            w.take(),
            Lines {
                text: "m v=1i 1\nm w=1.5 3\n".into(),
                count: 2
            }
        );
    }

    #[test]
    fn a_prefix_needs_a_measurement() {
        assert!(line_prefix("", &tags(&[])).is_err());
        assert_eq!(
            line_prefix("a b", &tags(&[("k", "v,w"), ("e", "")])).unwrap(),
            "a\\ b,k=v\\,w"
        );
    }
}
