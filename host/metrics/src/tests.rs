use super::*;

#[test]
fn labels_are_escaped() {
    assert_eq!(
        labels(&vec![("a", "x\"y\\z\nw".into()), ("b", String::new())]),
        r#"{a="x\"y\\z\nw",b=""}"#
    );
}

#[test]
fn histograms_are_cumulative_and_end_in_inf() {
    let mut h = Histogram::new(&[5, 10]);
    for ms in [1, 6, 7, 20, 30, 40] {
        h.observe(Duration::from_millis(ms));
    }
    assert_eq!(h.buckets, [1, 2, 3]);
    let mut f = Families::default();
    f.histogram("h", "help", [(vec![("p", "x".to_string())], h)]);
    assert_eq!(
        render_prometheus(&f),
        "# HELP h help\n# TYPE h histogram\n\
         h_bucket{p=\"x\",le=\"0.005\"} 1\nh_bucket{p=\"x\",le=\"0.01\"} 3\n\
         h_bucket{p=\"x\",le=\"+Inf\"} 6\nh_sum{p=\"x\"} 0.104\nh_count{p=\"x\"} 6\n"
    );
}

#[test]
fn an_atomic_histogram_counts_like_a_plain_one() {
    const B: [u64; 3] = [1, 10, 100];
    let a = AtomicHistogram::new(&B);
    let mut h = Histogram::new(&B);
    for us in [10, 999, 1001, 50_000, 200_000, 3_000_000] {
        a.observe(Duration::from_micros(us));
        h.observe(Duration::from_micros(us));
    }
    assert_eq!(a.snapshot(), h);
    assert_eq!(h.buckets, [2, 1, 1, 2]);
    let mut twice = h.clone();
    twice.merge(&h);
    assert_eq!((twice.count, twice.sum_us), (12, 2 * h.sum_us));
}

#[test]
fn a_registry_collects_its_sources_in_order_and_leaves_out_empty_families() {
    let mut r = Registry::default();
    r.register("one", |f: &mut Families| {
        f.counter("sandkit_a_total", "a", [(vec![("k", "v".into())], 2.0)]);
        f.gauge("sandkit_empty", "nothing", []);
    });
    r.register("two", |f: &mut Families| {
        f.gauge("sandkit_b", "b", [(Vec::new(), 1.5)]);
    });
    let got = r.collect();
    assert_eq!(r.sources().collect::<Vec<_>>(), ["one", "two"]);
    assert!(got.get("sandkit_empty").is_none());
    assert_eq!(
        render_prometheus(&got),
        "# HELP sandkit_a_total a\n# TYPE sandkit_a_total counter\nsandkit_a_total{k=\"v\"} 2\n\
         # HELP sandkit_b b\n# TYPE sandkit_b gauge\nsandkit_b 1.5\n"
    );
}

#[test]
fn a_histogram_serializes_without_its_bounds() {
    let mut h = Histogram::new(&[1]);
    h.observe(Duration::from_micros(1500));
    assert_eq!(
        serde_json::to_string(&h).unwrap(),
        r#"{"buckets":[0,1],"sum_us":1500,"count":1}"#
    );
}

#[test]
fn a_snapshot_is_json_by_source() {
    let mut r = Registry::default();
    r.register("files", |f: &mut Families| {
        f.counter(
            "sandkit_files_lines_total",
            "lines read",
            [(vec![("task", "app".to_string())], 3.0)],
        );
    });
    r.register("outputs", |f: &mut Families| {
        let mut h = Histogram::new(&[10]);
        h.observe(Duration::from_millis(2));
        f.histogram(
            "sandkit_output_request_duration_seconds",
            "d",
            [(Vec::new(), h)],
        );
    });
    assert_eq!(
        serde_json::to_string(&r.snapshot_except(&["files"])).unwrap(),
        r#"{"outputs":[{"name":"sandkit_output_request_duration_seconds","help":"d","kind":"histogram","samples":[{"labels":{},"value":{"buckets":[1,0],"sum_us":2000,"count":1}}]}]}"#
    );
    assert_eq!(
        serde_json::to_string(&r.snapshot()).unwrap(),
        r#"{"files":[{"name":"sandkit_files_lines_total","help":"lines read","kind":"counter","samples":[{"labels":{"task":"app"},"value":3.0}]}],"outputs":[{"name":"sandkit_output_request_duration_seconds","help":"d","kind":"histogram","samples":[{"labels":{},"value":{"buckets":[1,0],"sum_us":2000,"count":1}}]}]}"#
    );
}
