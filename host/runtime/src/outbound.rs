//! Outgoing HTTP for collectors (the `http-client` import): a request reaches only a
//! `host:port` on the plugin's `[sandbox] http` allowlist. Everything else is refused before any
//! connection is made, and logged. Redirects are not followed, the response body is capped, and
//! the time allowed never passes the deadline of the call the request is made in, so a slow
//! target gives the plugin an error it can report instead of a deadline crash.

use crate::bindings::collector::sandkit::plugin::http_client::{HttpError, Request, Response};
use crate::config::Sandbox;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH, USER_AGENT};
use hyper::{Method, Uri};
use sandkit_io::{build_client, describe_error, HttpClient, TlsProxyConfig};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Default time for a request that asks for none.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on a response body.
pub const DEFAULT_HTTP_MAX_RESPONSE: u64 = 16 << 20;
/// Default cap on the requests of one call (sent or refused).
pub const DEFAULT_HTTP_MAX_REQUESTS: u32 = 100;

/// Headers the host sets or that belong to the connection: a plugin may not send them (a `host`
/// of its own would reach another virtual host behind an allowed `host:port`).
const RESERVED_HEADERS: [&str; 11] = [
    "host",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

/// A host as compared: lower case, without a trailing dot, and an IP address in its canonical
/// form (`0:0::1` is `::1`).
fn normalize_host(host: &str) -> String {
    let h = host.to_ascii_lowercase();
    let h = h.strip_suffix('.').unwrap_or(&h);
    match h.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => h.to_string(),
    }
}

/// One allowlist entry: a host (lower case, IPv6 without brackets) and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    host: String,
    port: u16,
}

impl Target {
    /// Parses `host:port`, `[v6]:port`.
    ///
    /// # Errors
    /// A message naming the entry when it has no port, an empty host, or a scheme or path.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad =
            |why: &str| format!("{text:?} {why}; write \"host:port\", e.g. \"127.0.0.1:9100\"");
        if text.contains('/') || text.contains('@') {
            return Err(bad("is not a host:port (no scheme, path or user)"));
        }
        if text.chars().any(char::is_whitespace) {
            return Err(bad("has spaces"));
        }
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (h, p) = rest.split_once("]:").ok_or_else(|| bad("has no port"))?;
            (h, p)
        } else {
            let (h, p) = text.rsplit_once(':').ok_or_else(|| bad("has no port"))?;
            if h.contains(':') {
                return Err(bad("is an IPv6 address without brackets"));
            }
            (h, p)
        };
        if host.is_empty() || host == "." {
            return Err(bad("has no host"));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("has no valid port"))?;
        Ok(Target {
            host: normalize_host(host),
            port,
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// What one plugin may reach, from its `[sandbox]` table.
#[derive(Debug, Clone)]
pub struct HttpGrant {
    allow: Vec<Target>,
    timeout: Duration,
    max_response: u64,
    /// Requests one call may make, sent or refused.
    pub(crate) max_requests: u32,
}

impl HttpGrant {
    /// The grant of `sandbox`, or `None` when its allowlist is empty. Entries were checked when
    /// the config was parsed; one that does not parse here is left out.
    pub fn from_sandbox(sandbox: &Sandbox) -> Option<Self> {
        let allow: Vec<Target> = sandbox
            .http
            .iter()
            .filter_map(|t| Target::parse(t).ok())
            .collect();
        (!allow.is_empty()).then(|| HttpGrant {
            allow,
            timeout: sandbox.http_timeout.map_or(DEFAULT_HTTP_TIMEOUT, |t| t.0),
            max_response: sandbox
                .http_max_response
                .map_or(DEFAULT_HTTP_MAX_RESPONSE, |b| b.0),
            max_requests: sandbox
                .http_max_requests
                .unwrap_or(DEFAULT_HTTP_MAX_REQUESTS),
        })
    }

    fn allows(&self, target: &Target) -> bool {
        self.allow.iter().any(|t| t == target)
    }
}

/// The client all plugins share: pooled, plain HTTP and TLS with the system roots, no proxy.
fn client() -> Result<&'static HttpClient, String> {
    static CLIENT: OnceLock<Result<HttpClient, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            build_client(&TlsProxyConfig::default(), "plugin http-client")
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The target of an absolute `http://` or `https://` URL.
fn target_of(uri: &Uri) -> Result<Target, String> {
    let port_default = match uri.scheme_str() {
        Some("http") => 80,
        Some("https") => 443,
        Some(other) => return Err(format!("scheme {other:?} is not http or https")),
        None => return Err("not an absolute URL".into()),
    };
    let authority = uri.authority().ok_or("no host")?;
    if authority.as_str().contains('@') {
        return Err("credentials in the URL are not sent: use an authorization header".into());
    }
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err("no host".into());
    }
    Ok(Target {
        host: normalize_host(host),
        port: authority.port_u16().unwrap_or(port_default),
    })
}

/// Time left before `deadline`, less a margin for the plugin to handle the error.
fn time_left(deadline: Option<Instant>, wanted: Duration) -> Duration {
    let Some(deadline) = deadline else {
        return wanted;
    };
    let left = deadline.saturating_duration_since(Instant::now());
    let margin = (left / 10).min(Duration::from_millis(250));
    wanted.min(left.saturating_sub(margin))
}

/// `url` for a log line: without its query (which may hold a secret), at most 200 characters.
pub fn url_for_log(url: &str) -> String {
    let base = url.split(['?', '#']).next().unwrap_or("");
    match base.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &base[..i]),
        None => base.to_string(),
    }
}

/// Sends `req` under `grant` (none: every request is refused; the caller logs refusals), and
/// says whether the request was handed to the network.
pub async fn fetch(
    grant: Option<&HttpGrant>,
    deadline: Option<Instant>,
    req: Request,
) -> (Result<Response, HttpError>, bool) {
    let mut sent = false;
    let r = exchange(grant, deadline, req, &mut sent).await;
    (r, sent)
}

async fn exchange(
    grant: Option<&HttpGrant>,
    deadline: Option<Instant>,
    req: Request,
    sent: &mut bool,
) -> Result<Response, HttpError> {
    let uri: Uri = req
        .url
        .parse()
        .map_err(|e| HttpError::InvalidRequest(format!("url {:?}: {e}", req.url)))?;
    let target = target_of(&uri)
        .map_err(|e| HttpError::InvalidRequest(format!("url {:?}: {e}", req.url)))?;
    let Some(grant) = grant.filter(|g| g.allows(&target)) else {
        let why = match grant {
            None => "the plugin has no [sandbox] http allowlist",
            Some(_) => "not in the plugin's [sandbox] http allowlist",
        };
        return Err(HttpError::Refused(format!("{target}: {why}")));
    };
    let method = Method::from_bytes(req.method.as_bytes())
        .map_err(|_| HttpError::InvalidRequest(format!("method {:?}", req.method)))?;
    let mut headers = HeaderMap::with_capacity(req.headers.len() + 1);
    for (name, value) in &req.headers {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HttpError::InvalidRequest(format!("header name {name:?}")))?;
        if RESERVED_HEADERS.contains(&n.as_str()) {
            return Err(HttpError::InvalidRequest(format!(
                "header {name:?} is set by the host, not by a plugin"
            )));
        }
        let v = HeaderValue::from_str(value)
            .map_err(|_| HttpError::InvalidRequest(format!("value of header {name:?}")))?;
        headers.append(n, v);
    }
    if !headers.contains_key(USER_AGENT) {
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("sandkit/", env!("CARGO_PKG_VERSION"))),
        );
    }
    let replayable = is_replayable(&method, &headers);
    let body = Bytes::from(req.body);
    let request = move || {
        let mut r = hyper::Request::new(Full::new(body.clone()));
        *r.method_mut() = method.clone();
        *r.uri_mut() = uri.clone();
        *r.headers_mut() = headers.clone();
        r
    };
    let client = client().map_err(HttpError::Failed)?;
    let wanted = if req.timeout_ms == 0 {
        grant.timeout
    } else {
        Duration::from_millis(u64::from(req.timeout_ms))
    };
    let allowed = time_left(deadline, wanted);
    if allowed.is_zero() {
        return Err(HttpError::Timeout(
            "no time left before the call's deadline".into(),
        ));
    }
    let cap = grant.max_response;
    *sent = true;
    let exchange = async {
        let resp = match client.request(request()).await {
            Ok(resp) => resp,
            // A kept-alive connection the server closed as the request went out on it: hyper
            // sends it again by itself only when it saw the close before writing. A request
            // that is safe to repeat goes out once more, on a new connection.
            Err(e) if replayable && closed_before_an_answer(&e) => {
                tracing::debug!(%target, error = %describe_error(&e), "connection closed under the request; sending it again");
                client
                    .request(request())
                    .await
                    .map_err(|e| HttpError::Failed(describe_error(&e)))?
            }
            Err(e) => return Err(HttpError::Failed(describe_error(&e))),
        };
        let declared = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > cap) {
            return Err(HttpError::TooLarge(cap));
        }
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = resp.into_body();
        let mut data = Vec::with_capacity(declared.unwrap_or(0) as usize);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| HttpError::Failed(describe_error(&e)))?;
            if let Ok(chunk) = frame.into_data() {
                if (data.len() + chunk.len()) as u64 > cap {
                    return Err(HttpError::TooLarge(cap));
                }
                data.extend_from_slice(&chunk);
            }
        }
        Ok(Response {
            status,
            headers,
            body: data,
        })
    };
    match tokio::time::timeout(allowed, exchange).await {
        Ok(r) => r,
        Err(_) => Err(HttpError::Timeout(format!(
            "no complete response from {target} within {allowed:?}"
        ))),
    }
}

/// Whether a request may go out twice: a method HTTP defines as safe, or a request carrying an
/// idempotency key (the rule Go's `net/http` client applies to the same retry).
fn is_replayable(method: &Method, headers: &HeaderMap) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) || headers.contains_key("idempotency-key")
        || headers.contains_key("x-idempotency-key")
}

/// Whether `err` is a connection that closed or was reset before any answer came, as opposed to
/// a refused connection, a TLS failure or a malformed answer.
fn closed_before_an_answer(err: &hyper_util::client::legacy::Error) -> bool {
    if err.is_connect() {
        return false;
    }
    let mut next = std::error::Error::source(err);
    while let Some(e) = next {
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() {
                return true;
            }
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
            if matches!(io.kind(), ConnectionReset | ConnectionAborted | BrokenPipe) {
                return true;
            }
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn go(
        grant: Option<&HttpGrant>,
        deadline: Option<Instant>,
        req: Request,
    ) -> Result<Response, HttpError> {
        fetch(grant, deadline, req).await.0
    }

    #[test]
    fn targets_parse_and_match_urls() {
        let t = Target::parse("127.0.0.1:9100").unwrap();
        assert_eq!(t.to_string(), "127.0.0.1:9100");
        let v6 = Target::parse("[::1]:9100").unwrap();
        assert_eq!(v6.to_string(), "[::1]:9100");
        assert_eq!(
            Target::parse("Exporter.Example.com:443").unwrap().host,
            "exporter.example.com"
        );
        for bad in [
            "127.0.0.1",
            "http://127.0.0.1:9100",
            "host:0",
            "host:99999",
            ":9100",
            "::1:9100",
            "user@host:80",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad} accepted");
        }
        let of = |u: &str| target_of(&u.parse().unwrap());
        assert_eq!(of("http://127.0.0.1:9100/metrics").unwrap(), t);
        assert_eq!(of("http://[::1]:9100/metrics").unwrap(), v6);
        assert_eq!(
            of("https://EXPORTER.example.com/x").unwrap(),
            Target::parse("exporter.example.com:443").unwrap()
        );
        assert_eq!(
            of("http://example.com/").unwrap(),
            Target::parse("example.com:80").unwrap()
        );
        assert!(of("ftp://example.com/").is_err());
        assert!(of("/metrics").is_err());
        assert!(of("http://user:pw@127.0.0.1:9100/").is_err());
    }

    #[test]
    fn time_left_keeps_a_margin_before_the_deadline() {
        let wanted = Duration::from_secs(10);
        assert_eq!(time_left(None, wanted), wanted);
        let soon = Instant::now() + Duration::from_secs(1);
        let t = time_left(Some(soon), wanted);
        assert!(t <= Duration::from_millis(900), "{t:?}");
        assert!(t >= Duration::from_millis(500), "{t:?}");
        let past = Instant::now() - Duration::from_secs(1);
        assert!(time_left(Some(past), wanted).is_zero());
    }

    /// A loopback server answering each connection with `answer` (after reading the request
    /// head) or, when `answer` is `None`, holding it open without a word. The request heads
    /// come back through the receiver.
    fn server(answer: Option<Vec<u8>>) -> (u16, std::sync::mpsc::Receiver<String>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // `{PORT}` in the answer stands for the server's own port.
        let answer = answer.map(|a| {
            String::from_utf8(a)
                .unwrap()
                .replace("{PORT}", &port.to_string())
                .into_bytes()
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
                match &answer {
                    Some(a) => {
                        let _ = conn.write_all(a);
                    }
                    None => std::thread::sleep(Duration::from_secs(5)),
                }
            }
        });
        (port, rx)
    }

    fn grant(port: u16, max_response: &str) -> HttpGrant {
        let sandbox = Sandbox {
            http: vec![format!("127.0.0.1:{port}")],
            http_max_response: Some(crate::config::ByteSize(
                crate::config::ByteSize::parse(max_response).unwrap(),
            )),
            ..Sandbox::default()
        };
        HttpGrant::from_sandbox(&sandbox).unwrap()
    }

    fn get(port: u16, timeout_ms: u32) -> Request {
        Request {
            method: "GET".into(),
            url: format!("http://127.0.0.1:{port}/metrics"),
            headers: vec![("accept".into(), "text/plain".into())],
            body: vec![],
            timeout_ms,
        }
    }

    #[tokio::test]
    async fn an_allowed_target_answers_and_redirects_are_not_followed() {
        let (port, heads) = server(Some(
            b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{PORT}/next\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nmoved"
                .to_vec(),
        ));
        let r = go(Some(&grant(port, "1KiB")), None, get(port, 0))
            .await
            .unwrap();
        assert_eq!(r.status, 302);
        assert_eq!(r.body, b"moved");
        assert!(r.headers.contains(&("x-a".to_string(), "1".to_string())));
        let head = heads.recv().unwrap().to_ascii_lowercase();
        assert!(head.starts_with("get /metrics http/1.1\r\n"), "{head}");
        assert!(head.contains("accept: text/plain\r\n"), "{head}");
        assert!(head.contains("user-agent: sandkit/"), "{head}");
        // The Location points back at the same server: following it would show a second head.
        assert!(
            heads.recv_timeout(Duration::from_millis(300)).is_err(),
            "the redirect was followed"
        );
    }

    #[tokio::test]
    async fn host_and_connection_headers_are_the_hosts() {
        let (port, heads) = server(Some(b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()));
        for name in ["Host", "transfer-encoding", "Connection", "content-length"] {
            let mut req = get(port, 0);
            req.headers.push((name.into(), "admin.internal".into()));
            match go(Some(&grant(port, "1KiB")), None, req).await {
                Err(HttpError::InvalidRequest(m)) => assert!(m.contains(name), "{m}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(heads.try_recv().is_err(), "a refused request was sent");
        let r = go(Some(&grant(port, "1KiB")), None, get(port, 0))
            .await
            .unwrap();
        assert_eq!(r.status, 204);
        let head = heads.recv().unwrap().to_ascii_lowercase();
        assert!(
            head.contains(&format!("host: 127.0.0.1:{port}\r\n")),
            "{head}"
        );
    }

    #[test]
    fn spellings_of_an_allowed_target_match_and_others_do_not() {
        let sandbox = Sandbox {
            http: vec![
                "Exporter.Example.com.:443".into(),
                "[0:0::1]:9100".into(),
                "127.0.0.1:9100".into(),
            ],
            ..Sandbox::default()
        };
        let g = HttpGrant::from_sandbox(&sandbox).unwrap();
        let allowed = |u: &str| g.allows(&target_of(&u.parse().unwrap()).unwrap());
        assert!(allowed("https://exporter.example.com/metrics"));
        assert!(allowed("https://EXPORTER.example.com.:443/metrics"));
        assert!(allowed("http://[::1]:9100/metrics"));
        assert!(allowed("http://[0::1]:9100/"));
        assert!(allowed("http://127.0.0.1:9100/"));
        assert!(!allowed("http://127.0.0.1:9101/"));
        assert!(!allowed("http://127.0.0.2:9100/"));
        assert!(!allowed("http://exporter.example.com/metrics"), "port 80");
        assert!(!allowed("https://evil-exporter.example.com/"));
        assert!(!allowed("https://exporter.example.com.evil.net/"));
        assert!(
            !allowed("http://localhost:9100/"),
            "a name is not its address"
        );
        assert!(Target::parse(" 127.0.0.1:9100").is_err());
        assert!(Target::parse(".:80").is_err());
        assert_eq!(
            url_for_log("http://h:1/metrics?token=secret"),
            "http://h:1/metrics"
        );
        assert_eq!(url_for_log(&"a".repeat(300)).len(), 203);
    }

    #[tokio::test]
    async fn a_large_body_a_slow_target_and_a_closed_port_are_errors() {
        let big = {
            let mut r = b"HTTP/1.1 200 OK\r\nContent-Length: 2048\r\n\r\n".to_vec();
            r.extend(std::iter::repeat_n(b'x', 2048));
            r
        };
        let (port, _h) = server(Some(big));
        match go(Some(&grant(port, "1KiB")), None, get(port, 0)).await {
            Err(HttpError::TooLarge(1024)) => {}
            other => panic!("{other:?}"),
        }
        // No Content-Length: the cap is applied while reading.
        let chunked = {
            let mut r = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
            r.extend(std::iter::repeat_n(b'x', 4096));
            r
        };
        let (port, _h) = server(Some(chunked));
        match go(Some(&grant(port, "1KiB")), None, get(port, 0)).await {
            Err(HttpError::TooLarge(1024)) => {}
            other => panic!("{other:?}"),
        }

        let (port, _h) = server(None);
        let start = Instant::now();
        match go(Some(&grant(port, "1KiB")), None, get(port, 200)).await {
            Err(HttpError::Timeout(m)) => assert!(m.contains("200ms"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(2));
        // The call's deadline wins over a longer timeout, with a margin left to the plugin.
        let deadline = Instant::now() + Duration::from_millis(500);
        match go(Some(&grant(port, "1KiB")), Some(deadline), get(port, 0)).await {
            Err(HttpError::Timeout(_)) => {}
            other => panic!("{other:?}"),
        }
        assert!(Instant::now() < deadline, "returned after the deadline");

        let closed = closed_port();
        match go(Some(&grant(closed, "1KiB")), None, get(closed, 0)).await {
            Err(HttpError::Failed(m)) => assert!(m.to_lowercase().contains("refused"), "{m}"),
            other => panic!("{other:?}"),
        }
        let mut bad = get(port, 0);
        bad.headers.push(("bad header".into(), "x".into()));
        match go(Some(&grant(port, "1KiB")), None, bad).await {
            Err(HttpError::InvalidRequest(m)) => assert!(m.contains("bad header"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    /// A server that closes a kept-alive connection when the next request arrives on it, as a
    /// server closing an idle connection does when the request crosses its close. The heads of
    /// every request come back through the receiver, and each answer is `ok`.
    fn closing_server() -> (u16, std::sync::mpsc::Receiver<String>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                for answered in [true, false] {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                        head.push(byte[0]);
                    }
                    if head.is_empty() {
                        break;
                    }
                    let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
                    if answered {
                        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                    }
                }
            }
        });
        (port, rx)
    }

    #[tokio::test]
    async fn a_get_on_a_connection_the_server_closed_is_sent_again_once() {
        let (port, heads) = closing_server();
        let grant = grant(port, "1KiB");
        let r = go(Some(&grant), None, get(port, 0)).await.unwrap();
        assert_eq!(r.body, b"ok");
        // The pooled connection is taken again and closed under the second request: it goes
        // out once more on a new connection, and the plugin sees only the answer.
        let r = go(Some(&grant), None, get(port, 0)).await.unwrap();
        assert_eq!(r.body, b"ok");
        let seen: Vec<String> = heads.try_iter().collect();
        assert_eq!(seen.len(), 3, "{seen:?}");

        // A POST is not sent twice: the plugin gets the error and decides.
        let (port, heads) = closing_server();
        let grant = super::tests::grant(port, "1KiB");
        let mut post = get(port, 0);
        post.method = "POST".into();
        post.body = b"a=1".to_vec();
        let r = go(Some(&grant), None, post.clone()).await.unwrap();
        assert_eq!(r.body, b"ok");
        match go(Some(&grant), None, post).await {
            Err(HttpError::Failed(m)) => {
                assert!(m.contains("closed") || m.contains("reset"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(heads.try_iter().count(), 2, "the POST was sent again");
    }

    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[tokio::test]
    async fn a_target_off_the_list_is_refused_without_a_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let sandbox = Sandbox {
            http: vec!["127.0.0.1:1".into()],
            ..Sandbox::default()
        };
        let grant = HttpGrant::from_sandbox(&sandbox).unwrap();
        let req = |url: String| Request {
            method: "GET".into(),
            url,
            headers: vec![],
            body: vec![],
            timeout_ms: 0,
        };
        let url = format!("http://127.0.0.1:{port}/metrics");
        match go(Some(&grant), None, req(url.clone())).await {
            Err(HttpError::Refused(m)) => assert!(m.contains(&format!("127.0.0.1:{port}")), "{m}"),
            other => panic!("{other:?}"),
        }
        match go(None, None, req(url)).await {
            Err(HttpError::Refused(m)) => assert!(m.contains("no [sandbox] http"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(
            listener.accept().is_err(),
            "a refused request must not connect"
        );
        assert!(HttpGrant::from_sandbox(&Sandbox::default()).is_none());
    }
}
