//! The counters of each destination URL and category (`/metrics`, `sandkit status`).

use super::{HttpOutput, Inner};
use crate::Category;
use sandkit_metrics::{AtomicHistogram, Families, Histogram, Labels};
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (ms) of the upload latency histogram; a last bucket counts the rest.
pub const LATENCY_BUCKETS_MS: [u64; 11] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/// Counters of one destination URL and category, kept for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct LaneStats {
    pub(crate) requests: AtomicU64,
    pub(crate) points_sent: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) dropped_rejected: AtomicU64,
    pub(crate) dropped_unreachable: AtomicU64,
    pub(crate) dropped_overflow: AtomicU64,
    pub(crate) dropped_corrupt_bytes: AtomicU64,
    pub(crate) buffered_points: AtomicU64,
    pub(crate) buffer_bytes: AtomicU64,
    /// Durations of successful requests.
    pub(crate) latency: Latency,
}

/// Durations of successful requests, over [`LATENCY_BUCKETS_MS`].
#[derive(Debug)]
pub(crate) struct Latency(pub(crate) AtomicHistogram);

impl Default for Latency {
    fn default() -> Self {
        Latency(AtomicHistogram::new(&LATENCY_BUCKETS_MS))
    }
}

/// A snapshot of the counters of one destination URL and category.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LaneSnapshot {
    pub output: String,
    /// The URL without its query (no token).
    pub url: String,
    pub category: String,
    pub requests: u64,
    /// Points and compressed bytes of successful requests.
    pub points_sent: u64,
    pub bytes_sent: u64,
    /// Failed attempts that were tried again (in memory or from the buffer).
    pub retries: u64,
    /// Points refused by the server (4xx): not retried.
    pub dropped_rejected: u64,
    /// Points given up after the last retry (only without a buffer).
    pub dropped_unreachable: u64,
    /// Points pushed out of a full buffer (oldest first).
    pub dropped_overflow: u64,
    /// Bytes of corrupt buffer records skipped.
    pub dropped_corrupt_bytes: u64,
    /// Points written to the buffer so far, and the bytes it holds now.
    pub buffered_points: u64,
    pub buffer_bytes: u64,
    /// Durations of successful requests, over [`LATENCY_BUCKETS_MS`].
    pub latency: Histogram,
}

impl LaneStats {
    /// The counters now, as a lane of `output` to `url` for `category`.
    pub(crate) fn snapshot(&self, output: &str, url: &str, category: &str) -> LaneSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LaneSnapshot {
            output: output.into(),
            url: url.into(),
            category: category.into(),
            requests: get(&self.requests),
            points_sent: get(&self.points_sent),
            bytes_sent: get(&self.bytes_sent),
            retries: get(&self.retries),
            dropped_rejected: get(&self.dropped_rejected),
            dropped_unreachable: get(&self.dropped_unreachable),
            dropped_overflow: get(&self.dropped_overflow),
            dropped_corrupt_bytes: get(&self.dropped_corrupt_bytes),
            buffered_points: get(&self.buffered_points),
            buffer_bytes: get(&self.buffer_bytes),
            latency: self.latency.0.snapshot(),
        }
    }
}

impl LaneSnapshot {
    /// Add `other`'s counts to these.
    fn add(&mut self, other: &LaneSnapshot) {
        self.requests += other.requests;
        self.points_sent += other.points_sent;
        self.bytes_sent += other.bytes_sent;
        self.retries += other.retries;
        self.dropped_rejected += other.dropped_rejected;
        self.dropped_unreachable += other.dropped_unreachable;
        self.dropped_overflow += other.dropped_overflow;
        self.dropped_corrupt_bytes += other.dropped_corrupt_bytes;
        self.buffered_points += other.buffered_points;
        self.buffer_bytes += other.buffer_bytes;
        self.latency.merge(&other.latency);
    }
}

impl HttpOutput {
    /// Every lane's counters, by URL and category.
    fn every_lane(&self) -> impl Iterator<Item = LaneSnapshot> + '_ {
        self.inner
            .stats
            .iter()
            .enumerate()
            .flat_map(move |(t, per_cat)| {
                per_cat.iter().enumerate().map(move |(c, s)| {
                    s.snapshot(
                        &self.inner.name,
                        &self.inner.targets[t].base,
                        Category::ALL[c].as_str(),
                    )
                })
            })
    }

    /// Totals over every URL and category (`url` and `category` are `*`).
    pub fn stats(&self) -> LaneSnapshot {
        let mut total = LaneSnapshot {
            output: self.inner.name.clone(),
            url: "*".into(),
            category: "*".into(),
            ..LaneSnapshot::default()
        };
        self.every_lane().for_each(|l| total.add(&l));
        total
    }

    /// Counters per URL and category, for those that saw any traffic.
    pub fn lane_snapshots(&self) -> Vec<LaneSnapshot> {
        self.every_lane()
            .filter(|s| s.requests > 0 || s.buffer_bytes > 0)
            .collect()
    }
}

impl Inner {
    pub(super) fn lane_stats(&self, t: usize, cat: Category) -> &LaneStats {
        &self.stats[t][cat.index()]
    }
}

/// A counter of each lane: the family's name (after `sandkit_output_`), its help, and how to
/// read it off a snapshot.
type Counter = (&'static str, &'static str, fn(&LaneSnapshot) -> u64);

const COUNTERS: [Counter; 6] = [
    ("requests_total", "requests made", |l| l.requests),
    ("points_sent_total", "points delivered", |l| l.points_sent),
    ("bytes_sent_total", "compressed bytes delivered", |l| {
        l.bytes_sent
    }),
    ("retries_total", "failed attempts tried again", |l| {
        l.retries
    }),
    (
        "buffered_points_total",
        "points written to the disk buffer",
        |l| l.buffered_points,
    ),
    (
        "dropped_corrupt_bytes_total",
        "bytes of corrupt buffer records skipped",
        |l| l.dropped_corrupt_bytes,
    ),
];

fn lane(l: &LaneSnapshot) -> Labels {
    vec![
        ("output", l.output.clone()),
        ("url", l.url.clone()),
        ("category", l.category.clone()),
    ]
}

/// The `sandkit_output_*` families of `lanes` (for the agent's metrics registry).
pub fn lane_families(lanes: &[LaneSnapshot], out: &mut Families) {
    for (name, help, f) in COUNTERS {
        out.counter(
            format!("sandkit_output_{name}"),
            help,
            lanes.iter().map(|l| (lane(l), f(l) as f64)),
        );
    }
    out.counter(
        "sandkit_output_dropped_points_total",
        "points given up, by reason",
        lanes.iter().flat_map(|l| {
            [
                ("rejected", l.dropped_rejected),
                ("unreachable", l.dropped_unreachable),
                ("overflow", l.dropped_overflow),
            ]
            .into_iter()
            .map(|(reason, n)| {
                let mut labels = lane(l);
                labels.push(("reason", reason.into()));
                (labels, n as f64)
            })
        }),
    );
    out.gauge(
        "sandkit_output_buffer_bytes",
        "bytes held in the disk buffer",
        lanes.iter().map(|l| (lane(l), l.buffer_bytes as f64)),
    );
    out.histogram(
        "sandkit_output_request_duration_seconds",
        "duration of successful requests",
        lanes.iter().map(|l| (lane(l), l.latency.clone())),
    );
}
