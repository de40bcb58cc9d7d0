//! The scrape and its conversion to points, against exposition texts.
use super::*;
use serde_json::json;

fn settings(v: Value) -> Settings {
    Settings::from_config(&Config::from_value(v)).unwrap()
}

fn target() -> Target {
    Target {
        url: "http://127.0.0.1:9100/metrics".into(),
        instance: "127.0.0.1:9100".into(),
    }
}

const TEXT: &str = r#"# TYPE node_load1 gauge
node_load1 0.5
# TYPE node_load5 gauge
node_load5 0.25
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 100
node_cpu_seconds_total{cpu="0",mode="user"} 7
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0.5"} NaN
go_gc_duration_seconds_count 3
up 1
bad line here
stamped{job="x",instance="10.0.0.1:80"} 2 1700000000000
"#;

#[test]
fn names_are_cut_at_the_first_underscore_and_samples_share_points() {
    let s = settings(json!({"urls": ["http://127.0.0.1:9100/metrics"]}));
    let scraped = points(&s, &target(), TEXT, Format::Prometheus).unwrap();
    assert_eq!(scraped.samples, 7, "NaN skipped");
    assert_eq!(scraped.bad_lines, 1);
    assert_eq!(
        scraped.first_error.as_deref(),
        Some("line 12: bad: value \"line\" is not a number")
    );
    let inst = ("instance", "127.0.0.1:9100");
    let want = vec![
        // The exporter's own `up` does not collide with the collector's.
        Point::new("exported").tag(inst.0, inst.1).field("up", 1.0),
        Point::new("go")
            .tag(inst.0, inst.1)
            .field("gc_duration_seconds_count", 3.0),
        // Tag sets sort before their extensions and by value: cpu="0" before instance.
        Point::new("node")
            .tag("cpu", "0")
            .tag(inst.0, inst.1)
            .tag("mode", "idle")
            .field("cpu_seconds_total", 100.0),
        Point::new("node")
            .tag("cpu", "0")
            .tag(inst.0, inst.1)
            .tag("mode", "user")
            .field("cpu_seconds_total", 7.0),
        Point::new("node")
            .tag(inst.0, inst.1)
            .field("load1", 0.5)
            .field("load5", 0.25),
        Point::new("prom")
            .tag("instance", "10.0.0.1:80")
            .tag("job", "x")
            .field("stamped", 2.0)
            .timestamp_ns(1_700_000_000_000_000_000),
    ];
    assert_eq!(scraped.points, want);
}

#[test]
fn configured_tags_win_and_no_key_is_written_twice() {
    let s = settings(json!({
        "urls": ["http://127.0.0.1:9100/metrics"],
        "tags": {"instance": "db1", "cpu": "all"},
    }));
    let text = "x_a{cpu=\"0\",exported_cpu=\"9\",instance=\"i\"} 1\n";
    let p = points(&s, &target(), text, Format::Prometheus)
        .unwrap()
        .points;
    assert_eq!(
        p,
        vec![Point::new("x")
            .tag("cpu", "all")
            .tag("exported_cpu", "9")
            .tag("exported_exported_cpu", "0")
            .tag("exported_instance", "i")
            .tag("instance", "db1")
            .field("a", 1.0)]
    );
    let own = scrape_points(&s, &target(), true, 0.1, 1);
    assert_eq!(
        own[0],
        Point::new("prom")
            .tag("cpu", "all")
            .tag("instance", "db1")
            .field("up", 1.0)
    );
}

#[test]
fn a_target_over_its_sample_limit_fails() {
    let s = settings(json!({"urls": ["http://h:1/"], "sample_limit": 3}));
    let e = points(&s, &target(), TEXT, Format::Prometheus).unwrap_err();
    assert_eq!(e, "more than 3 samples (sample_limit)");
    let unlimited = settings(json!({"urls": ["http://h:1/"], "sample_limit": 0}));
    assert!(points(&unlimited, &target(), TEXT, Format::Prometheus).is_ok());
}

#[test]
fn filters_prefix_single_measurement_and_tags() {
    let s = settings(json!({
        "urls": ["http://127.0.0.1:9100/metrics"],
        "metric_types": ["gauge", "counter"],
        "exclude": ["node_load5"],
        "measurement_name": "nodes",
        "measurement_prefix": "x_",
        "tags": {"cpu": "all", "dc": "eu"},
        "instance_tag": false,
    }));
    let scraped = points(&s, &target(), TEXT, Format::Prometheus).unwrap();
    assert_eq!(scraped.samples, 3);
    let points = scraped.points;
    let want = vec![
        Point::new("x_nodes")
            .tag("cpu", "all")
            .tag("dc", "eu")
            .field("node_load1", 0.5),
        Point::new("x_nodes")
            .tag("cpu", "all")
            .tag("dc", "eu")
            .tag("exported_cpu", "0")
            .tag("mode", "idle")
            .field("node_cpu_seconds_total", 100.0),
        Point::new("x_nodes")
            .tag("cpu", "all")
            .tag("dc", "eu")
            .tag("exported_cpu", "0")
            .tag("mode", "user")
            .field("node_cpu_seconds_total", 7.0),
    ];
    assert_eq!(points, want);
    let only = settings(json!({"urls": ["http://h:1/"], "include": ["node_cpu_*"]}));
    assert_eq!(points_of(&only).len(), 2);
}

fn points_of(s: &Settings) -> Vec<Point> {
    points(s, &target(), TEXT, Format::Prometheus)
        .unwrap()
        .points
}

#[test]
fn the_scrape_reports_itself() {
    let s = settings(json!({"urls": ["http://127.0.0.1:9100/metrics"]}));
    let p = scrape_points(&s, &target(), false, 0.25, 0);
    assert_eq!(
        p,
        vec![
            Point::new("prom")
                .tag("instance", "127.0.0.1:9100")
                .field("up", 0.0),
            Point::new("scrape")
                .tag("instance", "127.0.0.1:9100")
                .field("duration_seconds", 0.25)
                .field("samples_scraped", 0.0),
        ]
    );
}

#[test]
fn globs() {
    assert!(glob("node_*", "node_load1"));
    assert!(glob("*_total", "http_requests_total"));
    assert!(glob("a*b*c", "a_x_b_y_c"));
    assert!(!glob("a*b*c", "a_x_c"));
    assert!(glob("*", "anything"));
    assert!(glob("exact", "exact"));
    assert!(!glob("exact", "exactly"));
    assert!(!glob("ab*ba", "aba"));
}

#[test]
fn config_errors_name_the_key() {
    let err = |v: Value| Settings::from_config(&Config::from_value(v)).unwrap_err();
    assert!(err(json!({})).contains("\"urls\""));
    assert!(err(json!({"urls": ["127.0.0.1:9100"]})).contains("not absolute"));
    assert!(err(json!({"urls": ["ftp://h/"]})).contains("scheme"));
    assert!(err(json!({"urls": ["http://h/"], "timeout": "5 parsecs"})).contains("timeout"));
    assert!(
        err(json!({"urls": ["http://h/"], "metric_types": ["gauges"]}))
            .contains("\"gauges\" is not one of")
    );
    assert!(err(json!({"urls": ["http://h/"], "tags": {"a": 1}})).contains("\"tags.a\""));
    assert!(err(json!({"urls": ["http://h/"], "url": "x"})).contains("unknown config key"));
}

#[test]
fn instances_and_durations() {
    assert_eq!(
        instance_of("http://127.0.0.1:9100/metrics").unwrap(),
        "127.0.0.1:9100"
    );
    assert_eq!(
        instance_of("https://exporter.example.com/m").unwrap(),
        "exporter.example.com:443"
    );
    assert_eq!(instance_of("http://[::1]/metrics").unwrap(), "[::1]:80");
    assert_eq!(instance_of("http://[::1]:9100").unwrap(), "[::1]:9100");
    assert_eq!(duration("5s").unwrap(), Duration::from_secs(5));
    assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
    assert_eq!(duration("1.5m").unwrap(), Duration::from_secs(90));
    assert!(duration("0s").is_err());
    assert!(duration("5").is_err());
}
