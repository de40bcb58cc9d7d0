//! The command line: `config check`, `plugin test`, `plugin list`, and `run` with a graceful stop.
//!
//! Over 600 lines: one test per command, each running the real binary.

use sandkit_tests::{http, repo_root, sandkit_bin, wasm, KillOnDrop};
use std::ffi::OsString;
use std::process::Command;
use std::time::{Duration, Instant};

/// Run `sandkit <args>` in `dir` and wait for it.
fn sandkit<I, S>(dir: &std::path::Path, args: I) -> std::process::Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(sandkit_bin())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn agent_dir(collectors: &[&str]) -> tempfile::TempDir {
    let pairs: Vec<(&str, &str)> = collectors.iter().map(|c| (*c, *c)).collect();
    let d = sandkit_tests::agent_dir(&pairs);
    for c in collectors {
        let conf = repo_root().join(format!("guests/collectors/{c}/conf.toml"));
        std::fs::copy(conf, d.path().join(format!("conf.d/{c}.toml"))).unwrap();
    }
    d
}

#[test]
fn config_check_accepts_good_and_names_bad_keys() {
    let d = agent_dir(&["cpu", "mem"]);
    let out = sandkit(d.path(), ["config", "check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 plugin config(s)"));

    std::fs::write(
        d.path().join("conf.d/mem.toml"),
        "interval = \"10s\"\n[limits]\nfuels = 10\n",
    )
    .unwrap();
    let out = sandkit(d.path(), ["config", "check"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("conf.d/mem.toml") && err.contains("fuels") && err.contains("line 3"),
        "{err}"
    );

    std::fs::write(
        d.path().join("sandkit.toml"),
        "plugins_dir = \"plugins\"\nplugin_dir = \"x\"\n",
    )
    .unwrap();
    let out = sandkit(d.path(), ["config", "check", "-c", "sandkit.toml"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sandkit.toml") && err.contains("plugin_dir"),
        "{err}"
    );

    // The output's CA file and proxy are checked too, and the proxy password is not shown.
    std::fs::write(
        d.path().join("sandkit.toml"),
        "[output]\nkind = \"dataway\"\nurls = [\"https://dw:9529\"]\ntoken = \"t\"\n\
         ca_file = \"missing.pem\"\n",
    )
    .unwrap();
    let out = sandkit(d.path(), ["config", "check", "-c", "sandkit.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("missing.pem"),
        "{err}"
    );
    std::fs::write(
        d.path().join("sandkit.toml"),
        "[output]\nkind = \"dataway\"\nurls = [\"https://dw:9529\"]\ntoken = \"t\"\n\
         proxy = \"socks5://u:hunter2@p:1080\"\n",
    )
    .unwrap();
    let out = sandkit(d.path(), ["config", "check", "-c", "sandkit.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("proxy"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    // One DataWay URL and token listed twice would send every batch twice through one buffer.
    std::fs::write(
        d.path().join("sandkit.toml"),
        "[output]\nkind = \"dataway\"\n\
         urls = [\"http://dw:9528?token=tkn_a\", \"http://dw:9528/?token=tkn_a\"]\n",
    )
    .unwrap();
    let out = sandkit(d.path(), ["config", "check", "-c", "sandkit.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("listed twice"),
        "{err}"
    );
    assert!(!err.contains("tkn_a"), "{err}");
}

#[test]
fn plugin_test_prints_points() {
    let conf = repo_root().join("guests/collectors/mem/conf.toml");
    let out = sandkit(
        &repo_root(),
        [
            OsString::from("plugin"),
            "test".into(),
            wasm("mem").into(),
            "--config".into(),
            conf.into(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("mem total="), "{stdout}");
    assert!(stdout.contains("used_percent="));

    // A crash is reported with the plugin name and a non-zero exit.
    let out = sandkit(
        &repo_root(),
        [
            OsString::from("plugin"),
            "test".into(),
            wasm("panicker").into(),
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("panicker") && err.contains("unreachable") && err.contains("deliberate panic"),
        "{err}"
    );
}

#[test]
fn plugin_list_describes_every_plugin() {
    let d = agent_dir(&["cpu", "mem", "system"]);
    let out = sandkit(d.path(), ["plugin", "list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["plugin"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cpu", "mem", "system"]);
    let cpu = &v[0]["plugin"];
    assert_eq!(cpu["default_interval"], "10s");
    let fields = cpu["measurements"][0]["fields"].as_array().unwrap();
    assert!(fields
        .iter()
        .any(|f| f["name"] == "usage_user" && !f["description"].as_str().unwrap().is_empty()));
}

#[test]
fn run_collects_and_stops_gracefully() {
    let d = agent_dir(&["cpu", "mem", "disk", "diskio", "net", "system"]);
    // A wrong-world plugin beside them must not disturb anything.
    std::fs::copy(wasm("wrongworld"), d.path().join("plugins/wrongworld.wasm")).unwrap();
    let out_file = d.path().join("out.lp");
    let child = Command::new(sandkit_bin())
        .args(["run", "--http-listen", "127.0.0.1:0", "--output-file"])
        .arg(&out_file)
        .current_dir(d.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child.id());
    // Every point carries the global host tag, so each measurement is followed by a comma.
    let want = ["cpu,", "mem,", "disk,", "diskio,", "net,", "system,"];
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&out_file).unwrap_or_default();
        // cpu reports from its second sample on, within the first 10 s interval plus jitter.
        if want.iter().all(|w| text.lines().any(|l| l.starts_with(w))) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "missing measurements in:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The HTTP API on the port it picked: a write lands in the same output, and /metrics and
    // /v1/plugins report the plugins.
    let addr = std::fs::read_to_string(d.path().join("data/http.addr")).unwrap();
    let (code, body) = http(
        &addr,
        "POST",
        "/v1/write/metric",
        "pushed,src=test v=7i 1\n",
    );
    assert_eq!(code, 204, "{body}");
    assert!(std::fs::read_to_string(&out_file)
        .unwrap()
        .lines()
        .any(|l| l.starts_with("pushed,") && l.contains("src=test") && l.contains(",host=")));
    let (code, metrics) = http(&addr, "GET", "/metrics", "");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("sandkit_plugin_calls_total{plugin=\"cpu\"}")
            && metrics.contains("sandkit_plugin_state{plugin=\"wrongworld\",state=\"failed\"} 1")
            && metrics.contains(
                "sandkit_plugin_call_duration_seconds_bucket{plugin=\"mem\",le=\"+Inf\"}"
            ),
        "{metrics}"
    );
    let (code, plugins) = http(&addr, "GET", "/v1/plugins", "");
    assert_eq!(code, 200);
    let plugins: serde_json::Value = serde_json::from_str(&plugins).unwrap();
    assert!(plugins
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "system"));
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("data/status.json")).unwrap())
            .unwrap();
    let wrong = status
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "wrongworld")
        .unwrap();
    assert_eq!(wrong["state"], "failed");
    let out = sandkit_tests::terminate(child);
    std::mem::forget(guard);
    assert!(out.status.success(), "exit {:?}", out.status);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("wrongworld.wasm") && log.contains("collector world"),
        "{log}"
    );
    assert!(log.contains("sandkit.stop: done"), "{log}");
    // Every line is valid line protocol with the host tag.
    let text = std::fs::read_to_string(&out_file).unwrap();
    assert!(text.lines().all(|l| l.contains(",host=")), "{text}");
}

#[test]
fn service_install_writes_a_hardened_unit_that_systemd_verifies_and_uninstall_removes_it() {
    let d = tempfile::tempdir().unwrap();
    let conf = d.path().join("sandkit.toml");
    std::fs::write(&conf, "data_dir = \"state dir\"\n").unwrap();
    let units = d.path().join("units");
    let out = sandkit(
        d.path(),
        [
            OsString::from("service"),
            "install".into(),
            "--config".into(),
            conf.clone().into(),
            "--unit-dir".into(),
            units.clone().into(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit_file = units.join("sandkit.service");
    let unit = std::fs::read_to_string(&unit_file).unwrap();
    assert!(
        unit.contains(&format!("run --config {}\n", conf.display())),
        "{unit}"
    );
    // Relative paths resolve against the config's directory; a space is quoted.
    assert!(
        unit.contains(&format!(
            "ReadWritePaths=\"-{}\"\n",
            d.path().join("state dir").display()
        )),
        "{unit}"
    );
    for key in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=read-only",
    ] {
        assert!(unit.contains(key), "{key} missing:\n{unit}");
    }
    if std::path::Path::new("/usr/bin/systemd-analyze").exists() {
        let verify = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&unit_file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&verify.stderr);
        // Unknown or malformed keys are only warnings: none may appear about the unit.
        assert!(
            verify.status.success() && !err.contains("sandkit.service"),
            "systemd-analyze verify: {err}"
        );
    } else {
        eprintln!("skipping systemd-analyze verify: not installed");
    }
    let out = sandkit(
        d.path(),
        [
            OsString::from("service"),
            "uninstall".into(),
            "--unit-dir".into(),
            units.clone().into(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!unit_file.exists());
    // A config with an error is refused before anything is written.
    std::fs::write(&conf, "data_dirr = \"x\"\n").unwrap();
    let out = sandkit(
        d.path(),
        [
            OsString::from("service"),
            "install".into(),
            "--config".into(),
            conf.into(),
            "--unit-dir".into(),
            units.clone().into(),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("data_dirr"));
    assert!(!unit_file.exists());
}

/// `calls` of each plugin, from `/v1/plugins`.
fn calls(addr: &str) -> std::collections::HashMap<String, u64> {
    let (code, body) = http(addr, "GET", "/v1/plugins", "");
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["calls"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn reload_restarts_only_changed_plugins_and_refuses_a_bad_config() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    std::fs::create_dir_all(dir.join("conf.d")).unwrap();
    for name in ["pinned", "follows"] {
        std::fs::copy(wasm("ticker"), dir.join(format!("plugins/{name}.wasm"))).unwrap();
    }
    // `pinned` sets its own memory cap; `follows` takes [runtime.limits].
    std::fs::write(
        dir.join("conf.d/pinned.toml"),
        "interval = \"100ms\"\n[limits]\nmemory = \"32MiB\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("conf.d/follows.toml"), "interval = \"100ms\"\n").unwrap();
    let conf = |memory: &str| {
        format!("[output]\nflush_interval = \"100ms\"\n[runtime.limits]\nmemory = \"{memory}\"\n")
    };
    std::fs::write(dir.join("sandkit.toml"), conf("40MiB")).unwrap();
    let child = Command::new(sandkit_bin())
        .args(["run", "-c", "sandkit.toml", "--http-listen", "127.0.0.1:0"])
        .arg("--output-file")
        .arg(dir.join("out.lp"))
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child.id());
    let addr_file = dir.join("data/http.addr");
    let start = Instant::now();
    let addr = loop {
        if let Ok(a) = std::fs::read_to_string(&addr_file) {
            let c = calls(&a);
            if c.get("pinned").copied().unwrap_or(0) >= 5
                && c.get("follows").copied().unwrap_or(0) >= 5
            {
                break a;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "plugins did not run"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // Both keep counting on the same instance: calls never go down.
    let still_counting = |before: &std::collections::HashMap<String, u64>, name: &str| {
        let mut last = before[name];
        for _ in 0..10 {
            std::thread::sleep(Duration::from_millis(100));
            let now = calls(&addr)[name];
            assert!(now >= last, "{name} restarted: {now} calls after {last}");
            last = now;
        }
        assert!(last > before[name], "{name} stopped collecting");
    };

    // A config with an error is refused; nothing restarts.
    std::fs::write(dir.join("sandkit.toml"), conf("lots")).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let before = calls(&addr);
    still_counting(&before, "pinned");
    still_counting(&before, "follows");

    // A valid change of [runtime.limits]: `follows` restarts with it, `pinned` is untouched.
    let before = calls(&addr);
    std::fs::write(
        dir.join("sandkit.toml"),
        format!("{}[global_tags]\ndc = \"eu\"\n", conf("48MiB")),
    )
    .unwrap();
    let mut restarted = false;
    let mut pinned_last = before["pinned"];
    let mut follows_last = before["follows"];
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        let now = calls(&addr);
        assert!(now["pinned"] >= pinned_last, "pinned restarted: {now:?}");
        pinned_last = now["pinned"];
        if now["follows"] < follows_last {
            restarted = true;
            break;
        }
        follows_last = now["follows"];
    }
    assert!(restarted, "follows did not restart with the new limits");
    assert!(pinned_last > before["pinned"]);
    // ...and runs with them; `pinned` keeps its own.
    let (_, body) = http(&addr, "GET", "/v1/plugins", "");
    let plugins: serde_json::Value = serde_json::from_str(&body).unwrap();
    let memory = |name: &str| {
        plugins
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["limits"]["memory_bytes"].as_u64().unwrap())
            .unwrap()
    };
    assert_eq!(memory("follows"), 48 << 20);
    assert_eq!(memory("pinned"), 32 << 20);

    // SIGHUP with no change: a reload that restarts nothing.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::HUP,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let before = calls(&addr);
    still_counting(&before, "pinned");
    still_counting(&before, "follows");

    let out = sandkit_tests::terminate(child);
    std::mem::forget(guard);
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    let refused = log
        .lines()
        .find(|l| l.contains("config.reload refused"))
        .unwrap_or_else(|| panic!("no refusal in:\n{log}"));
    assert!(
        refused.contains("sandkit.toml") && refused.contains("memory") && refused.contains("lots"),
        "{refused}"
    );
    assert!(log.contains("config.reload: SIGHUP"), "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("global_tags changed") && l.contains("until the agent restarts")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("1 plugin(s) restarted") && l.contains("follows")),
        "{log}"
    );
}

#[test]
fn reading_the_config_does_not_reload_and_bad_files_are_reported_once() {
    // The bugs: one `cat sandkit.toml` started an endless reload loop (open and read events
    // counted as changes, and each reload's own read made the next); every reload tried the
    // failed plugins again; a slow copy into plugins/ logged an error per write.
    let d = sandkit_tests::agent_dir(&[("wrongworld", "wrongworld")]);
    let dir = d.path();
    std::fs::write(
        dir.join("sandkit.toml"),
        "[output]\nflush_interval = \"100ms\"\n",
    )
    .unwrap();
    let child = Command::new(sandkit_bin())
        .args(["run", "-c", "sandkit.toml", "--http-listen", "127.0.0.1:0"])
        .arg("--output-file")
        .arg(dir.join("out.lp"))
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("agent.log")).unwrap())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child.id());
    let start = Instant::now();
    while !dir.join("data/http.addr").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the agent did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Reads of the config and of the plugin files, as `cat` and `sandkit status` do.
    for _ in 0..20 {
        std::fs::read(dir.join("sandkit.toml")).unwrap();
        std::fs::read(dir.join("plugins/wrongworld.wasm")).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = sandkit(dir, ["config", "check", "-c", "sandkit.toml"]);
    assert!(out.status.success());
    // A slow copy of a good plugin: eight writes 100 ms apart.
    let bytes = std::fs::read(wasm("ticker")).unwrap();
    {
        use std::io::Write;
        let mut f = std::fs::File::create(dir.join("plugins/slow.wasm")).unwrap();
        for chunk in bytes.chunks(bytes.len().div_ceil(8)) {
            f.write_all(chunk).unwrap();
            f.flush().unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // SIGHUP: one reload, which does not try the failed plugin again.
    std::thread::sleep(Duration::from_millis(1500));
    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    std::thread::sleep(Duration::from_millis(1500));
    let out = sandkit_tests::terminate(child);
    std::mem::forget(guard);
    assert!(out.status.success(), "exit {:?}", out.status);
    let log = std::fs::read_to_string(dir.join("agent.log")).unwrap();
    let count = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(count("reading the config again"), 1, "{log}");
    assert_eq!(count("config.reload: SIGHUP"), 1, "{log}");
    assert_eq!(
        count("file rejected plugin=wrongworld"),
        1,
        "the failed plugin is reported once:\n{log}"
    );
    assert!(
        !log.contains("rejected plugin=slow"),
        "the slow copy is loaded once, complete:\n{log}"
    );
    assert!(log.contains("runtime.plugin loaded plugin=slow"), "{log}");
}

#[test]
fn a_slow_loading_plugin_holds_up_neither_the_others_nor_the_stop() {
    // The bugs: plugins loaded one at a time under the plugin's own deadline, so a sleeping
    // describe held up every other plugin and the HTTP server, and with [limits] timeout =
    // "60s" a SIGTERM during start-up took 58.7 s.
    let d = sandkit_tests::agent_dir(&[("slowload", "slowload"), ("ticker", "ticker")]);
    let dir = d.path();
    std::fs::write(
        dir.join("conf.d/slowload.toml"),
        "[limits]\ntimeout = \"60s\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("conf.d/ticker.toml"), "interval = \"100ms\"\n").unwrap();
    let start_agent = |log: &str| sandkit_tests::run_agent(dir, log);
    // 1. Both load side by side; the slow one is cut at the load deadline, not at 60 s.
    let child = start_agent("first.log");
    let guard = KillOnDrop(child.id());
    let started = Instant::now();
    while !dir.join("data/http.addr").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the agent did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = sandkit_tests::terminate(child);
    std::mem::forget(guard);
    assert!(out.status.success());
    let log = std::fs::read_to_string(dir.join("first.log")).unwrap();
    let at = |needle: &str| {
        log.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{log}"))
    };
    assert!(
        at("runtime.plugin loaded plugin=ticker") < at("file rejected plugin=slowload"),
        "ticker waited for slowload:\n{log}"
    );
    assert!(
        log.contains("describe ran past its deadline of 5s"),
        "the load deadline, not the 60 s call deadline:\n{log}"
    );
    // 2. A stop while the slow plugin loads ends the agent at once.
    std::fs::remove_dir_all(dir.join("data")).unwrap();
    let child = start_agent("second.log");
    let guard = KillOnDrop(child.id());
    std::thread::sleep(Duration::from_millis(1500));
    let out = sandkit_tests::terminate(child);
    std::mem::forget(guard);
    assert!(out.status.success());
    let log = std::fs::read_to_string(dir.join("second.log")).unwrap();
    assert!(
        log.contains("stop requested while plugins were loading")
            && log.contains("sandkit.stop: done"),
        "{log}"
    );
    assert!(
        !log.contains("file rejected plugin=slowload"),
        "it waited for the load:\n{log}"
    );
}
