//! The plugins' internal events, as Vector has them: each event is counted in the plugin's
//! status (which `/metrics`, `/v1/plugins`, `metrics.json` and `sandkit status` read) and logged
//! in one place, so that a log line, a counter and the state or last error it explains cannot
//! drift apart. The three kinds of plugin task (a collector's schedule, an input's requests, a
//! pipeline's batches) emit the same events where they share a meaning.
//!
//! What a call cost is counted once a call, without a log line ([`CallCompleted`]); crashes,
//! errors, refusals and state changes are logged as they are counted.

use crate::instance::{CallReport, ProcessReport, RECYCLE_PERCENT};
use crate::status::{PluginState, StatusCell};
use crate::RuntimeError;
use std::path::Path;
use std::time::Duration;

/// Something that happened to a plugin: counted and logged by `emit`.
pub(crate) trait Event {
    fn emit(self, plugin: &str, status: &StatusCell);
}

/// A call returned (collect, handle or process, with or without an error of the guest's own):
/// what it cost and made. Not logged: one a call.
#[derive(Debug, Default)]
pub(crate) struct CallCompleted {
    pub elapsed: Duration,
    pub fuel_used: u64,
    /// CPU time of the call, on the threads that ran it.
    pub cpu: Duration,
    /// Points delivered (collectors, inputs) or lines processed (pipelines).
    pub points: u64,
    pub http_sent: u64,
    pub http_refused: u64,
    /// The plugin's log lines suppressed by its rate limit so far, all instances (a total).
    pub log_suppressed: u64,
}

impl CallCompleted {
    /// A collect or handle call that delivers `points` of what it emitted.
    pub fn of_call(report: &CallReport, points: u64) -> Self {
        CallCompleted {
            elapsed: report.elapsed,
            fuel_used: report.fuel_used,
            cpu: report.cpu,
            points,
            http_sent: report.http_sent,
            http_refused: report.http_refused,
            log_suppressed: report.log_suppressed,
        }
    }

    /// A process call that processed `lines`.
    pub fn of_process(report: &ProcessReport, lines: u64) -> Self {
        CallCompleted {
            elapsed: report.elapsed,
            fuel_used: report.fuel_used,
            cpu: report.cpu,
            points: lines,
            log_suppressed: report.log_suppressed,
            ..CallCompleted::default()
        }
    }
}

impl Event for CallCompleted {
    fn emit(self, _plugin: &str, status: &StatusCell) {
        let mut st = status.lock();
        st.calls += 1;
        st.points += self.points;
        st.fuel_used += self.fuel_used;
        st.cpu_us += self.cpu.as_micros() as u64;
        st.http_requests += self.http_sent;
        st.http_refused += self.http_refused;
        st.log_suppressed = st.log_suppressed.max(self.log_suppressed);
        st.last_call_us = self.elapsed.as_micros() as u64;
        st.call_latency.observe(self.elapsed);
    }
}

/// After a call, whatever its outcome (a trap on the memory cap is when it matters most):
/// the instance's linear memory now, in bytes. Not logged.
pub(crate) struct MemorySeen(pub u64);

impl Event for MemorySeen {
    fn emit(self, _plugin: &str, status: &StatusCell) {
        let mut st = status.lock();
        st.memory_peak_bytes = st.memory_peak_bytes.max(self.0);
    }
}

/// Which call an event is about.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Call {
    Collect,
    Handle,
    Process,
}

/// A call ended in an error: the guest's own (a returned error; the instance is fine), or an
/// output the host cannot take. Counted as a call (unless [`CallCompleted`] counted it already)
/// and an error.
pub(crate) struct CallFailed<'a> {
    pub call: Call,
    pub error: &'a str,
    /// Whether [`CallCompleted`] counted the call already (it returned something to check).
    pub counted: bool,
}

impl Event for CallFailed<'_> {
    fn emit(self, plugin: &str, status: &StatusCell) {
        {
            let mut st = status.lock();
            st.calls += u64::from(!self.counted);
            st.errors += 1;
            st.last_error = Some(self.error.to_string());
        }
        let error = self.error;
        match self.call {
            Call::Collect => tracing::warn!(plugin, error, "runtime.collect error"),
            // The request's client gets the error in its response.
            Call::Handle => tracing::debug!(plugin, error, "runtime.handle error"),
            // The batch logs what failed in it, once (a bisection makes many calls).
            Call::Process => tracing::debug!(plugin, error, "runtime.process error"),
        }
    }
}

/// Points a call emitted that differ from what the plugin's `describe` declares (an undeclared
/// measurement, tag or field, or another kind): delivered all the same, counted, and each kind
/// of difference logged the first time it is seen.
pub(crate) struct PointsUndeclared<'a> {
    pub points: u64,
    pub new: &'a [crate::conformance::Mismatch],
}

impl Event for PointsUndeclared<'_> {
    fn emit(self, plugin: &str, status: &StatusCell) {
        if self.points == 0 {
            return;
        }
        status.lock().undeclared_points += self.points;
        for m in self.new {
            let kind = m.kind();
            tracing::warn!(plugin, kind, "runtime.emit point not as described: {m}");
        }
    }
}

/// Points a call emitted that the host refused as invalid.
pub(crate) struct PointsRefused<'a> {
    pub refused: u64,
    /// Why the first one was refused.
    pub first: Option<&'a str>,
    /// An input's request is refused whole (all or nothing): the call counts as an error; a
    /// collector's valid points go on.
    pub whole_call: bool,
}

impl Event for PointsRefused<'_> {
    fn emit(self, plugin: &str, status: &StatusCell) {
        {
            let mut st = status.lock();
            st.refused_points += self.refused;
            if self.whole_call {
                st.errors += 1;
                st.last_error = Some(self.first.unwrap_or_default().to_string());
            }
        }
        let Some(reason) = self.first else {
            return;
        };
        let refused = self.refused;
        if self.whole_call {
            tracing::debug!(
                plugin,
                refused,
                reason,
                "runtime.handle request refused: invalid points"
            );
        } else {
            tracing::warn!(plugin, refused, reason, "runtime.emit points refused");
        }
    }
}

/// What follows a crash.
pub(crate) enum AfterCrash<'a> {
    /// A collector restarts after `backoff`; `recent` crashes within its window, of `max`.
    Backoff {
        recent: u32,
        max: u32,
        backoff: Duration,
    },
    /// A collector is disabled: `recent` crashes within `window`.
    Disabled {
        recent: u32,
        window: Duration,
        file: &'a Path,
    },
    /// An input: the next request gets a fresh instance.
    NextRequest,
    /// An input is disabled after `in_a_row` crashed requests.
    InputDisabled { in_a_row: u32 },
    /// A pipeline call: its batch is retried or bisected, and counted as one crash per batch
    /// ([`BatchCrashed`]), so this one is not counted.
    InBatch,
}

/// A call or a start trapped, overran its deadline, or could not make an instance.
pub(crate) struct Crashed<'a> {
    pub error: &'a RuntimeError,
    pub after: AfterCrash<'a>,
}

impl Event for Crashed<'_> {
    fn emit(self, plugin: &str, status: &StatusCell) {
        let kind = self.error.crash_kind();
        let crashes = {
            let mut st = status.lock();
            if !matches!(self.after, AfterCrash::InBatch) {
                st.crashes += 1;
            }
            st.last_error = Some(self.error.to_string());
            match self.after {
                AfterCrash::Backoff { .. } => st.state = PluginState::Backoff,
                AfterCrash::Disabled { .. } | AfterCrash::InputDisabled { .. } => {
                    st.state = PluginState::Disabled;
                }
                AfterCrash::NextRequest | AfterCrash::InBatch => {}
            }
            st.last_crash_kind = Some(kind.clone());
            st.crashes
        };
        let error = self.error;
        match self.after {
            AfterCrash::Backoff {
                recent,
                max,
                backoff,
            } => tracing::warn!(
                plugin, crashes, recent, max_crashes = max, kind = %kind, error = %error,
                "runtime.plugin crashed; restarting in {}", sandkit_conf::format_duration(backoff)
            ),
            AfterCrash::Disabled {
                recent,
                window,
                file,
            } => tracing::error!(
                plugin, crashes, kind = %kind, error = %error,
                "runtime.plugin disabled after {} crashes within {}; replace {} to re-enable it",
                recent, sandkit_conf::format_duration(window), file.display()
            ),
            AfterCrash::NextRequest => tracing::warn!(
                plugin, kind = %kind, error = %error,
                "runtime.input crashed; a fresh instance takes the next request"
            ),
            AfterCrash::InputDisabled { in_a_row } => tracing::error!(
                plugin, crashes = in_a_row, kind = %kind, error = %error,
                "runtime.input disabled after crashes in a row; replace its file to retry"
            ),
            // The batch logs it, with its lines.
            AfterCrash::InBatch => {
                tracing::debug!(plugin, kind = %kind, error = %error, "runtime.process crashed");
            }
        }
    }
}

/// A pipeline batch crashed (once or more, retried and bisected on fresh instances): one crash
/// and one restart. `disabled` is set when it was the batch that disabled the pipeline: the
/// `run`-th in a row that crashed on most of its lines.
pub(crate) struct BatchCrashed<'a> {
    pub disabled: Option<(u32, &'a Path)>,
}

impl Event for BatchCrashed<'_> {
    fn emit(self, plugin: &str, status: &StatusCell) {
        let mut st = status.lock();
        st.crashes += 1;
        st.restarts += 1;
        if let Some((run, file)) = self.disabled {
            if st.state == PluginState::Disabled {
                return;
            }
            st.state = PluginState::Disabled;
            tracing::error!(
                pipeline = plugin, batches = run,
                "pipeline.disabled after {run} batches in a row crashed on most of their lines; its lines pass through unprocessed; replace {} to re-enable it",
                file.display()
            );
        }
    }
}

/// A fresh instance was made after a crash.
pub(crate) struct Restarted;

impl Event for Restarted {
    fn emit(self, _plugin: &str, status: &StatusCell) {
        status.lock().restarts += 1;
    }
}

/// An instance was replaced after a call because its linear memory passed
/// [`RECYCLE_PERCENT`] of its cap: not a crash.
pub(crate) struct Recycled {
    pub memory: u64,
    pub cap: u64,
}

impl Event for Recycled {
    fn emit(self, plugin: &str, status: &StatusCell) {
        status.lock().recycles += 1;
        tracing::info!(
            plugin,
            memory = self.memory,
            cap = self.cap,
            "runtime.recycle the instance's linear memory passed {RECYCLE_PERCENT}% of its cap after a call; the next call runs on a fresh instance"
        );
    }
}

/// A collector under election changed its leadership state.
pub(crate) enum Leadership {
    /// This agent does not lead: paused until it does.
    Standby,
    /// This agent leads: collecting again.
    Resumed,
    /// Leadership was lost during a call: the call is cut and its points dropped.
    LostMidCall,
}

impl Event for Leadership {
    fn emit(self, plugin: &str, status: &StatusCell) {
        match self {
            Leadership::Standby => {
                status.lock().state = PluginState::Standby;
                tracing::info!(
                    plugin,
                    "runtime.standby: paused until this agent leads the election"
                );
            }
            Leadership::Resumed => {
                status.lock().state = PluginState::Running;
                tracing::info!(plugin, "runtime.resume: this agent leads the election");
            }
            Leadership::LostMidCall => tracing::warn!(
                plugin,
                "runtime.standby: leadership lost during a call; the call is cut and its points dropped"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::PluginStatus;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn cell() -> Arc<StatusCell> {
        StatusCell::new(PluginStatus::new("p", PathBuf::from("p.wasm")))
    }

    #[test]
    fn errors_are_calls_and_a_checked_call_is_not_counted_twice() {
        let st = cell();
        let done = CallCompleted {
            elapsed: Duration::from_millis(3),
            points: 2,
            log_suppressed: 5,
            ..CallCompleted::default()
        };
        done.emit("p", &st);
        CallFailed {
            call: Call::Process,
            error: "malformed",
            counted: true,
        }
        .emit("p", &st);
        CallFailed {
            call: Call::Collect,
            error: "said no",
            counted: false,
        }
        .emit("p", &st);
        // A total that another instance reported lower does not go back.
        CallCompleted {
            log_suppressed: 1,
            ..CallCompleted::default()
        }
        .emit("p", &st);
        let s = st.snapshot();
        assert_eq!((s.calls, s.errors, s.points), (3, 2, 2));
        assert_eq!(s.log_suppressed, 5);
        assert_eq!(s.last_error.as_deref(), Some("said no"));
        assert_eq!(s.call_latency.count, 2);
    }

    #[test]
    fn crashes_set_the_state_and_a_pipeline_counts_them_per_batch() {
        let st = cell();
        let e = RuntimeError::Deadline {
            plugin: "p".into(),
            call: "collect",
            deadline: Duration::from_secs(1),
        };
        let backoff = AfterCrash::Backoff {
            recent: 1,
            max: 3,
            backoff: Duration::from_secs(1),
        };
        Crashed {
            error: &e,
            after: backoff,
        }
        .emit("p", &st);
        assert_eq!(st.snapshot().state, PluginState::Backoff);
        Crashed {
            error: &e,
            after: AfterCrash::InBatch,
        }
        .emit("p", &st);
        assert_eq!(st.snapshot().crashes, 1, "a call in a batch is not counted");
        let file = PathBuf::from("p.wasm");
        BatchCrashed {
            disabled: Some((3, &file)),
        }
        .emit("p", &st);
        let s = st.snapshot();
        assert_eq!(
            (s.crashes, s.restarts, s.state),
            (2, 1, PluginState::Disabled)
        );
        assert_eq!(s.last_crash_kind.as_deref(), Some("deadline"));
    }

    #[test]
    fn a_refused_request_is_an_error_and_refused_collector_points_are_not() {
        let st = cell();
        PointsRefused {
            refused: 2,
            first: Some("bad"),
            whole_call: false,
        }
        .emit("p", &st);
        assert_eq!((st.snapshot().refused_points, st.snapshot().errors), (2, 0));
        PointsRefused {
            refused: 1,
            first: Some("worse"),
            whole_call: true,
        }
        .emit("p", &st);
        let s = st.snapshot();
        assert_eq!((s.refused_points, s.errors), (3, 1));
        assert_eq!(s.last_error.as_deref(), Some("worse"));
    }
}
