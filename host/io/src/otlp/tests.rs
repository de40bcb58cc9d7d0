use super::*;
use crate::{Category, Counters, FieldValue, Point};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message;

fn point(m: &str, tags: &[(&str, &str)], fields: Vec<(&str, FieldValue)>, cat: Category) -> Point {
    Point::new(
        m.into(),
        tags.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        1_700_000_000_000_000_000,
        cat,
    )
    .unwrap()
}

fn options() -> OtlpOptions {
    OtlpOptions {
        counters: Counters(vec!["cpu.time_*".into()]),
        resource: vec![("host".into(), "web-1".into())],
        start_ns: 1_600_000_000_000_000_000,
    }
}

#[test]
fn metrics_go_out_as_gauges_and_counters_under_the_global_tags_resource() {
    let p = point(
        "cpu",
        &[("host", "web-1"), ("cpu", "cpu0")],
        vec![
            ("usage", FieldValue::Float(12.5)),
            ("time_user", FieldValue::Uint(42)),
            ("label", FieldValue::Text("x".into())),
        ],
        Category::Metric,
    );
    let body = encode(Category::Metric, &[p], &options()).unwrap();
    let req = ExportMetricsServiceRequest::decode(body.as_slice()).unwrap();
    let rm = &req.resource_metrics[0];
    let res = &rm.resource.as_ref().unwrap().attributes;
    assert_eq!(res.len(), 1);
    assert_eq!(res[0].key, "host");
    let sm = &rm.scope_metrics[0];
    assert_eq!(sm.scope.as_ref().unwrap().name, "cpu");
    let names: Vec<_> = sm.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["cpu.time_user", "cpu.usage"],
        "text fields are left out"
    );
    match &sm.metrics[0].data {
        Some(Data::Sum(s)) => {
            assert!(s.is_monotonic);
            assert_eq!(s.aggregation_temporality, 2);
            assert_eq!(
                s.data_points[0].start_time_unix_nano,
                1_600_000_000_000_000_000
            );
            assert_eq!(s.data_points[0].attributes[0].key, "cpu");
        }
        other => panic!("not a sum: {other:?}"),
    }
    assert!(matches!(&sm.metrics[1].data, Some(Data::Gauge(_))));
    assert_eq!(encode(Category::Object, &[], &options()), None);
}

#[test]
fn points_come_back_from_their_own_requests() {
    let metric = point(
        "disk",
        &[("host", "web-1"), ("device", "sda")],
        // In name order: a measurement's metrics go out sorted by name.
        vec![
            ("free_pct", FieldValue::Float(0.5)),
            ("used", FieldValue::Int(7)),
        ],
        Category::Metric,
    );
    let body = encode(Category::Metric, std::slice::from_ref(&metric), &options()).unwrap();
    let back = decode(Signal::Metrics, &body, false, 1 << 20)
        .unwrap()
        .points;
    assert_eq!(back, vec![metric]);

    let log = point(
        "nginx",
        &[("host", "web-1"), ("status", "warning"), ("path", "/a b")],
        vec![
            ("message", FieldValue::Text("slow upstream".into())),
            // The record's own fields first, then its attributes.
            (
                "trace_id",
                FieldValue::Text("0af7651916cd43dd8448eb211c80319c".into()),
            ),
            ("span_id", FieldValue::Text("b7ad6b7169203331".into())),
            ("bytes", FieldValue::Int(512)),
        ],
        Category::Logging,
    );
    let body = encode(Category::Logging, std::slice::from_ref(&log), &options()).unwrap();
    let back = decode(Signal::Logs, &body, false, 1 << 20).unwrap().points;
    assert_eq!(back, vec![log]);
}

#[test]
fn otlp_json_with_histograms_and_string_integers_reads() {
    let body = br#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},
      "scopeMetrics":[{"scope":{"name":"shop"},"metrics":[
        {"name":"shop.orders","sum":{"aggregationTemporality":2,"isMonotonic":true,
          "dataPoints":[{"asInt":"5","timeUnixNano":"1700000000000000000","attributes":[{"key":"region","value":{"stringValue":"eu"}}]}]}},
        {"name":"latency","histogram":{"aggregationTemporality":2,"dataPoints":[{"timeUnixNano":"1700000000000000000",
          "count":"3","sum":0.6,"bucketCounts":["1","2"],"explicitBounds":[0.1]}]}}]}]}]}"#;
    let points = decode(Signal::Metrics, body, true, 1 << 20).unwrap().points;
    let lines: Vec<String> = points
        .iter()
        .map(|p| {
            let mut s = String::new();
            crate::encode_point(&mut s, p);
            s.trim_end().to_string()
        })
        .collect();
    assert!(
        lines.contains(
            &"shop,region=eu,service.name=shop orders=5i 1700000000000000000".to_string()
        ),
        "{lines:?}"
    );
    assert!(
        lines.contains(
            &"shop,service.name=shop latency_count=3u,latency_sum=0.6 1700000000000000000"
                .to_string()
        ),
        "{lines:?}"
    );
    assert!(
        lines.contains(
            &"shop,le=0.1,service.name=shop latency_bucket=1u 1700000000000000000".to_string()
        ),
        "{lines:?}"
    );
    assert!(
        lines.contains(
            &"shop,le=+Inf,service.name=shop latency_bucket=3u 1700000000000000000".to_string()
        ),
        "{lines:?}"
    );
}

#[test]
fn spans_are_tracing_points_and_bad_bodies_are_errors() {
    let body = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
      "scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
        "parentSpanId":"eee19b7ec3c1b173","name":"GET /users","kind":2,"startTimeUnixNano":"1700000000000000000",
        "endTimeUnixNano":"1700000000250000000","attributes":[{"key":"http.status_code","value":{"intValue":"500"}}],
        "status":{"code":2,"message":"boom"}}]}]}]}"#;
    let points = decode(Signal::Traces, body, true, 1 << 20).unwrap().points;
    assert_eq!(points.len(), 1);
    let p = &points[0];
    assert_eq!(p.category(), Category::Tracing);
    assert_eq!(p.tag("service"), Some("api"));
    assert_eq!(p.tag("span_kind"), Some("server"));
    assert_eq!(p.tag("status"), Some("error"));
    assert_eq!(p.field("duration"), Some(&FieldValue::Int(250_000)));
    assert_eq!(p.field("http.status_code"), Some(&FieldValue::Int(500)));
    assert_eq!(
        p.field("parent_id"),
        Some(&FieldValue::Text("eee19b7ec3c1b173".into()))
    );

    assert!(matches!(
        decode(Signal::Logs, b"{not json", true, 1 << 20),
        Err(OtlpError::Json { .. })
    ));
    assert!(matches!(
        decode(Signal::Logs, b"\xff\xff\xff", false, 1 << 20),
        Err(OtlpError::Protobuf { .. })
    ));
}

#[test]
fn a_small_body_cannot_expand_past_the_budget() {
    // 10,000 buckets under a 1 MiB attribute would be 10 GB of points: refused at the
    // ~18th, as the points are made (a regression would run out of memory here).
    let big = "x".repeat(1 << 20);
    let bounds: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
    let counts = vec!["\"1\""; 10_001].join(",");
    let body = format!(
        r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"h","histogram":{{"dataPoints":[{{"count":"10001","bucketCounts":[{counts}],"explicitBounds":[{}],"attributes":[{{"key":"a","value":{{"stringValue":"{big}"}}}}]}}]}}}}]}}]}}]}}"#,
        bounds.join(",")
    );
    assert!(matches!(
        decode(Signal::Metrics, body.as_bytes(), true, body.len() * 16),
        Err(OtlpError::TooLarge { .. })
    ));
    // 100,000 empty messages: 200 KB on the wire, far more once decoded; refused before.
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![Default::default(); 100_000],
    };
    let mut body = req.encode_to_vec();
    assert_eq!(body.len(), 200_000);
    // An empty group (field 15) at the end: prost skips it; it hides nothing from the count.
    body.extend_from_slice(&[0x7b, 0x7c]);
    assert!(matches!(
        decode(Signal::Metrics, &body, false, body.len() * 16),
        Err(OtlpError::TooLarge { .. })
    ));
    // A resource's large attribute is copied into every record: charged as such.
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
    let big = AnyValue {
        value: Some(any_value::Value::ArrayValue(ArrayValue {
            values: vec![AnyValue {
                value: Some(any_value::Value::StringValue("x".repeat(1 << 20))),
            }],
        })),
    };
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                attributes: vec![KeyValue {
                    key: "big".into(),
                    value: Some(big),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: vec![Default::default(); 1000],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let body = logs.encode_to_vec();
    assert!(matches!(
        decode(Signal::Logs, &body, false, body.len() * 16),
        Err(OtlpError::TooLarge { .. })
    ));
    // 512 ordinary records, as an SDK batches them: a body as large as 40% of
    // `max_decompressed` (the budget is four times that) is taken.
    let record = opentelemetry_proto::tonic::logs::v1::LogRecord {
        time_unix_nano: 1,
        severity_number: 9,
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue("GET /index.html 200".into())),
        }),
        attributes: (0..5)
            .map(|i| KeyValue {
                key: format!("attribute.{i}"),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(format!("value {i}"))),
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![record; 512],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let body = logs.encode_to_vec();
    let d = decode(Signal::Logs, &body, false, body.len() * 10).unwrap();
    assert_eq!(d.points.len(), 512);
    // The same in JSON.
    let body = format!(
        r#"{{"resourceMetrics":[{}]}}"#,
        vec!["{}"; 100_000].join(",")
    );
    assert!(matches!(
        decode(Signal::Metrics, body.as_bytes(), true, body.len() * 4),
        Err(OtlpError::TooLarge { .. })
    ));
}

#[test]
fn what_has_no_place_is_counted_as_rejected_and_delta_is_tagged() {
    let body = br#"{"resourceMetrics":[{"scopeMetrics":[{"scope":{"name":"s"},"metrics":[
        {"name":"s.orders","sum":{"aggregationTemporality":1,"dataPoints":[{"asInt":"2","timeUnixNano":"1"}]}},
        {"name":"orders","gauge":{"dataPoints":[{"asDouble":1.5,"timeUnixNano":"1"},{"timeUnixNano":"1"}]}},
        {"name":"bad","histogram":{"dataPoints":[{"count":"1","bucketCounts":["1"],"explicitBounds":[1,2],"timeUnixNano":"1"}]}}]}]}]}"#;
    let d = decode(Signal::Metrics, body, true, 1 << 20).unwrap();
    assert_eq!(d.rejected, 2, "{:?}", d.reason);
    assert!(d.reason.unwrap().contains("no finite value"));
    let p = |field: &str| d.points.iter().find(|p| p.field(field).is_some()).unwrap();
    // `s.orders` keeps its name: the scope has a metric `orders` too.
    assert_eq!(p("s.orders").tag("temporality"), Some("delta"));
    assert_eq!(p("orders").field("orders"), Some(&FieldValue::Float(1.5)));
}
