//! sandkit.toml: parsing (unknown keys rejected, with file and position) and validation into the
//! settings each part of the agent uses.

use anyhow::{bail, Context, Result};
use sandkit_conf::{toml_message, ByteSize, HumanDuration};
use sandkit_files::{FileTask, RawFileTask};
use sandkit_io::{
    BatchConfig, BufferConfig, Compression, Endpoint, HttpOutputConfig, TlsProxyConfig,
};
use sandkit_runtime::{RawRuntimeConfig, RuntimeConfig};
use sandkit_server::{HttpConfig, RawHttpConfig};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The embedded default config.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// Directory of plugin components.
    #[serde(default = "default_plugins_dir")]
    plugins_dir: PathBuf,
    /// Directory of per-plugin config files.
    #[serde(default = "default_conf_dir")]
    conf_dir: PathBuf,
    /// Directory of the agent's state.
    #[serde(default = "default_data_dir")]
    data_dir: PathBuf,
    /// Tags added to every point that does not have them; `host` defaults to the host name.
    #[serde(default)]
    global_tags: BTreeMap<String, String>,
    #[serde(default)]
    output: RawOutput,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    runtime: RawRuntimeConfig,
    /// Log files to collect: one `[[files]]` table per task.
    #[serde(default)]
    files: Vec<RawFileTask>,
    /// The HTTP server: inbound writes, /metrics, status.
    #[serde(default)]
    http: RawHttpConfig,
    /// Leader election among agents (plugins with `election = true` run on the leader only).
    #[serde(default)]
    election: sandkit_election::RawElectionConfig,
    /// Plugin configs kept in etcd (applied like conf.d files; a local file wins).
    #[serde(default)]
    fleet: sandkit_election::RawFleetConfig,
}

fn default_plugins_dir() -> PathBuf {
    "plugins".into()
}
fn default_conf_dir() -> PathBuf {
    "conf.d".into()
}
fn default_data_dir() -> PathBuf {
    "data".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    /// "stdout", "file", "dataway", "influxdb" (v1) or "influxdb2".
    #[serde(default = "default_output_kind")]
    kind: String,
    /// File to append line protocol to, for kind = "file".
    path: Option<PathBuf>,
    /// Batches that may wait for the output before producers are held back.
    #[serde(default = "default_queue")]
    queue_batches: usize,
    /// DataWay base URLs (each receives every batch); a URL may carry `?token=`.
    #[serde(default)]
    urls: Vec<String>,
    /// InfluxDB base URL.
    url: Option<String>,
    /// DataWay workspace token, or InfluxDB 2 API token.
    token: Option<String>,
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
    /// Retries on transport errors and 5xx before a batch is dropped and counted.
    #[serde(default = "default_retries")]
    max_retries: u32,
    /// A batch is written at the latest this long after its first point.
    flush_interval: Option<HumanDuration>,
    /// Points per batch.
    max_points: Option<usize>,
    /// Approximate uncompressed bytes per batch, e.g. "1MiB".
    max_bytes: Option<ByteSize>,
    /// Keep batches that cannot be delivered on disk (HTTP outputs); default true.
    buffer: Option<bool>,
    /// Where; default `<data_dir>/buffer`.
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

fn default_compression() -> String {
    "gzip".into()
}
fn default_retries() -> u32 {
    5
}

fn default_output_kind() -> String {
    "stdout".into()
}
fn default_queue() -> usize {
    64
}

impl Default for RawOutput {
    fn default() -> Self {
        RawOutput {
            kind: default_output_kind(),
            path: None,
            queue_batches: default_queue(),
            urls: Vec::new(),
            url: None,
            token: None,
            db: None,
            org: None,
            bucket: None,
            compression: default_compression(),
            compression_level: None,
            uint_support: None,
            timeout: None,
            max_retries: default_retries(),
            flush_interval: None,
            max_points: None,
            max_bytes: None,
            buffer: None,
            buffer_dir: None,
            buffer_max_bytes: None,
            buffer_max_bytes_object: None,
            buffer_fsync: None,
            backoff_max: None,
            ca_file: None,
            proxy: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    /// error, warn, info, debug or trace; SANDKIT_LOG overrides it.
    #[serde(default = "default_level")]
    level: String,
}

fn default_level() -> String {
    "info".into()
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            level: default_level(),
        }
    }
}

/// Where points go.
#[derive(Debug, Clone)]
pub enum OutputKind {
    Stdout,
    File(PathBuf),
    Http(Box<HttpOutputConfig>),
}

/// A conf.d file of file tasks: `[[files]]` tables and nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilesConf {
    files: Vec<RawFileTask>,
}

/// Whether a conf.d file holds file tasks (a top-level `files` key) rather than a plugin's
/// config.
pub fn is_files_conf(text: &str) -> bool {
    text.parse::<toml::Table>()
        .is_ok_and(|t| t.contains_key("files"))
}

/// The `[[files]]` tasks of `conf_dir/*.toml` files that hold them, in file name order.
fn files_in_conf_dir(conf_dir: &Path) -> Result<Vec<(PathBuf, Vec<RawFileTask>)>> {
    let Ok(rd) = std::fs::read_dir(conf_dir) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue; // `config check` and the plugin loader report unreadable files
        };
        if !is_files_conf(&text) {
            continue;
        }
        let conf: FilesConf = toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "config error in {}: {} (a conf.d file with [[files]] holds only [[files]] tables)",
                p.display(),
                toml_message(&text, &e)
            )
        })?;
        out.push((p, conf.files));
    }
    Ok(out)
}

/// The validated agent config.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The file it came from, or `<embedded default>`.
    pub source: PathBuf,
    pub data_dir: PathBuf,
    pub global_tags: Vec<(String, String)>,
    pub output: OutputKind,
    pub queue_batches: usize,
    pub batch: BatchConfig,
    pub log_level: String,
    pub runtime: RuntimeConfig,
    pub files: Vec<FileTask>,
    /// `None` when `[http] enabled = false`.
    pub http: Option<HttpConfig>,
    pub election: sandkit_election::ElectionConfig,
    /// `None` without `[fleet]`.
    pub fleet: Option<sandkit_election::fleet::FleetSettings>,
}

/// Overrides from the command line.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub plugins_dir: Option<PathBuf>,
    pub conf_dir: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub output_file: Option<PathBuf>,
}

impl AgentConfig {
    /// Load `path`, or the embedded default when `None`.
    ///
    /// # Errors
    /// Unreadable file, TOML syntax, unknown keys and bad values, naming the file and the key.
    pub fn load(path: Option<&Path>, ov: &Overrides) -> Result<AgentConfig> {
        let (text, source, base) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read config {}", p.display()))?;
                let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
                (text, p.to_path_buf(), base)
            }
            None => (
                DEFAULT_CONFIG.to_string(),
                PathBuf::from("<embedded default>"),
                PathBuf::new(),
            ),
        };
        Self::parse(&text, &source, &base, ov)
    }

    /// Parse config text; relative paths resolve against `base`.
    ///
    /// # Errors
    /// As for [`AgentConfig::load`].
    pub fn parse(text: &str, source: &Path, base: &Path, ov: &Overrides) -> Result<AgentConfig> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "config error in {}: {}",
                source.display(),
                toml_message(text, &e)
            )
        })?;
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let plugins_dir = ov
            .plugins_dir
            .clone()
            .unwrap_or_else(|| resolve(&raw.plugins_dir));
        let conf_dir = ov
            .conf_dir
            .clone()
            .unwrap_or_else(|| resolve(&raw.conf_dir));
        let data_dir = ov
            .data_dir
            .clone()
            .unwrap_or_else(|| resolve(&raw.data_dir));
        let output = output_kind(&raw.output, ov, source, &resolve, &data_dir)?;
        let batch = BatchConfig {
            flush_interval: raw
                .output
                .flush_interval
                .map_or(Duration::from_secs(10), |d| d.0),
            max_points: raw.output.max_points.unwrap_or(1_000).max(1),
            max_bytes: raw
                .output
                .max_bytes
                .map_or(1 << 20, |b| b.0 as usize)
                .max(1),
        };
        if !["error", "warn", "info", "debug", "trace"].contains(&raw.log.level.as_str()) {
            bail!(
                "config error in {}: key \"log.level\": {:?} is not one of error, warn, info, debug, trace",
                source.display(),
                raw.log.level
            );
        }
        let mut global_tags: BTreeMap<String, String> = raw.global_tags;
        global_tags
            .entry("host".into())
            .or_insert_with(sandkit_runtime::hostname);
        let runtime =
            raw.runtime
                .validate(source, data_dir.join("cache"), plugins_dir, conf_dir)?;
        let global_tags: Vec<(String, String)> = global_tags.into_iter().collect();
        let mut files = Vec::new();
        let mut sources = vec![(source.to_path_buf(), raw.files.clone())];
        sources.extend(files_in_conf_dir(&runtime.conf_dir)?);
        for (file, tasks) in &sources {
            for (i, t) in tasks.iter().enumerate() {
                let task = t.validate(&global_tags).map_err(|e| {
                    anyhow::anyhow!(
                        "config error in {}: [[files]] #{} (source {:?}): {e}",
                        file.display(),
                        i + 1,
                        t.source
                    )
                })?;
                if files.iter().any(|f: &FileTask| f.name == task.name) {
                    bail!(
                        "config error in {}: [[files]] #{}: a task named {:?} exists already; set `name`",
                        file.display(),
                        i + 1,
                        task.name
                    );
                }
                files.push(task);
            }
        }
        let http = raw
            .http
            .validate()
            .map_err(|e| anyhow::anyhow!("config error in {}: {e}", source.display()))?;
        let host = global_tags
            .iter()
            .find(|(k, _)| k == "host")
            .map_or_else(sandkit_runtime::hostname, |(_, v)| v.clone());
        let election = raw
            .election
            .validate(&host)
            .map_err(|e| anyhow::anyhow!("config error in {}: {e}", source.display()))?;
        let fleet = raw
            .fleet
            .validate(&election, data_dir.join("fleet.d"))
            .map_err(|e| anyhow::anyhow!("config error in {}: {e}", source.display()))?;
        Ok(AgentConfig {
            http,
            election,
            fleet,
            source: source.to_path_buf(),
            data_dir,
            global_tags,
            output,
            queue_batches: raw.output.queue_batches.max(1),
            batch,
            log_level: raw.log.level,
            runtime,
            files,
        })
    }
}

fn output_kind(
    o: &RawOutput,
    ov: &Overrides,
    source: &Path,
    resolve: &dyn Fn(&Path) -> PathBuf,
    data_dir: &Path,
) -> Result<OutputKind> {
    let err = |key: &str, why: &str| {
        anyhow::anyhow!(
            "config error in {}: key \"output.{key}\": {why}",
            source.display()
        )
    };
    let need = |v: &Option<String>, key: &str| {
        v.clone()
            .ok_or_else(|| err(key, &format!("required when output.kind = {:?}", o.kind)))
    };
    if let Some(p) = &ov.output_file {
        return Ok(OutputKind::File(p.clone()));
    }
    let compression = Compression::parse(&o.compression, o.compression_level)
        .map_err(|e| err("compression", &e))?;
    let buffer = o.buffer.unwrap_or(true).then(|| {
        let defaults = BufferConfig::new(
            o.buffer_dir
                .as_deref()
                .map_or_else(|| data_dir.join("buffer"), resolve),
        );
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
            max_retries: o.max_retries,
            backoff_initial: Duration::from_millis(500),
            backoff_max,
            uint_support: o.uint_support.unwrap_or(o.kind != "influxdb"),
            buffer: buffer.clone(),
            tls: TlsProxyConfig {
                ca_file: o.ca_file.as_deref().map(resolve),
                proxy: o.proxy.clone(),
            },
        }))
    };
    Ok(match o.kind.as_str() {
        "stdout" => OutputKind::Stdout,
        "file" => OutputKind::File(resolve(o.path.as_deref().ok_or_else(|| err("path", "required when output.kind = \"file\""))?)),
        "dataway" => {
            if o.urls.is_empty() {
                return Err(err("urls", "at least one DataWay URL is required"));
            }
            let token = o.token.clone().unwrap_or_default();
            let has_token = |u: &str| u.split_once('?').is_some_and(|(_, q)| q.split('&').any(|p| p.starts_with("token=")));
            if token.is_empty() && !o.urls.iter().all(|u| has_token(u)) {
                return Err(err("token", "required unless every URL carries ?token="));
            }
            http(Endpoint::DataWay { urls: o.urls.clone(), token })
        }
        "influxdb" => http(Endpoint::InfluxV1 { url: need(&o.url, "url")?, db: need(&o.db, "db")? }),
        "influxdb2" => http(Endpoint::InfluxV2 {
            url: need(&o.url, "url")?,
            org: need(&o.org, "org")?,
            bucket: need(&o.bucket, "bucket")?,
            token: need(&o.token, "token")?,
        }),
        other => {
            return Err(err(
                "kind",
                &format!("{other:?} is not an output; use \"stdout\", \"file\", \"dataway\", \"influxdb\" or \"influxdb2\""),
            ))
        }
    })
}

#[cfg(test)]
mod tests;
