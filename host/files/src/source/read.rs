//! Reading open files in turn, and finishing the ones that are done.

use super::instance::Instance;
use super::runner::Runner;
use super::stats::TaskStats;
use super::{MAX_IN_FLIGHT, READ_CHUNK};
use crate::events::{Event, FileClosed, FileRestarted, FileRotated, Restart};
use crate::identity::fingerprint;
use crate::lines::LineBatch;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::atomic::Ordering;
use std::time::Instant;

impl Runner {
    /// Read one chunk of one file and send its records. Returns whether anything was read.
    pub(super) fn pump(&mut self, serial: u64) -> bool {
        let Some(inst) = self.open.get_mut(&serial) else {
            return false;
        };
        let max_in_flight = MAX_IN_FLIGHT * self.out.task.workers;
        if inst.finishing || inst.window.in_flight() >= max_in_flight {
            return false;
        }
        let Ok(meta) = inst.file.metadata() else {
            return false;
        };
        let pos = inst.splitter.next_offset();
        let size = meta.len();
        let lag = size.saturating_sub(pos);
        if lag != inst.lag {
            self.out.stats.lag_bytes.fetch_add(lag, Ordering::Relaxed);
            self.out
                .stats
                .lag_bytes
                .fetch_sub(inst.lag, Ordering::Relaxed);
            inst.lag = lag;
        }
        if size < pos {
            restart(&self.out.task.name, &self.out.stats, inst, size);
            return true;
        }
        if meta.nlink() == 0 && !inst.detached {
            tracing::info!(task = %self.out.task.name, file = %inst.path.display(), "files.instance deleted; reading it to its end");
            inst.detached = true;
        }
        let mut records = LineBatch::new();
        if size == pos {
            inst.eof_since.get_or_insert_with(Instant::now);
            if let Some(m) = inst.multiline.as_mut() {
                if m.idle_since()
                    .is_some_and(|t| t.elapsed() >= self.out.task.multiline_timeout)
                {
                    m.flush(&mut records);
                }
            }
            if records.is_empty() {
                return false;
            }
        } else {
            let want = usize::try_from(size - pos)
                .unwrap_or(READ_CHUNK)
                .min(READ_CHUNK);
            let n = match inst.file.read_at(&mut self.buf[..want], pos) {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(task = %self.out.task.name, file = %inst.path.display(), error = %e, "files.instance read failed");
                    return false;
                }
            };
            if n == 0 {
                return false;
            }
            inst.eof_since = None;
            self.out.stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
            let before = inst.splitter.stats;
            // Lines of nginx's access log are 150-250 bytes; a batch of shorter lines grows.
            let mut lines = LineBatch::with_capacity(n + inst.splitter.partial_len(), n / 128 + 1);
            inst.splitter.feed(&self.buf[..n], &mut lines);
            let after = inst.splitter.stats;
            self.out
                .stats
                .lines
                .fetch_add(after.lines - before.lines, Ordering::Relaxed);
            self.out
                .stats
                .truncated_lines
                .fetch_add(after.truncated - before.truncated, Ordering::Relaxed);
            self.out
                .stats
                .invalid_utf8_lines
                .fetch_add(after.invalid_utf8 - before.invalid_utf8, Ordering::Relaxed);
            records = inst.records(lines, false);
        }
        self.out.send(inst, records);
        true
    }

    /// Finish files that are renamed away, deleted, superseded by a newer time-pattern file or
    /// inactive, once they are at their end and idle long enough; close them once their last
    /// records are acknowledged.
    pub(super) fn close_finished(&mut self) {
        let mut close = Vec::new();
        for inst in self.open.values_mut() {
            let Some(since) = inst.eof_since else {
                continue;
            };
            let superseded = matches!((inst.time, self.newest_time), (Some(t), Some(n)) if n > t);
            let wait = if inst.detached || superseded {
                self.out.task.rotate_wait
            } else {
                match self.out.task.close_inactive {
                    Some(w) => w,
                    None => continue,
                }
            };
            if since.elapsed() < wait {
                continue;
            }
            // Finish only what is really at its end: the window may have kept `pump` from
            // reading bytes written since `eof_since` was set.
            if !inst.finishing
                && inst
                    .file
                    .metadata()
                    .map_or(true, |m| m.len() != inst.splitter.next_offset())
            {
                inst.eof_since = None;
                continue;
            }
            if !inst.finishing {
                // The file is done: its unfinished line and held record go out now. An inactive
                // file keeps them: it may grow again.
                if inst.detached || superseded {
                    let mut lines = LineBatch::new();
                    inst.splitter.flush(&mut lines);
                    let out = inst.records(lines, true);
                    self.out.send(inst, out);
                    FileRotated {
                        path: &inst.path,
                        offset: inst.splitter.next_offset(),
                    }
                    .emit(&self.out.task.name, &self.out.stats);
                }
                inst.finishing = true;
            }
            if inst.window.in_flight() == 0 {
                close.push(inst.serial);
            }
        }
        for s in close {
            if let Some(inst) = self.open.remove(&s) {
                self.by_id.remove(&inst.id);
                self.save_one(&inst, false);
                FileClosed {
                    path: &inst.path,
                    offset: inst.window.committed(),
                    lag: inst.lag,
                }
                .emit(&self.out.task.name, &self.out.stats);
            }
        }
    }
}

/// The file was truncated (copytruncate) or rewritten: read it again from the start.
pub(super) fn restart(task: &str, stats: &TaskStats, inst: &mut Instance, size: u64) {
    FileRestarted {
        path: &inst.path,
        offset: inst.splitter.next_offset(),
        size,
        why: Restart::Truncated,
    }
    .emit(task, stats);
    inst.rewind(0);
    inst.fp = fingerprint(&inst.file, size).unwrap_or(inst.fp);
    inst.saved = u64::MAX;
}
