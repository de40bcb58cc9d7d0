//! A DataWay stand-in for tests: records every request (path, query, headers, decompressed
//! body) and can fail the first requests with a given status.

#![allow(clippy::unwrap_used)] // a test helper: a broken request should fail the test loudly

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio_rustls::TlsAcceptor;

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    /// Decompressed.
    pub body: String,
    /// gzip members or zstd frames the body was made of, end to end (1 uncompressed).
    pub frames: usize,
}

impl Received {
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// A DataWay stand-in: answers `fail_first` requests with `fail_status`, then 200.
#[derive(Debug, Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    /// Requests answered with success, in order.
    pub got: Arc<Mutex<Vec<Received>>>,
    /// Every request, failed ones too.
    pub requests: Arc<AtomicUsize>,
    /// While set, connections are closed as soon as they are accepted (a DataWay that is down).
    pub down: Arc<AtomicBool>,
}

/// A receiver on a fresh loopback port.
pub async fn start_receiver(fail_first: usize, fail_status: u16) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(listener, fail_first, fail_status)
}

/// A receiver on `listener`; runs on the current tokio runtime until it stops.
pub fn serve(listener: tokio::net::TcpListener, fail_first: usize, fail_status: u16) -> Receiver {
    serve_with(listener, fail_first, fail_status, None)
}

/// As [`serve`], over TLS with `acceptor` (see [`test_pki`]).
pub fn serve_tls(listener: tokio::net::TcpListener, acceptor: TlsAcceptor) -> Receiver {
    serve_with(listener, 0, 200, Some(acceptor))
}

fn serve_with(
    listener: tokio::net::TcpListener,
    fail_first: usize,
    fail_status: u16,
    tls: Option<TlsAcceptor>,
) -> Receiver {
    let r = Receiver {
        addr: listener.local_addr().unwrap(),
        got: Arc::default(),
        requests: Arc::default(),
        down: Arc::default(),
    };
    let rr = r.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            if rr.down.load(Ordering::SeqCst) {
                drop(stream);
                continue;
            }
            let rr = rr.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let rr = rr.clone();
                    async move {
                        if rr.down.load(Ordering::SeqCst) {
                            // An error from the service closes the connection unanswered.
                            return Err(std::io::Error::other("receiver is down"));
                        }
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
                        let frames = match enc.as_deref() {
                            Some("gzip") => gzip_members(&raw),
                            Some("zstd") => zstd_frames(&raw),
                            _ => 1,
                        };
                        let body = match enc.as_deref() {
                            Some("gzip") => {
                                let mut s = String::new();
                                flate2::read::MultiGzDecoder::new(&raw[..])
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
                            return Ok::<_, std::io::Error>(resp);
                        }
                        rr.got.lock().unwrap().push(Received {
                            path,
                            query,
                            headers,
                            body,
                            frames,
                        });
                        Ok(Response::new(Full::new(Bytes::new())))
                    }
                });
                let http = hyper::server::conn::http1::Builder::new();
                let _ = match tls {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(s) => http.serve_connection(TokioIo::new(s), svc).await,
                        Err(_) => return,
                    },
                    None => http.serve_connection(TokioIo::new(stream), svc).await,
                };
            });
        }
    });
    r
}

impl Receiver {
    /// The bodies of successful requests to `path`, concatenated in arrival order.
    pub fn bodies(&self, path: &str) -> String {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|g| g.path == path)
            .map(|g| g.body.as_str())
            .collect()
    }
}

/// The gzip members of `raw`, end to end.
fn gzip_members(mut raw: &[u8]) -> usize {
    let mut n = 0;
    while !raw.is_empty() {
        let mut member = flate2::bufread::GzDecoder::new(raw);
        std::io::copy(&mut member, &mut std::io::sink()).unwrap();
        raw = member.into_inner();
        n += 1;
    }
    n
}

/// The zstd frames of `raw`, end to end.
fn zstd_frames(mut raw: &[u8]) -> usize {
    let mut n = 0;
    while !raw.is_empty() {
        let size = zstd::zstd_safe::find_frame_compressed_size(raw).unwrap();
        raw = &raw[size..];
        n += 1;
    }
    n
}

/// A throwaway CA and a certificate for 127.0.0.1 signed by it: the CA in PEM (for `ca_file`)
/// and an acceptor for [`serve_tls`].
pub fn test_pki() -> (String, TlsAcceptor) {
    let pki = sandkit_testpki::TestPki::generate();
    (pki.ca_pem.clone(), pki.acceptor())
}
