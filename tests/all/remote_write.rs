//! The Prometheus remote-write output against a real receiver: Debian's VictoriaMetrics, which
//! takes remote write and answers queries. Points written to the agent's HTTP server come back
//! from VictoriaMetrics' export API as series with valid names and labels, their values,
//! millisecond times, counters named `_total`, and text fields left out.

use crate::influxdb::request;
use sandkit_tests::{agent_with_config, post_each, stop_agent, ChildGuard};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A VictoriaMetrics on a free loopback port: its guard, base URL and data directory.
pub(crate) async fn start_victoria() -> Option<(ChildGuard, String, tempfile::TempDir)> {
    let bin = sandkit_tests::installed("/usr/bin/victoria-metrics", "victoria-metrics")?;
    let dir = tempfile::tempdir().unwrap();
    let port = sandkit_tests::free_port();
    let child = Command::new(bin)
        .arg(format!(
            "-storageDataPath={}",
            dir.path().join("data").display()
        ))
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg("-retentionPeriod=100y")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("vm.log")).unwrap())
        .spawn()
        .unwrap();
    let guard = ChildGuard(child);
    let url = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while request("GET", &format!("{url}/health"), "").await.0 != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "victoria-metrics did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Some((guard, url, dir))
}

/// The series VictoriaMetrics holds whose name matches `re`, as (labels, values, times).
async fn export(vm: &str, re: &str) -> Vec<serde_json::Value> {
    let (status, body) = request(
        "POST",
        &format!("{vm}/api/v1/export"),
        &format!("match[]={{__name__=~\"{re}\"}}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn series<'a>(all: &'a [serde_json::Value], name: &str) -> Option<&'a serde_json::Value> {
    all.iter().find(|s| s["metric"]["__name__"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_arrive_in_victoria_metrics_as_series() {
    let Some((_vm, vm, _vm_dir)) = start_victoria().await else {
        return;
    };
    let d = sandkit_tests::agent_dir(&[]);
    let (agent, guard, addr) = agent_with_config(
        d.path(),
        &format!(
            "data_dir = \"data\"\n\
             [[outputs]]\nname = \"prom\"\nkind = \"prometheus_remote_write\"\n\
             url = \"{vm}/api/v1/write\"\nflush_interval = \"50ms\"\n\
             counters = [\"rw_requests\", \"rw_bytes*\"]\nroute = {{ categories = [\"metric\"] }}\n"
        ),
    )
    .await;
    // Tags with a space, a comma, a quote, an equals sign and non-ASCII; a tag key with a dot.
    let body = "rw,host=web\\ 1,path=/a\\,b,q=say\\=\"hi\",city=Zürich,dc.zone=eu-1 \
                requests=42i,bytes_in=1024u,ratio=0.25,up=true,note=\"text\" 1700000000123000000\n\
                9rw,host=x value=-1.5 1700000001000000000\n";
    post_each(&addr, &[("/v1/write/metric", body)]).await;

    let mut all = Vec::new();
    let start = Instant::now();
    while all.len() < 5 && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        all = export(&vm, "(rw|_9rw)_.*").await;
    }
    let log = stop_agent(d.path(), agent, guard);
    let names: Vec<String> = all
        .iter()
        .map(|s| s["metric"]["__name__"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all.len(), 5, "{names:?}\n{log}");
    let requests = series(&all, "rw_requests_total").expect("a counter gets _total");
    assert_eq!(requests["values"][0], 42.0);
    assert_eq!(requests["timestamps"][0], 1_700_000_000_123i64);
    let labels = &requests["metric"];
    assert_eq!(labels["host"], "web 1");
    assert_eq!(labels["path"], "/a,b");
    assert_eq!(labels["q"], "say=\"hi\"");
    assert_eq!(labels["city"], "Zürich");
    assert_eq!(labels["dc_zone"], "eu-1", "a label name made valid");
    assert_eq!(
        series(&all, "rw_bytes_in_total").unwrap()["values"][0],
        1024.0
    );
    assert_eq!(series(&all, "rw_ratio").unwrap()["values"][0], 0.25);
    assert_eq!(series(&all, "rw_up").unwrap()["values"][0], 1.0);
    assert_eq!(series(&all, "_9rw_value").unwrap()["values"][0], -1.5);
    assert!(
        !names.iter().any(|n| n.contains("note")),
        "text is left out"
    );
    // Its lanes carry the output's name.
    let m = std::fs::read_to_string(d.path().join("data/metrics.json")).unwrap();
    assert!(m.contains("\"prom\""), "{m}");
}
