//! End-to-end uploader harness: points through the writer (batching, encoding, compression) and
//! the DataWay output to a receiver on loopback, against the baseline of the same run: encoding
//! and compressing the same batches on one thread with nothing else. A ratio near 1 means the
//! uploader is limited by encoding and compression, not by its own overhead. Also: how fast the
//! durable buffer takes batches (fdatasync on) and replays them.
//!
//! `cpu ns/pt` is the process CPU time per point of the upload (writer, sender, and the
//! in-process receiver) against the baseline's wall time per point on one thread.
//!
//! The baseline frees the points after encoding them, as the uploader does: freeing ~15 heap
//! strings per point is the point model's cost, not the uploader's. `write() pt/s` calls the
//! output directly (no writer task, points not freed).
//!
//! Last, the outputs side by side: the same points through the writer to a file output, to
//! DataWay (gzip 1), to Prometheus remote write (snappy protobuf), to OTLP/HTTP (gzip 1) and,
//! when Debian's nats-server is installed, to NATS JetStream (each batch acknowledged by the
//! stream), as points/s and as ratios against the file output of the same round.
//!
//! Not a criterion bench: one round moves 200,000 points through a server and a disk queue, so it
//! runs 5 rounds and prints medians. `cargo bench -p sandkit-benches --bench upload`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sandkit_io::{
    encode_points, spawn_writer, Batch, BatchConfig, BufferConfig, Category, Compression, Counters,
    Endpoint, FieldValue, FileOutput, HttpOutput, HttpOutputConfig, Output, Point,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const POINTS: usize = 200_000;
const BATCH: usize = 1_000;
const ROUNDS: usize = 5;

/// Points shaped like the cpu and diskio collectors' output, with values that vary the way real
/// ones do (a fixed pseudo-random sequence), so compression is not flattered by repetition.
fn sample(n: usize) -> Vec<Point> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| {
            let r = next();
            Point::new(
                if i % 2 == 0 { "cpu" } else { "diskio" }.into(),
                vec![
                    ("host".into(), format!("web-{:02}.example.com", i % 40)),
                    ("cpu".into(), format!("cpu{}", i % 16)),
                ],
                vec![
                    (
                        "usage_user".into(),
                        FieldValue::Float((r % 10_000) as f64 / 100.0),
                    ),
                    (
                        "usage_system".into(),
                        FieldValue::Float((r >> 16) as f64 % 1e4 / 1e2),
                    ),
                    (
                        "usage_idle".into(),
                        FieldValue::Float((r >> 32) as f64 % 1e4 / 1e2),
                    ),
                    ("reads".into(), FieldValue::Uint(r >> 20)),
                    ("io_time".into(), FieldValue::Int((r % 1_000_000) as i64)),
                    ("state".into(), FieldValue::Text("running".into())),
                ],
                1_700_000_000_000_000_000 + i as i64 * 10_000_000,
                Category::Metric,
            )
            .expect("valid sample point")
        })
        .collect()
}

/// A receiver that reads each body and counts points (from `X-Points`) and bytes.
#[derive(Debug, Clone, Default)]
struct Counter {
    points: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

async fn receiver(listener: tokio::net::TcpListener) -> Counter {
    let c = Counter::default();
    let cc = c.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let cc = cc.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let cc = cc.clone();
                    async move {
                        let n: u64 = req
                            .headers()
                            .get("x-points")
                            .and_then(|v| v.to_str().ok()?.parse().ok())
                            .unwrap_or(0);
                        let body = req.into_body().collect().await?.to_bytes();
                        cc.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                        cc.points.fetch_add(n, Ordering::Relaxed);
                        Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::new())))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    c
}

fn output(addr: SocketAddr, compression: Compression, buffer: Option<BufferConfig>) -> HttpOutput {
    let endpoint = Endpoint::DataWay {
        urls: vec![format!("http://{addr}")],
        token: "tkn_bench".into(),
    };
    http_output(endpoint, compression, buffer)
}

fn http_output(
    endpoint: Endpoint,
    compression: Compression,
    buffer: Option<BufferConfig>,
) -> HttpOutput {
    HttpOutput::new(HttpOutputConfig {
        endpoint,
        compression,
        timeout: Duration::from_secs(30),
        max_retries: 0,
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        uint_support: true,
        buffer,
        tls: Default::default(),
    })
    .expect("output")
}

/// CPU time of this process (all threads: writer, sender, receiver), in seconds, from
/// /proc/self/stat (10 ms ticks: coarse, so only whole rounds are measured).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn wait_for(c: &Counter, points: u64) {
    while c.points.load(Ordering::Relaxed) < points {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and `cargo test --benches` probe bench binaries.
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let template = sample(POINTS);
    let lp_bytes = encode_points(&template).len() as f64;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let counter = receiver(listener).await;
    let batches: Vec<Vec<Point>> = template.chunks(BATCH).map(<[Point]>::to_vec).collect();
    println!(
        "upload: {POINTS} points in batches of {BATCH}, {:.1} MB of line protocol, medians of {ROUNDS} rounds",
        lp_bytes / 1e6
    );
    println!(
        "{:<8} {:>6} {:>14} {:>14} {:>14} {:>7} {:>11} {:>14} {:>14}",
        "codec",
        "size",
        "baseline pt/s",
        "write() pt/s",
        "upload pt/s",
        "ratio",
        "cpu ns/pt",
        "buffer in pt/s",
        "replay pt/s"
    );
    for compression in [
        Compression::None,
        Compression::Gzip(1),
        Compression::Zstd(1),
    ] {
        let (mut base, mut direct, mut up, mut up_cpu) = (vec![], vec![], vec![], vec![]);
        let (mut buf_in, mut replay) = (vec![], vec![]);
        let mut compressed = 0u64;
        // What the writer task hands an output.
        let written: Vec<Batch> = batches.iter().map(|b| Batch::from(b.clone())).collect();
        for _ in 0..ROUNDS {
            // Baseline: encode and compress the same batches, on this thread, nothing else, and
            // free the points as the uploader does once they are written.
            let owned = batches.clone();
            let t = Instant::now();
            let mut n = 0;
            for b in owned {
                let text = encode_points(&b);
                n += compression
                    .compress(text.as_bytes())
                    .expect("compress")
                    .len();
                drop(b);
            }
            base.push(POINTS as f64 / t.elapsed().as_secs_f64());
            compressed = n as u64;

            // The output alone: `write` called in sequence, no writer task.
            let out = output(addr, compression, None);
            let start_points = counter.points.load(Ordering::Relaxed);
            let t = Instant::now();
            for b in &written {
                out.write(Category::Metric, b).await.expect("write");
            }
            wait_for(&counter, start_points + POINTS as u64).await;
            direct.push(POINTS as f64 / t.elapsed().as_secs_f64());

            // The uploader: writer task, batching, encoding, compression, HTTP, receiver.
            let out = Arc::new(output(addr, compression, None));
            let input = batches.clone();
            let start_points = counter.points.load(Ordering::Relaxed);
            let cpu = cpu_seconds();
            let t = Instant::now();
            through_writer(out, input).await;
            wait_for(&counter, start_points + POINTS as u64).await;
            up.push(POINTS as f64 / t.elapsed().as_secs_f64());
            up_cpu.push((cpu_seconds() - cpu) * 1e9 / POINTS as f64);

            // The durable buffer: the receiver is "down" (a closed port), so every batch is
            // appended with fdatasync; then a new output replays it to the live receiver.
            let dir = tempfile::tempdir().expect("tempdir");
            let down = std::net::TcpListener::bind("127.0.0.1:0")
                .expect("bind")
                .local_addr()
                .expect("addr");
            let buffering = output(
                down,
                compression,
                Some(BufferConfig::new(dir.path().into())),
            );
            let t = Instant::now();
            for b in &written {
                buffering
                    .write(Category::Metric, b)
                    .await
                    .expect("buffered");
            }
            buf_in.push(POINTS as f64 / t.elapsed().as_secs_f64());
            let src = dir.path().join(&buffering.buffer_dir_names()[0]);
            drop(buffering);
            // Move the queue to the live receiver's directory name and replay it.
            let dst = dir
                .path()
                .join(&output(addr, compression, None).buffer_dir_names()[0]);
            std::fs::rename(&src, &dst).expect("rename queue");
            let start_points = counter.points.load(Ordering::Relaxed);
            let t = Instant::now();
            let replaying = output(
                addr,
                compression,
                Some(BufferConfig::new(dir.path().into())),
            );
            wait_for(&counter, start_points + POINTS as u64).await;
            replay.push(POINTS as f64 / t.elapsed().as_secs_f64());
            drop(replaying);
        }
        let (b, u) = (median(base), median(up));
        println!(
            "{:<8} {:>5.1}% {:>14.0} {:>14.0} {:>14.0} {:>6.2}x {:>5.0}/{:<5.0} {:>14.0} {:>14.0}",
            format!("{compression:?}").to_lowercase(),
            compressed as f64 / lp_bytes * 100.0,
            b,
            median(direct),
            u,
            b / u,
            median(up_cpu),
            1e9 / b,
            median(buf_in),
            median(replay),
        );
    }

    outputs_side_by_side(addr, &counter, &batches).await;
}

/// `batches` through the writer task to `out`, batched as the agent does, until it finished.
async fn through_writer(out: Arc<dyn Output>, batches: Vec<Vec<Point>>) {
    let (sink, writer) = spawn_writer(
        out,
        64,
        BatchConfig {
            flush_interval: Duration::from_secs(10),
            max_points: BATCH,
            max_bytes: 64 << 20,
        },
    );
    for b in batches {
        sink.send(b).await.expect("send");
    }
    drop(sink);
    writer.finish().await;
}

/// Points/s of `batches` through the writer to `out`, once `arrived` says they all did.
async fn rate(
    out: Arc<dyn Output>,
    batches: &[Vec<Point>],
    arrived: impl std::future::Future<Output = ()>,
) -> f64 {
    let input = batches.to_vec();
    let t = Instant::now();
    through_writer(out, input).await;
    arrived.await;
    POINTS as f64 / t.elapsed().as_secs_f64()
}

async fn outputs_side_by_side(addr: SocketAddr, counter: &Counter, batches: &[Vec<Point>]) {
    let (mut file, mut dataway, mut remote, mut otlp) = (vec![], vec![], vec![], vec![]);
    let mut nats = vec![];
    // A nats-server with JetStream on loopback, when Debian's package is installed.
    let nats_dir = tempfile::tempdir().expect("tempdir");
    let nats_port = sandkit_tests::free_port();
    let _nats_server = std::path::Path::new("/usr/sbin/nats-server")
        .exists()
        .then(|| {
            let child = std::process::Command::new("/usr/sbin/nats-server")
                .args([
                    "-js",
                    "-a",
                    "127.0.0.1",
                    "-p",
                    &nats_port.to_string(),
                    "-sd",
                ])
                .arg(nats_dir.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start nats-server");
            sandkit_tests::ChildGuard(child)
        });
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = FileOutput::open(&dir.path().join("out.lp"))
            .await
            .expect("file");
        file.push(rate(Arc::new(out), batches, async {}).await);

        let start = counter.points.load(Ordering::Relaxed);
        let out = output(addr, Compression::Gzip(1), None);
        let arrived = wait_for(counter, start + POINTS as u64);
        dataway.push(rate(Arc::new(out), batches, arrived).await);

        let start = counter.points.load(Ordering::Relaxed);
        let endpoint = Endpoint::RemoteWrite {
            url: format!("http://{addr}/api/v1/write"),
            token: None,
            counters: Counters(vec!["cpu_usage*".into()]),
        };
        let out = http_output(endpoint, Compression::None, None);
        let arrived = wait_for(counter, start + POINTS as u64);
        remote.push(rate(Arc::new(out), batches, arrived).await);

        let start = counter.points.load(Ordering::Relaxed);
        let endpoint = Endpoint::Otlp {
            url: format!("http://{addr}"),
            token: None,
            options: sandkit_io::otlp::OtlpOptions {
                counters: Counters(vec!["cpu.usage*".into()]),
                resource: vec![("host".into(), "bench".into())],
                start_ns: 0,
            },
        };
        let out = http_output(endpoint, Compression::Gzip(1), None);
        let arrived = wait_for(counter, start + POINTS as u64);
        otlp.push(rate(Arc::new(out), batches, arrived).await);

        if _nats_server.is_some() {
            // A stream of its own each round: what it holds does not carry over.
            let config = sandkit_io::NatsConfig {
                url: format!("nats://127.0.0.1:{nats_port}"),
                ca_file: None,
                subject: format!("bench{round}"),
                stream: format!("BENCH{round}"),
                token: None,
                user: None,
                password: None,
                timeout: Duration::from_secs(10),
                max_retries: Some(20),
                backoff_max: Duration::from_secs(1),
                uint_support: true,
                otlp: None,
            };
            let out = sandkit_io::NatsOutput::new(config, "nats").expect("nats output");
            // Delivered means the stream acknowledged every batch: the writer's end is arrival.
            nats.push(rate(Arc::new(out), batches, async {}).await);
        }
    }
    let f = median(file);
    println!("outputs: the same {POINTS} points through the writer, medians of {ROUNDS} rounds");
    println!("{:<24} {:>14} {:>12}", "output", "pt/s", "vs file");
    for (name, v) in [
        ("file", f),
        ("dataway gzip 1", median(dataway)),
        ("prometheus remote write", median(remote)),
        ("otlp gzip 1", median(otlp)),
    ] {
        println!("{name:<24} {v:>14.0} {:>11.2}x", v / f);
    }
    if nats.is_empty() {
        println!("nats jetstream: not measured (/usr/sbin/nats-server is not installed)");
    } else {
        let v = median(nats);
        println!("{:<24} {v:>14.0} {:>11.2}x", "nats jetstream", v / f);
    }
}
