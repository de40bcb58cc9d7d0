//! The seam between sources of log lines (files, later HTTP) and pipelines (Wasm components run
//! by the runtime). A source hands a batch of lines to a [`LineProcessor`] and gets back, in line
//! order, the records of the lines that were processed and the lines that were not, with why.
//! Sources never lose a line: failed lines are passed on raw with an error tag (fail-open) or
//! parked in a dead-letter store (fail-closed), as [`Processed::fail_closed`] says.

use std::ops::Range;

/// Records of a contiguous run of lines, in the record encoding ([`crate::records`]), relative
/// to that run: record line 0 is `lines.start`, references index `data[bytes]`.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub lines: Range<u32>,
    /// The run's bytes in the batch data.
    pub bytes: Range<usize>,
    /// The pipeline's output for this run: it starts with the magic; its records are checked
    /// as they are read ([`crate::records::RecordReader`]), and a reader that finds one malformed
    /// must pass the run's lines on unprocessed (`malformed`).
    pub output: Vec<u8>,
}

/// Lines the pipeline did not process.
#[derive(Debug, Clone)]
pub struct Failed {
    pub lines: Range<u32>,
    /// Short, stable kind for the `pipeline_error` tag: `unreachable`, `out_of_fuel`,
    /// `deadline`, `error`, `malformed`, `disabled`, `missing`, `unisolated`...
    pub kind: String,
    /// The error, for logs and the dead-letter store.
    pub message: String,
}

/// One part of a processed batch.
#[derive(Debug, Clone)]
pub enum Part {
    Records(Chunk),
    Failed(Failed),
}

/// A processed batch: parts in line order, covering every line exactly once.
#[derive(Debug, Clone, Default)]
pub struct Processed {
    pub parts: Vec<Part>,
    /// Failed lines are parked rather than passed on (the pipeline's `on_error = "park"`).
    pub fail_closed: bool,
}

impl Processed {
    /// Every line of a batch failed the same way.
    pub fn all_failed(lines: u32, kind: &str, message: String, fail_closed: bool) -> Self {
        Processed {
            parts: if lines == 0 {
                Vec::new()
            } else {
                vec![Part::Failed(Failed {
                    lines: 0..lines,
                    kind: kind.to_string(),
                    message,
                })]
            },
            fail_closed,
        }
    }

    /// Lines that failed, in total.
    pub fn failed_lines(&self) -> u32 {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Failed(f) => f.lines.end - f.lines.start,
                Part::Records(_) => 0,
            })
            .sum()
    }
}

/// Runs one pipeline for one source (a file task): owns its instance, so calls need no lock.
pub trait LineProcessor: Send {
    /// The pipeline's name.
    fn name(&self) -> &str;

    /// Process a batch: line `i` is `data[ends[i-1]..ends[i]]`. Never fails: what cannot be
    /// processed comes back as [`Part::Failed`].
    fn process(&mut self, source: &str, data: &str, ends: &[u32]) -> Processed;

    /// The source made `records` points of the records of its last batches (told after it
    /// read them, so the pipeline's status counts records as well as lines).
    fn delivered(&mut self, records: u64) {
        let _ = records;
    }
}

/// Makes processors by pipeline name (the runtime's registry of loaded pipelines).
pub trait PipelineProvider: Send + Sync {
    /// A processor for pipeline `name`; one that is not loaded (yet) gives a processor whose
    /// batches fail as `missing` until it is.
    fn processor(&self, name: &str) -> Box<dyn LineProcessor>;

    /// Whether pipeline `name` is loaded now.
    fn has(&self, name: &str) -> bool;
}
