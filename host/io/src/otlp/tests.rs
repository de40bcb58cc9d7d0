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
    let back = decode(Signal::Metrics, &body, false, 1 << 20).unwrap();
    assert_eq!(back, vec![metric]);

    let log = point(
        "nginx",
        &[("host", "web-1"), ("status", "warning"), ("path", "/a b")],
        vec![
            ("message", FieldValue::Text("slow upstream".into())),
            ("bytes", FieldValue::Int(512)),
            (
                "trace_id",
                FieldValue::Text("0af7651916cd43dd8448eb211c80319c".into()),
            ),
            ("span_id", FieldValue::Text("b7ad6b7169203331".into())),
        ],
        Category::Logging,
    );
    let body = encode(Category::Logging, std::slice::from_ref(&log), &options()).unwrap();
    let back = decode(Signal::Logs, &body, false, 1 << 20).unwrap();
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
    let points = decode(Signal::Metrics, body, true, 1 << 20).unwrap();
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
    let points = decode(Signal::Traces, body, true, 1 << 20).unwrap();
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
    let bounds: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
    let counts: Vec<String> = (0..2001).map(|_| "\"1\"".to_string()).collect();
    let attrs: Vec<String> = (0..50)
        .map(|i| {
            format!(
                r#"{{"key":"attribute_{i}","value":{{"stringValue":"a fairly long value {i}"}}}}"#
            )
        })
        .collect();
    let body = format!(
        r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"h","histogram":{{"dataPoints":[{{"count":"2001","bucketCounts":[{}],"explicitBounds":[{}],"attributes":[{}]}}]}}}}]}}]}}]}}"#,
        counts.join(","),
        bounds.join(","),
        attrs.join(",")
    );
    let limit = body.len() * 4;
    assert!(matches!(
        decode(Signal::Metrics, body.as_bytes(), true, limit),
        Err(OtlpError::TooLarge { .. })
    ));
}
