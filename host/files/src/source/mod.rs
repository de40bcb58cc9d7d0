//! The running file source: one thread per task. Each thread discovers files (a scan every
//! `scan_interval`, sooner on notify events for created, renamed and removed files, and in full
//! after an inotify overflow), keeps one instance per file, reads the instances in turn with
//! positioned reads, and hands their records to the IO layer with an acknowledgement. Offsets
//! move with the sliding window ([`crate::window`]) and are saved in RocksDB as soon as it moves
//! (one write per turn of the loop), when a file is closed, and when the agent stops.
//!
//! Why threads and not tokio tasks: reads and RocksDB writes block, notify calls back on its own
//! thread, and a task count is small (one per `[[files]]` table), so a plain loop per task is the
//! simplest thing that keeps the runtime's workers free.

mod discovery;
mod instance;
mod read;
mod runner;
mod send;
mod stats;
mod stored;

pub(crate) use send::reserve_for;
pub use stats::{task_families, TaskSnapshot, TaskStats};

use crate::config::FileTask;
use crate::error::FilesError;
use crate::workers::Workers;
use runner::Runner;
use sandkit_io::pipeline::{LineProcessor, PipelineProvider};
use sandkit_io::{AckOutcome, Sink};
use sandkit_state::Store;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Bytes read from one file per turn.
const READ_CHUNK: usize = 256 << 10;
/// Batches of one file in flight at once, per worker: the bound on duplicates after a crash.
/// A task on N workers has N times as many, because its output takes batches N times as fast
/// and the time a batch spends in the output (joined into an upload, compressed, sent,
/// acknowledged) does not shrink (Little's law). With two more per worker instead, two workers
/// on two cores kept them busy about 83% of the time (docs/performance.md).
pub const MAX_IN_FLIGHT: usize = 4;
/// Longest sleep when there is nothing to read (new lines are noticed by polling the open
/// files; notify only tells about new, renamed and removed files).
const IDLE_POLL: Duration = Duration::from_millis(200);
/// Files a scan may return per task.
const SCAN_LIMIT: usize = 100_000;
/// How long a stopping task waits for the acknowledgements of its last batches.
const STOP_WAIT: Duration = Duration::from_secs(15);

enum Msg {
    /// Files were created, renamed or removed (`full`: events were lost, scan everything).
    Fs {
        full: bool,
    },
    Ack {
        serial: u64,
        seq: u64,
        outcome: AckOutcome,
    },
    Stop,
}

/// The file source of the agent: one thread per task.
#[derive(Debug)]
pub struct FileSource {
    threads: Vec<(String, JoinHandle<()>, Sender<Msg>)>,
    stop: Arc<AtomicBool>,
    stats: Vec<(String, Arc<TaskStats>)>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Fs { full } => write!(f, "Fs({full})"),
            Msg::Ack { serial, seq, .. } => write!(f, "Ack({serial},{seq})"),
            Msg::Stop => write!(f, "Stop"),
        }
    }
}

impl FileSource {
    /// Start one thread per task; tasks that name a pipeline get a processor of it from
    /// `pipelines`.
    ///
    /// # Errors
    /// Two tasks with one name, a task naming a pipeline when there are no pipelines, the
    /// store, or a thread that cannot be spawned.
    pub fn start(
        tasks: Vec<FileTask>,
        store: Store,
        sink: Sink,
        pipelines: Option<Arc<dyn PipelineProvider>>,
    ) -> Result<FileSource, FilesError> {
        let mut names = HashSet::new();
        for t in &tasks {
            if !names.insert(t.name.clone()) {
                return Err(FilesError::Task {
                    task: t.name.clone(),
                    reason: "two [[files]] tasks have this name; set `name` to tell them apart"
                        .into(),
                });
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut src = FileSource {
            threads: Vec::new(),
            stop: stop.clone(),
            stats: Vec::new(),
        };
        for task in tasks {
            let name = task.name.clone();
            // The outputs whose routes take this task (by its source or its name).
            let sink = sink.for_source(&[&task.source, &task.name]);
            // One processor (an instance of the pipeline) per thread that runs batches.
            let processors: Vec<Box<dyn LineProcessor>> = match (&task.pipeline, &pipelines) {
                (None, _) => Vec::new(),
                (Some(p), Some(provider)) => {
                    (0..task.workers).map(|_| provider.processor(p)).collect()
                }
                (Some(p), None) => {
                    return Err(FilesError::Task {
                        task: name,
                        reason: format!("names pipeline {p:?}, but this agent runs no pipelines"),
                    })
                }
            };
            let stats = Arc::new(TaskStats::default());
            let (tx, rx) = channel();
            let mut runner = Runner::new(
                task,
                store.clone(),
                sink.clone(),
                tx.clone(),
                rx,
                stats.clone(),
                stop.clone(),
            )?;
            if processors.len() > 1 {
                let workers = Workers::start(
                    runner.out.task.clone(),
                    store.clone(),
                    sink.clone(),
                    stats.clone(),
                    processors,
                )
                .map_err(|e| FilesError::Task {
                    task: name.clone(),
                    reason: format!("cannot start its worker threads: {e}"),
                })?;
                runner.out.workers = Some(workers);
            } else {
                runner.out.processor = processors.into_iter().next();
            }
            let handle = std::thread::Builder::new()
                .name(format!("files-{name}"))
                .spawn(move || runner.run())
                .map_err(|e| FilesError::Task {
                    task: name.clone(),
                    reason: format!("cannot start its thread: {e}"),
                })?;
            src.threads.push((name.clone(), handle, tx));
            src.stats.push((name, stats));
        }
        Ok(src)
    }

    /// Counters per task.
    pub fn stats(&self) -> &[(String, Arc<TaskStats>)] {
        &self.stats
    }

    /// Tell every task to stop reading and drop its `Sink` (so that the writer can finish);
    /// then [`FileSource::join`] waits for the last acknowledgements and the saved offsets.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for (_, _, tx) in &self.threads {
            let _ = tx.send(Msg::Stop);
        }
    }

    /// Wait for every task to save its offsets and end (blocking).
    pub fn join(self) {
        self.request_stop();
        for (name, h, _) in self.threads {
            if h.join().is_err() {
                tracing::error!(task = %name, "files.task thread panicked");
            }
        }
    }
}
