//! Outgoing HTTP for collectors (the `http-client` import): a request reaches only a
//! `host:port` on the plugin's `[sandbox] http` allowlist. Everything else is refused before any
//! connection is made, and logged. Redirects are not followed, the response body is capped, and
//! the time allowed never passes the deadline of the call the request is made in, so a slow
//! target gives the plugin an error it can report instead of a deadline crash. This module is
//! the sandbox's side (the allowlist, the headers a plugin may send, the time left); the
//! exchange itself is [`sandkit_io::fetch`].

use crate::bindings::collector::sandkit::plugin::http_client::{HttpError, Request, Response};
use crate::config::Sandbox;
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use hyper::{Method, Uri};
use sandkit_io::{build_client, FetchError, FetchRequest, HttpClient, TlsProxyConfig};
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
/// says how many times the request was handed to the network (0, 1, or 2 when it was sent
/// again on a closed connection).
pub async fn fetch(
    grant: Option<&HttpGrant>,
    deadline: Option<Instant>,
    req: Request,
) -> (Result<Response, HttpError>, u32) {
    let mut sent = 0;
    let r = exchange(grant, deadline, req, &mut sent).await;
    (r, sent)
}

async fn exchange(
    grant: Option<&HttpGrant>,
    deadline: Option<Instant>,
    req: Request,
    sent: &mut u32,
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
    let request = FetchRequest {
        method,
        uri,
        headers,
        body: Bytes::from(req.body),
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
    match sandkit_io::fetch(client, &request, grant.max_response, allowed, sent).await {
        Ok(f) => Ok(Response {
            status: f.status,
            headers: f.headers,
            body: f.body,
        }),
        Err(FetchError::Failed(why)) => Err(HttpError::Failed(why)),
        Err(FetchError::TooLarge(cap)) => Err(HttpError::TooLarge(cap)),
        Err(FetchError::Timeout(allowed)) => Err(HttpError::Timeout(format!(
            "no complete response from {target} within {allowed:?}"
        ))),
    }
}

#[cfg(test)]
mod tests;
