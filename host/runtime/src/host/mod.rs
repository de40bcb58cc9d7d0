//! The data of one store (one plugin instance) and the host side of the plugin imports:
//! logging, emitting points under the per-call caps, the state store and system facts.

// One module per import: `emit`, `state`, `system` and `files`, `http-client`.
mod facts;
mod kv;
mod outgoing;
mod points;

pub use kv::StateStore;
pub use points::category;

use crate::bindings::collector::sandkit::plugin::{host_log, types};
use crate::bindings::LogLevel;
use crate::config::{Limits, PluginConfig};
use crate::guest_fs::GuestFs;
use crate::guest_log::{GuestLog, Level};
use crate::logstream::LogStream;
use crate::outbound::HttpGrant;
use sandkit_io::Point;
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
