#![allow(clippy::unwrap_used)]
use super::*;

fn supervisor(dir: &Path) -> Arc<Supervisor> {
    let rc = crate::RawRuntimeConfig::default()
        .validate(
            Path::new("test"),
            dir.join("cache"),
            dir.join("plugins"),
            dir.join("conf.d"),
        )
        .unwrap();
    let runtime = Arc::new(Runtime::new(rc).unwrap());
    let (sink, _writer) = sandkit_io::spawn_writer(
        Arc::new(sandkit_io::CaptureOutput::new()),
        4,
        Default::default(),
    );
    Supervisor::new(runtime, sink, Vec::new())
}

#[tokio::test]
async fn a_compile_shows_in_status_without_hiding_a_running_version() {
    let d = tempfile::tempdir().unwrap();
    let sup = supervisor(d.path());
    // A new plugin appears, in state compiling, with the size of its component.
    let file = d.path().join("plugins/py.wasm");
    (sup.mark_compiling("py", &file, "abc"))(18_400_000);
    let st = sup.status("py").unwrap();
    assert_eq!(st.state, PluginState::Compiling);
    assert_eq!(st.hash.as_deref(), Some("abc"));
    assert_eq!(st.compiling.map(|c| c.bytes), Some(18_400_000));
    assert!(st.compiling.unwrap().since_unix_ms > 0);

    // A running plugin keeps running while its new version compiles...
    let mut running = PluginStatus::new("up", file.clone());
    running.state = PluginState::Running;
    sup.insert_idle("up", running, None);
    (sup.mark_compiling("up", &file, "def"))(5 << 20);
    let st = sup.status("up").unwrap();
    assert_eq!(st.state, PluginState::Running);
    assert_eq!(st.compiling.map(|c| c.bytes), Some(5 << 20));

    // ... and a failed one, which runs nothing, shows the compile as its state.
    let mut failed = PluginStatus::new("bad", file.clone());
    failed.state = PluginState::Failed;
    sup.insert_idle("bad", failed, None);
    (sup.mark_compiling("bad", &file, "0123"))(1);
    assert_eq!(sup.status("bad").unwrap().state, PluginState::Compiling);
}
