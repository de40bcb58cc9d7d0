//! File collection end to end: a real `logrotate` (`create` and `copytruncate`) rotating a log
//! while it is tailed, hourly time-pattern files, and offsets that survive a restart of the
//! source. Every line carries a sequence number; the tests count them all.

use sandkit_files::{FileSource, RawFileTask};
use sandkit_io::{spawn_writer, BatchConfig, CaptureOutput, FieldValue, WriterHandle};
use sandkit_state::Store;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `logrotate`, or `None` outside CI when it is not installed (under CI=true: a failure).
fn logrotate() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/sbin/logrotate");
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "logrotate is not installed (make test-deps installs it)"
    );
    eprintln!("skipping: logrotate not installed (run `make test-deps`)");
    None
}

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
        let source = FileSource::start(vec![task(task_text)], store, sink).unwrap();
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

async fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
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
    let Some(lr) = logrotate() else { return };
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
            assert!(wait_until(20, || seqs(&r.out).len() as u64 >= n).await);
        }
        rotate(&lr, d.path(), how);
    }
    append(&log, next, 500);
    next += 500;
    let n = next;
    assert!(
        wait_until(30, || seqs(&r.out).len() as u64 >= n).await,
        "{} of {n} lines arrived",
        seqs(&r.out).len()
    );
    // Three renames were followed to their end, three truncations read from the start.
    let stats = r.source.as_ref().unwrap().stats()[0].1.clone();
    assert!(
        wait_until(10, || stats.rotations.load(Ordering::Relaxed) >= 3).await,
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
    assert!(wait_until(20, || seqs(&r.out).len() >= 1000).await);
    r.stop().await;
    assert_eq!(seqs(&r.out), (100..1100).collect::<Vec<_>>());

    // Written while the agent is down: read from the saved offset, nothing twice. A file that
    // appears while it is down is read from its start.
    append(&log, 1100, 1000);
    append(&logs.join("b.log"), 2100, 10);
    let mut r = Running::start(&conf, &state);
    assert!(wait_until(20, || seqs(&r.out).len() >= 1010).await);
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
    assert!(wait_until(20, || seqs(&r.out).len() >= 901).await);
    // The superseded hours are closed after rotate_wait; the newest stays open.
    let stats = r.source.as_ref().unwrap().stats()[0].1.clone();
    assert!(wait_until(10, || stats.files_open.load(Ordering::Relaxed) == 1).await);
    r.stop().await;
    let got = seqs(&r.out);
    assert_eq!(assert_all_arrived(&got, 901), 0);
    assert!(!got.contains(&10_000));
}
