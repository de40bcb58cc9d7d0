//! Records through a pipeline: batches cut by count and bytes, the pipeline's records written
//! as line protocol (no `Point` per line: [`LineWriter`] checks each line as a point would be
//! checked), and the lines it could not process passed on raw with a `pipeline_error` tag
//! (fail-open) or parked in the dead-letter column family (fail-closed). No line is lost: a
//! record that cannot become a line goes on raw too.

use crate::config::FileTask;
use crate::events::{Event, LinesParked};
use crate::lines::{Line, LineBatch};
use crate::source::TaskStats;
use sandkit_io::pipeline::{Chunk, LineProcessor, Part, Processed};
use sandkit_io::records::{FieldRef, Parts, RecordError, RecordReader};
use sandkit_io::{line_prefix, LineWriter, SharedTags};
use sandkit_state::{Batch, Family, Store};
use serde::Serialize;
use std::sync::atomic::Ordering;

/// Distinct line prefixes kept per file (a pipeline's tags are mostly few values: `status=OK`...).
const PREFIX_CACHE: usize = 64;

/// A line prefix and what it was made of: the measurement a record set (or none: the task's),
/// whether the line was truncated, and a record's tags.
#[derive(Debug)]
struct CachedPrefix {
    measurement: Option<String>,
    truncated: bool,
    tags: Vec<(String, String)>,
    prefix: String,
}

/// The line prefixes (measurement and tags, escaped) of one file's lines: the file's tags plus
/// a record's, validated and escaped once.
#[derive(Debug, Default)]
pub(crate) struct TagCache {
    entries: Vec<CachedPrefix>,
}

impl TagCache {
    /// The index of the prefix of `measurement` (or the task's, `task_measurement`) with the
    /// tags `base` plus `extra` (a key already in `base` keeps its value there); `None` when
    /// they do not make a valid line (an empty measurement or tag key).
    fn get(
        &mut self,
        task_measurement: &str,
        measurement: Option<&str>,
        base: &SharedTags,
        truncated: bool,
        extra: &[(&str, &str)],
    ) -> Option<usize> {
        if let Some(i) = self.entries.iter().position(|e| {
            e.truncated == truncated
                && e.measurement.as_deref() == measurement
                && e.tags.len() == extra.len()
                && e.tags
                    .iter()
                    .zip(extra)
                    .all(|((k, v), (k2, v2))| k == k2 && v == v2)
        }) {
            return Some(i);
        }
        // `extra` has one tag per key (`Parts`): each is checked against the base only.
        let mut all = base.as_slice().to_vec();
        for (k, v) in extra {
            if !base.as_slice().iter().any(|(bk, _)| bk == k) {
                all.push((k.to_string(), v.to_string()));
            }
        }
        let tags = SharedTags::new(all).ok()?;
        let prefix = line_prefix(measurement.unwrap_or(task_measurement), &tags).ok()?;
        if self.entries.len() >= PREFIX_CACHE {
            self.entries.clear();
        }
        self.entries.push(CachedPrefix {
            measurement: measurement.map(str::to_string),
            truncated,
            tags: extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            prefix,
        });
        Some(self.entries.len() - 1)
    }

    fn prefix(&self, i: usize) -> &str {
        self.entries.get(i).map_or("", |e| e.prefix.as_str())
    }
}

/// A raw line (`message`, tagged with `extra`) written to `out`; false if it cannot be.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_raw(
    cache: &mut TagCache,
    task: &FileTask,
    base: &SharedTags,
    line: &Line,
    message: &str,
    extra: &[(&str, &str)],
    ts: i64,
    out: &mut LineWriter,
) -> bool {
    let Some(i) = cache.get(&task.measurement, None, base, line.truncated, extra) else {
        return false;
    };
    out.begin(cache.prefix(i));
    out.field("message", FieldRef::Text(message));
    out.end(ts).is_ok()
}

/// The lines of one batch that failed, and where they go.
struct Failures<'a> {
    pipeline: &'a str,
    fail_closed: bool,
    parked: Batch,
    /// Parked lines (index, kind, time), to send raw if the store refuses them.
    parked_lines: Vec<(usize, String, i64)>,
    /// Lines already failed (a line fails once, however many of its records are invalid).
    done: Vec<bool>,
    now: i64,
}

/// A parked line, as stored in the dead-letter family.
#[derive(Debug, Serialize)]
struct DeadLetter<'a> {
    task: &'a str,
    pipeline: &'a str,
    file: &'a str,
    /// Byte offsets of the line in the file.
    start: u64,
    end: u64,
    kind: &'a str,
    error: &'a str,
    line: &'a str,
    parked_ns: i64,
}

/// What a file's records need besides the task.
pub(crate) struct FileCtx<'a> {
    pub task: &'a FileTask,
    pub store: &'a Store,
    pub stats: &'a TaskStats,
    pub path: &'a str,
    /// Without and with `truncated=true`.
    pub tags: &'a [SharedTags; 2],
    pub cache: &'a mut TagCache,
}

/// A batch as it was handed to the pipeline: its text and where each line ends.
#[derive(Clone, Copy)]
struct Shared<'a> {
    data: &'a str,
    ends: &'a [u32],
}

impl<'a> Shared<'a> {
    /// Line `i` as a `message` value.
    fn line(&self, i: usize) -> &'a str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let end = self.ends[i] as usize;
        self.data.get(start..end).unwrap_or_default()
    }
}

impl FileCtx<'_> {
    /// `records` through `processor` in batches; their points appended to `out`. `ts` is the
    /// time of records that do not set one (it grows by 1 ns per record).
    pub fn run(
        &mut self,
        processor: &mut dyn LineProcessor,
        records: &LineBatch,
        ts: &mut i64,
        out: &mut LineWriter,
    ) {
        let mut ends = Vec::new();
        let mut from = 0;
        while from < records.len() {
            let mut to = from;
            let mut bytes = 0;
            while to < records.len() && to - from < self.task.pipeline_batch {
                let len = records.text(to).len();
                if to > from && bytes + len > self.task.pipeline_batch_bytes {
                    break;
                }
                bytes += len;
                to += 1;
            }
            // The batch's texts are already end to end: the pipeline reads them in place.
            let data = records.joined(from, to, &mut ends);
            let processed = processor.process(&self.task.source, data, &ends);
            let batch = Shared { data, ends: &ends };
            let before = self.stats.pipeline_records.load(Ordering::Relaxed);
            self.lines(
                processor.name(),
                &records.lines()[from..to],
                batch,
                processed,
                ts,
                out,
            );
            let produced = self.stats.pipeline_records.load(Ordering::Relaxed) - before;
            processor.delivered(produced);
            from = to;
        }
    }

    fn lines(
        &mut self,
        pipeline: &str,
        lines: &[Line],
        batch: Shared<'_>,
        processed: Processed,
        ts: &mut i64,
        out: &mut LineWriter,
    ) {
        let mut fails = Failures {
            pipeline,
            fail_closed: processed.fail_closed,
            parked: Batch::new(),
            parked_lines: Vec::new(),
            done: vec![false; lines.len()],
            now: *ts,
        };
        for part in processed.parts {
            match part {
                Part::Records(chunk) => {
                    let base = chunk.lines.start as usize;
                    let run = &lines[base..chunk.lines.end as usize];
                    let before = (out.checkpoint(), *ts);
                    let mut invalid = Vec::new();
                    match self.chunk_lines(batch, base, run, &chunk, ts, out, &mut invalid) {
                        Ok(produced) => {
                            self.stats
                                .pipeline_records
                                .fetch_add(produced, Ordering::Relaxed);
                            for i in invalid {
                                self.fail_line(
                                    &mut fails,
                                    batch,
                                    lines,
                                    i,
                                    "invalid_record",
                                    "a record is not a valid point",
                                    ts,
                                    out,
                                );
                            }
                        }
                        Err(e) => {
                            // Nothing of a malformed output is kept: its lines fail.
                            tracing::warn!(task = %self.task.name, pipeline, error = %e, lines = run.len(), "files.pipeline output malformed or over its limits; its lines go on unprocessed");
                            out.rollback(before.0);
                            *ts = before.1;
                            let why = e.to_string();
                            let kind = if e.over_limit {
                                "output_limit"
                            } else {
                                "malformed"
                            };
                            for i in base..base + run.len() {
                                self.fail_line(&mut fails, batch, lines, i, kind, &why, ts, out);
                            }
                        }
                    }
                }
                Part::Failed(f) => {
                    for i in f.lines.start as usize..f.lines.end as usize {
                        self.fail_line(&mut fails, batch, lines, i, &f.kind, &f.message, ts, out);
                    }
                }
            }
        }
        if !fails.parked_lines.is_empty() {
            // Parked lines are stored before their offsets can move (the batch's ack comes
            // later); if the store refuses them, they go on raw rather than being lost.
            let parked_lines = std::mem::take(&mut fails.parked_lines);
            match self.store.write(std::mem::take(&mut fails.parked)) {
                Ok(()) => {
                    LinesParked {
                        pipeline,
                        lines: parked_lines.len() as u64,
                    }
                    .emit(&self.task.name, self.stats);
                }
                Err(e) => {
                    tracing::error!(task = %self.task.name, pipeline, error = %e, "files.deadletter cannot park lines; they go on raw");
                    for (i, kind, t) in parked_lines {
                        self.raw(&lines[i], batch.line(i), &kind, t, out);
                    }
                }
            }
        }
    }

    /// Line `i` of the batch was not processed: park it (fail-closed) or send it raw, once.
    #[allow(clippy::too_many_arguments)]
    fn fail_line(
        &mut self,
        fails: &mut Failures<'_>,
        batch: Shared<'_>,
        lines: &[Line],
        i: usize,
        kind: &str,
        error: &str,
        ts: &mut i64,
        out: &mut LineWriter,
    ) {
        let (Some(line), Some(done)) = (lines.get(i), fails.done.get_mut(i)) else {
            return;
        };
        if std::mem::replace(done, true) {
            return;
        }
        self.stats
            .pipeline_failed_lines
            .fetch_add(1, Ordering::Relaxed);
        *ts += 1;
        if fails.fail_closed {
            // Unique per task: the time, the file (by path) and the line's offset in it.
            let key = format!(
                "{}/{}/{:020}/{:016x}/{}",
                self.task.name,
                fails.pipeline,
                *ts,
                sandkit_io::fnv1a(self.path.as_bytes()),
                line.start
            );
            let letter = DeadLetter {
                task: &self.task.name,
                pipeline: fails.pipeline,
                file: self.path,
                start: line.start,
                end: line.end,
                kind,
                error,
                line: batch.line(i),
                parked_ns: fails.now,
            };
            if fails.parked.put(Family::DeadLetters, &key, &letter).is_ok() {
                fails.parked_lines.push((i, kind.to_string(), *ts));
                return;
            }
        }
        self.raw(line, batch.line(i), kind, *ts, out);
    }

    /// The lines of one run's output (lines `base..` of the batch); the number of records, or
    /// the first malformed one. Lines with a record that is not a valid line are added to
    /// `invalid`.
    #[allow(clippy::too_many_arguments)]
    fn chunk_lines(
        &mut self,
        batch: Shared<'_>,
        base: usize,
        run: &[Line],
        chunk: &Chunk,
        ts: &mut i64,
        out: &mut LineWriter,
        invalid: &mut Vec<usize>,
    ) -> Result<u64, RecordError> {
        let data = batch.data.get(chunk.bytes.clone()).unwrap_or_default();
        let mut reader = RecordReader::new(&chunk.output, data, run.len())?;
        let mut produced = 0u64;
        let mut parts = Parts::default();
        while let Some(rec) = reader.next_record() {
            let (h, items) = rec?;
            let i = h.line as usize;
            let line = &run[i];
            let time = h.time.unwrap_or_else(|| {
                *ts += 1;
                *ts
            });
            let message = batch.line(base + i);
            parts.sort(h.keep_message, items);
            if !self.record(line, message, &parts, time, out) {
                invalid.push(base + i);
            }
            produced += 1;
        }
        Ok(produced)
    }

    /// A line as it came (`message`), tagged with why the pipeline did not process it; if even
    /// that cannot be written (it can only fail for a task whose measurement is empty, which
    /// the config refuses), it is counted as lost.
    fn raw(&mut self, line: &Line, message: &str, kind: &str, ts: i64, out: &mut LineWriter) {
        let base = &self.tags[usize::from(line.truncated)];
        let extra = [("pipeline_error", kind)];
        if !write_raw(self.cache, self.task, base, line, message, &extra, ts, out) {
            tracing::warn!(task = %self.task.name, file = %self.path, offset = line.start, "files.record cannot become a line");
        }
    }

    /// The line of one record (its items sorted into `parts`); false (and nothing written)
    /// when it is not a valid line (a repeated field key is one).
    fn record<'a>(
        &mut self,
        line: &Line,
        message: &str,
        parts: &Parts<'a>,
        ts: i64,
        out: &mut LineWriter,
    ) -> bool {
        let base = &self.tags[usize::from(line.truncated)];
        let Some(prefix) = self.cache.get(
            &self.task.measurement,
            parts.measurement,
            base,
            line.truncated,
            &parts.tags,
        ) else {
            return false;
        };
        out.begin(self.cache.prefix(prefix));
        for &(k, v) in &parts.fields {
            out.field(k, v);
        }
        if parts.add_message {
            out.field("message", FieldRef::Text(message));
        }
        out.end(ts).is_ok()
    }
}
