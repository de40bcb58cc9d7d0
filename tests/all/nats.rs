//! The NATS JetStream output against Debian's nats-server with JetStream on: a file tailed into
//! a stream loses nothing across a restart of nats-server under the running agent and a
//! `kill -9` of the agent (the stream's acknowledgements gate the file's offsets). The test
//! reads the stream back through JetStream's own API.

use sandkit_tests::{
    agent_with_config, eventually, free_port, post_each, run_agent_with_config, stop_agent,
    terminate, ChildGuard, KillOnDrop,
};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// nats-server with JetStream, its store in `dir`, on `port`, once it accepts connections.
fn start_nats(bin: &Path, dir: &Path, port: u16) -> ChildGuard {
    let child = Command::new(bin)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = ChildGuard(child);
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return guard;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nats-server did not listen on {port}");
}

/// A minimal NATS client: requests with a reply inbox, one at a time.
struct Client {
    w: TcpStream,
    r: BufReader<TcpStream>,
    n: u64,
}

impl Client {
    fn connect(port: u16) -> Option<Client> {
        let w = TcpStream::connect(("127.0.0.1", port)).ok()?;
        w.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut c = Client {
            r: BufReader::new(w.try_clone().ok()?),
            w,
            n: 0,
        };
        c.line()?; // INFO
        c.w.write_all(
            b"CONNECT {\"verbose\":false,\"headers\":true}\r\nPING\r\nSUB _INBOX.t.* 1\r\n",
        )
        .ok()?;
        (c.line()? == "PONG").then_some(c)
    }

    fn line(&mut self) -> Option<String> {
        let mut l = String::new();
        self.r.read_line(&mut l).ok()?;
        Some(l.trim_end().to_string())
    }

    fn request(&mut self, subject: &str, body: &str) -> Option<serde_json::Value> {
        self.n += 1;
        let reply = format!("_INBOX.t.{}", self.n);
        write!(self.w, "PUB {subject} {reply} {}\r\n{body}\r\n", body.len()).ok()?;
        loop {
            let l = self.line()?;
            let parts: Vec<&str> = l.split_whitespace().collect();
            let (to, n) = match parts.as_slice() {
                ["MSG", to, _, n] | ["MSG", to, _, _, n] => (to.to_string(), n.parse().ok()?),
                _ => continue,
            };
            let mut b = vec![0; n + 2];
            self.r.read_exact(&mut b).ok()?;
            if to == reply {
                return serde_json::from_slice(&b[..n]).ok();
            }
        }
    }
}

fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = s.bytes().filter(|c| *c != b'=').map(val).collect();
    digits
        .chunks(4)
        .flat_map(|c| {
            let v = c
                .iter()
                .enumerate()
                .fold(0u32, |a, (i, d)| a | u32::from(*d) << (18 - 6 * i));
            let bytes = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
            bytes.into_iter().take(c.len().saturating_sub(1))
        })
        .collect()
}

/// Every message in the stream: (subject, headers, data).
fn stream_messages(port: u16) -> Vec<(String, String, Vec<u8>)> {
    let mut out = Vec::new();
    let Some(mut c) = Client::connect(port) else {
        return out;
    };
    let Some(info) = c.request("$JS.API.STREAM.INFO.SANDKIT", "") else {
        return out;
    };
    let last = info["state"]["last_seq"].as_u64().unwrap_or(0);
    for seq in 1..=last {
        if let Some(m) = c.request(
            "$JS.API.STREAM.MSG.GET.SANDKIT",
            &format!("{{\"seq\":{seq}}}"),
        ) {
            let m = &m["message"];
            out.push((
                m["subject"].as_str().unwrap_or("").to_string(),
                String::from_utf8_lossy(&base64(m["hdrs"].as_str().unwrap_or(""))).into_owned(),
                base64(m["data"].as_str().unwrap_or("")),
            ));
        }
    }
    out
}

/// How many times each log line is in the stream.
fn stream_lines(port: u16) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for (_, _, data) in stream_messages(port) {
        for l in String::from_utf8_lossy(&data).lines() {
            if let Some(i) = l.find("line ") {
                *seen.entry(l[i..i + 10].to_string()).or_default() += 1;
            }
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_tail_through_jetstream_loses_nothing_across_restarts_and_kill_9() {
    let Some(bin) = sandkit_tests::installed("/usr/sbin/nats-server", "nats-server") else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut nats = start_nats(&bin, store.path(), port);
    let d = sandkit_tests::agent_dir(&[]);
    // The log grows for about four seconds: the restarts happen while lines are coming.
    let log_file = d.path().join("app.log");
    std::fs::write(&log_file, "").unwrap();
    let writer = std::thread::spawn(move || {
        let pad = "x".repeat(89);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(log_file)
            .unwrap();
        for chunk in 0..40 {
            let text: String = (chunk * 500..(chunk + 1) * 500)
                .map(|i| format!("line {i:05} {pad}\n"))
                .collect();
            f.write_all(text.as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    std::fs::write(
        d.path().join("sandkit.toml"),
        format!(
            "data_dir = \"data\"\n[[files]]\nsource = \"app\"\npaths = [\"{}/app.log\"]\n\
             from_beginning = true\n\
             [[outputs]]\nname = \"bus\"\nkind = \"nats\"\nurl = \"nats://127.0.0.1:{port}\"\n\
             flush_interval = \"50ms\"\nmax_points = 500\nbackoff_max = \"500ms\"\ntimeout = \"2s\"\n",
            d.path().display()
        ),
    )
    .unwrap();
    let agent = run_agent_with_config(d.path(), "agent.log");
    let guard = KillOnDrop(agent.id());
    let log = |f: &str| std::fs::read_to_string(d.path().join(f)).unwrap_or_default();
    let some = |n: usize| move || stream_lines(port).len() >= n;
    assert!(eventually(30, some(1)).await, "{}", log("agent.log"));
    // nats-server restarts under the running agent, which reconnects and goes on.
    drop(nats);
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats = start_nats(&bin, store.path(), port);
    let before = stream_lines(port).len();
    assert!(
        eventually(30, some(before + 1)).await,
        "nothing after the restart: {}",
        log("agent.log")
    );
    drop(guard); // kill -9, while the log grows
    let mut agent = agent;
    agent.wait().unwrap();
    writer.join().unwrap();

    let agent = run_agent_with_config(d.path(), "agent2.log");
    let guard = KillOnDrop(agent.id());
    let done = eventually(60, || stream_lines(port).len() == 20_000).await;
    let out = terminate(agent);
    drop(guard);
    assert!(done && out.status.success(), "{}", log("agent2.log"));
    let twice = stream_lines(port).values().filter(|n| **n > 1).count();
    eprintln!("lines in the stream twice (sent again after the kill): {twice}");
    // The restart was logged and retried, and the lanes carry the output's name.
    assert!(
        log("agent.log").contains("io.nats publish failed; retrying"),
        "{}",
        log("agent.log")
    );
    let m = std::fs::read_to_string(d.path().join("data/metrics.json")).unwrap();
    assert!(
        m.contains("\"bus\"") && m.contains("nats://127.0.0.1"),
        "{m}"
    );
    drop(nats);
}

/// With `format = "otlp"`, metric and logging batches are OTLP export requests (decoded here
/// with the messages generated from the official opentelemetry-proto definitions); other
/// categories stay line protocol.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_payloads_go_to_the_stream_per_category() {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use prost::Message;
    let Some(bin) = sandkit_tests::installed("/usr/sbin/nats-server", "nats-server") else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let port = free_port();
    let _nats = start_nats(&bin, store.path(), port);
    let d = sandkit_tests::agent_dir(&[]);
    let (agent, guard, addr) = agent_with_config(
        d.path(),
        &format!(
            "data_dir = \"data\"\n[global_tags]\nsite = \"lab\"\n\
             [[outputs]]\nname = \"bus\"\nkind = \"nats\"\nurl = \"nats://127.0.0.1:{port}\"\n\
             format = \"otlp\"\ncounters = [\"app.requests\"]\nflush_interval = \"50ms\"\n"
        ),
    )
    .await;
    post_each(
        &addr,
        &[
            (
                "/v1/write/metric",
                "app,path=/a requests=42i,ratio=0.5 1700000000000000000\n",
            ),
            (
                "/v1/write/logging",
                "app,status=error message=\"boom\" 1700000000000000001\n",
            ),
            (
                "/v1/write/object",
                "host,name=web-1 cpus=4i 1700000000000000002\n",
            ),
        ],
    )
    .await;
    let log = stop_agent(d.path(), agent, guard);
    let msgs = stream_messages(port);
    let of = |subject: &str| {
        msgs.iter()
            .find(|m| m.0 == subject)
            .unwrap_or_else(|| panic!("nothing on {subject}: {msgs:?}\n{log}"))
    };
    let (_, headers, data) = of("sandkit.metric");
    assert!(
        headers.contains("Content-Type: application/x-protobuf"),
        "{headers}"
    );
    let m = ExportMetricsServiceRequest::decode(data.as_slice()).unwrap();
    let rm = &m.resource_metrics[0];
    let res = &rm.resource.as_ref().unwrap().attributes;
    assert!(res.iter().any(|kv| kv.key == "site"), "{res:?}");
    let names: Vec<&str> = rm.scope_metrics[0]
        .metrics
        .iter()
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(names, ["app.ratio", "app.requests"]);
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    assert!(matches!(
        rm.scope_metrics[0].metrics[1].data,
        Some(Data::Sum(_))
    ));
    let (_, _, data) = of("sandkit.logging");
    let l = ExportLogsServiceRequest::decode(data.as_slice()).unwrap();
    let r = &l.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(r.severity_number, 17);
    assert_eq!(r.time_unix_nano, 1_700_000_000_000_000_001);
    let (_, headers, data) = of("sandkit.object");
    assert!(headers.contains("Content-Type: text/plain"), "{headers}");
    assert!(
        String::from_utf8_lossy(data).starts_with("host,"),
        "line protocol"
    );
}

/// `tls://` against a nats-server that requires TLS, with a private CA in `ca_file`: the lines
/// arrive (the stream's state, read from the server's monitoring port, counts them); without
/// the CA the handshake fails and nothing is stored; `nats://` with the CA speaks TLS too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca() {
    let Some(bin) = sandkit_tests::installed("/usr/sbin/nats-server", "nats-server") else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let pem = sandkit_testpki::TestPki::generate().write_to(store.path());
    let (port, monitor) = (free_port(), free_port());
    let child = Command::new(bin)
        .args([
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-m",
            &monitor.to_string(),
        ])
        .arg("--tls")
        .arg("--tlscert")
        .arg(&pem.cert)
        .arg("--tlskey")
        .arg(&pem.key)
        .arg("-sd")
        .arg(store.path().join("js"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _nats = ChildGuard(child);
    assert!(eventually(20, || TcpStream::connect(("127.0.0.1", monitor)).is_ok()).await);
    let messages = move || {
        let (status, body) = sandkit_tests::http(
            &format!("127.0.0.1:{monitor}"),
            "GET",
            "/jsz?streams=true",
            "",
        );
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["account_details"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|a| a["stream_detail"].as_array().cloned().unwrap_or_default())
            .find(|s| s["name"] == "SANDKIT")
            .and_then(|s| s["state"]["messages"].as_u64())
    };
    // Without the CA; with it; with it and a nats:// URL (a CA asks for TLS).
    for (ca, scheme, want) in [
        (false, "tls", None),
        (true, "tls", Some(1)),
        (true, "nats", Some(2)),
    ] {
        let d = sandkit_tests::agent_dir(&[]);
        let ca_line = if ca {
            format!("ca_file = \"{}\"\n", pem.ca.display())
        } else {
            String::new()
        };
        let (agent, guard, addr) = agent_with_config(
            d.path(),
            &format!(
                "data_dir = \"data\"\n[[outputs]]\nname = \"bus\"\nkind = \"nats\"\n\
                 url = \"{scheme}://127.0.0.1:{port}\"\n{ca_line}flush_interval = \"50ms\"\n\
                 max_retries = 1\nbackoff_max = \"500ms\"\ntimeout = \"2s\"\n"
            ),
        )
        .await;
        // A line of its own each time: the same line again would be the same message, which
        // the stream stores once.
        let line = format!("tls,scheme={scheme} v=1i 1700000000000000000\n");
        let (status, text) = tokio::task::spawn_blocking(move || {
            sandkit_tests::http(&addr, "POST", "/v1/write/metric", &line)
        })
        .await
        .unwrap();
        let log = stop_agent(d.path(), agent, guard);
        let stored = tokio::task::spawn_blocking(messages).await.unwrap();
        if ca {
            assert!(status == 200 || status == 204, "{status} {text}\n{log}");
            assert_eq!(stored, want, "{log}");
        } else {
            assert_eq!(status, 503, "{text}\n{log}");
            assert!(
                log.contains("tls:"),
                "the handshake's failure is logged: {log}"
            );
            assert_eq!(stored, want, "no stream without a connection: {log}");
        }
    }
}
