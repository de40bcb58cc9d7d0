//! Issue 21: documentation generated from the code, emitted points checked against `describe`,
//! and `sandkit monitor` under a real pseudo-terminal.

use sandkit_tests::{
    agent_dir, agent_with_config, eventually, http, ok_output, repo_root, run_agent, sandkit_bin,
    sandkit_cli, sandkit_cli_stdin, stop_agent, wasm, KillOnDrop,
};

/// `sandkit_plugin_undeclared_points_total` of `plugin` at the agent on `addr` (-1: absent).
fn undeclared(addr: &str, plugin: &str) -> f64 {
    let (_, body) = http(addr, "GET", "/metrics", "");
    let key = format!("sandkit_plugin_undeclared_points_total{{plugin=\"{plugin}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&key)?.trim().parse().ok())
        .unwrap_or(-1.0)
}
use std::path::Path;

/// The warnings of a `plugin test` / `pipeline test` run (its stderr).
fn warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect()
}

/// Every bundled plugin, run on its sample input with its shipped config: it emits nothing its
/// `describe` does not declare (so its generated page is true of it). The check can fail: the
/// `ticker` test guest emits a field it does not declare and is warned about.
#[test]
fn bundled_plugins_emit_nothing_undeclared() {
    let root = repo_root();
    let g = |p: &str| root.join("guests").join(p);
    let data = root.join("tests/data/pipelines");
    let s = |p: &Path| p.to_str().expect("UTF-8 path").to_string();
    // (plugin, config, stdin, extra args)
    let mut runs: Vec<(&str, String, Vec<u8>, Vec<String>)> = Vec::new();
    for c in ["cpu", "mem", "disk", "diskio", "net", "system"] {
        let conf = g(&format!("collectors/{c}/conf.toml"));
        let args = vec![
            "--count".into(),
            "2".into(),
            "--every".into(),
            "300ms".into(),
        ];
        runs.push((c, s(&conf), Vec::new(), args));
    }
    for (dir, procs) in [
        ("python/procs", "procs"),
        ("js/procs", "procs_js"),
        ("c/cprocs", "cprocs"),
    ] {
        runs.push((
            procs,
            s(&g(&format!("{dir}/conf.toml"))),
            Vec::new(),
            vec![],
        ));
    }
    let read = |p: &Path| std::fs::read(p).expect("sample input");
    for (p, log, conf) in [
        ("nginx", "nginx-access.log", None),
        ("nginx_error", "nginx-error.log", None),
        ("json", "json.log", None),
        ("grok", "grok.log", Some(data.join("grok.toml"))),
    ] {
        let conf = conf.unwrap_or_else(|| g(&format!("pipelines/{p}/conf.toml")));
        runs.push((p, s(&conf), read(&data.join(log)), vec![]));
    }
    let logfmt_in = read(&g("python/logfmt/testdata/input.log"));
    for p in ["logfmt", "logfmt_js", "clogfmt"] {
        let conf = s(&g("python/logfmt/conf.toml"));
        runs.push((p, conf, logfmt_in.clone(), vec![]));
    }
    for csv in ["readings.csv", "energy.csv"] {
        let body = read(&g(&format!("python/csvmetrics/testdata/{csv}")));
        for p in ["csvmetrics", "csvmetrics_js", "ccsvmetrics"] {
            let ct = vec!["--content-type".into(), "text/csv".into()];
            runs.push((p, s(&g("python/csvmetrics/conf.toml")), body.clone(), ct));
        }
    }
    let webhook = br#"[{"kind":"deploy","service":"pay","time":"2024-03-01T12:00:00Z","build":{"id":42,"ok":true},"took":1.5,"tags":["a"]}]"#;
    runs.push((
        "webhook",
        s(&g("inputs/webhook/conf.toml")),
        webhook.to_vec(),
        vec!["--content-type".into(), "application/json".into()],
    ));
    let mut seen = Vec::new();
    for (plugin, conf, input, extra) in &runs {
        let file = wasm(plugin);
        let mut args = vec!["plugin", "test", file.to_str().expect("UTF-8"), "-c", conf];
        args.extend(extra.iter().map(String::as_str));
        let (out, err) = sandkit_cli_stdin(plugin, Path::new("."), &args, input, &[]);
        assert!(!out.trim().is_empty(), "{plugin} emitted nothing: {err}");
        assert!(warnings(&err).is_empty(), "{plugin}: {err}");
        seen.push(*plugin);
    }
    assert_eq!(seen.len(), runs.len());
    // The check itself: a guest that emits what it does not declare is warned about.
    let ticker = wasm("ticker");
    let (_, err) = sandkit_cli_stdin(
        "ticker",
        Path::new("."),
        &["plugin", "test", ticker.to_str().expect("UTF-8")],
        b"",
        &[],
    );
    let w = warnings(&err);
    assert!(!w.is_empty() && w[0].contains("ticker"), "{err}");
    assert!(err.contains("points unlike the plugin's describe"), "{err}");
}

/// A running agent counts the points unlike their plugin's description in `/metrics`, and
/// `sandkit monitor` shows them, under a real pseudo-terminal, redrawn every second; it quits
/// on q and on Ctrl-C with exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_shows_a_running_agent_and_quits_on_q_or_ctrl_c() {
    let d = agent_dir(&[("cpu", "cpu"), ("ticker", "ticker")]);
    let root = repo_root();
    std::fs::copy(
        root.join("guests/collectors/cpu/conf.toml"),
        d.path().join("conf.d/cpu.toml"),
    )
    .expect("copy cpu's conf");
    let agent = run_agent(d.path(), "agent.log");
    let guard = KillOnDrop(agent.id());
    let addr_file = d.path().join("data/http.addr");
    assert!(eventually(20, || addr_file.exists()).await, "no http.addr");
    let addr = std::fs::read_to_string(&addr_file)
        .expect("http.addr")
        .trim()
        .to_string();
    let metric = |plugin: &str| undeclared(&addr, plugin);
    assert!(
        eventually(20, || metric("ticker") >= 2.0).await,
        "ticker's undeclared points are counted: {}",
        metric("ticker")
    );
    assert_eq!(metric("cpu"), 0.0, "cpu emits what it declares");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let drive = root.join("tests/data/monitor/pty_drive.py");
    let bin = sandkit_bin();
    for key in ["q", "ctrl-c"] {
        let out = std::process::Command::new(&python)
            .arg(&drive)
            .args([key, "cpu,ticker,running,FILE TASK,OUTPUT", "--"])
            .arg(&bin)
            .args(["monitor", "--data-dir", "data"])
            .current_dir(d.path())
            .output()
            .expect("python3 runs the pty driver");
        let screen = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{key}: {}\n{screen}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Drawn on the alternate screen, redrawn, and the terminal given back.
        assert!(screen.contains("\x1b[?1049h"), "{screen}");
        assert!(screen.matches("\x1b[H\x1b[2J").count() >= 2, "{screen}");
        assert!(screen.contains("\x1b[?1049l"), "{screen}");
        let ticker_row = screen
            .lines()
            .rev()
            .find(|l| l.starts_with("ticker"))
            .expect("a ticker row");
        assert!(ticker_row.contains("running"), "{ticker_row}");
    }
    // Without a terminal: one view, then exit.
    let out = sandkit_cli(d.path(), &["monitor", "--addr", &addr], &[]);
    let text = ok_output("monitor without a terminal", &out);
    assert!(text.contains("cpu ") && text.contains("PLUGIN"), "{text}");
    stop_agent(d.path(), agent, guard);
}

/// `sandkit doc plugin` pages a component from the component alone: its measurements with
/// kinds and units, the keys of the default config it carries, and its grants; one without a
/// default config says so. `doc plugins` writes a page each and an index.
#[test]
fn doc_pages_come_from_the_component() {
    let prom = wasm("prom");
    let out = sandkit_cli(
        Path::new("."),
        &["doc", "plugin", prom.to_str().expect("UTF-8")],
        &[],
    );
    let page = ok_output("doc plugin prom", &out);
    for want in [
        "# prom\n",
        "| Language | Rust |",
        "| Interval | 10s by default; 1s to 1h in protection mode |",
        "### `scrape` (metric)",
        "| `duration_seconds` | float | s | time of the scrape |",
        "| `config.urls` | `[\"http://127.0.0.1:9100/metrics\"]` | *set* |",
        "| `config.sample_limit` | `50000` |  | samples per target after the filters (0: no limit) |",
        "- outgoing HTTP to: `127.0.0.1:9100`",
    ] {
        assert!(page.contains(want), "{want:?} not in:\n{page}");
    }
    let ticker = wasm("ticker");
    let out = sandkit_cli(
        Path::new("."),
        &["doc", "plugin", ticker.to_str().expect("UTF-8")],
        &[],
    );
    let page = ok_output("doc plugin ticker", &out);
    assert!(page.contains("carries no default config"), "{page}");
    assert!(page.contains("grants nothing"), "{page}");
    let d = tempfile::tempdir().expect("tempdir");
    for g in ["prom", "nginx", "webhook", "logfmt"] {
        std::fs::copy(wasm(g), d.path().join(format!("{g}.wasm"))).expect("copy");
    }
    let stale = d.path().join("out/gone.md");
    let own = d.path().join("out/notes.md");
    std::fs::create_dir_all(d.path().join("out")).expect("mkdir");
    std::fs::write(
        &stale,
        "# gone\n\n<!-- Generated by `sandkit doc plugin gone.wasm` ...; do not edit. -->\n",
    )
    .expect("write");
    std::fs::write(&own, "# my notes\n").expect("write");
    let out = sandkit_cli(d.path(), &["doc", "plugins", ".", "--out", "out"], &[]);
    ok_output("doc plugins", &out);
    let index = std::fs::read_to_string(d.path().join("out/README.md")).expect("index");
    for want in [
        "## Collectors",
        "[prom](prom.md) | Rust",
        "## Pipelines",
        "[logfmt](logfmt.md) | Python",
        "## Inputs",
        "[webhook](webhook.md)",
    ] {
        assert!(index.contains(want), "{want:?} not in:\n{index}");
    }
    assert!(!stale.exists(), "a page of no component is removed");
    assert!(
        own.exists(),
        "a file the command did not write is left alone"
    );
    assert!(d.path().join("out/nginx.md").exists());
}

/// A running agent checks a sample of each pipeline batch's records against the pipeline's
/// description: a pipeline that declares nothing is counted, one whose records are all
/// declared (nginx on real access lines) is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_records_are_checked_against_the_description_at_run_time() {
    let d = agent_dir(&[("nginx", "nginx"), ("recwriter", "recwriter")]);
    let logs = d.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let access = std::fs::read(repo_root().join("tests/data/pipelines/nginx-access.log"))
        .expect("nginx sample");
    std::fs::write(logs.join("access.log"), access).expect("write");
    std::fs::write(logs.join("app.log"), "i:n=1 t:host=a\ni:n=2\ns:msg=x\n").expect("write");
    let config = format!(
        r#"[output]
kind = "file"
path = "out.lp"
[[files]]
source = "nginx"
paths = ["{0}/access.log"]
pipeline = "nginx"
from_beginning = true
[[files]]
source = "app"
paths = ["{0}/app.log"]
pipeline = "recwriter"
from_beginning = true
"#,
        logs.display()
    );
    let (agent, guard, addr) = agent_with_config(d.path(), &config).await;
    assert!(
        eventually(20, || undeclared(&addr, "recwriter") >= 3.0).await,
        "recwriter's records are counted: {}",
        undeclared(&addr, "recwriter")
    );
    let out = d.path().join("out.lp");
    assert!(
        eventually(20, || std::fs::read_to_string(&out).is_ok_and(|t| t
            .lines()
            .filter(|l| l.starts_with("nginx,"))
            .count()
            >= 5))
        .await,
        "the nginx lines were written"
    );
    assert_eq!(
        undeclared(&addr, "nginx"),
        0.0,
        "nginx declares what it writes"
    );
    let log = stop_agent(d.path(), agent, guard);
    assert!(
        log.contains("runtime.emit point not as described") && log.contains("recwriter"),
        "{log}"
    );
}
