//! Every misbehaviour a plugin can show is contained: the host and a healthy plugin keep running,
//! the crash is counted and attributed, the plugin restarts on a fresh instance, is disabled after
//! six crashes, and is re-enabled by a new file.

use sandkit_runtime::PluginState;
use sandkit_tests::Harness;
use std::time::Duration;

const MISBEHAVING: [(&str, &[&str]); 6] = [
    ("panicker", &["unreachable"]),
    ("spin", &["out_of_fuel", "deadline"]),
    ("membomb", &["limit"]),
    ("recurse", &["memory_out_of_bounds", "stack_overflow"]),
    ("flood", &["limit"]),
    ("sleeper", &["deadline"]),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_misbehaviour_is_contained_counted_and_disabled() {
    let h = Harness::new();
    h.conf("ticker", "interval = \"100ms\"\n");
    for (name, _) in MISBEHAVING {
        h.conf(name, "interval = \"50ms\"\n");
        h.install(name, name);
    }
    h.install("ticker", "ticker");
    for f in sandkit_runtime::plugin_files(&h.plugins()).unwrap() {
        h.sup.upsert(&f).await;
    }
    let start = std::time::Instant::now();
    for (name, kinds) in MISBEHAVING {
        let st = h
            .wait_state(name, PluginState::Disabled, Duration::from_secs(60))
            .await;
        assert_eq!(st.crashes, 6, "{name}: {st:#?}");
        assert_eq!(
            st.restarts, 5,
            "{name} restarts on a fresh instance after each crash but the last"
        );
        let kind = st.last_crash_kind.clone().unwrap_or_default();
        assert!(
            kinds.contains(&kind.as_str()),
            "{name}: crash kind {kind:?}, expected one of {kinds:?}: {st:#?}"
        );
        assert!(
            st.last_error.as_deref().unwrap_or("").contains(name),
            "error names the plugin: {st:#?}"
        );
        assert_eq!(st.points, 0, "{name} never completed a call");
    }
    let elapsed = start.elapsed();
    // The healthy plugin kept its schedule while the others crashed: its points are 100 ms apart
    // by the host's clock, and no gap comes near the 1.5 s deadline the misbehaving plugins hit.
    let ticker = h.sup.status("ticker").unwrap();
    assert_eq!(ticker.state, PluginState::Running);
    assert_eq!(ticker.crashes, 0);
    let times = h.times("ticker");
    let expected = elapsed.as_millis() as usize / 100;
    assert!(
        times.len() * 2 >= expected,
        "ticker ran {} times in {elapsed:?}",
        times.len()
    );
    let max_gap = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    assert!(
        max_gap < 1_000_000_000,
        "ticker stalled for {max_gap} ns while others misbehaved"
    );
    // Every point went through the sink with the global tag.
    assert!(h.out.points().iter().all(|p| p.tag("host") == Some("test")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_plugin_is_reenabled_by_a_new_file() {
    let h = Harness::new();
    let file = h.install("panicker", "p");
    h.sup.upsert(&file).await;
    h.wait_state("p", PluginState::Disabled, Duration::from_secs(30))
        .await;
    // The same bytes again (an operator touching the file) re-enable it too, and it crashes again.
    h.sup.upsert(&file).await;
    let st = h
        .wait_for("p", Duration::from_secs(30), |s| s.crashes >= 1)
        .await;
    assert!(st.state != PluginState::Stopped);
    h.wait_state("p", PluginState::Disabled, Duration::from_secs(30))
        .await;
    // A fixed file under the same name runs.
    let file = h.install("ticker", "p");
    h.sup.upsert(&file).await;
    let st = h
        .wait_for("p", Duration::from_secs(10), |s| s.calls >= 2)
        .await;
    assert_eq!(st.state, PluginState::Running);
    assert_eq!(st.crashes, 0, "a new file starts with a clean crash count");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_crashes_is_configurable_and_backoff_grows() {
    let h = Harness::with_config(|rc| {
        rc.max_crashes = 3;
        rc.backoff_initial = Duration::from_millis(200);
        rc.backoff_max = Duration::from_secs(5);
    });
    h.conf("p", "interval = \"10ms\"\n");
    let file = h.install("panicker", "p");
    let start = std::time::Instant::now();
    h.sup.upsert(&file).await;
    let st = h
        .wait_state("p", PluginState::Disabled, Duration::from_secs(30))
        .await;
    assert_eq!(st.crashes, 3);
    // Backoff 200 ms then 400 ms: disabling cannot happen sooner than 600 ms.
    assert!(
        start.elapsed() >= Duration::from_millis(600),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_errors_are_counted_without_restarts() {
    // The disk collector without its statfs grant returns an error from collect: counted as an
    // error, the instance keeps running, nothing is disabled.
    let h = Harness::new();
    h.conf(
        "disk",
        "interval = \"1s\"\n[sandbox]\nread_only_dirs = [\"/proc\"]\n",
    );
    let file = h.install("disk", "disk");
    h.sup.upsert(&file).await;
    let st = h
        .wait_for("disk", Duration::from_secs(10), |s| s.errors >= 2)
        .await;
    assert_eq!(st.crashes, 0);
    assert_eq!(st.state, PluginState::Running);
    assert!(
        st.last_error.unwrap().contains("statfs"),
        "the error explains the missing grant"
    );
}

#[test]
fn a_log_flood_is_rate_limited_and_cannot_forge_agent_lines() {
    // The bug: 50k host-log lines a call went straight to the agent's log (655 MB in 20 s), and
    // a newline in a message wrote a whole forged agent line.
    let d = sandkit_tests::agent_dir(&[("flood", "floodlog"), ("flood", "floodout")]);
    for (name, mode) in [("floodlog", "log"), ("floodout", "stdout")] {
        std::fs::write(
            d.path().join(format!("conf.d/{name}.toml")),
            format!("interval = \"1s\"\n[config]\nmode = \"{mode}\"\n"),
        )
        .unwrap();
    }
    let child = sandkit_tests::run_agent(d.path(), "agent.log");
    let guard = sandkit_tests::KillOnDrop(child.id());
    let started = std::time::Instant::now();
    let log_file = d.path().join("agent.log");
    let count = |log: &str, name: &str| {
        log.lines()
            .filter(|l| {
                l.contains(&format!("plugin=\"{name}\"")) && l.contains("runtime.guest_log")
            })
            .count()
    };
    // Until both have flooded for a whole call and the drops show in /metrics.
    let suppressed = |addr: &str| -> f64 {
        let (_, metrics) = sandkit_tests::http(addr, "GET", "/metrics", "");
        metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix("sandkit_plugin_log_suppressed_total{plugin=\"floodlog\"} ")
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    loop {
        let log = std::fs::read_to_string(&log_file).unwrap_or_default();
        let addr = std::fs::read_to_string(d.path().join("data/http.addr")).unwrap_or_default();
        if count(&log, "floodlog") >= 200
            && count(&log, "floodout") >= 200
            && !addr.is_empty()
            && suppressed(&addr) >= 49_000.0
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the floods did not show:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = sandkit_tests::terminate(child);
    let elapsed = started.elapsed().as_secs_f64();
    std::mem::forget(guard);
    assert!(out.status.success(), "exit {:?}", out.status);
    let log = std::fs::read_to_string(&log_file).unwrap();
    for name in ["floodlog", "floodout"] {
        let lines = count(&log, name);
        // Calls of 50,000 lines each: a burst of 200, then 20 a second get through.
        let most = 200 + (20.0 * (elapsed + 1.0)) as usize;
        assert!(
            (200..=most).contains(&lines),
            "{name}: {lines} lines in {elapsed:.1} s, at most {most} allowed"
        );
    }
    assert!(
        log.contains("runtime.guest_log lines suppressed by the rate limit"),
        "the drops are summarised"
    );
    for l in log.lines() {
        assert!(!l.starts_with("2026-01-01"), "a forged line: {l}");
        assert!(
            !l.contains('\u{1b}'),
            "a colour code in a log that is not a terminal: {l}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cannot_make_the_agent_hold_unbounded_points() {
    // The bug: with max_points raised, 2M points of one plugin took the agent to 615 MB; the
    // host side of a call is capped whatever the plugin's limits say.
    let dir = tempfile::tempdir().unwrap();
    let runtime =
        sandkit_runtime::Runtime::new(sandkit_tests::test_runtime_config(dir.path())).unwrap();
    let pc = sandkit_runtime::PluginConfig::parse(
        "[limits]\nmax_points = 3000000\nmax_bytes = \"64GiB\"\nfuel = 1000000000000\ntimeout = \"60s\"\n",
        std::path::Path::new("flood.toml"),
        runtime.config().limits,
    )
    .unwrap();
    let mut inst =
        sandkit_tests::initialised(&runtime, "flood", &sandkit_tests::wasm("flood"), &pc).await;
    let e = inst.collect().await.unwrap_err().to_string();
    // Before the cap, 3M points (about 1 GB here) were held and then refused by max_points.
    assert!(e.contains("MiB of the agent's memory"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_older_than_the_window_no_longer_count() {
    // The bug: crash counts never decayed, so rare crashes spread over weeks still ended in
    // "disabled". Here the window is shorter than the backoff: crashes never pile up.
    let h = Harness::with_config(|rc| {
        rc.max_crashes = 3;
        rc.crash_window = Duration::from_millis(200);
        rc.backoff_initial = Duration::from_millis(400);
        rc.backoff_max = Duration::from_millis(400);
    });
    h.conf("panicker", "interval = \"50ms\"\n");
    let file = h.install("panicker", "panicker");
    h.sup.upsert(&file).await;
    let st = h
        .wait_for("panicker", Duration::from_secs(30), |s| s.crashes >= 5)
        .await;
    assert_ne!(st.state, PluginState::Disabled, "{st:#?}");
    // Within the window they still add up: the same plugin with a long window is disabled.
    let h = Harness::with_config(|rc| {
        rc.max_crashes = 3;
        rc.backoff_initial = Duration::from_millis(20);
    });
    h.conf("panicker", "interval = \"50ms\"\n");
    let file = h.install("panicker", "panicker");
    h.sup.upsert(&file).await;
    let st = h
        .wait_state("panicker", PluginState::Disabled, Duration::from_secs(30))
        .await;
    assert_eq!(st.crashes, 3);
}

/// A guest whose linear memory creeps up with every call (as guests built with componentize-py
/// or componentize-js do: they never free a pipeline's output or an import's result) gets a
/// fresh instance between calls before it reaches its cap: no crash, no error, no lost tick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowly_leaking_guest_is_recycled_between_calls_not_crashed() {
    let h = Harness::new();
    h.conf(
        "leaky",
        "interval = \"50ms\"\n[limits]\nmemory = \"24MiB\"\n[config]\nper_call_mib = 2\n",
    );
    let file = h.install("membomb", "leaky");
    h.sup.upsert(&file).await;
    let st = h
        .wait_for("leaky", Duration::from_secs(60), |s| {
            s.recycles >= 3 && s.points >= 30
        })
        .await;
    assert_eq!(
        (st.state, st.crashes, st.errors),
        (PluginState::Running, 0, 0),
        "{st:#?}"
    );
    assert_eq!(
        st.points, st.calls,
        "every call delivered its point: {st:#?}"
    );
    assert!(st.memory_peak_bytes <= 24 << 20, "{st:#?}");
    // Each instance held at most 75% of the cap before it was replaced, and started over.
    let held: Vec<i64> = h
        .out
        .points()
        .iter()
        .filter(|p| p.measurement() == "leaky" || p.measurement() == "membomb")
        .filter_map(|p| match p.field("held_mib") {
            Some(sandkit_io::FieldValue::Int(n)) => Some(*n),
            _ => None,
        })
        .collect();
    assert!(held.len() >= 20, "{held:?}");
    assert!(held.iter().all(|&n| n <= 18), "{held:?}");
    assert!(
        held.windows(2).any(|w| w[1] < w[0]),
        "instances started over: {held:?}"
    );
}
