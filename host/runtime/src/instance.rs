//! One plugin instance: a `Store` made from the plugin's `InstancePre`, and calls into it under
//! the per-call limits (fuel, wall-time deadline, memory, emitted points and bytes).

use crate::bindings::collector::Collector;
use crate::bindings::input::Input;
use crate::bindings::pipeline::sandkit::plugin::pipeline_types::LineBatch;
use crate::bindings::pipeline::Pipeline;
use crate::bindings::PluginInfo;
use crate::config::{Limits, PluginConfig};
use crate::engine::EpochActivity;
use crate::host::{HostState, LimitExceeded, StateStore};
use crate::plugin::{LoadedPlugin, PluginPre};
use crate::{GuestLang, RuntimeError};
use sandkit_io::Point;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::{Store, Trap};

/// What one call cost and produced.
#[derive(Debug, Default)]
pub struct CallReport {
    pub points: Vec<Point>,
    /// Points the guest emitted that the host refused (invalid), and why the first one was.
    pub refused: u64,
    pub first_refusal: Option<String>,
    pub fuel_used: u64,
    pub elapsed: Duration,
    /// CPU time the call took on the threads that ran it (see [`cpu_timed`]).
    pub cpu: Duration,
    /// Outgoing HTTP requests sent, and refused by the plugin's allowlist.
    pub http_sent: u64,
    pub http_refused: u64,
    /// The plugin's log lines suppressed by its rate limit so far (all instances).
    pub log_suppressed: u64,
}

/// What one `process` call returned and cost.
#[derive(Debug, Default)]
pub struct ProcessReport {
    /// The records, in the record encoding (not yet validated).
    pub output: Vec<u8>,
    pub fuel_used: u64,
    pub elapsed: Duration,
    /// CPU time of the calling thread during the call (the guest, and the host functions it
    /// called).
    pub cpu: Duration,
    /// The plugin's log lines suppressed by its rate limit so far (all instances).
    pub log_suppressed: u64,
}

enum Bindings {
    Collector(Collector),
    Pipeline(Pipeline),
    Input(Input),
}

/// A live instance. After any crash (trap or deadline) it must be dropped: a trapped component
/// cannot be entered again.
pub struct Instance {
    store: Store<HostState>,
    bindings: Bindings,
    plugin: Arc<str>,
    limits: Limits,
    activity: EpochActivity,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

/// A short, stable name for a failure, for logs and metrics.
pub fn trap_kind(e: &wasmtime::Error) -> &'static str {
    if e.downcast_ref::<LimitExceeded>().is_some() {
        return "limit";
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => "out_of_fuel",
        Some(Trap::UnreachableCodeReached) => "unreachable",
        Some(Trap::StackOverflow) => "stack_overflow",
        Some(Trap::MemoryOutOfBounds) => "memory_out_of_bounds",
        Some(Trap::Interrupt) => "interrupt",
        Some(Trap::IntegerDivisionByZero) => "division_by_zero",
        Some(Trap::CannotEnterComponent) => "cannot_enter",
        Some(_) => "trap",
        None => "host_error",
    }
}

/// `[kind] cause`: the root cause only. wasmtime's own message adds a backtrace of
/// `<unknown>!<wasm function N>` frames (guests are stripped), one line per frame: no help in a
/// status, and it would be repeated in every `pipeline_error` message.
fn describe_error(e: &wasmtime::Error) -> String {
    let kind = trap_kind(e);
    let root = e.root_cause().to_string();
    let top = e.to_string();
    let mut text = if top == root || top.contains("wasm backtrace:") {
        root
    } else {
        format!("{top}: {root}")
    };
    if kind == "unreachable" {
        text.push_str(
            " (a panic or abort in the guest; its message, if any, is in the log on stderr)",
        );
    }
    format!("[{kind}] {text}")
}

/// The share of its memory cap (percent) past which an instance is replaced between calls
/// (see [`Instance::should_recycle`]).
pub const RECYCLE_PERCENT: u64 = 75;

impl Instance {
    /// Instantiate `plugin` in a fresh store with the grants and limits of `config`.
    ///
    /// # Errors
    /// When a granted directory cannot be opened or instantiation traps.
    pub async fn new(
        loaded: &LoadedPlugin,
        config: &PluginConfig,
        state: Arc<Mutex<StateStore>>,
    ) -> Result<Self, RuntimeError> {
        Self::from_parts(
            &loaded.pre,
            loaded.name.clone(),
            loaded.lang,
            loaded.activity.clone(),
            config,
            state,
        )
        .await
    }

    /// As [`Instance::new`], before a [`LoadedPlugin`] exists (loading calls `describe`).
    pub(crate) async fn from_parts(
        pre: &PluginPre,
        plugin: Arc<str>,
        lang: GuestLang,
        activity: EpochActivity,
        config: &PluginConfig,
        state: Arc<Mutex<StateStore>>,
    ) -> Result<Self, RuntimeError> {
        let _active = activity.enter();
        // The memory cap a config leaves unset is the guest language's.
        let for_guest;
        let config = if config.limits.memory_set {
            config
        } else {
            for_guest = PluginConfig {
                limits: config.limits.for_guest(lang),
                ..config.clone()
            };
            &for_guest
        };
        let mut data = HostState::new(plugin.clone(), config, state).map_err(|reason| {
            RuntimeError::Plugin {
                plugin: plugin.to_string(),
                reason,
            }
        })?;
        if !matches!(pre, PluginPre::Collector(_)) {
            // Outgoing HTTP is part of the collector world only: a pipeline or an input that
            // imports it anyway is refused on every request.
            data.http = None;
        }
        let mut store = Store::new(pre.engine(), data);
        store.limiter(|s| &mut s.limiter);
        let limits = config.limits;
        prepare(&mut store, limits);
        let load_deadline = limits.timeout.min(crate::config::LOAD_DEADLINE);
        let made = match pre {
            PluginPre::Collector(p) => {
                let fut = p.instantiate_async(&mut store);
                tokio::time::timeout(load_deadline, fut)
                    .await
                    .map(|r| r.map(Bindings::Collector))
            }
            PluginPre::Pipeline(p) => {
                let fut = p.instantiate_async(&mut store);
                tokio::time::timeout(load_deadline, fut)
                    .await
                    .map(|r| r.map(Bindings::Pipeline))
            }
            PluginPre::Input(p) => {
                let fut = p.instantiate_async(&mut store);
                tokio::time::timeout(load_deadline, fut)
                    .await
                    .map(|r| r.map(Bindings::Input))
            }
        };
        let bindings = match made {
            Err(_) => {
                return Err(RuntimeError::Deadline {
                    plugin: plugin.to_string(),
                    call: "instantiate",
                    deadline: load_deadline,
                })
            }
            Ok(Err(e)) => {
                return Err(RuntimeError::Trap {
                    plugin: plugin.to_string(),
                    call: "instantiate",
                    trap: describe_error(&e),
                })
            }
            Ok(Ok(b)) => b,
        };
        Ok(Instance {
            store,
            bindings,
            plugin,
            limits,
            activity,
        })
    }

    /// Largest linear memory this instance has had, in bytes.
    pub fn memory_peak(&self) -> u64 {
        self.store.data().limiter.memory_peak
    }

    /// Whether this instance should be replaced by a fresh one before its next call: its
    /// linear memory (which never shrinks) passed [`RECYCLE_PERCENT`] of the cap. Some guest
    /// toolchains never free what an export returns or an import hands them (componentize-py
    /// 0.25 and componentize-js 0.23 leak about the bytes of every pipeline output), so a
    /// healthy guest would otherwise creep up to its cap and be killed mid-call, as a crash.
    /// Replacing it between calls loses no line and no point; the plugin's `state` survives,
    /// its in-memory variables do not (init runs again).
    pub fn should_recycle(&self) -> bool {
        let l = &self.store.data().limiter;
        l.memory_now() * 100 > l.memory_cap() * RECYCLE_PERCENT
    }

    /// The event of recycling this instance (its memory and cap now).
    pub(crate) fn recycled(&self) -> crate::events::Recycled {
        let l = &self.store.data().limiter;
        crate::events::Recycled {
            memory: l.memory_now(),
            cap: l.memory_cap(),
        }
    }

    /// Fuel of the last call; 0 on the pipeline engine, which does not meter fuel.
    fn fuel_used(&self) -> u64 {
        self.store
            .get_fuel()
            .map_or(0, |left| self.limits.fuel.saturating_sub(left))
    }

    fn fail(&self, call: &'static str, e: &wasmtime::Error) -> RuntimeError {
        RuntimeError::Trap {
            plugin: self.plugin.to_string(),
            call,
            trap: describe_error(e),
        }
    }

    /// How a call ended, as the runtime reports it: past its `deadline`, trapped, an error the
    /// plugin returned, or its value.
    fn settle<T>(
        &self,
        call: &'static str,
        deadline: Duration,
        r: Result<wasmtime::Result<Result<T, String>>, tokio::time::error::Elapsed>,
    ) -> Result<T, RuntimeError> {
        match r {
            Err(_) => Err(RuntimeError::Deadline {
                plugin: self.plugin.to_string(),
                call,
                deadline,
            }),
            Ok(Err(e)) => Err(self.fail(call, &e)),
            Ok(Ok(Err(message))) => Err(RuntimeError::Guest {
                plugin: self.plugin.to_string(),
                call,
                message,
            }),
            Ok(Ok(Ok(v))) => Ok(v),
        }
    }

    /// The limits of `describe` and `init`: the call's, with a deadline of at most
    /// [`crate::config::LOAD_DEADLINE`].
    fn load_limits(&self) -> crate::config::Limits {
        crate::config::Limits {
            timeout: self.limits.timeout.min(crate::config::LOAD_DEADLINE),
            ..self.limits
        }
    }

    /// Call `describe`.
    ///
    /// # Errors
    /// On a trap or a deadline overrun.
    pub async fn describe(&mut self) -> Result<PluginInfo, RuntimeError> {
        let limits = self.load_limits();
        prepare(&mut self.store, limits);
        let _active = self.activity.enter();
        let r = match &self.bindings {
            Bindings::Collector(b) => {
                let fut = b.call_describe(&mut self.store);
                tokio::time::timeout(limits.timeout, fut).await
            }
            Bindings::Pipeline(b) => {
                let fut = b.call_describe(&mut self.store);
                tokio::time::timeout(limits.timeout, fut).await
            }
            Bindings::Input(b) => {
                let fut = b.call_describe(&mut self.store);
                tokio::time::timeout(limits.timeout, fut).await
            }
        };
        // `describe` cannot return an error of its own.
        let r = r.map(|called| called.map(Ok));
        self.settle("describe", limits.timeout, r)
    }

    /// Call `init` with the plugin's config as JSON.
    ///
    /// # Errors
    /// On a trap, a deadline overrun, or an error returned by the plugin.
    pub async fn init(&mut self, config_json: &str) -> Result<(), RuntimeError> {
        let limits = self.load_limits();
        prepare(&mut self.store, limits);
        let _active = self.activity.enter();
        let r = match &self.bindings {
            Bindings::Collector(b) => {
                let fut = b.call_init(&mut self.store, config_json);
                tokio::time::timeout(limits.timeout, fut).await
            }
            Bindings::Pipeline(b) => {
                let fut = b.call_init(&mut self.store, config_json);
                tokio::time::timeout(limits.timeout, fut).await
            }
            Bindings::Input(b) => {
                let fut = b.call_init(&mut self.store, config_json);
                tokio::time::timeout(limits.timeout, fut).await
            }
        };
        self.settle("init", limits.timeout, r)
    }

    /// Call `collect`; the points it emitted come back in the report.
    ///
    /// # Errors
    /// On a trap, a deadline overrun, or an error returned by the plugin (points emitted before
    /// an error are dropped with it).
    pub async fn collect(&mut self) -> Result<CallReport, RuntimeError> {
        prepare(&mut self.store, self.limits);
        let _active = self.activity.enter();
        let Bindings::Collector(b) = &self.bindings else {
            return Err(self.not_a("collector", "collect"));
        };
        let start = Instant::now();
        let fut = b.call_collect(&mut self.store);
        let (r, cpu) = cpu_timed(tokio::time::timeout(self.limits.timeout, fut)).await;
        let elapsed = start.elapsed();
        self.settle("collect", self.limits.timeout, r)?;
        Ok(self.report(elapsed, cpu))
    }

    /// What the call that just returned emitted and cost.
    fn report(&mut self, elapsed: Duration, cpu: Duration) -> CallReport {
        let fuel_used = self.fuel_used();
        let data = self.store.data_mut();
        CallReport {
            points: std::mem::take(&mut data.emitted),
            refused: data.refused,
            first_refusal: data.first_refusal.take(),
            fuel_used,
            elapsed,
            cpu,
            http_sent: data.http_sent,
            http_refused: data.http_refused,
            log_suppressed: data.log_suppressed(),
        }
    }

    /// Call an input's `handle` on a request body; the points it emitted come back in the
    /// report.
    ///
    /// # Errors
    /// On a trap, a deadline overrun, or an error returned by the plugin (its points are
    /// dropped with it), or when the plugin is not an input.
    pub async fn handle(
        &mut self,
        content_type: &str,
        body: &[u8],
    ) -> Result<CallReport, RuntimeError> {
        let Bindings::Input(b) = &self.bindings else {
            return Err(self.not_a("input", "handle"));
        };
        prepare(&mut self.store, self.limits);
        let _active = self.activity.enter();
        let start = Instant::now();
        let fut = b.call_handle(&mut self.store, content_type, body);
        let (r, cpu) = cpu_timed(tokio::time::timeout(self.limits.timeout, fut)).await;
        let elapsed = start.elapsed();
        self.settle("handle", self.limits.timeout, r)?;
        Ok(self.report(elapsed, cpu))
    }
}

impl Instance {
    fn not_a(&self, world: &str, call: &str) -> RuntimeError {
        RuntimeError::Plugin {
            plugin: self.plugin.to_string(),
            reason: format!("is not a {world}: it has no {call}"),
        }
    }

    /// Call a pipeline's `process` on a batch of lines (line `i` is `data[ends[i-1]..ends[i]]`).
    ///
    /// # Errors
    /// On a trap, a deadline overrun, an error returned by the plugin, or when the plugin is not
    /// a pipeline.
    pub async fn process(
        &mut self,
        source: &str,
        data: &str,
        ends: &[u32],
    ) -> Result<ProcessReport, RuntimeError> {
        let Bindings::Pipeline(b) = &self.bindings else {
            return Err(self.not_a("pipeline", "process"));
        };
        prepare(&mut self.store, self.limits);
        let _active = self.activity.enter();
        let batch = LineBatch {
            source: source.to_string(),
            data: data.to_string(),
            ends: ends.to_vec(),
        };
        let start = Instant::now();
        let fut = b.call_process(&mut self.store, &batch);
        let (r, cpu) = cpu_timed(tokio::time::timeout(self.limits.timeout, fut)).await;
        let elapsed = start.elapsed();
        let output = self.settle("process", self.limits.timeout, r)?;
        Ok(ProcessReport {
            output,
            fuel_used: self.fuel_used(),
            elapsed,
            cpu,
            log_suppressed: self.store.data().log_suppressed(),
        })
    }
}

/// `fut`'s output and the CPU time its polls took: each poll is timed on the CPU clock of the
/// thread that runs it. A guest call yields on every epoch tick and may resume on another
/// worker thread, so the time between the call's start and end on one thread's clock would
/// count other tasks' work and miss the guest's elsewhere; a poll is where the guest (and
/// the host functions it calls) runs. Time spent waiting (outgoing HTTP, a file read on the
/// blocking pool) is not CPU of this call.
async fn cpu_timed<F: std::future::Future>(fut: F) -> (F::Output, Duration) {
    let mut fut = std::pin::pin!(fut);
    let mut cpu = Duration::ZERO;
    let out = std::future::poll_fn(|cx| {
        let t0 = thread_cpu();
        let r = fut.as_mut().poll(cx);
        cpu += thread_cpu().saturating_sub(t0);
        r
    })
    .await;
    (out, cpu)
}

/// The calling thread's CPU time.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// Before every call: a full fuel budget, a deadline that yields on every epoch tick (the wall
/// time is enforced by the caller's timeout), and no leftovers from the previous call.
fn prepare(store: &mut Store<HostState>, limits: Limits) {
    // set_fuel fails only on the pipeline engine, which does not meter fuel.
    let _ = store.set_fuel(limits.fuel);
    store.epoch_deadline_async_yield_and_update(1);
    let data = store.data_mut();
    data.reset_call();
    data.call_deadline = Some(Instant::now() + limits.timeout);
}
