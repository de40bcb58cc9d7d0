//! The agent's own metrics as data.
//!
//! Each crate declares the metric families of its counters beside them (the runtime its plugins',
//! the IO layer its output lanes', the file source its tasks', the election its leadership), as
//! a function that appends [`Family`]s to a [`Families`]. The agent registers those functions in
//! one [`Registry`]; `/metrics` renders what the registry collects ([`render_prometheus`]), and
//! any other view (a status page, a monitor) reads the same families, so a counter added in its
//! crate shows everywhere without the renderers knowing its type.
//!
//! [`Histogram`] is the one histogram of the agent: per-bucket counts over bounds in
//! milliseconds, their sum and their number ([`AtomicHistogram`] for counters shared between
//! threads).

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What a family's samples are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Only goes up (until the agent restarts).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Durations in buckets.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Label names and values of a sample.
pub type Labels = Vec<(&'static str, String)>;

/// One metric family: its name (with the `sandkit_` prefix and, for counters, the `_total`
/// suffix), its help text, and a sample per label set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Family {
    pub name: String,
    pub help: &'static str,
    pub kind: Kind,
    pub samples: Vec<Sample>,
}

/// One sample of a family (in JSON: `{"labels": {name: value, ...}, "value": ...}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    #[serde(serialize_with = "labels_as_map")]
    pub labels: Labels,
    pub value: Value,
}

fn labels_as_map<S: Serializer>(labels: &Labels, s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(labels.len()))?;
    for (k, v) in labels {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

/// The value of a sample: a number (counters, gauges) or a histogram (in JSON, a number or
/// `{"buckets": [...], "sum_us": ..., "count": ...}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Number(f64),
    Histogram(Histogram),
}

/// The families collected from every source, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Families(pub Vec<Family>);

impl Families {
    /// A counter family, one sample per row; a family without rows is left out.
    pub fn counter(
        &mut self,
        name: impl Into<String>,
        help: &'static str,
        rows: impl IntoIterator<Item = (Labels, f64)>,
    ) {
        self.numbers(name.into(), help, Kind::Counter, rows);
    }

    /// A gauge family, one sample per row; a family without rows is left out.
    pub fn gauge(
        &mut self,
        name: impl Into<String>,
        help: &'static str,
        rows: impl IntoIterator<Item = (Labels, f64)>,
    ) {
        self.numbers(name.into(), help, Kind::Gauge, rows);
    }

    /// A histogram family, one sample per row; a family without rows is left out.
    pub fn histogram(
        &mut self,
        name: impl Into<String>,
        help: &'static str,
        rows: impl IntoIterator<Item = (Labels, Histogram)>,
    ) {
        let samples: Vec<Sample> = rows
            .into_iter()
            .map(|(labels, h)| Sample {
                labels,
                value: Value::Histogram(h),
            })
            .collect();
        self.push(name.into(), help, Kind::Histogram, samples);
    }

    fn numbers(
        &mut self,
        name: String,
        help: &'static str,
        kind: Kind,
        rows: impl IntoIterator<Item = (Labels, f64)>,
    ) {
        let samples: Vec<Sample> = rows
            .into_iter()
            .map(|(labels, v)| Sample {
                labels,
                value: Value::Number(v),
            })
            .collect();
        self.push(name, help, kind, samples);
    }

    fn push(&mut self, name: String, help: &'static str, kind: Kind, samples: Vec<Sample>) {
        if !samples.is_empty() {
            self.0.push(Family {
                name,
                help,
                kind,
                samples,
            });
        }
    }

    /// The family named `name`, if some source added it.
    pub fn get(&self, name: &str) -> Option<&Family> {
        self.0.iter().find(|f| f.name == name)
    }
}

/// A source of families: called at each collection.
pub type Source = Arc<dyn Fn(&mut Families) + Send + Sync>;

/// Where the agent's sources of metrics are registered.
#[derive(Clone, Default)]
pub struct Registry {
    sources: Vec<(&'static str, Source)>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.sources.iter().map(|(n, _)| n))
            .finish()
    }
}

impl Registry {
    /// Add a source (`plugins`, `outputs`, `files`, `election`, ...).
    pub fn register(
        &mut self,
        name: &'static str,
        source: impl Fn(&mut Families) + Send + Sync + 'static,
    ) {
        self.sources.push((name, Arc::new(source)));
    }

    /// Every source's families, in the order the sources were registered.
    pub fn collect(&self) -> Families {
        let mut out = Families::default();
        for (_, source) in &self.sources {
            source(&mut out);
        }
        out
    }

    /// Each source's families, by source: what `metrics.json` holds (in JSON, an object from
    /// source name to its list of families, in the order the sources were registered).
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot_except(&[])
    }

    /// [`Registry::snapshot`] without the sources named in `left_out`.
    pub fn snapshot_except(&self, left_out: &[&str]) -> Snapshot {
        Snapshot(
            self.sources
                .iter()
                .filter(|(name, _)| !left_out.contains(name))
                .map(|(name, source)| {
                    let mut f = Families::default();
                    source(&mut f);
                    (*name, f)
                })
                .collect(),
        )
    }

    /// The names of the registered sources.
    pub fn sources(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.sources.iter().map(|(n, _)| *n)
    }
}

/// Every source's families, by source ([`Registry::snapshot`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot(pub Vec<(&'static str, Families)>);

impl Serialize for Snapshot {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (source, families) in &self.0 {
            m.serialize_entry(source, families)?;
        }
        m.end()
    }
}

/// Call or request durations: per-bucket counts over `bounds_ms` (not cumulative; one more
/// bucket than bounds, the last counting the slower ones), their sum and their number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    #[serde(skip)]
    pub bounds_ms: &'static [u64],
    pub buckets: Vec<u64>,
    pub sum_us: u64,
    pub count: u64,
}

impl Histogram {
    /// Empty, over `bounds_ms` (ascending).
    pub fn new(bounds_ms: &'static [u64]) -> Self {
        Histogram {
            bounds_ms,
            buckets: vec![0; bounds_ms.len() + 1],
            sum_us: 0,
            count: 0,
        }
    }

    /// Count one duration.
    pub fn observe(&mut self, d: Duration) {
        let i = bucket(self.bounds_ms, d);
        if let Some(b) = self.buckets.get_mut(i) {
            *b += 1;
        }
        self.sum_us = self.sum_us.saturating_add(micros(d));
        self.count += 1;
    }

    /// Add another histogram over the same bounds (an empty default one takes `other`'s).
    pub fn merge(&mut self, other: &Histogram) {
        if self.bounds_ms.is_empty() {
            self.bounds_ms = other.bounds_ms;
        }
        if self.buckets.len() < other.buckets.len() {
            self.buckets.resize(other.buckets.len(), 0);
        }
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
        self.count += other.count;
    }
}

impl Default for Histogram {
    /// No bounds yet: one bucket; [`Histogram::merge`] gives it the bounds of what it adds.
    fn default() -> Self {
        Histogram::new(&[])
    }
}

/// [`Histogram`] for threads that share it: each observation is three relaxed atomic adds.
#[derive(Debug)]
pub struct AtomicHistogram {
    bounds_ms: &'static [u64],
    buckets: Box<[AtomicU64]>,
    sum_us: AtomicU64,
}

impl AtomicHistogram {
    pub fn new(bounds_ms: &'static [u64]) -> Self {
        AtomicHistogram {
            bounds_ms,
            buckets: (0..=bounds_ms.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
        }
    }

    /// Count one duration.
    pub fn observe(&self, d: Duration) {
        if let Some(b) = self.buckets.get(bucket(self.bounds_ms, d)) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_us.fetch_add(micros(d), Ordering::Relaxed);
    }

    /// A copy of the counts.
    pub fn snapshot(&self) -> Histogram {
        let buckets: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        Histogram {
            bounds_ms: self.bounds_ms,
            count: buckets.iter().sum(),
            buckets,
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

fn bucket(bounds_ms: &[u64], d: Duration) -> usize {
    let ms = d.as_secs_f64() * 1000.0;
    bounds_ms
        .iter()
        .position(|&b| ms <= b as f64)
        .unwrap_or(bounds_ms.len())
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The families in Prometheus text format (version 0.0.4): for each, its HELP and TYPE lines,
/// then its samples; histograms as cumulative `_bucket`s (bounds in seconds, ending in `+Inf`),
/// `_sum` in seconds and `_count`.
pub fn render_prometheus(families: &Families) -> String {
    let mut out = String::new();
    for f in &families.0 {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.as_str());
        for s in &f.samples {
            let l = labels(&s.labels);
            match &s.value {
                Value::Number(v) => {
                    let _ = writeln!(out, "{}{l} {v}", f.name);
                }
                Value::Histogram(h) => histogram(&mut out, &f.name, &s.labels, &l, h),
            }
        }
    }
    out
}

fn histogram(out: &mut String, name: &str, raw: &Labels, l: &str, h: &Histogram) {
    // `{labels,` once; each bucket adds `le="..."}`.
    let (open, sep) = if raw.is_empty() {
        ("{", "")
    } else {
        (&l[..l.len() - 1], ",")
    };
    let mut cumulative = 0;
    for (i, n) in h.buckets.iter().enumerate() {
        cumulative += n;
        let le = h
            .bounds_ms
            .get(i)
            .map_or_else(|| "+Inf".to_string(), |b| (*b as f64 / 1000.0).to_string());
        let _ = writeln!(out, "{name}_bucket{open}{sep}le=\"{le}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_sum{l} {}", h.sum_us as f64 / 1e6);
    let _ = writeln!(out, "{name}_count{l} {}", h.count);
}

/// `{k="v",...}`, values escaped (`\`, `"`, newlines); nothing for no labels.
fn labels(pairs: &Labels) -> String {
    if pairs.is_empty() {
        return String::new();
    }
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

#[cfg(test)]
mod tests;
