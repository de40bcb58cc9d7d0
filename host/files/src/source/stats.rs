//! The counters of one task, the copy of them that `metrics.json`, `/metrics` and `sandkit status`
//! show, and their metric families.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one task.
#[derive(Debug, Default)]
pub struct TaskStats {
    pub files_open: AtomicU64,
    pub lines: AtomicU64,
    pub bytes: AtomicU64,
    pub truncated_lines: AtomicU64,
    pub invalid_utf8_lines: AtomicU64,
    /// Files read again from the start because they shrank or their first bytes changed.
    pub restarts: AtomicU64,
    /// Files closed after a rename, a deletion or a newer time-pattern file.
    pub rotations: AtomicU64,
    pub dropped_acks: AtomicU64,
    /// Records the pipeline made.
    pub pipeline_records: AtomicU64,
    /// Lines the pipeline did not process (passed on raw, or parked).
    pub pipeline_failed_lines: AtomicU64,
    /// Of those, lines parked in the dead-letter family (fail-closed pipelines).
    pub parked_lines: AtomicU64,
    /// Bytes of the open files not read yet (a gauge, updated as each file is looked at).
    pub lag_bytes: AtomicU64,
}

/// A copy of a task's counters, for the metrics registry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TaskSnapshot {
    pub task: String,
    pub files_open: u64,
    pub lines: u64,
    pub bytes: u64,
    pub truncated_lines: u64,
    pub invalid_utf8_lines: u64,
    pub restarts: u64,
    pub rotations: u64,
    pub dropped_acks: u64,
    pub pipeline_records: u64,
    pub pipeline_failed_lines: u64,
    pub parked_lines: u64,
    pub lag_bytes: u64,
}

impl TaskStats {
    pub fn snapshot(&self, task: &str) -> TaskSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TaskSnapshot {
            task: task.to_string(),
            files_open: get(&self.files_open),
            lines: get(&self.lines),
            bytes: get(&self.bytes),
            truncated_lines: get(&self.truncated_lines),
            invalid_utf8_lines: get(&self.invalid_utf8_lines),
            restarts: get(&self.restarts),
            rotations: get(&self.rotations),
            dropped_acks: get(&self.dropped_acks),
            pipeline_records: get(&self.pipeline_records),
            pipeline_failed_lines: get(&self.pipeline_failed_lines),
            parked_lines: get(&self.parked_lines),
            lag_bytes: get(&self.lag_bytes),
        }
    }
}

/// A counter of each task: the family's name (after `sandkit_files_`), its help, and how to read
/// it off a snapshot.
type Counter = (&'static str, &'static str, fn(&TaskSnapshot) -> u64);

const COUNTERS: [Counter; 10] = [
    ("lines_total", "lines read", |t| t.lines),
    ("bytes_total", "bytes read", |t| t.bytes),
    (
        "truncated_lines_total",
        "lines cut at the maximum line size",
        |t| t.truncated_lines,
    ),
    (
        "invalid_utf8_lines_total",
        "lines whose invalid UTF-8 was replaced",
        |t| t.invalid_utf8_lines,
    ),
    (
        "restarts_total",
        "files read again from the start (truncated, rewritten, or changed while stopped)",
        |t| t.restarts,
    ),
    ("rotations_total", "rotations followed", |t| t.rotations),
    ("dropped_acks_total", "batches the output gave up on", |t| {
        t.dropped_acks
    }),
    (
        "pipeline_records_total",
        "records made by the task's pipeline",
        |t| t.pipeline_records,
    ),
    (
        "pipeline_failed_lines_total",
        "lines the pipeline did not process",
        |t| t.pipeline_failed_lines,
    ),
    (
        "parked_lines_total",
        "lines parked in the dead-letter store",
        |t| t.parked_lines,
    ),
];

/// The `sandkit_files_*` families of `tasks` (for the agent's metrics registry).
pub fn task_families(tasks: &[TaskSnapshot], out: &mut sandkit_metrics::Families) {
    let per = |f: fn(&TaskSnapshot) -> u64| {
        tasks
            .iter()
            .map(move |t| (vec![("task", t.task.clone())], f(t) as f64))
    };
    out.gauge(
        "sandkit_files_open",
        "files the task has open (instances)",
        per(|t| t.files_open),
    );
    out.gauge(
        "sandkit_files_lag_bytes",
        "bytes of the open files not read yet",
        per(|t| t.lag_bytes),
    );
    for (name, help, f) in COUNTERS {
        out.counter(format!("sandkit_files_{name}"), help, per(f));
    }
}
