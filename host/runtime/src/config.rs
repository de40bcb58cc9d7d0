//! Runtime configuration: the `[runtime]` section of sandkit.toml and the per-plugin files in
//! conf.d. Parsed raw with serde (unknown keys rejected), then validated into the types the code
//! uses.

use crate::RuntimeError;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use sandkit_conf::{toml_message, ByteSize, HumanDuration};

/// Limits applied to every call of a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-time deadline of one call (describe, init, collect).
    pub timeout: Duration,
    /// Fuel (roughly, wasm instructions) one call may use.
    pub fuel: u64,
    /// Cap on the plugin's linear memory, in bytes.
    pub memory_bytes: u64,
    /// Whether a config set `memory_bytes`; if not, the guest's language decides (see
    /// [`Limits::for_guest`]).
    pub memory_set: bool,
    /// Points one call may emit.
    pub max_points: u64,
    /// Bytes (approximate encoded size) one call may emit.
    pub max_bytes: u64,
    /// Bytes the plugin may keep in its state store.
    pub state_bytes: u64,
}

impl Limits {
    /// These limits for a guest written in `lang`: unless a config set the memory cap, it is
    /// the language's default (interpreted guests carry a heap; see [`GuestLang::default_memory`]).
    pub fn for_guest(self, lang: crate::GuestLang) -> Limits {
        if self.memory_set {
            return self;
        }
        Limits {
            memory_bytes: lang.default_memory(),
            ..self
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            fuel: 5_000_000_000,
            memory_bytes: crate::guest_lang::COMPILED_MEMORY,
            memory_set: false,
            max_points: 100_000,
            max_bytes: 32 << 20,
            state_bytes: 1 << 20,
        }
    }
}

/// Limits as written in a config file: every key optional, unset keys inherit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Wall-time deadline of one call, e.g. "10s".
    pub timeout: Option<HumanDuration>,
    /// Fuel per call (about one unit per wasm instruction).
    pub fuel: Option<u64>,
    /// Linear memory cap, e.g. "64MiB".
    pub memory: Option<ByteSize>,
    /// Points one call may emit.
    pub max_points: Option<u64>,
    /// Bytes one call may emit, e.g. "32MiB".
    pub max_bytes: Option<ByteSize>,
    /// Bytes of state per plugin (kept in memory across its instances), e.g. "1MiB".
    pub state: Option<ByteSize>,
}

impl RawLimits {
    /// Apply the keys that are set on top of `base`.
    pub fn apply(&self, base: Limits) -> Limits {
        Limits {
            timeout: self.timeout.map_or(base.timeout, |d| d.0),
            fuel: self.fuel.unwrap_or(base.fuel),
            memory_bytes: self.memory.map_or(base.memory_bytes, |b| b.0),
            memory_set: base.memory_set || self.memory.is_some(),
            max_points: self.max_points.unwrap_or(base.max_points),
            max_bytes: self.max_bytes.map_or(base.max_bytes, |b| b.0),
            state_bytes: self.state.map_or(base.state_bytes, |b| b.0),
        }
    }

    /// Check ranges; `section` names the table in errors (`limits` or `runtime.limits`).
    fn validate(&self, section: &str) -> Result<(), String> {
        let bad = |key: &str, why: &str| Err(format!("key \"{section}.{key}\": {why}"));
        if self.timeout.is_some_and(|t| t.0 < Duration::from_millis(1)) {
            return bad("timeout", "must be at least 1ms");
        }
        if self.fuel == Some(0) {
            return bad("fuel", "must be above 0");
        }
        if self.memory.is_some_and(|m| m.0 < (1 << 20)) {
            return bad("memory", "must be at least 1MiB");
        }
        Ok(())
    }
}

/// The `[runtime]` section of sandkit.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuntimeConfig {
    /// Clamp configured intervals to the plugin's declared [min, max] (DataKit's protection mode).
    #[serde(default = "default_true")]
    pub protection_mode: bool,
    /// Crashes (traps or deadline overruns) within `crash_window` after which a plugin is
    /// disabled until its file changes.
    #[serde(default = "default_max_crashes")]
    pub max_crashes: u32,
    /// How long a crash counts toward `max_crashes`: rare crashes spread over weeks do not add
    /// up to disabling a plugin (status still counts them all).
    #[serde(default = "default_crash_window")]
    pub crash_window: HumanDuration,
    /// First restart delay after a crash; doubles on each crash.
    #[serde(default = "default_backoff_initial")]
    pub backoff_initial: HumanDuration,
    /// Longest restart delay.
    #[serde(default = "default_backoff_max")]
    pub backoff_max: HumanDuration,
    /// How often the epoch advances: the granularity of deadlines and of yielding to other plugins.
    #[serde(default = "default_epoch_tick")]
    pub epoch_tick: HumanDuration,
    /// Largest random delay added to each scheduled run, as a fraction of the interval (0 to 0.5).
    #[serde(default = "default_jitter")]
    pub jitter: f64,
    /// Default limits for every plugin; conf.d files override them key by key.
    #[serde(default)]
    pub limits: RawLimits,
    /// Bound on the compiled components kept in `<data_dir>/cache`, e.g. "1GiB": after each
    /// compile the least recently used artifacts no loaded plugin uses are removed.
    #[serde(default = "default_cache_max_bytes")]
    pub cache_max_bytes: ByteSize,
    /// Threads one compile of a large component may use (default: half the cores, at least
    /// one), at low priority, so that compiling never takes every core from the agent.
    #[serde(default)]
    pub compile_threads: Option<usize>,
}

fn default_true() -> bool {
    true
}
fn default_max_crashes() -> u32 {
    6
}
fn default_crash_window() -> HumanDuration {
    HumanDuration(Duration::from_secs(3600))
}
fn default_backoff_initial() -> HumanDuration {
    HumanDuration(Duration::from_secs(1))
}
fn default_backoff_max() -> HumanDuration {
    HumanDuration(Duration::from_secs(300))
}
fn default_epoch_tick() -> HumanDuration {
    HumanDuration(Duration::from_millis(10))
}
fn default_jitter() -> f64 {
    0.1
}
fn default_cache_max_bytes() -> ByteSize {
    ByteSize(1 << 30)
}

impl Default for RawRuntimeConfig {
    fn default() -> Self {
        RawRuntimeConfig {
            protection_mode: true,
            max_crashes: default_max_crashes(),
            crash_window: default_crash_window(),
            backoff_initial: default_backoff_initial(),
            backoff_max: default_backoff_max(),
            epoch_tick: default_epoch_tick(),
            jitter: default_jitter(),
            limits: RawLimits::default(),
            cache_max_bytes: default_cache_max_bytes(),
            compile_threads: None,
        }
    }
}

/// Validated runtime settings.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub protection_mode: bool,
    pub max_crashes: u32,
    pub crash_window: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub epoch_tick: Duration,
    pub jitter: f64,
    pub limits: Limits,
    /// Where compiled components are cached.
    pub cache_dir: PathBuf,
    /// Bound on the bytes of compiled components in `cache_dir`.
    pub cache_max_bytes: u64,
    /// Threads one compile of a large component may use.
    pub compile_threads: usize,
    /// Where `plugins/*.wasm` live.
    pub plugins_dir: PathBuf,
    /// Where `conf.d/<plugin>.toml` live.
    pub conf_dir: PathBuf,
}

impl RawRuntimeConfig {
    /// Validate; `file` names the config in errors.
    ///
    /// # Errors
    /// A key out of range, named with the file.
    pub fn validate(
        self,
        file: &Path,
        cache_dir: PathBuf,
        plugins_dir: PathBuf,
        conf_dir: PathBuf,
    ) -> Result<RuntimeConfig, RuntimeError> {
        let err = |message: String| RuntimeError::Config {
            file: file.to_path_buf(),
            message,
        };
        if !(0.0..=0.5).contains(&self.jitter) {
            return Err(err(format!(
                "key \"runtime.jitter\": {} is outside [0, 0.5]",
                self.jitter
            )));
        }
        if self.max_crashes == 0 {
            return Err(err("key \"runtime.max_crashes\": must be at least 1".into()));
        }
        if self.crash_window.0.is_zero() {
            return Err(err("key \"runtime.crash_window\": must be above 0".into()));
        }
        if self.epoch_tick.0 < Duration::from_millis(1)
            || self.epoch_tick.0 > Duration::from_secs(1)
        {
            return Err(err(
                "key \"runtime.epoch_tick\": must be within [1ms, 1s]".into()
            ));
        }
        self.limits.validate("runtime.limits").map_err(err)?;
        if self.compile_threads == Some(0) {
            return Err(err(
                "key \"runtime.compile_threads\": must be at least 1".into()
            ));
        }
        Ok(RuntimeConfig {
            protection_mode: self.protection_mode,
            max_crashes: self.max_crashes,
            crash_window: self.crash_window.0,
            backoff_initial: self.backoff_initial.0,
            backoff_max: self.backoff_max.0.max(self.backoff_initial.0),
            epoch_tick: self.epoch_tick.0,
            jitter: self.jitter,
            limits: self.limits.apply(Limits::default()),
            cache_dir,
            cache_max_bytes: self.cache_max_bytes.0,
            compile_threads: self
                .compile_threads
                .unwrap_or_else(crate::compile::default_compile_threads),
            plugins_dir,
            conf_dir,
        })
    }
}

/// What a plugin may reach beyond its own memory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sandbox {
    /// Host directories granted read-only, at the same path inside the guest (e.g. "/proc").
    /// A grant of `/proc` or `/sys` (or a directory under them) is a kernel view: only the safe
    /// default set of paths plus `kernel_paths` can be opened through it.
    #[serde(default)]
    pub read_only_dirs: Vec<PathBuf>,
    /// Paths of `/proc` and `/sys` beyond the safe default set, e.g. `["/proc/*/status"]`
    /// (`*` matches within one component, `**` any depth); logged when the plugin loads.
    /// Secrets (`environ`, `mem`, `maps`, `kmsg`, the agent's `cmdline`, ...) are never served.
    #[serde(default)]
    pub kernel_paths: Vec<String>,
    /// Allow the `system.statfs` import (filesystem usage of mount points).
    #[serde(default)]
    pub statfs: bool,
    /// `host:port` targets the `http-client` import may reach (collectors only), e.g.
    /// `["127.0.0.1:9100", "[::1]:9100", "exporter.example.com:443"]`. Empty: no outgoing HTTP.
    #[serde(default)]
    pub http: Vec<String>,
    /// Time allowed for one outgoing request that asks for none (default 10 s); never past the
    /// deadline of the call it is made in.
    #[serde(default)]
    pub http_timeout: Option<HumanDuration>,
    /// Cap on one response body (default 16 MiB); a larger one is an error for the plugin.
    #[serde(default)]
    pub http_max_response: Option<ByteSize>,
    /// Requests one call may make, sent or refused (default 100); past it, requests fail.
    #[serde(default)]
    pub http_max_requests: Option<u32>,
}

/// Check the directory grants and the kernel view of a `[sandbox]` table.
fn validate_grants(sandbox: &Sandbox) -> Result<(), String> {
    use crate::kernel_view::{is_kernel_path, KernelPolicy};
    let policy = KernelPolicy::new(&sandbox.kernel_paths)
        .map_err(|e| format!("key \"sandbox.kernel_paths\": {e}"))?;
    let mut kernel_dirs = Vec::new();
    for d in &sandbox.read_only_dirs {
        let key = "key \"sandbox.read_only_dirs\"";
        if !d.is_absolute() {
            return Err(format!("{key}: {} is not an absolute path", d.display()));
        }
        let text = d.to_string_lossy();
        let normal: PathBuf = d.components().collect();
        if ["/proc", "/sys"]
            .iter()
            .any(|k| Path::new(k).starts_with(&normal))
            && !is_kernel_path(&text)
        {
            return Err(format!(
                "{key}: {} would expose /proc and /sys; grant them on their own (\"/proc\")",
                d.display()
            ));
        }
        if is_kernel_path(&text) {
            if text.split('/').any(|c| c == "..") || !policy.check(&normal.to_string_lossy()).dir {
                return Err(format!(
                    "{key}: {} is not a directory of the kernel view (grant \"/proc\" or \"/sys\" and list files in sandbox.kernel_paths)",
                    d.display()
                ));
            }
            kernel_dirs.push(normal);
        }
    }
    for p in &sandbox.kernel_paths {
        if !kernel_dirs.iter().any(|d| Path::new(p).starts_with(d)) {
            return Err(format!(
                "key \"sandbox.kernel_paths\": {p:?} is outside every granted directory (add its root, e.g. \"/proc\", to sandbox.read_only_dirs)"
            ));
        }
    }
    Ok(())
}

/// A conf.d/<plugin>.toml file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPluginConfig {
    /// Run the plugin at all.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Run this collector only on the agent that leads the election (`[election]` in
    /// sandkit.toml; a single node always leads). Default false: it runs on every agent.
    #[serde(default)]
    pub election: Option<bool>,
    /// Collection interval, e.g. "10s"; default: the plugin's declared default.
    pub interval: Option<HumanDuration>,
    /// Per-call limits; unset keys come from `[runtime.limits]`.
    #[serde(default)]
    pub limits: RawLimits,
    /// Grants.
    #[serde(default)]
    pub sandbox: Sandbox,
    /// Pipelines: what becomes of a line the pipeline cannot process (it traps on it, or the
    /// pipeline is disabled): "pass" it on raw with a `pipeline_error` tag (default), or "park" it
    /// in the dead-letter store.
    #[serde(default)]
    pub on_error: OnError,
    /// Plugin-specific settings, handed to the plugin's `init` as JSON.
    #[serde(default)]
    pub config: Option<toml::Table>,
}

/// A pipeline's failure mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Fail open: the line goes on raw, tagged `pipeline_error=<kind>`.
    #[default]
    Pass,
    /// Fail closed: the line is parked in the dead-letter column family of the state store.
    Park,
}

/// A validated plugin config.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginConfig {
    pub enabled: bool,
    /// Collect only while this agent leads the election.
    pub election: bool,
    pub interval: Option<Duration>,
    pub limits: Limits,
    pub sandbox: Sandbox,
    /// The `[config]` table as JSON text.
    pub config_json: String,
    /// Pipelines: pass or park the lines that fail.
    pub on_error: OnError,
    /// The `[limits]` keys the file sets (pipelines apply them on their own defaults).
    pub raw_limits: RawLimits,
    /// The file it came from, if any.
    pub source: Option<PathBuf>,
    /// The fleet version (`<key>@<etcd revision>`) of a config that came from etcd: the file's
    /// first line `# fleet: <key>@<revision>`, which the fleet watcher writes.
    pub version: Option<String>,
}

/// The deadline of `describe` and `init`, whatever `[limits] timeout` says (it is the cap of
/// each collect or process call): a plugin that sleeps or loops while it loads holds up no more
/// than this, and a stop during loading waits no longer.
pub const LOAD_DEADLINE: Duration = Duration::from_secs(5);

/// A pipeline call's wall-time deadline unless configured: a batch of 1,024 lines takes
/// milliseconds, and a line that hangs the parser costs one deadline per bisection step.
pub const PIPELINE_TIMEOUT: Duration = Duration::from_secs(2);

impl PluginConfig {
    /// The config of a plugin with no conf.d file.
    pub fn default_with(limits: Limits) -> Self {
        PluginConfig {
            enabled: true,
            election: false,
            interval: None,
            limits,
            sandbox: Sandbox::default(),
            config_json: "{}".into(),
            on_error: OnError::Pass,
            raw_limits: RawLimits::default(),
            source: None,
            version: None,
        }
    }

    /// This config for a pipeline: the deadline defaults to at most [`PIPELINE_TIMEOUT`] (the
    /// runtime's limits are for collectors) unless the file sets it. Fuel does not apply:
    /// pipelines run on an engine without fuel metering (see `EngineKind`), cut by the deadline.
    pub fn for_pipeline(&self, base: Limits) -> PluginConfig {
        let defaults = Limits {
            timeout: base.timeout.min(PIPELINE_TIMEOUT),
            ..base
        };
        PluginConfig {
            limits: self.raw_limits.apply(defaults),
            ..self.clone()
        }
    }

    /// Parse and validate TOML text; `file` names it in errors.
    ///
    /// # Errors
    /// Syntax errors, unknown keys and bad values, each naming the file and the key.
    pub fn parse(text: &str, file: &Path, base: Limits) -> Result<Self, RuntimeError> {
        let err = |message: String| RuntimeError::Config {
            file: file.to_path_buf(),
            message,
        };
        let raw: RawPluginConfig = toml::from_str(text).map_err(|e| err(toml_message(text, &e)))?;
        raw.limits.validate("limits").map_err(err)?;
        if let Some(i) = raw.interval {
            if i.0.is_zero() {
                return Err(err("key \"interval\": must be above 0".into()));
            }
        }
        validate_grants(&raw.sandbox).map_err(err)?;
        for t in &raw.sandbox.http {
            crate::outbound::Target::parse(t)
                .map_err(|e| err(format!("key \"sandbox.http\": {e}")))?;
        }
        if raw.sandbox.http_timeout.is_some_and(|t| t.0.is_zero()) {
            return Err(err("key \"sandbox.http_timeout\": must be above 0".into()));
        }
        let config_json = match &raw.config {
            Some(t) => serde_json::to_string(t)
                .map_err(|e| err(format!("key \"config\": cannot be passed as JSON: {e}")))?,
            None => "{}".into(),
        };
        Ok(PluginConfig {
            enabled: raw.enabled.unwrap_or(true),
            election: raw.election.unwrap_or(false),
            interval: raw.interval.map(|d| d.0),
            limits: raw.limits.apply(base),
            sandbox: raw.sandbox,
            config_json,
            on_error: raw.on_error,
            raw_limits: raw.limits,
            source: Some(file.to_path_buf()),
            version: text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# fleet: "))
                .map(str::to_string),
        })
    }

    /// Read conf_dir/<plugin>.toml if it exists.
    ///
    /// # Errors
    /// As for [`PluginConfig::parse`], and when the file exists but cannot be read.
    pub fn load(conf_dir: &Path, plugin: &str, base: Limits) -> Result<Self, RuntimeError> {
        let file = conf_dir.join(format!("{plugin}.toml"));
        match std::fs::read_to_string(&file) {
            Ok(text) => Self::parse(&text, &file, base),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default_with(base)),
            Err(source) => Err(RuntimeError::Read { file, source }),
        }
    }
}

#[cfg(test)]
mod tests;
