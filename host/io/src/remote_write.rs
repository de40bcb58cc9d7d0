//! Points as a Prometheus remote-write request (protocol 1.0): a protobuf `WriteRequest`,
//! snappy-compressed (block format), encoded here by hand (four small messages):
//!
//! ```text
//! WriteRequest   { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
//! TimeSeries     { repeated Label labels = 1; repeated Sample samples = 2; }
//! Label          { string name = 1; string value = 2; }
//! Sample         { double value = 1; int64 timestamp = 2; }        // milliseconds
//! MetricMetadata { MetricType type = 1; string metric_family_name = 2; string help = 4; }
//! ```
//!
//! The mapping is the inverse of the one the server's remote-write route reads (and the one
//! VictoriaMetrics and Telegraf use): each numeric field of a point is a series named
//! `<measurement>_<field>`, its tags are labels, booleans are 1 or 0, text fields are left out
//! (Prometheus has no place for them). Names are made valid Prometheus names (`[a-zA-Z_:]
//! [a-zA-Z0-9_:]*` for metrics, no `:` in labels: anything else becomes `_`, a leading digit
//! gets a `_` before it); label values go as they are (protobuf strings need no escaping).
//! A field named by the output's `counters` patterns is a counter: its name ends in `_total`
//! (added when missing) and its metadata says COUNTER; every other is a GAUGE.

use crate::{FieldValue, Point};
use std::collections::BTreeMap;

/// Metadata types (`MetricMetadata.MetricType`).
const COUNTER: u64 = 1;
const GAUGE: u64 = 2;

/// Which series are counters: patterns over `<measurement>_<field>` as written (before the
/// name is made valid); a trailing `*` takes every name it begins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters(pub Vec<String>);

impl Counters {
    pub(crate) fn is_counter(&self, name: &str) -> bool {
        crate::name_matches(&self.0, name)
    }
}

/// A valid metric (`colon` true) or label name.
pub fn prom_name(s: &str, colon: bool) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    for (i, c) in s.chars().enumerate() {
        let ok = c.is_ascii_alphabetic() || c == '_' || (colon && c == ':');
        if i == 0 && c.is_ascii_digit() {
            out.push('_');
        }
        out.push(if ok || c.is_ascii_digit() { c } else { '_' });
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field: its key, its length, then what `body` writes.
fn message(out: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    body(&mut inner);
    varint(out, u64::from(field << 3 | 2));
    varint(out, inner.len() as u64);
    out.extend_from_slice(&inner);
}

fn string(out: &mut Vec<u8>, field: u32, s: &str) {
    message(out, field, |b| b.extend_from_slice(s.as_bytes()));
}

fn value(v: &FieldValue) -> Option<f64> {
    Some(match v {
        FieldValue::Int(i) => *i as f64,
        FieldValue::Uint(u) => *u as f64,
        FieldValue::Float(f) => *f,
        FieldValue::Bool(b) => f64::from(u8::from(*b)),
        _ => return None,
    })
}

/// What an encoded request holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Encoded {
    /// The protobuf `WriteRequest`, not compressed.
    pub request: Vec<u8>,
    pub series: usize,
    /// Text fields left out.
    pub skipped: usize,
}

/// `points` as a `WriteRequest` (not yet compressed).
pub fn encode(points: &[Point], counters: &Counters) -> Encoded {
    let mut out = Encoded::default();
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for p in points {
        let ts_ms = p.timestamp_ns().div_euclid(1_000_000);
        // Tags that would become `__name__` are left out: the series has its own.
        let labels: Vec<(String, &str)> = p
            .tags()
            .iter()
            .map(|(k, v)| (prom_name(k, false), v.as_str()))
            .filter(|(k, _)| k != "__name__")
            .collect();
        for (k, v) in p.fields() {
            let Some(x) = value(v) else {
                out.skipped += 1;
                continue;
            };
            let raw = format!("{}_{}", p.measurement(), k.as_str());
            let mut name = prom_name(&raw, true);
            let kind = if counters.is_counter(&raw) {
                if !name.ends_with("_total") {
                    name.push_str("_total");
                }
                COUNTER
            } else {
                GAUGE
            };
            kinds.entry(name.clone()).or_insert(kind);
            // Sorted by name, byte-wise, and each once, as receivers want them (Mimir and
            // Cortex refuse others): `__name__` among the tags.
            let mut all: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            all.push(("__name__", &name));
            all.sort_by(|a, b| a.0.cmp(b.0));
            all.dedup_by(|a, b| a.0 == b.0);
            message(&mut out.request, 1, |ts| {
                for (k, v) in &all {
                    message(ts, 1, |l| {
                        string(l, 1, k);
                        string(l, 2, v);
                    });
                }
                message(ts, 2, |s| {
                    s.push(1 << 3 | 1);
                    s.extend_from_slice(&x.to_le_bytes());
                    varint(s, 2 << 3);
                    varint(s, ts_ms as u64);
                });
            });
            out.series += 1;
        }
    }
    for (name, kind) in kinds {
        message(&mut out.request, 3, |m| {
            varint(m, 1 << 3);
            varint(m, kind);
            string(m, 2, &name);
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Category;

    fn point(m: &str, tags: &[(&str, &str)], fields: Vec<(&str, FieldValue)>) -> Point {
        Point::new(
            m.into(),
            tags.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            fields.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            1_700_000_000_123_456_789,
            Category::Metric,
        )
        .unwrap()
    }

    #[test]
    fn names_are_made_valid() {
        assert_eq!(prom_name("disk.io-read", true), "disk_io_read");
        assert_eq!(prom_name("9lives", false), "_9lives");
        assert_eq!(prom_name("a:b", true), "a:b");
        assert_eq!(prom_name("a:b", false), "a_b");
        assert_eq!(prom_name("", false), "_");
        assert_eq!(prom_name("café", false), "caf_");
    }

    /// A protobuf message's fields: (number, wire type, varint value or bytes).
    fn fields(mut b: &[u8]) -> Vec<(u64, u64, Vec<u8>)> {
        fn varint(b: &mut &[u8]) -> u64 {
            let (mut v, mut shift) = (0u64, 0);
            loop {
                let byte = b[0];
                *b = &b[1..];
                v |= u64::from(byte & 0x7f) << shift;
                if byte < 0x80 {
                    return v;
                }
                shift += 7;
            }
        }
        let mut out = Vec::new();
        while !b.is_empty() {
            let key = varint(&mut b);
            let (n, wire) = (key >> 3, key & 7);
            let value = match wire {
                0 => varint(&mut b).to_le_bytes().to_vec(),
                1 => {
                    let v = b[..8].to_vec();
                    b = &b[8..];
                    v
                }
                _ => {
                    let len = varint(&mut b) as usize;
                    let v = b[..len].to_vec();
                    b = &b[len..];
                    v
                }
            };
            out.push((n, wire, value));
        }
        out
    }

    fn text(b: &[u8]) -> String {
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn every_numeric_field_is_a_series_and_counters_end_in_total() {
        let p = point(
            "diskio",
            &[
                ("name", "sda"),
                ("host.name", "a \"b\",c"),
                ("Env", "prod"),
                ("__name__", "spoof"),
            ],
            vec![
                ("read_bytes", FieldValue::Uint(10)),
                ("busy", FieldValue::Float(0.5)),
                ("ok", FieldValue::Bool(true)),
                ("model", FieldValue::Text("x".into())),
            ],
        );
        let counters = Counters(vec!["diskio_read*".into()]);
        let e = encode(&[p], &counters);
        assert_eq!((e.series, e.skipped), (3, 1));
        let top = fields(&e.request);
        let series: Vec<_> = top.iter().filter(|f| f.0 == 1).collect();
        assert_eq!(series.len(), 3);
        for (_, _, ts) in &series {
            let parts = fields(ts);
            let labels: Vec<(String, String)> = parts
                .iter()
                .filter(|f| f.0 == 1)
                .map(|(_, _, l)| {
                    let kv = fields(l);
                    (text(&kv[0].2), text(&kv[1].2))
                })
                .collect();
            let names: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
            // Byte-wise order, `__name__` once (the spoofing tag left out).
            assert_eq!(names, ["Env", "__name__", "host_name", "name"]);
            assert_eq!(labels[2].1, "a \"b\",c", "values as they are");
            let sample = fields(&parts.iter().find(|f| f.0 == 2).unwrap().2);
            assert_eq!(sample[0].1, 1, "value is a double");
            assert_eq!(sample[1].2[..8], 1_700_000_000_123i64.to_le_bytes());
        }
        let name_of = |ts: &[u8]| {
            fields(ts)
                .iter()
                .filter(|f| f.0 == 1)
                .map(|(_, _, l)| fields(l))
                .find(|kv| kv[0].2 == b"__name__")
                .map(|kv| text(&kv[1].2))
                .unwrap()
        };
        let names: Vec<String> = series.iter().map(|s| name_of(&s.2)).collect();
        assert_eq!(
            names,
            ["diskio_read_bytes_total", "diskio_busy", "diskio_ok"]
        );
        // The metadata: read_bytes a counter (1), the others gauges (2).
        let meta: Vec<(u64, String)> = top
            .iter()
            .filter(|f| f.0 == 3)
            .map(|(_, _, m)| {
                let f = fields(m);
                (
                    u64::from_le_bytes(f[0].2[..8].try_into().unwrap()),
                    text(&f[1].2),
                )
            })
            .collect();
        assert_eq!(
            meta,
            [
                (2, "diskio_busy".to_string()),
                (2, "diskio_ok".to_string()),
                (1, "diskio_read_bytes_total".to_string())
            ]
        );
    }

    #[test]
    fn category_index_is_its_place_in_all() {
        for (i, c) in Category::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }
}
