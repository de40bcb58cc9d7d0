//! Sandbox escapes are denied: no file outside the granted read-only directories (not through
//! `..`, not through symlinks), no writes, no environment, no network, no host facts without a
//! grant.

use sandkit_io::FieldValue;
use sandkit_runtime::{load_plugin_file, Instance, PluginConfig, Runtime, StateStore};
use sandkit_tests::{sandkit_bin, test_runtime_config, wasm, KillOnDrop};
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
    // A FIFO with no writer: opening it for reading would wait for ever (the bug: a stuck
    // thread per attempt and an agent that never exited).
    let st = std::process::Command::new("mkfifo")
        .arg(root.join("fifo"))
        .status()
        .unwrap();
    assert!(st.success());
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
        "fifo",
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

/// The points of the `escape` guest in line protocol `text`, as attempt -> (ok, detail).
fn outcomes(text: &str) -> HashMap<String, (bool, String)> {
    // Whole points only: the last line may be half written.
    let end = text.rfind("\nescape,").map_or(0, |i| i + 1);
    let points = sandkit_io::decode_lines(
        &text.as_bytes()[..end],
        sandkit_io::Precision::Nanoseconds,
        0,
        sandkit_io::Category::Metric,
    )
    .unwrap_or_default();
    let mut out = HashMap::new();
    for p in points.iter().filter(|p| p.measurement() == "escape") {
        let ok = matches!(p.field("ok"), Some(FieldValue::Bool(true)));
        let detail = match p.field("detail") {
            Some(FieldValue::Text(t)) => t.clone(),
            other => format!("{other:?}"),
        };
        out.insert(
            p.tag("attempt").unwrap_or_default().to_string(),
            (ok, detail),
        );
    }
    out
}

#[test]
fn a_proc_grant_keeps_the_agents_secrets() {
    // The bug: through read_only_dirs = ["/proc"] a plugin read the agent's environment,
    // command line and memory (the [http] token), and other processes' environ and mem.
    const ENV_SECRET: &str = "env-secret-5f1c0e9b";
    const TOKEN_SECRET: &str = "token-secret-8d2a4c7e";
    let d = sandkit_tests::agent_dir(&[("escape", "escape")]);
    let root = d.path().join("granted");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("inside.txt"), "inside-ok").unwrap();
    std::fs::write(
        d.path().join("conf.d/escape.toml"),
        format!(
            "interval = \"1s\"\n[sandbox]\nread_only_dirs = [\"/proc\", {root:?}]\n\
             [config]\nroot = {root:?}\nkernel = true\npid = {pid}\n",
            root = root.display().to_string(),
            pid = std::process::id()
        ),
    )
    .unwrap();
    let out_file = d.path().join("out.lp");
    std::fs::write(
        d.path().join("sandkit.toml"),
        format!(
            "data_dir = \"data\"\n[output]\nkind = \"file\"\npath = {out:?}\n\
             [output.batch]\n\n[http]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN_SECRET}\"\n",
            out = out_file.display().to_string()
        )
        .replace("[output.batch]\n\n", ""),
    )
    .unwrap();
    let child = std::process::Command::new(sandkit_bin())
        .args(["run", "--config", "sandkit.toml"])
        .current_dir(d.path())
        .env("SANDKIT_TEST_SECRET", ENV_SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child.id());
    let start = std::time::Instant::now();
    let results = loop {
        let text = std::fs::read_to_string(&out_file).unwrap_or_default();
        let r = outcomes(&text);
        if r.contains_key("pid_mem") {
            break r;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "no escape points in:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let out = sandkit_tests::terminate(child);
    std::mem::forget(guard);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "exit {:?}\n{log}", out.status);
    // The controls: what the collectors need is served.
    for control in ["inside", "proc_stat", "proc_mounts"] {
        assert!(results[control].0, "{control}: {:?}", results[control]);
    }
    for attempt in [
        "environ",
        "thread_environ",
        "cmdline",
        "maps",
        "mem",
        "kmsg",
        "kcore",
        "root",
        "fd_link",
        "stat_environ",
        "init_environ",
        "pid_environ",
        "pid_cmdline",
        "pid_mem",
        "fifo",
    ] {
        let (ok, detail) = &results[attempt];
        assert!(!ok, "{attempt} succeeded: {detail}");
    }
    let text = std::fs::read_to_string(&out_file).unwrap();
    for secret in [ENV_SECRET, TOKEN_SECRET] {
        assert!(!text.contains(secret), "a secret reached a point");
        assert!(!log.contains(secret), "a secret reached the log");
    }
    // Refusals are logged, naming the plugin and the path.
    assert!(
        log.contains("file access refused") && log.contains("/proc/self/environ"),
        "{log}"
    );
}

#[test]
fn kernel_grants_are_checked_in_config() {
    let base = sandkit_runtime::Limits::default();
    let parse = |t: &str| PluginConfig::parse(t, Path::new("conf.d/x.toml"), base);
    for (bad, why) in [
        ("[sandbox]\nread_only_dirs = [\"/\"]", "would expose /proc"),
        (
            "[sandbox]\nread_only_dirs = [\"/proc/1/root\"]",
            "not a directory of the kernel view",
        ),
        (
            "[sandbox]\nread_only_dirs = [\"/proc\"]\nkernel_paths = [\"/proc/*/environ\"]",
            "never served",
        ),
        (
            "[sandbox]\nkernel_paths = [\"/proc/*/status\"]",
            "outside every granted directory",
        ),
    ] {
        let e = parse(bad).unwrap_err().to_string();
        assert!(e.contains(why) && e.contains("conf.d/x.toml"), "{bad}: {e}");
    }
    let ok = parse("[sandbox]\nread_only_dirs = [\"/proc\"]\nkernel_paths = [\"/proc/*/status\"]")
        .unwrap();
    assert_eq!(ok.sandbox.kernel_paths, vec!["/proc/*/status".to_string()]);
}

#[tokio::test]
async fn explicit_kernel_paths_widen_the_view() {
    // Another process's status is outside the safe set; `kernel_paths` grants it.
    let conf = |extra: &str| {
        format!(
            "[sandbox]\nread_only_dirs = [\"/proc\", \"/tmp\"]\n{extra}\n\
             [config]\nroot = \"/tmp\"\nkernel = true\npid = 1\n"
        )
    };
    let status = |points: &[sandkit_io::Point]| {
        let p = points
            .iter()
            .find(|p| p.tag("attempt") == Some("pid_status"))
            .expect("a pid_status attempt");
        matches!(p.field("ok"), Some(FieldValue::Bool(true)))
    };
    let refused = run_once("escape", &conf("")).await.unwrap();
    assert!(!status(&refused));
    let granted = run_once("escape", &conf("kernel_paths = [\"/proc/*/status\"]"))
        .await
        .unwrap();
    assert!(status(&granted));
    // Never the secrets, whatever else is granted.
    for p in &granted {
        let attempt = p.tag("attempt").unwrap_or_default();
        if ["environ", "mem", "pid_environ", "pid_mem", "kmsg"].contains(&attempt) {
            assert!(
                !matches!(p.field("ok"), Some(FieldValue::Bool(true))),
                "{p:?}"
            );
        }
    }
}
