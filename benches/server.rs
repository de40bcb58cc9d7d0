//! `/metrics` with 100 plugins (and 10 output lanes, 10 file tasks): the time to render the page,
//! against encoding the same plugin statuses as the JSON of `/v1/plugins` in the same run.
//! Run with `cargo bench -p sandkit-benches --bench server`.

use criterion::Criterion;
use sandkit_benches::summary;
use sandkit_files::TaskSnapshot;
use sandkit_io::LaneSnapshot;
use sandkit_metrics::{render_prometheus, Registry};
use sandkit_runtime::{PluginState, PluginStatus};
use std::hint::black_box;
use std::time::{Duration, SystemTime};

fn plugins(n: usize) -> Vec<PluginStatus> {
    (0..n)
        .map(|i| {
            let mut st = PluginStatus::new(
                &format!("plugin{i}"),
                format!("plugins/plugin{i}.wasm").into(),
            );
            st.state = if i % 10 == 9 {
                PluginState::Disabled
            } else {
                PluginState::Running
            };
            st.calls = 1000 + i as u64;
            st.points = 50_000 * i as u64;
            st.fuel_used = 123_456_789;
            st.memory_peak_bytes = 2 << 20;
            for ms in [1, 3, 7, 20, 300] {
                st.call_latency.observe(Duration::from_millis(ms));
            }
            st
        })
        .collect()
}

fn main() {
    let started = SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    let statuses = plugins(100);
    let lanes: Vec<LaneSnapshot> = (0..10)
        .map(|i| LaneSnapshot {
            output: "dataway".into(),
            url: format!("http://dw{i}:9528/v1/write"),
            category: "metric".into(),
            requests: 10,
            points_sent: 1000,
            latency: sandkit_metrics::Histogram {
                buckets: vec![1; 12],
                count: 12,
                ..sandkit_metrics::Histogram::new(&sandkit_io::LATENCY_BUCKETS_MS)
            },
            ..LaneSnapshot::default()
        })
        .collect();
    let tasks: Vec<TaskSnapshot> = (0..10)
        .map(|i| TaskSnapshot {
            task: format!("task{i}"),
            lines: 1_000_000,
            ..TaskSnapshot::default()
        })
        .collect();
    // The agent's registry, as it registers these sources (the server's own two families,
    // requests and uptime, are left out).
    let (p, l, t) = (statuses.clone(), lanes.clone(), tasks.clone());
    let mut registry = Registry::default();
    registry.register("plugins", move |f| sandkit_runtime::plugin_families(&p, f));
    registry.register("outputs", move |f| sandkit_io::lane_families(&l, f));
    registry.register("files", move |f| sandkit_files::task_families(&t, f));
    let render_metrics = |r: &Registry| render_prometheus(&r.collect());
    let page = render_metrics(&registry);
    println!(
        "/metrics with 100 plugins: {} bytes, {} lines",
        page.len(),
        page.lines().count()
    );
    let mut g = c.benchmark_group("server");
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("metrics_100_plugins", |b| {
        b.iter(|| black_box(render_metrics(black_box(&registry))))
    });
    g.bench_function("plugins_json_100", |b| {
        b.iter(|| black_box(serde_json::to_vec_pretty(black_box(&statuses)).expect("json")))
    });
    g.finish();
    c.final_summary();
    summary::print(
        &[(
            "server/metrics_100_plugins",
            Some("server/plugins_json_100"),
        )],
        started,
    );
}
