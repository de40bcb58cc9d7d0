//! HTTP outputs: DataWay (`POST {url}/v1/write/{category}?token=...`), InfluxDB (v1 `/write`,
//! v2 `/api/v2/write`), Prometheus remote write and OTLP/HTTP. Line protocol bodies (protobuf
//! for the last two), gzip or zstd, connection reuse, no retry on 4xx
//! (the status and the response body are logged and the drop is counted). Tokens never appear
//! in logs: URLs are logged without their query.
//!
//! With a durable buffer (the default in the agent), each destination URL and category has its
//! own on-disk queue ([`crate::buffer`]): a batch that fails with a transport error or 5xx is
//! appended to it and acknowledged as buffered, and a drain task re-sends the queue in order,
//! with exponential backoff and jitter, until the server is back. While a queue holds anything,
//! new batches of that category join its end, so order is kept. Without a buffer, a batch is
//! retried in memory `max_retries` times and then dropped and counted.

mod config;
mod events;
mod lane;
mod retry;
mod stats;
mod url;

pub use config::{BufferConfig, Endpoint, HttpOutputConfig};
pub use stats::{lane_families, LaneSnapshot, LATENCY_BUCKETS_MS};

use crate::tls::{build_client, HttpClient};
use crate::{Batch, Category, Compression, Delivery, Encoded, IoError, Output};
use async_trait::async_trait;
use bytes::Bytes;
use events::{Buffered, DropReason, Dropped, Event, Retrying};
use lane::Lane;
use retry::{jittered, Attempt};
pub(crate) use stats::LaneStats;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;
use url::Target;

/// The part of an output that drain tasks share.
#[derive(Debug)]
struct Inner {
    /// The output's name in logs, errors and metrics: its configured name, or its kind.
    name: String,
    /// `dataway`, `influxdb`, `influxdb2`, `prometheus_remote_write` or `otlp`: the prefix of
    /// its buffer directories.
    kind: &'static str,
    config: HttpOutputConfig,
    client: HttpClient,
    targets: Vec<Target>,
    /// Per target, per category (in `Category::ALL` order).
    stats: Vec<Vec<LaneStats>>,
}

/// An HTTP output.
#[derive(Debug)]
pub struct HttpOutput {
    inner: Arc<Inner>,
    lanes: Mutex<HashMap<(usize, Category), Arc<Lane>>>,
    /// Held while a queue is being opened, so that one directory is never opened twice.
    opening: tokio::sync::Mutex<()>,
    drains: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for HttpOutput {
    fn drop(&mut self) {
        // Batches being re-sent stay in their queue until committed: at least once.
        if let Ok(d) = self.drains.lock() {
            d.iter().for_each(JoinHandle::abort);
        }
    }
}

/// A batch as a body made of its points (remote write, OTLP): the lines its sources wrote are
/// read back into points first, then `body` encodes and compresses them.
fn points_body(
    output: &str,
    category: Category,
    batch: &Batch,
    body: impl FnOnce(&[crate::Point]) -> Result<Vec<u8>, IoError>,
) -> Result<Encoded, IoError> {
    let all = batch.all_points(category, output)?;
    let body = body(&all)?;
    Ok(Encoded {
        body: Bytes::from(body),
        points: u32::try_from(all.len()).unwrap_or(u32::MAX),
    })
}

impl HttpOutput {
    /// Build the output. With a buffer, queues left by an earlier run are opened and their
    /// drain tasks started, so this must run inside the tokio runtime.
    ///
    /// # Errors
    /// A URL that is not `http://`, an empty URL list, or a buffer that cannot be opened.
    pub fn new(config: HttpOutputConfig) -> Result<Self, IoError> {
        let kind = config.endpoint.output_name();
        Self::named(config, kind)
    }

    /// [`HttpOutput::new`] with a name for its logs, errors and metrics (one of several
    /// outputs); its buffer directories keep its kind's prefix.
    ///
    /// # Errors
    /// As for [`HttpOutput::new`].
    pub fn named(config: HttpOutputConfig, name: &str) -> Result<Self, IoError> {
        let kind = config.endpoint.output_name();
        let urls = match &config.endpoint {
            Endpoint::DataWay { urls, .. } => urls.len(),
            _ => 1,
        };
        let cfg_err = |message: String| IoError::Config {
            output: name.into(),
            message,
        };
        if urls == 0 {
            return Err(cfg_err("no URL configured".into()));
        }
        let targets = Self::targets(kind, &config.endpoint).map_err(cfg_err)?;
        let client = build_client(&config.tls, name)?;
        let stats = targets
            .iter()
            .map(|_| Category::ALL.iter().map(|_| LaneStats::default()).collect())
            .collect();
        let out = HttpOutput {
            inner: Arc::new(Inner {
                name: name.to_string(),
                kind,
                config,
                client,
                targets,
                stats,
            }),
            lanes: Mutex::default(),
            opening: tokio::sync::Mutex::default(),
            drains: Mutex::default(),
        };
        if let Some(buf) = out.inner.config.buffer.clone() {
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(cfg_err(
                    "a buffered output must be created inside the tokio runtime".into(),
                ));
            }
            out.open_existing(&buf)?;
        }
        Ok(out)
    }

    /// Send one batch to one target: directly when its queue is empty, else behind the queue.
    async fn deliver(
        &self,
        t: usize,
        cat: Category,
        body: &Bytes,
        n: u32,
    ) -> Result<Delivery, IoError> {
        let inner = &self.inner;
        let (url, shown) = inner.targets[t].url(&inner.config.endpoint, cat);
        let buffered = inner.config.buffer.is_some();
        let queued = self.existing_lane(t, cat);
        if let Some(lane) = queued.filter(|l| l.unread.load(Ordering::Acquire) > 0) {
            return self.buffer(&lane, body, n).await;
        }
        let mut delay = inner.config.backoff_initial;
        let mut tries = 0;
        loop {
            let why = match inner.attempt(t, cat, &url, body, n).await {
                Attempt::Done => return Ok(Delivery::Delivered),
                Attempt::Rejected(reason) => {
                    return Err(inner.rejected(t, cat, &shown, n, &reason));
                }
                Attempt::Retry(why) => why,
            };
            let here = inner.event_lane(t, cat, &shown);
            if buffered {
                Buffered { why: &why }.emit(&here);
                let lane = self.lane(t, cat).await?;
                return self.buffer(&lane, body, n).await;
            }
            if tries >= inner.config.max_retries {
                let err = IoError::Unreachable {
                    output: inner.name.clone(),
                    url: shown.clone(),
                    reason: format!("{why} (after {tries} retries)"),
                };
                Dropped {
                    points: n,
                    reason: DropReason::Unreachable,
                    error: &err,
                }
                .emit(&here);
                return Err(err);
            }
            tries += 1;
            let wait = jittered(delay);
            Retrying {
                attempt: tries,
                wait,
                why: &why,
            }
            .emit(&here);
            tokio::time::sleep(wait).await;
            delay = (delay * 2).min(inner.config.backoff_max);
        }
    }
}

#[async_trait]
impl Output for HttpOutput {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn lane_stats(&self) -> Vec<LaneSnapshot> {
        self.lane_snapshots()
    }

    fn uint_support(&self) -> bool {
        self.inner.config.uint_support
    }

    fn frames(&self) -> Option<Compression> {
        if self.inner.config.endpoint.takes_points() {
            return None; // its bodies are protobuf, made of points
        }
        Some(self.inner.config.compression).filter(|c| *c != Compression::None)
    }

    fn encode(&self, category: Category, batch: &Batch) -> Option<Result<Encoded, IoError>> {
        let inner = &self.inner;
        let config_error = |message: String| IoError::Config {
            output: inner.name.clone(),
            message,
        };
        match &inner.config.endpoint {
            Endpoint::RemoteWrite { counters, .. } => {
                return Some(points_body(&inner.name, category, batch, |all| {
                    let encoded = crate::remote_write::encode(all, counters);
                    snap::raw::Encoder::new()
                        .compress_vec(&encoded.request)
                        .map_err(|e| config_error(format!("snappy: {e}")))
                }));
            }
            Endpoint::Otlp { options, .. } => {
                // A category OTLP has no place for is refused, not lost silently (the output's
                // route keeps those away).
                return Some(points_body(&inner.name, category, batch, |all| {
                    let request = crate::otlp::encode(category, all, options).ok_or_else(|| {
                        config_error(format!(
                            "OTLP has no place for {category} points; route only metric and logging here"
                        ))
                    })?;
                    inner
                        .config
                        .compression
                        .compress(&request)
                        .map_err(|source| IoError::Write {
                            output: inner.name.clone(),
                            source,
                        })
                }));
            }
            _ => {}
        }
        let text = batch.text(inner.config.uint_support);
        let frames = &batch.frames.body;
        let body = if text.is_empty() && !frames.is_empty() {
            Ok(frames.clone())
        } else {
            // The text's own frame, then the sources' frames (one stream to a decoder).
            inner
                .config
                .compression
                .compress(text.as_bytes())
                .map(|mut body| {
                    body.extend_from_slice(frames);
                    body
                })
        };
        Some(
            body.map(|body| Encoded {
                body: Bytes::from(body),
                points: u32::try_from(batch.len()).unwrap_or(u32::MAX),
            })
            .map_err(|source| IoError::Write {
                output: inner.name.clone(),
                source,
            }),
        )
    }

    async fn send(&self, category: Category, batch: &Encoded) -> Result<Delivery, IoError> {
        let mut worst = Delivery::Delivered;
        let mut first_err = None;
        for t in 0..self.inner.targets.len() {
            match self.deliver(t, category, &batch.body, batch.points).await {
                Ok(Delivery::Buffered) => worst = Delivery::Buffered,
                Ok(Delivery::Delivered) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(worst), Err)
    }

    async fn write(&self, category: Category, batch: &Batch) -> Result<Delivery, IoError> {
        match self.encode(category, batch) {
            Some(Ok(batch)) => self.send(category, &batch).await,
            Some(Err(e)) => Err(e),
            None => Ok(Delivery::Delivered),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::url::{encode_query, redact};
    use super::*;
    use crate::{Compression, TlsProxyConfig};
    use std::time::Duration;

    #[test]
    fn redacts_queries_and_encodes_tokens() {
        assert_eq!(
            redact("http://h:1/v1/write/metric?token=tkn_secret"),
            "http://h:1/v1/write/metric"
        );
        assert_eq!(
            redact("https://u:pw@h:1/p?token=t#x"),
            "https://h:1/p".to_string()
        );
        assert_eq!(encode_query("a b&c=d"), "a%20b%26c%3Dd");
    }

    fn config(endpoint: Endpoint) -> HttpOutputConfig {
        HttpOutputConfig {
            endpoint,
            compression: Compression::Gzip(1),
            timeout: Duration::from_secs(1),
            max_retries: 0,
            backoff_initial: Duration::from_millis(1),
            backoff_max: Duration::from_millis(1),
            uint_support: true,
            buffer: None,
            tls: TlsProxyConfig::default(),
        }
    }

    fn dataway(urls: &[&str], token: &str) -> Result<HttpOutput, IoError> {
        HttpOutput::new(config(Endpoint::DataWay {
            urls: urls.iter().map(|u| u.to_string()).collect(),
            token: token.into(),
        }))
    }

    /// A batch's points get a frame of their own, followed by the frames its sources made.
    #[test]
    fn encode_joins_the_frame_of_the_text_and_the_sources_frames() {
        use std::io::Read;
        let point = crate::Point::new(
            "p".into(),
            vec![],
            vec![("v".into(), crate::FieldValue::Int(1))],
            1,
            Category::Logging,
        )
        .unwrap();
        for compression in [Compression::Gzip(1), Compression::Zstd(-3)] {
            let mut cfg = config(Endpoint::DataWay {
                urls: vec!["http://127.0.0.1:9".into()],
                token: "tkn_x".into(),
            });
            cfg.compression = compression;
            let out = HttpOutput::new(cfg).unwrap();
            assert_eq!(out.frames(), Some(compression));
            let mut batch = crate::Batch::from(vec![point.clone()]);
            for text in ["a v=1i 2\n", "b v=1i 3\nc v=1i 4\n"] {
                batch.frames.append(crate::Frames {
                    body: compression.compress(text.as_bytes()).unwrap(),
                    count: text.lines().count(),
                    raw: text.len(),
                });
            }
            let encoded = out.encode(Category::Logging, &batch).unwrap().unwrap();
            assert_eq!(encoded.points, 4);
            let mut text = String::new();
            match compression {
                Compression::Gzip(_) => {
                    flate2::read::MultiGzDecoder::new(&encoded.body[..])
                        .read_to_string(&mut text)
                        .unwrap();
                }
                _ => {
                    text = String::from_utf8(zstd::decode_all(&encoded.body[..]).unwrap()).unwrap()
                }
            }
            assert_eq!(
                text, "p v=1i 1\na v=1i 2\nb v=1i 3\nc v=1i 4\n",
                "{compression:?}"
            );
            // Frames alone are sent as they are.
            batch.points.clear();
            let encoded = out.encode(Category::Logging, &batch).unwrap().unwrap();
            assert_eq!(encoded.body[..], batch.frames.body[..]);
        }
        let out = HttpOutput::new(config(Endpoint::DataWay {
            urls: vec!["http://127.0.0.1:9".into()],
            token: "tkn_x".into(),
        }))
        .unwrap();
        let mut cfg = config(Endpoint::DataWay {
            urls: vec!["http://127.0.0.1:9".into()],
            token: "tkn_x".into(),
        });
        cfg.compression = Compression::None;
        assert_eq!(out.frames(), Some(Compression::Gzip(1)));
        assert_eq!(
            HttpOutput::new(cfg).unwrap().frames(),
            None,
            "no compression, no frames"
        );
    }

    #[test]
    fn one_base_url_with_two_tokens_gets_two_queues() {
        // Two workspaces behind one DataWay: their batches must never share a buffer.
        let out = dataway(
            &[
                "http://dw:9528?token=tkn_a",
                "http://dw:9528/?x=1&token=tkn_b",
            ],
            "",
        )
        .unwrap();
        let t = &out.inner.targets;
        assert_ne!(t[0].id, t[1].id);
        let (url, shown) = t[1].url(&out.inner.config.endpoint, Category::Metric);
        assert_eq!(url, "http://dw:9528/v1/write/metric?x=1&token=tkn_b");
        assert_eq!(shown, "http://dw:9528/v1/write/metric");
        assert!(!t[1].id.contains("tkn"), "{}", t[1].id);
        // The same URL and token twice would send every batch twice into one queue.
        let e = dataway(
            &["http://dw:9528?token=tkn_a", "http://dw:9528/?token=tkn_a"],
            "",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("\"http://dw:9528\" is listed twice"), "{e}");
        assert!(!e.contains("tkn_a"), "{e}");
    }

    #[test]
    fn credentials_in_urls_are_refused_without_being_shown() {
        let e = dataway(&["https://user:s3cret@dw:9528?token=tkn_a"], "")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("credentials in the URL are not supported"),
            "{e}"
        );
        assert!(!e.contains("s3cret") && !e.contains("tkn_a"), "{e}");
    }

    #[test]
    fn dataway_targets_take_the_token_from_the_url_or_config() {
        let out = dataway(&["http://a:9528", "http://b:9528/?token=tkn_b"], "tkn_a").unwrap();
        let t = &out.inner.targets;
        let e = &out.inner.config.endpoint;
        assert_eq!(
            t[0].url(e, Category::Logging).0,
            "http://a:9528/v1/write/logging?token=tkn_a"
        );
        let (url, shown) = t[1].url(e, Category::Logging);
        assert_eq!(url, "http://b:9528/v1/write/logging?token=tkn_b");
        assert!(!shown.contains("tkn_b"));
        assert!(
            !t[1].id.contains("tkn_b") && t[0].id != t[1].id,
            "{}",
            t[1].id
        );
        assert!(t[0].id.starts_with("dataway-a_9528-"), "{}", t[0].id);
    }

    #[test]
    fn urls_must_be_http_or_https() {
        let e = HttpOutput::new(config(Endpoint::InfluxV1 {
            url: "ftp://influx:8086".into(),
            db: "x".into(),
        }))
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("\"ftp://influx:8086\" is not an http:// or https:// URL"),
            "{e}"
        );
    }
}
