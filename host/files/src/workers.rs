//! `workers = N`: a task's batches run through its pipeline on N threads, each with its own
//! instance of the pipeline, so that one busy file can use more than one core.
//!
//! The task's thread still reads, splits and joins lines, and it still owns the order: it pushes
//! each batch's end offset on the file's window and makes its acknowledgement before handing the
//! batch over, so offsets are committed in file order however the workers finish (the window
//! moves only over a contiguous run of acknowledged batches). A worker writes the batch's lines
//! and sends them itself. Batches are handed over through a queue of `2 * N`, and the window
//! bounds what is in flight per file, so memory stays bounded as with one thread.
//!
//! Lines of different batches may reach the output out of order between themselves; each line
//! keeps its own time (the record's, or one reserved for its batch by the task's thread).

use crate::config::FileTask;
use crate::events::{BatchGivenUp, Event, GivenUp};
use crate::lines::LineBatch;
use crate::pipeline::{FileCtx, TagCache};
use crate::source::TaskStats;
use sandkit_io::pipeline::LineProcessor;
use sandkit_io::{Ack, LineWriter, SharedTags, Sink};
use sandkit_state::Store;
use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Files whose line prefixes a worker keeps (a task with more files open recomputes them).
const FILES_CACHED: usize = 64;

/// One batch of one file, ready to run.
pub(crate) struct Job {
    pub records: LineBatch,
    /// The file's tags, without and with `truncated=true`.
    pub tags: [SharedTags; 2],
    /// The file (its instance's serial) and path.
    pub serial: u64,
    pub path: String,
    /// The first time the batch's records may take when they carry none.
    pub ts: i64,
    pub ack: Ack,
}

/// The worker threads of one task.
pub(crate) struct Workers {
    tx: Option<SyncSender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

/// What every worker of a task shares.
struct Shared {
    task: Arc<FileTask>,
    store: Store,
    sink: Sink,
    stats: Arc<TaskStats>,
    rx: Mutex<Receiver<Job>>,
}

impl Workers {
    /// One thread per processor.
    ///
    /// # Errors
    /// A thread that cannot be spawned.
    pub fn start(
        task: Arc<FileTask>,
        store: Store,
        sink: Sink,
        stats: Arc<TaskStats>,
        processors: Vec<Box<dyn LineProcessor>>,
    ) -> std::io::Result<Workers> {
        let (tx, rx) = sync_channel(2 * processors.len());
        let shared = Arc::new(Shared {
            task,
            store,
            sink,
            stats,
            rx: Mutex::new(rx),
        });
        let mut workers = Workers {
            tx: Some(tx),
            threads: Vec::new(),
        };
        for (i, processor) in processors.into_iter().enumerate() {
            let shared = shared.clone();
            let handle = std::thread::Builder::new()
                .name(format!("files-{}-w{i}", shared.task.name))
                .spawn(move || work(&shared, processor))?;
            workers.threads.push(handle);
        }
        Ok(workers)
    }

    /// Hand a batch over; waits while every worker is busy and the queue is full. False (and
    /// the job dropped, its acknowledgement reporting it lost) if the workers are gone.
    pub fn submit(&self, job: Job) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.send(job).is_ok())
    }

    /// Let the workers finish the batches handed over, and wait for them.
    pub fn stop(&mut self) {
        drop(self.tx.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop();
    }
}

fn work(shared: &Shared, mut processor: Box<dyn LineProcessor>) {
    let mut caches: HashMap<u64, TagCache> = HashMap::new();
    loop {
        let job = {
            let rx = shared.rx.lock().unwrap_or_else(|p| p.into_inner());
            rx.recv()
        };
        let Ok(job) = job else {
            return;
        };
        if caches.len() >= FILES_CACHED && !caches.contains_key(&job.serial) {
            caches.clear();
        }
        let cache = caches.entry(job.serial).or_default();
        let task = &*shared.task;
        let mut out = LineWriter::new(shared.sink.uint_support());
        out.reserve(crate::source::reserve_for(&job.records));
        let mut ctx = FileCtx {
            task,
            store: &shared.store,
            stats: &shared.stats,
            path: &job.path,
            tags: &job.tags,
            cache,
        };
        let mut ts = job.ts - 1;
        ctx.run(processor.as_mut(), &job.records, &mut ts, &mut out);
        if shared
            .sink
            .blocking_send_frame_acked(task.category, out.take(), job.ack)
            .is_err()
        {
            BatchGivenUp {
                why: GivenUp::Stopping,
            }
            .emit(&task.name, &shared.stats);
        }
    }
}
