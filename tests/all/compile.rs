//! Compiling a large component (an 18 MB Python collector: seconds of Cranelift) while the agent
//! works: other plugins keep their schedule, file tails their pace and the HTTP API its answers;
//! status says the plugin is compiling; small components are not queued behind it; and the
//! compile cache stays within `cache_max_bytes`.

use sandkit_runtime::{PluginState, LARGE_COMPONENT};
use sandkit_tests::{http, sandkit_bin, terminate, wasm, Harness, KillOnDrop};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const WAIT: Duration = Duration::from_secs(10);

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A large component: a Python guest of build/wasm if there is one, else a Python collector
/// built now with `sandkit plugin build` into `scratch`. `None` (the test skips) when
/// componentize-py is missing outside CI; under CI=true that fails the test.
fn large_component(scratch: &Path) -> Option<PathBuf> {
    // The Python collector of the fault tests first, else any large guest (by name).
    let mut built: Vec<PathBuf> = std::fs::read_dir(sandkit_tests::repo_root().join("build/wasm"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() >= LARGE_COMPONENT as u64))
        .collect();
    built.sort_by_key(|p| (!p.ends_with("pyfaults.wasm"), p.clone()));
    if let Some(p) = built.into_iter().next() {
        return Some(p);
    }
    let tool = std::env::var_os("SANDKIT_COMPONENTIZE_PY")
        .map(PathBuf::from)
        .or_else(|| sandkit_tests::py_venv().map(|v| v.join("bin/componentize-py")))
        .filter(|p| p.exists());
    let Some(tool) = tool else {
        return sandkit_tests::missing(
            "componentize-py (this test builds a Python component with it)",
            "`make pydeps`, or set SANDKIT_COMPONENTIZE_PY",
        );
    };
    let proj = scratch.join("big");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(sandkit_bin())
            .args(args)
            .env("SANDKIT_COMPONENTIZE_PY", &tool)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sandkit {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let dir = proj.to_str().unwrap();
    run(&["plugin", "new", "big", "--lang", "python", "--dir", dir]);
    run(&["plugin", "build", dir]);
    Some(proj.join("big.wasm"))
}

/// The plugin named `name` in a /v1/plugins answer.
fn plugin<'a>(all: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    all.as_array()?.iter().find(|p| p["name"] == name)
}

#[test]
fn a_large_compile_stalls_nothing_else() {
    let scratch = tempfile::tempdir().unwrap();
    let Some(big) = large_component(scratch.path()) else {
        return;
    };
    let big_len = std::fs::metadata(&big).unwrap().len();
    let d = sandkit_tests::agent_dir(&[("ticker", "ticker")]);
    let dir = d.path();
    std::fs::write(dir.join("conf.d/ticker.toml"), "interval = \"1s\"\n").unwrap();
    std::fs::create_dir(dir.join("logs")).unwrap();
    let app_log = dir.join("logs/app.log");
    std::fs::write(&app_log, "").unwrap();
    // One compile thread, as on a two-core machine: the compile lasts seconds anywhere.
    std::fs::write(
        dir.join("sandkit.toml"),
        format!(
            r#"data_dir = "data"
plugins_dir = "plugins"
conf_dir = "conf.d"
[output]
kind = "file"
path = "out.lp"
# Acknowledged soon: the tail keeps only a few batches in flight.
flush_interval = "100ms"
[http]
listen = "127.0.0.1:0"
[runtime]
jitter = 0.0
compile_threads = 1
[[files]]
source = "tail"
paths = ["{}"]
"#,
            app_log.display()
        ),
    )
    .unwrap();
    let child = std::process::Command::new(sandkit_bin())
        .args(["run", "-c", "sandkit.toml"])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("agent.log")).unwrap())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child.id());
    let addr_file = dir.join("data/http.addr");
    let start = Instant::now();
    while !addr_file.exists() {
        assert!(start.elapsed() < WAIT, "the agent did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let addr = std::fs::read_to_string(&addr_file).unwrap();
    let plugins = || -> serde_json::Value {
        let (code, body) = http(&addr, "GET", "/v1/plugins", "");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    while plugin(&plugins(), "ticker").is_none_or(|t| t["calls"].as_u64() < Some(2)) {
        assert!(
            start.elapsed() < WAIT,
            "the ticker does not run: {}",
            plugins()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The tail gets a line every 100 ms, each with the time it was written; /v1/health is asked
    // every 100 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let health = Arc::new(Mutex::new(Vec::<(f64, Duration)>::new()));
    let writer = {
        let stop = stop.clone();
        let app_log = app_log.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&app_log)
                .unwrap();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                writeln!(f, "line {i} written_at={:.3}", now_s()).unwrap();
                i += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let prober = {
        let (stop, health, addr) = (stop.clone(), health.clone(), addr.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let (at, t) = (now_s(), Instant::now());
                let (code, _) = http(&addr, "GET", "/v1/health", "");
                assert_eq!(code, 200);
                health.lock().unwrap().push((at, t.elapsed()));
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(1500));

    let dropped = now_s();
    let tmp = dir.join("plugins/.big.tmp");
    std::fs::copy(&big, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("plugins/big.wasm")).unwrap();
    let mut compiling_seen = None;
    let mut noop_dropped = false;
    let mut noop_ran_during_compile = false;
    let mut cli_said_compiling = false;
    let running = loop {
        let all = plugins();
        let state = plugin(&all, "big").map(|b| b["state"].as_str().unwrap().to_string());
        if state.as_deref() == Some("compiling") {
            let b = plugin(&all, "big").unwrap();
            assert_eq!(b["compiling"]["bytes"].as_u64(), Some(big_len), "{b}");
            compiling_seen.get_or_insert(now_s());
            // A small component dropped now is not queued behind the large one.
            if !noop_dropped {
                std::fs::copy(wasm("noop"), dir.join("plugins/.noop.tmp")).unwrap();
                std::fs::rename(dir.join("plugins/.noop.tmp"), dir.join("plugins/noop.wasm"))
                    .unwrap();
                noop_dropped = true;
            }
            if plugin(&all, "noop").is_some_and(|n| n["state"] == "running") {
                noop_ran_during_compile = true;
            }
            // `sandkit status` (from status.json, rewritten every 2 s) says so too.
            if !cli_said_compiling {
                let text = sandkit_tests::sandkit_status(dir);
                cli_said_compiling = text
                    .lines()
                    .any(|l| l.starts_with("big ") && l.contains("compiling"));
            }
        }
        if state.as_deref() == Some("running") {
            break now_s();
        }
        assert!(
            matches!(state.as_deref(), None | Some("compiling" | "starting")),
            "big: {all}"
        );
        assert!(
            now_s() - dropped < 45.0,
            "big did not load within 45 s: {all}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    prober.join().unwrap();
    let out = terminate(child);
    std::mem::forget(guard);
    assert!(out.status.success());
    let log = std::fs::read_to_string(dir.join("agent.log")).unwrap();

    let compile_s = running - dropped;
    eprintln!("big ({big_len} bytes) ran {compile_s:.1} s after it was dropped");
    assert!(
        compiling_seen.is_some(),
        "status never said compiling: {log}"
    );
    assert!(cli_said_compiling, "`sandkit status` never said compiling");
    assert!(
        noop_ran_during_compile,
        "the small component waited for the large compile: {log}"
    );
    assert!(
        log.contains(&format!(
            "compiling big ({:.1} MB); it takes seconds for interpreted languages",
            big_len as f64 / 1e6
        )),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("runtime.compile big compiled in ") && l.contains("compile_ms=")),
        "{log}"
    );

    // During the compile (and a second after): the ticker kept its 1 s cadence...
    let window = (dropped, running + 1.0);
    let text = std::fs::read_to_string(dir.join("out.lp")).unwrap();
    let ts = |l: &str| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap() / 1e9;
    let ticks: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("ticker,"))
        .map(ts)
        .collect();
    let gaps: Vec<f64> = ticks
        .windows(2)
        .filter(|w| w[1] > window.0 && w[1] <= window.1)
        .map(|w| w[1] - w[0])
        .collect();
    assert!(
        gaps.len() as f64 >= (window.1 - window.0) - 2.0,
        "{} ticks in {:.1} s",
        gaps.len(),
        window.1 - window.0
    );
    let max_gap = gaps.iter().copied().fold(0.0, f64::max);
    assert!(max_gap <= 2.0, "ticker gap {max_gap:.2} s: {gaps:?}");
    // ... the tail delivered every line within a second of its writing...
    let delays: Vec<(f64, f64)> = text
        .lines()
        .filter(|l| l.starts_with("tail,"))
        .filter_map(|l| {
            let at: f64 = l.split("written_at=").nth(1)?.get(..14)?.parse().ok()?;
            (window.0..=window.1)
                .contains(&at)
                .then(|| (ts(l) - at, at - dropped))
        })
        .collect();
    let mut slowest_lines = delays.clone();
    slowest_lines.sort_by(|a, b| b.0.total_cmp(&a.0));
    slowest_lines.truncate(5);
    let delays: Vec<f64> = delays.into_iter().map(|d| d.0).collect();
    assert!(
        delays.len() as f64 >= (window.1 - window.0) * 5.0,
        "{} tail lines",
        delays.len()
    );
    let max_delay = delays.iter().copied().fold(0.0, f64::max);
    assert!(
        max_delay < 1.0,
        "a tail line took {max_delay:.2} s; the slowest (delay, written after the drop): \
         {slowest_lines:?}"
    );
    // ... and /v1/health answered within 500 ms.
    let health = health.lock().unwrap();
    let slowest = health
        .iter()
        .filter(|(at, _)| (window.0..=window.1).contains(at))
        .map(|(_, t)| *t)
        .max()
        .unwrap();
    assert!(
        slowest < Duration::from_millis(500),
        "/v1/health took {slowest:?}"
    );
    eprintln!(
        "max ticker gap {max_gap:.2} s, max tail delay {max_delay:.3} s, slowest /v1/health {slowest:?}"
    );
}

/// Artifacts in the cache directory.
fn artifacts(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_keeps_within_its_bound_and_spares_what_runs() {
    // A bound below one artifact: every write evicts whatever no plugin uses.
    let h = Harness::with_config(|rc| rc.cache_max_bytes = 1);
    let cache = h.dir.path().join("cache");
    let a = h.install("ticker", "a");
    h.sup.upsert(&a).await;
    h.wait_state("a", PluginState::Running, WAIT).await;
    let first = artifacts(&cache);
    assert_eq!(first.len(), 1);
    // In use (a runs) and just written (b): both stay, above the bound.
    let b = h.install("noop", "b");
    h.sup.upsert(&b).await;
    h.wait_state("b", PluginState::Running, WAIT).await;
    assert_eq!(artifacts(&cache).len(), 2);
    // Once a is gone, its artifact is the one the next write evicts.
    std::fs::remove_file(&a).unwrap();
    h.sup.remove("a").await;
    let c = h.install("panicker", "c");
    h.sup.upsert(&c).await;
    assert!(h.sup.status("c").is_some());
    let left = artifacts(&cache);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(!left.contains(&first[0]), "{left:?}");
}
