//! HTTP outputs: DataWay (`POST {url}/v1/write/{category}?token=...`) and InfluxDB (v1 `/write`,
//! v2 `/api/v2/write`). Line protocol bodies, gzip or zstd, connection reuse, no retry on 4xx
//! (the status and the response body are logged and the drop is counted). Tokens never appear
//! in logs: URLs are logged without their query.
//!
//! With a durable buffer (the default in the agent), each destination URL and category has its
//! own on-disk queue ([`crate::buffer`]): a batch that fails with a transport error or 5xx is
//! appended to it and acknowledged as buffered, and a drain task re-sends the queue in order,
//! with exponential backoff and jitter, until the server is back. While a queue holds anything,
//! new batches of that category join its end, so order is kept. Without a buffer, a batch is
//! retried in memory `max_retries` times and then dropped and counted.

use crate::buffer::{DiskQueue, QueueConfig, Record};
use crate::tls::{build_client, describe_error, HttpClient, TlsProxyConfig};
use crate::{Batch, Category, Compression, Delivery, Encoded, IoError, Output};
use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use rand::Rng;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

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
    /// Without a buffer: retries after the first attempt, on transport errors and 5xx. With a
    /// buffer, the queue is retried until the server is back.
    pub max_retries: u32,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Write unsigned integers with the `u` suffix. InfluxDB 1.x refuses them (as Telegraf's
    /// `influx_uint_support = false`), so there they are written as integers, clamped to i64::MAX.
    pub uint_support: bool,
    /// The durable buffer; `None` keeps failed batches in memory only.
    pub buffer: Option<BufferConfig>,
    /// Extra CA certificates and an optional proxy.
    pub tls: TlsProxyConfig,
}

impl HttpOutputConfig {
    /// Check what [`HttpOutput::new`] checks (URLs, duplicate destinations, the CA file and the
    /// proxy) without starting anything.
    ///
    /// # Errors
    /// The first problem found, naming the output and the URL (without secrets).
    pub fn check(&self) -> Result<(), IoError> {
        let name = self.endpoint.output_name();
        HttpOutput::targets(name, &self.endpoint).map_err(|message| IoError::Config {
            output: name.into(),
            message,
        })?;
        build_client(&self.tls, name).map(|_| ())
    }
}

impl Endpoint {
    fn output_name(&self) -> &'static str {
        match self {
            Endpoint::DataWay { .. } => "dataway",
            Endpoint::InfluxV1 { .. } => "influxdb",
            Endpoint::InfluxV2 { .. } => "influxdb2",
        }
    }
}

/// Where and how much the durable buffer keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferConfig {
    /// One subdirectory per destination URL, and in it one per category.
    pub dir: PathBuf,
    /// Cap of unread bytes per category (DataKit's default: 2 GiB)...
    pub max_bytes: u64,
    /// ...and for `object` and `custom_object`, which are snapshots: old ones are worth little.
    pub max_bytes_object: u64,
    /// `fdatasync` each buffered batch before acknowledging it.
    pub fsync: bool,
}

impl BufferConfig {
    pub fn new(dir: PathBuf) -> Self {
        BufferConfig {
            dir,
            max_bytes: 2 << 30,
            max_bytes_object: 128 << 20,
            fsync: true,
        }
    }

    fn queue_config(&self, cat: Category) -> QueueConfig {
        let cap = match cat {
            Category::Object | Category::CustomObject => self.max_bytes_object,
            _ => self.max_bytes,
        };
        QueueConfig::with_cap(cap, self.fsync)
    }
}

/// Upper bounds (ms) of the upload latency histogram; a last bucket counts the rest.
pub const LATENCY_BUCKETS_MS: [u64; 11] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/// Counters of one destination URL and category, kept for `/metrics`.
#[derive(Debug, Default)]
struct LaneStats {
    requests: AtomicU64,
    points_sent: AtomicU64,
    bytes_sent: AtomicU64,
    retries: AtomicU64,
    dropped_rejected: AtomicU64,
    dropped_unreachable: AtomicU64,
    dropped_overflow: AtomicU64,
    dropped_corrupt_bytes: AtomicU64,
    buffered_points: AtomicU64,
    buffer_bytes: AtomicU64,
    latency_us_total: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS_MS.len() + 1],
}

/// A snapshot of the counters of one destination URL and category.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LaneSnapshot {
    pub output: String,
    /// The URL without its query (no token).
    pub url: String,
    pub category: String,
    pub requests: u64,
    /// Points and compressed bytes of successful requests.
    pub points_sent: u64,
    pub bytes_sent: u64,
    /// Failed attempts that were tried again (in memory or from the buffer).
    pub retries: u64,
    /// Points refused by the server (4xx): not retried.
    pub dropped_rejected: u64,
    /// Points given up after the last retry (only without a buffer).
    pub dropped_unreachable: u64,
    /// Points pushed out of a full buffer (oldest first).
    pub dropped_overflow: u64,
    /// Bytes of corrupt buffer records skipped.
    pub dropped_corrupt_bytes: u64,
    /// Points written to the buffer so far, and the bytes it holds now.
    pub buffered_points: u64,
    pub buffer_bytes: u64,
    /// Successful request latencies: sum in microseconds, and counts per bucket of
    /// [`LATENCY_BUCKETS_MS`] (not cumulative; the last counts the slower ones).
    pub latency_us_total: u64,
    pub latency_buckets: Vec<u64>,
}

/// Totals over every URL and category of an output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputStats {
    pub requests: u64,
    pub points_sent: u64,
    pub bytes_sent: u64,
    pub retries: u64,
    pub dropped_rejected: u64,
    pub dropped_unreachable: u64,
    pub dropped_overflow: u64,
    pub buffered_points: u64,
    pub buffer_bytes: u64,
}

/// One destination URL: how to build its request for a category.
#[derive(Debug)]
struct Target {
    /// URL up to the category (DataWay) or the full path (InfluxDB), without query.
    base: String,
    /// The query string, with secrets; never logged.
    query: String,
    header: Option<(&'static str, String)>,
    /// Directory name of its buffer: readable and stable, without secrets.
    id: String,
}

impl Target {
    fn url(&self, kind: &Endpoint, cat: Category) -> (String, String) {
        let shown = match kind {
            Endpoint::DataWay { .. } => format!("{}/v1/write/{}", self.base, cat.as_str()),
            _ => self.base.clone(),
        };
        (format!("{shown}?{}", self.query), shown)
    }
}

enum Attempt {
    Done,
    Retry(String),
    Rejected(String),
}

/// `http://user:pass@host:port/path?query` without the credentials and the query, for logs.
fn redact(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or(url);
    let (scheme, rest) = no_query.split_once("://").unwrap_or(("", no_query));
    let (auth, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    if scheme.is_empty() {
        format!("{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    }
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

/// Split `http(s)://host:port/path?a=1&b=2` into `http(s)://host:port/path` (no trailing slash)
/// and its query parameters as written. Credentials in the URL are refused: they would end up
/// in logs and directory names.
fn split_url(url: &str) -> Result<(String, Vec<String>), String> {
    let shown = redact(url);
    let bad = || format!("{shown:?} is not an http:// or https:// URL");
    let uri: hyper::Uri = url.parse().map_err(|_| bad())?;
    let scheme = uri.scheme_str().filter(|s| *s == "http" || *s == "https");
    let (Some(scheme), Some(auth)) = (scheme, uri.authority()) else {
        return Err(bad());
    };
    if auth.as_str().contains('@') {
        return Err(format!(
            "{shown:?}: credentials in the URL are not supported (they would be logged); use the token setting"
        ));
    }
    let base = format!("{scheme}://{auth}{}", uri.path().trim_end_matches('/'));
    let params = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    Ok((base, params))
}

fn target_id(output: &str, base: &str, params: &str) -> String {
    let host: String = base
        .split("://")
        .nth(1)
        .unwrap_or(base)
        .split('/')
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{output}-{host}-{:08x}",
        crate::fnv1a(format!("{base}?{params}").as_bytes()) as u32
    )
}

/// The part of an output that drain tasks share.
#[derive(Debug)]
struct Inner {
    name: &'static str,
    config: HttpOutputConfig,
    client: HttpClient,
    targets: Vec<Target>,
    /// Per target, per category (in `Category::ALL` order).
    stats: Vec<Vec<LaneStats>>,
}

/// The durable queue of one target and category, and the task that drains it.
#[derive(Debug)]
struct Lane {
    target: usize,
    category: Category,
    queue: Mutex<DiskQueue>,
    /// Unread bytes, mirrored so that the writer can check for an empty queue without waiting.
    unread: AtomicU64,
    wake: Notify,
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

fn cat_index(c: Category) -> usize {
    Category::ALL.iter().position(|x| *x == c).unwrap_or(0)
}

impl HttpOutput {
    /// Build the output. With a buffer, queues left by an earlier run are opened and their
    /// drain tasks started, so this must run inside the tokio runtime.
    ///
    /// # Errors
    /// A URL that is not `http://`, an empty URL list, or a buffer that cannot be opened.
    pub fn new(config: HttpOutputConfig) -> Result<Self, IoError> {
        let name = config.endpoint.output_name();
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
        let targets = Self::targets(name, &config.endpoint).map_err(cfg_err)?;
        let client = build_client(&config.tls, name)?;
        let stats = targets
            .iter()
            .map(|_| Category::ALL.iter().map(|_| LaneStats::default()).collect())
            .collect();
        let out = HttpOutput {
            inner: Arc::new(Inner {
                name,
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

    fn targets(name: &str, endpoint: &Endpoint) -> Result<Vec<Target>, String> {
        let targets = match endpoint {
            Endpoint::DataWay { urls, token } => urls
                .iter()
                .map(|u| {
                    // DataKit users often write the token into the URL: `https://dw?token=tkn_x`.
                    // It is taken from there (as written) or from the config (encoded); other
                    // query parameters are passed on as they are, and never logged.
                    let (base, params) = split_url(u)?;
                    let mut query: Vec<String> = params
                        .iter()
                        .filter(|p| !p.starts_with("token="))
                        .cloned()
                        .collect();
                    match params.iter().find(|p| p.starts_with("token=")) {
                        Some(t) => query.push(t.clone()),
                        None => query.push(format!("token={}", encode_query(token))),
                    }
                    let query = query.join("&");
                    Ok(Target {
                        id: target_id(name, &base, &query),
                        base,
                        query,
                        header: None,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?,
            Endpoint::InfluxV1 { url, db } => {
                let (base, params) = split_url(url)?;
                if !params.is_empty() {
                    return Err(format!(
                        "{:?}: the URL takes no query here; set db in the config",
                        redact(url)
                    ));
                }
                let base = format!("{base}/write");
                let query = format!("db={}&precision=ns", encode_query(db));
                vec![Target {
                    id: target_id(name, &base, &query),
                    base,
                    query,
                    header: None,
                }]
            }
            Endpoint::InfluxV2 {
                url,
                org,
                bucket,
                token,
            } => {
                let (base, params) = split_url(url)?;
                if !params.is_empty() {
                    return Err(format!("{:?}: the URL takes no query here; set org, bucket and token in the config", redact(url)));
                }
                let base = format!("{base}/api/v2/write");
                let query = format!(
                    "org={}&bucket={}&precision=ns",
                    encode_query(org),
                    encode_query(bucket)
                );
                vec![Target {
                    // The token is part of the destination: another token, another queue.
                    id: target_id(name, &base, &format!("{query}&{token}")),
                    base,
                    query,
                    header: Some(("authorization", format!("Token {token}"))),
                }]
            }
        };
        for (i, t) in targets.iter().enumerate() {
            if targets[..i].iter().any(|o| o.id == t.id) {
                return Err(format!("{:?} is listed twice with the same token", t.base));
            }
        }
        Ok(targets)
    }

    /// Open the queues an earlier run left with data; warn about those of URLs no longer
    /// configured (they are kept, not sent).
    fn open_existing(&self, buf: &BufferConfig) -> Result<(), IoError> {
        let Ok(entries) = std::fs::read_dir(&buf.dir) else {
            return Ok(());
        };
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            let Some(t) = self.inner.targets.iter().position(|t| t.id == id) else {
                if id.starts_with(&format!("{}-", self.inner.name)) {
                    let bytes = dir_bytes(&e.path());
                    if bytes > 0 {
                        tracing::warn!(dir = %e.path().display(), bytes, "io.buffer holds batches for a URL that is no longer configured; kept, not sent");
                    }
                }
                continue;
            };
            for cat in Category::ALL {
                if e.path().join(cat.as_str()).is_dir() {
                    let lane = self.lane_now(t, cat)?;
                    let n = lane.unread.load(Ordering::Relaxed);
                    if n > 0 {
                        tracing::info!(url = %self.inner.targets[t].base, category = %cat, bytes = n, "io.buffer replaying batches left by the last run");
                    }
                }
            }
        }
        Ok(())
    }

    fn lane_dir(&self, target: usize, category: Category) -> Option<(PathBuf, QueueConfig)> {
        let buf = self.inner.config.buffer.as_ref()?;
        let dir = buf
            .dir
            .join(&self.inner.targets[target].id)
            .join(category.as_str());
        Some((dir, buf.queue_config(category)))
    }

    fn existing_lane(&self, target: usize, category: Category) -> Option<Arc<Lane>> {
        self.lanes.lock().ok()?.get(&(target, category)).cloned()
    }

    /// The lane of a target and category, opened (and its drain task started) on first use.
    /// The queue is opened on a blocking thread (it may cut a torn tail), one at a time.
    async fn lane(&self, target: usize, category: Category) -> Result<Arc<Lane>, IoError> {
        if let Some(l) = self.existing_lane(target, category) {
            return Ok(l);
        }
        let _one = self.opening.lock().await;
        if let Some(l) = self.existing_lane(target, category) {
            return Ok(l);
        }
        let Some((dir, cfg)) = self.lane_dir(target, category) else {
            return Err(IoError::WriterGone);
        };
        let d = dir.clone();
        let q = tokio::task::spawn_blocking(move || DiskQueue::open(&d, cfg))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        self.install(target, category, dir, q)
    }

    /// [`HttpOutput::lane`] for the constructor, where blocking is expected.
    fn lane_now(&self, target: usize, category: Category) -> Result<Arc<Lane>, IoError> {
        if let Some(l) = self.existing_lane(target, category) {
            return Ok(l);
        }
        let Some((dir, cfg)) = self.lane_dir(target, category) else {
            return Err(IoError::WriterGone);
        };
        let q = DiskQueue::open(&dir, cfg);
        self.install(target, category, dir, q)
    }

    fn install(
        &self,
        target: usize,
        category: Category,
        dir: PathBuf,
        q: std::io::Result<DiskQueue>,
    ) -> Result<Arc<Lane>, IoError> {
        let q = q.map_err(|source| IoError::Open {
            output: self.inner.name.into(),
            path: dir,
            source,
        })?;
        let lane = Arc::new(Lane {
            target,
            category,
            unread: AtomicU64::new(q.unread_bytes()),
            queue: Mutex::new(q),
            wake: Notify::new(),
        });
        self.inner
            .lane_stats(target, category)
            .buffer_bytes
            .store(lane.unread.load(Ordering::Relaxed), Ordering::Relaxed);
        self.lanes
            .lock()
            .map_err(|_| IoError::WriterGone)?
            .insert((target, category), lane.clone());
        let task = tokio::spawn(drain(self.inner.clone(), lane.clone()));
        if let Ok(mut d) = self.drains.lock() {
            d.push(task);
        }
        Ok(lane)
    }

    /// The buffer directory name of each URL, in config order (`<output>-<host_port>-<hash>`).
    pub fn buffer_dir_names(&self) -> Vec<String> {
        self.inner.targets.iter().map(|t| t.id.clone()).collect()
    }

    /// Totals over every URL and category.
    pub fn stats(&self) -> OutputStats {
        let mut t = OutputStats::default();
        for s in self.inner.stats.iter().flatten() {
            let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
            t.requests += get(&s.requests);
            t.points_sent += get(&s.points_sent);
            t.bytes_sent += get(&s.bytes_sent);
            t.retries += get(&s.retries);
            t.dropped_rejected += get(&s.dropped_rejected);
            t.dropped_unreachable += get(&s.dropped_unreachable);
            t.dropped_overflow += get(&s.dropped_overflow);
            t.buffered_points += get(&s.buffered_points);
            t.buffer_bytes += get(&s.buffer_bytes);
        }
        t
    }

    /// Counters per URL and category, for those that saw any traffic.
    pub fn lane_snapshots(&self) -> Vec<LaneSnapshot> {
        let mut out = Vec::new();
        for (t, per_cat) in self.inner.stats.iter().enumerate() {
            for (c, s) in per_cat.iter().enumerate() {
                let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
                let snap = LaneSnapshot {
                    output: self.inner.name.into(),
                    url: self.inner.targets[t].base.clone(),
                    category: Category::ALL[c].as_str().into(),
                    requests: get(&s.requests),
                    points_sent: get(&s.points_sent),
                    bytes_sent: get(&s.bytes_sent),
                    retries: get(&s.retries),
                    dropped_rejected: get(&s.dropped_rejected),
                    dropped_unreachable: get(&s.dropped_unreachable),
                    dropped_overflow: get(&s.dropped_overflow),
                    dropped_corrupt_bytes: get(&s.dropped_corrupt_bytes),
                    buffered_points: get(&s.buffered_points),
                    buffer_bytes: get(&s.buffer_bytes),
                    latency_us_total: get(&s.latency_us_total),
                    latency_buckets: s.latency_buckets.iter().map(get).collect(),
                };
                if snap.requests > 0 || snap.buffer_bytes > 0 {
                    out.push(snap);
                }
            }
        }
        out
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
            if buffered {
                inner
                    .lane_stats(t, cat)
                    .retries
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(output = inner.name, url = %shown, category = %cat, "io.http unreachable, batch buffered on disk: {why}");
                let lane = self.lane(t, cat).await?;
                return self.buffer(&lane, body, n).await;
            }
            if tries >= inner.config.max_retries {
                inner
                    .lane_stats(t, cat)
                    .dropped_unreachable
                    .fetch_add(u64::from(n), Ordering::Relaxed);
                let err = IoError::Unreachable {
                    output: inner.name.into(),
                    url: shown.clone(),
                    reason: format!("{why} (after {tries} retries)"),
                };
                tracing::error!(category = %cat, points = n, "io.http batch dropped: {err}");
                return Err(err);
            }
            tries += 1;
            inner
                .lane_stats(t, cat)
                .retries
                .fetch_add(1, Ordering::Relaxed);
            let wait = jittered(delay);
            tracing::warn!(output = inner.name, url = %shown, category = %cat, attempt = tries, "io.http retrying in {wait:?}: {why}");
            tokio::time::sleep(wait).await;
            delay = (delay * 2).min(inner.config.backoff_max);
        }
    }

    /// Append a batch to a lane's queue and wake its drain task.
    async fn buffer(&self, lane: &Arc<Lane>, body: &Bytes, n: u32) -> Result<Delivery, IoError> {
        let inner = &self.inner;
        let l = lane.clone();
        let b = body.clone();
        let r = tokio::task::spawn_blocking(move || {
            let mut q = l
                .queue
                .lock()
                .map_err(|_| std::io::Error::other("buffer lock poisoned"))?;
            let d = q.append(n, &b)?;
            l.unread.store(q.unread_bytes(), Ordering::Release);
            Ok::<_, std::io::Error>(d)
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        let s = inner.lane_stats(lane.target, lane.category);
        s.buffer_bytes
            .store(lane.unread.load(Ordering::Relaxed), Ordering::Relaxed);
        match r {
            Ok(d) => {
                s.buffered_points.fetch_add(u64::from(n), Ordering::Relaxed);
                if d.overflow_records > 0 {
                    s.dropped_overflow
                        .fetch_add(d.overflow_points, Ordering::Relaxed);
                    tracing::warn!(output = inner.name, url = %inner.targets[lane.target].base, category = %lane.category, batches = d.overflow_records, points = d.overflow_points, "io.buffer full: oldest batches dropped");
                }
                lane.wake.notify_one();
                Ok(Delivery::Buffered)
            }
            Err(source) => {
                s.dropped_unreachable
                    .fetch_add(u64::from(n), Ordering::Relaxed);
                let err = IoError::Write {
                    output: format!(
                        "{} buffer of {} {}",
                        inner.name, inner.targets[lane.target].base, lane.category
                    ),
                    source,
                };
                tracing::error!(points = n, "io.buffer batch dropped: {err}");
                Err(err)
            }
        }
    }
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => n += dir_bytes(&e.path()),
                Ok(_) if e.file_name().to_string_lossy().ends_with(".seg") => {
                    n += e.metadata().map_or(0, |m| m.len().saturating_sub(8));
                }
                _ => {}
            }
        }
    }
    n
}

/// `delay` plus up to half of it again, so that many agents do not retry in step.
fn jittered(delay: Duration) -> Duration {
    delay + rand::rng().random_range(Duration::ZERO..=delay / 2)
}

impl Inner {
    fn lane_stats(&self, t: usize, cat: Category) -> &LaneStats {
        &self.stats[t][cat_index(cat)]
    }

    fn rejected(&self, t: usize, cat: Category, shown: &str, n: u32, reason: &str) -> IoError {
        self.lane_stats(t, cat)
            .dropped_rejected
            .fetch_add(u64::from(n), Ordering::Relaxed);
        let err = IoError::Rejected {
            output: self.name.into(),
            url: shown.into(),
            reason: format!("{reason} (not retried)"),
        };
        tracing::error!(category = %cat, points = n, "io.http batch dropped: {err}");
        err
    }

    async fn attempt(
        &self,
        t: usize,
        cat: Category,
        url: &str,
        body: &Bytes,
        points: u32,
    ) -> Attempt {
        let stats = self.lane_stats(t, cat);
        let mut req = Request::post(url)
            .header("content-type", "text/plain; charset=utf-8")
            .header("x-points", points.to_string())
            .header("user-agent", concat!("sandkit/", env!("CARGO_PKG_VERSION")));
        if let Some(enc) = self.config.compression.content_encoding() {
            req = req.header("content-encoding", enc);
        }
        if let Some((k, v)) = &self.targets[t].header {
            req = req.header(*k, v.as_str());
        }
        let req = match req.body(Full::new(body.clone())) {
            Ok(r) => r,
            Err(e) => return Attempt::Rejected(format!("cannot build request: {e}")),
        };
        let start = std::time::Instant::now();
        stats.requests.fetch_add(1, Ordering::Relaxed);
        let resp = match tokio::time::timeout(self.config.timeout, self.client.request(req)).await {
            Err(_) => {
                return Attempt::Retry(format!("no response within {:?}", self.config.timeout))
            }
            Ok(Err(e)) => {
                return Attempt::Retry(format!("transport error: {}", describe_error(&e)))
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        // The body is read (so that the connection can be reused) up to a bound: a broken or
        // hostile server cannot make the agent buffer an endless answer.
        let text = tokio::time::timeout(self.config.timeout, read_capped(resp.into_body()))
            .await
            .unwrap_or_default();
        if status.is_success() {
            let us = start.elapsed().as_micros() as u64;
            stats.latency_us_total.fetch_add(us, Ordering::Relaxed);
            let b = LATENCY_BUCKETS_MS
                .iter()
                .position(|&ms| us <= ms * 1000)
                .unwrap_or(LATENCY_BUCKETS_MS.len());
            stats.latency_buckets[b].fetch_add(1, Ordering::Relaxed);
            stats
                .points_sent
                .fetch_add(u64::from(points), Ordering::Relaxed);
            stats
                .bytes_sent
                .fetch_add(body.len() as u64, Ordering::Relaxed);
            Attempt::Done
        } else if status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
        {
            Attempt::Retry(format!("status {status}: {text}"))
        } else {
            Attempt::Rejected(format!("status {status}: {text}"))
        }
    }
}

/// Bytes of a response body read at most; the first 512 characters are kept for the log.
const MAX_RESPONSE_BYTES: usize = 64 << 10;

async fn read_capped(mut body: hyper::body::Incoming) -> String {
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            seen += data.len();
            let room = 2048usize.saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
        if seen > MAX_RESPONSE_BYTES {
            break;
        }
    }
    String::from_utf8_lossy(&kept).chars().take(512).collect()
}

/// Re-send a lane's queue, oldest first, until it is empty; then wait for more.
async fn drain(inner: Arc<Inner>, lane: Arc<Lane>) {
    let (url, shown) = inner.targets[lane.target].url(&inner.config.endpoint, lane.category);
    let stats = inner.lane_stats(lane.target, lane.category);
    let mut delay = inner.config.backoff_initial;
    let mut failing = 0u64;
    loop {
        let l = lane.clone();
        let next = tokio::task::spawn_blocking(move || {
            let mut q = l
                .queue
                .lock()
                .map_err(|_| std::io::Error::other("buffer lock poisoned"))?;
            let r = q.peek();
            let d = q.take_dropped();
            l.unread.store(q.unread_bytes(), Ordering::Release);
            r.map(|r| (r, d))
        })
        .await;
        let rec: Record = match next {
            Ok(Ok((r, d))) => {
                if d.corrupt_bytes > 0 {
                    stats
                        .dropped_corrupt_bytes
                        .fetch_add(d.corrupt_bytes, Ordering::Relaxed);
                }
                stats
                    .buffer_bytes
                    .store(lane.unread.load(Ordering::Relaxed), Ordering::Relaxed);
                match r {
                    Some(r) => r,
                    None => {
                        lane.wake.notified().await;
                        continue;
                    }
                }
            }
            Ok(Err(e)) => {
                tracing::error!(output = inner.name, url = %shown, category = %lane.category, error = %e, "io.buffer cannot read; retrying");
                tokio::time::sleep(jittered(inner.config.backoff_max)).await;
                continue;
            }
            Err(e) => {
                // A panic in a blocking read, or the runtime shutting down: try again later.
                tracing::error!(output = inner.name, url = %shown, category = %lane.category, error = %e, "io.buffer read task failed; retrying");
                tokio::time::sleep(jittered(inner.config.backoff_max)).await;
                continue;
            }
        };
        // The record is held until it is sent: if the cap pushes its segment out meanwhile, it
        // still goes first (and is not counted as dropped), so order is kept.
        let body = Bytes::from(rec.body);
        loop {
            let outcome = inner
                .attempt(lane.target, lane.category, &url, &body, rec.points)
                .await;
            match outcome {
                Attempt::Retry(why) => {
                    failing += 1;
                    stats.retries.fetch_add(1, Ordering::Relaxed);
                    let wait = jittered(delay);
                    if failing == 1 || failing.is_power_of_two() {
                        tracing::warn!(output = inner.name, url = %shown, category = %lane.category, attempts = failing, buffered_bytes = lane.unread.load(Ordering::Relaxed), "io.http still unreachable, next try in {wait:?}: {why}");
                    }
                    tokio::time::sleep(wait).await;
                    delay = (delay * 2).min(inner.config.backoff_max);
                }
                Attempt::Rejected(reason) => {
                    inner.rejected(lane.target, lane.category, &shown, rec.points, &reason);
                    break;
                }
                Attempt::Done => {
                    if failing > 0 {
                        tracing::info!(output = inner.name, url = %shown, category = %lane.category, after_attempts = failing, "io.http reachable again, sending the buffer");
                    }
                    break;
                }
            }
        }
        failing = 0;
        delay = inner.config.backoff_initial;
        let l = lane.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Ok(mut q) = l.queue.lock() {
                q.commit(rec.pos, rec.next);
                l.unread.store(q.unread_bytes(), Ordering::Release);
            }
        })
        .await;
        stats
            .buffer_bytes
            .store(lane.unread.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

#[async_trait]
impl Output for HttpOutput {
    fn name(&self) -> &str {
        self.inner.name
    }

    fn lane_stats(&self) -> Vec<LaneSnapshot> {
        self.lane_snapshots()
    }

    fn uint_support(&self) -> bool {
        self.inner.config.uint_support
    }

    fn encode(&self, _category: Category, batch: &Batch) -> Option<Result<Encoded, IoError>> {
        let inner = &self.inner;
        let text = batch.text(inner.config.uint_support);
        Some(
            inner
                .config
                .compression
                .compress(text.as_bytes())
                .map(|body| Encoded {
                    body: Bytes::from(body),
                    points: u32::try_from(batch.len()).unwrap_or(u32::MAX),
                })
                .map_err(|source| IoError::Write {
                    output: inner.name.into(),
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
    use super::*;

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
