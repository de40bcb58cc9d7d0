//! The bundled collectors report what /proc says, read natively here at the same time.

use sandkit_io::{FieldValue, Point};
use sandkit_runtime::{Instance, PluginConfig, Runtime};
use sandkit_tests::{proc_cpu_count, repo_root, test_runtime_config, wasm, CPU_FIELDS};
use std::time::Duration;

/// A collector instance with its bundled default config, initialised.
async fn collector(name: &str) -> (Instance, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(test_runtime_config(dir.path())).unwrap();
    let conf_file = repo_root().join(format!("guests/collectors/{name}/conf.toml"));
    let text = std::fs::read_to_string(&conf_file).unwrap();
    let pc = PluginConfig::parse(&text, &conf_file, runtime.config().limits).unwrap();
    let inst = sandkit_tests::initialised(&runtime, name, &wasm(name), &pc).await;
    (inst, dir)
}

fn uint(p: &Point, k: &str) -> u64 {
    match p.field(k) {
        Some(FieldValue::Uint(v)) => *v,
        other => panic!("{} field {k}: {other:?}", p.measurement()),
    }
}

fn float(p: &Point, k: &str) -> f64 {
    match p.field(k) {
        Some(FieldValue::Float(v)) => *v,
        other => panic!("{} field {k}: {other:?}", p.measurement()),
    }
}

#[tokio::test]
async fn mem_matches_proc_meminfo() {
    let (mut inst, _d) = collector("mem").await;
    let points = inst.collect().await.unwrap().points;
    let p = &points[0];
    assert_eq!(p.measurement(), "mem");
    assert_eq!(
        uint(p, "total"),
        sandkit_tests::meminfo_kb("MemTotal") * 1024
    );
    if let Some(FieldValue::Uint(swap)) = p.field("swap_total") {
        assert_eq!(*swap, sandkit_tests::meminfo_kb("SwapTotal") * 1024);
    }
    let used_pct = float(p, "used_percent");
    let expected = uint(p, "used") as f64 / uint(p, "total") as f64 * 100.0;
    assert!(
        (used_pct - expected).abs() < 1e-9,
        "{used_pct} vs {expected}"
    );
    assert!(uint(p, "available") <= uint(p, "total"));
}

#[tokio::test]
async fn system_matches_proc() {
    let (mut inst, _d) = collector("system").await;
    let before: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let p = inst.collect().await.unwrap().points.remove(0);
    let after: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let cpus = proc_cpu_count() as u64;
    assert_eq!(uint(&p, "n_cpus"), cpus);
    let up = uint(&p, "uptime") as f64;
    assert!(
        up >= before.floor() && up <= after.ceil(),
        "uptime {up} not in [{before}, {after}]"
    );
    let load1 = float(&p, "load1");
    assert!((0.0..1000.0).contains(&load1));
}

fn net_dev(iface: &str) -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/net/dev").unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{iface}:")))
        .unwrap();
    let cols: Vec<u64> = line
        .split(':')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(|c| c.parse().unwrap())
        .collect();
    (cols[0], cols[8])
}

#[tokio::test]
async fn net_counters_bracket_proc_net_dev() {
    let (mut inst, _d) = collector("net").await;
    let (rx0, tx0) = net_dev("lo");
    let points = inst.collect().await.unwrap().points;
    let (rx1, tx1) = net_dev("lo");
    let lo = points
        .iter()
        .find(|p| p.tag("interface") == Some("lo"))
        .expect("lo reported");
    let (rx, tx) = (uint(lo, "bytes_recv"), uint(lo, "bytes_sent"));
    assert!(
        rx0 <= rx && rx <= rx1,
        "bytes_recv {rx} not in [{rx0}, {rx1}]"
    );
    assert!(
        tx0 <= tx && tx <= tx1,
        "bytes_sent {tx} not in [{tx0}, {tx1}]"
    );
}

#[tokio::test]
async fn diskio_counters_bracket_proc_diskstats() {
    let read = || -> Vec<(String, u64, u64)> {
        std::fs::read_to_string("/proc/diskstats")
            .unwrap()
            .lines()
            .map(|l| {
                let c: Vec<&str> = l.split_whitespace().collect();
                (
                    c[2].to_string(),
                    c[3].parse().unwrap(),
                    c[7].parse().unwrap(),
                )
            })
            .collect()
    };
    let (mut inst, _d) = collector("diskio").await;
    let before = read();
    let points = inst.collect().await.unwrap().points;
    let after = read();
    assert!(!points.is_empty(), "no devices reported");
    for p in &points {
        let name = p.tag("name").unwrap();
        let b = before
            .iter()
            .find(|d| d.0 == name)
            .expect("device in /proc/diskstats");
        let a = after.iter().find(|d| d.0 == name).unwrap();
        let reads = uint(p, "reads");
        assert!(
            b.1 <= reads && reads <= a.1,
            "{name} reads {reads} not in [{}, {}]",
            b.1,
            a.1
        );
        let writes = uint(p, "writes");
        assert!(b.2 <= writes && writes <= a.2, "{name} writes {writes}");
    }
}

#[tokio::test]
async fn disk_root_matches_statvfs() {
    let (mut inst, _d) = collector("disk").await;
    let points = inst.collect().await.unwrap().points;
    let root = points
        .iter()
        .find(|p| p.tag("path") == Some("/"))
        .expect("/ reported");
    let st = rustix::fs::statvfs("/").unwrap();
    assert_eq!(uint(root, "total"), st.f_blocks * st.f_frsize);
    assert_eq!(uint(root, "inodes_total"), st.f_files);
    let used_pct = float(root, "used_percent");
    assert!((0.0..=100.0).contains(&used_pct));
}

#[tokio::test]
async fn cpu_usage_adds_up_per_cpu() {
    let (mut inst, _d) = collector("cpu").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Burn a little CPU so the interval has ticks.
    let t = std::time::Instant::now();
    while t.elapsed() < Duration::from_millis(100) {
        std::hint::black_box(0u64);
    }
    let points = inst.collect().await.unwrap().points;
    let total = points
        .iter()
        .find(|p| p.tag("cpu") == Some("cpu-total"))
        .expect("cpu-total");
    let sum: f64 = CPU_FIELDS.iter().map(|f| float(total, f)).sum();
    assert!((sum - 100.0).abs() < 0.5, "cpu-total fields sum to {sum}");
    let ncpu = proc_cpu_count();
    assert!(
        points.len() <= ncpu + 1 && points.len() >= 2,
        "{} points for {ncpu} cpus",
        points.len()
    );
}
