//! Prometheus remote write (protocol 1.0): a snappy-compressed (block format) protobuf
//! `WriteRequest`, decoded here by hand (four small messages; unknown fields are skipped as
//! protobuf says).
//!
//! ```text
//! WriteRequest { repeated TimeSeries timeseries = 1; ... }
//! TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; ... }
//! Label        { string name = 1; string value = 2; }
//! Sample       { double value = 1; int64 timestamp = 2; }   // milliseconds
//! ```
//!
//! Points follow DataKit's mapping: the metric name is cut at its first `_` into measurement
//! and field (`node_cpu_seconds_total` -> `node` / `cpu_seconds_total`; a name without `_` is a
//! field of measurement `prom`), the other labels are tags, and samples of one measurement with
//! the same tags and time become one point. NaN samples (Prometheus' staleness markers) and
//! infinities are left out: line protocol has no place for them.

use sandkit_io::{Category, FieldValue, Point, SharedTags};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Why a body is not a remote-write request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PromError {
    #[error("the body is not snappy (block format): {0}")]
    Snappy(String),
    #[error("the body decompresses (or expands into points) to {len} bytes, more than the limit of {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("malformed protobuf at byte {at}: {why}")]
    Protobuf { at: usize, why: &'static str },
    #[error("label {0:?} is not UTF-8")]
    Utf8(String),
    #[error("series {name:?}: {why}")]
    Point { name: String, why: String },
}

/// Decompress and decode a request body into points, all or nothing.
///
/// # Errors
/// A body that is not snappy, decompresses past `limit`, is not a `WriteRequest`, or holds a
/// series that cannot be a point.
pub fn decode(body: &[u8], limit: usize) -> Result<Vec<Point>, PromError> {
    let len = snap::raw::decompress_len(body).map_err(|e| PromError::Snappy(e.to_string()))?;
    if len > limit {
        return Err(PromError::TooLarge { len, limit });
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| PromError::Snappy(e.to_string()))?;
    points(&raw, limit)
}

/// A protobuf reader over one message's bytes; `base` is its offset in the whole body.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, why: &'static str) -> PromError {
        PromError::Protobuf {
            at: self.base + self.at,
            why,
        }
    }

    fn done(&self) -> bool {
        self.at >= self.b.len()
    }

    fn varint(&mut self) -> Result<u64, PromError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.b.get(self.at) else {
                return Err(self.err("truncated varint"));
            };
            self.at += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    fn fixed64(&mut self) -> Result<u64, PromError> {
        let bytes = self
            .b
            .get(self.at..self.at + 8)
            .ok_or_else(|| self.err("truncated 64-bit value"))?;
        self.at += 8;
        let mut a = [0u8; 8];
        a.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(a))
    }

    /// A length-delimited value, as a reader of its own.
    fn nested(&mut self) -> Result<Reader<'a>, PromError> {
        let len = usize::try_from(self.varint()?).map_err(|_| self.err("length too large"))?;
        let start = self.at;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| self.err("length past the end of the message"))?;
        self.at = end;
        Ok(Reader {
            b: &self.b[start..end],
            at: 0,
            base: self.base + start,
        })
    }

    /// The next field's number and wire type.
    fn key(&mut self) -> Result<(u64, u8), PromError> {
        let k = self.varint()?;
        Ok((k >> 3, (k & 7) as u8))
    }

    /// Skip a field of `wire` type.
    fn skip(&mut self, wire: u8) -> Result<(), PromError> {
        match wire {
            0 => self.varint().map(drop),
            1 => self.fixed64().map(drop),
            2 => self.nested().map(drop),
            5 => {
                if self.at + 4 > self.b.len() {
                    return Err(self.err("truncated 32-bit value"));
                }
                self.at += 4;
                Ok(())
            }
            _ => Err(self.err("unsupported wire type")),
        }
    }

    fn string(&mut self) -> Result<String, PromError> {
        let r = self.nested()?;
        String::from_utf8(r.b.to_vec())
            .map_err(|e| PromError::Utf8(String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }
}

/// One series: its labels and samples (value, time in ms).
#[derive(Debug, Default)]
struct Series {
    labels: Vec<(String, String)>,
    samples: Vec<(f64, i64)>,
}

fn series(mut r: Reader<'_>) -> Result<Series, PromError> {
    let mut s = Series::default();
    while !r.done() {
        match r.key()? {
            (1, 2) => {
                let mut l = r.nested()?;
                let (mut name, mut value) = (String::new(), String::new());
                while !l.done() {
                    match l.key()? {
                        (1, 2) => name = l.string()?,
                        (2, 2) => value = l.string()?,
                        (_, w) => l.skip(w)?,
                    }
                }
                s.labels.push((name, value));
            }
            (2, 2) => {
                let mut m = r.nested()?;
                let (mut value, mut ts) = (0f64, 0i64);
                while !m.done() {
                    match m.key()? {
                        (1, 1) => value = f64::from_bits(m.fixed64()?),
                        (2, 0) => ts = m.varint()? as i64,
                        (_, w) => m.skip(w)?,
                    }
                }
                s.samples.push((value, ts));
            }
            (_, w) => r.skip(w)?,
        }
    }
    Ok(s)
}

/// The points of a decompressed `WriteRequest`. Series of one measurement and tag set share
/// one copy of their tags, and the points' total size (tags and field names, counted per point)
/// may be at most four times `limit`: a small body of many samples under long labels cannot
/// grow without bound.
fn points(raw: &[u8], limit: usize) -> Result<Vec<Point>, PromError> {
    let mut r = Reader {
        b: raw,
        at: 0,
        base: 0,
    };
    let budget = limit.saturating_mul(4);
    let mut used = 0usize;
    // (measurement, tags) -> id, and each id's shared name and tags and their size.
    let mut ids: HashMap<(String, Vec<(String, String)>), usize> = HashMap::new();
    let mut series_of: Vec<(Arc<str>, SharedTags, usize)> = Vec::new();
    // (id, time ns) -> fields, in the order first seen.
    let mut order: Vec<(usize, i64)> = Vec::new();
    let mut merged: HashMap<(usize, i64), BTreeMap<String, f64>> = HashMap::new();
    while !r.done() {
        match r.key()? {
            (1, 2) => {
                let s = series(r.nested()?)?;
                let mut name = String::new();
                let mut tags = Vec::with_capacity(s.labels.len());
                for (k, v) in s.labels {
                    if k == "__name__" {
                        name = v;
                    } else if !k.is_empty() && !v.is_empty() {
                        tags.push((k, v));
                    }
                }
                if name.is_empty() {
                    return Err(PromError::Point {
                        name,
                        why: "a series without __name__".into(),
                    });
                }
                tags.sort();
                let (measurement, field) = match name.split_once('_') {
                    Some((m, f)) if !m.is_empty() && !f.is_empty() => {
                        (m.to_string(), f.to_string())
                    }
                    _ => ("prom".to_string(), name.clone()),
                };
                let key = (measurement, tags);
                let id = match ids.get(&key) {
                    Some(&id) => id,
                    None => {
                        let size = key.0.len()
                            + key.1.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
                        let shared =
                            SharedTags::new(key.1.clone()).map_err(|e| PromError::Point {
                                name: name.clone(),
                                why: e.to_string(),
                            })?;
                        series_of.push((Arc::from(key.0.as_str()), shared, size));
                        ids.insert(key, series_of.len() - 1);
                        series_of.len() - 1
                    }
                };
                for (value, ms) in s.samples {
                    if !value.is_finite() {
                        continue;
                    }
                    let k = (id, ms.saturating_mul(1_000_000));
                    let fields = merged.entry(k).or_insert_with(|| {
                        order.push(k);
                        used = used.saturating_add(series_of[id].2);
                        BTreeMap::new()
                    });
                    if fields.insert(field.clone(), value).is_none() {
                        used = used.saturating_add(field.len() + 16);
                    }
                    if used > budget {
                        return Err(PromError::TooLarge {
                            len: used,
                            limit: budget,
                        });
                    }
                }
            }
            (_, w) => r.skip(w)?,
        }
    }
    let mut out = Vec::with_capacity(order.len());
    for k in order {
        let fields: Vec<(String, FieldValue)> = merged
            .remove(&k)
            .unwrap_or_default()
            .into_iter()
            .map(|(f, v)| (f, FieldValue::Float(v)))
            .collect();
        let (measurement, tags, _) = &series_of[k.0];
        let p =
            Point::with_shared(measurement, tags, fields, k.1, Category::Metric).map_err(|e| {
                PromError::Point {
                    name: measurement.to_string(),
                    why: e.to_string(),
                }
            })?;
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn field(out: &mut Vec<u8>, num: u64, bytes: &[u8]) {
        varint(out, num << 3 | 2);
        varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }

    /// One series of a test request: its labels and its samples (value, time in ms).
    type TestSeries<'a> = (&'a [(&'a str, &'a str)], &'a [(f64, i64)]);

    /// A `WriteRequest` of `series`, as Prometheus encodes it, snappy-compressed.
    fn request(series: &[TestSeries<'_>]) -> Vec<u8> {
        let mut req = Vec::new();
        for (labels, samples) in series {
            let mut ts = Vec::new();
            for (k, v) in *labels {
                let mut l = Vec::new();
                field(&mut l, 1, k.as_bytes());
                field(&mut l, 2, v.as_bytes());
                field(&mut ts, 1, &l);
            }
            for (v, t) in *samples {
                let mut s = vec![1 << 3 | 1];
                s.extend_from_slice(&v.to_bits().to_le_bytes());
                varint(&mut s, 2 << 3);
                varint(&mut s, *t as u64);
                field(&mut ts, 2, &s);
            }
            field(&mut req, 1, &ts);
        }
        snap::raw::Encoder::new().compress_vec(&req).unwrap()
    }

    #[test]
    fn series_become_points_merged_by_measurement_tags_and_time() {
        let body = request(&[
            (
                &[("__name__", "node_load1"), ("instance", "a:9100")],
                &[(0.5, 1_700_000_000_000), (0.75, 1_700_000_015_000)],
            ),
            (
                &[("instance", "a:9100"), ("__name__", "node_load5")],
                &[(0.25, 1_700_000_000_000)],
            ),
            (
                &[("__name__", "up"), ("job", "x")],
                &[(1.0, 5), (f64::NAN, 6)],
            ),
        ]);
        let pts = decode(&body, 1 << 20).unwrap();
        assert_eq!(pts.len(), 3, "{pts:#?}");
        let first = &pts[0];
        assert_eq!(first.measurement(), "node");
        assert_eq!(first.tag("instance"), Some("a:9100"));
        assert_eq!(first.timestamp_ns(), 1_700_000_000_000_000_000);
        assert_eq!(first.field("load1"), Some(&FieldValue::Float(0.5)));
        assert_eq!(first.field("load5"), Some(&FieldValue::Float(0.25)));
        assert_eq!(pts[1].field("load1"), Some(&FieldValue::Float(0.75)));
        assert_eq!(pts[2].measurement(), "prom");
        assert_eq!(pts[2].field("up"), Some(&FieldValue::Float(1.0)));
    }

    #[test]
    fn bad_bodies_are_refused_with_where() {
        assert!(matches!(
            decode(b"not snappy at all", 1 << 20),
            Err(PromError::Snappy(_))
        ));
        // A truncated message: the length says more than there is.
        let raw = [0x0a, 0x10, 0x0a];
        let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        assert_eq!(
            decode(&body, 1 << 20).unwrap_err(),
            PromError::Protobuf {
                at: 2,
                why: "length past the end of the message"
            }
        );
        let body = request(&[(&[("job", "x")], &[(1.0, 1)])]);
        assert!(matches!(
            decode(&body, 1 << 20),
            Err(PromError::Point { .. })
        ));
        // Many samples under a long label: the points would be far larger than the body.
        let long = "x".repeat(10_000);
        let samples: Vec<(f64, i64)> = (0..1000).map(|i| (1.0, i)).collect();
        let body = request(&[(&[("__name__", "m_f"), ("big", &long)], &samples)]);
        assert!(body.len() < 100_000);
        assert!(matches!(
            decode(&body, 1 << 20),
            Err(PromError::TooLarge { .. })
        ));
        // The declared size is checked before decompressing.
        let big = snap::raw::Encoder::new()
            .compress_vec(&vec![0u8; 1 << 20])
            .unwrap();
        assert!(matches!(
            decode(&big, 1000),
            Err(PromError::TooLarge {
                len: 1_048_576,
                limit: 1000
            })
        ));
    }
}
