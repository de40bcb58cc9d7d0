//! The plugins directory: live add, replace and remove through notify; corrupt files, core
//! modules and components of the wrong world get one clear error naming the file, and nothing
//! else changes; protection mode clamps intervals; the compile cache is reused.

use sandkit_runtime::{watch_plugins_dir, PluginState};
use sandkit_tests::{wasm, Harness};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_add_replace_remove() {
    let h = Harness::new();
    h.conf("a", "interval = \"100ms\"\n");
    let _w = watch_plugins_dir(h.plugins(), h.sup.clone(), Duration::from_secs(60))
        .await
        .unwrap();
    assert!(h.sup.statuses().is_empty());

    // Add.
    h.install("ticker", "a");
    let st = h.wait_for("a", WAIT, |s| s.calls >= 2).await;
    assert_eq!(st.description.as_ref().unwrap().name, "ticker");
    let first_hash = st.hash.clone();

    // Replace with another component under the same name: hot reload.
    h.install("noop", "a");
    let st = h
        .wait_for("a", WAIT, |s| {
            s.hash != first_hash && s.state == PluginState::Running
        })
        .await;
    assert_eq!(st.description.as_ref().unwrap().name, "noop");

    // Remove.
    std::fs::remove_file(h.plugins().join("a.wasm")).unwrap();
    let start = std::time::Instant::now();
    while h.sup.status("a").is_some() {
        assert!(
            start.elapsed() < WAIT,
            "removed plugin still listed: {:?}",
            h.sup.status("a")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_get_one_clear_error_and_change_nothing_else() {
    let h = Harness::new();
    h.conf("good", "interval = \"100ms\"\n");
    let _w = watch_plugins_dir(h.plugins(), h.sup.clone(), Duration::from_secs(60))
        .await
        .unwrap();
    h.install("ticker", "good");
    h.wait_for("good", WAIT, |s| s.calls >= 1).await;

    std::fs::write(h.plugins().join("garbage.wasm"), b"this is not wasm at all").unwrap();
    std::fs::write(h.plugins().join("core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let mut truncated = std::fs::read(wasm("ticker")).unwrap();
    truncated.truncate(truncated.len() / 2);
    std::fs::write(h.plugins().join("truncated.wasm"), &truncated).unwrap();
    h.install("wrongworld", "wrong");

    let cases = [
        ("garbage", "not a WebAssembly file"),
        ("core", "core WebAssembly module, not a component"),
        ("truncated", "not a valid WebAssembly component"),
        (
            "wrong",
            "does not implement the sandkit:plugin/collector world",
        ),
    ];
    for (name, needle) in cases {
        let st = h.wait_state(name, PluginState::Failed, WAIT).await;
        let err = st.last_error.unwrap();
        assert!(err.contains(needle), "{name}: {err}");
        assert!(
            err.contains(&format!("{name}.wasm")),
            "{name}: the error names the file: {err}"
        );
    }
    let wrong = h.sup.status("wrong").unwrap().last_error.unwrap();
    assert!(
        wrong.contains("missing export(s) describe, init, collect"),
        "{wrong}"
    );

    // A corrupt replacement of a running plugin is refused and the old version keeps running.
    let calls = h.sup.status("good").unwrap().calls;
    std::fs::write(h.plugins().join("good.wasm"), b"\0asm\x0d\0\x01\0garbage").unwrap();
    let st = h.wait_for("good", WAIT, |s| s.last_error.is_some()).await;
    assert_eq!(st.state, PluginState::Running);
    assert!(st.last_error.unwrap().contains("good.wasm"));
    h.wait_for("good", WAIT, |s| s.calls > calls + 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protection_mode_clamps_intervals() {
    let h = Harness::new();
    // ticker declares [10ms, 1h]; noop declares [1ms, 1h] and defaults to 1s.
    h.conf("fast", "interval = \"1ms\"\n");
    h.conf("slow", "interval = \"2h\"\n");
    let fast = h.install("ticker", "fast");
    let slow = h.install("ticker", "slow");
    let dflt = h.install("noop", "dflt");
    for f in [fast, slow, dflt] {
        h.sup.upsert(&f).await;
    }
    assert_eq!(
        h.wait_for("fast", WAIT, |s| s.interval_ms.is_some())
            .await
            .interval_ms,
        Some(10)
    );
    assert_eq!(
        h.wait_for("slow", WAIT, |s| s.interval_ms.is_some())
            .await
            .interval_ms,
        Some(3_600_000)
    );
    assert_eq!(
        h.wait_for("dflt", WAIT, |s| s.interval_ms.is_some())
            .await
            .interval_ms,
        Some(1_000)
    );

    let off = Harness::with_config(|rc| rc.protection_mode = false);
    off.conf("fast", "interval = \"1ms\"\n");
    let f = off.install("ticker", "fast");
    off.sup.upsert(&f).await;
    assert_eq!(
        off.wait_for("fast", WAIT, |s| s.interval_ms.is_some())
            .await
            .interval_ms,
        Some(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_plugin_config_names_file_and_key() {
    let h = Harness::new();
    h.conf("t", "interval = \"1s\"\nintervall = \"2s\"\n");
    let f = h.install("ticker", "t");
    h.sup.upsert(&f).await;
    let st = h.wait_state("t", PluginState::Failed, WAIT).await;
    let err = st.last_error.unwrap();
    assert!(
        err.contains("conf.d/t.toml") && err.contains("intervall") && err.contains("line 2"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_components_are_cached_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let rc = sandkit_tests::test_runtime_config(dir.path());
    let bytes = std::fs::read(wasm("ticker")).unwrap();
    let hash = sandkit_runtime::ComponentCache::content_hash(&bytes);
    let file = wasm("ticker");
    {
        let rt = sandkit_runtime::Runtime::new(rc.clone()).unwrap();
        let (_, outcome) = rt.component(&file, &bytes, &hash).unwrap();
        assert_eq!(outcome, sandkit_runtime::CacheOutcome::Compiled);
    }
    // A new runtime (as after a restart) finds the artifact.
    let rt = sandkit_runtime::Runtime::new(rc.clone()).unwrap();
    let (_, outcome) = rt.component(&file, &bytes, &hash).unwrap();
    assert_eq!(outcome, sandkit_runtime::CacheOutcome::Hit);
    // A damaged artifact is detected, removed and recompiled.
    for e in std::fs::read_dir(&rc.cache_dir).unwrap() {
        let p = e.unwrap().path();
        std::fs::write(&p, b"damaged").unwrap();
    }
    let (_, outcome) = rt.component(&file, &bytes, &hash).unwrap();
    assert_eq!(outcome, sandkit_runtime::CacheOutcome::Compiled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conf_d_changes_restart_the_plugin_and_bad_edits_are_refused() {
    let h = Harness::new();
    h.conf("t", "interval = \"100ms\"\n");
    let _w = watch_plugins_dir(h.plugins(), h.sup.clone(), Duration::from_secs(60))
        .await
        .unwrap();
    h.install("ticker", "t");
    h.wait_for("t", WAIT, |s| s.calls >= 1 && s.interval_ms == Some(100))
        .await;

    h.conf("t", "interval = \"200ms\"\n");
    h.wait_for("t", WAIT, |s| s.interval_ms == Some(200) && s.calls >= 1)
        .await;

    // A bad edit is refused with the file and key; the plugin keeps running on its last config.
    h.conf("t", "interval = \"300ms\"\nbogus = 1\n");
    let st = h
        .wait_for("t", WAIT, |s| {
            s.last_error.as_deref().is_some_and(|e| e.contains("bogus"))
        })
        .await;
    assert_eq!(st.state, PluginState::Running);
    assert_eq!(st.interval_ms, Some(200));
    assert!(st.last_error.unwrap().contains("conf.d/t.toml"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_of_one_file_load_side_by_side_from_a_cold_cache() {
    // The bug: loads in parallel compiled one file into the same temporary cache file at once,
    // and a plugin could map an artifact another load was still writing.
    let h = Harness::new();
    let names = ["twin_a", "twin_b", "twin_c", "twin_d"];
    for name in names {
        h.conf(name, "interval = \"100ms\"\n");
        h.install("ticker", name);
    }
    let files = sandkit_runtime::plugin_files(&h.plugins()).unwrap();
    h.sup.upsert_all(files).await;
    for name in names {
        let st = h
            .wait_state(name, PluginState::Running, Duration::from_secs(20))
            .await;
        assert!(st.last_error.is_none(), "{st:#?}");
    }
}
