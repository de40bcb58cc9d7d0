//! A bounded load test of the agent's HTTP write route: wrk (Debian) POSTs 50-point bodies to
//! `sandkit run` for 30 s over 16 connections. No request may fail, the agent's peak RSS stays
//! bounded, and every acknowledged point is in the output, once.

use sandkit_tests::{http, installed, sandkit_bin, KillOnDrop};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const POINTS: usize = 50;
const SECONDS: u32 = 30;

fn hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn thirty_seconds_of_writes_lose_nothing_and_memory_stays_bounded() {
    let Some(wrk) = installed("/usr/bin/wrk", "wrk") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    std::fs::write(
        dir.join("sandkit.toml"),
        "data_dir = \"data\"\n[output]\nkind = \"file\"\npath = \"out.lp\"\n[log]\nlevel = \"warn\"\n",
    )
    .unwrap();
    let child = Command::new(sandkit_bin())
        .args(["run", "-c", "sandkit.toml", "--http-listen", "127.0.0.1:0"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let guard = KillOnDrop(pid);
    let start = Instant::now();
    let addr = loop {
        if let Ok(a) = std::fs::read_to_string(dir.join("data/http.addr")) {
            if !a.is_empty() {
                break a.trim().to_string();
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the agent did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Every line unique and short (the output file holds some 9M of them): "load,t=<thread>
    // s=<n>i <n>", n counted per wrk thread; no global tags.
    let script = dir.join("post.lua");
    std::fs::write(
        &script,
        format!(
            r#"
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"
request = function()
  local lines = {{}}
  for i = 1, {POINTS} do
    counter = counter + 1
    lines[i] = string.format("load,t=%d s=%di %d", tid, counter, counter)
  end
  return wrk.format(nil, nil, nil, table.concat(lines, "\n"))
end
"#
        ),
    )
    .unwrap();
    let out = Command::new(wrk)
        .args(["-t2", "-c16", &format!("-d{SECONDS}s"), "-s"])
        .arg(&script)
        .arg(format!(
            "http://{addr}/v1/write/metric?ignore_global_tags=true"
        ))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!report.contains("Non-2xx"), "{report}");
    assert!(!report.contains("Socket errors"), "{report}");
    let hwm = hwm_kib(pid);
    let (_, metrics) = http(&addr, "GET", "/metrics", "");
    let acked: u64 = metrics
        .lines()
        .find(|l| {
            l.starts_with(
                "sandkit_http_requests_total{route=\"/v1/write/{category}\",code=\"204\"}",
            )
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0);
    assert!(
        metrics
            .lines()
            .filter(|l| l.starts_with("sandkit_http_requests_total{route=\"/v1/write/{category}\""))
            .all(|l| l.contains("code=\"204\"")),
        "{metrics}"
    );
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = child.wait_with_output().unwrap().status;
    std::mem::forget(guard);
    assert!(status.success(), "exit {status:?}");
    let text = std::fs::read_to_string(dir.join("out.lp")).unwrap();
    let load: Vec<&str> = text.lines().filter(|l| l.starts_with("load,")).collect();
    let lines = load.len() as u64;
    let distinct = load.iter().collect::<std::collections::HashSet<_>>().len() as u64;
    eprintln!(
        "load: {acked} acknowledged requests ({} points) in {SECONDS} s, {lines} lines written, peak RSS {} MiB\n{report}",
        acked * POINTS as u64,
        hwm / 1024
    );
    assert!(acked > 100, "{report}");
    // Every acknowledged point is there; beyond them, at most the requests in flight when wrk
    // stopped (16 connections), whose clients left before their answer.
    let want = acked * POINTS as u64;
    assert!(
        lines >= want && lines <= want + 16 * POINTS as u64,
        "{lines} lines for {want} acknowledged points"
    );
    assert_eq!(distinct, lines, "no point twice");
    assert!(hwm < 150 << 10, "peak RSS {} MiB", hwm / 1024);
}
