//! Points from the bundled collectors, written by the InfluxDB v1 output to a real InfluxDB
//! (Debian's `influxdb`, started here on free loopback ports), are queryable with the right types
//! and tags. Under CI=true a missing `influxd` fails the test instead of skipping it.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sandkit_io::{Compression, Endpoint, HttpOutput, HttpOutputConfig, Output};
use sandkit_runtime::{PluginConfig, Runtime};
use sandkit_tests::{repo_root, test_runtime_config, wasm};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Influx {
    child: Child,
    pub(crate) http: String,
    _dir: tempfile::TempDir,
}

impl Drop for Influx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Influx {
    /// The InfluxDB v1 output to database `db`, gzip, without a buffer.
    pub(crate) fn v1_output(&self, db: &str) -> HttpOutput {
        HttpOutput::new(HttpOutputConfig {
            endpoint: Endpoint::InfluxV1 {
                url: self.http.clone(),
                db: db.into(),
            },
            compression: Compression::Gzip(1),
            timeout: Duration::from_secs(10),
            max_retries: 3,
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_millis(500),
            uint_support: false,
            buffer: None,
            tls: Default::default(),
        })
        .unwrap()
    }

    /// `CREATE DATABASE <name>` (a plain name).
    pub(crate) async fn create_database(&self, name: &str) {
        let (status, body) = request(
            "POST",
            &format!("{}/query", self.http),
            &format!("q=CREATE%20DATABASE%20{name}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
}

pub(crate) async fn request(method: &str, url: &str, body: &str) -> (u16, String) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    match client.request(req).await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let b = resp.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&b).into_owned())
        }
        Err(e) => (0, e.to_string()),
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Start influxd, or `None` when it is not installed outside CI.
pub(crate) async fn start_influx() -> Option<Influx> {
    let found = Command::new("influxd")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if found.is_err() {
        return sandkit_tests::missing("influxd", "`make test-deps`, from Debian's influxdb");
    }
    let dir = tempfile::tempdir().unwrap();
    let (rpc, http) = (sandkit_tests::free_port(), sandkit_tests::free_port());
    let d = dir.path().display();
    let conf = format!(
        "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n[meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n[http]\n  bind-address = \"127.0.0.1:{http}\"\n  log-enabled = false\n"
    );
    std::fs::write(dir.path().join("influx.conf"), conf).unwrap();
    let log = std::fs::File::create(dir.path().join("influx.log")).unwrap();
    let child = Command::new("influxd")
        .arg("-config")
        .arg(dir.path().join("influx.conf"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let influx = Influx {
        child,
        http: format!("http://127.0.0.1:{http}"),
        _dir: dir,
    };
    let start = Instant::now();
    loop {
        if request("GET", &format!("{}/ping", influx.http), "").await.0 == 204 {
            return Some(influx);
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "influxd did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn collect(runtime: &Runtime, name: &str) -> Vec<sandkit_io::Point> {
    let conf_file = repo_root().join(format!("guests/collectors/{name}/conf.toml"));
    let text = std::fs::read_to_string(&conf_file).unwrap();
    let pc = PluginConfig::parse(&text, &conf_file, runtime.config().limits).unwrap();
    let mut inst = sandkit_tests::initialised(runtime, name, &wasm(name), &pc).await;
    let mut points = inst.collect().await.unwrap().points;
    for p in &mut points {
        p.add_tag_if_missing("host", "sandkit-test");
    }
    points
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_points_are_queryable_in_influxdb_with_types_and_tags() {
    let Some(influx) = start_influx().await else {
        return;
    };
    influx.create_database("sandkit").await;

    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(test_runtime_config(dir.path())).unwrap();
    let mut points = collect(&runtime, "mem").await;
    points.extend(collect(&runtime, "system").await);
    points.extend(collect(&runtime, "net").await);
    let out = influx.v1_output("sandkit");
    out.write_points(sandkit_io::Category::Metric, &points)
        .await
        .unwrap();

    let query = |q: &str| {
        let url = format!("{}/query?db=sandkit&q={}", influx.http, urlencode(q));
        async move { request("GET", &url, "").await }
    };
    let mem = points.iter().find(|p| p.measurement() == "mem").unwrap();
    let Some(sandkit_io::FieldValue::Uint(total)) = mem.field("total") else {
        panic!("mem total")
    };
    let (_, body) = query("SELECT total, used_percent, host FROM mem").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let row = &v["results"][0]["series"][0]["values"][0];
    assert_eq!(row[1].as_u64(), Some(*total), "{body}");
    assert!(row[2].is_f64(), "used_percent is a float: {body}");
    assert_eq!(row[3], "sandkit-test");

    let (_, body) = query("SHOW FIELD KEYS FROM system").await;
    for (field, ty) in [
        ("load1", "float"),
        ("n_cpus", "integer"),
        ("uptime", "integer"),
    ] {
        assert!(
            body.contains(&format!("[\"{field}\",\"{ty}\"]")),
            "{field} as {ty}: {body}"
        );
    }
    let (_, body) = query("SHOW TAG VALUES FROM net WITH KEY = \"interface\"").await;
    assert!(body.contains("\"lo\""), "{body}");
    let (_, body) = query("SELECT count(bytes_recv) FROM net").await;
    let n = points.iter().filter(|p| p.measurement() == "net").count();
    assert!(body.contains(&format!(",{n}]")), "{n} net points: {body}");
}

/// Lines compressed by several sources on their own threads (a task's workers) go out as gzip
/// members joined in one body, beside a member for the batch's points: InfluxDB reads them all
/// as one stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_compressed_by_several_threads_are_read_whole_by_influxdb() {
    let Some(influx) = start_influx().await else {
        return;
    };
    influx.create_database("frames").await;
    let out = influx.v1_output("frames");
    // One batch for everything sent below (a long flush, no size limit reached).
    let batch = sandkit_io::BatchConfig {
        flush_interval: Duration::from_secs(3600),
        max_points: 1_000_000,
        max_bytes: 64 << 20,
    };
    let (sink, writer) = sandkit_io::spawn_writer(std::sync::Arc::new(out), 16, batch);
    let (tx, rx) = std::sync::mpsc::channel();
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let sink = sink.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for part in 0..3 {
                    let mut text = String::new();
                    for i in 0..500 {
                        text.push_str(&format!(
                            "framed,thread={t} part={part}i,n={i}i {}\n",
                            (t * 10_000 + part * 1000 + i) * 1000
                        ));
                    }
                    let lines = sandkit_io::Lines { text, count: 500 };
                    let tx = tx.clone();
                    let ack = sandkit_io::Ack::new(move |o| {
                        let _ = tx.send(o);
                    });
                    sink.blocking_send_frame_acked(sandkit_io::Category::Metric, lines, ack)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let point = sandkit_io::Point::new(
        "framed".into(),
        vec![("thread".into(), "points".into())],
        vec![("n".into(), sandkit_io::FieldValue::Int(1))],
        5,
        sandkit_io::Category::Metric,
    )
    .unwrap();
    sink.send(vec![point]).await.unwrap();
    drop(sink);
    writer.finish().await;
    drop(tx);
    let outcomes: Vec<_> = rx.iter().collect();
    assert_eq!(outcomes.len(), 6);
    assert!(
        outcomes
            .iter()
            .all(|o| *o == sandkit_io::AckOutcome::Delivered),
        "{outcomes:?}"
    );
    let url = format!(
        "{}/query?db=frames&q={}",
        influx.http,
        urlencode("SELECT count(n) FROM framed GROUP BY thread")
    );
    let (_, body) = request("GET", &url, "").await;
    for (thread, n) in [("0", 1500), ("1", 1500), ("points", 1)] {
        assert!(
            body.contains(&format!("{{\"thread\":\"{thread}\"}},\"columns\":[\"time\",\"count\"],\"values\":[[\"1970-01-01T00:00:00Z\",{n}]]")),
            "thread {thread}: {n} points: {body}"
        );
    }
}
