use super::*;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Response, StatusCode};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const LIMIT: Duration = Duration::from_secs(20);

/// A CA (PEM) and a TLS acceptor whose certificate (for 127.0.0.1) that CA signed.
fn pki() -> (String, TlsAcceptor) {
    let pki = sandkit_testpki::TestPki::generate();
    (pki.ca_pem.clone(), pki.acceptor())
}

/// What the test server received: method, request target, headers, body.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    target: String,
    proxy_auth: Option<String>,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Log {
    accepted: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Seen>>>,
}

/// An HTTP/1.1 server on a free loopback port (TLS if `tls` is set) answering "ok".
async fn server(tls: Option<TlsAcceptor>) -> (SocketAddr, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Log::default();
    let shared = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            shared.accepted.fetch_add(1, Ordering::SeqCst);
            let requests = shared.requests.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let requests = requests.clone();
                    async move {
                        let method = req.method().clone();
                        let target = req.uri().to_string();
                        let proxy_auth = req
                            .headers()
                            .get(PROXY_AUTHORIZATION)
                            .map(|v| v.to_str().unwrap().to_string());
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        requests.lock().unwrap().push(Seen {
                            method,
                            target,
                            proxy_auth,
                            body,
                        });
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("ok"))))
                    }
                });
                let http = hyper::server::conn::http1::Builder::new();
                let _ = match tls {
                    Some(acceptor) => match acceptor.accept(tcp).await {
                        Ok(s) => http.serve_connection(TokioIo::new(s), service).await,
                        Err(_) => return,
                    },
                    None => http.serve_connection(TokioIo::new(tcp), service).await,
                };
            });
        }
    });
    (addr, log)
}

/// A small HTTP proxy: `CONNECT host:port` is answered 200 and then tunnelled; an
/// absolute-form request is forwarded, with the rest of the connection, to its host. Records
/// each connection's request head.
async fn proxy() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let shared = heads.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let heads = shared.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let end = loop {
                    let mut chunk = [0u8; 4096];
                    let n = client.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "proxy: connection closed inside the request head");
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                heads.lock().unwrap().push(head.clone());
                let mut parts = head.split_whitespace();
                let method = parts.next().unwrap().to_string();
                let target = parts.next().unwrap().to_string();
                let mut upstream = if method == "CONNECT" {
                    let upstream = TcpStream::connect(&target).await.unwrap();
                    client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await
                        .unwrap();
                    buf.drain(..end);
                    upstream
                } else {
                    let rest = target.strip_prefix("http://").unwrap();
                    let authority = rest.split('/').next().unwrap();
                    TcpStream::connect(authority).await.unwrap()
                };
                upstream.write_all(&buf).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (addr, heads)
}

async fn post(client: &HttpClient, url: &str, body: &'static str) -> (StatusCode, Bytes) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(url)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = client
        .request(req)
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {}", describe_error(&e)));
    let status = resp.status();
    (status, resp.into_body().collect().await.unwrap().to_bytes())
}

fn ca_file(dir: &tempfile::TempDir, pem: &str) -> PathBuf {
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, pem).unwrap();
    path
}

fn basic(userpass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(userpass)
    )
}

#[tokio::test]
async fn https_post_trusts_ca_file_and_reuses_the_connection() {
    tokio::time::timeout(LIMIT, async {
        let (ca_pem, acceptor) = pki();
        let dir = tempfile::tempdir().unwrap();
        let (addr, log) = server(Some(acceptor)).await;
        let cfg = TlsProxyConfig {
            ca_file: Some(ca_file(&dir, &ca_pem)),
            proxy: None,
        };
        let client = build_client(&cfg, "test").unwrap();
        assert!(!client.tls_loaded());
        let url = format!("https://{addr}/write?db=x");
        assert_eq!(
            post(&client, &url, "cpu v=1").await,
            (StatusCode::OK, "ok".into())
        );
        assert!(client.tls_loaded());
        // Let the first connection go back to the pool before the second request checks
        // one out (else the client may start a second connection in the race).
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            post(&client, &url, "cpu v=2").await,
            (StatusCode::OK, "ok".into())
        );
        let seen = log.requests.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        assert!(seen
            .iter()
            .all(|s| s.method == Method::POST && s.target == "/write?db=x"));
        assert_eq!(seen[0].body, "cpu v=1");
        assert_eq!(seen[1].body, "cpu v=2");
        assert_eq!(
            log.accepted.load(Ordering::SeqCst),
            1,
            "one TCP connection reused"
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn https_without_the_ca_file_fails_on_the_certificate() {
    tokio::time::timeout(LIMIT, async {
        let (_, acceptor) = pki();
        let (addr, log) = server(Some(acceptor)).await;
        let client = build_client(&TlsProxyConfig::default(), "test").unwrap();
        let req = Request::post(format!("https://{addr}/write"))
            .body(Full::new(Bytes::from("cpu v=1")))
            .unwrap();
        let err = client.request(req).await.unwrap_err();
        let text = describe_error(&err);
        assert!(
            text.contains(&format!("tls handshake with {addr}")),
            "{text}"
        );
        assert!(text.contains("certificate"), "{text}");
        assert!(text.contains("UnknownIssuer"), "{text}");
        assert!(log.requests.lock().unwrap().is_empty());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn https_through_a_proxy_uses_connect_with_basic_auth() {
    tokio::time::timeout(LIMIT, async {
        let (ca_pem, acceptor) = pki();
        let dir = tempfile::tempdir().unwrap();
        let (addr, log) = server(Some(acceptor)).await;
        let (proxy_addr, heads) = proxy().await;
        let cfg = TlsProxyConfig {
            ca_file: Some(ca_file(&dir, &ca_pem)),
            proxy: Some(format!("http://agent:s%3Acret@{proxy_addr}")),
        };
        let client = build_client(&cfg, "test").unwrap();
        let url = format!("https://{addr}/write");
        assert_eq!(
            post(&client, &url, "cpu v=1").await,
            (StatusCode::OK, "ok".into())
        );
        let heads = heads.lock().unwrap().clone();
        assert_eq!(heads.len(), 1);
        assert!(
            heads[0].starts_with(&format!("CONNECT {addr} HTTP/1.1\r\n")),
            "{heads:?}"
        );
        let auth = format!("Proxy-Authorization: {}\r\n", basic("agent:s:cret"));
        assert!(heads[0].contains(&auth), "{heads:?}");
        let seen = log.requests.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].target, "/write");
        assert_eq!(seen[0].body, "cpu v=1");
        assert_eq!(seen[0].proxy_auth, None, "credentials stay with the proxy");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn http_through_a_proxy_uses_absolute_form() {
    tokio::time::timeout(LIMIT, async {
        let (addr, log) = server(None).await;
        let (proxy_addr, heads) = proxy().await;
        let url = format!("http://{addr}/write?db=x");

        let cfg = TlsProxyConfig {
            ca_file: None,
            proxy: Some(format!("http://agent:pw@{proxy_addr}/")),
        };
        let client = build_client(&cfg, "test").unwrap();
        assert_eq!(
            post(&client, &url, "cpu v=1").await,
            (StatusCode::OK, "ok".into())
        );
        // Plain HTTP never loads the system's CA certificates.
        assert!(!client.tls_loaded());
        let head = heads.lock().unwrap()[0].clone();
        assert!(
            head.starts_with(&format!("POST {url} HTTP/1.1\r\n")),
            "{head}"
        );
        assert!(head.to_ascii_lowercase().contains(&format!(
            "proxy-authorization: {}\r\n",
            basic("agent:pw").to_ascii_lowercase()
        )));

        let cfg = TlsProxyConfig {
            ca_file: None,
            proxy: Some(format!("http://{proxy_addr}")),
        };
        let client = build_client(&cfg, "test").unwrap();
        assert_eq!(
            post(&client, &url, "cpu v=2").await,
            (StatusCode::OK, "ok".into())
        );
        let head = heads.lock().unwrap()[1].clone();
        assert!(
            head.starts_with(&format!("POST {url} HTTP/1.1\r\n")),
            "{head}"
        );
        assert!(
            !head.to_ascii_lowercase().contains("proxy-authorization"),
            "{head}"
        );

        let seen = log.requests.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].body, "cpu v=1");
        assert_eq!(seen[1].body, "cpu v=2");
    })
    .await
    .unwrap();
}

fn config_error(cfg: TlsProxyConfig) -> String {
    let err = build_client(&cfg, "influx").unwrap_err();
    assert!(matches!(err, IoError::Config { .. }), "{err:?}");
    err.to_string()
}

#[test]
fn bad_config_errors_name_the_file_or_url_but_not_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem");
    let text = config_error(TlsProxyConfig {
        ca_file: Some(missing.clone()),
        proxy: None,
    });
    assert!(
        text.starts_with("output influx: config: ca_file "),
        "{text}"
    );
    assert!(
        text.contains(&format!("{}: cannot read", missing.display())),
        "{text}"
    );

    let empty = dir.path().join("empty.pem");
    let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
    std::fs::write(&empty, format!("just text\n{key}")).unwrap();
    let text = config_error(TlsProxyConfig {
        ca_file: Some(empty.clone()),
        proxy: None,
    });
    let want = format!("ca_file {}: no PEM certificate found", empty.display());
    assert!(text.ends_with(&want), "{text}");

    for (proxy, shown) in [
        (
            "https://agent:hunter2@proxy:3128",
            "https://agent:***@proxy:3128",
        ),
        ("socks5://proxy:1080", "socks5://proxy:1080"),
        ("proxy:3128", "proxy:3128"),
        ("agent:hunter2@proxy:3128", "agent:***@proxy:3128"),
    ] {
        let text = config_error(TlsProxyConfig {
            ca_file: None,
            proxy: Some(proxy.to_string()),
        });
        assert!(text.contains(&format!("proxy {shown:?}: ")), "{text}");
        assert!(text.contains("not an http:// URL"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
    let text = config_error(TlsProxyConfig {
        ca_file: None,
        proxy: Some("http://agent:hunter2@proxy:3128/path".into()),
    });
    assert!(text.contains("must not have a path"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    let text = config_error(TlsProxyConfig {
        ca_file: None,
        proxy: Some("http://a:hunter2/x@y@proxy:3128 bad".into()),
    });
    assert!(!text.contains("hunter2"), "{text}");

    let cfg = TlsProxyConfig {
        ca_file: None,
        proxy: Some("http://agent:hunter2@127.0.0.1:3128".into()),
    };
    let client = build_client(&cfg, "influx").unwrap();
    assert!(!format!("{cfg:?} {client:?}").contains("hunter2"));
    assert!(format!("{cfg:?}").contains("agent:***@127.0.0.1:3128"));
}

#[test]
fn percent_decoding_of_credentials() {
    assert_eq!(percent_decode("a%40b%3a%zz%4"), b"a@b:%zz%4");
}
