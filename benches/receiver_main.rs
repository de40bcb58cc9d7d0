//! `bench-receiver`: a counting HTTP receiver for `benches/tail.sh`. Answers 204 to every request
//! after reading its body, and keeps the sum of the `X-Points` headers and of the body bytes (as
//! sent, i.e. compressed). Every 100 ms it writes
//! `<points> <bytes> <requests> <last> <first> <first points>` to COUNT_FILE, `<last>` and
//! `<first>` being when the latest and the first request with points were answered (Unix time in
//! ns), through a rename so that a reader never sees half a line; `GET /count` answers the same.
//! The first request's time and points give a rate without the sender's start-up.
//!
//! `bench-receiver ADDR COUNT_FILE`, e.g. `bench-receiver 127.0.0.1:0 /tmp/count`: the bound
//! address is printed alone on the first line of stdout. One thread, so that its CPU time is
//! easy to tell apart from the agent's.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
struct Counts {
    points: AtomicU64,
    bytes: AtomicU64,
    requests: AtomicU64,
    last_ns: AtomicU64,
    first: std::sync::OnceLock<(u64, u64)>,
}

impl Counts {
    fn line(&self) -> String {
        let (first_ns, first_points) = self.first.get().copied().unwrap_or((0, 0));
        format!(
            "{} {} {} {} {first_ns} {first_points}\n",
            self.points.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.requests.load(Ordering::Relaxed),
            self.last_ns.load(Ordering::Relaxed)
        )
    }
}

async fn handle(
    c: Arc<Counts>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    if req.method() == Method::GET && req.uri().path() == "/count" {
        return Ok(Response::new(Full::new(Bytes::from(c.line()))));
    }
    let n: u64 = req
        .headers()
        .get("x-points")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0);
    let body = req.into_body().collect().await?.to_bytes();
    c.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    c.points.fetch_add(n, Ordering::Relaxed);
    c.requests.fetch_add(1, Ordering::Relaxed);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let now = u64::try_from(now).unwrap_or(u64::MAX);
    c.last_ns.fetch_max(now, Ordering::Relaxed);
    if n > 0 {
        c.first.get_or_init(|| (now, n));
    }
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

fn write_count(path: &PathBuf, c: &Counts) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, c.line())?;
    std::fs::rename(&tmp, path)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(file)) = (args.next(), args.next()) else {
        return Err("usage: bench-receiver ADDR COUNT_FILE".into());
    };
    let file = PathBuf::from(file);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let mut out = std::io::stdout();
    writeln!(out, "{}", listener.local_addr()?)?;
    out.flush()?;
    let counts = Arc::new(Counts::default());
    write_count(&file, &counts)?;
    let c = counts.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            if let Err(e) = write_count(&file, &c) {
                eprintln!("bench-receiver: {}: {e}", file.display());
            }
        }
    });
    loop {
        let (stream, _) = listener.accept().await?;
        let c = counts.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(c.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
