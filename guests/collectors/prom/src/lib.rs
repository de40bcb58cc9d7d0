//! `prom` collector: scrapes Prometheus exporters (text format) through the host's outgoing HTTP,
//! which reaches only the `host:port` targets of the plugin's `[sandbox] http` allowlist.
//!
//! Names follow DataKit's prom input, as the agent's Prometheus remote-write route does: a
//! metric's name is cut at its first `_` into measurement and field (`node_load1` is field
//! `load1` of measurement `node`; a name without `_` goes to measurement `prom`); labels become
//! tags; samples of one measurement with the same tags and time share a point. With
//! `measurement_name` set, every metric is a field of that one measurement under its full name.
//! Each target also gives `up` (measurement `prom`: 1 or 0) and `scrape` `duration_seconds` and
//! `samples_scraped`, tagged with `instance` (the target's `host:port`), as Prometheus records
//! them for itself (an exporter's own series of those names become `exported_up`, ...). NaN and
//! infinite values have no line-protocol form and are skipped. A target that fails (refused by
//! the sandbox, unreachable, too slow, not 200, over `sample_limit`) is logged and gives `up` 0;
//! the call still succeeds so that the other targets' points are kept. Bad lines are skipped and
//! counted, the first one logged with its number. Both the Prometheus text format and
//! OpenMetrics text (timestamps in seconds) are read, by the response's `content-type`.
//!
//! Config (all optional but `urls`):
//! - `urls`: the exposition URLs, e.g. `["http://127.0.0.1:9100/metrics"]`;
//! - `timeout`: per target, e.g. `"5s"` (the default). Targets are scraped one after another
//!   within one call, so keep `timeout` x targets under the plugin's `[limits] timeout` (10 s by
//!   default); the host cuts a request short of the call's deadline in any case;
//! - `sample_limit`: samples one target may give after the filters (default 50,000; 0: no
//!   limit); past it the scrape fails, as Prometheus' `sample_limit` makes it;
//! - `measurement_prefix`: put before every measurement name;
//! - `measurement_name`: one measurement for everything (fields keep the full metric name);
//! - `metric_types`: families to keep by declared type (`counter`, `gauge`, `histogram`,
//!   `summary`, `untyped`); default: all;
//! - `include`, `exclude`: metric-name patterns with `*` wildcards; a metric is kept when it
//!   matches an `include` (or none is given) and no `exclude`;
//! - `tags`: a table of tags added to every point; a label of the same name is kept as
//!   `exported_<name>`, as Prometheus does when it does not honour labels;
//! - `instance_tag`: add `instance = host:port` when the sample has no `instance` label
//!   (default true);
//! - `headers`: a table of request headers, e.g. `{ authorization = "Bearer ..." }`.

mod text;

use sandkit_sdk::http::Request;
use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo, Point};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use text::Format;

const TYPES: [&str; 5] = ["counter", "gauge", "histogram", "summary", "untyped"];
const ACCEPT: &str = "text/plain;version=0.0.4;q=1.0,*/*;q=0.1";
/// Per target; targets are scraped one after another within one call (10 s by default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Samples kept per target before the scrape fails; below the host's 100,000 points a call.
const DEFAULT_SAMPLE_LIMIT: u64 = 50_000;

/// One target: its URL and the `host:port` that names it.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    url: String,
    instance: String,
}

#[derive(Debug, Clone, PartialEq)]
struct Settings {
    targets: Vec<Target>,
    timeout: Duration,
    sample_limit: usize,
    prefix: String,
    measurement_name: String,
    metric_types: Option<Vec<String>>,
    include: Vec<String>,
    exclude: Vec<String>,
    tags: Vec<(String, String)>,
    instance_tag: bool,
    headers: Vec<(String, String)>,
}

/// `host:port` of an absolute http(s) URL, with the scheme's default port when none is given.
fn instance_of(url: &str) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("url {url:?} is not absolute (http://host:port/path)"))?;
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => {
            return Err(format!(
                "url {url:?}: scheme {scheme:?} is not http or https"
            ))
        }
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("url {url:?}: no host (or a user name in it)"));
    }
    let has_port = match authority.rfind(':') {
        Some(i) => !authority[i..].contains(']'),
        None => false,
    };
    Ok(if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    })
}

/// "5s", "500ms", "1m", "1.5s".
fn duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = t
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((t, ""), |i| t.split_at(i));
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (write e.g. \"5s\" or \"500ms\")"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("{text:?}: unit must be ms, s or m")),
    };
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("{text:?} must be above 0"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{text:?} is too long"))
}

/// A table of string values under `key`, in key order.
fn string_table(config: &Config, key: &str) -> Result<Vec<(String, String)>, String> {
    match config.value().get(key) {
        None => Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(format!("config key \"{key}.{k}\": expected a string")),
            })
            .collect(),
        Some(_) => Err(format!("config key \"{key}\": expected a table of strings")),
    }
}

impl Settings {
    fn from_config(config: &Config) -> Result<Self, String> {
        config.check_keys(&[
            "urls",
            "timeout",
            "measurement_prefix",
            "measurement_name",
            "metric_types",
            "include",
            "exclude",
            "tags",
            "instance_tag",
            "headers",
            "sample_limit",
        ])?;
        let urls = config.get_str_list("urls")?.unwrap_or_default();
        if urls.is_empty() {
            return Err("config key \"urls\": give at least one exposition URL".into());
        }
        let targets = urls
            .into_iter()
            .map(|url| {
                Ok(Target {
                    instance: instance_of(&url)?,
                    url,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let timeout = match config.value().get("timeout") {
            None => DEFAULT_TIMEOUT,
            Some(Value::String(s)) => {
                duration(s).map_err(|e| format!("config key \"timeout\": {e}"))?
            }
            Some(_) => return Err("config key \"timeout\": expected a string like \"5s\"".into()),
        };
        let metric_types = config.get_str_list("metric_types")?;
        if let Some(bad) = metric_types
            .iter()
            .flatten()
            .find(|t| !TYPES.contains(&t.as_str()))
        {
            return Err(format!(
                "config key \"metric_types\": {bad:?} is not one of {}",
                TYPES.join(", ")
            ));
        }
        Ok(Settings {
            targets,
            timeout,
            sample_limit: usize::try_from(config.u64_or("sample_limit", DEFAULT_SAMPLE_LIMIT)?)
                .unwrap_or(usize::MAX),
            prefix: config.str_or("measurement_prefix", "")?,
            measurement_name: config.str_or("measurement_name", "")?,
            metric_types,
            include: config.get_str_list("include")?.unwrap_or_default(),
            exclude: config.get_str_list("exclude")?.unwrap_or_default(),
            tags: string_table(config, "tags")?,
            instance_tag: config.bool_or("instance_tag", true)?,
            headers: string_table(config, "headers")?,
        })
    }

    fn keeps(&self, name: &str, kind: &str) -> bool {
        if let Some(types) = &self.metric_types {
            if !types.iter().any(|t| t == kind) {
                return false;
            }
        }
        (self.include.is_empty() || self.include.iter().any(|p| glob(p, name)))
            && !self.exclude.iter().any(|p| glob(p, name))
    }

    /// Measurement and field of metric `name`.
    fn name(&self, name: &str) -> (String, String) {
        if !self.measurement_name.is_empty() {
            return (
                format!("{}{}", self.prefix, self.measurement_name),
                name.to_string(),
            );
        }
        match name.split_once('_') {
            Some((m, f)) if !m.is_empty() && !f.is_empty() => {
                (format!("{}{m}", self.prefix), f.to_string())
            }
            _ => (format!("{}prom", self.prefix), name.to_string()),
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Points of one measurement, tag set and time, with their fields in order of arrival.
type Groups = BTreeMap<(String, Vec<(String, String)>, Option<i64>), Vec<(String, f64)>>;

/// The series the collector writes about each scrape; an exporter's own series of these names
/// are kept as `exported_<name>`.
const OWN_SERIES: [&str; 3] = ["up", "scrape_duration_seconds", "scrape_samples_scraped"];

/// What one exposition gave.
#[derive(Debug, Default)]
struct Scraped {
    points: Vec<Point>,
    /// Samples kept (after filters, without NaN and infinities).
    samples: usize,
    bad_lines: usize,
    first_error: Option<String>,
}

/// The tags of a sample: its labels (empty ones dropped; one that a configured tag replaces kept
/// as `exported_<name>`, prefixed again while that name is taken, as Prometheus does), `instance` unless the labels or the configured tags have it, then the
/// configured tags. Sorted, with no key twice.
fn tags_of(
    settings: &Settings,
    target: &Target,
    labels: &[(&str, std::borrow::Cow<'_, str>)],
) -> Vec<(String, String)> {
    let configured = |k: &str| settings.tags.iter().any(|(t, _)| t == k);
    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    let labels = labels.iter().filter(|(_, v)| !v.is_empty());
    for (k, v) in labels.clone().filter(|(k, _)| !configured(k)) {
        tags.insert((*k).to_string(), v.to_string());
    }
    for (k, v) in labels.filter(|(k, _)| configured(k)) {
        let mut key = format!("exported_{k}");
        while tags.contains_key(&key) || configured(&key) {
            key.insert_str(0, "exported_");
        }
        tags.insert(key, v.to_string());
    }
    if settings.instance_tag && !tags.contains_key("instance") {
        tags.insert("instance".into(), target.instance.clone());
    }
    for (k, v) in &settings.tags {
        tags.insert(k.clone(), v.clone());
    }
    tags.into_iter().collect()
}

/// The points of one target's exposition.
///
/// # Errors
/// When more than `sample_limit` samples pass the filters (the scrape fails, as Prometheus's
/// `sample_limit` makes it).
fn points(
    settings: &Settings,
    target: &Target,
    text: &str,
    format: Format,
) -> Result<Scraped, String> {
    let exposition = text::parse(text, format);
    let mut groups = Groups::new();
    let mut kept = 0;
    for s in &exposition.samples {
        if !s.value.is_finite() || !settings.keeps(s.name, exposition.type_of(s.name)) {
            continue;
        }
        kept += 1;
        if settings.sample_limit > 0 && kept > settings.sample_limit {
            return Err(format!(
                "more than {} samples (sample_limit)",
                settings.sample_limit
            ));
        }
        let tags = tags_of(settings, target, &s.labels);
        let name = if OWN_SERIES.contains(&s.name) {
            format!("exported_{}", s.name)
        } else {
            s.name.to_string()
        };
        let (measurement, field) = settings.name(&name);
        let fields = groups
            .entry((measurement, tags, s.timestamp_ns))
            .or_default();
        match fields.iter_mut().find(|(f, _)| *f == field) {
            Some(slot) => slot.1 = s.value,
            None => fields.push((field, s.value)),
        }
    }
    let points = groups
        .into_iter()
        .map(|((measurement, tags, ts), fields)| {
            let mut p = Point::new(measurement);
            for (k, v) in tags {
                p = p.tag(k, v);
            }
            for (f, v) in fields {
                p = p.field(f, v);
            }
            match ts {
                Some(ns) => p.timestamp_ns(ns),
                None => p,
            }
        })
        .collect();
    Ok(Scraped {
        points,
        samples: kept,
        bad_lines: exposition.bad_lines,
        first_error: exposition.first_error.map(|e| e.to_string()),
    })
}

/// What the target says about the scrape itself (`up`, `scrape_duration_seconds`,
/// `scrape_samples_scraped`), named like any other metric.
fn scrape_points(
    settings: &Settings,
    target: &Target,
    up: bool,
    secs: f64,
    n: usize,
) -> Vec<Point> {
    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    tags.insert("instance".into(), target.instance.clone());
    for (k, v) in &settings.tags {
        tags.insert(k.clone(), v.clone());
    }
    let mut groups: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    for (name, value) in [
        ("up", if up { 1.0 } else { 0.0 }),
        ("scrape_duration_seconds", secs),
        ("scrape_samples_scraped", n as f64),
    ] {
        let (m, f) = settings.name(name);
        groups.entry(m).or_default().push((f, value));
    }
    groups
        .into_iter()
        .map(|(m, fields)| {
            let mut p = Point::new(m);
            for (k, v) in &tags {
                p = p.tag(k.clone(), v.clone());
            }
            for (f, v) in fields {
                p = p.field(f, v);
            }
            p
        })
        .collect()
}

struct Prom {
    settings: Settings,
}

impl Prom {
    /// Scrapes one target: its points, or why there are none.
    fn scrape(&self, target: &Target) -> Result<Scraped, String> {
        let mut req = Request::get(&target.url).header("accept", ACCEPT);
        for (k, v) in &self.settings.headers {
            req = req.header(k, v);
        }
        req = req.timeout(self.settings.timeout);
        let resp = req.send().map_err(|e| e.to_string())?;
        if resp.status != 200 {
            return Err(format!("HTTP {}", resp.status));
        }
        let format = Format::of_content_type(resp.header("content-type").unwrap_or(""));
        let text = resp.text().map_err(|e| e.to_string())?;
        points(&self.settings, target, text, format)
    }
}

impl Collector for Prom {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "prom",
            "0.1.0",
            "scrapes Prometheus exporters (text format) on the plugin's allowlist",
        )
        .interval_ms(10_000, 1_000, 3_600_000)
        .measurement(
            MeasurementInfo::new(
                "prom",
                "per target: up, and metrics whose name has no '_'; other metrics are named \
                 by the part of their name before the first '_'",
            )
            .tag("instance", "the target's host:port")
            .tag("*", "the sample's labels, and `[config.tags]`")
            .field(
                "up",
                FieldKind::Float,
                "",
                "1 if the scrape succeeded, 0 if not",
            )
            .field("*", FieldKind::Float, "", "a metric whose name has no '_'"),
        )
        .measurement(
            MeasurementInfo::new(
                "*",
                "every other metric: measurement the part of its name before the first '_' \
                 (after `measurement_prefix`), or `measurement_name`; histograms and \
                 summaries give _bucket, _sum, _count and quantile series as Prometheus does",
            )
            .tag("instance", "the target's host:port")
            .tag(
                "*",
                "the sample's labels (le, quantile, ...), and `[config.tags]`",
            )
            .field(
                "*",
                FieldKind::Float,
                "",
                "the rest of the metric's name (the full name with `measurement_name`)",
            ),
        )
        .measurement(
            MeasurementInfo::new("scrape", "per target: the cost of the scrape")
                .tag("instance", "the target's host:port")
                .field(
                    "duration_seconds",
                    FieldKind::Float,
                    "s",
                    "time of the scrape",
                )
                .field(
                    "samples_scraped",
                    FieldKind::Float,
                    "count",
                    "samples kept from the exposition",
                ),
        )
    }

    fn init(config: Config) -> Result<Self, String> {
        Ok(Prom {
            settings: Settings::from_config(&config)?,
        })
    }

    /// A target that fails (refused, unreachable, slow, not 200) is logged and gives `up` 0;
    /// the call still succeeds, because the host drops every point of a call that returns an
    /// error and the other targets' points must not go with it.
    fn collect(&mut self, out: &mut Emitter) -> Result<(), String> {
        for target in &self.settings.targets {
            let start = Instant::now();
            let (up, n) = match self.scrape(target) {
                Ok(scraped) => {
                    for p in scraped.points {
                        out.push(p);
                    }
                    if let Some(first) = &scraped.first_error {
                        sandkit_sdk::warn!(
                            "{}: {} bad line(s) skipped, the first at {first}",
                            target.url,
                            scraped.bad_lines
                        );
                    }
                    (true, scraped.samples)
                }
                Err(e) => {
                    sandkit_sdk::warn!("scrape of {} failed: {e}", target.url);
                    (false, 0)
                }
            };
            let secs = start.elapsed().as_secs_f64();
            for p in scrape_points(&self.settings, target, up, secs, n) {
                out.push(p);
            }
        }
        Ok(())
    }
}

sandkit_sdk::collector!(Prom);
sandkit_sdk::default_conf!("../conf.toml");

#[cfg(test)]
mod tests;
