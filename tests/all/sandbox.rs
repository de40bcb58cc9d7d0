//! Sandbox escapes are denied: no file outside the granted read-only directories (not through
//! `..`, not through symlinks), no writes, no environment, no network, no host facts without a
//! grant.

use sandkit_io::FieldValue;
use sandkit_runtime::{load_plugin_file, Instance, PluginConfig, Runtime, StateStore};
use sandkit_tests::{test_runtime_config, wasm};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

async fn run_once(
    guest: &str,
    conf: &str,
) -> Result<Vec<sandkit_io::Point>, sandkit_runtime::RuntimeError> {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(test_runtime_config(dir.path())).unwrap();
    let pc = PluginConfig::parse(conf, Path::new("test.toml"), runtime.config().limits).unwrap();
    let loaded = load_plugin_file(&runtime, guest, &wasm(guest), &pc)
        .await
        .unwrap();
    let mut inst = Instance::new(&loaded, &pc, Arc::new(Mutex::new(StateStore::default()))).await?;
    inst.init(&pc.config_json).await?;
    Ok(inst.collect().await?.points)
}

#[tokio::test]
async fn escapes_are_denied_and_the_grant_works() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("granted");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("inside.txt"), "inside-ok").unwrap();
    let secret = base.path().join("secret.txt");
    std::fs::write(&secret, "top-secret").unwrap();
    std::os::unix::fs::symlink(&secret, root.join("abs_link")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", root.join("rel_link")).unwrap();
    let conf = format!(
        "[sandbox]\nread_only_dirs = [{root:?}]\n[config]\nroot = {root:?}\n",
        root = root.display().to_string()
    );
    let points = run_once("escape", &conf).await.unwrap();
    let results: HashMap<String, (bool, String)> = points
        .iter()
        .map(|p| {
            let ok = matches!(p.field("ok"), Some(FieldValue::Bool(true)));
            let detail = match p.field("detail") {
                Some(FieldValue::Text(t)) => t.clone(),
                other => format!("{other:?}"),
            };
            (
                p.tag("attempt").unwrap_or_default().to_string(),
                (ok, detail),
            )
        })
        .collect();
    // The control: the granted directory is readable, so the test can tell denial from breakage.
    assert_eq!(
        results["inside"],
        (true, "inside-ok".to_string()),
        "{results:#?}"
    );
    for attempt in [
        "dotdot",
        "abs_symlink",
        "rel_symlink",
        "shadow",
        "passwd",
        "env",
        "tcp",
        "write",
    ] {
        let (ok, detail) = &results[attempt];
        assert!(!ok, "sandbox escape {attempt:?} succeeded: {detail}");
        assert!(!detail.contains("top-secret"), "{attempt}: {detail}");
    }
    assert!(
        !root.join("written.txt").exists(),
        "a read-only grant was written to"
    );
}

#[tokio::test]
async fn nothing_is_granted_by_default() {
    // Without a grant, /proc is not there: the cpu collector cannot start.
    let e = run_once("cpu", "").await.unwrap_err().to_string();
    assert!(e.contains("init"), "{e}");
    assert!(e.contains("/proc"), "the error says what is missing: {e}");
}

#[tokio::test]
async fn statfs_needs_its_grant() {
    let denied = run_once("disk", "[sandbox]\nread_only_dirs = [\"/proc\"]\n")
        .await
        .unwrap_err()
        .to_string();
    assert!(denied.contains("statfs"), "{denied}");
    let points = run_once(
        "disk",
        "[sandbox]\nread_only_dirs = [\"/proc\"]\nstatfs = true\n",
    )
    .await
    .unwrap();
    assert!(
        points.iter().any(|p| p.tag("path") == Some("/")),
        "{points:#?}"
    );
}
