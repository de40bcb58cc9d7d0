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

use super::{hex, status_of};
use crate::{now_ns, Category, FieldValue, Point};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, Metric};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use std::collections::BTreeMap;

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
}

/// Why a body gives no points.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("not an OTLP {signal} export request (protobuf): {why}")]
    Protobuf { signal: &'static str, why: String },
    #[error("not an OTLP {signal} export request (JSON): {why}")]
    Json { signal: &'static str, why: String },
    #[error("the request expands into more than {limit} bytes of points")]
    TooLarge { limit: usize },
    #[error("{what}: {why}")]
    Point { what: String, why: String },
}

/// The points of one export request. `json` tells OTLP/JSON from protobuf; the points may
/// take at most `budget` bytes (tags and fields, counted per point), so that a small body
/// cannot expand without bound (a histogram of many buckets under many attributes).
///
/// # Errors
/// A body that is not the request, or a point that cannot be one.
pub fn decode(
    signal: Signal,
    body: &[u8],
    json: bool,
    budget: usize,
) -> Result<Vec<Point>, OtlpError> {
    let mut out = Out {
        points: Vec::new(),
        used: 0,
        budget,
        now: now_ns(),
    };
    match signal {
        Signal::Metrics => metrics(
            &read::<ExportMetricsServiceRequest>(body, json, "metrics")?,
            &mut out,
        )?,
        Signal::Logs => logs(
            &read::<ExportLogsServiceRequest>(body, json, "logs")?,
            &mut out,
        )?,
        Signal::Traces => traces(
            &read::<ExportTraceServiceRequest>(body, json, "traces")?,
            &mut out,
        )?,
    }
    Ok(out.points)
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
    points: Vec<Point>,
    used: usize,
    budget: usize,
    now: i64,
}

type Tags = BTreeMap<String, String>;
type Fields = Vec<(String, FieldValue)>;

impl Out {
    fn time(&self, ns: u64) -> i64 {
        if ns == 0 {
            self.now
        } else {
            i64::try_from(ns).unwrap_or(i64::MAX)
        }
    }

    fn push(
        &mut self,
        measurement: &str,
        tags: Tags,
        fields: Fields,
        ns: i64,
        category: Category,
    ) -> Result<(), OtlpError> {
        let size = measurement.len()
            + tags.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
            + fields
                .iter()
                .map(|(k, v)| k.len() + v.as_text().map_or(8, str::len))
                .sum::<usize>();
        self.used += size;
        if self.used > self.budget {
            return Err(OtlpError::TooLarge { limit: self.budget });
        }
        let tags = tags.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        let p = Point::new(measurement.to_string(), tags, fields, ns, category).map_err(|e| {
            OtlpError::Point {
                what: format!("measurement {measurement:?}"),
                why: e.to_string(),
            }
        })?;
        self.points.push(p);
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

/// String attributes as tags, the others as typed fields.
fn split_attributes(attributes: &[KeyValue], tags: &mut Tags, fields: &mut Fields) {
    for kv in attributes {
        match kv.value.as_ref().map(|v| &v.value) {
            Some(Some(any_value::Value::StringValue(s))) => {
                tags.insert(kv.key.clone(), s.clone());
            }
            Some(Some(_)) => {
                if let Some(v) = &kv.value {
                    fields.retain(|(k, _)| *k != kv.key);
                    fields.push((kv.key.clone(), typed(v)));
                }
            }
            _ => {}
        }
    }
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
    fn add(&mut self, tags: Tags, ns: i64, field: String, value: FieldValue) {
        let fields = self.0.entry((tags, ns)).or_default();
        fields.retain(|(k, _)| *k != field);
        fields.push((field, value));
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
            let mut gathered = Gathered::default();
            for m in &sm.metrics {
                metric(m, measurement, &base, out, &mut gathered);
            }
            for ((tags, ns), fields) in gathered.0 {
                if !fields.is_empty() {
                    out.push(measurement, tags, fields, ns, Category::Metric)?;
                }
            }
        }
    }
    Ok(())
}

/// One metric's data points into `gathered`.
fn metric(m: &Metric, measurement: &str, base: &Tags, out: &Out, gathered: &mut Gathered) {
    let name = m
        .name
        .strip_prefix(measurement)
        .and_then(|n| n.strip_prefix('.'))
        .filter(|n| !n.is_empty())
        .unwrap_or(&m.name);
    let tags = |attributes: &[KeyValue], extra: Option<(&str, String)>| {
        let mut t = base.clone();
        tags_of(attributes, &mut t);
        if let Some((k, v)) = extra {
            t.insert(k.into(), v);
        }
        t
    };
    let number = |v: &Option<number_data_point::Value>| match v {
        Some(number_data_point::Value::AsInt(i)) => Some(FieldValue::Int(*i)),
        Some(number_data_point::Value::AsDouble(d)) => float(*d),
        None => None,
    };
    match &m.data {
        Some(metric::Data::Gauge(g)) => {
            for d in &g.data_points {
                if let Some(v) = number(&d.value) {
                    gathered.add(
                        tags(&d.attributes, None),
                        out.time(d.time_unix_nano),
                        name.into(),
                        v,
                    );
                }
            }
        }
        Some(metric::Data::Sum(s)) => {
            for d in &s.data_points {
                if let Some(v) = number(&d.value) {
                    gathered.add(
                        tags(&d.attributes, None),
                        out.time(d.time_unix_nano),
                        name.into(),
                        v,
                    );
                }
            }
        }
        Some(metric::Data::Histogram(h)) => {
            for d in &h.data_points {
                let ns = out.time(d.time_unix_nano);
                let t = tags(&d.attributes, None);
                let summary = [
                    ("count", Some(FieldValue::Uint(d.count))),
                    ("sum", d.sum.and_then(float)),
                    ("min", d.min.and_then(float)),
                    ("max", d.max.and_then(float)),
                ];
                for (suffix, v) in summary {
                    if let Some(v) = v {
                        gathered.add(t.clone(), ns, format!("{name}_{suffix}"), v);
                    }
                }
                let mut cumulative = 0u64;
                for (i, count) in d.bucket_counts.iter().enumerate() {
                    cumulative = cumulative.saturating_add(*count);
                    let le = d
                        .explicit_bounds
                        .get(i)
                        .map_or_else(|| "+Inf".to_string(), f64::to_string);
                    gathered.add(
                        tags(&d.attributes, Some(("le", le))),
                        ns,
                        format!("{name}_bucket"),
                        FieldValue::Uint(cumulative),
                    );
                }
            }
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            for d in &h.data_points {
                let t = tags(&d.attributes, None);
                let ns = out.time(d.time_unix_nano);
                let summary = [
                    ("count", Some(FieldValue::Uint(d.count))),
                    ("sum", d.sum.and_then(float)),
                    ("min", d.min.and_then(float)),
                    ("max", d.max.and_then(float)),
                ];
                for (suffix, v) in summary {
                    if let Some(v) = v {
                        gathered.add(t.clone(), ns, format!("{name}_{suffix}"), v);
                    }
                }
            }
        }
        Some(metric::Data::Summary(s)) => {
            for d in &s.data_points {
                let ns = out.time(d.time_unix_nano);
                let t = tags(&d.attributes, None);
                gathered.add(
                    t.clone(),
                    ns,
                    format!("{name}_count"),
                    FieldValue::Uint(d.count),
                );
                if let Some(v) = float(d.sum) {
                    gathered.add(t, ns, format!("{name}_sum"), v);
                }
                for q in &d.quantile_values {
                    if let Some(v) = float(q.value) {
                        let t = tags(&d.attributes, Some(("quantile", q.quantile.to_string())));
                        gathered.add(t, ns, name.into(), v);
                    }
                }
            }
        }
        None => {}
    }
}

fn logs(req: &ExportLogsServiceRequest, out: &mut Out) -> Result<(), OtlpError> {
    for rl in &req.resource_logs {
        let mut base_fields = Fields::new();
        let mut base = Tags::new();
        if let Some(r) = &rl.resource {
            split_attributes(&r.attributes, &mut base, &mut base_fields);
        }
        for sl in &rl.scope_logs {
            let measurement = scope_name(sl.scope.as_ref());
            for r in &sl.log_records {
                let mut tags = base.clone();
                let mut fields = base_fields.clone();
                split_attributes(&r.attributes, &mut tags, &mut fields);
                match status_of(r.severity_number) {
                    Some(s) => {
                        tags.insert("status".into(), s.into());
                    }
                    None if !r.severity_text.is_empty() => {
                        tags.insert("status".into(), r.severity_text.to_ascii_lowercase());
                    }
                    None => {}
                }
                let message = match r.body.as_ref().map(|b| &b.value) {
                    Some(Some(any_value::Value::StringValue(s))) => Some(s.clone()),
                    Some(Some(_)) => r.body.as_ref().map(|b| json(b).to_string()),
                    _ => None,
                };
                fields.retain(|(k, _)| !["message", "trace_id", "span_id"].contains(&k.as_str()));
                if let Some(m) = message {
                    fields.insert(0, ("message".into(), FieldValue::Text(m)));
                }
                if !r.trace_id.is_empty() {
                    fields.push(("trace_id".into(), FieldValue::Text(hex(&r.trace_id))));
                }
                if !r.span_id.is_empty() {
                    fields.push(("span_id".into(), FieldValue::Text(hex(&r.span_id))));
                }
                if fields.is_empty() {
                    fields.push(("message".into(), FieldValue::Text(String::new())));
                }
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
        let mut base_fields = Fields::new();
        if let Some(r) = &rs.resource {
            split_attributes(&r.attributes, &mut base, &mut base_fields);
        }
        let service = base
            .get("service.name")
            .cloned()
            .unwrap_or_else(|| "unknown_service".into());
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                let mut tags = base.clone();
                let mut fields = base_fields.clone();
                split_attributes(&s.attributes, &mut tags, &mut fields);
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
                for (k, v) in [
                    ("service", service.clone()),
                    ("operation", s.name.clone()),
                    ("span_kind", kind),
                    ("status", code.to_string()),
                ] {
                    tags.insert(k.into(), v);
                }
                let micros = |ns: u64| i64::try_from(ns / 1000).unwrap_or(i64::MAX);
                let mut own: Fields = vec![
                    ("trace_id".into(), FieldValue::Text(hex(&s.trace_id))),
                    ("span_id".into(), FieldValue::Text(hex(&s.span_id))),
                    (
                        "start".into(),
                        FieldValue::Int(micros(s.start_time_unix_nano)),
                    ),
                    (
                        "duration".into(),
                        FieldValue::Int(micros(
                            s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano),
                        )),
                    ),
                ];
                if !s.parent_span_id.is_empty() {
                    own.push(("parent_id".into(), FieldValue::Text(hex(&s.parent_span_id))));
                }
                if let Some(m) = status.map(|st| &st.message).filter(|m| !m.is_empty()) {
                    own.push(("status_message".into(), FieldValue::Text(m.clone())));
                }
                fields.retain(|(k, _)| !own.iter().any(|(o, _)| o == k));
                fields.extend(own);
                let ns = out.time(s.start_time_unix_nano);
                out.push("opentelemetry", tags, fields, ns, Category::Tracing)?;
            }
        }
    }
    Ok(())
}
