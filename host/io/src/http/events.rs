//! The HTTP outputs' internal events, as Vector has them: each is logged and counted in one
//! place (the lane's [`LaneStats`], which `/metrics`, `metrics.json` and `sandkit status` read),
//! so that a log line and its counter cannot drift apart. Requests and their latencies, counted
//! on every success, have no log line.

use super::stats::LaneStats;
use crate::{Category, IoError};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The lane an event happened on: one destination URL (shown without its query) and category.
pub(super) struct Lane<'a> {
    pub output: &'a str,
    pub url: &'a str,
    pub category: Category,
    pub stats: &'a LaneStats,
}

/// Something that happened on a lane: logged and counted by `emit`.
pub(super) trait Event {
    fn emit(self, lane: &Lane<'_>);
}

/// An attempt failed and the batch went to the disk buffer, to be sent from there.
pub(super) struct Buffered<'a> {
    pub why: &'a str,
}

impl Event for Buffered<'_> {
    fn emit(self, l: &Lane<'_>) {
        tracing::warn!(output = l.output, url = l.url, category = %l.category, "io.http unreachable, batch buffered on disk: {}", self.why);
        l.stats.retries.fetch_add(1, Ordering::Relaxed);
    }
}

/// An attempt failed and the batch is tried again after `wait` (no buffer).
pub(super) struct Retrying<'a> {
    pub attempt: u32,
    pub wait: Duration,
    pub why: &'a str,
}

impl Event for Retrying<'_> {
    fn emit(self, l: &Lane<'_>) {
        tracing::warn!(output = l.output, url = l.url, category = %l.category, attempt = self.attempt, "io.http retrying in {:?}: {}", self.wait, self.why);
        l.stats.retries.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sending the buffer's oldest batch failed again (`attempts` in a row); logged at the first
/// failure and then at each power of two, counted every time.
pub(super) struct StillUnreachable<'a> {
    pub attempts: u64,
    pub wait: Duration,
    pub buffered_bytes: u64,
    pub why: &'a str,
}

impl Event for StillUnreachable<'_> {
    fn emit(self, l: &Lane<'_>) {
        if self.attempts == 1 || self.attempts.is_power_of_two() {
            tracing::warn!(output = l.output, url = l.url, category = %l.category, attempts = self.attempts, buffered_bytes = self.buffered_bytes, "io.http still unreachable, next try in {:?}: {}", self.wait, self.why);
        }
        l.stats.retries.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why a batch was given up.
#[derive(Debug, Clone, Copy)]
pub(super) enum DropReason {
    /// The server refused it (4xx): not retried.
    Rejected,
    /// Unreachable after the last retry, and no buffer.
    Unreachable,
    /// The disk buffer could not take it.
    BufferFailed,
}

/// A batch of `points` was given up, with the error its writer returns.
pub(super) struct Dropped<'a> {
    pub points: u32,
    pub reason: DropReason,
    pub error: &'a IoError,
}

impl Event for Dropped<'_> {
    fn emit(self, l: &Lane<'_>) {
        let (what, counter) = match self.reason {
            DropReason::Rejected => ("io.http", &l.stats.dropped_rejected),
            DropReason::Unreachable => ("io.http", &l.stats.dropped_unreachable),
            DropReason::BufferFailed => ("io.buffer", &l.stats.dropped_unreachable),
        };
        tracing::error!(output = l.output, url = l.url, category = %l.category, points = self.points, "{what} batch dropped: {}", self.error);
        counter.fetch_add(u64::from(self.points), Ordering::Relaxed);
    }
}

/// The disk buffer was full: its oldest batches were pushed out to make room.
pub(super) struct BufferOverflow {
    pub batches: u64,
    pub points: u64,
}

impl Event for BufferOverflow {
    fn emit(self, l: &Lane<'_>) {
        tracing::warn!(output = l.output, url = l.url, category = %l.category, batches = self.batches, points = self.points, "io.buffer full: oldest batches dropped");
        l.stats
            .dropped_overflow
            .fetch_add(self.points, Ordering::Relaxed);
    }
}

/// Corrupt records of the disk buffer were skipped while reading it. Counted only: the
/// buffer's reader logs each skip where it knows the segment file and offset.
pub(super) struct CorruptSkipped {
    pub bytes: u64,
}

impl Event for CorruptSkipped {
    fn emit(self, l: &Lane<'_>) {
        l.stats
            .dropped_corrupt_bytes
            .fetch_add(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_moves_its_counter() {
        let stats = LaneStats::default();
        let l = Lane {
            output: "dataway",
            url: "http://127.0.0.1:9",
            category: Category::Logging,
            stats: &stats,
        };
        let err = IoError::Rejected {
            output: "dataway".into(),
            url: "http://127.0.0.1:9".into(),
            reason: "400".into(),
        };
        Buffered { why: "refused" }.emit(&l);
        Retrying {
            attempt: 1,
            wait: Duration::from_millis(5),
            why: "refused",
        }
        .emit(&l);
        for attempts in 1..=3 {
            StillUnreachable {
                attempts,
                wait: Duration::from_millis(5),
                buffered_bytes: 10,
                why: "refused",
            }
            .emit(&l);
        }
        for (reason, points) in [
            (DropReason::Rejected, 2),
            (DropReason::Unreachable, 3),
            (DropReason::BufferFailed, 4),
        ] {
            Dropped {
                points,
                reason,
                error: &err,
            }
            .emit(&l);
        }
        BufferOverflow {
            batches: 1,
            points: 5,
        }
        .emit(&l);
        CorruptSkipped { bytes: 6 }.emit(&l);
        let s = stats.snapshot("dataway", "u", "logging");
        assert_eq!(
            (
                s.retries,
                s.dropped_rejected,
                s.dropped_unreachable,
                s.dropped_overflow,
                s.dropped_corrupt_bytes
            ),
            (5, 2, 7, 5, 6)
        );
    }
}
