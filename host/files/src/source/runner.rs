//! The loop of one task's thread: messages (file events, acknowledgements, stop), the turns
//! that scan, read and close files, and saving offsets.

use super::instance::Instance;
use super::send::Outlet;
use super::stats::TaskStats;
use super::stored::{InstanceRecord, OffsetRecord, TaskRecord};
use super::{Msg, IDLE_POLL, READ_CHUNK, STOP_WAIT};
use crate::config::FileTask;
use crate::error::FilesError;
use crate::events::{BatchGivenUp, Event, GivenUp};
use crate::identity::{fingerprint, FileId, FINGERPRINT_BYTES};
use notify::EventKind;
use sandkit_io::now_ns;
use sandkit_io::{AckOutcome, Sink};
use sandkit_state::{Batch, Family, Store};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(super) struct Runner {
    /// The task, and where its records go.
    pub(super) out: Outlet,
    pub(super) rx: Receiver<Msg>,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) open: HashMap<u64, Instance>,
    pub(super) by_id: HashMap<FileId, u64>,
    pub(super) next_serial: u64,
    /// Files found by the first scan of a task never run before start at their end.
    pub(super) first_scan_from_end: bool,
    /// No record of this task yet: one is written after the first scan's offsets.
    pub(super) new_task: bool,
    pub(super) scan_at: Instant,
    pub(super) newest_time: Option<u64>,
    pub(super) buf: Vec<u8>,
    pub(super) watcher: Option<notify::RecommendedWatcher>,
    pub(super) watched: HashSet<PathBuf>,
}

impl Runner {
    pub(super) fn new(
        task: FileTask,
        store: Store,
        sink: Sink,
        tx: Sender<Msg>,
        rx: Receiver<Msg>,
        stats: Arc<TaskStats>,
        stop: Arc<AtomicBool>,
    ) -> Result<Runner, FilesError> {
        let state_err = |e: sandkit_state::StateError| FilesError::State {
            task: task.name.clone(),
            source: e,
        };
        let known: Option<TaskRecord> = store.get(Family::Tasks, &task.name).map_err(state_err)?;
        let wtx = tx.clone();
        let watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            let full = match &ev {
                Err(_) => true,
                Ok(e) if e.need_rescan() => true,
                Ok(e) => match e.kind {
                    EventKind::Create(_) | EventKind::Remove(_) => false,
                    EventKind::Modify(notify::event::ModifyKind::Name(_)) => false,
                    _ => return,
                },
            };
            let _ = wtx.send(Msg::Fs { full });
        })
        .map_err(|e| {
            tracing::warn!(task = %task.name, error = %e, "files.watch unavailable; new files are found by the periodic scan only");
        })
        .ok();
        Ok(Runner {
            first_scan_from_end: known.is_none() && !task.from_beginning,
            new_task: known.is_none(),
            out: Outlet {
                task: Arc::new(task),
                store,
                sink: Some(sink),
                tx,
                stats,
                processor: None,
                workers: None,
            },
            rx,
            stop,
            open: HashMap::new(),
            by_id: HashMap::new(),
            next_serial: 0,
            scan_at: Instant::now(),
            newest_time: None,
            buf: vec![0; READ_CHUNK],
            watcher,
            watched: HashSet::new(),
        })
    }

    pub(super) fn remember_task(&self) {
        let rec = TaskRecord {
            source: self.out.task.source.clone(),
            paths: self
                .out
                .task
                .rules
                .rules()
                .iter()
                .map(|r| r.pattern().to_string())
                .collect(),
            created_ns: now_ns(),
        };
        if let Err(e) = self.out.store.put(Family::Tasks, &self.out.task.name, &rec) {
            tracing::warn!(task = %self.out.task.name, error = %e, "files.state cannot save the task");
        }
    }

    pub(super) fn key(&self, id: FileId) -> String {
        format!("{}/{id}", self.out.task.name)
    }

    pub(super) fn run(mut self) {
        tracing::info!(task = %self.out.task.name, paths = ?self.out.task.rules.rules().iter().map(|r| r.pattern()).collect::<Vec<_>>(), "files.task started");
        while !self.stop.load(Ordering::Relaxed) {
            self.handle_messages(None);
            // Saved as soon as the window moves: after a crash, only the batches in flight
            // (at most one window) are read again.
            self.save_offsets();
            if Instant::now() >= self.scan_at {
                self.scan();
                self.scan_at = Instant::now() + self.out.task.scan_interval;
                if std::mem::take(&mut self.new_task) {
                    // Only now, with the end offsets of the files found saved, is the task
                    // known: a crash before this reads them from the end again, not from 0.
                    self.save_offsets();
                    self.remember_task();
                }
            }
            let mut progress = false;
            let serials: Vec<u64> = self.open.keys().copied().collect();
            for s in serials {
                progress |= self.pump(s);
            }
            self.close_finished();
            if !progress {
                let wait = IDLE_POLL.min(self.scan_at.saturating_duration_since(Instant::now()));
                self.handle_messages(Some(wait));
            }
        }
        self.finish();
    }

    /// Take pending messages; with `wait`, block up to it for the first one.
    pub(super) fn handle_messages(&mut self, wait: Option<Duration>) {
        let mut first = match wait {
            Some(w) => self.rx.recv_timeout(w).ok(),
            None => None,
        };
        loop {
            let m = match first.take() {
                Some(m) => m,
                None => match self.rx.try_recv() {
                    Ok(m) => m,
                    Err(_) => return,
                },
            };
            match m {
                Msg::Fs { full } => {
                    // Let a burst of events settle, then scan.
                    let soon = Instant::now() + Duration::from_millis(if full { 0 } else { 50 });
                    self.scan_at = self.scan_at.min(soon);
                }
                Msg::Ack {
                    serial,
                    seq,
                    outcome,
                } => self.acked(serial, seq, outcome),
                Msg::Stop => {}
            }
        }
    }

    pub(super) fn acked(&mut self, serial: u64, seq: u64, outcome: AckOutcome) {
        let Some(inst) = self.open.get_mut(&serial) else {
            return;
        };
        if outcome == AckOutcome::Lost {
            // The batch did not reach the output (the writer stopped, or an output task
            // failed): read again from the committed offset; later acks of this window are
            // ignored, so duplicates stay within it.
            let at = inst.window.committed();
            tracing::warn!(task = %self.out.task.name, file = %inst.path.display(), offset = at, "files.instance a batch was lost before the output: reading again from the last saved offset");
            inst.rewind(at);
            return;
        }
        if outcome == AckOutcome::Dropped {
            BatchGivenUp {
                why: GivenUp::ByTheOutput,
            }
            .emit(&self.out.task.name, &self.out.stats);
        }
        inst.window.complete(seq);
    }

    pub(super) fn save_one(&self, inst: &Instance, open: bool) {
        let mut b = Batch::new();
        let off = OffsetRecord {
            offset: inst.window.committed(),
            fp: inst.fp,
        };
        let rec = InstanceRecord {
            path: inst.path.display().to_string(),
            open,
            updated_ns: now_ns(),
        };
        let r = b
            .put(Family::Offsets, &inst.key, &off)
            .and_then(|()| b.put(Family::Instances, &inst.key, &rec))
            .and_then(|()| self.out.store.write(b));
        if let Err(e) = r {
            tracing::warn!(task = %self.out.task.name, file = %inst.path.display(), error = %e, "files.state cannot save the offset");
        }
    }

    /// Save the offsets that moved since the last save, in one write.
    pub(super) fn save_offsets(&mut self) {
        let mut b = Batch::new();
        let mut n = 0;
        for inst in self.open.values_mut() {
            let off = inst.window.committed();
            if off == inst.saved {
                continue;
            }
            // A file that was short when first seen gets a longer fingerprint once it has grown.
            if (inst.fp.len as usize) < FINGERPRINT_BYTES && off > u64::from(inst.fp.len) {
                if let Ok(fp) = fingerprint(&inst.file, off) {
                    inst.fp = fp;
                }
            }
            let rec = OffsetRecord {
                offset: off,
                fp: inst.fp,
            };
            if b.put(Family::Offsets, &inst.key, &rec).is_ok() {
                n += 1;
            }
        }
        if n > 0 {
            match self.out.store.write(b) {
                Ok(()) => {
                    for inst in self.open.values_mut() {
                        inst.saved = inst.window.committed();
                    }
                }
                Err(e) => {
                    tracing::warn!(task = %self.out.task.name, error = %e, "files.state cannot save offsets; trying again");
                }
            }
        }
    }

    /// Stop: hand the `Sink` back, wait for the last acknowledgements, save every offset.
    pub(super) fn finish(mut self) {
        self.out.sink = None;
        // Batches handed to workers are run and sent before their acknowledgements are awaited.
        if let Some(w) = self.out.workers.as_mut() {
            w.stop();
        }
        let deadline = Instant::now() + STOP_WAIT;
        while self.open.values().any(|i| i.window.in_flight() > 0) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!(task = %self.out.task.name, "files.task stopping without every acknowledgement: those records are read again at the next start");
                break;
            }
            match self.rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(Msg::Ack {
                    serial,
                    seq,
                    outcome,
                }) => self.acked(serial, seq, outcome),
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        for inst in self.open.values() {
            self.save_one(inst, false);
        }
        if let Err(e) = self.out.store.sync() {
            tracing::warn!(task = %self.out.task.name, error = %e, "files.state cannot sync");
        }
        drop(self.watcher.take());
        tracing::info!(task = %self.out.task.name, lines = self.out.stats.lines.load(Ordering::Relaxed), "files.task stopped");
    }
}
