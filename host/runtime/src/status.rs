//! What the supervisor knows about each plugin, for `/v1/plugins`, the CLI and tests.

use crate::plugin::PluginDescription;
use sandkit_metrics::Histogram;
use serde::Serialize;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Moves after every change of any plugin's status, and when a plugin's status is created or
/// leaves the supervisor: status.json is rebuilt only when it moved (an idle agent's statuses
/// change once per collect, its status writer looks every two seconds). Process-wide, so two
/// supervisors (tests) only cause needless rebuilds, never a missed one.
static CHANGES: AtomicU64 = AtomicU64::new(0);

/// The count of status changes so far (see [`CHANGES`]); read it before reading the statuses.
pub fn status_changes() -> u64 {
    CHANGES.load(Ordering::Acquire)
}

pub(crate) fn status_changed() {
    CHANGES.fetch_add(1, Ordering::Release);
}

/// One plugin's status, shared by its task, its registry entry and the supervisor.
#[derive(Debug)]
pub struct StatusCell(Mutex<PluginStatus>);

impl StatusCell {
    pub fn new(status: PluginStatus) -> Arc<Self> {
        status_changed();
        Arc::new(StatusCell(Mutex::new(status)))
    }

    /// The status, to change (or read several fields of): its release counts as a change,
    /// made while the lock is still held, so a reader that saw the count move also sees what
    /// moved it.
    pub fn lock(&self) -> StatusGuard<'_> {
        StatusGuard(crate::lock(&self.0))
    }

    /// A copy, not counted as a change.
    pub fn snapshot(&self) -> PluginStatus {
        crate::lock(&self.0).clone()
    }

    /// The state alone, not counted as a change (checked before every call).
    pub fn state(&self) -> PluginState {
        crate::lock(&self.0).state
    }
}

/// A locked [`StatusCell`]; dropping it counts a change.
#[derive(Debug)]
pub struct StatusGuard<'a>(MutexGuard<'a, PluginStatus>);

impl Deref for StatusGuard<'_> {
    type Target = PluginStatus;
    fn deref(&self) -> &PluginStatus {
        &self.0
    }
}

impl DerefMut for StatusGuard<'_> {
    fn deref_mut(&mut self) -> &mut PluginStatus {
        &mut self.0
    }
}

impl Drop for StatusGuard<'_> {
    fn drop(&mut self) {
        // Before the field (the mutex guard) drops: still under the lock.
        status_changed();
    }
}

/// Upper bounds, in milliseconds, of the buckets of a plugin's call durations (the last
/// bucket, one more, counts the slower calls).
pub const CALL_LATENCY_BUCKETS_MS: [u64; 12] =
    [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10_000];

/// Where a plugin is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginState {
    /// Its component is being compiled (not in the compile cache yet): seconds for a Python or
    /// JavaScript plugin. A plugin whose older version runs keeps that version's state and shows
    /// the compile in [`PluginStatus::compiling`].
    Compiling,
    /// Being instantiated or initialised.
    Starting,
    /// On schedule.
    Running,
    /// An `election = true` collector on an agent that does not lead: paused until it does.
    Standby,
    /// Waiting to restart after a crash.
    Backoff,
    /// Stopped after too many crashes; replacing its file re-enables it.
    Disabled,
    /// Its file could not be loaded (corrupt, wrong world); fix the file to retry.
    Failed,
    /// Turned off by config (`enabled = false`).
    Off,
    /// Its file was removed.
    Stopped,
}

/// Status and counters of one plugin.
#[derive(Debug, Clone, Serialize)]
pub struct PluginStatus {
    pub name: String,
    pub file: PathBuf,
    pub hash: Option<String>,
    /// The language it was written in, once loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<crate::GuestLang>,
    pub state: PluginState,
    pub description: Option<PluginDescription>,
    /// The interval in effect, after protection mode.
    pub interval_ms: Option<u64>,
    /// Calls of collect that completed.
    pub calls: u64,
    /// Calls that returned an error (the instance keeps running).
    pub errors: u64,
    /// Traps and deadline overruns since the file was (re)loaded.
    pub crashes: u32,
    /// Fresh instances made after a crash.
    pub restarts: u32,
    /// Points emitted (collectors); lines processed (pipelines).
    pub points: u64,
    /// Points the host refused as invalid.
    pub refused_points: u64,
    /// Points delivered that differ from the plugin's description (collectors and inputs; for
    /// pipelines, of the records checked: the first few of each batch).
    pub undeclared_points: u64,
    /// Outgoing HTTP requests sent by completed calls (collectors with `[sandbox] http`).
    pub http_requests: u64,
    /// Outgoing HTTP requests refused because their target is not on the allowlist.
    pub http_refused: u64,
    /// Records a pipeline's lines became, as its sources read them (`points` counts lines).
    pub records: u64,
    /// Log lines (host-log, stdout, stderr) dropped by the plugin's log rate limit.
    pub log_suppressed: u64,
    /// Instances replaced after a call because their linear memory passed
    /// [`crate::instance::RECYCLE_PERCENT`] of the cap (not crashes).
    pub recycles: u64,
    /// Fuel of completed calls (collectors; pipelines run without fuel metering).
    pub fuel_used: u64,
    /// CPU time of completed calls (collect, handle, process), in microseconds.
    pub cpu_us: u64,
    /// Largest linear memory of any instance, in bytes.
    pub memory_peak_bytes: u64,
    /// Duration of the last completed collect, in microseconds.
    pub last_call_us: u64,
    /// Durations of completed calls (collect, or process for pipelines).
    pub call_latency: Histogram,
    pub last_error: Option<String>,
    /// The limits in effect (after `[runtime.limits]` and the plugin's own `[limits]`).
    pub limits: Option<EffectiveLimits>,
    /// The config file in effect, and its fleet version (`<etcd key>@<revision>`) when it came
    /// from etcd.
    pub config_file: Option<PathBuf>,
    pub config_version: Option<String>,
    /// Kind of the last crash: out_of_fuel, unreachable, limit, deadline, ...
    pub last_crash_kind: Option<String>,
    /// The compile in progress of its file (a new plugin, or a new version of a running one).
    pub compiling: Option<CompileProgress>,
}

/// A compile in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CompileProgress {
    /// Size of the component.
    pub bytes: u64,
    /// When it started (or was queued behind another compile), in Unix milliseconds.
    pub since_unix_ms: u64,
}

impl PluginStatus {
    pub fn new(name: &str, file: PathBuf) -> Self {
        PluginStatus {
            name: name.to_string(),
            file,
            hash: None,
            lang: None,
            state: PluginState::Starting,
            description: None,
            interval_ms: None,
            calls: 0,
            errors: 0,
            crashes: 0,
            restarts: 0,
            points: 0,
            refused_points: 0,
            undeclared_points: 0,
            http_requests: 0,
            http_refused: 0,
            records: 0,
            log_suppressed: 0,
            recycles: 0,
            fuel_used: 0,
            cpu_us: 0,
            memory_peak_bytes: 0,
            last_call_us: 0,
            call_latency: Histogram::new(&CALL_LATENCY_BUCKETS_MS),
            last_error: None,
            limits: None,
            config_file: None,
            config_version: None,
            last_crash_kind: None,
            compiling: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_change_moves_the_count() {
        let cell = StatusCell::new(PluginStatus::new("p", PathBuf::from("p.wasm")));
        let before = status_changes();
        cell.lock().calls += 1;
        assert!(status_changes() > before);
        assert_eq!(cell.snapshot().calls, 1);
    }

    #[test]
    fn latencies_fall_in_their_buckets() {
        let mut h = Histogram::new(&CALL_LATENCY_BUCKETS_MS);
        for ms in [0, 1, 3, 10_000, 20_000] {
            h.observe(Duration::from_millis(ms));
        }
        assert_eq!(h.count, 5);
        assert_eq!(h.sum_us, 30_004_000);
        // 0 and 1 ms in the first bucket (<= 1), 3 ms in <= 5, 10 s in the last bounded one.
        assert_eq!(h.buckets[0], 2);
        assert_eq!(h.buckets[2], 1);
        assert_eq!(h.buckets[CALL_LATENCY_BUCKETS_MS.len() - 1], 1);
        assert_eq!(h.buckets[CALL_LATENCY_BUCKETS_MS.len()], 1);
    }
}

/// A plugin's per-call limits, as status shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EffectiveLimits {
    pub timeout_ms: u64,
    /// 0 for pipelines, which run without fuel metering.
    pub fuel: u64,
    pub memory_bytes: u64,
    pub max_points: u64,
    pub max_bytes: u64,
    pub state_bytes: u64,
}

impl From<crate::config::Limits> for EffectiveLimits {
    fn from(l: crate::config::Limits) -> Self {
        EffectiveLimits {
            timeout_ms: l.timeout.as_millis() as u64,
            fuel: l.fuel,
            memory_bytes: l.memory_bytes,
            max_points: l.max_points,
            max_bytes: l.max_bytes,
            state_bytes: l.state_bytes,
        }
    }
}
