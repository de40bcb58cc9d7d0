//! Several outputs (`[[outputs]]`) in a real agent: each takes what its route takes; an output
//! that is down keeps its share in its own buffer while the others go on; and a file's offsets
//! move only when every output its lines went to has them (across `kill -9`).

use sandkit_tests::receiver::{start_receiver, Receiver};
use sandkit_tests::{eventually, run_agent_with_config, terminate, KillOnDrop};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;

/// `n` lines `line <i>` in `dir/app.log`, of 100 bytes each (the file is read 256 KiB at a
/// time, a batch each).
fn write_log(dir: &Path, n: usize) {
    let pad = "x".repeat(89);
    let text: String = (0..n).map(|i| format!("line {i:05} {pad}\n")).collect();
    std::fs::write(dir.join("app.log"), text).unwrap();
}

/// How many times each line of the log arrived at `r` (as the `message` of a logging point).
fn seen(r: &Receiver) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for l in r.bodies("/v1/write/logging").lines() {
        if let Some(i) = l.find("line ") {
            *m.entry(l[i..i + 10].to_string()).or_default() += 1;
        }
    }
    m
}

fn agent_dir(outputs: &str) -> tempfile::TempDir {
    let d = sandkit_tests::agent_dir(&[("ticker", "ticker")]);
    std::fs::write(d.path().join("conf.d/ticker.toml"), "interval = \"50ms\"\n").unwrap();
    std::fs::write(
        d.path().join("sandkit.toml"),
        format!(
            "data_dir = \"data\"\n[runtime]\nprotection_mode = false\n\
             [[files]]\nsource = \"app\"\npaths = [\"{}/app.log\"]\nfrom_beginning = true\n{outputs}",
            d.path().display()
        ),
    )
    .unwrap();
    d
}

/// A DataWay output named `name` to `r`, flushing fast.
fn dataway(name: &str, r: &Receiver, extra: &str) -> String {
    format!(
        "[[outputs]]\nname = \"{name}\"\nkind = \"dataway\"\nurls = [\"http://{}?token=t\"]\n\
         flush_interval = \"50ms\"\nmax_points = 200\nbackoff_max = \"500ms\"\n{extra}\n",
        r.addr
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_output_takes_what_its_route_takes() {
    let (metrics, logs) = (start_receiver(0, 200).await, start_receiver(0, 200).await);
    let outputs = dataway("metrics", &metrics, "route = { categories = [\"metric\"] }")
        + &dataway(
            "logs",
            &logs,
            "route = { categories = [\"logging\"], sources = [\"app\"] }",
        )
        + "[[outputs]]\nname = \"ticks\"\nkind = \"file\"\npath = \"ticks.lp\"\n\
          route = { sources = [\"ticker\"], measurements = [\"tick*\"] }\n";
    let d = agent_dir(&outputs);
    write_log(d.path(), 500);
    let agent = run_agent_with_config(d.path(), "agent.log");
    let guard = KillOnDrop(agent.id());
    let ticks = || std::fs::read_to_string(d.path().join("ticks.lp")).unwrap_or_default();
    let ok = eventually(30, || {
        seen(&logs).len() == 500
            && metrics.bodies("/v1/write/metric").contains("ticker")
            && ticks().lines().count() >= 3
    })
    .await;
    let out = terminate(agent);
    drop(guard);
    let log = std::fs::read_to_string(d.path().join("agent.log")).unwrap();
    assert!(ok && out.status.success(), "{log}");
    assert!(seen(&logs).values().all(|n| *n == 1), "each line once");
    assert_eq!(logs.bodies("/v1/write/metric"), "", "logs takes no metric");
    assert_eq!(
        metrics.bodies("/v1/write/logging"),
        "",
        "metrics takes no log"
    );
    assert!(
        ticks().lines().all(|l| l.starts_with("ticker")),
        "{}",
        ticks()
    );
    // Each output's lanes carry its name.
    let m = std::fs::read_to_string(d.path().join("data/metrics.json")).unwrap();
    for name in ["\"metrics\"", "\"logs\""] {
        assert!(m.contains(name), "{m}");
    }
}

/// One output down, with its buffer: the other gets every line meanwhile, the buffer holds the
/// down one's share, and after a restart with it back it gets every line once, and the other
/// none again (the offsets moved: a buffered batch is safe).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_that_is_down_holds_back_nothing_and_loses_nothing() {
    let (up, down) = (start_receiver(0, 200).await, start_receiver(0, 200).await);
    down.down.store(true, Ordering::SeqCst);
    let outputs = dataway("up", &up, "") + &dataway("down", &down, "");
    let d = agent_dir(&outputs);
    write_log(d.path(), 3000);
    let agent = run_agent_with_config(d.path(), "agent.log");
    let guard = KillOnDrop(agent.id());
    let buffer = d.path().join("data/buffer/down");
    let buffered = || {
        std::fs::read_dir(&buffer).map_or(0, |targets| {
            targets
                .flatten()
                .map(|t| {
                    sandkit_io::buffer::read_queue(&t.path().join("logging"))
                        .map_or(0, |q| q.iter().map(|(n, _)| *n as usize).sum())
                })
                .sum()
        })
    };
    let ok = eventually(30, || seen(&up).len() == 3000).await;
    let log = || std::fs::read_to_string(d.path().join("agent.log")).unwrap();
    assert!(ok, "the output that is up got every line: {}", log());
    let ok = eventually(30, || buffered() >= 3000).await;
    assert!(
        ok,
        "the buffer holds the down output's share: {}",
        buffered()
    );
    assert!(seen(&down).is_empty());
    let out = terminate(agent);
    drop(guard);
    assert!(out.status.success(), "{}", log());

    down.down.store(false, Ordering::SeqCst);
    let agent = run_agent_with_config(d.path(), "agent2.log");
    let guard = KillOnDrop(agent.id());
    let ok = eventually(30, || seen(&down).len() == 3000).await;
    let out = terminate(agent);
    drop(guard);
    let log2 = std::fs::read_to_string(d.path().join("agent2.log")).unwrap();
    assert!(ok && out.status.success(), "{log2}");
    assert!(seen(&down).values().all(|n| *n == 1), "once each");
    let up_seen = seen(&up);
    assert!(
        up_seen.len() == 3000 && up_seen.values().all(|n| *n == 1),
        "the up output got nothing twice"
    );
}

/// One output down without a buffer (retrying): the file's offsets wait for it, so the output
/// that is up gets only the first batches; after `kill -9` and a restart with it back, both get
/// every line (the up one a few twice: at least once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_wait_for_every_output_across_kill_9() {
    let (up, down) = (start_receiver(0, 200).await, start_receiver(0, 200).await);
    down.down.store(true, Ordering::SeqCst);
    let outputs =
        dataway("up", &up, "") + &dataway("down", &down, "buffer = false\nmax_retries = 100000");
    let d = agent_dir(&outputs);
    write_log(d.path(), 20_000);
    let agent = run_agent_with_config(d.path(), "agent.log");
    let guard = KillOnDrop(agent.id());
    let log = || std::fs::read_to_string(d.path().join("agent.log")).unwrap();
    let ok = eventually(30, || !seen(&up).is_empty()).await;
    assert!(ok, "{}", log());
    // Time for more to go out if the offsets did not wait.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let before = seen(&up).len();
    assert!(
        before < 20_000,
        "the up output got only what the offset window lets out: {before}"
    );
    drop(guard); // kill -9
    let mut agent = agent;
    agent.wait().unwrap();

    down.down.store(false, Ordering::SeqCst);
    let agent = run_agent_with_config(d.path(), "agent2.log");
    let guard = KillOnDrop(agent.id());
    let ok = eventually(60, || {
        seen(&down).len() == 20_000 && seen(&up).len() == 20_000
    })
    .await;
    let out = terminate(agent);
    drop(guard);
    let log2 = std::fs::read_to_string(d.path().join("agent2.log")).unwrap();
    assert!(ok && out.status.success(), "{log2}");
    let twice = seen(&up).values().filter(|n| **n > 1).count();
    assert!(
        twice <= before,
        "only what went out before the kill came again: {twice} of {before}"
    );
}

/// Batches left in the buffer of an output that is no longer configured (renamed, or a switch
/// from `[[outputs]]` to `[output]`) are not sent, and the agent says where they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buffer_no_output_owns_is_reported_at_start() {
    let r = start_receiver(0, 200).await;
    let d = agent_dir(&dataway("renamed", &r, ""));
    write_log(d.path(), 10);
    let left = d
        .path()
        .join("data/buffer/old/dataway-127.0.0.1_9-00000000/logging");
    std::fs::create_dir_all(&left).unwrap();
    std::fs::write(left.join("00000000000000000000.seg"), vec![0u8; 4096]).unwrap();
    let agent = run_agent_with_config(d.path(), "agent.log");
    let guard = KillOnDrop(agent.id());
    let log = || std::fs::read_to_string(d.path().join("agent.log")).unwrap_or_default();
    let warned = eventually(20, || {
        log().contains("io.buffer holds batches that no configured output sends")
    })
    .await;
    let out = terminate(agent);
    drop(guard);
    assert!(warned && out.status.success(), "{}", log());
    assert!(log().contains("data/buffer/old"), "{}", log());
}
