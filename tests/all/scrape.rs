//! The bundled `prom` collector scraping a real node exporter through the host's outgoing HTTP,
//! refused off its allowlist, and bounded by its call's deadline.

use sandkit_io::{FieldValue, Point};
use sandkit_runtime::{Instance, PluginConfig, Runtime};
use sandkit_tests::{repo_root, sandkit_bin, test_runtime_config, wasm, KillOnDrop};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A `prom` instance with the config in `text`, initialised.
async fn prom(text: &str) -> (Instance, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(test_runtime_config(dir.path())).unwrap();
    let file = dir.path().join("prom.toml");
    let pc = PluginConfig::parse(text, &file, runtime.config().limits).unwrap();
    let inst = sandkit_tests::initialised(&runtime, "prom", &wasm("prom"), &pc).await;
    (inst, dir)
}

fn float(p: &Point, k: &str) -> f64 {
    match p.field(k) {
        Some(FieldValue::Float(v)) => *v,
        other => panic!("{} field {k}: {other:?}", p.measurement()),
    }
}

/// The `up` of the target `instance`.
fn up(points: &[Point], instance: &str) -> f64 {
    let p = points
        .iter()
        .find(|p| p.measurement() == "prom" && p.tag("instance") == Some(instance))
        .unwrap_or_else(|| panic!("no prom point for {instance}"));
    float(p, "up")
}

/// A listener that counts the connections made to it.
fn counting_listener() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = n.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // Keep it open without a word (a target that hangs).
            std::thread::spawn(move || {
                let _c = c;
                std::thread::sleep(Duration::from_secs(10));
            });
        }
    });
    (port, n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prom_scrapes_a_real_node_exporter_and_is_refused_off_its_allowlist() {
    let Some((_exporter, node)) = sandkit_tests::node_exporter(&["loadavg", "meminfo", "cpu"])
    else {
        return;
    };
    let (off, connections) = counting_listener();
    let (mut inst, _d) = prom(&format!(
        "[sandbox]\nhttp = [\"127.0.0.1:{node}\"]\n\
         [config]\nurls = [\"http://127.0.0.1:{node}/metrics\", \"http://127.0.0.1:{off}/metrics\"]\n\
         timeout = \"5s\"\n[config.tags]\nhost_group = \"test\"\n"
    ))
    .await;
    let report = inst.collect().await.unwrap();
    assert_eq!((report.http_sent, report.http_refused), (1, 1));
    let points = report.points;
    let instance = format!("127.0.0.1:{node}");
    assert_eq!(up(&points, &instance), 1.0);
    assert_eq!(up(&points, &format!("127.0.0.1:{off}")), 0.0);
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a target off the allowlist was connected to"
    );
    let node_points: Vec<&Point> = points
        .iter()
        .filter(|p| p.measurement() == "node")
        .collect();
    assert!(node_points.iter().all(
        |p| p.tag("host_group") == Some("test") && p.tag("instance") == Some(instance.as_str())
    ));
    // Metrics without labels share one point: load averages and memory.
    let plain = node_points
        .iter()
        .find(|p| p.field("load1").is_some())
        .expect("node_load1");
    assert!(float(plain, "load1") >= 0.0);
    assert!(plain.field("load15").is_some());
    assert_eq!(
        float(plain, "memory_MemTotal_bytes"),
        (sandkit_tests::meminfo_kb("MemTotal") * 1024) as f64,
        "the exporter's MemTotal is /proc/meminfo's"
    );
    // Labelled series keep their labels as tags.
    let idle = node_points
        .iter()
        .find(|p| p.tag("cpu") == Some("0") && p.tag("mode") == Some("idle"))
        .expect("node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}");
    assert!(float(idle, "cpu_seconds_total") > 0.0);
    let scrape = points
        .iter()
        .find(|p| p.measurement() == "scrape" && p.tag("instance") == Some(instance.as_str()))
        .unwrap();
    assert!(float(scrape, "samples_scraped") > 50.0, "{scrape:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_target_costs_the_plugin_an_error_not_a_deadline_crash() {
    let (hang, connections) = counting_listener();
    // No timeout in the plugin's config: the host's 10 s default would outlast the call's
    // 1.5 s deadline, so the request is cut before it.
    let (mut inst, _d) = prom(&format!(
        "[sandbox]\nhttp = [\"127.0.0.1:{hang}\"]\n\
         [config]\nurls = [\"http://127.0.0.1:{hang}/metrics\"]\n"
    ))
    .await;
    for round in 0..2 {
        let start = Instant::now();
        let report = inst.collect().await.unwrap_or_else(|e| {
            panic!("round {round}: the call failed instead of reporting up=0: {e}")
        });
        assert!(
            start.elapsed() < Duration::from_millis(1500),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(up(&report.points, &format!("127.0.0.1:{hang}")), 0.0);
    }
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// The operator's path: `sandkit run` with the bundled prom.wasm and its conf.d file (pointed at
/// a real node exporter, plus one target not on the allowlist): the scraped points reach the
/// output, the refusal is in the agent's log and both requests are in `/metrics`.
#[test]
fn the_agent_scrapes_logs_the_refusal_and_counts_both() {
    let Some((_exporter, node)) = sandkit_tests::node_exporter(&["loadavg"]) else {
        return;
    };
    let (off, connections) = counting_listener();
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("plugins")).unwrap();
    std::fs::create_dir_all(d.path().join("conf.d")).unwrap();
    std::fs::copy(wasm("prom"), d.path().join("plugins/prom.wasm")).unwrap();
    let conf = std::fs::read_to_string(repo_root().join("guests/collectors/prom/conf.toml"))
        .unwrap()
        .replace("interval = \"10s\"", "interval = \"1s\"")
        .replace(
            "urls = [\"http://127.0.0.1:9100/metrics\"]",
            &format!(
                "urls = [\"http://127.0.0.1:{node}/metrics\", \"http://127.0.0.1:{off}/metrics\"]"
            ),
        )
        .replace(
            "http = [\"127.0.0.1:9100\"]",
            &format!("http = [\"127.0.0.1:{node}\"]"),
        );
    assert!(
        conf.contains(&format!(":{off}/")) && conf.contains("\"1s\""),
        "{conf}"
    );
    std::fs::write(d.path().join("conf.d/prom.toml"), conf).unwrap();
    let out_file = d.path().join("out.lp");
    let child = std::process::Command::new(sandkit_bin())
        .args(["run", "--http-listen", "127.0.0.1:0", "--output-file"])
        .arg(&out_file)
        .current_dir(d.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child.id());
    let scraped = "node,host=";
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&out_file).unwrap_or_default();
        let has = |needle: &str| text.lines().any(|l| l.contains(needle));
        if has(scraped)
            && has(&format!("instance=127.0.0.1:{node} load1="))
            && has(&format!("instance=127.0.0.1:{off} up=0"))
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no scrape in:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let addr = std::fs::read_to_string(d.path().join("data/http.addr")).unwrap();
    let (code, metrics) = sandkit_tests::http(&addr, "GET", "/metrics", "");
    assert_eq!(code, 200);
    let counter = |name: &str| -> f64 {
        let prefix = format!("sandkit_plugin_{name}_total{{plugin=\"prom\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in {metrics}"))
    };
    assert!(counter("http_requests") >= 1.0);
    assert!(counter("http_refused") >= 1.0);
    let out = sandkit_tests::terminate(child);
    std::mem::forget(guard);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains(&format!("outgoing HTTP refused: 127.0.0.1:{off}: not in"))
            && log.contains("prom"),
        "{log}"
    );
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0);
}
