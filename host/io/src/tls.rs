//! HTTPS and HTTP proxy support for the HTTP outputs: one pooled HTTP/1.1 client that speaks
//! plain HTTP and TLS (rustls with the `ring` provider, the system roots plus an optional CA
//! file), directly or through an `http://` proxy. An `https://` target goes through the proxy
//! with `CONNECT host:port` and TLS inside the tunnel; an `http://` target is sent to the proxy
//! in absolute form. Basic auth for the proxy comes from the proxy URL's userinfo; the password
//! never appears in an error, a log line or a `Debug` output.

use crate::IoError;
use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, PROXY_AUTHORIZATION};
use hyper::{Request, Uri};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tower_service::Service;

/// TLS and proxy settings of an HTTP output.
#[derive(Clone, Default)]
pub struct TlsProxyConfig {
    /// Extra PEM CA certificates trusted in addition to the system roots (one file, may hold
    /// several certificates).
    pub ca_file: Option<PathBuf>,
    /// `http://host:port` (optionally `http://user:pass@host:port`, percent-encoded) of a proxy:
    /// `https://` targets go through `CONNECT`, `http://` targets are sent in absolute form.
    pub proxy: Option<String>,
}

impl std::fmt::Debug for TlsProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsProxyConfig")
            .field("ca_file", &self.ca_file)
            .field("proxy", &self.proxy.as_deref().map(redact_proxy))
            .finish()
    }
}

/// The HTTP client of an output: a pooled `hyper_util` legacy client over [`SandkitConnector`]
/// that also adds `Proxy-Authorization` to plain `http://` requests sent through a proxy with
/// credentials (a connector cannot add headers, so this is a thin wrapper, not a type alias).
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: Client<SandkitConnector, Full<Bytes>>,
    /// `Basic ...`, marked sensitive so `Debug` does not show it.
    proxy_auth: Option<HeaderValue>,
    /// The connector's TLS side, to tell whether it was made.
    tls: Arc<LazyTls>,
}

impl HttpClient {
    /// Sends a request with an absolute URI (`http://` or `https://`), like
    /// [`Client::request`]. Transport errors carry their cause in the source chain: show them
    /// with [`describe_error`].
    pub fn request(&self, mut req: Request<Full<Bytes>>) -> ResponseFuture {
        if let Some(auth) = &self.proxy_auth {
            if req.uri().scheme() == Some(&hyper::http::uri::Scheme::HTTP) {
                req.headers_mut()
                    .entry(PROXY_AUTHORIZATION)
                    .or_insert_with(|| auth.clone());
            }
        }
        self.client.request(req)
    }

    /// Whether the TLS side (the system's CA certificates) was loaded: only once an `https://`
    /// connection was made.
    pub fn tls_loaded(&self) -> bool {
        self.tls.made.initialized()
    }
}

/// Builds the client of output `output`: system roots plus `cfg.ca_file`, HTTP/1.1 with ALPN
/// `http/1.1`, TCP nodelay, idle connections kept 90 s for reuse, and `cfg.proxy` if set.
/// Having no trusted root at all is not an error here (the URLs are not known): an `https://`
/// request then fails its handshake with an error that says so.
///
/// # Errors
/// [`IoError::Config`] if the CA file cannot be read or holds no valid certificate, or the proxy
/// is not an `http://host[:port]` URL.
pub fn build_client(cfg: &TlsProxyConfig, output: &str) -> Result<HttpClient, IoError> {
    let config_error = |message: String| IoError::Config {
        output: output.to_string(),
        message,
    };
    // The CA file is read and checked now (a config error shows at start); the system roots
    // are loaded at the first `https://` connection, so that an agent whose targets are all
    // `http://` never reads them (~150 files, parsed into memory it would keep).
    let extra = ca_roots(cfg.ca_file.as_deref()).map_err(config_error)?;
    let mut tcp = HttpConnector::new();
    tcp.set_nodelay(true);
    tcp.enforce_http(false);
    let proxy = match &cfg.proxy {
        Some(raw) => Some(parse_proxy(raw).map_err(config_error)?),
        None => None,
    };
    tracing::debug!(
        output,
        ca_file = ?cfg.ca_file,
        proxy = proxy.as_ref().map(|p| p.shown.as_str()),
        "http client built"
    );
    let proxy_auth = proxy.as_ref().and_then(|p| p.auth.clone());
    let tls = Arc::new(LazyTls {
        output: output.to_string(),
        extra,
        made: tokio::sync::OnceCell::new(),
    });
    let connector = SandkitConnector {
        proxy: proxy.map(|p| {
            let tunnel = Tunnel::new(p.uri.clone(), tcp.clone());
            let tunnel = match &p.auth {
                Some(auth) => tunnel.with_auth(auth.clone()),
                None => tunnel,
            };
            ProxyRoute {
                uri: p.uri,
                shown: p.shown,
                tunnel,
            }
        }),
        tcp,
        tls: tls.clone(),
    };
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_timer(TokioTimer::new())
        .build(connector);
    Ok(HttpClient {
        client,
        proxy_auth,
        tls,
    })
}

/// The cause of an error and all its sources, joined with ": " (the client's own errors say
/// only "client error (Connect)" at the top).
pub fn describe_error(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = e.source();
    }
    out
}

fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("ca_file {shown}: cannot read: {e}"))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("ca_file {shown}: invalid PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("ca_file {shown}: no PEM certificate found"));
    }
    Ok(certs)
}

/// A validated proxy URL.
#[derive(Debug)]
struct ProxySettings {
    /// `http://host:port`, without userinfo.
    uri: Uri,
    /// The URL as written, password replaced by `***`: for errors and logs.
    shown: String,
    auth: Option<HeaderValue>,
}

fn parse_proxy(raw: &str) -> Result<ProxySettings, String> {
    let shown = redact_proxy(raw);
    let bad = |why: &str| format!("proxy {shown:?}: {why}");
    let uri: Uri = raw
        .trim()
        .parse()
        .map_err(|e| bad(&format!("not a valid URL ({e})")))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad(
            "not an http:// URL (https:// and socks proxies are not supported)",
        ));
    }
    let authority = uri.authority().ok_or_else(|| bad("has no host"))?;
    let host = authority.host();
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
        return Err(bad("must not have a path or query"));
    }
    let port = authority.port_u16().unwrap_or(80);
    let target: Uri = format!("http://{host}:{port}")
        .parse()
        .map_err(|e| bad(&format!("not a valid URL ({e})")))?;
    let auth = match authority.as_str().rsplit_once('@') {
        Some((userinfo, _)) => {
            let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let mut plain = percent_decode(user);
            plain.push(b':');
            plain.extend(percent_decode(pass));
            let encoded = base64::engine::general_purpose::STANDARD.encode(plain);
            let mut value = HeaderValue::try_from(format!("Basic {encoded}"))
                .map_err(|_| bad("credentials do not fit in a header"))?;
            value.set_sensitive(true);
            Some(value)
        }
        None => None,
    };
    Ok(ProxySettings {
        uri: target,
        shown,
        auth,
    })
}

/// The proxy URL with the password (anything between the first ':' of the userinfo and the last
/// '@') replaced by `***`; it works on strings that are not valid URLs too.
fn redact_proxy(raw: &str) -> String {
    let start = raw.find("://").map_or(0, |i| i + 3);
    let Some(at) = raw[start..].rfind('@').map(|i| start + i) else {
        return raw.to_string();
    };
    match raw[start..at].find(':') {
        Some(colon) => format!("{}:***{}", &raw[..start + colon], &raw[at..]),
        None => raw.to_string(),
    }
}

/// `%XX` sequences decoded; anything else, including a malformed `%`, kept as it is.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The connector of [`HttpClient`]: TCP (nodelay), then TLS for `https://`, directly or through
/// the configured proxy.
#[derive(Clone)]
pub struct SandkitConnector {
    tcp: HttpConnector,
    tls: Arc<LazyTls>,
    proxy: Option<ProxyRoute>,
}

/// The TLS client side of a connector, made at its first `https://` connection.
struct LazyTls {
    output: String,
    /// The certificates of `ca_file`, trusted beside the system roots.
    extra: rustls::RootCertStore,
    /// The connector, and whether it has no trusted root at all (said in handshake errors).
    made: tokio::sync::OnceCell<Result<(TlsConnector, bool), String>>,
}

impl std::fmt::Debug for LazyTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyTls")
            .field("ca_file_certs", &self.extra.len())
            .field("made", &self.made.initialized())
            .finish()
    }
}

impl LazyTls {
    /// The connector, made once; the system's certificates are read on a blocking thread
    /// (about 150 files), and connections that want it meanwhile wait without holding a worker.
    async fn get(&self) -> Result<&(TlsConnector, bool), ConnectError> {
        self.made
            .get_or_init(|| async {
                let (output, extra) = (self.output.clone(), self.extra.clone());
                tokio::task::spawn_blocking(move || make_tls(&output, extra, Some(b"http/1.1")))
                    .await
                    .unwrap_or_else(|e| Err(format!("tls setup: {e}")))
            })
            .await
            .as_ref()
            .map_err(|e| ConnectError(e.clone()))
    }
}

/// The certificates of a CA file, checked, to trust beside the system roots.
///
/// # Errors
/// The file cannot be read or holds no usable certificate.
pub(crate) fn ca_roots(path: Option<&Path>) -> Result<rustls::RootCertStore, String> {
    let mut extra = rustls::RootCertStore::empty();
    if let Some(path) = path {
        for cert in read_ca_file(path)? {
            extra.add(cert).map_err(|e| {
                format!(
                    "ca_file {}: not a usable CA certificate: {e}",
                    path.display()
                )
            })?;
        }
    }
    Ok(extra)
}

/// A TLS connector for a protocol of the output's own (NATS): the system roots plus `extra`
/// (from [`ca_roots`]), no ALPN. It reads the system's certificates: call it off the async
/// workers.
///
/// # Errors
/// rustls refuses the settings (it does not with its defaults).
pub(crate) fn stream_connector(
    output: &str,
    extra: rustls::RootCertStore,
) -> Result<TlsConnector, String> {
    make_tls(output, extra, None).map(|(c, _)| c)
}

/// The TLS connector of output `output`: the system roots plus `roots` (the CA file's), with
/// `alpn` (HTTP/1.1 for the HTTP outputs) when given.
fn make_tls(
    output: &str,
    mut roots: rustls::RootCertStore,
    alpn: Option<&[u8]>,
) -> Result<(TlsConnector, bool), String> {
    let native = rustls_native_certs::load_native_certs();
    let (system_roots, _) = roots.add_parsable_certificates(native.certs);
    for e in &native.errors {
        tracing::warn!(output, error = %e, "cannot load some system CA certificates");
    }
    tracing::debug!(output, system_roots, "tls client built");
    let no_roots = roots.is_empty();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = alpn.into_iter().map(<[u8]>::to_vec).collect();
    Ok((TlsConnector::from(Arc::new(tls)), no_roots))
}

#[derive(Debug, Clone)]
struct ProxyRoute {
    uri: Uri,
    shown: String,
    tunnel: Tunnel<HttpConnector>,
}

impl std::fmt::Debug for SandkitConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandkitConnector")
            .field("proxy", &self.proxy.as_ref().map(|p| &p.shown))
            .field("tls", &self.tls)
            .finish()
    }
}

/// Why a connection could not be made, with the target (and proxy) named. The text already
/// holds the cause, so it has no `source`.
#[derive(Debug)]
pub struct ConnectError(String);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectError {}

type Connecting = Pin<Box<dyn Future<Output = Result<SandkitStream, ConnectError>> + Send>>;

impl Service<Uri> for SandkitConnector {
    type Response = SandkitStream;
    type Error = ConnectError;
    type Future = Connecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // HttpConnector and Tunnel are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        Box::pin(self.clone().connect(dst))
    }
}

impl SandkitConnector {
    async fn connect(mut self, dst: Uri) -> Result<SandkitStream, ConnectError> {
        let https = match dst.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(ConnectError(format!("{dst}: not an http(s) URL"))),
        };
        let host = dst
            .host()
            .ok_or_else(|| ConnectError(format!("{dst}: no host")))?;
        let port = dst.port_u16().unwrap_or(if https { 443 } else { 80 });
        let target = format!("{host}:{port}");
        let fail = |what: String, e: &dyn std::error::Error| {
            ConnectError(format!("{what}: {}", describe_error(e)))
        };
        let tcp = match (&mut self.proxy, https) {
            (None, _) => self
                .tcp
                .call(dst.clone())
                .await
                .map_err(|e| fail(format!("connect to {target}"), &e))?,
            (Some(proxy), false) => {
                let tcp = self
                    .tcp
                    .call(proxy.uri.clone())
                    .await
                    .map_err(|e| fail(format!("connect to proxy {:?}", proxy.shown), &e))?;
                return Ok(SandkitStream {
                    io: Io::Plain(tcp),
                    proxied: true,
                });
            }
            (Some(proxy), true) => proxy
                .tunnel
                .call(dst.clone())
                .await
                .map_err(|e| fail(format!("proxy {:?}: CONNECT {target}", proxy.shown), &e))?,
        };
        if !https {
            return Ok(SandkitStream {
                io: Io::Plain(tcp),
                proxied: false,
            });
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(bare.to_string())
            .map_err(|e| ConnectError(format!("{target}: not a valid TLS server name: {e}")))?;
        let (tls, no_roots) = self.tls.get().await?;
        let tls = tls
            .connect(name, tcp.into_inner())
            .await
            .map_err(|e| handshake_error(&e, &target, *no_roots))?;
        Ok(SandkitStream {
            io: Io::Tls(Box::new(TokioIo::new(tls))),
            proxied: false,
        })
    }
}

fn handshake_error(err: &io::Error, target: &str, no_roots: bool) -> ConnectError {
    let mut message = format!("tls handshake with {target}: {err}");
    let unknown_issuer = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .is_some_and(|e| {
            matches!(
                e,
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
            )
        });
    if unknown_issuer && no_roots {
        message
            .push_str(" (no trusted CA certificate: the system has none and ca_file is not set)");
    } else if unknown_issuer {
        message.push_str(
            " (the certificate is not signed by a trusted CA; set ca_file to trust a private CA)",
        );
    }
    ConnectError(message)
}

/// A connection made by [`SandkitConnector`].
pub struct SandkitStream {
    io: Io,
    /// Plain HTTP to a proxy: the client then writes absolute-form request targets.
    proxied: bool,
}

enum Io {
    Plain(TokioIo<TcpStream>),
    Tls(Box<TokioIo<TlsStream<TcpStream>>>),
}

impl std::fmt::Debug for SandkitStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.io {
            Io::Plain(_) => "plain",
            Io::Tls(_) => "tls",
        };
        f.debug_struct("SandkitStream")
            .field("io", &kind)
            .field("proxied", &self.proxied)
            .finish()
    }
}

impl Connection for SandkitStream {
    fn connected(&self) -> Connected {
        match &self.io {
            Io::Plain(s) => s.connected().proxy(self.proxied),
            Io::Tls(s) => s.inner().get_ref().0.connected(),
        }
    }
}

impl hyper::rt::Read for SandkitStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl hyper::rt::Write for SandkitStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
        }
    }
}

#[cfg(test)]
mod tests;
