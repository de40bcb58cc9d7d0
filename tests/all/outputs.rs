//! HTTP outputs against an in-test DataWay receiver: URL, token, headers, gzip and zstd bodies
//! that decode to exactly the points sent, retries on 5xx and transport errors, no retry on 4xx,
//! fan-out to several DataWays, and an outage after which every point arrives once and in order.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sandkit_io::{
    encode_points, spawn_writer, BatchConfig, Category, Compression, Endpoint, FieldValue,
    HttpOutput, HttpOutputConfig, Output, Point,
};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
struct Received {
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// A DataWay stand-in: answers `fail_first` requests with `fail_status`, then 200.
#[derive(Debug, Clone)]
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
    requests: Arc<AtomicUsize>,
}

async fn start_receiver(fail_first: usize, fail_status: u16) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(listener, fail_first, fail_status)
}

fn serve(listener: tokio::net::TcpListener, fail_first: usize, fail_status: u16) -> Receiver {
    let r = Receiver {
        addr: listener.local_addr().unwrap(),
        got: Arc::default(),
        requests: Arc::default(),
    };
    let rr = r.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let rr = rr.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let rr = rr.clone();
                    async move {
                        let n = rr.requests.fetch_add(1, Ordering::SeqCst);
                        let path = req.uri().path().to_string();
                        let query = req.uri().query().unwrap_or_default().to_string();
                        let headers: Vec<(String, String)> = req
                            .headers()
                            .iter()
                            .map(|(k, v)| {
                                (k.to_string(), v.to_str().unwrap_or_default().to_string())
                            })
                            .collect();
                        let raw = req.into_body().collect().await.unwrap().to_bytes();
                        let enc = headers
                            .iter()
                            .find(|(k, _)| k == "content-encoding")
                            .map(|(_, v)| v.clone());
                        let body = match enc.as_deref() {
                            Some("gzip") => {
                                let mut s = String::new();
                                flate2::read::GzDecoder::new(&raw[..])
                                    .read_to_string(&mut s)
                                    .unwrap();
                                s
                            }
                            Some("zstd") => {
                                String::from_utf8(zstd::decode_all(&raw[..]).unwrap()).unwrap()
                            }
                            _ => String::from_utf8(raw.to_vec()).unwrap(),
                        };
                        if n < fail_first {
                            let resp = Response::builder()
                                .status(fail_status)
                                .body(Full::new(Bytes::from("{\"error\":\"go away\"}")))
                                .unwrap();
                            return Ok::<_, std::convert::Infallible>(resp);
                        }
                        rr.got.lock().unwrap().push(Received {
                            path,
                            query,
                            headers,
                            body,
                        });
                        Ok(Response::new(Full::new(Bytes::new())))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    r
}

fn points(n: usize, cat: Category) -> Vec<Point> {
    (0..n)
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
    HttpOutput::new(HttpOutputConfig {
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
    })
    .unwrap()
}

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
        out.write(Category::Logging, &pts).await.unwrap();
        let got = r.got.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        let g = &got[0];
        assert_eq!(g.path, "/v1/write/logging");
        assert_eq!(g.query, "token=tkn_secret%2F%2B1");
        assert_eq!(g.header("x-points"), Some("50"));
        assert_eq!(g.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(g.header("content-encoding"), compression.content_encoding());
        assert_eq!(g.body, encode_points(&pts), "{compression:?}");
        assert_eq!(out.stats().points_sent.load(Ordering::Relaxed), 50);
    }
}

#[tokio::test]
async fn retries_on_5xx_but_not_on_4xx() {
    let r = start_receiver(2, 503).await;
    let out = dataway(vec![format!("http://{}", r.addr)], Compression::Gzip(1), 5);
    out.write(Category::Metric, &points(3, Category::Metric))
        .await
        .unwrap();
    assert_eq!(r.requests.load(Ordering::SeqCst), 3);
    assert_eq!(r.got.lock().unwrap().len(), 1);
    assert_eq!(out.stats().retries.load(Ordering::Relaxed), 2);

    let r = start_receiver(usize::MAX, 400).await;
    let out = dataway(vec![format!("http://{}", r.addr)], Compression::Gzip(1), 5);
    let e = out
        .write(Category::Metric, &points(3, Category::Metric))
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
    assert_eq!(out.stats().dropped_rejected.load(Ordering::Relaxed), 3);
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
    out.write(Category::Object, &points(2, Category::Object))
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
        out.stats().retries.load(Ordering::Relaxed) > 0,
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
    assert_eq!(out.stats().dropped_unreachable.load(Ordering::Relaxed), 0);
}
