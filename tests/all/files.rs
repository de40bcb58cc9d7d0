//! File collection end to end: a real `logrotate` (`create` and `copytruncate`) rotating a log
//! while it is tailed, hourly time-pattern files, and offsets that survive a restart of the
//! source. Every line carries a sequence number; the tests count them all.
//!
//! Over 600 lines: one topic, each test a real tail with its own setup.

use sandkit_files::{FileSource, RawFileTask};
use sandkit_io::{spawn_writer, BatchConfig, CaptureOutput, FieldValue, WriterHandle};
use sandkit_state::Store;
use sandkit_tests::{eventually, installed};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

fn task(toml_text: &str) -> sandkit_files::FileTask {
    let raw: RawFileTask = toml::from_str(toml_text).unwrap();
    raw.validate(&[("host".into(), "test".into())]).unwrap()
}

struct Running {
    out: CaptureOutput,
    source: Option<FileSource>,
    writer: Option<WriterHandle>,
}

impl Running {
    fn start(task_text: &str, state: &Path) -> Running {
        let out = CaptureOutput::new();
        let (sink, writer) = spawn_writer(
            Arc::new(out.clone()),
            16,
            BatchConfig {
                flush_interval: Duration::from_millis(20),
                ..Default::default()
            },
        );
        let store = Store::open(state).unwrap();
        let source = FileSource::start(vec![task(task_text)], store, sink, None).unwrap();
        Running {
            out,
            source: Some(source),
            writer: Some(writer),
        }
    }

    async fn stop(&mut self) {
        if let Some(s) = &self.source {
            s.request_stop();
        }
        if let Some(w) = self.writer.take() {
            w.finish().await;
        }
        if let Some(s) = self.source.take() {
            tokio::task::spawn_blocking(move || s.join()).await.unwrap();
        }
    }
}

/// The sequence numbers of the `message` fields `line <n> ...`, in arrival order.
fn seqs(out: &CaptureOutput) -> Vec<u64> {
    out.points()
        .iter()
        .filter_map(|p| match p.field("message") {
            Some(FieldValue::Text(t)) => t
                .strip_prefix("line ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok()),
            _ => None,
        })
        .collect()
}

fn append(path: &Path, from: u64, n: u64) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let mut text = String::new();
    for i in from..from + n {
        text.push_str(&format!("line {i} GET /index.html HTTP/1.1 200 612\n"));
    }
    f.write_all(text.as_bytes()).unwrap();
}

/// Every number below `n` arrived; returns how many arrived more than once.
fn assert_all_arrived(got: &[u64], n: u64) -> usize {
    let mut count: BTreeMap<u64, usize> = BTreeMap::new();
    for s in got {
        *count.entry(*s).or_default() += 1;
    }
    let missing: Vec<u64> = (0..n).filter(|i| !count.contains_key(i)).take(10).collect();
    assert!(
        missing.is_empty(),
        "{} of {n} lines missing, first {missing:?}",
        (0..n).filter(|i| !count.contains_key(i)).count()
    );
    count.values().filter(|c| **c > 1).count()
}

fn rotate(logrotate: &Path, dir: &Path, how: &str) {
    let conf = dir.join("logrotate.conf");
    std::fs::write(
        &conf,
        format!(
            "{}/app.log {{\n  rotate 5\n  {how}\n  missingok\n  nocompress\n}}\n",
            dir.join("logs").display()
        ),
    )
    .unwrap();
    let st = Command::new(logrotate)
        .arg("-f")
        .arg("-s")
        .arg(dir.join("logrotate.state"))
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "logrotate failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logrotate_create_and_copytruncate_during_a_tail_lose_nothing() {
    let Some(lr) = installed("/usr/sbin/logrotate", "logrotate") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let logs = d.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = logs.join("app.log");
    let mut r = Running::start(
        &format!(
            "source = \"app\"\npaths = [\"{}/*.log\"]\nfrom_beginning = true\n\
             scan_interval = \"200ms\"\nrotate_wait = \"300ms\"\n",
            logs.display()
        ),
        &d.path().join("state"),
    );
    let mut next = 0;
    for round in 0..6 {
        for _ in 0..10 {
            append(&log, next, 500);
            next += 500;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // `create` renames app.log and makes a new one; `copytruncate` copies and empties it.
        // The writer (as nginx after USR1) continues in the file now named app.log.
        let how = if round % 2 == 0 {
            "create"
        } else {
            "copytruncate"
        };
        if how == "copytruncate" {
            // Lines written between the copy and the truncation are lost by logrotate itself;
            // wait until the tail has read what is there, as an operator's delaycompress would.
            let n = next;
            assert!(eventually(20, || seqs(&r.out).len() as u64 >= n).await);
        }
        rotate(&lr, d.path(), how);
    }
    append(&log, next, 500);
    next += 500;
    let n = next;
    assert!(
        eventually(30, || seqs(&r.out).len() as u64 >= n).await,
        "{} of {n} lines arrived",
        seqs(&r.out).len()
    );
    // Three renames were followed to their end, three truncations read from the start.
    let stats = r.source.as_ref().unwrap().stats()[0].1.clone();
    assert!(
        eventually(10, || stats.rotations.load(Ordering::Relaxed) >= 3).await,
        "{stats:?}"
    );
    assert_eq!(stats.restarts.load(Ordering::Relaxed), 3, "{stats:?}");
    r.stop().await;
    let got = seqs(&r.out);
    let dups = assert_all_arrived(&got, n);
    assert_eq!(dups, 0, "no restart happened, so no line may come twice");
    // Per file, lines keep their order.
    let points = r.out.points();
    assert!(points.iter().all(|p| p.tag("filename").is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_survive_a_restart_and_a_new_task_starts_at_the_end() {
    let d = tempfile::tempdir().unwrap();
    let logs = d.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = logs.join("a.log");
    // Lines that exist before the task is first seen are skipped (DataKit's default).
    append(&log, 0, 100);
    let conf = format!(
        "source = \"app\"\npaths = [\"{}/*.log\"]\nscan_interval = \"200ms\"\n",
        logs.display()
    );
    let state = d.path().join("state");
    let mut r = Running::start(&conf, &state);
    tokio::time::sleep(Duration::from_millis(500)).await;
    append(&log, 100, 1000);
    assert!(eventually(20, || seqs(&r.out).len() >= 1000).await);
    r.stop().await;
    assert_eq!(seqs(&r.out), (100..1100).collect::<Vec<_>>());

    // Written while the agent is down: read from the saved offset, nothing twice. A file that
    // appears while it is down is read from its start.
    append(&log, 1100, 1000);
    append(&logs.join("b.log"), 2100, 10);
    let mut r = Running::start(&conf, &state);
    assert!(eventually(20, || seqs(&r.out).len() >= 1010).await);
    r.stop().await;
    let mut got = seqs(&r.out);
    got.sort_unstable();
    assert_eq!(got, (1100..2110).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hourly_time_pattern_files_are_followed_and_finished() {
    let d = tempfile::tempdir().unwrap();
    let logs = d.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut r = Running::start(
        &format!(
            "source = \"app\"\npaths = [\"{}/YYYYMMDDhh.log_[0-9]+\"]\nfrom_beginning = true\n\
             scan_interval = \"200ms\"\nrotate_wait = \"300ms\"\n",
            logs.display()
        ),
        &d.path().join("state"),
    );
    // Hour 09, then 10 appears while 09 still gets a last line, then 11. A file that does not
    // match (no `_N` tail) is left alone.
    append(&logs.join("2026112209.log_1"), 0, 300);
    tokio::time::sleep(Duration::from_millis(300)).await;
    append(&logs.join("2026112210.log_1"), 300, 300);
    append(&logs.join("2026112209.log_1"), 600, 1);
    append(&logs.join("20261122.log_x"), 10_000, 5);
    tokio::time::sleep(Duration::from_millis(300)).await;
    append(&logs.join("2026112211.log_2"), 601, 300);
    assert!(eventually(20, || seqs(&r.out).len() >= 901).await);
    // The superseded hours are closed after rotate_wait; the newest stays open.
    let stats = r.source.as_ref().unwrap().stats()[0].1.clone();
    assert!(eventually(10, || stats.files_open.load(Ordering::Relaxed) == 1).await);
    // Everything was read: nothing is left behind in the open file.
    assert!(eventually(10, || stats.lag_bytes.load(Ordering::Relaxed) == 0).await);
    r.stop().await;
    let got = seqs(&r.out);
    assert_eq!(assert_all_arrived(&got, 901), 0);
    assert!(!got.contains(&10_000));
}

/// The `line <n> ` sequence numbers in line-protocol text (one point per line).
fn seqs_in_lp(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| {
            let at = l.find("message=\"line ")? + "message=\"line ".len();
            l[at..].split(' ').next()?.parse().ok()
        })
        .collect()
}

/// An agent directory whose sandkit.toml tails `logs/*.log` to the receiver at `addr` (via the
/// disk buffer), and a thread that writes `lines` lines to `logs/app.log`, `chunk` lines every
/// 20 ms, while the test stops and starts the agent.
fn tail_agent_dir(
    addr: &std::net::SocketAddr,
    lines: u64,
    chunk: u64,
) -> (tempfile::TempDir, std::thread::JoinHandle<()>) {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    std::fs::create_dir_all(dir.join("conf.d")).unwrap();
    std::fs::write(
        dir.join("sandkit.toml"),
        format!(
            "[output]\nkind = \"dataway\"\nurls = [\"http://{addr}\"]\ntoken = \"tkn_tail\"\n\
             flush_interval = \"50ms\"\nbackoff_max = \"500ms\"\nbuffer_fsync = false\n\
             [[files]]\nsource = \"app\"\npaths = [\"{}/*.log\"]\nfrom_beginning = true\n\
             scan_interval = \"200ms\"\n",
            logs.display()
        ),
    )
    .unwrap();
    let log = logs.join("app.log");
    let writer = std::thread::spawn(move || {
        let mut i = 0;
        while i < lines {
            append(&log, i, chunk);
            i += chunk;
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    (d, writer)
}

fn start_agent(dir: &Path) -> (std::process::Child, sandkit_tests::KillOnDrop) {
    let child = Command::new(sandkit_tests::sandkit_bin())
        .args(["run", "-c", "sandkit.toml", "--http-listen", "127.0.0.1:0"])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let guard = sandkit_tests::KillOnDrop(child.id());
    (child, guard)
}

/// The bound on lines sent twice after one `kill -9`: one window of the file (its batches in
/// flight, each at most one read chunk) plus the batch the output buffer was sending.
fn dup_bound_per_kill(min_line_bytes: u64) -> u64 {
    (sandkit_files::source::MAX_IN_FLIGHT as u64 * (256 << 10)) / min_line_bytes + 1000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loop_during_a_tail_with_the_receiver_flapping_loses_no_line() {
    const LINES: u64 = 1_000_000;
    let r = sandkit_tests::receiver::start_receiver(0, 200).await;
    let (d, writer) = tail_agent_dir(&r.addr, LINES, 20_000);
    let dir = d.path().to_path_buf();
    let mut kills = 0u64;
    for round in 0..8u64 {
        let (mut agent, guard) = start_agent(&dir);
        r.down
            .store(round % 3 == 1, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(400 + 150 * (round % 4))).await;
        agent.kill().unwrap(); // SIGKILL
        let _ = agent.wait();
        drop(guard);
        kills += 1;
    }
    writer.join().unwrap();
    r.down.store(false, std::sync::atomic::Ordering::SeqCst);
    let (agent, guard) = start_agent(&dir);
    let got = || seqs_in_lp(&r.bodies("/v1/write/logging"));
    let mut distinct = 0;
    for _ in 0..1200 {
        let mut g = got();
        g.sort_unstable();
        g.dedup();
        distinct = g.len() as u64;
        if distinct >= LINES {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(agent.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let _ = tokio::task::spawn_blocking(move || agent.wait_with_output())
        .await
        .unwrap();
    drop(guard);
    // The last run's counters are in metrics.json (what `sandkit status` shows).
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("data/metrics.json")).unwrap())
            .unwrap();
    let lines = metrics["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "sandkit_files_lines_total")
        .unwrap_or_else(|| panic!("{metrics}"));
    assert_eq!(lines["samples"][0]["labels"]["task"], "app", "{metrics}");
    let all = got();
    let dups = assert_all_arrived(&all, LINES) as u64;
    let extra = all.len() as u64 - distinct;
    let bound = kills * dup_bound_per_kill(40);
    eprintln!(
        "kill -9 loop: {LINES} lines, {kills} kills, {} received, {extra} duplicates \
         ({dups} lines more than once), bound {bound}",
        all.len()
    );
    assert!(extra <= bound, "{extra} duplicates, more than {bound}");
}

/// nginx's master process, stopped with SIGTERM (which stops its workers too: SIGKILL would
/// orphan them, holding the test's stdout open) and reaped when dropped.
struct Reaped(Option<std::process::Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            if let Some(pid) = rustix::process::Pid::from_raw(c.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            let _ = c.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_access_log_lines_delivered_equal_requests_served() {
    const REQUESTS: usize = 3000;
    let Some(bin) = installed("/usr/sbin/nginx", "nginx") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let prefix = d.path().join("nginx");
    let logs = prefix.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = prefix.display();
    std::fs::write(
        prefix.join("nginx.conf"),
        format!(
            "worker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log {p}/logs/access.log combined;\n\
               client_body_temp_path {p}/tmp_body;\n  proxy_temp_path {p}/tmp_proxy;\n\
               fastcgi_temp_path {p}/tmp_fcgi;\n  uwsgi_temp_path {p}/tmp_uwsgi;\n\
               scgi_temp_path {p}/tmp_scgi;\n\
               server {{\n    listen 127.0.0.1:{port};\n\
                 location / {{ return 200 \"ok\\n\"; }}\n  }}\n}}\n"
        ),
    )
    .unwrap();
    let server = Command::new(&bin)
        .arg("-p")
        .arg(&prefix)
        .arg("-c")
        .arg(prefix.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Reaped(Some(server));
    let up = eventually(10, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    if !up {
        let child = server.0.take().unwrap();
        let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let out = child.wait_with_output().unwrap();
        panic!(
            "nginx did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The tail starts before the burst, on an access log nginx has just created.
    let mut r = Running::start(
        &format!(
            "source = \"nginx\"\npaths = [\"{}/access.log\"]\nscan_interval = \"200ms\"\n",
            logs.display()
        ),
        &d.path().join("state"),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..16 {
        let client = client.clone();
        let served = served.clone();
        tasks.push(tokio::spawn(async move {
            for i in (w..REQUESTS).step_by(16) {
                let uri: hyper::Uri = format!("http://127.0.0.1:{port}/burst/{i}")
                    .parse()
                    .unwrap();
                if let Ok(resp) = client.get(uri).await {
                    if resp.status() == 200 {
                        served.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let served = served.load(Ordering::SeqCst);
    assert_eq!(served, REQUESTS, "nginx answered every request");
    let burst = |out: &CaptureOutput| {
        out.points()
            .iter()
            .filter(|p| {
                matches!(p.field("message"), Some(FieldValue::Text(t)) if t.contains("GET /burst/"))
            })
            .count()
    };
    assert!(
        eventually(30, || burst(&r.out) >= served).await,
        "{} of {served} access log lines delivered",
        burst(&r.out)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    r.stop().await;
    drop(server);
    assert_eq!(
        burst(&r.out),
        served,
        "lines delivered equal requests served"
    );
    let p = &r.out.points()[0];
    assert_eq!(p.measurement(), "nginx");
    assert_eq!(p.tag("filename"), Some("access.log"));
}

/// Regression (review of issue 4): lines written just before a rename, by a writer that then
/// moves on to a new file of the same name, were lost when the idle file had been closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_written_just_before_a_rename_are_read() {
    let d = tempfile::tempdir().unwrap();
    let logs = d.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = logs.join("app.log");
    let mut r = Running::start(
        &format!(
            "source = \"app\"\npaths = [\"{}/app.log\"]\nfrom_beginning = true\n\
             scan_interval = \"10s\"\nrotate_wait = \"300ms\"\n",
            logs.display()
        ),
        &d.path().join("state"),
    );
    append(&log, 0, 100);
    assert!(eventually(10, || seqs(&r.out).len() >= 100).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for round in 0..5u64 {
        // Written, renamed away at once (out of the rule), and a new file in its place.
        append(&log, 100 + round * 200, 200);
        std::fs::rename(&log, logs.join(format!("app.log.{round}"))).unwrap();
        append(&log, 1100 + round * 10, 10);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let n = 1150;
    assert!(
        eventually(20, || seqs(&r.out).len() >= n).await,
        "{} of {n} lines",
        seqs(&r.out).len()
    );
    r.stop().await;
    let got = seqs(&r.out);
    assert_eq!(assert_all_arrived(&got, n as u64), 0);
}

/// SIGTERM while the log is being written: each stop flushes the batches and commits the offsets
/// before exiting, so across five stop/start rounds no line is lost and none is sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_busy_tail_loses_nothing_and_repeats_nothing() {
    const LINES: u64 = 300_000;
    let r = sandkit_tests::receiver::start_receiver(0, 200).await;
    // About 100k lines/s, for as long as the five rounds take.
    let (d, writer) = tail_agent_dir(&r.addr, LINES, 2_000);
    let dir = d.path().to_path_buf();
    let term = |agent: std::process::Child| async move {
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(agent.id() as i32).unwrap(),
            rustix::process::Signal::TERM,
        )
        .unwrap();
        let started = std::time::Instant::now();
        let out = tokio::task::spawn_blocking(move || agent.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        assert!(out.status.success(), "exit {:?}", out.status);
        started.elapsed()
    };
    let mut stops = Vec::new();
    let addr_file = dir.join("data/http.addr");
    for round in 0..5u64 {
        let _ = std::fs::remove_file(&addr_file);
        let (agent, guard) = start_agent(&dir);
        // Stopped once it runs (http.addr is written at the end of the start), mid-tail.
        assert!(
            sandkit_tests::eventually(20, || addr_file.exists()).await,
            "the agent did not start"
        );
        tokio::time::sleep(Duration::from_millis(300 + 200 * (round % 3))).await;
        stops.push(term(agent).await);
        drop(guard);
    }
    writer.join().unwrap();
    let (agent, guard) = start_agent(&dir);
    let got = || seqs_in_lp(&r.bodies("/v1/write/logging"));
    for _ in 0..600 {
        if got().len() as u64 >= LINES {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stops.push(term(agent).await);
    drop(guard);
    let all = got();
    let dups = assert_all_arrived(&all, LINES);
    eprintln!(
        "SIGTERM loop: {LINES} lines, {} stops (slowest {:?}), {} received, {dups} sent twice",
        stops.len(),
        stops.iter().max().unwrap(),
        all.len()
    );
    assert_eq!(dups, 0, "a graceful stop commits what it sent");
    assert_eq!(all.len() as u64, LINES);
    assert!(
        stops.iter().all(|d| *d < Duration::from_secs(15)),
        "a stop took too long: {stops:?}"
    );
}

/// What is not configured is not loaded: an agent without file tasks never maps RocksDB (nor
/// libstdc++, which only RocksDB needs); one with a file task loads it when it opens the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocksdb_is_loaded_only_when_a_file_task_opens_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("plugins")).unwrap();
    std::fs::write(d.join("app.log"), "one\ntwo\n").unwrap();
    let start = |files: bool| {
        let mut cfg = String::from(
            "data_dir = \"data\"\nplugins_dir = \"plugins\"\nconf_dir = \"conf.d\"\n\
             [output]\nkind = \"file\"\npath = \"out.lp\"\nflush_interval = \"100ms\"\n",
        );
        // (The short flush: the two lines go out at once instead of after 10 s, which on a
        // loaded machine left too little of the 20 s below for the agent's start.)
        if files {
            cfg.push_str(&format!(
                "[[files]]\nsource = \"app\"\npaths = [\"{}\"]\nfrom_beginning = true\n",
                d.join("app.log").display()
            ));
        }
        std::fs::write(d.join("sandkit.toml"), cfg).unwrap();
        let _ = std::fs::remove_file(d.join("out.lp"));
        sandkit_tests::run_agent_with_config(d, "agent.log")
    };
    for files in [false, true] {
        let child = start(files);
        let pid = child.id();
        // Started: the status file is written once the agent runs (and, with a task, the
        // lines are out).
        let ready = eventually(20, || {
            d.join("data/status.json").exists()
                && (!files
                    || std::fs::read_to_string(d.join("out.lp"))
                        .is_ok_and(|t| t.lines().count() == 2))
        })
        .await;
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        let status = sandkit_tests::terminate(child).status;
        let log = std::fs::read_to_string(d.join("agent.log")).unwrap();
        assert!(
            ready && status.success(),
            "files={files}: {status}; log:\n{log}"
        );
        let has = |lib: &str| maps.lines().any(|l| l.contains(lib));
        assert_eq!(has(sandkit_state::LIBRARY), files, "files={files}:\n{maps}");
        assert_eq!(has("libstdc++"), files, "files={files}:\n{maps}");
        let _ = std::fs::remove_file(d.join("data/status.json"));
    }
}
