//! The metric families of the plugins' counters ([`PluginStatus`]), for the agent's registry
//! (`sandkit_metrics`): `/metrics` renders them without knowing the status type.

use crate::{PluginState, PluginStatus};
use sandkit_metrics::{Families, Labels};

impl PluginState {
    /// The state's name, as status.json and `/metrics` show it.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginState::Compiling => "compiling",
            PluginState::Starting => "starting",
            PluginState::Running => "running",
            PluginState::Standby => "standby",
            PluginState::Backoff => "backoff",
            PluginState::Disabled => "disabled",
            PluginState::Failed => "failed",
            PluginState::Off => "off",
            PluginState::Stopped => "stopped",
        }
    }
}

/// A counter of each plugin: the family's name (between `sandkit_plugin_` and `_total`), its
/// help, and how to read it off a status.
type Counter = (&'static str, &'static str, fn(&PluginStatus) -> f64);

const COUNTERS: [Counter; 15] = [
    (
        "calls",
        "completed calls (collect, or process for pipelines)",
        |p| p.calls as f64,
    ),
    ("errors", "calls that returned an error", |p| {
        p.errors as f64
    }),
    ("traps", "crashes: traps and deadline overruns", |p| {
        f64::from(p.crashes)
    }),
    ("restarts", "fresh instances made after a crash", |p| {
        f64::from(p.restarts)
    }),
    (
        "points",
        "points emitted (collectors) or lines processed (pipelines)",
        |p| p.points as f64,
    ),
    (
        "refused_points",
        "emitted points the host refused as invalid",
        |p| p.refused_points as f64,
    ),
    (
        "undeclared_points",
        "points unlike the plugin's describe (an undeclared measurement, tag or field, or another kind); pipelines: of the first 4 records of each batch",
        |p| p.undeclared_points as f64,
    ),
    (
        "http_requests",
        "outgoing HTTP requests sent (collectors with [sandbox] http)",
        |p| p.http_requests as f64,
    ),
    (
        "http_refused",
        "outgoing HTTP requests refused: target not on the plugin's allowlist",
        |p| p.http_refused as f64,
    ),
    (
        "records",
        "records a pipeline's lines became (pipelines; points counts the lines)",
        |p| p.records as f64,
    ),
    (
        "log_suppressed",
        "guest log lines dropped by the plugin's log rate limit",
        |p| p.log_suppressed as f64,
    ),
    (
        "recycles",
        "instances replaced after a call because their memory neared the cap",
        |p| p.recycles as f64,
    ),
    ("fuel_used", "fuel of completed calls (collectors)", |p| {
        p.fuel_used as f64
    }),
    (
        "cpu_seconds",
        "CPU time of completed calls (collect, handle, process), the guest's and its host calls'",
        |p| p.cpu_us as f64 / 1e6,
    ),
    ("call_seconds", "wall time of completed calls", |p| {
        p.call_latency.sum_us as f64 / 1e6
    }),
];

fn plugin(p: &PluginStatus) -> Labels {
    vec![("plugin", p.name.clone())]
}

/// The `sandkit_plugin_*` families of `plugins`.
pub fn plugin_families(plugins: &[PluginStatus], out: &mut Families) {
    out.gauge(
        "sandkit_plugin_state",
        "1 for the state each plugin is in",
        plugins.iter().map(|p| {
            let l = vec![
                ("plugin", p.name.clone()),
                ("state", p.state.as_str().into()),
            ];
            (l, 1.0)
        }),
    );
    out.gauge(
        "sandkit_plugin_disabled",
        "1 when the plugin was disabled after too many crashes",
        plugins.iter().map(|p| {
            (
                plugin(p),
                f64::from(u8::from(p.state == PluginState::Disabled)),
            )
        }),
    );
    for (name, help, f) in COUNTERS {
        out.counter(
            format!("sandkit_plugin_{name}_total"),
            help,
            plugins.iter().map(|p| (plugin(p), f(p))),
        );
    }
    out.gauge(
        "sandkit_plugin_memory_peak_bytes",
        "largest linear memory of any instance",
        plugins
            .iter()
            .map(|p| (plugin(p), p.memory_peak_bytes as f64)),
    );
    out.histogram(
        "sandkit_plugin_call_duration_seconds",
        "duration of completed calls",
        plugins.iter().map(|p| (plugin(p), p.call_latency.clone())),
    );
}
