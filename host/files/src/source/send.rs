//! Records to line protocol, through the task's pipeline on its thread or on its workers, sent
//! with an acknowledgement that moves the file's window.

use super::instance::Instance;
use super::stats::TaskStats;
use super::Msg;
use crate::config::FileTask;
use crate::events::{BatchGivenUp, Event, GivenUp};
use crate::lines::LineBatch;
use crate::pipeline::{write_raw, FileCtx};
use crate::workers::{Job, Workers};
use sandkit_io::now_ns;
use sandkit_io::pipeline::LineProcessor;
use sandkit_io::{Ack, LineWriter, Sink};
use sandkit_state::Store;
use std::sync::mpsc::Sender;
use std::sync::Arc;

/// What a task's records go through and to: its pipeline (on the task's thread or on its
/// workers), the output, and the channel their acknowledgements come back on.
pub(super) struct Outlet {
    pub(super) task: Arc<FileTask>,
    pub(super) store: Store,
    pub(super) sink: Option<Sink>,
    pub(super) tx: Sender<Msg>,
    pub(super) stats: Arc<TaskStats>,
    /// The task's pipeline, if it names one (and runs it on this thread).
    pub(super) processor: Option<Box<dyn LineProcessor>>,
    /// The threads that run the pipeline instead (`workers` above 1).
    pub(super) workers: Option<Workers>,
}

/// Nanoseconds reserved per record for the times of a batch handed to a worker (records that
/// carry no time take the next one; a pipeline making more records than this per line without
/// times may give two records of consecutive batches one time).
pub(super) const TS_PER_RECORD: i64 = 4;

/// Room for the line protocol of `records`: nginx lines parsed into DataKit's fields and kept
/// whole come to about 2.3 times their length.
pub(crate) fn reserve_for(records: &LineBatch) -> usize {
    records.text_len() * 5 / 2 + records.len() * 64
}

impl Outlet {
    /// Write records as line protocol (through the task's pipeline, if any) and send them with an
    /// acknowledgement that moves the window.
    pub(super) fn send(&mut self, inst: &mut Instance, records: LineBatch) {
        let Outlet {
            task,
            store,
            sink,
            tx,
            stats,
            processor,
            workers,
        } = self;
        let (task, stats) = (&**task, &**stats);
        let (Some(sink), Some(last)) = (sink.as_ref(), records.last()) else {
            return;
        };
        let end = last.end;
        let ack = |inst: &mut Instance| {
            let seq = inst.window.push(end);
            let serial = inst.serial;
            let tx = tx.clone();
            Ack::new(move |outcome| {
                let _ = tx.send(Msg::Ack {
                    serial,
                    seq,
                    outcome,
                });
            })
        };
        if let Some(workers) = workers.as_ref() {
            let ts = now_ns().max(inst.last_ts + 1);
            let span = (records.len() as i64 + 1) * TS_PER_RECORD;
            inst.last_ts = ts + span - 1;
            let job = Job {
                tags: inst.tags.clone(),
                serial: inst.serial,
                path: inst.path.display().to_string(),
                ts,
                ack: ack(inst),
                records,
            };
            // Workers are only gone once the task stops; the dropped acknowledgement reports the
            // batch lost, and its lines are read again at the next start.
            if !workers.submit(job) {
                BatchGivenUp {
                    why: GivenUp::Stopping,
                }
                .emit(&task.name, stats);
            }
            return;
        }
        let mut out = LineWriter::new(sink.uint_support());
        out.reserve(reserve_for(&records));
        let mut ts = now_ns().max(inst.last_ts + 1);
        match processor.as_deref_mut() {
            Some(proc) => {
                let path = inst.path.display().to_string();
                let mut ctx = FileCtx {
                    task,
                    store,
                    stats,
                    path: &path,
                    tags: &inst.tags,
                    cache: &mut inst.tag_cache,
                };
                ts -= 1;
                ctx.run(proc, &records, &mut ts, &mut out);
                ts += 1;
            }
            None => {
                for (r, text) in records.iter() {
                    let base = &inst.tags[usize::from(r.truncated)];
                    if !write_raw(&mut inst.tag_cache, task, base, r, text, &[], ts, &mut out) {
                        tracing::warn!(task = %task.name, file = %inst.path.display(), offset = r.start, "files.record cannot become a line");
                    }
                    ts += 1;
                }
            }
        }
        inst.last_ts = ts - 1;
        let ack = ack(inst);
        if sink
            .blocking_send_lines_acked(task.category, out.take(), ack)
            .is_err()
        {
            BatchGivenUp {
                why: GivenUp::Stopping,
            }
            .emit(&task.name, stats);
        }
    }
}
