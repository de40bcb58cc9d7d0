//! `[[files]]` tasks as written in `sandkit.toml`, and validated into [`FileTask`].

use crate::lines::{encoding_for, LineConfig};
use crate::rule::RuleSet;
use regex::Regex;
use sandkit_io::Category;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// One `[[files]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFileTask {
    /// Unique name; keys the task's saved offsets. Default: `source`.
    pub name: Option<String>,
    /// Measurement of the log points (DataKit's `source`), e.g. `nginx`.
    pub source: String,
    /// Globs (`/var/log/nginx/*.log`, `**` crosses directories) or InLong time patterns
    /// (`/data/log/YYYYMMDDhh.log_[0-9]+`).
    pub paths: Vec<String>,
    /// Globs of files not to collect, matched against the path and the file name.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Category of the points (default `logging`).
    pub category: Option<String>,
    /// Tags added to every point (besides `filename` and the global tags).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Pipeline (a plugin in the plugins directory) that cuts the records into fields; without
    /// one, each record is sent as its `message` field.
    pub pipeline: Option<String>,
    /// Records per pipeline call, at most (default 1024).
    pub pipeline_batch: Option<usize>,
    /// Bytes of records per pipeline call, at most (default 1 MiB; a longer record goes alone).
    pub pipeline_batch_bytes: Option<usize>,
    /// Threads that run the pipeline, each with its own instance (default 1: the task's own
    /// thread). More let one busy file use more cores; offsets stay in file order.
    pub workers: Option<usize>,
    /// Regex that starts a multi-line record; lines that do not match join the record before.
    pub multiline_start: Option<String>,
    /// How long a multi-line record waits for more lines (default `3s`).
    pub multiline_timeout: Option<String>,
    /// Longer lines (records) are truncated to this and tagged `truncated=true` (default 32768).
    pub max_line_bytes: Option<usize>,
    /// Text encoding of the files (default `utf-8`; `gbk`, `shift_jis`, `latin1`... too).
    pub encoding: Option<String>,
    /// Periodic scan for new files, besides notify events (default `10s`).
    pub scan_interval: Option<String>,
    /// Files that exist when the task is first seen are read from the start (default: from the
    /// end, as DataKit does; files that appear later are always read from the start).
    #[serde(default)]
    pub from_beginning: bool,
    /// A file renamed away, deleted, or superseded by a newer time-pattern file is closed once
    /// it has been at its end this long (default `5s`).
    pub rotate_wait: Option<String>,
    /// Close any other file after this long at its end, and reopen it when a scan sees it grow
    /// (default: never; an open descriptor is what lets a file renamed away between two scans be
    /// read to its end, so set this only when a task matches very many files).
    pub close_inactive: Option<String>,
}

/// A validated task.
#[derive(Debug, Clone)]
pub struct FileTask {
    pub name: String,
    pub source: String,
    /// `source`, shared by every point of the task.
    pub measurement: Arc<str>,
    pub rules: RuleSet,
    pub category: Category,
    /// Sorted by key; `filename` is added per file.
    pub tags: Vec<(String, String)>,
    pub pipeline: Option<String>,
    pub pipeline_batch: usize,
    pub pipeline_batch_bytes: usize,
    pub workers: usize,
    pub multiline: Option<Regex>,
    pub multiline_timeout: Duration,
    pub line: LineConfig,
    pub scan_interval: Duration,
    pub from_beginning: bool,
    pub rotate_wait: Duration,
    pub close_inactive: Option<Duration>,
}

fn duration(key: &str, v: &Option<String>, default: Duration) -> Result<Duration, String> {
    match v {
        None => Ok(default),
        Some(s) => sandkit_conf::parse_duration(s).map_err(|e| format!("key {key:?}: {e}")),
    }
}

impl RawFileTask {
    /// Validate, adding `global_tags` (a task's own tags win).
    ///
    /// # Errors
    /// A message naming the key and the problem (the caller adds the file and the task).
    pub fn validate(&self, global_tags: &[(String, String)]) -> Result<FileTask, String> {
        if self.source.trim().is_empty() {
            return Err("key \"source\": must not be empty".into());
        }
        let name = self.name.clone().unwrap_or_else(|| self.source.clone());
        if name.is_empty() || name.contains('/') {
            return Err(format!(
                "key \"name\": {name:?} must be non-empty, without '/'"
            ));
        }
        if self.paths.is_empty() {
            return Err("key \"paths\": at least one path is required".into());
        }
        let rules =
            RuleSet::new(&self.paths, &self.exclude).map_err(|e| format!("key \"paths\": {e}"))?;
        let category = match &self.category {
            None => Category::Logging,
            Some(c) => c.parse().map_err(|e| format!("key \"category\": {e}"))?,
        };
        let mut tags: BTreeMap<String, String> = global_tags.iter().cloned().collect();
        tags.extend(self.tags.clone());
        for reserved in ["filename", "truncated"] {
            if tags.contains_key(reserved) {
                return Err(format!("key \"tags\": {reserved:?} is set by the agent"));
            }
        }
        if tags.keys().any(String::is_empty) {
            return Err("key \"tags\": a tag key is empty".into());
        }
        let multiline = match &self.multiline_start {
            None => None,
            Some(p) => {
                Some(Regex::new(p).map_err(|e| format!("key \"multiline_start\": {p:?}: {e}"))?)
            }
        };
        let max_line_bytes = self.max_line_bytes.unwrap_or(32 << 10);
        if !(16..=(64 << 20)).contains(&max_line_bytes) {
            return Err(format!(
                "key \"max_line_bytes\": {max_line_bytes} is outside 16..=67108864"
            ));
        }
        let encoding = encoding_for(self.encoding.as_deref().unwrap_or("utf-8"))
            .map_err(|e| format!("key \"encoding\": {e}"))?;
        let scan_interval = duration(
            "scan_interval",
            &self.scan_interval,
            Duration::from_secs(10),
        )?;
        if scan_interval < Duration::from_millis(100) || scan_interval > Duration::from_secs(86_400)
        {
            return Err("key \"scan_interval\": must be between 100ms and 1 day".into());
        }
        let pipeline_batch = self.pipeline_batch.unwrap_or(1024);
        if !(1..=65_536).contains(&pipeline_batch) {
            return Err(format!(
                "key \"pipeline_batch\": {pipeline_batch} is outside 1..=65536"
            ));
        }
        let pipeline_batch_bytes = self.pipeline_batch_bytes.unwrap_or(1 << 20);
        if !(1024..=(256 << 20)).contains(&pipeline_batch_bytes) {
            return Err(format!(
                "key \"pipeline_batch_bytes\": {pipeline_batch_bytes} is outside 1024..=268435456"
            ));
        }
        let workers = self.workers.unwrap_or(1);
        if !(1..=64).contains(&workers) {
            return Err(format!("key \"workers\": {workers} is outside 1..=64"));
        }
        if workers > 1 && self.pipeline.is_none() {
            return Err(
                "key \"workers\": only a task with a `pipeline` runs on workers (reading and \
                 splitting lines stays on the task's thread)"
                    .into(),
            );
        }
        if self.pipeline.as_deref().is_some_and(|p| p.is_empty()) {
            return Err("key \"pipeline\": must not be empty".into());
        }
        Ok(FileTask {
            name,
            source: self.source.clone(),
            measurement: Arc::from(self.source.as_str()),
            rules,
            category,
            tags: tags.into_iter().collect(),
            pipeline: self.pipeline.clone(),
            pipeline_batch,
            pipeline_batch_bytes,
            workers,
            multiline,
            multiline_timeout: duration(
                "multiline_timeout",
                &self.multiline_timeout,
                Duration::from_secs(3),
            )?,
            line: LineConfig {
                max_line_bytes,
                encoding,
            },
            scan_interval,
            from_beginning: self.from_beginning,
            rotate_wait: duration("rotate_wait", &self.rotate_wait, Duration::from_secs(5))?,
            close_inactive: match &self.close_inactive {
                None => None,
                Some(_) => Some(duration(
                    "close_inactive",
                    &self.close_inactive,
                    Duration::MAX,
                )?),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(extra: &str) -> Result<FileTask, String> {
        let t: RawFileTask = toml::from_str(&format!(
            "source = \"nginx\"\npaths = [\"/var/log/nginx/*.log\"]\n{extra}"
        ))
        .map_err(|e| e.to_string())?;
        t.validate(&[("host".into(), "h1".into())])
    }

    #[test]
    fn defaults_and_tags() {
        let t = raw("tags = { service = \"web\", host = \"mine\" }").unwrap();
        assert_eq!(t.name, "nginx");
        assert_eq!(t.category, Category::Logging);
        assert_eq!(
            t.tags,
            vec![
                ("host".into(), "mine".into()),
                ("service".into(), "web".into())
            ]
        );
        assert_eq!(t.line.max_line_bytes, 32768);
        assert_eq!(t.scan_interval, Duration::from_secs(10));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (extra, key) in [
            ("multiline_start = \"(\"", "multiline_start"),
            ("encoding = \"utf-16le\"", "encoding"),
            ("category = \"logs\"", "category"),
            ("rotate_wait = \"soon\"", "rotate_wait"),
            ("max_line_bytes = 1", "max_line_bytes"),
            ("tags = { filename = \"x\" }", "tags"),
            ("tags = { truncated = \"x\" }", "tags"),
            ("scan_interval = \"1000years\"", "scan_interval"),
            ("pipeline_batch = 0", "pipeline_batch"),
            ("pipeline_batch_bytes = 10", "pipeline_batch_bytes"),
            ("pipeline = \"\"", "pipeline"),
            ("workers = 0", "workers"),
            ("workers = 2", "workers"),
        ] {
            let e = raw(extra).unwrap_err();
            assert!(e.contains(&format!("key \"{key}\"")), "{extra}: {e}");
        }
        assert!(raw("colour = 1").unwrap_err().contains("colour"));
    }
}
