//! `[output]` (one output, the single-output form) and `[[outputs]]` (several, each with a
//! name and a route): parsing and validation into the settings of each output's writer.

use anyhow::{anyhow, Result};
use sandkit_conf::{at_span, ByteSize, HumanDuration};
use sandkit_io::{
    BatchConfig, BufferConfig, Category, Compression, Endpoint, HttpOutputConfig, NatsConfig,
    Route, TlsProxyConfig,
};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    /// The output's name in logs, metrics and `sandkit status`; required in `[[outputs]]`
    /// (its kind by default in `[output]`).
    name: Option<Spanned<String>>,
    /// "stdout", "file", "dataway", "influxdb" (v1), "influxdb2", "prometheus_remote_write",
    /// "otlp" (OTLP/HTTP) or "nats" (JetStream).
    #[serde(default = "default_output_kind")]
    kind: String,
    /// What the output takes; everything by default.
    route: Option<RawRoute>,
    /// File to append line protocol to, for kind = "file".
    path: Option<PathBuf>,
    /// Batches that may wait for the output before producers are held back.
    #[serde(default = "default_queue")]
    queue_batches: usize,
    /// DataWay base URLs (each receives every batch); a URL may carry `?token=`.
    #[serde(default)]
    urls: Vec<String>,
    /// InfluxDB base URL; the remote-write URL (`.../api/v1/write`); the OTLP/HTTP base URL
    /// (`http://collector:4318`: `/v1/metrics` and `/v1/logs` are added).
    url: Option<String>,
    /// DataWay workspace token, InfluxDB 2 API token, remote-write and OTLP bearer token.
    token: Option<String>,
    /// Remote write: the series that are counters, as `<measurement>_<field>` (a trailing `*`
    /// takes every name it begins); they end in `_total`. Every other series is a gauge.
    /// OTLP: the metrics that are cumulative monotonic sums, as `<measurement>.<field>`.
    counters: Option<Vec<String>>,
    /// InfluxDB 1 database.
    db: Option<String>,
    /// InfluxDB 2 organization.
    org: Option<String>,
    /// InfluxDB 2 bucket.
    bucket: Option<String>,
    /// "gzip" (default), "zstd" or "none".
    #[serde(default = "default_compression")]
    compression: String,
    /// Compression level (gzip 0-9, default 1; zstd -7 to 19, default 1; negative levels are the fastest).
    compression_level: Option<i32>,
    /// Per-request timeout.
    timeout: Option<HumanDuration>,
    /// Write uint fields with the `u` suffix; default true, false for kind = "influxdb" (1.x
    /// refuses them; they are then written as integers).
    uint_support: Option<bool>,
    /// Retries on transport errors and 5xx before a batch is dropped and counted (HTTP: 5 by
    /// default; NATS: no end by default).
    max_retries: Option<u32>,
    /// NATS: messages go to `<subject>.<category>`; default "sandkit".
    subject: Option<String>,
    /// NATS: the JetStream stream, created when missing; default "SANDKIT".
    stream: Option<String>,
    /// NATS: "line_protocol" (default) or "otlp" (metric and logging batches as OTLP export
    /// requests, protobuf; the other categories stay line protocol).
    format: Option<String>,
    /// NATS: user and password (or `token`).
    user: Option<String>,
    password: Option<String>,
    /// A batch is written at the latest this long after its first point.
    flush_interval: Option<HumanDuration>,
    /// Points per batch.
    max_points: Option<usize>,
    /// Approximate uncompressed bytes per batch, e.g. "1MiB".
    max_bytes: Option<ByteSize>,
    /// Keep batches that cannot be delivered on disk (HTTP outputs); default true.
    buffer: Option<bool>,
    /// Where; default `<data_dir>/buffer` (`<data_dir>/buffer/<name>` in `[[outputs]]`).
    buffer_dir: Option<PathBuf>,
    /// Cap of undelivered bytes per category; default 2 GiB.
    buffer_max_bytes: Option<ByteSize>,
    /// Cap for `object` and `custom_object`; default 128 MiB.
    buffer_max_bytes_object: Option<ByteSize>,
    /// fdatasync each buffered batch before acknowledging it; default true.
    buffer_fsync: Option<bool>,
    /// Longest wait between two tries of an unreachable output; default 30 s.
    backoff_max: Option<HumanDuration>,
    /// PEM file of CA certificates trusted besides the system roots (a private DataWay CA).
    ca_file: Option<PathBuf>,
    /// `http://[user:pass@]host:port` of an HTTP proxy (CONNECT for https:// URLs).
    proxy: Option<String>,
}

/// `route = { ... }`: each list, when given, must not be empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    /// Categories taken (metric, logging, object, ...).
    categories: Option<Spanned<Vec<Spanned<String>>>>,
    /// Sources taken: plugin names, file tasks' `source` or `name`, `otlp` for the server's
    /// OTLP routes, `http` for its other
    /// write routes; a trailing `*` takes every name it begins.
    sources: Option<Spanned<Vec<Spanned<String>>>>,
    /// Measurements taken; a trailing `*` takes every name it begins.
    measurements: Option<Spanned<Vec<Spanned<String>>>>,
}

fn default_compression() -> String {
    "gzip".into()
}
fn default_output_kind() -> String {
    "stdout".into()
}
fn default_queue() -> usize {
    64
}

impl Default for RawOutput {
    fn default() -> Self {
        // Every key has a default: the empty table's.
        toml::from_str("").unwrap_or_else(|_| unreachable!("an empty [output] table parses"))
    }
}

/// Where points go.
#[derive(Debug, Clone)]
pub enum OutputKind {
    Stdout,
    File(PathBuf),
    Http(Box<HttpOutputConfig>),
    Nats(Box<NatsConfig>),
}

/// One output: its writer's settings and its route.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub name: String,
    pub kind: OutputKind,
    pub route: Route,
    pub queue_batches: usize,
    pub batch: BatchConfig,
}

/// What the outputs are checked against.
pub(super) struct Context<'a> {
    pub text: &'a str,
    pub source: &'a Path,
    pub resolve: &'a dyn Fn(&Path) -> PathBuf,
    pub data_dir: &'a Path,
    /// `--output-file`: one file output, taking everything, instead of the configured ones.
    pub output_file: Option<&'a Path>,
    /// The names a route's `sources` may take (plugins, file tasks, `http`, `otlp`).
    pub sources: &'a [String],
    /// `[global_tags]`: an OTLP output's resource.
    pub global_tags: &'a [(String, String)],
}

impl Context<'_> {
    fn error(&self, span: std::ops::Range<usize>, msg: &str) -> anyhow::Error {
        anyhow!(
            "config error in {}: {}",
            self.source.display(),
            at_span(self.text, span, msg)
        )
    }
}

/// The outputs of `[output]` or of the `[[outputs]]` tables (the stdout output when neither).
///
/// # Errors
/// Both forms at once, a name missing, repeated or unfit for a directory name, a bad key of an
/// output, and routing mistakes (an unknown category, an empty list, a source that names
/// nothing this agent runs), naming the file and the line.
pub(super) fn outputs(
    single: Option<&Spanned<RawOutput>>,
    many: &[Spanned<RawOutput>],
    cx: &Context<'_>,
) -> Result<Vec<OutputConfig>> {
    if let Some(file) = cx.output_file {
        // The configured output's batching stays (of the first, with several).
        let base = single.or(many.first()).map(Spanned::get_ref);
        let default = RawOutput::default();
        let base = base.unwrap_or(&default);
        return Ok(vec![OutputConfig {
            name: "file".into(),
            kind: OutputKind::File(file.to_path_buf()),
            route: Route::all(),
            queue_batches: base.queue_batches.max(1),
            batch: batch_config(base),
        }]);
    }
    match (single, many) {
        (Some(s), [first, ..]) => Err(cx.error(
            first.span(),
            &format!(
                "[output] (at line {}) and [[outputs]] are both set; keep one: [[outputs]] \
                 tables, one per output, or [output] alone",
                line_of(cx.text, s.span().start)
            ),
        )),
        (None, []) => output(&RawOutput::default(), "output", None, cx).map(|o| vec![o]),
        (Some(s), []) => output(s.get_ref(), "output", None, cx).map(|o| vec![o]),
        (None, many) => {
            let mut out: Vec<OutputConfig> = Vec::new();
            for (i, t) in many.iter().enumerate() {
                let Some(name) = &t.get_ref().name else {
                    return Err(cx.error(
                        t.span(),
                        &format!("[[outputs]] #{}: `name` is required", i + 1),
                    ));
                };
                let n = name.get_ref();
                let fit = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
                if n.is_empty() || n.starts_with('.') || !n.chars().all(fit) {
                    return Err(cx.error(
                        name.span(),
                        &format!("output name {n:?}: use letters, digits, `_`, `-` and `.` (it names the output's buffer directory)"),
                    ));
                }
                if out.iter().any(|o| o.name == *n) {
                    return Err(cx.error(
                        name.span(),
                        &format!("an output named {n:?} exists already"),
                    ));
                }
                let key = format!("outputs.{n}");
                out.push(output(t.get_ref(), &key, Some(n), cx)?);
            }
            Ok(out)
        }
    }
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

fn batch_config(o: &RawOutput) -> BatchConfig {
    BatchConfig {
        flush_interval: o.flush_interval.map_or(Duration::from_secs(10), |d| d.0),
        max_points: o.max_points.unwrap_or(1_000).max(1),
        max_bytes: o.max_bytes.map_or(1 << 20, |b| b.0 as usize).max(1),
    }
}

/// One output; `key` is how errors name it (`output`, `outputs.<name>`), and `named` its name
/// in `[[outputs]]`.
fn output(o: &RawOutput, key: &str, named: Option<&str>, cx: &Context<'_>) -> Result<OutputConfig> {
    let err = |k: &str, why: &str| {
        anyhow!(
            "config error in {}: key \"{key}.{k}\": {why}",
            cx.source.display()
        )
    };
    let need = |v: &Option<String>, k: &str| {
        v.clone()
            .ok_or_else(|| err(k, &format!("required when kind = {:?}", o.kind)))
    };
    let compression = Compression::parse(&o.compression, o.compression_level)
        .map_err(|e| err("compression", &e))?;
    let buffer = o.buffer.unwrap_or(true).then(|| {
        let dir = match (&o.buffer_dir, named) {
            (Some(d), _) => (cx.resolve)(d),
            (None, Some(n)) => cx.data_dir.join("buffer").join(n),
            (None, None) => cx.data_dir.join("buffer"),
        };
        let defaults = BufferConfig::new(dir);
        BufferConfig {
            max_bytes: o.buffer_max_bytes.map_or(defaults.max_bytes, |b| b.0),
            max_bytes_object: o
                .buffer_max_bytes_object
                .map_or(defaults.max_bytes_object, |b| b.0),
            fsync: o.buffer_fsync.unwrap_or(defaults.fsync),
            ..defaults
        }
    });
    let backoff_max = o.backoff_max.map_or(Duration::from_secs(30), |d| d.0);
    if backoff_max < Duration::from_millis(500) {
        return Err(err("backoff_max", "must be at least 500ms"));
    }
    let http = |endpoint: Endpoint| {
        OutputKind::Http(Box::new(HttpOutputConfig {
            endpoint,
            compression,
            timeout: o.timeout.map_or(Duration::from_secs(30), |d| d.0),
            max_retries: o.max_retries.unwrap_or(5),
            backoff_initial: Duration::from_millis(500),
            backoff_max,
            uint_support: o.uint_support.unwrap_or(o.kind != "influxdb"),
            buffer: buffer.clone(),
            tls: TlsProxyConfig {
                ca_file: o.ca_file.as_deref().map(cx.resolve),
                proxy: o.proxy.clone(),
            },
        }))
    };
    // An OTLP payload's settings (the otlp output; a NATS output's `format = "otlp"`).
    let otlp_options = || sandkit_io::otlp::OtlpOptions {
        counters: sandkit_io::Counters(o.counters.clone().unwrap_or_default()),
        resource: cx.global_tags.to_vec(),
        start_ns: u64::try_from(sandkit_io::now_ns()).unwrap_or(0),
    };
    let kind = match o.kind.as_str() {
        "stdout" => OutputKind::Stdout,
        "file" => {
            let path = o
                .path
                .as_deref()
                .ok_or_else(|| err("path", "required when kind = \"file\""))?;
            OutputKind::File((cx.resolve)(path))
        }
        "dataway" => {
            if o.urls.is_empty() {
                return Err(err("urls", "at least one DataWay URL is required"));
            }
            let token = o.token.clone().unwrap_or_default();
            let has_token = |u: &str| {
                u.split_once('?')
                    .is_some_and(|(_, q)| q.split('&').any(|p| p.starts_with("token=")))
            };
            if token.is_empty() && !o.urls.iter().all(|u| has_token(u)) {
                return Err(err("token", "required unless every URL carries ?token="));
            }
            http(Endpoint::DataWay {
                urls: o.urls.clone(),
                token,
            })
        }
        "influxdb" => http(Endpoint::InfluxV1 {
            url: need(&o.url, "url")?,
            db: need(&o.db, "db")?,
        }),
        "influxdb2" => http(Endpoint::InfluxV2 {
            url: need(&o.url, "url")?,
            org: need(&o.org, "org")?,
            bucket: need(&o.bucket, "bucket")?,
            token: need(&o.token, "token")?,
        }),
        "prometheus_remote_write" => {
            if o.compression != default_compression() || o.compression_level.is_some() {
                return Err(err(
                    "compression",
                    "remote write is always snappy; leave compression out",
                ));
            }
            http(Endpoint::RemoteWrite {
                url: need(&o.url, "url")?,
                token: o.token.clone(),
                counters: sandkit_io::Counters(o.counters.clone().unwrap_or_default()),
            })
        }
        "otlp" => {
            if !matches!(compression, Compression::Gzip(_) | Compression::None) {
                return Err(err(
                    "compression",
                    "OTLP/HTTP takes \"gzip\" or \"none\"",
                ));
            }
            http(Endpoint::Otlp {
                url: need(&o.url, "url")?,
                token: o.token.clone(),
                options: otlp_options(),
            })
        }
        "nats" => OutputKind::Nats(Box::new(NatsConfig {
            url: need(&o.url, "url")?,
            ca_file: o.ca_file.as_deref().map(cx.resolve),
            subject: o.subject.clone().unwrap_or_else(|| "sandkit".into()),
            stream: o.stream.clone().unwrap_or_else(|| "SANDKIT".into()),
            token: o.token.clone(),
            user: o.user.clone(),
            password: o.password.clone(),
            timeout: o.timeout.map_or(Duration::from_secs(10), |d| d.0),
            max_retries: o.max_retries,
            backoff_max,
            uint_support: o.uint_support.unwrap_or(true),
            otlp: match o.format.as_deref() {
                None | Some("line_protocol") => None,
                Some("otlp") => Some(otlp_options()),
                Some(other) => {
                    return Err(err(
                        "format",
                        &format!("{other:?}: use \"line_protocol\" (default) or \"otlp\""),
                    ))
                }
            },
        })),
        other => {
            return Err(err(
                "kind",
                &format!("{other:?} is not an output; use \"stdout\", \"file\", \"dataway\", \"influxdb\", \"influxdb2\", \"prometheus_remote_write\", \"otlp\" or \"nats\""),
            ))
        }
    };
    let name = match (named, &o.name) {
        (Some(n), _) => n.to_string(),
        (None, Some(n)) => n.get_ref().clone(),
        (None, None) => o.kind.clone(),
    };
    let mut route = o
        .route
        .as_ref()
        .map_or(Ok(Route::all()), |r| route(r, cx))?;
    if o.kind == "otlp" {
        // OTLP carries metrics and logs; nothing else has a place in it.
        let fit = [Category::Metric, Category::Logging];
        let cats = o.route.as_ref().and_then(|r| r.categories.as_ref());
        if let Some(bad) = cats.and_then(|c| {
            c.get_ref()
                .iter()
                .find(|n| !fit.iter().any(|f| f.as_str() == n.get_ref()))
        }) {
            return Err(cx.error(
                bad.span(),
                &format!(
                    "{key}: an OTLP output takes metric and logging, not {:?}",
                    bad.get_ref()
                ),
            ));
        }
        route.categories.get_or_insert_with(|| fit.to_vec());
    }
    Ok(OutputConfig {
        name,
        kind,
        route,
        queue_batches: o.queue_batches.max(1),
        batch: batch_config(o),
    })
}

type Names = Spanned<Vec<Spanned<String>>>;

/// A list of a route, checked not to be empty and each name by `check`.
fn names(
    list: Option<&Names>,
    what: &str,
    cx: &Context<'_>,
    check: impl Fn(&str) -> Option<String>,
) -> Result<Option<Vec<String>>> {
    let Some(list) = list else {
        return Ok(None);
    };
    if list.get_ref().is_empty() {
        return Err(cx.error(
            list.span(),
            &format!("route.{what} is empty: the output would take nothing (leave the key out to take every {what})"),
        ));
    }
    list.get_ref()
        .iter()
        .map(|n| match check(n.get_ref()) {
            Some(why) => Err(cx.error(n.span(), &why)),
            None => Ok(n.get_ref().clone()),
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

fn route(r: &RawRoute, cx: &Context<'_>) -> Result<Route> {
    let categories = names(r.categories.as_ref(), "categories", cx, |c| {
        c.parse::<Category>().err().map(|_| {
            let all: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
            format!("{c:?} is not a category; use one of {}", all.join(", "))
        })
    })?
    .map(|v| v.iter().filter_map(|c| c.parse().ok()).collect());
    let sources = names(r.sources.as_ref(), "sources", cx, |s| {
        let probe = Route {
            sources: Some(vec![s.to_string()]),
            ..Route::all()
        };
        (!cx.sources.iter().any(|known| probe.takes_source(known))).then(|| {
            format!(
                "source {s:?} names nothing this agent runs: no plugin in the plugins directory \
                 or conf.d, no file task, not `http` or `otlp` (known: {})",
                cx.sources.join(", ")
            )
        })
    })?;
    let measurements = names(r.measurements.as_ref(), "measurements", cx, |m| {
        (m.is_empty() || m == "*").then(|| {
            format!("measurement {m:?} filters nothing; leave `measurements` out to take them all")
        })
    })?;
    Ok(Route {
        categories,
        sources,
        measurements,
    })
}
