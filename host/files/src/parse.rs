//! Records through a pipeline: batches cut by count and bytes, the pipeline's records turned into
//! points, and the lines it could not process passed on raw with a `pipeline_error` tag
//! (fail-open) or parked in the dead-letter column family (fail-closed). No line is lost: a
//! record that cannot become a point goes on raw too.

use crate::config::FileTask;
use crate::lines::Line;
use crate::source::TaskStats;
use sandkit_io::pipeline::{Chunk, LineProcessor, Part, Processed};
use sandkit_io::records::{FieldRef, Item, RecordError, RecordReader};
use sandkit_io::{FieldKey, FieldValue, Point, SharedStr, SharedTags};
use sandkit_state::{Batch, Family, Store};
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Distinct tag sets kept per file (a pipeline's tags are mostly few values: `status=OK`...).
const TAG_CACHE: usize = 64;
/// Distinct field keys kept per file.
const KEY_CACHE: usize = 256;

/// Whether the line was truncated, a record's tags, and the set they give.
type CachedTags = (bool, Vec<(String, String)>, SharedTags);

/// Tag sets of one file's points: the file's tags plus a record's, validated once; and the
/// field keys its records use, shared by their points.
#[derive(Debug, Default)]
pub(crate) struct TagCache {
    entries: Vec<CachedTags>,
    keys: Vec<Arc<str>>,
    /// Where the next key lookup starts: records repeat their keys in the same order.
    next_key: usize,
}

impl TagCache {
    /// A field key, shared with the file's other points that use it.
    fn key(&mut self, k: &str) -> FieldKey {
        let n = self.keys.len();
        for step in 0..n {
            let i = (self.next_key + step) % n;
            if &*self.keys[i] == k {
                self.next_key = i + 1;
                return FieldKey::from(&self.keys[i]);
            }
        }
        if n >= KEY_CACHE {
            // A pipeline that makes up keys (one per line): do not keep them.
            return FieldKey::from(k);
        }
        let shared: Arc<str> = Arc::from(k);
        self.keys.push(shared.clone());
        self.next_key = n + 1;
        FieldKey::from(shared)
    }

    /// The shared set of `base` plus `extra` (a key already in `base` keeps its value there).
    fn get(
        &mut self,
        base: &SharedTags,
        truncated: bool,
        extra: &[(&str, &str)],
    ) -> Option<SharedTags> {
        if let Some(e) = self.entries.iter().find(|(t, tags, _)| {
            *t == truncated
                && tags.len() == extra.len()
                && tags
                    .iter()
                    .zip(extra)
                    .all(|((k, v), (k2, v2))| k == k2 && v == v2)
        }) {
            return Some(e.2.clone());
        }
        let mut all = base.as_slice().to_vec();
        for (k, v) in extra {
            if !all.iter().any(|(bk, _)| bk == k) {
                all.push((k.to_string(), v.to_string()));
            }
        }
        let shared = SharedTags::new(all).ok()?;
        if self.entries.len() >= TAG_CACHE {
            self.entries.clear();
        }
        let key = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.entries.push((truncated, key, shared.clone()));
        Some(shared)
    }
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

/// FNV-1a of a path, for dead-letter keys.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
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

/// A field value; text that is a slice of the batch refers to it.
fn value(data: &Arc<str>, v: FieldRef<'_>) -> FieldValue {
    match v {
        FieldRef::Int(x) => FieldValue::Int(x),
        FieldRef::Uint(x) => FieldValue::Uint(x),
        FieldRef::Float(x) => FieldValue::Float(x),
        FieldRef::Bool(x) => FieldValue::Bool(x),
        FieldRef::Text(s) => match SharedStr::of(data, s) {
            Some(shared) => FieldValue::Shared(shared),
            None => FieldValue::Text(s.to_string()),
        },
    }
}

/// A batch as its points share it.
#[derive(Clone, Copy)]
struct Shared<'a> {
    data: &'a Arc<str>,
    ends: &'a [u32],
}

impl Shared<'_> {
    /// Line `i` as a `message` value.
    fn line(&self, i: usize) -> FieldValue {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let end = self.ends[i] as usize;
        match SharedStr::new(self.data, start..end) {
            Some(s) => FieldValue::Shared(s),
            None => FieldValue::Text(self.data.get(start..end).unwrap_or_default().to_string()),
        }
    }
}

impl FileCtx<'_> {
    /// `records` through `processor` in batches; their points appended to `out`. `ts` is the
    /// time of records that do not set one (it grows by 1 ns per record).
    pub fn run(
        &mut self,
        processor: &mut dyn LineProcessor,
        records: &[Line],
        ts: &mut i64,
        out: &mut Vec<Point>,
    ) {
        let mut data = String::new();
        let mut ends = Vec::new();
        let mut from = 0;
        while from < records.len() {
            data.clear();
            ends.clear();
            let mut to = from;
            while to < records.len()
                && to - from < self.task.pipeline_batch
                && (to == from
                    || data.len() + records[to].text.len() <= self.task.pipeline_batch_bytes)
            {
                data.push_str(&records[to].text);
                ends.push(u32::try_from(data.len()).unwrap_or(u32::MAX));
                to += 1;
            }
            let processed = processor.process(&self.task.source, &data, &ends);
            // One copy of the batch, shared by its points: text fields that are slices of a
            // line, and the kept `message`, refer to it instead of copying.
            let shared: Arc<str> = Arc::from(data.as_str());
            let batch = Shared {
                data: &shared,
                ends: &ends,
            };
            let before = self.stats.pipeline_records.load(Ordering::Relaxed);
            self.points(
                processor.name(),
                &records[from..to],
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

    fn points(
        &mut self,
        pipeline: &str,
        lines: &[Line],
        batch: Shared<'_>,
        processed: Processed,
        ts: &mut i64,
        out: &mut Vec<Point>,
    ) {
        let mut fails = Failures {
            pipeline,
            fail_closed: processed.fail_closed,
            parked: Batch::new(),
            parked_lines: Vec::new(),
            done: vec![false; lines.len()],
            now: *ts,
        };
        let first_point = out.len();
        let mut records = 0u64;
        for part in processed.parts {
            match part {
                Part::Records(chunk) => {
                    let base = chunk.lines.start as usize;
                    let run = &lines[base..chunk.lines.end as usize];
                    let before = (out.len(), *ts);
                    let mut invalid = Vec::new();
                    match self.chunk_points(batch, base, run, &chunk, ts, out, &mut invalid) {
                        Ok(produced) => {
                            records += produced;
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
                            out.truncate(before.0);
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
        // A batch that the pipeline mostly filtered away would keep its whole text alive for
        // a few points: those points get their own copies.
        if records * 2 < lines.len() as u64 {
            for p in &mut out[first_point..] {
                p.own_text();
            }
        }
        if !fails.parked_lines.is_empty() {
            // Parked lines are stored before their offsets can move (the batch's ack comes
            // later); if the store refuses them, they go on raw rather than being lost.
            let parked_lines = std::mem::take(&mut fails.parked_lines);
            match self.store.write(std::mem::take(&mut fails.parked)) {
                Ok(()) => {
                    tracing::warn!(task = %self.task.name, pipeline, lines = parked_lines.len(), "files.deadletter lines parked");
                    self.stats
                        .parked_lines
                        .fetch_add(parked_lines.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::error!(task = %self.task.name, pipeline, error = %e, "files.deadletter cannot park lines; they go on raw");
                    for (i, kind, t) in parked_lines {
                        if let Some(p) = self.raw(&lines[i], batch.line(i), &kind, t) {
                            out.push(p);
                        }
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
        out: &mut Vec<Point>,
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
                fnv(self.path.as_bytes()),
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
                line: &line.text,
                parked_ns: fails.now,
            };
            if fails.parked.put(Family::DeadLetters, &key, &letter).is_ok() {
                fails.parked_lines.push((i, kind.to_string(), *ts));
                return;
            }
        }
        if let Some(p) = self.raw(line, batch.line(i), kind, *ts) {
            out.push(p);
        }
    }

    /// The points of one run's output (lines `base..` of the batch); the number of records, or
    /// the first malformed one. Lines with a record that is not a valid point are added to
    /// `invalid`.
    #[allow(clippy::too_many_arguments)]
    fn chunk_points(
        &mut self,
        batch: Shared<'_>,
        base: usize,
        run: &[Line],
        chunk: &Chunk,
        ts: &mut i64,
        out: &mut Vec<Point>,
        invalid: &mut Vec<usize>,
    ) -> Result<u64, RecordError> {
        let data = batch.data.get(chunk.bytes.clone()).unwrap_or_default();
        let mut reader = RecordReader::new(&chunk.output, data, run.len())?;
        let mut produced = 0u64;
        while let Some(rec) = reader.next_record() {
            let (h, items) = rec?;
            let i = h.line as usize;
            let line = &run[i];
            let time = h.time.unwrap_or_else(|| {
                *ts += 1;
                *ts
            });
            let message = batch.line(base + i);
            match self.point(batch.data, line, &message, h.keep_message, items, time) {
                Some(p) => out.push(p),
                None => invalid.push(base + i),
            }
            produced += 1;
        }
        Ok(produced)
    }

    /// A line as it came (`message`), tagged with why the pipeline did not process it.
    fn raw(&mut self, line: &Line, message: FieldValue, kind: &str, ts: i64) -> Option<Point> {
        let tags = self.cache.get(
            &self.tags[usize::from(line.truncated)],
            line.truncated,
            &[("pipeline_error", kind)],
        )?;
        let fields = vec![("message".to_string(), message)];
        Point::with_shared(
            &self.task.measurement,
            &tags,
            fields,
            ts,
            self.task.category,
        )
        .ok()
    }

    /// The point of one record, or `None` when it is not a valid point.
    fn point(
        &mut self,
        data: &Arc<str>,
        line: &Line,
        message: &FieldValue,
        keep_message: bool,
        items: &[Item<'_>],
        ts: i64,
    ) -> Option<Point> {
        let mut fields = Vec::with_capacity(items.len() + 1);
        let mut tags: Vec<(&str, &str)> = Vec::new();
        let mut measurement = None;
        for item in items {
            match *item {
                Item::Field(k, v) => fields.push((self.cache.key(k), value(data, v))),
                Item::Tag(k, v) => tags.push((k, v)),
                Item::Measurement(m) => measurement = Some(m),
            }
        }
        if keep_message && !fields.iter().any(|(k, _)| k == "message") {
            fields.push((self.cache.key("message"), message.clone()));
        }
        let base = &self.tags[usize::from(line.truncated)];
        match measurement {
            None if tags.is_empty() => Point::with_shared_keys(
                &self.task.measurement,
                base,
                fields,
                ts,
                self.task.category,
            )
            .ok(),
            None => {
                let shared = self.cache.get(base, line.truncated, &tags)?;
                Point::with_shared_keys(
                    &self.task.measurement,
                    &shared,
                    fields,
                    ts,
                    self.task.category,
                )
                .ok()
            }
            Some(m) => {
                let mut all = base.as_slice().to_vec();
                for (k, v) in tags {
                    if !all.iter().any(|(bk, _)| bk == k) {
                        all.push((k.to_string(), v.to_string()));
                    }
                }
                let fields = fields
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
                Point::new(m.to_string(), all, fields, ts, self.task.category).ok()
            }
        }
    }
}
