//! The data of one store (one plugin instance) and the host side of the plugin imports:
//! logging, emitting points under the per-call caps, the state store and system facts.

use crate::bindings::collector::sandkit::plugin::{
    emit, files, host_log, http_client, state, system, types,
};
use crate::bindings::{LogLevel, WitCategory, WitFieldValue, WitPoint};
use crate::config::{Limits, PluginConfig};
use crate::guest_fs::GuestFs;
use crate::guest_log::{GuestLog, Level};
use crate::logstream::LogStream;
use crate::outbound::HttpGrant;
use sandkit_io::{Category, FieldValue, Point};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Result};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// What the points of one call may take of the agent's memory, whatever `max_points` and
/// `max_bytes` allow: a plugin configured for millions of points still cannot make the agent
/// hold more than this for one call.
pub const MAX_CALL_MEMORY: u64 = 256 << 20;

/// A limit a guest went past; the call traps with this as its cause.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct LimitExceeded(pub String);

/// Per-plugin key-value state that outlives instances.
#[derive(Debug, Default)]
pub struct StateStore {
    map: BTreeMap<String, Vec<u8>>,
    bytes: u64,
}

/// What one state entry costs the agent beyond its key and value bytes (the map's node share
/// and two heap headers), counted against the plugin's state cap: a million empty keys under a
/// 1 MiB cap took 26 MB before it was.
pub const STATE_ENTRY_OVERHEAD: u64 = 64;

impl StateStore {
    fn size_of(k: &str, v: &[u8]) -> u64 {
        (k.len() + v.len()) as u64 + STATE_ENTRY_OVERHEAD
    }

    /// Bytes counted against the cap (keys, values and [`STATE_ENTRY_OVERHEAD`] per entry).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Memory accounting and caps for one store.
#[derive(Debug)]
pub struct Limiter {
    memory_cap: u64,
    /// Largest total linear memory seen, in bytes.
    pub memory_peak: u64,
    memory_now: u64,
}

impl Limiter {
    /// Linear memory now, in bytes (it never shrinks).
    pub fn memory_now(&self) -> u64 {
        self.memory_now
    }

    pub fn memory_cap(&self) -> u64 {
        self.memory_cap
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        let grow = (desired - current) as u64;
        let total = self.memory_now + grow;
        if total > self.memory_cap {
            return Err(wasmtime::Error::new(LimitExceeded(format!(
                "memory cap of {} bytes exceeded (linear memory would grow to {total} bytes)",
                self.memory_cap
            ))));
        }
        self.memory_now = total;
        self.memory_peak = self.memory_peak.max(total);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        if desired > 100_000 {
            return Err(wasmtime::Error::new(LimitExceeded(format!(
                "table cap of 100000 elements exceeded (wanted {desired})"
            ))));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        100
    }
    fn tables(&self) -> usize {
        100
    }
    fn memories(&self) -> usize {
        10
    }
}

/// Everything a store holds.
pub struct HostState {
    pub plugin: Arc<str>,
    /// The plugin's log, rate-limited across its instances.
    log: Arc<GuestLog>,
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    /// Open files and the kernel view (`crate::guest_fs`).
    pub(crate) fs: GuestFs,
    pub limiter: Limiter,
    limits: Limits,
    statfs_allowed: bool,
    /// `[sandbox] read_only_dirs`, for the `files` import.
    pub(crate) file_grants: Arc<[std::path::PathBuf]>,
    /// Outgoing HTTP: collectors with a `[sandbox] http` allowlist only.
    pub(crate) http: Option<Arc<HttpGrant>>,
    /// When the current call's wall time runs out (outgoing requests stop before it).
    pub(crate) call_deadline: Option<Instant>,
    state: Arc<Mutex<StateStore>>,
    /// Points emitted by the current call.
    pub emitted: Vec<Point>,
    emitted_bytes: u64,
    /// What the emitted points take of the agent's memory.
    emitted_heap: u64,
    /// Points refused (invalid) during the current call, with the first reason.
    pub refused: u64,
    pub first_refusal: Option<String>,
    /// Outgoing requests of the current call: sent (whatever the answer), and refused by the
    /// allowlist.
    pub http_sent: u64,
    pub http_refused: u64,
    /// Targets whose refusal was logged in the current call.
    http_refusals_logged: Vec<String>,
}

impl std::fmt::Debug for HostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostState")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

impl HostState {
    /// A store's data for `plugin` with the grants of `config`.
    ///
    /// # Errors
    /// When a granted directory cannot be opened.
    pub fn new(
        plugin: Arc<str>,
        config: &PluginConfig,
        state: Arc<Mutex<StateStore>>,
    ) -> std::result::Result<Self, String> {
        let mut b = WasiCtxBuilder::new();
        let log = crate::guest_log::for_plugin(&plugin);
        b.stdout(LogStream::new(log.clone(), "stdout"))
            .stderr(LogStream::new(log.clone(), "stderr"))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        // Files under /proc and /sys are served by the kernel from memory: operations on the
        // preopened directories themselves run on the calling thread when every grant is one
        // of them. Files are opened by `crate::guest_fs`, which decides per file.
        let kernel_only = !config.sandbox.read_only_dirs.is_empty()
            && config
                .sandbox
                .read_only_dirs
                .iter()
                .all(|d| crate::kernel_view::is_kernel_path(&d.to_string_lossy()));
        b.allow_blocking_current_thread(kernel_only);
        for dir in &config.sandbox.read_only_dirs {
            let guest = dir.to_string_lossy();
            b.preopened_dir(dir, guest.as_ref(), FsPerms::ReadOnly)
                .map_err(|e| format!("cannot grant {}: {e}", dir.display()))?;
        }
        let fs = GuestFs::new(&config.sandbox.read_only_dirs, &config.sandbox.kernel_paths)?;
        Ok(HostState {
            log,
            plugin,
            wasi: b.build(),
            table: ResourceTable::new(),
            fs,
            limiter: Limiter {
                memory_cap: config.limits.memory_bytes,
                memory_peak: 0,
                memory_now: 0,
            },
            limits: config.limits,
            statfs_allowed: config.sandbox.statfs,
            file_grants: config.sandbox.read_only_dirs.clone().into(),
            http: HttpGrant::from_sandbox(&config.sandbox).map(Arc::new),
            call_deadline: None,
            state,
            emitted: Vec::new(),
            emitted_bytes: 0,
            emitted_heap: 0,
            refused: 0,
            first_refusal: None,
            http_sent: 0,
            http_refused: 0,
            http_refusals_logged: Vec::new(),
        })
    }

    /// The plugin's log lines suppressed by its rate limit so far.
    pub fn log_suppressed(&self) -> u64 {
        self.log.suppressed()
    }

    /// Forget what the previous call emitted.
    pub fn reset_call(&mut self) {
        self.emitted.clear();
        self.emitted_bytes = 0;
        self.emitted_heap = 0;
        self.refused = 0;
        self.first_refusal = None;
        self.http_sent = 0;
        self.http_refused = 0;
        self.http_refusals_logged.clear();
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

pub use sandkit_io::now_ns;

pub fn category(c: WitCategory) -> Category {
    match c {
        WitCategory::Metric => Category::Metric,
        WitCategory::Logging => Category::Logging,
        WitCategory::Object => Category::Object,
        WitCategory::CustomObject => Category::CustomObject,
        WitCategory::Keyevent => Category::Keyevent,
        WitCategory::Network => Category::Network,
        WitCategory::Tracing => Category::Tracing,
        WitCategory::Rum => Category::Rum,
        WitCategory::Security => Category::Security,
        WitCategory::Profiling => Category::Profiling,
    }
}

/// Convert a guest point; `now` stands in for a missing timestamp.
pub fn convert_point(p: WitPoint, now: i64) -> std::result::Result<Point, sandkit_io::PointError> {
    Point::new(
        p.measurement,
        p.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        p.fields
            .into_iter()
            .map(|f| {
                let v = match f.value {
                    WitFieldValue::Int(x) => FieldValue::Int(x),
                    WitFieldValue::Uint(x) => FieldValue::Uint(x),
                    WitFieldValue::Float(x) => FieldValue::Float(x),
                    WitFieldValue::Boolean(x) => FieldValue::Bool(x),
                    WitFieldValue::Text(x) => FieldValue::Text(x),
                };
                (f.key, v)
            })
            .collect(),
        p.timestamp.unwrap_or(now),
        category(p.category),
    )
}

impl types::Host for HostState {}

impl host_log::Host for HostState {
    fn log(&mut self, level: LogLevel, message: String) -> Result<()> {
        let level = match level {
            LogLevel::Trace => Level::Trace,
            LogLevel::Debug => Level::Debug,
            LogLevel::Info => Level::Info,
            LogLevel::Warn => Level::Warn,
            LogLevel::Error => Level::Error,
        };
        self.log.line(level, "log", &message);
        Ok(())
    }
}

impl emit::Host for HostState {
    fn emit(&mut self, points: Vec<WitPoint>) -> Result<()> {
        let now = now_ns();
        for p in points {
            match convert_point(p, now) {
                Ok(point) => {
                    self.emitted_bytes += point.approx_size() as u64;
                    self.emitted_heap += point.heap_size() as u64;
                    self.emitted.push(point);
                }
                Err(e) => {
                    self.refused += 1;
                    if self.first_refusal.is_none() {
                        self.first_refusal = Some(e.to_string());
                    }
                }
            }
            let n = self.emitted.len() as u64;
            if n > self.limits.max_points {
                return Err(wasmtime::Error::new(LimitExceeded(format!(
                    "emitted more than {} points in one call",
                    self.limits.max_points
                ))));
            }
            if self.emitted_heap > MAX_CALL_MEMORY {
                return Err(wasmtime::Error::new(LimitExceeded(format!(
                    "the points of one call would take more than {} MiB of the agent's memory",
                    MAX_CALL_MEMORY >> 20
                ))));
            }
            if self.emitted_bytes > self.limits.max_bytes {
                return Err(wasmtime::Error::new(LimitExceeded(format!(
                    "emitted more than {} bytes in one call",
                    self.limits.max_bytes
                ))));
            }
        }
        Ok(())
    }
}

impl state::Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>> {
        Ok(self
            .state
            .lock()
            .ok()
            .and_then(|s| s.map.get(&key).cloned()))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<std::result::Result<(), String>> {
        let Ok(mut s) = self.state.lock() else {
            return Ok(Err("state store unavailable".into()));
        };
        let old = s.map.get(&key).map_or(0, |v| StateStore::size_of(&key, v));
        let new_total = s.bytes - old + StateStore::size_of(&key, &value);
        if new_total > self.limits.state_bytes {
            return Ok(Err(format!(
                "state would grow to {new_total} bytes, above the cap of {}",
                self.limits.state_bytes
            )));
        }
        s.bytes = new_total;
        s.map.insert(key, value);
        Ok(Ok(()))
    }

    fn delete(&mut self, key: String) -> Result<()> {
        if let Ok(mut s) = self.state.lock() {
            if let Some(v) = s.map.remove(&key) {
                s.bytes -= StateStore::size_of(&key, &v);
            }
        }
        Ok(())
    }
}

impl system::Host for HostState {
    fn statfs(&mut self, path: String) -> Result<std::result::Result<system::FsUsage, String>> {
        if !self.statfs_allowed {
            return Ok(Err(format!(
                "statfs of {path:?} denied: the plugin's config does not set [sandbox] statfs = true"
            )));
        }
        Ok(crate::sys::statfs(&path))
    }

    fn hostname(&mut self) -> Result<String> {
        Ok(crate::sys::hostname())
    }
}

impl files::Host for HostState {
    async fn read_file(&mut self, path: String) -> Result<std::result::Result<Vec<u8>, String>> {
        Ok(crate::files::read(self, path).await)
    }

    async fn list_dir(&mut self, path: String) -> Result<std::result::Result<Vec<String>, String>> {
        Ok(crate::files::list(self, path).await)
    }
}

impl http_client::Host for HostState {
    async fn fetch(
        &mut self,
        req: http_client::Request,
    ) -> Result<std::result::Result<http_client::Response, http_client::HttpError>> {
        let grant = self.http.clone();
        let max = grant.as_ref().map_or(0, |g| g.max_requests);
        if grant.is_some() && self.http_sent + self.http_refused >= u64::from(max) {
            return Ok(Err(http_client::HttpError::Refused(format!(
                "more than {max} requests in one call ([sandbox] http_max_requests)"
            ))));
        }
        let url = crate::outbound::url_for_log(&req.url);
        let (r, sent) = crate::outbound::fetch(grant.as_deref(), self.call_deadline, req).await;
        if sent {
            self.http_sent += 1;
        }
        if let Err(http_client::HttpError::Refused(why)) = &r {
            self.http_refused += 1;
            // One line per refused target and call (at most 8 a call): a plugin looping on a
            // refused URL cannot flood the log.
            let target = why.split(": ").next().unwrap_or("").to_string();
            if self.http_refusals_logged.len() < 8 && !self.http_refusals_logged.contains(&target) {
                let plugin = &*self.plugin;
                tracing::warn!(plugin, url = %url, "outgoing HTTP refused: {why}");
                self.http_refusals_logged.push(target);
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_small_state_keys_are_counted_with_their_overhead() {
        // The bug: 1M empty keys fitted under the 1 MiB cap and took 26 MB of the agent.
        let config = PluginConfig::default_with(Limits {
            state_bytes: 1 << 20,
            ..Limits::default()
        });
        let store = Arc::new(Mutex::new(StateStore::default()));
        let mut hs = HostState::new(Arc::from("statekeys"), &config, store.clone()).unwrap();
        let mut n = 0u64;
        while state::Host::set(&mut hs, format!("k{n}"), Vec::new())
            .unwrap()
            .is_ok()
        {
            n += 1;
        }
        let s = store.lock().unwrap();
        assert!(n < (1 << 20) / STATE_ENTRY_OVERHEAD, "{n} keys");
        assert_eq!(s.len() as u64, n);
        assert!(s.bytes() <= 1 << 20);
    }
}
