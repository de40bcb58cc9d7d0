//! The file source's internal events, as Vector has them: each event is logged and counted in
//! one place ([`TaskStats`], which `/metrics`, `metrics.json` and `sandkit status` read), so that a
//! log line and its counter cannot drift apart. The per-line counters of the read loop (lines,
//! bytes, truncated lines, records) are counted where they are made, without a log line each.

use crate::source::TaskStats;
use std::path::Path;
use std::sync::atomic::Ordering;

/// Something that happened to a task: logged and counted by `emit`.
pub(crate) trait Event {
    fn emit(self, task: &str, stats: &TaskStats);
}

/// A file was opened for reading at `offset`.
pub(crate) struct FileOpened<'a> {
    pub path: &'a Path,
    pub offset: u64,
}

impl Event for FileOpened<'_> {
    fn emit(self, task: &str, stats: &TaskStats) {
        tracing::info!(task, file = %self.path.display(), offset = self.offset, "files.instance opened");
        stats.files_open.fetch_add(1, Ordering::Relaxed);
    }
}

/// A file was closed, its offsets saved up to `offset`; `lag` bytes of it had been counted as
/// not read yet.
pub(crate) struct FileClosed<'a> {
    pub path: &'a Path,
    pub offset: u64,
    pub lag: u64,
}

impl Event for FileClosed<'_> {
    fn emit(self, task: &str, stats: &TaskStats) {
        tracing::info!(task, file = %self.path.display(), offset = self.offset, "files.instance closed");
        stats.files_open.fetch_sub(1, Ordering::Relaxed);
        stats.lag_bytes.fetch_sub(self.lag, Ordering::Relaxed);
    }
}

/// A file that was renamed, deleted or superseded by a newer time-pattern file was read to its
/// end: its last line went out.
pub(crate) struct FileRotated<'a> {
    pub path: &'a Path,
    pub offset: u64,
}

impl Event for FileRotated<'_> {
    fn emit(self, task: &str, stats: &TaskStats) {
        tracing::info!(task, file = %self.path.display(), offset = self.offset, "files.instance rotated: read to its end");
        stats.rotations.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why a file is read again from the start.
pub(crate) enum Restart {
    /// It shrank under the reader, or its first bytes changed (copytruncate, a rewrite).
    Truncated,
    /// Its content at open is not what was saved for it (truncated while the agent was
    /// stopped, or an inode reused by another file).
    ChangedSinceLastSeen,
}

/// A file is read again from the start.
pub(crate) struct FileRestarted<'a> {
    pub path: &'a Path,
    /// Where it had been read (or saved) to, and its size now.
    pub offset: u64,
    pub size: u64,
    pub why: Restart,
}

impl Event for FileRestarted<'_> {
    fn emit(self, task: &str, stats: &TaskStats) {
        let file = self.path.display();
        match self.why {
            Restart::Truncated => {
                tracing::warn!(task, %file, offset = self.offset, size = self.size, "files.instance truncated or rewritten (copytruncate): reading from the start")
            }
            Restart::ChangedSinceLastSeen => {
                tracing::info!(task, %file, saved_offset = self.offset, size = self.size, "files.instance content changed since last seen (truncated or a reused inode): reading from the start")
            }
        }
        stats.restarts.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why a batch's acknowledgement was given up.
pub(crate) enum GivenUp {
    /// The output gave the batch up (refused, or unreachable without a buffer); it logged why.
    ByTheOutput,
    /// The writer or the task's workers had stopped (the agent is stopping): the batch's lines
    /// are read again at the next start.
    Stopping,
}

/// A batch will not be delivered.
pub(crate) struct BatchGivenUp {
    pub why: GivenUp,
}

impl Event for BatchGivenUp {
    fn emit(self, task: &str, stats: &TaskStats) {
        match self.why {
            GivenUp::ByTheOutput => {
                tracing::debug!(task, "files.batch given up by the output (it logged why)");
            }
            GivenUp::Stopping => {
                tracing::debug!(
                    task,
                    "files.batch not handed over: the output or the workers stopped"
                );
            }
        }
        stats.dropped_acks.fetch_add(1, Ordering::Relaxed);
    }
}

/// Lines a fail-closed pipeline did not process were parked in the dead-letter family.
pub(crate) struct LinesParked<'a> {
    pub pipeline: &'a str,
    pub lines: u64,
}

impl Event for LinesParked<'_> {
    fn emit(self, task: &str, stats: &TaskStats) {
        tracing::warn!(
            task,
            pipeline = self.pipeline,
            lines = self.lines,
            "files.deadletter lines parked"
        );
        stats.parked_lines.fetch_add(self.lines, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_moves_its_counter() {
        let s = TaskStats::default();
        let p = Path::new("/var/log/app.log");
        FileOpened { path: p, offset: 0 }.emit("t", &s);
        FileRotated {
            path: p,
            offset: 10,
        }
        .emit("t", &s);
        FileRestarted {
            path: p,
            offset: 10,
            size: 2,
            why: Restart::Truncated,
        }
        .emit("t", &s);
        BatchGivenUp {
            why: GivenUp::Stopping,
        }
        .emit("t", &s);
        LinesParked {
            pipeline: "nginx",
            lines: 3,
        }
        .emit("t", &s);
        s.lag_bytes.store(7, Ordering::Relaxed);
        let snap = s.snapshot("t");
        assert_eq!(
            (
                snap.files_open,
                snap.rotations,
                snap.restarts,
                snap.dropped_acks,
                snap.parked_lines
            ),
            (1, 1, 1, 1, 3)
        );
        FileClosed {
            path: p,
            offset: 10,
            lag: 7,
        }
        .emit("t", &s);
        let snap = s.snapshot("t");
        assert_eq!((snap.files_open, snap.lag_bytes), (0, 0));
    }
}
