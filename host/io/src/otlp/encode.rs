//! Points as OTLP export requests (protobuf): metric points as `ExportMetricsServiceRequest`,
//! logging points as `ExportLogsServiceRequest`.

use super::{key_value, severity_of, string_value, unhex};
use crate::{Category, Counters, FieldValue, Point};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use std::collections::BTreeMap;

/// What the OTLP output is told beyond its URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtlpOptions {
    /// Metrics (`<measurement>.<field>`, as written) that are counters: cumulative monotonic
    /// sums. Every other is a gauge.
    pub counters: Counters,
    /// The agent's global tags: a point's tag with one of these keys and values is an attribute
    /// of the resource, not of the data point.
    pub resource: Vec<(String, String)>,
    /// When the counters started counting (the agent's start), ns since the epoch.
    pub start_ns: u64,
}

/// Points split by resource (their global tags), then scope (their measurement).
type ByResource<'a, T> = BTreeMap<ResourceKey<'a>, BTreeMap<&'a str, T>>;

/// The request that carries `points` of `category` (metric or logging; points of any other
/// category have no place in OTLP and give `None`), protobuf-encoded.
pub fn encode(category: Category, points: &[Point], options: &OtlpOptions) -> Option<Vec<u8>> {
    match category {
        Category::Metric => Some(metrics(points, options).encode_to_vec()),
        Category::Logging => Some(logs(points, options).encode_to_vec()),
        _ => None,
    }
}

/// A resource: the global tags a point carries.
type ResourceKey<'a> = Vec<(&'a str, &'a str)>;

/// A point's tags split into the resource's and its own.
fn split_tags<'a>(
    p: &'a Point,
    options: &OtlpOptions,
) -> (ResourceKey<'a>, Vec<&'a (String, String)>) {
    let (resource, own): (Vec<_>, Vec<_>) = p
        .tags()
        .iter()
        .partition(|(k, v)| options.resource.iter().any(|(rk, rv)| rk == k && rv == v));
    let resource = resource
        .into_iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    (resource, own)
}

fn resource(tags: ResourceKey<'_>) -> Option<Resource> {
    Some(Resource {
        attributes: tags
            .into_iter()
            .map(|(k, v)| key_value(k, string_value(v.to_string())))
            .collect(),
        ..Default::default()
    })
}

fn scope(measurement: &str) -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: measurement.to_string(),
        ..Default::default()
    })
}

fn tag_attributes(tags: &[&(String, String)]) -> Vec<KeyValue> {
    tags.iter()
        .map(|(k, v)| key_value(k, string_value(v.clone())))
        .collect()
}

fn ns(p: &Point) -> u64 {
    u64::try_from(p.timestamp_ns()).unwrap_or(0)
}

fn number(v: &FieldValue) -> Option<number_data_point::Value> {
    use number_data_point::Value::{AsDouble, AsInt};
    Some(match v {
        FieldValue::Int(i) => AsInt(*i),
        // Past i64: a double (close), not a clamped integer (wrong).
        FieldValue::Uint(u) => i64::try_from(*u).map_or(AsDouble(*u as f64), AsInt),
        FieldValue::Float(f) => AsDouble(*f),
        FieldValue::Bool(b) => AsInt(i64::from(*b)),
        FieldValue::Text(_) | FieldValue::Shared(_) => return None,
    })
}

/// Metric points: one metric per `<measurement>.<field>` and resource, its data points in the
/// order the points came. Text fields are left out (a metric has no place for them).
fn metrics(points: &[Point], options: &OtlpOptions) -> ExportMetricsServiceRequest {
    // resource -> scope -> metric name -> data points
    let mut by: ByResource<'_, BTreeMap<String, Vec<NumberDataPoint>>> = BTreeMap::new();
    for p in points {
        let (res, own) = split_tags(p, options);
        let attributes = tag_attributes(&own);
        let metrics = by
            .entry(res)
            .or_default()
            .entry(p.measurement())
            .or_default();
        for (field, value) in p.fields() {
            let Some(value) = number(value) else {
                continue;
            };
            let name = format!("{}.{}", p.measurement(), &**field);
            metrics.entry(name).or_default().push(NumberDataPoint {
                attributes: attributes.clone(),
                time_unix_nano: ns(p),
                value: Some(value),
                ..Default::default()
            });
        }
    }
    let resource_metrics = by
        .into_iter()
        .map(|(res, scopes)| ResourceMetrics {
            resource: resource(res),
            scope_metrics: scopes
                .into_iter()
                .map(|(measurement, metrics)| ScopeMetrics {
                    scope: scope(measurement),
                    metrics: metrics
                        .into_iter()
                        .map(|(name, data_points)| {
                            let data = if options.counters.is_counter(&name) {
                                let data_points = data_points
                                    .into_iter()
                                    .map(|mut d| {
                                        d.start_time_unix_nano =
                                            options.start_ns.min(d.time_unix_nano);
                                        d
                                    })
                                    .collect();
                                metric::Data::Sum(Sum {
                                    data_points,
                                    aggregation_temporality: AggregationTemporality::Cumulative
                                        as i32,
                                    is_monotonic: true,
                                })
                            } else {
                                metric::Data::Gauge(Gauge { data_points })
                            };
                            Metric {
                                name,
                                data: Some(data),
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest { resource_metrics }
}

fn field_value(v: &FieldValue) -> Option<AnyValue> {
    use any_value::Value;
    let value = match v {
        FieldValue::Int(i) => Value::IntValue(*i),
        FieldValue::Uint(u) => match i64::try_from(*u) {
            Ok(i) => Value::IntValue(i),
            Err(_) => Value::StringValue(u.to_string()),
        },
        FieldValue::Float(f) => Value::DoubleValue(*f),
        FieldValue::Bool(b) => Value::BoolValue(*b),
        FieldValue::Text(_) | FieldValue::Shared(_) => {
            Value::StringValue(v.as_text().unwrap_or_default().to_string())
        }
    };
    Some(AnyValue { value: Some(value) })
}

/// One logging point as a log record. Its observed time is its time: the agent gives a point
/// its time when it reads or collects it, and a request made again of the same points is the
/// same bytes (a bus's duplicate detection depends on it).
fn record(p: &Point, own: &[&(String, String)]) -> LogRecord {
    let mut r = LogRecord {
        time_unix_nano: ns(p),
        observed_time_unix_nano: ns(p),
        ..Default::default()
    };
    for (k, v) in own {
        if k == "status" {
            r.severity_number = severity_of(v);
            r.severity_text.clone_from(v);
        } else {
            r.attributes.push(key_value(k, string_value(v.clone())));
        }
    }
    for (k, v) in p.fields() {
        let id = |len| v.as_text().and_then(|s| unhex(s, len));
        match &**k {
            "message" if r.body.is_none() => r.body = field_value(v),
            "trace_id" if id(16).is_some() => r.trace_id = id(16).unwrap_or_default(),
            "span_id" if id(8).is_some() => r.span_id = id(8).unwrap_or_default(),
            _ => r.attributes.push(key_value(k, field_value(v))),
        }
    }
    r
}

/// Logging points: one log record each.
fn logs(points: &[Point], options: &OtlpOptions) -> ExportLogsServiceRequest {
    let mut by: ByResource<'_, Vec<LogRecord>> = BTreeMap::new();
    for p in points {
        let (res, own) = split_tags(p, options);
        let r = record(p, &own);
        by.entry(res)
            .or_default()
            .entry(p.measurement())
            .or_default()
            .push(r);
    }
    let resource_logs = by
        .into_iter()
        .map(|(res, scopes)| ResourceLogs {
            resource: resource(res),
            scope_logs: scopes
                .into_iter()
                .map(|(measurement, log_records)| ScopeLogs {
                    scope: scope(measurement),
                    log_records,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }
}
