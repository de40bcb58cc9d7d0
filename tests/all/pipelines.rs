//! Pipelines: the bundled parsers (nginx access and error, JSON, grok) against golden outputs
//! (through `sandkit pipeline test`), poison
//! lines isolated by bisection, a hanging pipeline cut by its deadline, disabling after crashing
//! batches, and the whole path through the agent: file task -> pipeline -> output, with a
//! fail-closed pipeline parking its poison line in the dead-letter family.
//!
//! Over 600 lines: one topic, from golden files to the whole path through the agent.

use sandkit_io::pipeline::{Part, Processed};
use sandkit_io::records::{FieldRef, Item, RecordReader};
use sandkit_runtime::{EngineKind, PluginState};
use sandkit_tests::{
    eventually, repo_root, run_agent_with_config, sandkit_bin, terminate, wasm, Harness,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// `sandkit pipeline test <guest> < tests/data/pipelines/<name>.log` must print
/// `<name>.expected` exactly (`UPDATE_GOLDEN=1` rewrites it).
fn golden(guest: &str, name: &str, config: Option<&str>) {
    let dir = repo_root().join("tests/data/pipelines");
    let input = std::fs::File::open(dir.join(format!("{name}.log"))).unwrap();
    let mut cmd = Command::new(sandkit_bin());
    cmd.arg("pipeline").arg("test").arg(wasm(guest));
    let conf_file;
    if let Some(c) = config {
        conf_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(conf_file.path(), c).unwrap();
        cmd.arg("--config").arg(conf_file.path());
    }
    let out = cmd
        .stdin(Stdio::from(input))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected_path = dir.join(format!("{name}.expected"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&expected_path, &stdout).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap();
    for (i, (got, want)) in stdout.lines().zip(expected.lines()).enumerate() {
        assert_eq!(got, want, "{name}: line {} of the output differs", i + 1);
    }
    assert_eq!(
        stdout.lines().count(),
        expected.lines().count(),
        "{name}: output length"
    );
}

#[test]
fn nginx_access_golden() {
    golden("nginx", "nginx-access", None);
}

#[test]
fn nginx_error_golden() {
    golden("nginx_error", "nginx-error", None);
}

#[test]
fn json_golden() {
    golden("json", "json", None);
}

#[test]
fn grok_golden() {
    let config =
        std::fs::read_to_string(repo_root().join("tests/data/pipelines/grok.toml")).unwrap();
    golden("grok", "grok", Some(&config));
}

/// Lines `line i`, with the given ones replaced.
fn batch(n: usize, special: &[(usize, &str)]) -> (String, Vec<u32>) {
    let mut data = String::new();
    let mut ends = Vec::new();
    for i in 0..n {
        match special.iter().find(|(j, _)| *j == i) {
            Some((_, s)) => data.push_str(&format!("{s} {i}")),
            None => data.push_str(&format!("line {i}")),
        }
        ends.push(data.len() as u32);
    }
    (data, ends)
}

/// The `n` field of every record, by input line; and the failed lines with their kind.
fn outcome(p: &Processed, data: &str) -> (BTreeMap<u32, i64>, BTreeMap<u32, String>) {
    let mut parsed = BTreeMap::new();
    let mut failed = BTreeMap::new();
    for part in &p.parts {
        match part {
            Part::Records(c) => {
                let n = (c.lines.end - c.lines.start) as usize;
                let mut r = RecordReader::new(&c.output, &data[c.bytes.clone()], n).unwrap();
                while let Some(rec) = r.next_record() {
                    let (h, items) = rec.unwrap();
                    let line = c.lines.start + h.line;
                    assert!(h.keep_message);
                    let n = items
                        .iter()
                        .find_map(|i| match i {
                            Item::Field("n", FieldRef::Int(n)) => Some(*n),
                            _ => None,
                        })
                        .unwrap_or(-1);
                    assert!(
                        parsed.insert(line, n).is_none(),
                        "line {line} has two records"
                    );
                }
            }
            Part::Failed(f) => {
                for l in f.lines.clone() {
                    assert!(failed.insert(l, f.kind.clone()).is_none());
                }
            }
        }
    }
    (parsed, failed)
}

async fn poison_harness(
    tweak: impl FnOnce(&mut sandkit_runtime::RuntimeConfig),
    conf: Option<&str>,
) -> Harness {
    let h = Harness::with_config(tweak);
    if let Some(c) = conf {
        h.conf("poison", c);
    }
    let file = h.install("poison", "poison");
    h.sup.upsert(&file).await;
    h.wait_state("poison", PluginState::Running, WAIT).await;
    assert!(h.sup.pipelines().get("poison").is_some());
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_line_is_isolated_and_every_other_line_is_parsed() {
    let h = poison_harness(|_| {}, None).await;
    let mut runner = h
        .sup
        .pipelines()
        .runner("poison", tokio::runtime::Handle::current());
    let (data, ends) = batch(1000, &[(437, "POISON")]);
    let p = runner.process_async("test", &data, &ends).await;
    let (parsed, failed) = outcome(&p, &data);
    assert_eq!(
        failed.into_iter().collect::<Vec<_>>(),
        vec![(437, "unreachable".to_string())]
    );
    assert_eq!(parsed.len(), 999);
    for (line, n) in &parsed {
        assert_eq!(i64::from(*line), *n, "line {line} parsed as {n}");
    }
    assert!(!p.fail_closed);
    let st = h.sup.status("poison").unwrap();
    assert_eq!(st.crashes, 1, "one crash per failed batch: {st:#?}");
    assert_eq!(st.state, PluginState::Running);
    // Pipelines run without fuel metering; their CPU is accounted by the thread's clock.
    assert_eq!(st.fuel_used, 0, "{st:#?}");
    assert!(st.cpu_us > 0, "{st:#?}");

    // Two poison lines far apart, and one in the first and last place: all isolated.
    let (data, ends) = batch(
        1024,
        &[
            (0, "POISON"),
            (500, "POISON"),
            (501, "POISON"),
            (1023, "POISON"),
        ],
    );
    let p = runner.process_async("test", &data, &ends).await;
    let (parsed, failed) = outcome(&p, &data);
    assert_eq!(
        failed.keys().copied().collect::<Vec<_>>(),
        [0, 500, 501, 1023]
    );
    assert_eq!(parsed.len(), 1020);

    // The next clean batch runs on a fresh instance, all parsed.
    let (data, ends) = batch(100, &[]);
    let (parsed, failed) = outcome(&runner.process_async("test", &data, &ends).await, &data);
    assert!(failed.is_empty());
    assert_eq!(parsed.len(), 100);
    assert_eq!(h.sup.status("poison").unwrap().state, PluginState::Running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_that_never_returns_is_cut_by_the_deadline_and_the_batch_flows() {
    // Pipelines run without fuel metering: the deadline (wall time) is what stops the loop.
    let h = poison_harness(|_| {}, Some("[limits]\ntimeout = \"200ms\"\n")).await;
    let mut runner = h
        .sup
        .pipelines()
        .runner("poison", tokio::runtime::Handle::current());
    let (data, ends) = batch(64, &[(10, "HANG")]);
    let t = Instant::now();
    let p = runner.process_async("test", &data, &ends).await;
    let took = t.elapsed();
    let (parsed, failed) = outcome(&p, &data);
    assert_eq!(
        failed.into_iter().collect::<Vec<_>>(),
        vec![(10, "deadline".to_string())]
    );
    assert_eq!(parsed.len(), 63);
    // The whole batch, the retry, and one failing half per level (64 lines: 6 levels), 200 ms
    // each, plus instantiations.
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(
        h.sup.status("poison").unwrap().last_crash_kind.as_deref(),
        Some("deadline")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_that_crashes_on_every_batch_is_disabled_and_lines_pass_through() {
    let h = poison_harness(|rc| rc.max_crashes = 3, None).await;
    let mut runner = h
        .sup
        .pipelines()
        .runner("poison", tokio::runtime::Handle::current());
    let all_poison: Vec<(usize, &str)> = (0..8).map(|i| (i, "POISON")).collect();
    let (data, ends) = batch(8, &all_poison);
    for round in 0..3 {
        let p = runner.process_async("test", &data, &ends).await;
        assert_eq!(p.failed_lines(), 8, "round {round}");
    }
    assert_eq!(h.sup.status("poison").unwrap().state, PluginState::Disabled);
    // Disabled: every line comes back failed as `disabled`, at once, never lost.
    let (data, ends) = batch(5, &[]);
    let t = Instant::now();
    let (parsed, failed) = outcome(&runner.process_async("test", &data, &ends).await, &data);
    assert!(t.elapsed() < Duration::from_millis(100));
    assert!(parsed.is_empty());
    assert_eq!(failed.len(), 5);
    assert!(failed.values().all(|k| k == "disabled"));
    // A rare poison line in otherwise clean batches does not disable: clean batches reset the
    // run (checked on a fresh registry entry by replacing the file).
    let file = h.install("poison", "poison");
    std::fs::write(h.dir.path().join("conf.d/poison.toml"), "# reloaded\n").unwrap();
    h.sup.upsert(&file).await;
    h.wait_state("poison", PluginState::Running, WAIT).await;
    for _ in 0..5 {
        let (data, ends) = batch(50, &[(7, "POISON")]);
        assert_eq!(
            runner
                .process_async("test", &data, &ends)
                .await
                .failed_lines(),
            1
        );
        let (data, ends) = batch(50, &[]);
        assert_eq!(
            runner
                .process_async("test", &data, &ends)
                .await
                .failed_lines(),
            0
        );
    }
    assert_eq!(h.sup.status("poison").unwrap().state, PluginState::Running);
}

/// A pipeline that is not loaded fails its batches as `missing`, at once; fail-closed when its
/// conf.d file says `on_error = "park"` (it may have failed to load).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_pipeline_fails_fast_and_parks_when_its_config_says_so() {
    let h = Harness::new();
    h.conf("ghost", "on_error = \"park\"\n");
    let mut ghost = h
        .sup
        .pipelines()
        .runner("ghost", tokio::runtime::Handle::current());
    let (data, ends) = batch(10, &[]);
    let p = ghost.process_async("test", &data, &ends).await;
    assert!(p.fail_closed);
    let (parsed, failed) = outcome(&p, &data);
    assert!(parsed.is_empty());
    assert_eq!(failed.len(), 10);
    assert!(failed.values().all(|k| k == "missing"));
    let mut other = h
        .sup
        .pipelines()
        .runner("other", tokio::runtime::Handle::current());
    assert!(!other.process_async("test", &data, &ends).await.fail_closed);
}

/// A pipeline whose `init` refuses its config fails each batch whole, at once, as
/// `start_error`: no line is to blame, so nothing is bisected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_cannot_init_fails_the_batch_whole_without_bisection() {
    let h = Harness::new();
    h.conf("nginx", "[config]\nbogus = 1\n");
    let file = h.install("nginx", "nginx");
    h.sup.upsert(&file).await;
    h.wait_state("nginx", PluginState::Running, WAIT).await;
    let mut runner = h
        .sup
        .pipelines()
        .runner("nginx", tokio::runtime::Handle::current());
    let (data, ends) = batch(256, &[]);
    let p = runner.process_async("test", &data, &ends).await;
    assert_eq!(p.parts.len(), 1, "{p:?}");
    let Part::Failed(f) = &p.parts[0] else {
        panic!("{p:?}");
    };
    assert_eq!((f.lines.clone(), f.kind.as_str()), (0..256, "start_error"));
    assert!(f.message.contains("bogus"), "{}", f.message);
}

/// The agent binary: two file tasks, one through the nginx pipeline, one through the poison
/// pipeline in fail-closed mode. Every line arrives parsed but the poison one and the one whose
/// two records are not valid points, which are parked (once each) and listed by
/// `sandkit deadletter list` once the agent stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_runs_file_tasks_through_pipelines_and_parks_poison_lines() {
    file_tasks_through_pipelines(1).await;
}

/// The same with each task's pipeline on three workers: every line once, the poison line parked
/// once, and offsets committed to the end (a restart reads nothing again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_tasks_on_workers_lose_and_repeat_nothing() {
    file_tasks_through_pipelines(3).await;
}

/// A task on two workers whose output takes frames (gzip, zstd): each worker compresses its own
/// batches and the output joins the frames of a flush interval in one request body (batches
/// limited by time only here, so that a request holds many frames). The log is written while
/// it is tailed. Every line reaches a DataWay receiver once, whatever the compression.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_compress_their_own_frames_and_nothing_is_lost() {
    const LINES: usize = 30_000;
    let mut log = String::new();
    for i in 0..LINES {
        log.push_str(&format!(
            "10.0.0.{} - - [10/Oct/2024:13:55:36 +0000] \"GET /item/{i} HTTP/1.1\" 200 {} \"-\" \"curl/8.5.0\"\n",
            i % 250,
            i % 9000
        ));
    }
    for compression in ["gzip", "zstd"] {
        let r = sandkit_tests::receiver::start_receiver(0, 200).await;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["plugins", "conf.d", "logs"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        std::fs::copy(wasm("nginx"), d.join("plugins/nginx.wasm")).unwrap();
        // A third at once, the rest in pieces of 100 lines every 5 ms.
        let cut = log.match_indices('\n').nth(LINES / 3).unwrap().0 + 1;
        std::fs::write(d.join("logs/access.log"), &log[..cut]).unwrap();
        std::fs::write(
            d.join("sandkit.toml"),
            format!(
                "data_dir = \"data\"\nplugins_dir = \"plugins\"\nconf_dir = \"conf.d\"\n\
                 [output]\nkind = \"dataway\"\nurls = [\"http://{}\"]\ntoken = \"tkn_w\"\n\
                 compression = \"{compression}\"\nflush_interval = \"300ms\"\n\
                 max_points = 1000000\nmax_bytes = \"64MiB\"\n\
                 [[files]]\nsource = \"nginx\"\npaths = [\"{}/access.log\"]\n\
                 from_beginning = true\npipeline = \"nginx\"\nworkers = 2\n",
                r.addr,
                d.join("logs").display()
            ),
        )
        .unwrap();
        let child = run_agent_with_config(d, "agent.log");
        let (path, rest) = (d.join("logs/access.log"), log[cut..].to_string());
        let writer = std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
            let lines: Vec<&str> = rest.split_inclusive('\n').collect();
            for piece in lines.chunks(100) {
                std::io::Write::write_all(&mut f, piece.concat().as_bytes()).unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        // The request paths (`/item/<n>`) of the lines received, one per line protocol line.
        let items = || -> Vec<usize> {
            r.bodies("/v1/write/logging")
                .lines()
                .filter_map(|l| {
                    let at = l.find("http_url=\"/item/")? + "http_url=\"/item/".len();
                    l[at..].split('"').next()?.parse().ok()
                })
                .collect()
        };
        let done = eventually(30, || items().len() >= LINES).await;
        writer.join().unwrap();
        let status = terminate(child).status;
        let agent_log = std::fs::read_to_string(d.join("agent.log")).unwrap();
        assert!(
            done,
            "{compression}: {} of {LINES} lines; log:\n{agent_log}",
            items().len()
        );
        assert!(status.success(), "agent exit {status}; log:\n{agent_log}");
        let mut got = items();
        got.sort_unstable();
        assert_eq!(
            got,
            (0..LINES).collect::<Vec<_>>(),
            "{compression}: each line once"
        );
        // `sandkit status` shows the last counts of the file task and the output, from the
        // families the agent's metrics registry wrote to metrics.json at its stop.
        let shown = sandkit_tests::sandkit_status(d);
        let row = |table: &str, first: &str| -> Vec<String> {
            let at = shown
                .find(&format!("\n{table}:\n"))
                .unwrap_or_else(|| panic!("{shown}"));
            let mut lines = shown[at..].lines().skip(2);
            let header: Vec<String> = lines
                .next()
                .unwrap()
                .split_whitespace()
                .map(String::from)
                .collect();
            let row = lines
                .find(|l| l.split_whitespace().any(|c| c == first))
                .unwrap_or_else(|| panic!("no {first} in {table}: {shown}"));
            let cells: Vec<String> = row.split_whitespace().map(String::from).collect();
            header
                .into_iter()
                .zip(cells)
                .map(|(h, c)| format!("{h}={c}"))
                .collect()
        };
        let task = row("files", "nginx");
        assert!(
            task.contains(&format!("lines={LINES}")),
            "{task:?}\n{shown}"
        );
        let lane = row("outputs", "dataway");
        assert!(lane.contains(&"category=logging".to_string()), "{lane:?}");
        assert!(
            lane.contains(&format!("points_sent={LINES}")),
            "{lane:?}\n{shown}"
        );
        let got = r.got.lock().unwrap().clone();
        assert!(
            got.iter()
                .all(|g| g.header("content-encoding") == Some(compression)),
            "every body in {compression}"
        );
        let frames: Vec<usize> = got.iter().map(|g| g.frames).collect();
        eprintln!("{compression}: frames per request {frames:?}");
        assert!(
            frames.iter().any(|f| *f > 1),
            "some request joins several workers' frames: {frames:?}"
        );
    }
}

async fn file_tasks_through_pipelines(workers: usize) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["plugins", "conf.d", "logs"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::copy(wasm("nginx"), d.join("plugins/nginx.wasm")).unwrap();
    std::fs::copy(wasm("poison"), d.join("plugins/poison.wasm")).unwrap();
    std::fs::write(d.join("conf.d/poison.toml"), "on_error = \"park\"\n").unwrap();
    let access =
        std::fs::read_to_string(repo_root().join("tests/data/pipelines/nginx-access.log")).unwrap();
    std::fs::write(d.join("logs/access.log"), &access).unwrap();
    let mut app = String::new();
    for i in 0..2000 {
        if i == 1234 {
            app.push_str("this line is POISON 1234\n");
        } else if i == 1500 {
            app.push_str("this line is DUP 1500\n");
        } else {
            app.push_str(&format!("event {i}\n"));
        }
    }
    std::fs::write(d.join("logs/app.log"), &app).unwrap();
    let logs = d.join("logs");
    std::fs::write(
        d.join("sandkit.toml"),
        format!(
            r#"data_dir = "data"
plugins_dir = "plugins"
conf_dir = "conf.d"
[output]
kind = "file"
path = "out.lp"
[[files]]
source = "nginx"
paths = ["{0}/access.log"]
from_beginning = true
pipeline = "nginx"
workers = {1}
[[files]]
source = "app"
paths = ["{0}/app.log"]
from_beginning = true
pipeline = "poison"
pipeline_batch = 300
workers = {1}
"#,
            logs.display(),
            workers
        ),
    )
    .unwrap();
    let child = run_agent_with_config(d, "agent.log");
    let out = d.join("out.lp");
    let lines_in = |prefix: &str| {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with(prefix))
            .count()
    };
    let done = eventually(20, || {
        lines_in("nginx,") == access.lines().count() && lines_in("app,") == 1998
    })
    .await;
    // A clean stop (SIGTERM) releases the state store for `deadletter list`.
    let status = terminate(child).status;
    let agent_log = std::fs::read_to_string(d.join("agent.log")).unwrap();
    assert!(done, "not every line arrived; log:\n{agent_log}");
    assert!(status.success(), "agent exit {status}; log:\n{agent_log}");
    let text = std::fs::read_to_string(&out).unwrap();
    // nginx lines are parsed: the status tag, typed fields, and the time of the log.
    let first = text.lines().find(|l| l.starts_with("nginx,")).unwrap();
    assert!(first.contains("status=OK"), "{first}");
    assert!(first.contains("status_code=200i"), "{first}");
    assert!(first.ends_with(" 1728568536000000000"), "{first}");
    // The unparsable nginx line passes through as its message, untagged.
    assert!(text.contains("message=\"2024/10/10 13:55:36 [error]"));
    // Every app line but the poison one is parsed, once.
    let mut ns: Vec<i64> = text
        .lines()
        .filter(|l| l.starts_with("app,"))
        .map(|l| {
            let f = l.split(' ').nth(1).unwrap();
            let n = f.split(',').find_map(|kv| kv.strip_prefix("n=")).unwrap();
            n.trim_end_matches('i').parse().unwrap()
        })
        .collect();
    ns.sort_unstable();
    let want: Vec<i64> = (0..2000).filter(|i| *i != 1234 && *i != 1500).collect();
    assert_eq!(ns, want);
    // The pipeline's status counts records as well as lines: one a line, two for the DUP line
    // (not valid points, so that line goes on raw), none for the parked poison line.
    let statuses: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("data/status.json")).unwrap())
            .unwrap();
    let poison = statuses
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "poison")
        .unwrap();
    assert_eq!(poison["records"], want.len() + 2, "{poison}");
    assert!(
        !text.contains("POISON"),
        "the poison line is parked, not sent"
    );
    assert!(
        !text.contains("DUP"),
        "the line of invalid records is parked, once"
    );
    // The parked line, with its file and offsets.
    let out = Command::new(sandkit_bin())
        .args(["deadletter", "list", "-c", "sandkit.toml"])
        .current_dir(d)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 2, "{listed}");
    let e = entries
        .iter()
        .find(|e| e["kind"] == "unreachable")
        .expect("the poison line");
    let dup = entries
        .iter()
        .find(|e| e["kind"] == "invalid_record")
        .expect("the line whose records are not points, parked once");
    assert_eq!(dup["line"], "this line is DUP 1500");
    assert_eq!(e["line"], "this line is POISON 1234");
    assert_eq!(e["pipeline"], "poison");
    assert_eq!(e["task"], "app");
    assert_eq!(e["kind"], "unreachable");
    let start = app.find("this line is POISON").unwrap() as u64;
    assert_eq!(e["start"], start);
    assert!(Path::new(e["file"].as_str().unwrap()).ends_with("app.log"));

    // Offsets were committed to the end of both files: a second run sends nothing again.
    let before = std::fs::read_to_string(d.join("out.lp")).unwrap();
    let child = run_agent_with_config(d, "agent2.log");
    let started = eventually(20, || {
        std::fs::read_to_string(d.join("agent2.log"))
            .is_ok_and(|l| l.matches("files.task started").count() == 2)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = terminate(child).status;
    let agent_log = std::fs::read_to_string(d.join("agent2.log")).unwrap();
    assert!(started && status.success(), "{status}; log:\n{agent_log}");
    assert_eq!(
        std::fs::read_to_string(d.join("out.lp")).unwrap().len(),
        before.len(),
        "the second run read lines again; log:\n{agent_log}"
    );
}

#[test]
fn the_engine_is_told_by_the_process_export_before_compiling() {
    for (name, kind) in [
        ("nginx", EngineKind::Pipeline),
        ("grok", EngineKind::Pipeline),
        ("poison", EngineKind::Pipeline),
        ("system", EngineKind::Collector),
        ("noop", EngineKind::Collector),
    ] {
        let bytes = std::fs::read(wasm(name)).unwrap();
        assert_eq!(EngineKind::of_component(&bytes), kind, "{name}");
    }
    // Not a component: left to the compiler to report.
    assert_eq!(
        EngineKind::of_component(b"\0asm garbage"),
        EngineKind::Collector
    );
}

/// `sandkit pipeline test badrecords` with `input` on stdin: its stdout, after checking it
/// exits 0.
fn badrecords_test(input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(sandkit_bin())
        .args(["pipeline", "test"])
        .arg(wasm("badrecords"))
        .args(["--batch", "4"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn pipeline_test_shows_what_becomes_of_lines_with_malformed_or_oversized_output() {
    // The bug: with output malformed after the magic, `pipeline test` printed no lines and
    // exited 1, while the agent passes those lines on raw.
    let out = badrecords_test("one\ntwo\nMALFORMED\nfour\nfive\nsix\n");
    let lines: Vec<&str> = out.lines().collect();
    // The first batch of four is malformed: each of its lines says so; the next batch parses.
    for (i, l) in ["one", "two", "MALFORMED", "four"].iter().enumerate() {
        assert_eq!(lines[2 * i], format!("> {l}"), "{out}");
        assert!(
            lines[2 * i + 1].starts_with("! malformed: ")
                && lines[2 * i + 1].contains("unprocessed"),
            "{out}"
        );
    }
    assert_eq!(lines[8], "> five", "{out}");
    assert!(
        lines[9].starts_with("< ") && lines[9].contains("five"),
        "{out}"
    );
    // Output past the limits (records per line, bytes after expansion) is refused the same way.
    for bad in ["GIANT", "MANY"] {
        let out = badrecords_test(&format!("a\n{bad}\nc\n"));
        assert_eq!(
            out.lines()
                .filter(|l| l.starts_with("! output_limit: "))
                .count(),
            3,
            "{out}"
        );
    }
}

#[test]
fn a_pipeline_cannot_blow_up_the_agents_memory_on_the_http_path() {
    // The bug: records referring to the whole batch text turned a 103 KB write into 1.15 GB
    // of RSS (each record got its own copy of the text).
    let d = sandkit_tests::agent_dir(&[("badrecords", "badrecords")]);
    let child = sandkit_tests::run_agent(d.path(), "agent.log");
    let guard = sandkit_tests::KillOnDrop(child.id());
    let addr_file = d.path().join("data/http.addr");
    assert!(eventually_blocking(30, || addr_file.exists()));
    let addr = std::fs::read_to_string(&addr_file).unwrap();
    // 1,000 lines of 100 bytes, one of them GIANT: 1,000 records of the whole 100 KB text.
    let mut body = String::new();
    for i in 0..1_000 {
        let word = if i == 500 { "GIANT" } else { "line" };
        body.push_str(&format!("logs message=\"{word} {i:0>84}\"\n"));
    }
    let (code, answer) = sandkit_tests::http(
        &addr,
        "POST",
        "/v1/write/logging?pipeline=badrecords",
        &body,
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let peak_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap();
    let out = sandkit_tests::terminate(child);
    std::mem::forget(guard);
    assert!(out.status.success());
    assert_eq!(code, 204, "{answer}");
    assert!(peak_kb < 400 * 1024, "peak RSS {peak_kb} kB");
    // The lines went on unprocessed (raw), none lost.
    let text = std::fs::read_to_string(d.path().join("out.lp")).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("logs,")).count(),
        1_000,
        "{text}"
    );
}

fn eventually_blocking(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
