//! HTTP outputs against an in-test DataWay receiver: URL, token, headers, gzip and zstd bodies
//! that decode to exactly the points sent, retries on 5xx and transport errors, no retry on 4xx,
//! fan-out to several DataWays, and an outage after which every point arrives once and in order.

use sandkit_io::{
    encode_points, spawn_writer, Ack, AckOutcome, BatchConfig, BufferConfig, Category, Compression,
    Delivery, Endpoint, FieldValue, HttpOutput, HttpOutputConfig, Output, Point,
};
use sandkit_tests::eventually;
use sandkit_tests::receiver::{serve, serve_tls, start_receiver, test_pki};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

fn points(n: usize, cat: Category) -> Vec<Point> {
    points_from(0, n, cat)
}

fn points_from(start: usize, n: usize, cat: Category) -> Vec<Point> {
    (start..start + n)
        .map(|i| {
            Point::new(
                "cpu".into(),
                vec![
                    ("host".into(), "a b,c".into()),
                    ("cpu".into(), format!("cpu{i}")),
                ],
                vec![
                    ("seq".into(), FieldValue::Uint(i as u64)),
                    ("usage".into(), FieldValue::Float(0.5 + i as f64)),
                    ("note".into(), FieldValue::Text("say \"hi\"\n".into())),
                ],
                1_700_000_000_000_000_000 + i as i64,
                cat,
            )
            .unwrap()
        })
        .collect()
}

fn dataway(urls: Vec<String>, compression: Compression, retries: u32) -> HttpOutput {
    HttpOutput::new(config(urls, compression, retries)).unwrap()
}

fn config(urls: Vec<String>, compression: Compression, retries: u32) -> HttpOutputConfig {
    HttpOutputConfig {
        endpoint: Endpoint::DataWay {
            urls,
            token: "tkn_secret/+1".into(),
        },
        compression,
        timeout: Duration::from_secs(5),
        max_retries: retries,
        backoff_initial: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        uint_support: true,
        buffer: None,
        tls: Default::default(),
    }
}

/// A DataWay output with a durable buffer in `dir`, capped at `max_bytes` per category.
fn buffered(addr: SocketAddr, dir: &Path, max_bytes: u64) -> HttpOutput {
    buffered_with(addr, dir, max_bytes, Compression::Gzip(1))
}

fn buffered_with(addr: SocketAddr, dir: &Path, max_bytes: u64, c: Compression) -> HttpOutput {
    let mut c = config(vec![format!("http://{addr}")], c, 0);
    c.buffer = Some(BufferConfig {
        max_bytes,
        max_bytes_object: max_bytes,
        fsync: true,
        ..BufferConfig::new(dir.to_path_buf())
    });
    HttpOutput::new(c).unwrap()
}

/// A loopback port with nothing listening: the receiver is down until it binds it.
fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Poll `f` every 20 ms until it holds or `secs` pass.
#[tokio::test]
async fn dataway_gzip_and_zstd_bodies_decode_to_the_points_sent() {
    for compression in [
        Compression::Gzip(1),
        Compression::Zstd(3),
        Compression::None,
    ] {
        let r = start_receiver(0, 200).await;
        let out = dataway(vec![format!("http://{}", r.addr)], compression, 0);
        let pts = points(50, Category::Logging);
        out.write_points(Category::Logging, &pts).await.unwrap();
        let got = r.got.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        let g = &got[0];
        assert_eq!(g.path, "/v1/write/logging");
        assert_eq!(g.query, "token=tkn_secret%2F%2B1");
        assert_eq!(g.header("x-points"), Some("50"));
        assert_eq!(g.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(g.header("content-encoding"), compression.content_encoding());
        assert_eq!(g.body, encode_points(&pts), "{compression:?}");
        assert_eq!(out.stats().points_sent, 50);
    }
}

#[tokio::test]
async fn retries_on_5xx_but_not_on_4xx() {
    let r = start_receiver(2, 503).await;
    let out = dataway(vec![format!("http://{}", r.addr)], Compression::Gzip(1), 5);
    out.write_points(Category::Metric, &points(3, Category::Metric))
        .await
        .unwrap();
    assert_eq!(r.requests.load(Ordering::SeqCst), 3);
    assert_eq!(r.got.lock().unwrap().len(), 1);
    assert_eq!(out.stats().retries, 2);

    let r = start_receiver(usize::MAX, 400).await;
    let out = dataway(vec![format!("http://{}", r.addr)], Compression::Gzip(1), 5);
    let e = out
        .write_points(Category::Metric, &points(3, Category::Metric))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(r.requests.load(Ordering::SeqCst), 1, "a 4xx is not retried");
    assert!(
        e.contains("400") && e.contains("go away"),
        "status and body are reported: {e}"
    );
    assert!(
        !e.contains("tkn_secret"),
        "the token never appears in errors: {e}"
    );
    assert_eq!(out.stats().dropped_rejected, 3);

    // 408 and 429 say "later", not "never".
    for status in [408, 429] {
        let r = start_receiver(1, status).await;
        let out = dataway(vec![format!("http://{}", r.addr)], Compression::Gzip(1), 5);
        out.write_points(Category::Metric, &points(3, Category::Metric))
            .await
            .unwrap();
        assert_eq!(r.requests.load(Ordering::SeqCst), 2, "{status} is retried");
        assert_eq!(out.stats().dropped_rejected, 0);
    }
}

#[tokio::test]
async fn every_dataway_url_gets_every_batch() {
    let a = start_receiver(0, 200).await;
    let b = start_receiver(0, 200).await;
    let out = dataway(
        vec![
            format!("http://{}", a.addr),
            format!("http://{}/?token=tkn_b", b.addr),
        ],
        Compression::Zstd(1),
        0,
    );
    out.write_points(Category::Object, &points(2, Category::Object))
        .await
        .unwrap();
    assert_eq!(a.got.lock().unwrap()[0].query, "token=tkn_secret%2F%2B1");
    assert_eq!(b.got.lock().unwrap()[0].query, "token=tkn_b");
    assert_eq!(b.got.lock().unwrap()[0].path, "/v1/write/object");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_then_recovery_delivers_every_point_once_in_order() {
    // Reserve a port, close it: the receiver is down.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let out = Arc::new(dataway(
        vec![format!("http://{addr}")],
        Compression::Gzip(1),
        50,
    ));
    let (sink, writer) = spawn_writer(
        out.clone(),
        4,
        BatchConfig {
            flush_interval: Duration::from_millis(50),
            max_points: 100,
            max_bytes: 1 << 20,
        },
    );
    let all = points(1_000, Category::Metric);
    let producer = {
        let all = all.clone();
        tokio::spawn(async move {
            for chunk in all.chunks(37) {
                sink.send(chunk.to_vec()).await.unwrap();
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        out.stats().retries > 0,
        "the output kept retrying while down"
    );
    let r = serve(tokio::net::TcpListener::bind(addr).await.unwrap(), 0, 200);
    producer.await.unwrap();
    writer.finish().await;
    let got: String = r
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|g| g.body.clone())
        .collect();
    assert_eq!(got, encode_points(&all), "every point once, in order");
    assert_eq!(out.stats().dropped_unreachable, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_with_buffer_acks_at_once_then_replays_every_point_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let addr = closed_port();
    let out = Arc::new(buffered(addr, dir.path(), 1 << 30));
    let (sink, writer) = spawn_writer(
        out.clone(),
        4,
        BatchConfig {
            flush_interval: Duration::from_millis(50),
            max_points: 100,
            max_bytes: 1 << 20,
        },
    );
    let all = points(1_000, Category::Metric);
    let (tx, mut acks) = tokio::sync::mpsc::unbounded_channel();
    for (i, chunk) in all.chunks(37).enumerate() {
        sink.send_acked(chunk.to_vec(), Ack::to_channel(tx.clone(), i))
            .await
            .unwrap();
    }
    // Every send is acknowledged as durably buffered while the receiver is still down.
    let chunks = all.chunks(37).count();
    let mut seen = vec![None; chunks];
    for _ in 0..chunks {
        let (i, o) = tokio::time::timeout(Duration::from_secs(10), acks.recv())
            .await
            .expect("every send is acknowledged during the outage")
            .unwrap();
        seen[i] = Some(o);
    }
    assert!(
        seen.iter().all(|o| *o == Some(AckOutcome::Buffered)),
        "{seen:?}"
    );
    let st = out.stats();
    assert_eq!(st.buffered_points, 1_000);
    assert!(st.buffer_bytes > 0 && st.retries > 0, "{st:?}");

    let r = serve(tokio::net::TcpListener::bind(addr).await.unwrap(), 0, 200);
    let want = encode_points(&all);
    assert!(
        eventually(20, || r.bodies("/v1/write/metric").len() >= want.len()).await,
        "the buffer was replayed"
    );
    assert_eq!(
        r.bodies("/v1/write/metric"),
        want,
        "every point once, in order"
    );
    assert!(eventually(5, || out.stats().buffer_bytes == 0).await);
    // New batches go straight through once the buffer is empty.
    sink.send_acked(points(5, Category::Metric), Ack::to_channel(tx, 99))
        .await
        .unwrap();
    let (i, o) = tokio::time::timeout(Duration::from_secs(5), acks.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((i, o), (99, AckOutcome::Delivered));
    drop(sink);
    writer.finish().await;
    let st = out.stats();
    assert_eq!(
        (
            st.dropped_unreachable,
            st.dropped_overflow,
            st.dropped_rejected
        ),
        (0, 0, 0)
    );
    let lanes = out.lane_snapshots();
    assert_eq!(lanes.len(), 1);
    assert_eq!(lanes[0].category, "metric");
    assert_eq!(lanes[0].points_sent, 1_005);
    assert!(!lanes[0].url.contains("tkn"), "{}", lanes[0].url);
    assert_eq!(
        lanes[0].latency.buckets.iter().sum::<u64>(),
        lanes[0].requests - lanes[0].retries,
        "one latency sample per successful request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_batches_survive_a_restart_of_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let addr = closed_port();
    let first = buffered(addr, dir.path(), 1 << 30);
    let mut sent = Vec::new();
    for b in 0..3 {
        let pts = points_from(b * 10, 10, Category::Logging);
        assert_eq!(
            first.write_points(Category::Logging, &pts).await.unwrap(),
            Delivery::Buffered
        );
        sent.extend(pts);
    }
    drop(first);
    let r = serve(tokio::net::TcpListener::bind(addr).await.unwrap(), 0, 200);
    // A new output over the same directory replays what the first one left.
    let second = buffered(addr, dir.path(), 1 << 30);
    let want = encode_points(&sent);
    assert!(eventually(20, || r.bodies("/v1/write/logging") == want).await);
    let more = points_from(30, 10, Category::Logging);
    assert_eq!(
        second.write_points(Category::Logging, &more).await.unwrap(),
        Delivery::Delivered
    );
    sent.extend(more);
    assert_eq!(r.bodies("/v1/write/logging"), encode_points(&sent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_buffer_drops_the_oldest_batches_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let addr = closed_port();
    // 512 KiB cap: segments of 64 KiB; about 1.2 MB of batches are written.
    let out = buffered_with(addr, dir.path(), 512 << 10, Compression::None);
    let batches = 200;
    for b in 0..batches {
        out.write_points(Category::Metric, &points_from(b * 50, 50, Category::Metric))
            .await
            .unwrap();
    }
    let st = out.stats();
    assert!(st.dropped_overflow > 0, "{st:?}");
    assert!(st.buffer_bytes <= (512 + 64) << 10, "{st:?}");
    let r = serve(tokio::net::TcpListener::bind(addr).await.unwrap(), 0, 200);
    assert!(eventually(20, || out.stats().buffer_bytes == 0).await);
    let got = r.bodies("/v1/write/metric");
    let kept = (batches * 50) as u64 - out.stats().dropped_overflow;
    let newest = |n: usize| points_from(batches * 50 - n, n, Category::Metric);
    // What arrives is the newest `kept` points, in order; or, when the drain task held a batch
    // while its segment was pushed out, that batch first (sent, not counted as dropped), then
    // the newest `kept - 50`.
    let whole = encode_points(&newest(kept as usize));
    let held = (0..batches).find(|b| {
        let mut p = points_from(b * 50, 50, Category::Metric);
        p.extend(newest(kept as usize - 50));
        got == encode_points(&p)
    });
    assert!(
        got == whole || held.is_some(),
        "{} bytes arrived, not the newest {kept} points (with or without one held batch)",
        got.len()
    );
}

#[tokio::test]
async fn acks_cover_every_batch_of_a_send() {
    let ok = start_receiver(0, 200).await;
    let out = Arc::new(dataway(
        vec![format!("http://{}", ok.addr)],
        Compression::Gzip(1),
        0,
    ));
    let (sink, writer) = spawn_writer(
        out,
        4,
        BatchConfig {
            flush_interval: Duration::from_millis(20),
            max_points: 10,
            max_bytes: 1 << 20,
        },
    );
    let (tx, mut acks) = tokio::sync::mpsc::unbounded_channel();
    // 25 metrics and 5 logs: four batches in two categories, one acknowledgement.
    let mut pts = points(25, Category::Metric);
    pts.extend(points(5, Category::Logging));
    sink.send_acked(pts, Ack::to_channel(tx.clone(), "a"))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), acks.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, ("a", AckOutcome::Delivered));
    assert_eq!(ok.got.lock().unwrap().len(), 4, "acked only after all four");
    drop(sink);
    writer.finish().await;

    let refused = start_receiver(usize::MAX, 400).await;
    let out = Arc::new(dataway(
        vec![format!("http://{}", refused.addr)],
        Compression::Gzip(1),
        0,
    ));
    let (sink, writer) = spawn_writer(out, 4, BatchConfig::default());
    sink.send_acked(points(3, Category::Metric), Ack::to_channel(tx, "b"))
        .await
        .unwrap();
    drop(sink);
    writer.finish().await;
    assert_eq!(acks.recv().await.unwrap(), ("b", AckOutcome::Dropped));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataway_over_tls_with_a_private_ca() {
    let (ca_pem, acceptor) = test_pki();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let r = serve_tls(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        acceptor,
    );
    let url = format!("https://{}", r.addr);
    let mut c = config(vec![url.clone()], Compression::Zstd(1), 0);
    c.tls.ca_file = Some(ca);
    let out = HttpOutput::new(c).unwrap();
    let mut sent = Vec::new();
    for b in 0..3 {
        let pts = points_from(b * 20, 20, Category::Metric);
        assert_eq!(
            out.write_points(Category::Metric, &pts).await.unwrap(),
            Delivery::Delivered
        );
        sent.extend(pts);
    }
    assert_eq!(r.bodies("/v1/write/metric"), encode_points(&sent));
    assert_eq!(r.got.lock().unwrap()[0].query, "token=tkn_secret%2F%2B1");

    // Without the CA the certificate is not trusted: the error says so, and a buffered output
    // keeps the batch instead of losing it.
    let mut c = config(vec![url], Compression::Zstd(1), 0);
    c.buffer = Some(BufferConfig::new(dir.path().join("buffer")));
    let untrusted = HttpOutput::new(c).unwrap();
    let pts = points(5, Category::Metric);
    assert_eq!(
        untrusted
            .write_points(Category::Metric, &pts)
            .await
            .unwrap(),
        Delivery::Buffered
    );
    let mut c = config(vec![format!("https://{}", r.addr)], Compression::Zstd(1), 0);
    c.max_retries = 0;
    let e = HttpOutput::new(c)
        .unwrap()
        .write_points(Category::Metric, &pts)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("certificate") && e.contains("ca_file"), "{e}");
}
