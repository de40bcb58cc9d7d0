//! The HTTP server in process: write routes end to end into a captured output, their limits,
//! the token, the concurrency cap, graceful shutdown, and the read routes. Clients speak raw
//! HTTP/1.1 over TCP, so that a test can hold a request half-sent.
//!
//! Over 600 lines: one topic, each route and limit tested through a whole client exchange.

use async_trait::async_trait;
use sandkit_io::{
    spawn_writer, Batch, BatchConfig, CaptureOutput, Category, Delivery, FieldValue, IoError,
    Output, Point, WriterHandle,
};
use sandkit_server::{HttpConfig, ServerHandle, ServerState};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Server {
    handle: ServerHandle,
    writer: WriterHandle,
    capture: CaptureOutput,
}

impl Server {
    fn addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    async fn stop(self) -> Vec<Point> {
        self.handle.shutdown().await;
        self.writer.finish().await;
        self.capture.points()
    }
}

fn config(f: impl FnOnce(&mut HttpConfig)) -> HttpConfig {
    let mut c = HttpConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..HttpConfig::default()
    };
    f(&mut c);
    c
}

fn state() -> ServerState {
    ServerState {
        global_tags: vec![("host".into(), "h1".into())],
        metrics: sandkit_metrics::Registry::default(),
        plugins: Arc::new(|| Ok(b"[]".to_vec())),
        pipelines: None,
        inputs: None,
        election: None,
    }
}

async fn start_with(config: HttpConfig, output: Arc<dyn Output>) -> (ServerHandle, WriterHandle) {
    // A long flush interval: a write is answered because it asks for its batch at once.
    let batch = BatchConfig {
        flush_interval: Duration::from_secs(3600),
        ..BatchConfig::default()
    };
    let (sink, writer) = spawn_writer(output, 8, batch);
    let handle = sandkit_server::start(config, sink, state()).await.unwrap();
    (handle, writer)
}

async fn start(config: HttpConfig) -> Server {
    let capture = CaptureOutput::new();
    let (handle, writer) = start_with(config, Arc::new(capture.clone())).await;
    Server {
        handle,
        writer,
        capture,
    }
}

/// One request on its own connection; the status and the body.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    read_response(&mut s).await
}

async fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out))
        .await
        .expect("a response within 20 s")
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_protocol_writes_reach_the_output_before_the_answer() {
    let s = start(config(|_| {})).await;
    let body = b"cpu,core=0 usage=0.5 1700000000\ncpu,core=1 usage=0.25,busy=3i 1700000001\n";
    let (code, text) = request(s.addr(), "POST", "/v1/write/metric?precision=s", &[], body).await;
    assert_eq!(code, 204, "{text}");
    // Answered only once delivered: the output has them already.
    let got = s.capture.points();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].timestamp_ns(), 1_700_000_000_000_000_000);
    assert_eq!(got[1].field("busy"), Some(&FieldValue::Int(3)));
    assert_eq!(got[0].tag("host"), Some("h1"), "global tags are added");
    assert_eq!(got[0].category(), Category::Metric);

    // A logging write, gzip, without global tags; InfluxDB 1.x and 2.x routes are metrics.
    let log = gzip(b"app,host=web1 message=\"hello\"\n");
    let (code, text) = request(
        s.addr(),
        "POST",
        "/v1/write/logging?ignore_global_tags=true",
        &[("Content-Encoding", "gzip")],
        &log,
    )
    .await;
    assert_eq!(code, 204, "{text}");
    let zs = zstd::bulk::compress(b"v2 x=1i 5\n", 1).unwrap();
    let (code, _) = request(
        s.addr(),
        "POST",
        "/api/v2/write?org=o&bucket=b&precision=ms",
        &[("Content-Encoding", "zstd")],
        &zs,
    )
    .await;
    assert_eq!(code, 204);
    let (code, _) = request(
        s.addr(),
        "POST",
        "/write?db=x&precision=h",
        &[],
        b"v1 x=2i 1",
    )
    .await;
    assert_eq!(code, 204);

    let points = s.stop().await;
    assert_eq!(points.len(), 5);
    let app = points.iter().find(|p| p.measurement() == "app").unwrap();
    assert_eq!(app.category(), Category::Logging);
    assert_eq!(app.tag("host"), Some("web1"));
    let v2 = points.iter().find(|p| p.measurement() == "v2").unwrap();
    assert_eq!(
        (v2.category(), v2.timestamp_ns()),
        (Category::Metric, 5_000_000)
    );
    let v1 = points.iter().find(|p| p.measurement() == "v1").unwrap();
    assert_eq!(v1.timestamp_ns(), 3_600_000_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_with_a_bad_line_is_refused_whole_naming_the_line() {
    let s = start(config(|_| {})).await;
    let body = b"m f=1i\nm f=2i\nm,t=a f=oops\nm f=4i\n";
    let (code, text) = request(s.addr(), "POST", "/v1/write/metric", &[], body).await;
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("line 3") && text.contains("column"), "{text}");
    assert!(text.contains("nothing of this body was written"), "{text}");
    // Every error path of the decoder answers 400 and writes nothing.
    for bad in [
        &b"m"[..],
        b"m,t f=1",
        b"m,t= f=1",
        b"m f=",
        b"m f=1i x",
        b"m f=\"unterminated",
        b"m f=1,f=2i",
        b"m f=NaN",
        b"\xff f=1",
        b",t=a f=1",
    ] {
        let (code, text) = request(s.addr(), "POST", "/v1/write/metric", &[], bad).await;
        assert_eq!(code, 400, "{:?}: {text}", String::from_utf8_lossy(bad));
        assert!(text.contains("line 1"), "{text}");
    }
    let (code, text) = request(
        s.addr(),
        "POST",
        "/v1/write/metric?precision=d",
        &[],
        b"m f=1",
    )
    .await;
    assert_eq!(code, 400, "{text}");
    let (code, text) = request(s.addr(), "POST", "/api/v2/write?precision=h", &[], b"m f=1").await;
    assert_eq!(code, 400, "{text}");
    assert!(s.stop().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bombs_and_oversized_bodies_get_413() {
    let s = start(config(|c| {
        c.max_body = 64 << 10;
        c.max_decompressed = 1 << 20;
    }))
    .await;
    // 40 MiB of one letter in a string value: gzip packs it about 1000:1, under the 64 KiB
    // body limit.
    let mut big = b"m s=\"".to_vec();
    big.resize(40 << 20, b'a');
    big.extend_from_slice(b"\"\n");
    let bomb = gzip(&big);
    assert!(bomb.len() < 64 << 10, "{} bytes of gzip", bomb.len());
    let (code, text) = request(
        s.addr(),
        "POST",
        "/v1/write/logging",
        &[("Content-Encoding", "gzip")],
        &bomb,
    )
    .await;
    assert_eq!(code, 413, "{text}");
    assert!(text.contains("decompresses"), "{text}");
    let (code, text) = request(
        s.addr(),
        "POST",
        "/v1/write/logging",
        &[],
        &vec![b'x'; 100 << 10],
    )
    .await;
    assert_eq!(code, 413, "{text}");
    let (code, _) = request(
        s.addr(),
        "POST",
        "/v1/write/logging",
        &[("Content-Encoding", "br")],
        b"x",
    )
    .await;
    assert_eq!(code, 415);
    let (code, _) = request(
        s.addr(),
        "POST",
        "/v1/write/logging",
        &[("Content-Encoding", "gzip")],
        b"not gzip",
    )
    .await;
    assert_eq!(code, 400);
    // The server is fine after all that.
    let (code, _) = request(
        s.addr(),
        "POST",
        "/v1/write/logging",
        &[],
        b"ok message=\"x\"",
    )
    .await;
    assert_eq!(code, 204);
    assert_eq!(s.stop().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_guards_writes_only() {
    let s = start(config(|c| c.token = Some("s3cret".into()))).await;
    let (code, _) = request(s.addr(), "POST", "/v1/write/metric", &[], b"m f=1").await;
    assert_eq!(code, 401);
    let (code, _) = request(
        s.addr(),
        "POST",
        "/v1/write/metric",
        &[("Authorization", "Bearer nope")],
        b"m f=1",
    )
    .await;
    assert_eq!(code, 401);
    for auth in ["Bearer s3cret", "Token s3cret"] {
        let (code, _) = request(
            s.addr(),
            "POST",
            "/v1/write/metric",
            &[("Authorization", auth)],
            b"m f=1",
        )
        .await;
        assert_eq!(code, 204, "{auth}");
    }
    let (code, _) = request(s.addr(), "POST", "/write?token=s3cret", &[], b"m f=1").await;
    assert_eq!(code, 204);
    let (code, _) = request(s.addr(), "GET", "/metrics", &[], b"").await;
    assert_eq!(code, 200);
    assert_eq!(s.stop().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_routes_and_unknown_ones() {
    let s = start(config(|_| {})).await;
    let (code, body) = request(s.addr(), "GET", "/v1/health", &[], b"").await;
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "ok");
    let (code, body) = request(s.addr(), "GET", "/v1/plugins", &[], b"").await;
    assert_eq!((code, body.trim()), (200, "[]"));
    let (code, _) = request(s.addr(), "GET", "/v1/write/metric", &[], b"").await;
    assert_eq!(code, 405);
    let (code, body) = request(s.addr(), "POST", "/v1/write/metrics", &[], b"m f=1").await;
    assert_eq!(code, 404);
    assert!(body.contains("unknown category"), "{body}");
    let (code, _) = request(s.addr(), "GET", "/nope", &[], b"").await;
    assert_eq!(code, 404);
    let (code, body) = request(s.addr(), "GET", "/metrics", &[], b"").await;
    assert_eq!(code, 200);
    assert!(
        body.contains("# TYPE sandkit_uptime_seconds gauge"),
        "{body}"
    );
    assert!(
        body.contains("sandkit_http_requests_total{route=\"/v1/write/{category}\",code=\"405\"} 1"),
        "{body}"
    );
    s.stop().await;
}

/// Sends the head of a write and part of its body, holding its slot until `rest` is sent.
async fn half_sent(addr: SocketAddr, body: &[u8], sent: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/write/metric HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body[..sent]).await.unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_cap_get_503_and_shutdown_finishes_those_in_flight() {
    let s = start(config(|c| c.max_concurrent = 1)).await;
    let body = b"slow f=1i\n";
    let mut slow = half_sent(s.addr(), body, 4).await;
    // Until the slow request holds its slot: then other writes get 503, reads still answer.
    let mut waited = 0;
    loop {
        let (code, text) = request(s.addr(), "POST", "/v1/write/metric", &[], b"").await;
        if code == 503 {
            assert!(text.contains("too many requests"), "{text}");
            break;
        }
        waited += 1;
        assert!(waited < 100, "the cap never applied");
        // The slow request may have come second to this one for the only slot, and been
        // answered 503 itself (it has an answer to read): send it again.
        let mut byte = [0u8; 1];
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(20), slow.peek(&mut byte)).await
        {
            slow = half_sent(s.addr(), body, 4).await;
        }
    }
    assert_eq!(
        request(s.addr(), "GET", "/v1/health", &[], b"").await.0,
        200
    );
    // Shutdown starts while the slow request is in flight: it still completes and is written.
    let Server {
        handle,
        writer,
        capture,
    } = s;
    let addr = handle.local_addr();
    let stopping = tokio::spawn(handle.shutdown());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no new connections"
    );
    slow.write_all(&body[4..]).await.unwrap();
    let (code, text) = read_response(&mut slow).await;
    assert_eq!(code, 204, "{text}");
    stopping.await.unwrap();
    writer.finish().await;
    assert_eq!(capture.points().len(), 1);
}

/// An output that refuses every batch (a DataWay answering 4xx, with no buffer).
#[derive(Debug)]
struct Refusing;

#[async_trait]
impl Output for Refusing {
    fn name(&self) -> &str {
        "refusing"
    }
    async fn write(&self, _c: Category, _b: &Batch) -> Result<Delivery, IoError> {
        Err(IoError::Config {
            output: "refusing".into(),
            message: "refused".into(),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_output_drops_is_not_acknowledged() {
    let (handle, writer) = start_with(config(|_| {}), Arc::new(Refusing)).await;
    let (code, text) = request(
        handle.local_addr(),
        "POST",
        "/v1/write/metric",
        &[],
        b"m f=1",
    )
    .await;
    assert_eq!(code, 503, "{text}");
    assert!(text.contains("not delivered"), "{text}");
    handle.shutdown().await;
    writer.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_writes_go_through_the_pipeline_their_source_names() {
    let h = sandkit_tests::Harness::new();
    let file = h.install("nginx", "nginx");
    h.sup.upsert(&file).await;
    h.wait_state(
        "nginx",
        sandkit_runtime::PluginState::Running,
        Duration::from_secs(60),
    )
    .await;
    let provider: Arc<dyn sandkit_io::pipeline::PipelineProvider> =
        Arc::new(sandkit_runtime::RegistryProvider {
            registry: h.sup.pipelines().clone(),
            handle: tokio::runtime::Handle::current(),
        });
    let capture = CaptureOutput::new();
    let (sink, writer) = spawn_writer(Arc::new(capture.clone()), 8, BatchConfig::default());
    let mut st = state();
    st.pipelines = Some(provider);
    let handle = sandkit_server::start(config(|_| {}), sink, st)
        .await
        .unwrap();
    let addr = handle.local_addr();

    let access = r#"203.0.113.9 - - [01/Mar/2024:13:55:36 +0100] "GET /a?x=1 HTTP/1.1" 404 153 "-" "curl/8.5.0""#;
    let lp =
        |m: &str, msg: &str| format!("{m},app=web message=\"{}\" 5\n", msg.replace('"', "\\\""));
    let body = format!(
        "{}{}nginx,app=web count=1i 6\n",
        lp("nginx", access),
        lp("nginx", "not an access line")
    );
    let (code, text) = request(
        addr,
        "POST",
        "/v1/write/logging?source=nginx",
        &[],
        body.as_bytes(),
    )
    .await;
    assert_eq!(code, 204, "{text}");
    // A source without a pipeline passes as it came; a named pipeline that is not loaded tags
    // the lines it could not process.
    let (code, _) = request(
        addr,
        "POST",
        "/v1/write/logging?source=other",
        &[],
        lp("other", access).as_bytes(),
    )
    .await;
    assert_eq!(code, 204);
    // A named pipeline must be loaded (a client's name never reaches the file system).
    for name in ["nope", "../../etc/passwd"] {
        let (code, text) = request(
            addr,
            "POST",
            &format!("/v1/write/logging?pipeline={name}"),
            &[],
            lp("x", access).as_bytes(),
        )
        .await;
        assert_eq!(code, 400, "{text}");
        assert!(text.contains("no pipeline named"), "{text}");
    }
    handle.shutdown().await;
    writer.finish().await;
    // The pipeline's status counts the lines it was given and the records they became.
    let st = h.sup.status("nginx").unwrap();
    assert_eq!((st.points, st.records), (2, 2), "{st:#?}");

    let points = capture.points();
    assert_eq!(points.len(), 4, "{points:#?}");
    let parsed = &points[0];
    assert_eq!(parsed.measurement(), "nginx");
    assert_eq!(parsed.tag("app"), Some("web"), "the point's tags stay");
    assert_eq!(
        parsed.tag("status"),
        Some("warning"),
        "the record's tags join: {parsed:?}"
    );
    assert_eq!(parsed.field("status_code"), Some(&FieldValue::Int(404)));
    assert_eq!(
        parsed.field("http_url").and_then(FieldValue::as_text),
        Some("/a?x=1")
    );
    assert_eq!(
        parsed.field("message").and_then(FieldValue::as_text),
        Some(access)
    );
    assert_eq!(
        parsed.timestamp_ns(),
        1_709_297_736_000_000_000,
        "the log's time"
    );
    let raw = &points[1];
    assert_eq!(
        raw.field("message").and_then(FieldValue::as_text),
        Some("not an access line")
    );
    assert_eq!(
        raw.tag("pipeline_error"),
        None,
        "passed through by the pipeline itself"
    );
    assert_eq!(
        points[2].field("count"),
        Some(&FieldValue::Int(1)),
        "no message: unchanged"
    );
    assert_eq!(points[3].measurement(), "other");
    assert_eq!(points[3].field("status_code"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_remote_writes_to_the_agent() {
    let Some(prometheus) = sandkit_tests::installed("/usr/bin/prometheus", "prometheus") else {
        return;
    };
    let Some((_exporter, node_port)) = sandkit_tests::node_exporter(&["loadavg", "meminfo"]) else {
        return;
    };
    let s = start(config(|_| {})).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n\
             scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{node_port}']\n\
             remote_write:\n  - url: http://{}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n",
            s.addr()
        ),
    )
    .unwrap();
    let _prometheus = sandkit_tests::ChildGuard(
        std::process::Command::new(prometheus)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!(
                "--web.listen-address=127.0.0.1:{}",
                sandkit_tests::free_port()
            ))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let arrived = sandkit_tests::eventually(90, || {
        s.capture.points().iter().any(|p| {
            p.measurement() == "node"
                && p.field("load1").is_some()
                && p.tag("job") == Some("node")
                && p.tag("instance") == Some(&format!("127.0.0.1:{node_port}"))
        })
    })
    .await;
    let points = s.capture.points();
    assert!(
        arrived,
        "no node_load1 from Prometheus in 90 s; got {} points: {:?}",
        points.len(),
        points.iter().take(5).collect::<Vec<_>>()
    );
    // Prometheus' own series about the scrape arrive too (`up`: measurement prom).
    assert!(points
        .iter()
        .any(|p| p.measurement() == "prom" && p.field("up").is_some()));
    let (code, metrics) = request(s.addr(), "GET", "/metrics", &[], b"").await;
    assert_eq!(code, 200);
    assert!(
        metrics.contains("route=\"/api/v1/write\",code=\"204\""),
        "{metrics}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_write_bodies_are_checked() {
    let s = start(config(|c| c.max_decompressed = 1 << 20)).await;
    let (code, text) = request(s.addr(), "POST", "/api/v1/write", &[], b"not snappy").await;
    assert_eq!(code, 400, "{text}");
    // Snappy says how long it will be: a bomb is refused before it is decompressed.
    let big = snap::raw::Encoder::new()
        .compress_vec(&vec![0u8; 4 << 20])
        .unwrap();
    let (code, text) = request(s.addr(), "POST", "/prom_remote_write", &[], &big).await;
    assert_eq!(code, 413, "{text}");
    assert!(s.stop().await.is_empty());
}

/// A CA, and a certificate for 127.0.0.1 it signed, as PEM files in `dir`: (cert, key, ca).
fn pki(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let files = sandkit_testpki::TestPki::generate().write_to(dir);
    (files.cert, files.key, files.ca)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_when_a_certificate_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, ca) = pki(dir.path());
    let s = start(config(|c| c.tls = Some((cert.clone(), key.clone())))).await;
    let client = sandkit_io::build_client(
        &sandkit_io::TlsProxyConfig {
            ca_file: Some(ca),
            proxy: None,
        },
        "test",
    )
    .unwrap();
    let url = format!("https://127.0.0.1:{}/v1/write/metric", s.addr().port());
    let req = hyper::Request::post(url)
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            b"tls f=1i",
        )))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), 204);
    // Plain HTTP on the TLS port gets no HTTP answer.
    let (code, _) = request(s.addr(), "GET", "/v1/health", &[], b"").await;
    assert_eq!(code, 0);
    assert_eq!(s.stop().await.len(), 1);

    // A key that is not a key: the server does not start, and says which file.
    std::fs::write(&key, "not a key").unwrap();
    let (sink, _writer) = spawn_writer(Arc::new(CaptureOutput::new()), 1, BatchConfig::default());
    let e = sandkit_server::start(config(|c| c.tls = Some((cert, key.clone()))), sink, state())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("key.pem"), "{e}");
}

/// A server over a harness with the `webhook` input and the misbehaving `badinput`.
async fn input_server(h: &sandkit_tests::Harness) -> (ServerHandle, WriterHandle, CaptureOutput) {
    // Fuel for minutes: the deadline is what cuts HANG.
    h.conf(
        "badinput",
        "[limits]\ntimeout = \"300ms\"\nfuel = 1000000000000000\n",
    );
    h.conf(
        "webhook",
        "[config]\nmeasurement_key = \"kind\"\ntags = [\"service\"]\ncategory = \"keyevent\"\n",
    );
    for name in ["webhook", "badinput"] {
        let file = h.install(name, name);
        h.sup.upsert(&file).await;
        h.wait_state(
            name,
            sandkit_runtime::PluginState::Running,
            Duration::from_secs(60),
        )
        .await;
    }
    let capture = CaptureOutput::new();
    let (sink, writer) = spawn_writer(Arc::new(capture.clone()), 8, BatchConfig::default());
    let mut st = state();
    st.inputs = Some(h.sup.inputs().clone());
    let handle = sandkit_server::start(config(|_| {}), sink, st)
        .await
        .unwrap();
    (handle, writer, capture)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_input_turns_json_bodies_into_points() {
    let h = sandkit_tests::Harness::new();
    let (handle, writer, capture) = input_server(&h).await;
    let addr = handle.local_addr();
    let body = br#"[{"kind":"deploy","service":"pay","time":"2024-03-01T12:00:00Z","build":{"id":42,"ok":true},"took":1.5},
                   {"kind":"rollback","service":"pay","reason":"errors"}]"#;
    let (code, text) = request(
        addr,
        "POST",
        "/v1/input/webhook",
        &[("Content-Type", "application/json")],
        body,
    )
    .await;
    assert_eq!(code, 204, "{text}");
    let (code, text) = request(addr, "POST", "/v1/input/webhook", &[], b"[{\"a\":1}, 2]").await;
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("element 1 is not a JSON object"), "{text}");
    let (code, _) = request(addr, "POST", "/v1/input/nosuch", &[], b"{}").await;
    assert_eq!(code, 404);
    handle.shutdown().await;
    writer.finish().await;
    let points = capture.points();
    assert_eq!(points.len(), 2, "{points:#?}");
    let p = &points[0];
    assert_eq!(p.measurement(), "deploy");
    assert_eq!(p.category(), Category::Keyevent);
    assert_eq!(p.tag("service"), Some("pay"));
    assert_eq!(p.tag("host"), Some("h1"), "global tags");
    assert_eq!(p.field("build_id"), Some(&FieldValue::Int(42)));
    assert_eq!(p.field("build_ok"), Some(&FieldValue::Bool(true)));
    assert_eq!(p.field("took"), Some(&FieldValue::Float(1.5)));
    assert_eq!(p.timestamp_ns(), 1_709_294_400_000_000_000);
    assert_eq!(points[1].measurement(), "rollback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_input_is_contained_and_its_bodies_are_not_written() {
    let h = sandkit_tests::Harness::new();
    let (handle, writer, capture) = input_server(&h).await;
    let addr = handle.local_addr();
    let post = |body: &'static [u8]| request(addr, "POST", "/v1/input/badinput", &[], body);
    assert_eq!(post(b"one").await.0, 204);
    let (code, text) = post(b"ERR").await;
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("refused"), "{text}");
    // One valid and one invalid point: neither is written.
    let (code, text) = post(b"BAD").await;
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("invalid"), "{text}");
    let (code, text) = post(b"PANIC").await;
    assert_eq!(code, 500, "{text}");
    assert!(text.contains("unreachable"), "{text}");
    // A fresh instance takes the next body; the other input was never disturbed.
    assert_eq!(post(b"two").await.0, 204);
    let (code, text) = post(b"HANG").await;
    assert_eq!(code, 500, "{text}");
    assert!(text.contains("deadline"), "{text}");
    assert_eq!(post(b"three").await.0, 204);
    let st = h.sup.status("badinput").unwrap();
    assert_eq!((st.crashes, st.restarts, st.errors), (2, 2, 2), "{st:#?}");
    assert_eq!(st.state, sandkit_runtime::PluginState::Running);
    let (code, _) = request(addr, "POST", "/v1/input/webhook", &[], b"{\"a\":1}").await;
    assert_eq!(code, 204);
    // Crashes in a row disable it (max_crashes, 6 by default); then it answers 503 at once.
    for _ in 0..6 {
        assert_eq!(post(b"PANIC").await.0, 500);
    }
    assert_eq!(
        h.sup.status("badinput").unwrap().state,
        sandkit_runtime::PluginState::Disabled
    );
    let (code, text) = post(b"four").await;
    assert_eq!(code, 503, "{text}");
    handle.shutdown().await;
    writer.finish().await;
    let texts: Vec<String> = capture
        .points()
        .iter()
        .filter(|p| p.measurement() == "badinput")
        .map(|p| {
            p.field("text")
                .and_then(FieldValue::as_text)
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
}
