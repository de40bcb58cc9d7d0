//! One plugin's task: its schedule (the interval with jitter, leadership), its calls, what it
//! emits, and its crashes (restarts on a fresh instance with backoff, disabled after
//! `max_crashes`).

use crate::config::PluginConfig;
use crate::events::{
    AfterCrash, Call, CallCompleted, CallFailed, Crashed, Event, Leadership, MemorySeen,
    PointsRefused, PointsUndeclared, Restarted,
};
use crate::host::StateStore;
use crate::instance::Instance;
use crate::plugin::LoadedPlugin;
use crate::plugin::PluginDescription;
use crate::status::{PluginState, StatusCell};
use crate::{Runtime, RuntimeError};
use rand::Rng;
use sandkit_io::Sink;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The interval to use: the configured one (or the plugin's default), clamped to the plugin's
/// declared range in protection mode. Returns the interval and, when it was changed, why.
pub fn effective_interval(
    desc: &PluginDescription,
    configured: Option<Duration>,
    protection_mode: bool,
) -> (Duration, Option<String>) {
    let wanted = configured.unwrap_or(desc.default_interval);
    if !protection_mode {
        return (wanted.max(Duration::from_millis(1)), None);
    }
    let fmt = |d: Duration| sandkit_conf::format_duration(d);
    if wanted < desc.min_interval {
        let why = format!(
            "interval {} is below the plugin's minimum {}; using {} (protection mode)",
            fmt(wanted),
            fmt(desc.min_interval),
            fmt(desc.min_interval)
        );
        (desc.min_interval, Some(why))
    } else if wanted > desc.max_interval {
        let why = format!(
            "interval {} is above the plugin's maximum {}; using {} (protection mode)",
            fmt(wanted),
            fmt(desc.max_interval),
            fmt(desc.max_interval)
        );
        (desc.max_interval, Some(why))
    } else {
        (wanted, None)
    }
}

/// The times of a plugin's crashes still within the crash window (the status counts them all).
#[derive(Debug, Default)]
pub(super) struct Crashes {
    recent: std::collections::VecDeque<Instant>,
}

/// Everything one plugin's task owns.
pub(super) struct PluginTask {
    pub(super) plugin: LoadedPlugin,
    pub(super) config: PluginConfig,
    pub(super) runtime: Arc<Runtime>,
    pub(super) sink: Sink,
    pub(super) global_tags: Arc<Vec<(String, String)>>,
    pub(super) status: Arc<StatusCell>,
    pub(super) stop: watch::Receiver<bool>,
    pub(super) leader: watch::Receiver<bool>,
    /// Its points against its description.
    pub(super) conformance: crate::conformance::Conformance,
}

/// Resolves once `leader` turns false (or its sender is gone).
async fn wait_for_false(leader: &mut watch::Receiver<bool>) {
    let _ = leader.wait_for(|l| !*l).await;
}

enum Step {
    Continue,
    Stop,
}

impl PluginTask {
    fn name(&self) -> &str {
        &self.plugin.name
    }

    /// Sleep until `until`, or return false at once if asked to stop.
    async fn sleep_until(&mut self, until: Instant) -> bool {
        if *self.stop.borrow() {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep_until(until) => true,
            _ = self.stop.wait_for(|s| *s) => false,
        }
    }

    pub(super) async fn run(mut self) {
        let rc = self.runtime.config().clone();
        let (interval, clamped) = effective_interval(
            &self.plugin.description,
            self.config.interval,
            rc.protection_mode,
        );
        if let Some(why) = clamped {
            let file = self
                .config
                .source
                .as_ref()
                .map_or_else(|| "defaults".to_string(), |p| p.display().to_string());
            tracing::warn!(plugin = %self.name(), "config {file}: {why}");
        }
        self.status.lock().interval_ms = Some(interval.as_millis() as u64);
        let state = Arc::new(Mutex::new(StateStore::default()));
        let start = Instant::now();
        let mut tick: u64 = 0;
        let mut crashes = Crashes::default();
        let jitter_max = interval.mul_f64(rc.jitter);
        'instance: loop {
            // A follower does not even make the instance (its init may have side effects).
            if self.config.election && !*self.leader.borrow() && !self.await_leadership().await {
                return;
            }
            self.status.lock().state = PluginState::Starting;
            let made = self.instantiate(state.clone()).await;
            let mut inst = match made {
                Ok(i) => i,
                Err(e) => match self.crashed(&mut crashes, &e).await {
                    Step::Continue => continue,
                    Step::Stop => return,
                },
            };
            self.status.lock().state = PluginState::Running;
            let crash = loop {
                let jitter = if jitter_max.is_zero() {
                    Duration::ZERO
                } else {
                    rand::rng().random_range(Duration::ZERO..=jitter_max)
                };
                let due =
                    start + interval.saturating_mul(tick.min(u32::MAX as u64) as u32) + jitter;
                if !self.sleep_until(due).await {
                    return;
                }
                if self.config.election && !*self.leader.borrow() && !self.await_leadership().await
                {
                    return;
                }
                let result = if self.config.election {
                    // Leadership lost mid-call: the call is cut (its points are not delivered)
                    // and the instance, stopped mid-call, is dropped.
                    tokio::select! {
                        biased;
                        _ = wait_for_false(&mut self.leader) => None,
                        r = inst.collect() => Some(r),
                    }
                } else {
                    Some(inst.collect().await)
                };
                let Some(result) = result else {
                    drop(inst);
                    self.emit(Leadership::LostMidCall);
                    continue 'instance;
                };
                self.emit(MemorySeen(inst.memory_peak()));
                // Next tick: the first one still ahead, so a slow call skips ticks instead of
                // bunching them.
                let elapsed = Instant::now().saturating_duration_since(start);
                let next = (elapsed.as_nanos() / interval.as_nanos().max(1)) as u64 + 1;
                tick = (tick + 1).max(next);
                let recycle = result.is_ok() && inst.should_recycle();
                match result {
                    Ok(report) => self.deliver(report).await,
                    Err(e) if e.is_crash() => break e,
                    Err(e) => self.emit(CallFailed {
                        call: Call::Collect,
                        error: &e.to_string(),
                        counted: false,
                    }),
                }
                if recycle {
                    self.emit(inst.recycled());
                    drop(inst);
                    continue 'instance;
                }
            };
            drop(inst);
            match self.crashed(&mut crashes, &crash).await {
                Step::Continue => continue,
                Step::Stop => return,
            }
        }
    }

    /// Stand by until this agent leads (true) or a stop is asked for (false).
    async fn await_leadership(&mut self) -> bool {
        self.emit(Leadership::Standby);
        let led = tokio::select! {
            r = self.leader.wait_for(|l| *l) => r.is_ok(),
            _ = self.stop.wait_for(|s| *s) => false,
        };
        if led {
            self.emit(Leadership::Resumed);
        }
        led
    }

    async fn instantiate(&self, state: Arc<Mutex<StateStore>>) -> Result<Instance, RuntimeError> {
        let mut inst = Instance::new(&self.plugin, &self.config, state).await?;
        inst.init(&self.config.config_json).await?;
        Ok(inst)
    }

    async fn deliver(&self, report: crate::instance::CallReport) {
        let n = report.points.len() as u64;
        self.emit(CallCompleted::of_call(&report, n));
        if report.refused > 0 {
            self.emit(PointsRefused {
                refused: report.refused,
                first: report.first_refusal.as_deref(),
                whole_call: false,
            });
        }
        let (undeclared, new) = self.conformance.check(&report.points);
        self.emit(PointsUndeclared {
            points: undeclared,
            new: &new,
        });
        let mut points = report.points;
        for p in &mut points {
            for (k, v) in self.global_tags.iter() {
                p.add_tag_if_missing(k, v);
            }
        }
        if let Err(e) = self.sink.send(points).await {
            tracing::error!(plugin = %self.name(), error = %e, "runtime.deliver failed");
        }
    }

    fn emit(&self, event: impl Event) {
        event.emit(self.name(), &self.status);
    }

    /// Count a crash (or a failed start); back off, or disable past the limit.
    async fn crashed(&mut self, crashes: &mut Crashes, e: &RuntimeError) -> Step {
        let rc = self.runtime.config().clone();
        let now = Instant::now();
        // Only the crashes of the last `crash_window` count toward disabling.
        crashes
            .recent
            .retain(|t| now.duration_since(*t) < rc.crash_window);
        crashes.recent.push_back(now);
        let recent = crashes.recent.len() as u32;
        if recent >= rc.max_crashes {
            self.emit(Crashed {
                error: e,
                after: AfterCrash::Disabled {
                    recent,
                    window: rc.crash_window,
                    file: &self.plugin.file,
                },
            });
            return Step::Stop;
        }
        let factor = 1u32 << (recent - 1).min(20);
        let backoff = rc
            .backoff_initial
            .saturating_mul(factor)
            .min(rc.backoff_max);
        self.emit(Crashed {
            error: e,
            after: AfterCrash::Backoff {
                recent,
                max: rc.max_crashes,
                backoff,
            },
        });
        if !self.sleep_until(Instant::now() + backoff).await {
            return Step::Stop;
        }
        self.emit(Restarted);
        Step::Continue
    }
}
