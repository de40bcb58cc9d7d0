//! Helpers shared by the integration tests: where the built guests and the binary are, and a
//! small harness that runs a supervisor over a temporary plugins directory.
//!
//! Over 600 lines: the helpers every integration test shares, kept in one place on purpose.

pub mod receiver;

use sandkit_io::{spawn_writer, CaptureOutput, WriterHandle};
use sandkit_runtime::{
    PluginState, PluginStatus, RawRuntimeConfig, Runtime, RuntimeConfig, Supervisor,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The fields of Telegraf's `cpu` measurement, which the cpu collector emits.
pub const CPU_FIELDS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];

/// CPUs listed in /proc/stat (the `cpuN` lines), read natively.
///
/// # Panics
/// When /proc/stat cannot be read.
pub fn proc_cpu_count() -> usize {
    std::fs::read_to_string("/proc/stat")
        .expect("/proc/stat")
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count()
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A guest component built by `make guests`.
///
/// # Panics
/// When the guests have not been built.
pub fn wasm(name: &str) -> PathBuf {
    let p = repo_root().join("build/wasm").join(format!("{name}.wasm"));
    assert!(
        p.exists(),
        "{} is missing: run `make guests` first",
        p.display()
    );
    p
}

/// The `sandkit` binary of the same build as this test.
///
/// # Panics
/// When it has not been built (`make host`).
pub fn sandkit_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/release/deps/all-xxxx -> target/release/sandkit
    let p = exe
        .parent()
        .and_then(Path::parent)
        .expect("deps dir")
        .join("sandkit");
    assert!(
        p.exists(),
        "{} is missing: build it with `cargo build --release --workspace --bins` (`make test` does)",
        p.display()
    );
    p
}

/// What `sandkit status -c sandkit.toml` prints in `dir` (an agent's directory).
pub fn sandkit_status(dir: &Path) -> String {
    let out = std::process::Command::new(sandkit_bin())
        .args(["status", "-c", "sandkit.toml"])
        .current_dir(dir)
        .output()
        .expect("sandkit status runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A runtime config for tests: fast backoff, short deadlines, everything under `dir`.
pub fn test_runtime_config(dir: &Path) -> RuntimeConfig {
    let raw: RawRuntimeConfig = RawRuntimeConfig {
        backoff_initial: sandkit_runtime::config::HumanDuration(Duration::from_millis(20)),
        backoff_max: sandkit_runtime::config::HumanDuration(Duration::from_millis(100)),
        jitter: 0.0,
        ..RawRuntimeConfig::default()
    };
    let mut rc = raw
        .validate(
            Path::new("test"),
            dir.join("cache"),
            dir.join("plugins"),
            dir.join("conf.d"),
        )
        .expect("valid test config");
    rc.limits.timeout = Duration::from_millis(1500);
    rc.limits.fuel = 2_000_000_000;
    rc.limits.memory_bytes = 32 << 20;
    rc.limits.max_points = 5_000;
    rc
}

/// A supervisor writing to a capture output, over `dir/{plugins,conf.d,cache}`.
#[derive(Debug)]
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub sup: Arc<Supervisor>,
    pub out: CaptureOutput,
    pub writer: Option<WriterHandle>,
}

impl Harness {
    pub fn new() -> Harness {
        Self::with_config(|_| {})
    }

    pub fn with_config(tweak: impl FnOnce(&mut RuntimeConfig)) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("plugins")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("conf.d")).expect("mkdir");
        let mut rc = test_runtime_config(dir.path());
        tweak(&mut rc);
        let runtime = Arc::new(Runtime::new(rc).expect("runtime"));
        let out = CaptureOutput::new();
        let (sink, writer) = spawn_writer(
            Arc::new(out.clone()),
            16,
            sandkit_io::BatchConfig {
                flush_interval: Duration::from_millis(20),
                ..Default::default()
            },
        );
        let sup = Supervisor::new(runtime, sink, vec![("host".into(), "test".into())]);
        Harness {
            dir,
            sup,
            out,
            writer: Some(writer),
        }
    }

    pub fn plugins(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    /// Write conf.d/<name>.toml.
    pub fn conf(&self, name: &str, text: &str) {
        std::fs::write(
            self.dir.path().join("conf.d").join(format!("{name}.toml")),
            text,
        )
        .expect("write conf");
    }

    /// Copy a built guest into plugins/ as `<as_name>.wasm` (atomically: temp file and rename).
    pub fn install(&self, guest: &str, as_name: &str) -> PathBuf {
        let dst = self.plugins().join(format!("{as_name}.wasm"));
        let tmp = self.plugins().join(format!(".{as_name}.tmp"));
        std::fs::copy(wasm(guest), &tmp).expect("copy guest");
        std::fs::rename(&tmp, &dst).expect("rename guest");
        dst
    }

    /// The host timestamps of the delivered points of `measurement`, in delivery order.
    pub fn times(&self, measurement: &str) -> Vec<i64> {
        self.out
            .points()
            .iter()
            .filter(|p| p.measurement() == measurement)
            .map(|p| p.timestamp_ns())
            .collect()
    }

    /// Wait until `cond` holds for the status of `name`, or panic after `timeout` with the status.
    pub async fn wait_for(
        &self,
        name: &str,
        timeout: Duration,
        cond: impl Fn(&PluginStatus) -> bool,
    ) -> PluginStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = self.sup.status(name) {
                if cond(&s) {
                    return s;
                }
            }
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?} waiting on plugin {name}: {:#?}",
                self.sup.status(name)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn wait_state(
        &self,
        name: &str,
        state: PluginState,
        timeout: Duration,
    ) -> PluginStatus {
        self.wait_for(name, timeout, |s| s.state == state).await
    }

    /// A language's fault guest (`pyfaults`, `jsfaults`, `cfaults`) installed as `name`, every
    /// 100 ms, with `[config] mode = mode` and `extra` config before it.
    pub fn fault(&self, guest: &str, name: &str, mode: &str, extra: &str) {
        self.conf(
            name,
            &format!("interval = \"100ms\"\n{extra}\n[config]\nmode = \"{mode}\"\n"),
        );
        self.install(guest, name);
    }

    /// Wait until the capture output holds `n` points of `measurement` (status counts a point
    /// before the writer delivers it).
    ///
    /// # Panics
    /// After 60 s.
    pub async fn wait_points(&self, measurement: &str, n: usize) {
        let start = Instant::now();
        loop {
            let have = self.times(measurement).len();
            if have >= n {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{have} {measurement} points after 60 s, waiting for {n}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The HTTP check every guest language's fault guest (`pyfaults`, `jsfaults`, `cfaults`: mode
/// `http`, one `http` point per URL with `url`, `status`, `bytes`, `type` or the error `kind`)
/// must pass: an allowlisted target answers (and gets the header `x-test: GUEST`), another is
/// refused without a connection, a response past the cap is `too-large`, a bad URL
/// `invalid-request`; no crash, no error of the call.
///
/// # Panics
/// When the guest does otherwise.
pub async fn guest_http_keeps_to_the_allowlist(guest: &str) {
    use sandkit_io::FieldValue;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let marker = format!("x-test: {guest}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let marker = marker.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let body = if req.starts_with("GET /big") {
                    "x".repeat(100_000)
                } else if req.contains(&marker) {
                    "hello".to_string()
                } else {
                    "no header".to_string()
                };
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    let closed = free_port();
    let urls = [
        format!("http://{addr}/hello"),
        format!("http://127.0.0.1:{closed}/x"),
        format!("http://{addr}/big"),
        "ftp://example/".to_string(),
    ];
    let list: Vec<String> = urls.iter().map(|u| format!("{u:?}")).collect();
    let h = Harness::new();
    // One collect (a long interval): what counts is what each request gives.
    h.conf(
        "web",
        &format!(
            "interval = \"1h\"\n[sandbox]\nhttp = [\"{addr}\"]\nhttp_max_response = \"64KiB\"\n\
             [config]\nmode = \"http\"\nurls = [{}]\n",
            list.join(", ")
        ),
    );
    let f = h.install(guest, "web");
    h.sup.upsert(&f).await;
    h.wait_points("http", urls.len()).await;
    let points = h.out.points();
    let of = |u: &str| {
        points
            .iter()
            .find(|p| p.field("url") == Some(&FieldValue::Text(u.to_string())))
            .unwrap_or_else(|| panic!("{guest}: no point for {u}"))
            .clone()
    };
    let hello = of(&urls[0]);
    assert_eq!(
        hello.field("status"),
        Some(&FieldValue::Int(200)),
        "{guest}: {hello:?}"
    );
    assert_eq!(
        hello.field("bytes"),
        Some(&FieldValue::Int(5)),
        "{guest}: the header went out"
    );
    assert_eq!(
        hello.field("type"),
        Some(&FieldValue::Text("text/plain".into()))
    );
    let kind = |u: &str| match of(u).field("kind") {
        Some(FieldValue::Text(k)) => k.clone(),
        other => panic!("{guest}: {u}: {other:?}"),
    };
    for (url, want) in [
        (&urls[1], "refused"),
        (&urls[2], "too-large"),
        (&urls[3], "invalid-request"),
    ] {
        assert_eq!(kind(url), want, "{guest}: {:?}", of(url));
    }
    let st = h.sup.status("web").expect("its status");
    assert_eq!((st.crashes, st.errors), (0, 0), "{guest}: {st:#?}");
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

/// The bundled examples of one guest language (`guests/LANG`: a `procs` collector, a `logfmt`
/// pipeline and a `csvmetrics` input, each as (directory, plugin name)) in a real agent: the collector reads
/// the real /proc, the pipeline parses a tailed file (Python's logfmt sample), and the input
/// turns a CSV body (Python's csvmetrics sample) posted to the HTTP API into points; all of it
/// lands in the output file within `timeout` (interpreted languages compile for seconds first).
///
/// # Panics
/// When anything is missing or wrong, with the output and the agent's log.
pub fn examples_run_in_the_agent(lang: &str, examples: [(&str, &str); 3], timeout: Duration) {
    let [(procs_dir, procs), (logfmt_dir, logfmt), (_, csvmetrics)] = examples;
    let dir = agent_dir(&[(procs, procs), (logfmt, logfmt), (csvmetrics, csvmetrics)]);
    let d = dir.path();
    let examples = repo_root().join("guests").join(lang);
    let samples = repo_root().join("guests/python");
    let write = |path: PathBuf, text: &str| {
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    };
    let read = |path: PathBuf| {
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let procs_conf = read(examples.join(procs_dir).join("conf.toml"))
        .replace("interval = \"10s\"", "interval = \"1s\"");
    write(d.join(format!("conf.d/{procs}.toml")), &procs_conf);
    write(
        d.join(format!("conf.d/{logfmt}.toml")),
        &read(examples.join(logfmt_dir).join("conf.toml")),
    );
    write(
        d.join(format!("conf.d/{csvmetrics}.toml")),
        "[config]\ntag_columns = [\"host\", \"sensor\"]\n",
    );
    std::fs::create_dir(d.join("logs")).expect("logs");
    write(
        d.join("logs/app.log"),
        &read(samples.join("logfmt/testdata/input.log")),
    );
    write(
        d.join("sandkit.toml"),
        &format!(
            "data_dir = \"data\"\nplugins_dir = \"plugins\"\nconf_dir = \"conf.d\"\n\
             [[files]]\nsource = \"app\"\npaths = [\"{}/logs/app.log\"]\nfrom_beginning = true\n\
             pipeline = \"{logfmt}\"\n",
            d.display()
        ),
    );
    let child = std::process::Command::new(sandkit_bin())
        .args(["run", "-c", "sandkit.toml", "--http-listen", "127.0.0.1:0"])
        .args(["--output-file", "out.lp"])
        .current_dir(d)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(d.join("agent.log")).expect("agent.log"))
        .spawn()
        .expect("the agent starts");
    let _guard = KillOnDrop(child.id());
    let start = Instant::now();
    let out = || std::fs::read_to_string(d.join("out.lp")).unwrap_or_default();
    let log = || std::fs::read_to_string(d.join("agent.log")).unwrap_or_default();
    // The input answers once it is loaded; post the CSV body until it is taken.
    let csv = read(samples.join("csvmetrics/testdata/readings.csv"));
    let path = format!("/v1/input/{csvmetrics}");
    loop {
        assert!(
            start.elapsed() < timeout,
            "the {csvmetrics} input never took the body; log:\n{}",
            log()
        );
        if let Ok(addr) = std::fs::read_to_string(d.join("data/http.addr")) {
            let (code, body) = http(&addr, "POST", &path, &csv);
            if code == 204 || code == 200 {
                break;
            }
            assert!(code == 404 || code == 503, "POST {path}: {code} {body}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let app_lines = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("app,") || l.starts_with("app "))
            .count()
    };
    let records: usize = 17;
    loop {
        let text = out();
        let procs = text.lines().filter(|l| l.starts_with("processes,")).count();
        if app_lines(&text) >= records && procs >= 2 {
            break;
        }
        assert!(
            start.elapsed() < timeout,
            "{} app records and {procs} processes points; out:\n{text}\nlog:\n{}",
            app_lines(&text),
            log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let text = out();
    let first_procs = text
        .lines()
        .find(|l| l.starts_with("processes,"))
        .unwrap_or_default();
    let total: i64 = first_procs
        .split([' ', ','])
        .find_map(|kv| kv.strip_prefix("total="))
        .and_then(|v| v.trim_end_matches('i').parse().ok())
        .unwrap_or(0);
    assert!(total >= 3, "the real /proc has processes: {first_procs}");
    let first = text
        .lines()
        .find(|l| l.starts_with("app,"))
        .unwrap_or_default();
    assert!(
        first.contains("level=info") && first.contains("status=200i"),
        "{first}"
    );
    assert!(
        text.contains("weather,host=web-1,sensor=s1 temp=12.5,humidity=80i,ok=true")
            && text.contains(" 1709294400000000000"),
        "{text}"
    );
    assert_eq!(
        app_lines(&text),
        records,
        "every logfmt line became its records once"
    );
    assert!(!log().contains("crash"), "{}", log());
    let _ = terminate(child);
}

/// `sandkit ARGS` run in `dir` with `env` added (and RUST_BACKTRACE off, for readable errors).
///
/// # Panics
/// When the binary cannot be run.
pub fn sandkit_cli(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(sandkit_bin());
    cmd.args(args).current_dir(dir).env("RUST_BACKTRACE", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the sandkit binary runs")
}

/// The stdout of a command that must have succeeded.
///
/// # Panics
/// When it failed: the panic names `what` and holds its stderr.
pub fn ok_output(what: &str, o: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{what} failed: {err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A record-writer twin in a guest language (`guest`) that fails on one line of a batch of 20
/// (the line says `raise`) costs that line, not its batch: the host bisects the failed batch
/// and passes the line on raw, its reason holding `reason` (the language's error, and where).
pub fn a_failing_line_costs_only_itself(guest: &str, reason: &str) {
    let lines: Vec<String> = (0..20)
        .map(|i| {
            let raise = if i == 13 { " raise" } else { "" };
            format!("@{i} i:n={i}{raise}")
        })
        .collect();
    let wasm = wasm(guest);
    let args = [
        "pipeline",
        "test",
        "--source",
        "t",
        wasm.to_str().expect("a UTF-8 path"),
    ];
    let input = lines.join("\n") + "\n";
    let (out, _) = sandkit_cli_stdin(guest, Path::new("."), &args, input.as_bytes(), &[]);
    let records = out.lines().filter(|l| l.starts_with("< t ")).count();
    assert_eq!(records, 19, "{out}");
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with('!')).collect();
    assert_eq!(failed.len(), 1, "{out}");
    assert!(failed[0].contains(reason), "{out}");
}

/// As [`sandkit_cli`], with `input` on its stdin: its stdout and stderr.
///
/// # Panics
/// When it fails (the panic names `what` and holds its stderr).
pub fn sandkit_cli_stdin(
    what: &str,
    dir: &Path,
    args: &[&str],
    input: &[u8],
    env: &[(&str, &Path)],
) -> (String, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut cmd = std::process::Command::new(sandkit_bin());
    cmd.args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the sandkit binary runs");
    let mut stdin = child.stdin.take().expect("its stdin");
    let input = input.to_vec();
    // Written from a thread: a large input and a large output would block each other.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let o = child.wait_with_output().expect("it ends");
    let _ = writer.join();
    let out = ok_output(what, &o);
    (out, String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Poll `f` every 20 ms for up to `secs` seconds; whether it came true.
pub async fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

/// Kills a child process (by pid) when dropped, so that a failing test leaves no orphan agent.
#[derive(Debug)]
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.0 as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// A child process killed and reaped when dropped.
#[derive(Debug)]
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Debian `prometheus-node-exporter` on a free loopback port with only `collectors` enabled,
/// once it accepts connections; `None` outside CI when it is not installed.
///
/// # Panics
/// When it cannot start or does not listen within 10 s (or under CI=true when missing).
pub fn node_exporter(collectors: &[&str]) -> Option<(ChildGuard, u16)> {
    let exporter = installed(
        "/usr/bin/prometheus-node-exporter",
        "prometheus-node-exporter",
    )?;
    let port = free_port();
    let child = std::process::Command::new(exporter)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--collector.disable-defaults")
        .args(collectors.iter().map(|c| format!("--collector.{c}")))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start prometheus-node-exporter");
    let guard = ChildGuard(child);
    let end = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < end,
            "node exporter not listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some((guard, port))
}

/// One HTTP/1.1 request on its own connection (blocking): the status and the body.
///
/// # Panics
/// When the connection fails or no answer comes within 30 s.
pub fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr.trim()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send the request");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read the answer");
    let code = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (code, body)
}

/// An agent started in `dir` with `config` as its sandkit.toml, on a free HTTP port, once it
/// listens: the agent, its guard and its HTTP address (`host:port`).
///
/// # Panics
/// When the config cannot be written or the agent does not listen within 20 s.
pub async fn agent_with_config(
    dir: &Path,
    config: &str,
) -> (std::process::Child, KillOnDrop, String) {
    std::fs::write(dir.join("sandkit.toml"), config).expect("write sandkit.toml");
    let agent = run_agent_with_config(dir, "agent.log");
    let guard = KillOnDrop(agent.id());
    let addr_file = dir.join("data/http.addr");
    assert!(
        eventually(20, || addr_file.exists()).await,
        "the agent did not listen: {}",
        std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default()
    );
    let addr = std::fs::read_to_string(&addr_file).expect("read http.addr");
    (agent, guard, addr.trim().to_string())
}

/// POST each `(path, body)` to the agent at `addr`, one after the other; each must be
/// answered 200 or 204.
///
/// # Panics
/// On any other answer.
pub async fn post_each(addr: &str, writes: &[(&str, &str)]) {
    for (path, body) in writes {
        let (a, p, b) = (addr.to_string(), path.to_string(), body.to_string());
        let (status, text) = tokio::task::spawn_blocking(move || http(&a, "POST", &p, &b))
            .await
            .expect("the request's thread");
        assert!(status == 200 || status == 204, "{path}: {status} {text}");
    }
}

/// Stop the agent with SIGTERM, check that it exited cleanly, and return its log.
///
/// # Panics
/// When it did not exit cleanly.
pub fn stop_agent(dir: &Path, agent: std::process::Child, guard: KillOnDrop) -> String {
    let stopped = terminate(agent);
    drop(guard);
    let log = std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default();
    assert!(stopped.status.success(), "{log}");
    log
}

/// The Python venv of `make pydeps` (componentize-py, pytest, the OpenTelemetry SDK):
/// `SANDKIT_PY_VENV` (the Makefile's `PY_VENV`), or `~/.cache/sandkit/py`.
pub fn py_venv() -> Option<PathBuf> {
    std::env::var_os("SANDKIT_PY_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sandkit/py")))
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("local address")
        .port()
}

/// The program at `path` from a Debian `package`, or `None` outside CI when it is not
/// installed (the test then skips). Under CI=true a missing program fails the test.
///
/// # Panics
/// Under CI=true when it is missing.
pub fn installed(path: &str, package: &str) -> Option<PathBuf> {
    let p = PathBuf::from(path);
    if p.exists() {
        return Some(p);
    }
    missing(path, &format!("`make test-deps`, from Debian's {package}"))
}

/// Something a test needs (`what`: a tool, a server) is missing: under CI=true that fails the
/// test; elsewhere the test skips (`None`), saying what installs it (`install`).
///
/// # Panics
/// Under CI=true.
pub fn missing<T>(what: &str, install: &str) -> Option<T> {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} is missing (installed by {install})"
    );
    eprintln!("skipping: {what} is missing (installed by {install})");
    None
}

/// An agent directory with `plugins/` and `conf.d/`, holding each `(guest, name)` as
/// `plugins/<name>.wasm`.
///
/// # Panics
/// When the directory or a copy cannot be made.
pub fn agent_dir(plugins: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    for sub in ["plugins", "conf.d"] {
        std::fs::create_dir_all(d.path().join(sub)).expect("mkdir");
    }
    for (guest, name) in plugins {
        std::fs::copy(wasm(guest), d.path().join(format!("plugins/{name}.wasm")))
            .expect("copy a guest");
    }
    d
}

/// `sandkit run` in `dir` (its `plugins/` and `conf.d/`) on a free HTTP port, points to
/// `dir/out.lp`, its log to `dir/<log>`: a file, since a pipe nobody reads until the end would
/// fill and stall the agent's log writer.
///
/// # Panics
/// When the agent cannot be started.
pub fn run_agent(dir: &Path, log: &str) -> std::process::Child {
    spawn_agent(dir, log, &["--output-file", "out.lp"])
}

/// `sandkit run -c sandkit.toml` in `dir` on a free HTTP port, its log to `dir/<log>`.
///
/// # Panics
/// When the agent cannot be started.
pub fn run_agent_with_config(dir: &Path, log: &str) -> std::process::Child {
    spawn_agent(dir, log, &["-c", "sandkit.toml"])
}

fn spawn_agent(dir: &Path, log: &str, args: &[&str]) -> std::process::Child {
    std::process::Command::new(sandkit_bin())
        .args(["run", "--http-listen", "127.0.0.1:0"])
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join(log)).expect("create the agent's log"))
        .spawn()
        .expect("start sandkit run")
}

/// Stops a child with SIGTERM and waits for it: its output (the caller checks the status).
///
/// # Panics
/// When the signal cannot be sent or the wait fails.
pub fn terminate(child: std::process::Child) -> std::process::Output {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("a child's pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("send SIGTERM");
    child.wait_with_output().expect("wait for the child")
}

/// An instance of the plugin in `wasm` under `config`, loaded on `runtime` and initialised.
///
/// # Panics
/// When loading, instantiating or `init` fails.
pub async fn initialised(
    runtime: &Runtime,
    name: &str,
    wasm: &Path,
    config: &sandkit_runtime::PluginConfig,
) -> sandkit_runtime::Instance {
    let loaded = sandkit_runtime::load_plugin_file(runtime, name, wasm, config)
        .await
        .expect("load the plugin");
    let mut inst = sandkit_runtime::Instance::new(
        &loaded,
        config,
        Arc::new(std::sync::Mutex::new(sandkit_runtime::StateStore::default())),
    )
    .await
    .expect("instantiate the plugin");
    inst.init(&config.config_json).await.expect("init");
    inst
}

/// A `/proc/meminfo` value in KiB, read natively.
///
/// # Panics
/// When the file or the key is missing.
pub fn meminfo_kb(key: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a meminfo key")
}
