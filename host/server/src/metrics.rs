//! `/metrics`: the agent's own metrics in Prometheus text format (version 0.0.4), per plugin,
//! per output destination and category, per file task, and of the server itself.

use crate::{ServerState, Shared};
use sandkit_io::LATENCY_BUCKETS_MS;
use sandkit_runtime::{PluginState, CALL_LATENCY_BUCKETS_MS};
use std::fmt::Write;

/// Append a label value with `\`, `"` and newlines escaped.
fn push_escaped(out: &mut String, v: &str) {
    if !v.contains(['\\', '"', '\n']) {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// `{k="v",...}`
fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(
        16 + pairs
            .iter()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum::<usize>(),
    );
    out.push('{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        push_escaped(&mut out, v);
        out.push('"');
    }
    out.push('}');
    out
}

/// One metric family: its HELP and TYPE lines, then a sample per row.
fn family(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    rows: impl IntoIterator<Item = (String, f64)>,
) {
    let mut rows = rows.into_iter().peekable();
    if rows.peek().is_none() {
        return;
    }
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (l, v) in rows {
        let _ = writeln!(out, "{name}{l} {v}");
    }
}

/// One histogram series: its labels, per-bucket counts, sum in seconds, count.
type Series<'a> = (Vec<(&'a str, &'a str)>, &'a [u64], f64, u64);

/// A counter family read off each row of type `T`: name, help, value.
type Counter<'a, T, V> = (&'a str, &'a str, &'a dyn Fn(&T) -> V);

/// A histogram family from per-bucket counts (not cumulative; one more than `bounds_ms`, the
/// last counting the slower ones), their sum in seconds and their number.
fn histogram(out: &mut String, name: &str, help: &str, bounds_ms: &[u64], rows: &[Series<'_>]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    let les: Vec<String> = (0..=bounds_ms.len())
        .map(|i| {
            bounds_ms
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| (*b as f64 / 1000.0).to_string())
        })
        .collect();
    for (base, buckets, sum, count) in rows {
        // `{base,` once; each bucket adds `le="..."}`.
        let base_labels = labels(base);
        let open = &base_labels[..base_labels.len() - 1];
        let sep = if base.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (n, le) in buckets.iter().zip(&les) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{open}{sep}le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_sum{base_labels} {sum}");
        let _ = writeln!(out, "{name}_count{base_labels} {count}");
    }
}

fn state_name(s: PluginState) -> &'static str {
    match s {
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

/// The whole page.
pub(crate) fn render(shared: &Shared) -> String {
    let mut out = render_state(&shared.state);
    server(&mut out, shared);
    out
}

/// The plugin, output and file families of the page (all but the server's own).
pub fn render_state(state: &ServerState) -> String {
    let mut out = String::new();
    plugins(&mut out, state);
    outputs(&mut out, state);
    files(&mut out, state);
    election(&mut out, state);
    out
}

fn election(out: &mut String, state: &ServerState) {
    let Some(e) = &state.election else {
        return;
    };
    let e = e.borrow().clone();
    let l = labels(&[("backend", e.backend), ("id", &e.id)]);
    family(
        out,
        "sandkit_election_leader",
        "gauge",
        "1 when this agent leads the election (a single node always does)",
        [(l.clone(), f64::from(u8::from(e.leader)))],
    );
    family(
        out,
        "sandkit_election_term",
        "gauge",
        "the term this agent leads in (etcd revision of its election key); 0 when it follows",
        [(l.clone(), e.term as f64)],
    );
    family(
        out,
        "sandkit_election_transitions_total",
        "counter",
        "times this agent started or stopped leading",
        [(l, e.transitions as f64)],
    );
}

fn plugins(out: &mut String, state: &ServerState) {
    let plugins = (state.plugins)();
    let per = |f: &dyn Fn(&sandkit_runtime::PluginStatus) -> f64| {
        plugins
            .iter()
            .map(|p| (labels(&[("plugin", &p.name)]), f(p)))
            .collect::<Vec<_>>()
    };
    family(
        out,
        "sandkit_plugin_state",
        "gauge",
        "1 for the state each plugin is in",
        plugins.iter().map(|p| {
            let l = labels(&[("plugin", &p.name), ("state", state_name(p.state))]);
            (l, 1.0)
        }),
    );
    family(
        out,
        "sandkit_plugin_disabled",
        "gauge",
        "1 when the plugin was disabled after too many crashes",
        per(&|p| f64::from(u8::from(p.state == PluginState::Disabled))),
    );
    let counters: [Counter<'_, sandkit_runtime::PluginStatus, f64>; 14] = [
        (
            "calls",
            "completed calls (collect, or process for pipelines)",
            &|p| p.calls as f64,
        ),
        ("errors", "calls that returned an error", &|p| {
            p.errors as f64
        }),
        ("traps", "crashes: traps and deadline overruns", &|p| {
            f64::from(p.crashes)
        }),
        ("restarts", "fresh instances made after a crash", &|p| {
            f64::from(p.restarts)
        }),
        (
            "points",
            "points emitted (collectors) or lines processed (pipelines)",
            &|p| p.points as f64,
        ),
        (
            "refused_points",
            "emitted points the host refused as invalid",
            &|p| p.refused_points as f64,
        ),
        (
            "http_requests",
            "outgoing HTTP requests sent (collectors with [sandbox] http)",
            &|p| p.http_requests as f64,
        ),
        (
            "http_refused",
            "outgoing HTTP requests refused: target not on the plugin's allowlist",
            &|p| p.http_refused as f64,
        ),
        (
            "records",
            "records a pipeline's lines became (pipelines; points counts the lines)",
            &|p| p.records as f64,
        ),
        (
            "log_suppressed",
            "guest log lines dropped by the plugin's log rate limit",
            &|p| p.log_suppressed as f64,
        ),
        (
            "recycles",
            "instances replaced after a call because their memory neared the cap",
            &|p| p.recycles as f64,
        ),
        ("fuel_used", "fuel of completed calls (collectors)", &|p| {
            p.fuel_used as f64
        }),
        (
            "cpu_seconds",
            "CPU time of completed process calls (pipelines)",
            &|p| p.cpu_us as f64 / 1e6,
        ),
        ("call_seconds", "wall time of completed calls", &|p| {
            p.call_latency.sum_us as f64 / 1e6
        }),
    ];
    for (name, help, f) in counters {
        family(
            out,
            &format!("sandkit_plugin_{name}_total"),
            "counter",
            help,
            per(f),
        );
    }
    family(
        out,
        "sandkit_plugin_memory_peak_bytes",
        "gauge",
        "largest linear memory of any instance",
        per(&|p| p.memory_peak_bytes as f64),
    );
    let rows: Vec<_> = plugins
        .iter()
        .map(|p| {
            (
                vec![("plugin", p.name.as_str())],
                &p.call_latency.buckets[..],
                p.call_latency.sum_us as f64 / 1e6,
                p.call_latency.count,
            )
        })
        .collect();
    histogram(
        out,
        "sandkit_plugin_call_duration_seconds",
        "duration of completed calls",
        &CALL_LATENCY_BUCKETS_MS,
        &rows,
    );
}

fn outputs(out: &mut String, state: &ServerState) {
    let lanes = (state.lanes)();
    let per = |f: &dyn Fn(&sandkit_io::LaneSnapshot) -> u64| {
        lanes
            .iter()
            .map(|l| {
                let ls = labels(&[
                    ("output", &l.output),
                    ("url", &l.url),
                    ("category", &l.category),
                ]);
                (ls, f(l) as f64)
            })
            .collect::<Vec<_>>()
    };
    let counters: [Counter<'_, sandkit_io::LaneSnapshot, u64>; 6] = [
        ("requests_total", "requests made", &|l| l.requests),
        ("points_sent_total", "points delivered", &|l| l.points_sent),
        ("bytes_sent_total", "compressed bytes delivered", &|l| {
            l.bytes_sent
        }),
        ("retries_total", "failed attempts tried again", &|l| {
            l.retries
        }),
        (
            "buffered_points_total",
            "points written to the disk buffer",
            &|l| l.buffered_points,
        ),
        (
            "dropped_corrupt_bytes_total",
            "bytes of corrupt buffer records skipped",
            &|l| l.dropped_corrupt_bytes,
        ),
    ];
    for (name, help, f) in counters {
        family(
            out,
            &format!("sandkit_output_{name}"),
            "counter",
            help,
            per(f),
        );
    }
    family(
        out,
        "sandkit_output_dropped_points_total",
        "counter",
        "points given up, by reason",
        lanes.iter().flat_map(|l| {
            [
                ("rejected", l.dropped_rejected),
                ("unreachable", l.dropped_unreachable),
                ("overflow", l.dropped_overflow),
            ]
            .into_iter()
            .map(|(reason, n)| {
                let ls = labels(&[
                    ("output", &l.output),
                    ("url", &l.url),
                    ("category", &l.category),
                    ("reason", reason),
                ]);
                (ls, n as f64)
            })
        }),
    );
    family(
        out,
        "sandkit_output_buffer_bytes",
        "gauge",
        "bytes held in the disk buffer",
        per(&|l| l.buffer_bytes),
    );
    let rows: Vec<_> = lanes
        .iter()
        .map(|l| {
            (
                vec![
                    ("output", l.output.as_str()),
                    ("url", l.url.as_str()),
                    ("category", l.category.as_str()),
                ],
                &l.latency_buckets[..],
                l.latency_us_total as f64 / 1e6,
                l.latency_buckets.iter().sum::<u64>(),
            )
        })
        .collect();
    histogram(
        out,
        "sandkit_output_request_duration_seconds",
        "duration of successful requests",
        &LATENCY_BUCKETS_MS,
        &rows,
    );
}

fn files(out: &mut String, state: &ServerState) {
    let tasks = (state.files)();
    let per = |f: &dyn Fn(&sandkit_files::TaskSnapshot) -> u64| {
        tasks
            .iter()
            .map(|t| (labels(&[("task", &t.task)]), f(t) as f64))
            .collect::<Vec<_>>()
    };
    family(
        out,
        "sandkit_files_open",
        "gauge",
        "files the task has open (instances)",
        per(&|t| t.files_open),
    );
    family(
        out,
        "sandkit_files_lag_bytes",
        "gauge",
        "bytes of the open files not read yet",
        per(&|t| t.lag_bytes),
    );
    let counters: [Counter<'_, sandkit_files::TaskSnapshot, u64>; 8] = [
        ("lines_total", "lines read", &|t| t.lines),
        ("bytes_total", "bytes read", &|t| t.bytes),
        (
            "truncated_lines_total",
            "lines cut at the maximum line size",
            &|t| t.truncated_lines,
        ),
        ("rotations_total", "rotations followed", &|t| t.rotations),
        (
            "dropped_acks_total",
            "batches the output gave up on",
            &|t| t.dropped_acks,
        ),
        (
            "pipeline_records_total",
            "records made by the task's pipeline",
            &|t| t.pipeline_records,
        ),
        (
            "pipeline_failed_lines_total",
            "lines the pipeline did not process",
            &|t| t.pipeline_failed_lines,
        ),
        (
            "parked_lines_total",
            "lines parked in the dead-letter store",
            &|t| t.parked_lines,
        ),
    ];
    for (name, help, f) in counters {
        family(
            out,
            &format!("sandkit_files_{name}"),
            "counter",
            help,
            per(f),
        );
    }
}

fn server(out: &mut String, shared: &Shared) {
    let requests = shared
        .requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    family(
        out,
        "sandkit_http_requests_total",
        "counter",
        "requests answered by the agent's HTTP server, by route and status code",
        requests.iter().map(|((route, code), n)| {
            let code = code.to_string();
            (labels(&[("route", route), ("code", &code)]), *n as f64)
        }),
    );
    family(
        out,
        "sandkit_uptime_seconds",
        "gauge",
        "seconds since the server started",
        [(String::new(), shared.started.elapsed().as_secs_f64())],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(
            labels(&[("a", "x\"y\\z\nw"), ("b", "")]),
            r#"{a="x\"y\\z\nw",b=""}"#
        );
    }

    #[test]
    fn histograms_are_cumulative_and_end_in_inf() {
        let mut out = String::new();
        histogram(
            &mut out,
            "h",
            "help",
            &[5, 10],
            &[(vec![("p", "x")], &[1, 2, 3], 1.5, 6)],
        );
        assert_eq!(
            out,
            "# HELP h help\n# TYPE h histogram\n\
             h_bucket{p=\"x\",le=\"0.005\"} 1\nh_bucket{p=\"x\",le=\"0.01\"} 3\n\
             h_bucket{p=\"x\",le=\"+Inf\"} 6\nh_sum{p=\"x\"} 1.5\nh_count{p=\"x\"} 6\n"
        );
    }
}
