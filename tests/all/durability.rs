//! Nothing acknowledged is lost across `kill -9`: the agent runs with its DataWay down, is
//! killed while batches sit in the durable buffer, and after a restart with the DataWay back,
//! every batch that was in the buffer at the kill arrives, in order, before anything newer.

use sandkit_tests::receiver::serve;
use sandkit_tests::KillOnDrop;
use sandkit_tests::{sandkit_bin, wasm};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn start_agent(dir: &Path) -> (Child, KillOnDrop) {
    let child = Command::new(sandkit_bin())
        .args(["run", "-c", "sandkit.toml", "--http-listen", "127.0.0.1:0"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child.id());
    (child, guard)
}

/// The metric queue of the one DataWay target under `data/buffer`.
fn metric_queue(dir: &Path) -> Option<PathBuf> {
    let targets = std::fs::read_dir(dir.join("data/buffer")).ok()?;
    let t = targets.flatten().next()?;
    Some(t.path().join("metric"))
}

/// The line-protocol lines of every batch in the queue, oldest first.
fn queued_lines(queue: &Path) -> Vec<String> {
    let Ok(records) = sandkit_io::buffer::read_queue(queue) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for (points, body) in records {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text.lines().count(), points as usize);
        lines.extend(text.lines().map(str::to_string));
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_an_outage_loses_nothing_that_was_buffered() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    std::fs::create_dir_all(dir.join("conf.d")).unwrap();
    std::fs::copy(wasm("ticker"), dir.join("plugins/ticker.wasm")).unwrap();
    std::fs::write(dir.join("conf.d/ticker.toml"), "interval = \"10ms\"\n").unwrap();
    // The DataWay is down: nothing listens on this port yet.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    std::fs::write(
        dir.join("sandkit.toml"),
        format!(
            "[output]\nkind = \"dataway\"\nurls = [\"http://{addr}\"]\ntoken = \"tkn_kill\"\n\
             flush_interval = \"50ms\"\nmax_points = 10\nbackoff_max = \"500ms\"\n\
             [runtime]\nprotection_mode = false\n"
        ),
    )
    .unwrap();

    let (mut agent, guard) = start_agent(dir);
    let start = Instant::now();
    loop {
        let n = metric_queue(dir).map_or(0, |q| queued_lines(&q).len());
        if n >= 100 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the agent buffered only {n} points in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    agent.kill().unwrap(); // SIGKILL: no flush, no clean shutdown.
    let _ = agent.wait();
    drop(guard);
    let queue = metric_queue(dir).unwrap();
    let at_kill = queued_lines(&queue);
    assert!(at_kill.len() >= 100);
    assert!(
        at_kill.iter().all(|l| l.starts_with("ticker,")),
        "{at_kill:?}"
    );

    let r = serve(tokio::net::TcpListener::bind(addr).await.unwrap(), 0, 200);
    let (agent, guard) = start_agent(dir);
    let start = Instant::now();
    let got = loop {
        let got: Vec<String> = r
            .bodies("/v1/write/metric")
            .lines()
            .map(str::to_string)
            .collect();
        if got.len() > at_kill.len() + 20 {
            break got;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "only {} of {} buffered points arrived",
            got.len(),
            at_kill.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Everything buffered at the kill arrived first, in order; newer points follow.
    assert_eq!(got[..at_kill.len()], at_kill[..]);
    let queries: Vec<String> = r
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|g| g.query.clone())
        .collect();
    assert!(queries.iter().all(|q| q == "token=tkn_kill"));

    rustix::process::kill_process(
        rustix::process::Pid::from_raw(agent.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || agent.wait_with_output().unwrap())
        .await
        .unwrap();
    drop(guard);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("replaying batches left by the last run"),
        "{log}"
    );
    assert!(
        !log.contains("tkn_kill"),
        "the token never appears in the log"
    );
}
