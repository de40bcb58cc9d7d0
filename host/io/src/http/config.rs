//! What an HTTP output is told: the endpoint, its URLs and token, batching, retries, TLS, proxy
//! and the durable buffer.

use super::HttpOutput;
use crate::buffer::QueueConfig;
use crate::tls::{build_client, TlsProxyConfig};
use crate::{Category, Compression, IoError};
use std::path::PathBuf;
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
    /// Prometheus remote write (1.0): a snappy protobuf `WriteRequest` to the URL as given
    /// (`.../api/v1/write`), with `Authorization: Bearer` when there is a token. Fields named by
    /// `counters` are counters.
    RemoteWrite {
        url: String,
        token: Option<String>,
        counters: crate::Counters,
    },
    /// OTLP/HTTP: protobuf `Export*ServiceRequest`s to `<url>/v1/metrics` and `<url>/v1/logs`
    /// (gzip or none), with `Authorization: Bearer` when there is a token.
    Otlp {
        url: String,
        token: Option<String>,
        options: crate::otlp::OtlpOptions,
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
    pub(super) fn output_name(&self) -> &'static str {
        match self {
            Endpoint::DataWay { .. } => "dataway",
            Endpoint::InfluxV1 { .. } => "influxdb",
            Endpoint::InfluxV2 { .. } => "influxdb2",
            Endpoint::RemoteWrite { .. } => "prometheus_remote_write",
            Endpoint::Otlp { .. } => "otlp",
        }
    }

    /// Whether its bodies are protobuf made of points (not line protocol).
    pub(super) fn takes_points(&self) -> bool {
        matches!(self, Endpoint::RemoteWrite { .. } | Endpoint::Otlp { .. })
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

    pub(super) fn queue_config(&self, cat: Category) -> QueueConfig {
        let cap = match cat {
            Category::Object | Category::CustomObject => self.max_bytes_object,
            _ => self.max_bytes,
        };
        QueueConfig::with_cap(cap, self.fsync)
    }
}
