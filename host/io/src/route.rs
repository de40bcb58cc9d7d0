//! Routes: which of the agent's outputs take what. Each output has one; a [`crate::Sink`] hands
//! every point, line and frame to each output whose route takes it, and a source's
//! acknowledgement completes only when every output it went to has it.
//!
//! A route filters by category, by source (a plugin's name, a file task's `source`, `http` for
//! the server's write routes, `otlp` for its OTLP routes) and by measurement. Sources are known when a producer gets its
//! sink ([`crate::Sink::for_source`]), so they cost nothing per point; categories and
//! measurements are checked per point, and per line of text a source wrote itself (only when a
//! route names measurements).

use crate::{Category, Lines, Point};
use sandkit_metrics::Families;
use std::sync::atomic::{AtomicU64, Ordering};

/// What an output takes. `None` in a filter takes everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    pub categories: Option<Vec<Category>>,
    /// Source names; a name ending in `*` takes every source it begins.
    pub sources: Option<Vec<String>>,
    /// Measurement names; a name ending in `*` takes every measurement it begins.
    pub measurements: Option<Vec<String>>,
}

/// Whether `name` is one of `patterns`, a pattern ending in `*` taking every name it begins.
pub fn name_matches(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => p == name,
    })
}

impl Route {
    /// Takes everything.
    pub fn all() -> Self {
        Route::default()
    }

    /// Whether the route takes whatever its sources send: no category or measurement filter.
    pub(crate) fn takes_all_sent(&self) -> bool {
        self.categories.is_none() && self.measurements.is_none()
    }

    pub fn takes_source(&self, source: &str) -> bool {
        self.sources
            .as_deref()
            .is_none_or(|s| name_matches(s, source))
    }

    pub fn takes_category(&self, category: Category) -> bool {
        self.categories
            .as_deref()
            .is_none_or(|c| c.contains(&category))
    }

    pub fn takes_measurement(&self, measurement: &str) -> bool {
        self.measurements
            .as_deref()
            .is_none_or(|m| name_matches(m, measurement))
    }

    /// Whether the route takes `p` (its source was checked when the sink was made).
    pub fn takes_point(&self, p: &Point) -> bool {
        self.takes_category(p.category()) && self.takes_measurement(p.measurement())
    }

    /// The lines of `lines` (all of `category`) the route takes, or `None` if none.
    pub(crate) fn lines(&self, category: Category, lines: &Lines) -> Option<Lines> {
        if lines.count == 0 || !self.takes_category(category) {
            return None;
        }
        let Some(m) = self.measurements.as_deref() else {
            return Some(lines.clone());
        };
        let mut out = Lines::default();
        for line in lines.text.split_inclusive('\n') {
            if name_matches(m, &measurement_of(line)) {
                out.text.push_str(line);
                out.count += 1;
            }
        }
        (out.count > 0).then_some(out)
    }
}

/// Points (and lines) no output's route took, per category: a sink and its clones share one.
#[derive(Debug, Default)]
pub struct Unrouted([AtomicU64; Category::ALL.len()]);

impl Unrouted {
    pub(crate) fn add(&self, category: Category, n: usize) {
        if n > 0 {
            self.0[category.index()].fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// The counts, in [`Category::ALL`] order.
    pub fn counts(&self) -> Vec<(Category, u64)> {
        Category::ALL
            .iter()
            .zip(&self.0)
            .map(|(c, n)| (*c, n.load(Ordering::Relaxed)))
            .collect()
    }
}

/// The `sandkit_output_unrouted_points_total` family (for the agent's metrics registry): only
/// the categories that have some, so an agent whose routes take everything shows none.
pub fn unrouted_families(unrouted: &Unrouted, out: &mut Families) {
    out.counter(
        "sandkit_output_unrouted_points_total",
        "points and lines no output's route took, by category",
        unrouted
            .counts()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| (vec![("category", c.as_str().to_string())], n as f64)),
    );
}

/// The measurement of a line of line protocol, unescaped (`\,` and `\ ` are a comma and a
/// space of the name).
pub(crate) fn measurement_of(line: &str) -> std::borrow::Cow<'_, str> {
    let b = line.as_bytes();
    let mut i = 0;
    let mut escaped = false;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => {
                escaped = true;
                i += 2;
                continue;
            }
            b',' | b' ' | b'\n' => break,
            _ => i += 1,
        }
    }
    let name = &line[..i];
    if !escaped {
        return std::borrow::Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&d) = chars.peek().filter(|d| matches!(d, ',' | ' ')) {
                out.push(d);
                chars.next();
                continue;
            }
        }
        out.push(c);
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn filters_take_names_and_prefixes() {
        let r = Route {
            categories: Some(vec![Category::Metric]),
            sources: names(&["cpu", "nginx*"]),
            measurements: names(&["cpu", "disk*"]),
        };
        assert!(r.takes_source("cpu") && r.takes_source("nginx_error"));
        assert!(!r.takes_source("cpus") && !r.takes_source("mem"));
        assert!(r.takes_measurement("diskio") && !r.takes_measurement("mem"));
        assert!(r.takes_category(Category::Metric) && !r.takes_category(Category::Logging));
        assert!(Route::all().takes_source("anything") && Route::all().takes_all_sent());
        assert!(!r.takes_all_sent());
    }

    #[test]
    fn lines_are_taken_by_their_unescaped_measurement() {
        let lines = Lines {
            text: "cpu,host=a usage=1 1\nmem x=1 2\ndisk\\ io,d=sda r=1 3\nmy\\,m x=1 4\n".into(),
            count: 4,
        };
        let r = Route {
            measurements: names(&["cpu", "disk io", "my,m"]),
            ..Route::all()
        };
        let got = r.lines(Category::Metric, &lines).unwrap();
        assert_eq!(got.count, 3);
        assert_eq!(
            got.text,
            "cpu,host=a usage=1 1\ndisk\\ io,d=sda r=1 3\nmy\\,m x=1 4\n"
        );
        let none = Route {
            measurements: names(&["swap"]),
            ..Route::all()
        };
        assert!(none.lines(Category::Metric, &lines).is_none());
        let other = Route {
            categories: Some(vec![Category::Logging]),
            ..Route::all()
        };
        assert!(other.lines(Category::Metric, &lines).is_none());
        assert_eq!(Route::all().lines(Category::Metric, &lines), Some(lines));
    }
}
