//! Logging writes through a pipeline. `POST /v1/write/logging?pipeline=nginx` names one;
//! `?source=nginx` picks the pipeline of that name when one is loaded (DataKit's rule: a
//! source's pipeline is named after it). The `message` field of each point is a line for the
//! pipeline; each record it makes becomes a point that keeps the original's measurement, tags
//! and other fields, with the record's tags (a tag the point has keeps its value), fields (they
//! win over the point's), time, and `message` when the record keeps it.
//!
//! Lines the pipeline cannot process pass on unchanged, tagged `pipeline_error=<kind>`: writes
//! are fail-open whatever the pipeline's `on_error` says (parking needs the state store, which
//! belongs to file collection). Points without a text `message` pass unchanged.

use sandkit_io::pipeline::{LineProcessor, Part, PipelineProvider};
use sandkit_io::records::{Parts, RecordReader};
use sandkit_io::{FieldValue, Point};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Idle processors kept per pipeline between requests.
const IDLE_PER_PIPELINE: usize = 4;

/// Lines per pipeline call (as file tasks' default `pipeline_batch`).
const BATCH: usize = 1024;

/// Pipelines for writes, with their processors kept between requests (each owns an instance).
pub(crate) struct Pipelines {
    provider: Arc<dyn PipelineProvider>,
    idle: Mutex<HashMap<String, Vec<Box<dyn LineProcessor>>>>,
}

impl Pipelines {
    pub(crate) fn new(provider: Arc<dyn PipelineProvider>) -> Self {
        Pipelines {
            provider,
            idle: Mutex::new(HashMap::new()),
        }
    }

    /// Whether pipeline `name` is loaded.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.provider.has(name)
    }

    /// `points` through pipeline `name`, as the module says, in their order. Blocking: call
    /// it off the async workers.
    pub(crate) fn apply(&self, name: &str, source: &str, points: Vec<Point>) -> Vec<Point> {
        let mut processor = self
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(name)
            .and_then(Vec::pop)
            .unwrap_or_else(|| self.provider.processor(name));
        // What each point became; the ones with a message are processed in batches.
        let mut made: Vec<Vec<Point>> = Vec::with_capacity(points.len());
        let mut batch: Vec<(usize, Point)> = Vec::new();
        for p in points {
            if p.field("message").and_then(FieldValue::as_text).is_none() {
                made.push(vec![p]);
                continue;
            }
            batch.push((made.len(), p));
            made.push(Vec::new());
            if batch.len() == BATCH {
                run(
                    processor.as_mut(),
                    source,
                    std::mem::take(&mut batch),
                    &mut made,
                );
            }
        }
        if !batch.is_empty() {
            run(processor.as_mut(), source, batch, &mut made);
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let pool = idle.entry(name.to_string()).or_default();
        // A few kept per pipeline (each is an instance); more at once are dropped after use.
        if pool.len() < IDLE_PER_PIPELINE {
            pool.push(processor);
        }
        made.into_iter().flatten().collect()
    }
}

/// One call of the pipeline on the messages of `batch` (each with its place in `made`).
fn run(
    processor: &mut dyn LineProcessor,
    source: &str,
    batch: Vec<(usize, Point)>,
    made: &mut [Vec<Point>],
) {
    let mut data = String::new();
    let mut ends = Vec::with_capacity(batch.len());
    for (_, p) in &batch {
        data.push_str(
            p.field("message")
                .and_then(FieldValue::as_text)
                .unwrap_or(""),
        );
        ends.push(u32::try_from(data.len()).unwrap_or(u32::MAX));
    }
    let processed = processor.process(source, &data, &ends);
    let (places, points): (Vec<usize>, Vec<Point>) = batch.into_iter().unzip();
    // What each line became: its points, or why it failed.
    let mut results: Vec<Option<Result<Vec<Point>, String>>> = vec![None; points.len()];
    for part in processed.parts {
        match part {
            Part::Failed(f) => {
                let end = (f.lines.end as usize).min(points.len());
                for r in results.iter_mut().take(end).skip(f.lines.start as usize) {
                    *r = Some(Err(f.kind.clone()));
                }
            }
            Part::Records(chunk) => {
                let (base, end) = (chunk.lines.start as usize, chunk.lines.end as usize);
                let end = end.min(points.len());
                let text = data.get(chunk.bytes.clone()).unwrap_or_default();
                match records(&points[base..end], &chunk.output, text) {
                    Ok(per_line) => {
                        for (i, r) in per_line.into_iter().enumerate() {
                            results[base + i] = Some(r);
                        }
                    }
                    Err(()) => {
                        for r in &mut results[base..end] {
                            *r = Some(Err("malformed".into()));
                        }
                    }
                }
            }
        }
    }
    let produced: usize = results
        .iter()
        .map(|r| match r {
            Some(Ok(records)) => records.len(),
            _ => 0,
        })
        .sum();
    processor.delivered(produced as u64);
    for ((place, p), r) in places.into_iter().zip(points).zip(results) {
        made[place] = match r {
            Some(Ok(records)) => records,
            Some(Err(kind)) => vec![tagged(p, &kind)],
            None => vec![tagged(p, "unprocessed")],
        };
    }
}

/// The points of one run's records, per line (a line with an invalid record fails whole); or
/// `Err` when the output is malformed.
#[allow(clippy::type_complexity)]
fn records(
    originals: &[Point],
    output: &[u8],
    text: &str,
) -> Result<Vec<Result<Vec<Point>, String>>, ()> {
    let mut per_line: Vec<Result<Vec<Point>, String>> = vec![Ok(Vec::new()); originals.len()];
    let mut reader = RecordReader::new(output, text, originals.len()).map_err(|_| ())?;
    let mut parts = Parts::default();
    while let Some(rec) = reader.next_record() {
        let (h, items) = rec.map_err(|_| ())?;
        let i = h.line as usize;
        let Some(orig) = originals.get(i) else {
            return Err(());
        };
        if let Ok(made) = &mut per_line[i] {
            parts.sort(h.keep_message, items);
            match point_of(orig, h.time, &parts) {
                Some(p) => made.push(p),
                None => per_line[i] = Err("invalid_record".into()),
            }
        }
    }
    Ok(per_line)
}

/// The point of one record (its items sorted into `parts`) made from `orig`: its tags win over
/// the record's, and the original's other fields follow the record's (its `message` only when
/// the record keeps it).
fn point_of(orig: &Point, time: Option<i64>, parts: &Parts<'_>) -> Option<Point> {
    let measurement = parts
        .measurement
        .map_or_else(|| orig.measurement().to_string(), str::to_string);
    let mut tags: Vec<(String, String)> = orig.tags().to_vec();
    // Keys seen, so that merging stays linear however many fields a line has.
    let orig_tags: HashSet<&str> = orig.tags().iter().map(|(k, _)| k.as_str()).collect();
    for &(k, v) in &parts.tags {
        if !orig_tags.contains(k) {
            tags.push((k.to_string(), v.to_string()));
        }
    }
    // The record's fields (each key once: `Parts` keeps a repeated key's last value), then the
    // original's other fields.
    let mut fields: Vec<(String, FieldValue)> =
        Vec::with_capacity(parts.fields.len() + orig.fields().len());
    let record_fields: HashSet<&str> = parts.fields.iter().map(|(k, _)| *k).collect();
    fields.extend(parts.fields.iter().map(|&(k, v)| (k.to_string(), v.into())));
    for (k, v) in orig.fields() {
        let k = k.as_str();
        let keep = if k == "message" {
            parts.add_message
        } else {
            !record_fields.contains(k)
        };
        if keep {
            fields.push((k.to_string(), v.clone()));
        }
    }
    Point::new(
        measurement,
        tags,
        fields,
        time.unwrap_or_else(|| orig.timestamp_ns()),
        orig.category(),
    )
    .ok()
}

/// `p` as it came, tagged with why the pipeline did not process it.
fn tagged(mut p: Point, kind: &str) -> Point {
    p.add_tag_if_missing("pipeline_error", kind);
    p
}
