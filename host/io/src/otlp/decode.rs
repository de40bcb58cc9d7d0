//! OTLP export requests (protobuf or OTLP/JSON) read into points, all or nothing.
//!
//! - Metrics are metric points: measurement = the instrumentation scope's name (`otel` when it
//!   has none), field = the metric's name without the `<scope>.` it may begin with, tags = the
//!   resource's and the data point's attributes (the data point's win). Data points of one
//!   scope with the same attributes and time are one point. A gauge or sum is one field; a
//!   histogram gives `<name>_count`, `_sum`, `_min`, `_max` and, per bucket, a point with tag
//!   `le` (the upper bound, `+Inf` for the last) and field `<name>_bucket` (cumulative, as
//!   Prometheus counts them); an exponential histogram its count, sum, min and max; a summary
//!   its count and sum and a point with tag `quantile` per quantile.
//! - Logs are logging points: measurement = the scope's name (`otel` when none), field
//!   `message` = the body (a body that is not a string as its JSON), tag `status` from the
//!   severity, string attributes (the resource's too) as tags, the others as fields of their
//!   type, `trace_id` and `span_id` as hex fields.
//! - Spans are tracing points (DataKit's shape): measurement `opentelemetry`; tags `service`
//!   (the resource's `service.name`), `operation` (the span's name), `span_kind`, `status`
//!   (`ok`, `error` or `unset`) and the string attributes; fields `trace_id`, `span_id`,
//!   `parent_id`, `start` and `duration` (microseconds), `status_message`, the other attributes.
//!
//! A time of 0 is the time of arrival. Attribute values that are lists or maps are their JSON.
//! Sums and histograms of delta temporality carry the tag `temporality=delta` (their values
//! are increments, not running totals). What has no place is counted as rejected (the answer's
//! `partial_success`): a number data point with no value or one that is not finite, a histogram
//! whose bucket counts do not match its bounds. An exponential histogram's buckets are left out
//! (its count, sum, min and max are kept).
//!
//! A body is bounded before it is decoded: its messages, strings and lists, counted on the wire
//! (or its objects, arrays and elements in JSON), may take about twice the budget once decoded
//! (an estimate), and the points made of them at most the budget, charged as they are made; a
//! small body of many empty messages or histogram buckets is refused, not expanded.

use super::{hex, status_of};
use crate::{now_ns, Category, FieldValue, Point};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, Metric};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Which export request a body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Metrics,
    Logs,
    Traces,
}

impl Signal {
    /// The category its points go to.
    pub fn category(self) -> Category {
        match self {
            Signal::Metrics => Category::Metric,
            Signal::Logs => Category::Logging,
            Signal::Traces => Category::Tracing,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
            Signal::Traces => "traces",
        }
    }
}

/// Why a body gives no points.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("not an OTLP {signal} export request (protobuf): {why}")]
    Protobuf { signal: &'static str, why: String },
    #[error("not an OTLP {signal} export request (JSON): {why}")]
    Json { signal: &'static str, why: String },
    #[error("the request expands into more than {limit} bytes of messages or points")]
    TooLarge { limit: usize },
    #[error("{what}: {why}")]
    Point { what: String, why: String },
}

/// What a body gave: its points, and how many of its data points (records, spans) had no
/// place, with the first reason.
#[derive(Debug, Default)]
pub struct Decoded {
    pub points: Vec<Point>,
    pub rejected: u64,
    pub reason: Option<String>,
}

/// Bytes a decoded message, string or list takes, about, per one counted on the wire: most
/// OTLP structs take under 100 (a key-value 64, a string's header 24), the largest (a span)
/// about 290. An estimate, not a bound: a body of nothing but empty spans takes about three
/// times what it says.
const BYTES_PER_ELEMENT: usize = 96;

/// The points of one export request. `json` tells OTLP/JSON from protobuf; the decoded
/// messages may take about twice `budget` bytes (estimated on the wire before decoding), and
/// the points (tags and fields, counted per point as they are made) at most `budget`.
///
/// # Errors
/// A body that is not the request, one past the budget, or a point that cannot be one.
pub fn decode(
    signal: Signal,
    body: &[u8],
    json: bool,
    budget: usize,
) -> Result<Decoded, OtlpError> {
    // The decoded messages may take twice the points' budget: they hold what the points
    // leave out (ids, times, scopes, resources) in structs of fixed size.
    let messages = budget.saturating_mul(2);
    let too_large = OtlpError::TooLarge { limit: messages };
    let estimate = if json {
        json_estimate(body)
    } else {
        let mut work = 0;
        let cap = body.len().saturating_mul(32).saturating_add(1 << 20);
        match wire_elements(body, 0, &mut work, cap) {
            Err(()) => return Err(too_large),
            Ok(None) => {
                return Err(OtlpError::Protobuf {
                    signal: signal.name(),
                    why: "malformed protobuf".into(),
                })
            }
            Ok(Some(n)) => usize::try_from(n)
                .unwrap_or(usize::MAX)
                .saturating_mul(BYTES_PER_ELEMENT)
                .saturating_add(body.len().saturating_mul(2)),
        }
    };
    if estimate > messages {
        return Err(too_large);
    }
    let mut out = Out {
        done: Decoded::default(),
        used: 0,
        budget,
        now: now_ns(),
    };
    let name = signal.name();
    match signal {
        Signal::Metrics => metrics(
            &read::<ExportMetricsServiceRequest>(body, json, name)?,
            &mut out,
        )?,
        Signal::Logs => logs(
            &read::<ExportLogsServiceRequest>(body, json, name)?,
            &mut out,
        )?,
        Signal::Traces => traces(
            &read::<ExportTraceServiceRequest>(body, json, name)?,
            &mut out,
        )?,
    }
    Ok(out.done)
}

/// What serde allocates for a JSON body, about: a struct or a list per object or array, a
/// little per element (outside strings), and the text.
fn json_estimate(body: &[u8]) -> usize {
    let (mut nested, mut elements) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => nested += 1,
            b',' => elements += 1,
            _ => {}
        }
    }
    nested
        .saturating_mul(BYTES_PER_ELEMENT)
        .saturating_add(elements.saturating_mul(32))
        .saturating_add(body.len().saturating_mul(2))
}

fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, byte) in b.iter().take(10).enumerate() {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// How deep messages nest (prost's own limit).
const MAX_DEPTH: u32 = 100;

/// The length-delimited fields of `b` at every depth (each a message, a string, bytes or a
/// packed list once decoded), looking inside each one that reads as a message (`None`: `b` is
/// not a message). Groups (wire types 3 and 4, which prost skips) are looked through, so that
/// nothing hides inside one. Scanning stops (`Err`) once `work` bytes have been read in all:
/// nesting deep enough to cost more is refused.
fn wire_elements(b: &[u8], depth: u32, work: &mut usize, cap: usize) -> Result<Option<u64>, ()> {
    *work += b.len();
    if *work > cap {
        return Err(());
    }
    let (mut at, mut n) = (0usize, 0u64);
    while at < b.len() {
        let Some((key, used)) = varint(&b[at..]) else {
            return Ok(None);
        };
        at += used;
        if key >> 3 == 0 {
            return Ok(None);
        }
        match key & 7 {
            0 => match varint(&b[at..]) {
                Some((_, used)) => at += used,
                None => return Ok(None),
            },
            1 => at += 8,
            5 => at += 4,
            2 => {
                let Some((len, used)) = varint(&b[at..]) else {
                    return Ok(None);
                };
                at += used;
                n += 1;
                let Some(end) = usize::try_from(len)
                    .ok()
                    .and_then(|l| at.checked_add(l))
                    .filter(|e| *e <= b.len())
                else {
                    return Ok(None);
                };
                if depth < MAX_DEPTH && end > at {
                    if let Some(inner) = wire_elements(&b[at..end], depth + 1, work, cap)? {
                        n += inner;
                    }
                }
                at = end;
            }
            3 | 4 => {}
            _ => return Ok(None),
        }
    }
    Ok((at == b.len()).then_some(n))
}

fn read<T: Message + Default + serde::de::DeserializeOwned>(
    body: &[u8],
    json: bool,
    signal: &'static str,
) -> Result<T, OtlpError> {
    if json {
        serde_json::from_slice(body).map_err(|e| OtlpError::Json {
            signal,
            why: e.to_string(),
        })
    } else {
        T::decode(body).map_err(|e| OtlpError::Protobuf {
            signal,
            why: e.to_string(),
        })
    }
}

/// Points made so far and the bytes they take.
struct Out {
    done: Decoded,
    used: usize,
    budget: usize,
    now: i64,
}

type Tags = BTreeMap<String, String>;

fn tags_size(tags: &Tags) -> usize {
    tags.iter().map(|(k, v)| k.len() + v.len() + 16).sum()
}

fn field_size(key: &str, value: &FieldValue) -> usize {
    key.len() + value.as_text().map_or(8, str::len) + 16
}

fn fields_size(fields: &Fields) -> usize {
    fields.list.iter().map(|(k, v)| field_size(k, v)).sum()
}

/// A point's fields in the order first set, each key once (a later value replaces an earlier
/// one in its place), in linear time however many there are.
#[derive(Default, Clone)]
struct Fields {
    list: Vec<(String, FieldValue)>,
    at: HashMap<String, usize>,
}

impl Fields {
    /// Set `key` (replacing it when `replace`, else only when absent); the bytes it added.
    fn set(&mut self, key: &str, value: FieldValue, replace: bool) -> usize {
        let size = field_size(key, &value);
        match self.at.get(key) {
            Some(&i) if replace => {
                self.list[i].1 = value;
                size
            }
            Some(_) => 0,
            None => {
                self.at.insert(key.to_string(), self.list.len());
                self.list.push((key.to_string(), value));
                size
            }
        }
    }
}

impl Out {
    fn time(&self, ns: u64) -> i64 {
        if ns == 0 {
            self.now
        } else {
            i64::try_from(ns).unwrap_or(i64::MAX)
        }
    }

    /// Count `bytes` against the budget.
    fn charge(&mut self, bytes: usize) -> Result<(), OtlpError> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.budget {
            return Err(OtlpError::TooLarge { limit: self.budget });
        }
        Ok(())
    }

    fn reject(&mut self, why: impl FnOnce() -> String) {
        self.done.rejected += 1;
        if self.done.reason.is_none() {
            self.done.reason = Some(why());
        }
    }

    /// A point of `measurement`; its size was charged as it was built.
    fn push(
        &mut self,
        measurement: &str,
        tags: Tags,
        fields: Fields,
        ns: i64,
        category: Category,
    ) -> Result<(), OtlpError> {
        let tags = tags.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        let p =
            Point::new(measurement.to_string(), tags, fields.list, ns, category).map_err(|e| {
                OtlpError::Point {
                    what: format!("measurement {measurement:?}"),
                    why: e.to_string(),
                }
            })?;
        self.done.points.push(p);
        Ok(())
    }
}

/// An attribute's value as text: strings as they are, lists and maps as JSON.
fn text(v: &AnyValue) -> String {
    use any_value::Value;
    match &v.value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BytesValue(b)) => hex(b),
        _ => json(v).to_string(),
    }
}

fn json(v: &AnyValue) -> serde_json::Value {
    use any_value::Value;
    match &v.value {
        None => serde_json::Value::Null,
        Some(Value::StringValue(s)) => s.clone().into(),
        Some(Value::BoolValue(b)) => (*b).into(),
        Some(Value::IntValue(i)) => (*i).into(),
        Some(Value::DoubleValue(d)) => (*d).into(),
        Some(Value::BytesValue(b)) => hex(b).into(),
        Some(Value::ArrayValue(a)) => a.values.iter().map(json).collect(),
        Some(Value::KvlistValue(l)) => l
            .values
            .iter()
            .map(|kv| {
                (
                    kv.key.clone(),
                    kv.value.as_ref().map_or(serde_json::Value::Null, json),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        // An index into a profile's string table: nothing outside profiles has one.
        Some(Value::StringValueStrindex(_)) => serde_json::Value::Null,
    }
}

/// An attribute as a typed field: numbers and booleans as they are, the rest as text.
fn typed(v: &AnyValue) -> FieldValue {
    use any_value::Value;
    match &v.value {
        Some(Value::BoolValue(b)) => FieldValue::Bool(*b),
        Some(Value::IntValue(i)) => FieldValue::Int(*i),
        Some(Value::DoubleValue(d)) if d.is_finite() => FieldValue::Float(*d),
        _ => FieldValue::Text(text(v)),
    }
}

/// Attributes as tags, over those already there.
fn tags_of(attributes: &[KeyValue], into: &mut Tags) {
    for kv in attributes {
        let value = kv.value.as_ref().map(text).unwrap_or_default();
        into.insert(kv.key.clone(), value);
    }
}

/// String attributes as tags (over those there), the others as typed fields (unless a field
/// of that name is set already); the bytes the fields added.
fn split_attributes(attributes: &[KeyValue], tags: &mut Tags, fields: &mut Fields) -> usize {
    let mut added = 0;
    for kv in attributes {
        match kv.value.as_ref() {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(s)),
            }) => {
                tags.insert(kv.key.clone(), s.clone());
            }
            Some(v @ AnyValue { value: Some(_) }) => added += fields.set(&kv.key, typed(v), false),
            _ => {}
        }
    }
    added
}

fn resource_tags(resource: Option<&Resource>) -> Tags {
    let mut tags = Tags::new();
    if let Some(r) = resource {
        tags_of(&r.attributes, &mut tags);
    }
    tags
}

fn scope_name(scope: Option<&InstrumentationScope>) -> &str {
    scope
        .map(|s| s.name.as_str())
        .filter(|n| !n.is_empty())
        .unwrap_or("otel")
}

/// Number data points as fields, gathered by (tags, time) so that the metrics of one scope
/// measured together are one point.
#[derive(Default)]
struct Gathered(BTreeMap<(Tags, i64), Fields>);

impl Gathered {
    /// Add a field, charging `out` for a new point and for the field as they come.
    fn add(
        &mut self,
        out: &mut Out,
        tags: Tags,
        ns: i64,
        field: String,
        value: FieldValue,
    ) -> Result<(), OtlpError> {
        let key = (tags, ns);
        if !self.0.contains_key(&key) {
            out.charge(tags_size(&key.0) + 64)?;
        }
        let fields = self.0.entry(key).or_default();
        let size = fields.set(&field, value, true);
        out.charge(size)
    }
}

fn float(v: f64) -> Option<FieldValue> {
    v.is_finite().then_some(FieldValue::Float(v))
}

fn metrics(req: &ExportMetricsServiceRequest, out: &mut Out) -> Result<(), OtlpError> {
    for rm in &req.resource_metrics {
        let base = resource_tags(rm.resource.as_ref());
        for sm in &rm.scope_metrics {
            let measurement = scope_name(sm.scope.as_ref());
            let names: HashSet<&str> = sm.metrics.iter().map(|m| m.name.as_str()).collect();
            let mut gathered = Gathered::default();
            for m in &sm.metrics {
                // `shop.orders` of scope `shop` is field `orders`, unless a metric of the
                // scope is named `orders` too.
                let name = m
                    .name
                    .strip_prefix(measurement)
                    .and_then(|n| n.strip_prefix('.'))
                    .filter(|n| !n.is_empty() && !names.contains(n))
                    .unwrap_or(&m.name);
                metric(m, name, &base, out, &mut gathered)?;
            }
            for ((tags, ns), fields) in gathered.0 {
                if !fields.list.is_empty() {
                    out.push(measurement, tags, fields, ns, Category::Metric)?;
                }
            }
        }
    }
    Ok(())
}

/// Delta temporality (1) as a tag; cumulative and unspecified as none.
fn temporality(t: i32) -> Option<(&'static str, String)> {
    (t == 1).then(|| ("temporality", "delta".to_string()))
}

/// One metric's data points into `gathered`, as field `name`.
fn metric(
    m: &Metric,
    name: &str,
    base: &Tags,
    out: &mut Out,
    gathered: &mut Gathered,
) -> Result<(), OtlpError> {
    let tags = |attributes: &[KeyValue], extra: &[Option<(&str, String)>]| {
        let mut t = base.clone();
        tags_of(attributes, &mut t);
        for (k, v) in extra.iter().flatten() {
            t.insert((*k).to_string(), v.clone());
        }
        t
    };
    let number = |v: &Option<number_data_point::Value>| match v {
        Some(number_data_point::Value::AsInt(i)) => Some(FieldValue::Int(*i)),
        Some(number_data_point::Value::AsDouble(d)) => float(*d),
        None => None,
    };
    let summary = |count: u64, sum: Option<f64>, min: Option<f64>, max: Option<f64>| {
        [
            ("count", Some(FieldValue::Uint(count))),
            ("sum", sum.and_then(float)),
            ("min", min.and_then(float)),
            ("max", max.and_then(float)),
        ]
    };
    let points = match &m.data {
        Some(metric::Data::Gauge(g)) => Some((&g.data_points, None)),
        Some(metric::Data::Sum(s)) => {
            Some((&s.data_points, temporality(s.aggregation_temporality)))
        }
        _ => None,
    };
    if let Some((points, extra)) = points {
        for d in points {
            match number(&d.value) {
                Some(v) => {
                    let t = tags(&d.attributes, std::slice::from_ref(&extra));
                    let ns = out.time(d.time_unix_nano);
                    gathered.add(out, t, ns, name.into(), v)?;
                }
                None => {
                    out.reject(|| format!("metric {:?}: a data point with no finite value", m.name))
                }
            }
        }
    }
    match &m.data {
        Some(metric::Data::Histogram(h)) => {
            let extra = temporality(h.aggregation_temporality);
            for d in &h.data_points {
                if !d.bucket_counts.is_empty()
                    && d.bucket_counts.len() != d.explicit_bounds.len() + 1
                {
                    out.reject(|| {
                        format!(
                            "histogram {:?}: {} bucket counts for {} bounds",
                            m.name,
                            d.bucket_counts.len(),
                            d.explicit_bounds.len()
                        )
                    });
                    continue;
                }
                let ns = out.time(d.time_unix_nano);
                let t = tags(&d.attributes, std::slice::from_ref(&extra));
                for (suffix, v) in summary(d.count, d.sum, d.min, d.max) {
                    if let Some(v) = v {
                        gathered.add(out, t.clone(), ns, format!("{name}_{suffix}"), v)?;
                    }
                }
                let mut cumulative = 0u64;
                for (i, count) in d.bucket_counts.iter().enumerate() {
                    cumulative = cumulative.saturating_add(*count);
                    let le = d
                        .explicit_bounds
                        .get(i)
                        .map_or_else(|| "+Inf".to_string(), f64::to_string);
                    let t = tags(&d.attributes, &[extra.clone(), Some(("le", le))]);
                    gathered.add(
                        out,
                        t,
                        ns,
                        format!("{name}_bucket"),
                        FieldValue::Uint(cumulative),
                    )?;
                }
            }
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            let extra = temporality(h.aggregation_temporality);
            for d in &h.data_points {
                let t = tags(&d.attributes, std::slice::from_ref(&extra));
                let ns = out.time(d.time_unix_nano);
                for (suffix, v) in summary(d.count, d.sum, d.min, d.max) {
                    if let Some(v) = v {
                        gathered.add(out, t.clone(), ns, format!("{name}_{suffix}"), v)?;
                    }
                }
            }
        }
        Some(metric::Data::Summary(s)) => {
            for d in &s.data_points {
                let ns = out.time(d.time_unix_nano);
                let t = tags(&d.attributes, &[]);
                for (suffix, v) in summary(d.count, Some(d.sum), None, None) {
                    if let Some(v) = v {
                        gathered.add(out, t.clone(), ns, format!("{name}_{suffix}"), v)?;
                    }
                }
                for q in &d.quantile_values {
                    if let Some(v) = float(q.value) {
                        let t = tags(&d.attributes, &[Some(("quantile", q.quantile.to_string()))]);
                        gathered.add(out, t, ns, name.into(), v)?;
                    }
                }
            }
        }
        None => out.reject(|| format!("metric {:?} has no data", m.name)),
        _ => {}
    }
    Ok(())
}

fn logs(req: &ExportLogsServiceRequest, out: &mut Out) -> Result<(), OtlpError> {
    for rl in &req.resource_logs {
        let mut base_fields = Fields::default();
        let mut base = Tags::new();
        if let Some(r) = &rl.resource {
            split_attributes(&r.attributes, &mut base, &mut base_fields);
        }
        let base_size = fields_size(&base_fields);
        for sl in &rl.scope_logs {
            let measurement = scope_name(sl.scope.as_ref());
            for r in &sl.log_records {
                // The record's own fields first; then its attributes, then the resource's,
                // each where no field of that name is set.
                let mut fields = Fields::default();
                let mut size = base_size;
                let message = match r.body.as_ref().map(|b| &b.value) {
                    Some(Some(any_value::Value::StringValue(s))) => Some(s.clone()),
                    Some(Some(_)) => r.body.as_ref().map(|b| json(b).to_string()),
                    _ => None,
                };
                if let Some(m) = message {
                    size += fields.set("message", FieldValue::Text(m), true);
                }
                if !r.trace_id.is_empty() {
                    size += fields.set("trace_id", FieldValue::Text(hex(&r.trace_id)), true);
                }
                if !r.span_id.is_empty() {
                    size += fields.set("span_id", FieldValue::Text(hex(&r.span_id)), true);
                }
                let mut tags = base.clone();
                size += split_attributes(&r.attributes, &mut tags, &mut fields);
                for (k, v) in &base_fields.list {
                    fields.set(k, v.clone(), false);
                }
                match status_of(r.severity_number) {
                    Some(s) => {
                        tags.insert("status".into(), s.into());
                    }
                    None if !r.severity_text.is_empty() => {
                        tags.insert("status".into(), r.severity_text.to_ascii_lowercase());
                    }
                    None => {}
                }
                if fields.list.is_empty() {
                    fields.set("message", FieldValue::Text(String::new()), true);
                }
                out.charge(size + tags_size(&tags))?;
                let ns = if r.time_unix_nano != 0 {
                    r.time_unix_nano
                } else {
                    r.observed_time_unix_nano
                };
                let ns = out.time(ns);
                out.push(measurement, tags, fields, ns, Category::Logging)?;
            }
        }
    }
    Ok(())
}

fn traces(req: &ExportTraceServiceRequest, out: &mut Out) -> Result<(), OtlpError> {
    use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
    use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
    for rs in &req.resource_spans {
        let mut base = Tags::new();
        let mut base_fields = Fields::default();
        if let Some(r) = &rs.resource {
            split_attributes(&r.attributes, &mut base, &mut base_fields);
        }
        let service = base
            .get("service.name")
            .cloned()
            .unwrap_or_else(|| "unknown_service".into());
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                let kind = SpanKind::try_from(s.kind).unwrap_or(SpanKind::Unspecified);
                let kind = kind
                    .as_str_name()
                    .trim_start_matches("SPAN_KIND_")
                    .to_ascii_lowercase();
                let status = s.status.as_ref();
                let code = status
                    .and_then(|st| StatusCode::try_from(st.code).ok())
                    .unwrap_or(StatusCode::Unset);
                let code = match code {
                    StatusCode::Ok => "ok",
                    StatusCode::Error => "error",
                    StatusCode::Unset => "unset",
                };
                let micros = |ns: u64| i64::try_from(ns / 1000).unwrap_or(i64::MAX);
                let mut fields = Fields::default();
                let mut size = 0;
                let duration = s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano);
                for (k, v) in [
                    ("trace_id", FieldValue::Text(hex(&s.trace_id))),
                    ("span_id", FieldValue::Text(hex(&s.span_id))),
                    ("start", FieldValue::Int(micros(s.start_time_unix_nano))),
                    ("duration", FieldValue::Int(micros(duration))),
                ] {
                    size += fields.set(k, v, true);
                }
                if !s.parent_span_id.is_empty() {
                    size += fields.set("parent_id", FieldValue::Text(hex(&s.parent_span_id)), true);
                }
                if let Some(m) = status.map(|st| &st.message).filter(|m| !m.is_empty()) {
                    size += fields.set("status_message", FieldValue::Text(m.clone()), true);
                }
                let mut tags = base.clone();
                size += split_attributes(&s.attributes, &mut tags, &mut fields);
                for (k, v) in &base_fields.list {
                    fields.set(k, v.clone(), false);
                }
                for (k, v) in [
                    ("service", service.clone()),
                    ("operation", s.name.clone()),
                    ("span_kind", kind),
                    ("status", code.to_string()),
                ] {
                    tags.insert(k.into(), v);
                }
                out.charge(size + tags_size(&tags) + fields_size(&base_fields))?;
                let ns = out.time(s.start_time_unix_nano);
                out.push("opentelemetry", tags, fields, ns, Category::Tracing)?;
            }
        }
    }
    Ok(())
}
