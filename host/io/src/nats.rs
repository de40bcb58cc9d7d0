//! NATS JetStream output: each batch is one message of line protocol on subject
//! `<subject>.<category>`, published to a stream, and delivered only once the stream's
//! acknowledgement (`{"stream":..,"seq":..}`) came back. So a source's acknowledgement (a file's
//! offsets) waits for the stream to hold its lines, and a `kill -9` of the agent or a restart
//! of nats-server loses nothing: what was not acknowledged is sent again.
//!
//! The client speaks NATS' text protocol itself (`CONNECT`, `HPUB`, `SUB`, `MSG`/`HMSG`,
//! `PING`/`PONG`): one connection, one publish in flight, a reply inbox of its own. Each
//! message carries a `Nats-Msg-Id` made of its content, so a batch sent again after a lost
//! acknowledgement is stored once (the stream's duplicate window, 2 minutes by default). The
//! stream is created at the first connection if it does not exist, taking `<subject>.>`.
//! While the server is unreachable, the batch is retried with backoff (forever by default:
//! there is no disk buffer here, and giving up would lose lines the source considers sent).

use crate::http::LaneStats;
use crate::{fnv1a, Batch, Category, Delivery, IoError, LaneSnapshot, Output};
use async_trait::async_trait;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Settings of a NATS JetStream output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsConfig {
    /// `nats://host:port` (or `host:port`); `tls://host:port` for TLS (also used whenever
    /// the server requires it, or a `ca_file` is set).
    pub url: String,
    /// A CA to trust for TLS beside the system roots (a private CA's PEM).
    pub ca_file: Option<std::path::PathBuf>,
    /// Messages go to `<subject>.<category>`.
    pub subject: String,
    /// The stream; created (file storage, taking `<subject>.>`) when missing.
    pub stream: String,
    /// A token, or a user and password, as the server wants them.
    pub token: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// How long to wait for a connection, a reply or an acknowledgement.
    pub timeout: Duration,
    /// Tries after the first, `None` for no end.
    pub max_retries: Option<u32>,
    pub backoff_max: Duration,
    pub uint_support: bool,
    /// Metric and logging batches as OTLP export requests (protobuf) instead of line protocol;
    /// the other categories stay line protocol.
    pub otlp: Option<crate::otlp::OtlpOptions>,
}

/// What one batch is published as.
enum Payload<'a> {
    Text(std::borrow::Cow<'a, str>),
    Otlp {
        category: Category,
        points: std::borrow::Cow<'a, [crate::Point]>,
        options: &'a crate::otlp::OtlpOptions,
    },
}

impl Payload<'_> {
    fn len(&self) -> usize {
        match self {
            Payload::Text(t) => t.len(),
            Payload::Otlp { points, .. } => points.len(),
        }
    }

    /// The messages it takes, each at most `max` bytes where it can be (a longer line or point
    /// is a message alone), each with the hash of its content: the same lines or points give
    /// the same hash whenever they are sent again, also after a restart.
    fn pieces(&self, max: usize) -> Vec<(u64, std::borrow::Cow<'_, [u8]>)> {
        match self {
            Payload::Text(t) => pieces(t, max)
                .into_iter()
                .map(|p| {
                    (
                        fnv1a(p.as_bytes()),
                        std::borrow::Cow::Borrowed(p.as_bytes()),
                    )
                })
                .collect(),
            Payload::Otlp {
                category,
                points,
                options,
            } => {
                let mut out = Vec::new();
                otlp_pieces(*category, points, options, max, &mut out);
                out.into_iter()
                    .map(|(h, b)| (h, std::borrow::Cow::Owned(b)))
                    .collect()
            }
        }
    }
}

/// `points` as OTLP requests of at most `max` bytes (halved until each fits), each with the
/// hash of its points as line protocol (a request's bytes hold the agent's start time, which
/// a restart changes).
fn otlp_pieces(
    category: Category,
    points: &[crate::Point],
    options: &crate::otlp::OtlpOptions,
    max: usize,
    out: &mut Vec<(u64, Vec<u8>)>,
) {
    let Some(body) = crate::otlp::encode(category, points, options) else {
        return;
    };
    if body.len() <= max || points.len() <= 1 {
        out.push((fnv1a(crate::encode_points(points).as_bytes()), body));
        return;
    }
    let (a, b) = points.split_at(points.len() / 2);
    otlp_pieces(category, a, options, max, out);
    otlp_pieces(category, b, options, max, out);
}

/// Either half of a connection, plain or TLS.
type Half<T> = Box<T>;
type ReadHalf = Half<dyn tokio::io::AsyncRead + Send + Unpin>;
type WriteHalf = Half<dyn tokio::io::AsyncWrite + Send + Unpin>;

/// One connection: its reader and writer halves.
struct Conn {
    reader: BufReader<ReadHalf>,
    writer: WriteHalf,
    inbox: String,
    next: u64,
    /// The largest message the server takes (its INFO's `max_payload`).
    max_payload: usize,
}

/// A NATS JetStream output.
#[derive(Debug)]
pub struct NatsOutput {
    name: String,
    config: NatsConfig,
    /// `host:port`, for connecting and for the lanes.
    addr: String,
    /// `tls://` was asked for.
    tls: bool,
    /// The CA file's certificates, trusted beside the system roots.
    roots: rustls::RootCertStore,
    /// The TLS connector, made at the first connection that wants it (it reads the system's
    /// certificates).
    connector: tokio::sync::OnceCell<Connector>,
    conn: tokio::sync::Mutex<Option<Conn>>,
    stats: Vec<LaneStats>,
    /// Set by [`Output::stop`]: a batch still being retried gives up as lost (its source
    /// sends it again at the next start) instead of holding the agent's stop.
    stopping: std::sync::atomic::AtomicBool,
    stop: tokio::sync::Notify,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("inbox", &self.inbox).finish()
    }
}

/// The TLS client side, made once.
struct Connector(tokio_rustls::TlsConnector);

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connector")
    }
}

/// Why an attempt failed: worth another try, or not.
enum Failure {
    Retry(String),
    Rejected(String),
}

fn io(e: std::io::Error) -> Failure {
    Failure::Retry(e.to_string())
}

impl NatsOutput {
    /// # Errors
    /// A URL that is not `nats://host:port`, or a subject or stream name NATS would refuse.
    pub fn new(config: NatsConfig, name: &str) -> Result<Self, IoError> {
        let err = |message: String| IoError::Config {
            output: name.into(),
            message,
        };
        let (tls, rest) = match config.url.split_once("://") {
            Some(("tls", rest)) => (true, rest),
            Some(("nats", rest)) => (false, rest),
            None => (false, config.url.as_str()),
            Some((scheme, _)) => {
                return Err(err(format!(
                    "{:?}: the scheme {scheme:?} is not nats:// or tls://",
                    config.url
                )))
            }
        };
        let addr = rest.trim_end_matches('/').to_string();
        if addr.is_empty() || addr.contains(['/', '@', '?']) || !addr.contains(':') {
            return Err(err(format!(
                "{:?} is not nats://host:port or tls://host:port (credentials go in token, \
                 user and password)",
                config.url
            )));
        }
        let roots = crate::tls::ca_roots(config.ca_file.as_deref()).map_err(err)?;
        // A CA to trust asks for TLS: credentials never go in the clear beside one.
        let tls = tls || config.ca_file.is_some();
        let bad = |s: &str| s.is_empty() || s.contains([' ', '\t', '*', '>']);
        if bad(&config.subject) || config.subject.ends_with('.') {
            return Err(err(format!(
                "subject {:?}: no spaces or wildcards",
                config.subject
            )));
        }
        if bad(&config.stream) || config.stream.contains('.') {
            return Err(err(format!(
                "stream {:?}: no spaces, dots or wildcards",
                config.stream
            )));
        }
        Ok(NatsOutput {
            name: name.to_string(),
            addr,
            tls,
            roots,
            connector: tokio::sync::OnceCell::new(),
            config,
            conn: tokio::sync::Mutex::new(None),
            stats: Category::ALL.iter().map(|_| LaneStats::default()).collect(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            stop: tokio::sync::Notify::new(),
        })
    }

    fn stats(&self, c: Category) -> &LaneStats {
        &self.stats[c.index()]
    }

    async fn connect(&self) -> Result<Conn, Failure> {
        let stream = tokio::time::timeout(self.config.timeout, TcpStream::connect(&self.addr))
            .await
            .map_err(|_| Failure::Retry(format!("no connection within {:?}", self.config.timeout)))?
            .map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        // INFO comes in the clear; TLS, when either side wants it, begins after it.
        let mut plain = BufReader::new(stream);
        let mut info = String::new();
        tokio::time::timeout(self.config.timeout, plain.read_line(&mut info))
            .await
            .map_err(|_| Failure::Retry(format!("no INFO within {:?}", self.config.timeout)))?
            .map_err(io)?;
        let Some(info) = info.trim_end().strip_prefix("INFO ") else {
            return Err(Failure::Retry(format!("not a NATS server: {info:?}")));
        };
        let info: serde_json::Value = serde_json::from_str(info).unwrap_or_default();
        // The server waits for our CONNECT (or TLS): anything buffered past INFO is not NATS.
        if !plain.buffer().is_empty() {
            return Err(Failure::Retry(
                "the server wrote past INFO before our CONNECT".into(),
            ));
        }
        let (reader, writer): (ReadHalf, WriteHalf) = if self.tls || info["tls_required"] == true {
            let tls = self.handshake(plain.into_inner()).await?;
            let (r, w) = tokio::io::split(tls);
            (Box::new(r), Box::new(w))
        } else {
            let (r, w) = plain.into_inner().into_split();
            (Box::new(r), Box::new(w))
        };
        let mut conn = Conn {
            reader: BufReader::new(reader),
            writer,
            inbox: format!("_INBOX.sandkit.{:016x}", rand::random::<u64>()),
            next: 0,
            max_payload: 1 << 20,
        };
        if let Some(m) = info["max_payload"].as_u64() {
            conn.max_payload = usize::try_from(m).unwrap_or(usize::MAX).max(1024);
        }
        let mut connect = serde_json::json!({
            "verbose": false, "pedantic": false, "headers": true, "no_responders": true,
            "name": "sandkit", "lang": "rust", "version": env!("CARGO_PKG_VERSION"),
        });
        if let Some(t) = &self.config.token {
            connect["auth_token"] = t.clone().into();
        }
        if let (Some(u), Some(p)) = (&self.config.user, &self.config.password) {
            connect["user"] = u.clone().into();
            connect["pass"] = p.clone().into();
        }
        let hello = format!("CONNECT {connect}\r\nPING\r\nSUB {}.* 1\r\n", conn.inbox);
        conn.writer.write_all(hello.as_bytes()).await.map_err(io)?;
        match self.line(&mut conn).await?.as_str() {
            "PONG" => {}
            other => return Err(Failure::Retry(format!("the server refused us: {other}"))),
        }
        // The stream: created, or there already (its config is left as it is).
        let create = serde_json::json!({
            "name": self.config.stream,
            "subjects": [format!("{}.>", self.config.subject)],
            "storage": "file",
        });
        let api = format!("$JS.API.STREAM.CREATE.{}", self.config.stream);
        let reply = self
            .request(&mut conn, &api, b"", create.to_string().as_bytes())
            .await?;
        let v: serde_json::Value = serde_json::from_slice(&reply).unwrap_or_default();
        if let Some(e) = v.get("error") {
            // 10058: a stream of that name exists already. Anything else (JetStream not ready
            // yet, a cluster restarting) is tried again: giving up would drop lines.
            if e["err_code"] != 10058 {
                let stream = &self.config.stream;
                return Err(Failure::Retry(format!("creating stream {stream}: {e}")));
            }
        }
        Ok(conn)
    }

    /// The TLS handshake on `stream`, checking the server's certificate against its host.
    async fn handshake(
        &self,
        stream: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Failure> {
        let connector = self
            .connector
            .get_or_try_init(|| async {
                let (name, roots) = (self.name.clone(), self.roots.clone());
                tokio::task::spawn_blocking(move || crate::tls::stream_connector(&name, roots))
                    .await
                    .map_err(|e| e.to_string())?
                    .map(Connector)
            })
            .await
            .map_err(|e| Failure::Retry(format!("tls setup: {e}")))?;
        let host = self.addr.rsplit_once(':').map_or(&*self.addr, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let server = rustls_pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| Failure::Retry(format!("{host:?} is not a TLS server name: {e}")))?;
        tokio::time::timeout(self.config.timeout, connector.0.connect(server, stream))
            .await
            .map_err(|_| {
                Failure::Retry(format!("no TLS handshake within {:?}", self.config.timeout))
            })?
            .map_err(|e| Failure::Retry(format!("tls: {}", crate::describe_error(&e))))
    }

    /// One protocol line, without its CRLF, answering the server's PINGs on the way.
    async fn line(&self, conn: &mut Conn) -> Result<String, Failure> {
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(self.config.timeout, conn.reader.read_line(&mut line))
                .await
                .map_err(|_| Failure::Retry(format!("no answer within {:?}", self.config.timeout)))?
                .map_err(io)?;
            if n == 0 {
                return Err(Failure::Retry("the server closed the connection".into()));
            }
            let line = line.trim_end().to_string();
            match line.as_str() {
                "PING" => conn.writer.write_all(b"PONG\r\n").await.map_err(io)?,
                l if l.starts_with("-ERR") => {
                    return Err(Failure::Retry(format!("server error: {l}")))
                }
                _ => return Ok(line),
            }
        }
    }

    /// Publish `payload` (with `headers`, a NATS/1.0 block or empty) to `subject` and wait for
    /// the reply to it: its payload, or a failure for a no-responders status.
    async fn request(
        &self,
        conn: &mut Conn,
        subject: &str,
        headers: &[u8],
        payload: &[u8],
    ) -> Result<Vec<u8>, Failure> {
        conn.next += 1;
        let reply = format!("{}.{}", conn.inbox, conn.next);
        let mut msg = if headers.is_empty() {
            format!("PUB {subject} {reply} {}\r\n", payload.len()).into_bytes()
        } else {
            let total = headers.len() + payload.len();
            format!("HPUB {subject} {reply} {} {total}\r\n", headers.len()).into_bytes()
        };
        msg.extend_from_slice(headers);
        msg.extend_from_slice(payload);
        msg.extend_from_slice(b"\r\n");
        conn.writer.write_all(&msg).await.map_err(io)?;
        loop {
            let line = self.line(conn).await?;
            let parts: Vec<&str> = line.split_whitespace().collect();
            let size = |s: &str| {
                s.parse::<usize>()
                    .map_err(|_| Failure::Retry(format!("a malformed message line: {line:?}")))
            };
            let (hdr_len, total, to) = match parts.as_slice() {
                ["MSG", to, _sid, n] | ["MSG", to, _sid, _, n] => (0, size(n)?, *to),
                ["HMSG", to, _sid, h, n] | ["HMSG", to, _sid, _, h, n] => (size(h)?, size(n)?, *to),
                _ => continue, // +OK, INFO updates
            };
            if hdr_len > total || total > (64 << 20) {
                return Err(Failure::Retry(format!(
                    "a malformed message line: {line:?}"
                )));
            }
            let mut body = vec![0u8; total + 2];
            tokio::time::timeout(self.config.timeout, conn.reader.read_exact(&mut body))
                .await
                .map_err(|_| Failure::Retry("a reply stopped midway".into()))?
                .map_err(io)?;
            if to != reply {
                continue; // a late reply to an earlier attempt
            }
            let head = String::from_utf8_lossy(&body[..hdr_len]);
            if head.starts_with("NATS/1.0 503") {
                return Err(Failure::Retry(format!("no stream takes {subject}")));
            }
            body.truncate(total);
            return Ok(body.split_off(hdr_len));
        }
    }

    /// One attempt at publishing `text`: in messages of whole lines no larger than the server
    /// takes, each acknowledged before the next. A piece stored by an earlier attempt is
    /// dropped by the stream as a duplicate (its id is made of its subject and content).
    async fn attempt(&self, subject: &str, payload: &Payload<'_>) -> Result<usize, Failure> {
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            *guard = Some(self.connect().await?);
        }
        let max = guard.as_ref().map_or(1 << 20, |c| c.max_payload);
        let content_type = match payload {
            Payload::Text(_) => "text/plain; charset=utf-8",
            Payload::Otlp { .. } => "application/x-protobuf",
        };
        let mut sent = 0;
        for (hash, piece) in payload.pieces(max) {
            if piece.len() > max {
                return Err(Failure::Rejected(format!(
                    "a line or point of {} bytes is larger than the server's max_payload ({max})",
                    piece.len()
                )));
            }
            let id = format!(
                "{:016x}-{:016x}-{}",
                fnv1a(subject.as_bytes()),
                hash,
                piece.len()
            );
            self.publish(&mut guard, subject, &id, content_type, &piece)
                .await?;
            sent += piece.len();
        }
        Ok(sent)
    }

    /// Publish one message on the connection in `guard` and wait for the stream's
    /// acknowledgement (its sequence number); the connection is dropped on a failure.
    async fn publish(
        &self,
        guard: &mut Option<Conn>,
        subject: &str,
        id: &str,
        content_type: &str,
        payload: &[u8],
    ) -> Result<u64, Failure> {
        let Some(conn) = guard.as_mut() else {
            return Err(Failure::Retry("not connected".into()));
        };
        let headers =
            format!("NATS/1.0\r\nNats-Msg-Id: {id}\r\nContent-Type: {content_type}\r\n\r\n");
        let result = self
            .request(conn, subject, headers.as_bytes(), payload)
            .await;
        let reply = match result {
            Ok(r) => r,
            Err(e) => {
                *guard = None; // a fresh connection for the next try
                return Err(e);
            }
        };
        let v: serde_json::Value = serde_json::from_slice(&reply).unwrap_or_default();
        if let Some(seq) = v["seq"].as_u64() {
            return Ok(seq);
        }
        Err(match v.get("error") {
            // 503 and timeouts inside the server are worth another try; the rest is not.
            Some(e) if e["code"] == 503 => Failure::Retry(format!("stream: {e}")),
            Some(e) => Failure::Rejected(format!("stream: {e}")),
            None => Failure::Retry(format!(
                "not an acknowledgement: {}",
                String::from_utf8_lossy(&reply)
            )),
        })
    }
}

/// `text` cut at line ends into pieces of at most `max` bytes (a longer line is a piece alone).
fn pieces(text: &str, max: usize) -> Vec<&str> {
    if text.len() <= max {
        return vec![text];
    }
    let mut out = Vec::new();
    let (mut start, mut end) = (0, 0);
    for line in text.split_inclusive('\n') {
        if end > start && end - start + line.len() > max {
            out.push(&text[start..end]);
            start = end;
        }
        end += line.len();
    }
    if end > start {
        out.push(&text[start..end]);
    }
    out
}

#[async_trait]
impl Output for NatsOutput {
    fn name(&self) -> &str {
        &self.name
    }

    fn uint_support(&self) -> bool {
        self.config.uint_support
    }

    fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.stop.notify_waiters();
    }

    fn lane_stats(&self) -> Vec<LaneSnapshot> {
        let url = format!("nats://{}", self.addr);
        Category::ALL
            .iter()
            .zip(&self.stats)
            .filter(|(_, s)| s.requests.load(Ordering::Relaxed) > 0)
            .map(|(c, s)| s.snapshot(&self.name, &url, c.as_str()))
            .collect()
    }

    async fn write(&self, category: Category, batch: &Batch) -> Result<Delivery, IoError> {
        let payload = match &self.config.otlp {
            Some(options) if matches!(category, Category::Metric | Category::Logging) => {
                Payload::Otlp {
                    category,
                    points: batch.all_points(category, &self.name)?,
                    options,
                }
            }
            _ => Payload::Text(batch.text(self.config.uint_support)),
        };
        if payload.len() == 0 {
            return Ok(Delivery::Delivered);
        }
        let n = batch.len() as u64;
        let subject = format!("{}.{}", self.config.subject, category.as_str());
        let stats = self.stats(category);
        let mut delay = Duration::from_millis(200);
        let mut tries = 0u32;
        loop {
            stats.requests.fetch_add(1, Ordering::Relaxed);
            let start = Instant::now();
            let why = match self.attempt(&subject, &payload).await {
                Ok(sent) => {
                    stats.latency.0.observe(start.elapsed());
                    stats.points_sent.fetch_add(n, Ordering::Relaxed);
                    stats.bytes_sent.fetch_add(sent as u64, Ordering::Relaxed);
                    return Ok(Delivery::Delivered);
                }
                Err(Failure::Rejected(why)) => {
                    stats.dropped_rejected.fetch_add(n, Ordering::Relaxed);
                    tracing::error!(output = %self.name, subject, points = n, error = %why, "io.nats batch refused; not retried");
                    return Err(IoError::Rejected {
                        output: self.name.clone(),
                        url: format!("nats://{}", self.addr),
                        reason: why,
                    });
                }
                Err(Failure::Retry(why)) => why,
            };
            if self.config.max_retries.is_some_and(|m| tries >= m) {
                stats.dropped_unreachable.fetch_add(n, Ordering::Relaxed);
                return Err(IoError::Unreachable {
                    output: self.name.clone(),
                    url: format!("nats://{}", self.addr),
                    reason: format!("{why} (after {tries} retries)"),
                });
            }
            if self.stopping.load(Ordering::Acquire) {
                return Err(IoError::Stopped {
                    output: self.name.clone(),
                    reason: why,
                });
            }
            tries += 1;
            stats.retries.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(output = %self.name, subject, attempt = tries, wait_ms = delay.as_millis() as u64, error = %why, "io.nats publish failed; retrying");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.stop.notified() => {}
            }
            delay = (delay * 2).min(self.config.backoff_max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pieces;

    #[test]
    fn a_batch_is_cut_at_line_ends_under_the_servers_limit() {
        let text = "aaaa\nbbbb\ncc\ndddddddddd\n";
        assert_eq!(pieces(text, 100), [text]);
        assert_eq!(pieces(text, 10), ["aaaa\nbbbb\n", "cc\n", "dddddddddd\n"]);
        assert_eq!(
            pieces(text, 5),
            ["aaaa\n", "bbbb\n", "cc\n", "dddddddddd\n"]
        );
        assert_eq!(pieces(text, 5).concat(), text);
    }
}
