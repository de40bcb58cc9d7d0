//! HTTP outputs: DataWay (`POST {url}/v1/write/{category}?token=...`) and InfluxDB (v1 `/write`,
//! v2 `/api/v2/write`). Line protocol bodies, gzip or zstd, connection reuse, retries with
//! exponential backoff and jitter on transport errors and 5xx, no retry on 4xx (the status and
//! the response body are logged and the drop is counted). Tokens never appear in logs: URLs are
//! logged without their query.

use crate::{encode_points_with, Category, Compression, IoError, Output, Point};
use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use rand::Rng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Which server speaks at the other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// DataWay: one or more base URLs (each gets every batch: one per workspace), one token.
    DataWay { urls: Vec<String>, token: String },
    /// InfluxDB 1.x `/write?db=..&precision=ns`.
    InfluxV1 { url: String, db: String },
    /// InfluxDB 2.x `/api/v2/write?org=..&bucket=..&precision=ns` with `Authorization: Token`.
    InfluxV2 {
        url: String,
        org: String,
        bucket: String,
        token: String,
    },
}

/// Settings of an HTTP output.
#[derive(Debug, Clone)]
pub struct HttpOutputConfig {
    pub endpoint: Endpoint,
    pub compression: Compression,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries after the first attempt, on transport errors and 5xx.
    pub max_retries: u32,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Write unsigned integers with the `u` suffix. InfluxDB 1.x refuses them (as Telegraf's
    /// `influx_uint_support = false`), so there they are written as integers, clamped to i64::MAX.
    pub uint_support: bool,
}

/// Counters kept for `/metrics` (the HTTP server issue exposes them).
#[derive(Debug, Default)]
pub struct OutputStats {
    pub requests: AtomicU64,
    pub points_sent: AtomicU64,
    /// Compressed bytes of successful requests.
    pub bytes_sent: AtomicU64,
    pub retries: AtomicU64,
    /// Points dropped because the server refused them (4xx).
    pub dropped_rejected: AtomicU64,
    /// Points dropped after the last retry failed.
    pub dropped_unreachable: AtomicU64,
    /// Sum of successful request latencies, in microseconds.
    pub latency_us_total: AtomicU64,
}

/// An HTTP output.
#[derive(Debug)]
pub struct HttpOutput {
    name: &'static str,
    config: HttpOutputConfig,
    client: Client<HttpConnector, Full<Bytes>>,
    stats: OutputStats,
}

/// One destination of a batch: the full URL, the URL without its query (for logs), and an extra
/// header (InfluxDB 2's `Authorization`).
struct Target {
    url: String,
    shown: String,
    header: Option<(&'static str, String)>,
}

enum Attempt {
    Done,
    Retry(String),
    Rejected(String),
}

impl Attempt {
    fn reason(&self) -> &str {
        match self {
            Attempt::Done => "",
            Attempt::Retry(r) | Attempt::Rejected(r) => r,
        }
    }
}

/// `http://host:port/path?query` without the query, for logs.
fn redact(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl HttpOutput {
    /// Build the output.
    ///
    /// # Errors
    /// A URL that is not `http://` (HTTPS comes with the TLS work), or an empty URL list.
    pub fn new(config: HttpOutputConfig) -> Result<Self, IoError> {
        let (name, urls): (&'static str, Vec<&String>) = match &config.endpoint {
            Endpoint::DataWay { urls, .. } => ("dataway", urls.iter().collect()),
            Endpoint::InfluxV1 { url, .. } => ("influxdb", vec![url]),
            Endpoint::InfluxV2 { url, .. } => ("influxdb2", vec![url]),
        };
        if urls.is_empty() {
            return Err(IoError::Config {
                output: name.into(),
                message: "no URL configured".into(),
            });
        }
        for u in urls {
            if !u.starts_with("http://") {
                return Err(IoError::Config {
                    output: name.into(),
                    message: format!(
                        "{}: only http:// URLs are supported in this version (HTTPS is not built yet)",
                        redact(u)
                    ),
                });
            }
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(HttpOutput {
            name,
            config,
            client,
            stats: OutputStats::default(),
        })
    }

    pub fn stats(&self) -> &OutputStats {
        &self.stats
    }

    /// (full URL, URL to log, extra header) for each destination of a category.
    fn targets(&self, category: Category) -> Vec<Target> {
        match &self.config.endpoint {
            Endpoint::DataWay { urls, token } => urls
                .iter()
                .map(|u| {
                    // DataKit users often write the token into the URL: `https://dw?token=tkn_x`.
                    let (base, tok) = match u.split_once("?token=") {
                        Some((b, t)) => (b.trim_end_matches('/'), t.to_string()),
                        None => (u.trim_end_matches('/'), token.clone()),
                    };
                    let path = format!("{base}/v1/write/{}", category.as_str());
                    Target {
                        url: format!("{path}?token={}", encode_query(&tok)),
                        shown: path,
                        header: None,
                    }
                })
                .collect(),
            Endpoint::InfluxV1 { url, db } => {
                let path = format!("{}/write", url.trim_end_matches('/'));
                vec![Target {
                    url: format!("{path}?db={}&precision=ns", encode_query(db)),
                    shown: path,
                    header: None,
                }]
            }
            Endpoint::InfluxV2 {
                url,
                org,
                bucket,
                token,
            } => {
                let path = format!("{}/api/v2/write", url.trim_end_matches('/'));
                vec![Target {
                    url: format!(
                        "{path}?org={}&bucket={}&precision=ns",
                        encode_query(org),
                        encode_query(bucket)
                    ),
                    shown: path,
                    header: Some(("authorization", format!("Token {token}"))),
                }]
            }
        }
    }

    async fn attempt(
        &self,
        url: &str,
        header: &Option<(&'static str, String)>,
        body: &Bytes,
        points: usize,
    ) -> Attempt {
        let mut req = Request::post(url)
            .header("content-type", "text/plain; charset=utf-8")
            .header("x-points", points.to_string())
            .header("user-agent", concat!("sandkit/", env!("CARGO_PKG_VERSION")));
        if let Some(enc) = self.config.compression.content_encoding() {
            req = req.header("content-encoding", enc);
        }
        if let Some((k, v)) = header {
            req = req.header(*k, v.as_str());
        }
        let req = match req.body(Full::new(body.clone())) {
            Ok(r) => r,
            Err(e) => return Attempt::Rejected(format!("cannot build request: {e}")),
        };
        let start = std::time::Instant::now();
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let resp = match tokio::time::timeout(self.config.timeout, self.client.request(req)).await {
            Err(_) => {
                return Attempt::Retry(format!("no response within {:?}", self.config.timeout))
            }
            Ok(Err(e)) => return Attempt::Retry(format!("transport error: {e}")),
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        let text = match tokio::time::timeout(self.config.timeout, resp.into_body().collect()).await
        {
            Ok(Ok(b)) => String::from_utf8_lossy(&b.to_bytes()[..])
                .chars()
                .take(512)
                .collect::<String>(),
            _ => String::new(),
        };
        if status.is_success() {
            self.stats
                .latency_us_total
                .fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
            Attempt::Done
        } else if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            Attempt::Retry(format!("status {status}: {text}"))
        } else {
            Attempt::Rejected(format!("status {status}: {text}"))
        }
    }
}

#[async_trait]
impl Output for HttpOutput {
    fn name(&self) -> &str {
        self.name
    }

    async fn write(&self, category: Category, points: &[Point]) -> Result<(), IoError> {
        let text = encode_points_with(points, self.config.uint_support);
        let body = Bytes::from(self.config.compression.compress(text.as_bytes()).map_err(
            |source| IoError::Write {
                output: self.name.into(),
                source,
            },
        )?);
        let n = points.len();
        let mut first_err = None;
        for Target { url, shown, header } in self.targets(category) {
            let mut delay = self.config.backoff_initial;
            let mut tries = 0;
            loop {
                match self.attempt(&url, &header, &body, n).await {
                    Attempt::Done => {
                        self.stats
                            .points_sent
                            .fetch_add(n as u64, Ordering::Relaxed);
                        self.stats
                            .bytes_sent
                            .fetch_add(body.len() as u64, Ordering::Relaxed);
                        break;
                    }
                    Attempt::Retry(why) if tries < self.config.max_retries => {
                        tries += 1;
                        self.stats.retries.fetch_add(1, Ordering::Relaxed);
                        let jitter = rand::rng().random_range(Duration::ZERO..=delay / 2);
                        tracing::warn!(output = self.name, url = %shown, category = %category, attempt = tries, "io.http retrying in {:?}: {why}", delay + jitter);
                        tokio::time::sleep(delay + jitter).await;
                        delay = (delay * 2).min(self.config.backoff_max);
                    }
                    failed => {
                        let (dropped, err) = match failed {
                            Attempt::Rejected(reason) => (
                                &self.stats.dropped_rejected,
                                IoError::Rejected {
                                    output: self.name.into(),
                                    url: shown.clone(),
                                    reason: format!("{reason} (not retried)"),
                                },
                            ),
                            _ => (
                                &self.stats.dropped_unreachable,
                                IoError::Unreachable {
                                    output: self.name.into(),
                                    url: shown.clone(),
                                    reason: format!("{} (after {tries} retries)", failed.reason()),
                                },
                            ),
                        };
                        dropped.fetch_add(n as u64, Ordering::Relaxed);
                        tracing::error!(category = %category, points = n, "io.http batch dropped: {err}");
                        first_err.get_or_insert(err);
                        break;
                    }
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_queries_and_encodes_tokens() {
        assert_eq!(
            redact("http://h:1/v1/write/metric?token=tkn_secret"),
            "http://h:1/v1/write/metric"
        );
        assert_eq!(encode_query("a b&c=d"), "a%20b%26c%3Dd");
    }

    #[test]
    fn dataway_targets_take_the_token_from_the_url_or_config() {
        let out = HttpOutput::new(HttpOutputConfig {
            endpoint: Endpoint::DataWay {
                urls: vec!["http://a:9528".into(), "http://b:9528/?token=tkn_b".into()],
                token: "tkn_a".into(),
            },
            compression: Compression::Gzip(1),
            timeout: Duration::from_secs(1),
            max_retries: 0,
            backoff_initial: Duration::from_millis(1),
            backoff_max: Duration::from_millis(1),
            uint_support: true,
        })
        .unwrap();
        let t = out.targets(Category::Logging);
        assert_eq!(t[0].url, "http://a:9528/v1/write/logging?token=tkn_a");
        assert_eq!(t[1].url, "http://b:9528/v1/write/logging?token=tkn_b");
        assert!(!t[1].shown.contains("tkn_b"));
    }

    #[test]
    fn https_is_refused_clearly_for_now() {
        let e = HttpOutput::new(HttpOutputConfig {
            endpoint: Endpoint::InfluxV1 {
                url: "https://influx:8086".into(),
                db: "x".into(),
            },
            compression: Compression::None,
            timeout: Duration::from_secs(1),
            max_retries: 0,
            backoff_initial: Duration::from_millis(1),
            backoff_max: Duration::from_millis(1),
            uint_support: true,
        })
        .unwrap_err();
        assert!(e.to_string().contains("only http://"), "{e}");
    }
}
