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

use crate::config::FileTask;
use crate::error::FilesError;
use crate::identity::{compare, fingerprint, FileId, Fingerprint, Seen, FINGERPRINT_BYTES};
use crate::lines::{LineBatch, LineSplitter};
use crate::multiline::Multiline;
use crate::parse::{write_raw, FileCtx, TagCache};
use crate::window::OffsetWindow;
use crate::workers::{Job, Workers};
use notify::{EventKind, RecursiveMode, Watcher};
use sandkit_io::now_ns;
use sandkit_io::pipeline::{LineProcessor, PipelineProvider};
use sandkit_io::{Ack, AckOutcome, LineWriter, SharedTags, Sink};
use sandkit_state::{Batch, Family, Store};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

/// Saved per file: where reading resumes, and what the file started with.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OffsetRecord {
    offset: u64,
    fp: Fingerprint,
}

/// Saved per file: its last path and whether an instance is reading it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct InstanceRecord {
    path: String,
    open: bool,
    updated_ns: i64,
}

/// Saved per task: that it has run before (files found at its first start are read from the
/// end unless `from_beginning`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TaskRecord {
    source: String,
    paths: Vec<String>,
    created_ns: i64,
}

/// Counters of one task.
#[derive(Debug, Default)]
pub struct TaskStats {
    pub files_open: AtomicU64,
    pub lines: AtomicU64,
    pub bytes: AtomicU64,
    pub truncated_lines: AtomicU64,
    pub invalid_utf8_lines: AtomicU64,
    /// Files read again from the start because they shrank or their first bytes changed.
    pub restarts: AtomicU64,
    /// Files closed after a rename, a deletion or a newer time-pattern file.
    pub rotations: AtomicU64,
    pub dropped_acks: AtomicU64,
    /// Records the pipeline made.
    pub pipeline_records: AtomicU64,
    /// Lines the pipeline did not process (passed on raw, or parked).
    pub pipeline_failed_lines: AtomicU64,
    /// Of those, lines parked in the dead-letter family (fail-closed pipelines).
    pub parked_lines: AtomicU64,
    /// Bytes of the open files not read yet (a gauge, updated as each file is looked at).
    pub lag_bytes: AtomicU64,
}

/// A copy of a task's counters, for `files.json` and `sandkit status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TaskSnapshot {
    pub task: String,
    pub files_open: u64,
    pub lines: u64,
    pub bytes: u64,
    pub truncated_lines: u64,
    pub invalid_utf8_lines: u64,
    pub restarts: u64,
    pub rotations: u64,
    pub dropped_acks: u64,
    pub pipeline_records: u64,
    pub pipeline_failed_lines: u64,
    pub parked_lines: u64,
    pub lag_bytes: u64,
}

impl TaskStats {
    pub fn snapshot(&self, task: &str) -> TaskSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TaskSnapshot {
            task: task.to_string(),
            files_open: get(&self.files_open),
            lines: get(&self.lines),
            bytes: get(&self.bytes),
            truncated_lines: get(&self.truncated_lines),
            invalid_utf8_lines: get(&self.invalid_utf8_lines),
            restarts: get(&self.restarts),
            rotations: get(&self.rotations),
            dropped_acks: get(&self.dropped_acks),
            pipeline_records: get(&self.pipeline_records),
            pipeline_failed_lines: get(&self.pipeline_failed_lines),
            parked_lines: get(&self.parked_lines),
            lag_bytes: get(&self.lag_bytes),
        }
    }
}

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
                    runner.task.clone(),
                    store.clone(),
                    sink.clone(),
                    stats.clone(),
                    processors,
                )
                .map_err(|e| FilesError::Task {
                    task: name.clone(),
                    reason: format!("cannot start its worker threads: {e}"),
                })?;
                runner.workers = Some(workers);
            } else {
                runner.processor = processors.into_iter().next();
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

/// One open file.
#[derive(Debug)]
struct Instance {
    serial: u64,
    id: FileId,
    key: String,
    path: PathBuf,
    filename: String,
    /// The points' tags: task tags and `filename`, without and with `truncated=true`.
    tags: [SharedTags; 2],
    file: File,
    fp: Fingerprint,
    splitter: LineSplitter,
    multiline: Option<Multiline>,
    window: OffsetWindow,
    saved: u64,
    /// Match time of a time-pattern file.
    time: Option<u64>,
    /// At the end of the file since.
    eof_since: Option<Instant>,
    /// Tag sets of pipeline records.
    tag_cache: TagCache,
    /// Renamed out of the rule or deleted: finish and close.
    detached: bool,
    /// The last records were flushed; close once acknowledged.
    finishing: bool,
    last_ts: i64,
    /// Bytes of the file not read yet, at the last look (counted in `TaskStats::lag_bytes`).
    lag: u64,
}

impl Instance {
    /// Lines as records: through the multi-line joiner when there is one; with `flush`, its
    /// held record too (the file is finished).
    fn records(&mut self, lines: LineBatch, flush: bool) -> LineBatch {
        let Some(m) = self.multiline.as_mut() else {
            return lines;
        };
        let mut out = LineBatch::new();
        m.push_all(&lines, &mut out);
        if flush {
            m.flush(&mut out);
        }
        out
    }

    /// Read again from `offset`: unfinished lines and records are forgotten, and the
    /// acknowledgements of batches already out are ignored (duplicates stay within the window).
    fn rewind(&mut self, offset: u64) {
        self.splitter.reset(offset);
        self.window.reset(offset);
        if let Some(m) = self.multiline.as_mut() {
            m.reset();
        }
        self.finishing = false;
        self.eof_since = None;
    }
}

struct Runner {
    task: Arc<FileTask>,
    store: Store,
    sink: Option<Sink>,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    stats: Arc<TaskStats>,
    stop: Arc<AtomicBool>,
    open: HashMap<u64, Instance>,
    by_id: HashMap<FileId, u64>,
    next_serial: u64,
    /// Files found by the first scan of a task never run before start at their end.
    first_scan_from_end: bool,
    /// No record of this task yet: one is written after the first scan's offsets.
    new_task: bool,
    scan_at: Instant,
    newest_time: Option<u64>,
    buf: Vec<u8>,
    watcher: Option<notify::RecommendedWatcher>,
    watched: HashSet<PathBuf>,
    /// The task's pipeline, if it names one (and runs it on this thread).
    processor: Option<Box<dyn LineProcessor>>,
    /// The threads that run the pipeline instead (`workers` above 1).
    workers: Option<Workers>,
}

impl Runner {
    fn new(
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
            task: Arc::new(task),
            store,
            sink: Some(sink),
            tx,
            rx,
            stats,
            stop,
            open: HashMap::new(),
            by_id: HashMap::new(),
            next_serial: 0,
            scan_at: Instant::now(),
            newest_time: None,
            buf: vec![0; READ_CHUNK],
            watcher,
            watched: HashSet::new(),
            processor: None,
            workers: None,
        })
    }

    fn remember_task(&self) {
        let rec = TaskRecord {
            source: self.task.source.clone(),
            paths: self
                .task
                .rules
                .rules()
                .iter()
                .map(|r| r.pattern().to_string())
                .collect(),
            created_ns: now_ns(),
        };
        if let Err(e) = self.store.put(Family::Tasks, &self.task.name, &rec) {
            tracing::warn!(task = %self.task.name, error = %e, "files.state cannot save the task");
        }
    }

    fn key(&self, id: FileId) -> String {
        format!("{}/{id}", self.task.name)
    }

    fn run(mut self) {
        tracing::info!(task = %self.task.name, paths = ?self.task.rules.rules().iter().map(|r| r.pattern()).collect::<Vec<_>>(), "files.task started");
        while !self.stop.load(Ordering::Relaxed) {
            self.handle_messages(None);
            // Saved as soon as the window moves: after a crash, only the batches in flight
            // (at most one window) are read again.
            self.save_offsets();
            if Instant::now() >= self.scan_at {
                self.scan();
                self.scan_at = Instant::now() + self.task.scan_interval;
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
    fn handle_messages(&mut self, wait: Option<Duration>) {
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

    fn acked(&mut self, serial: u64, seq: u64, outcome: AckOutcome) {
        let Some(inst) = self.open.get_mut(&serial) else {
            return;
        };
        if outcome == AckOutcome::Lost {
            // The batch did not reach the output (the writer stopped, or an output task
            // failed): read again from the committed offset; later acks of this window are
            // ignored, so duplicates stay within it.
            let at = inst.window.committed();
            tracing::warn!(task = %self.task.name, file = %inst.path.display(), offset = at, "files.instance a batch was lost before the output: reading again from the last saved offset");
            inst.rewind(at);
            return;
        }
        if outcome == AckOutcome::Dropped {
            self.stats.dropped_acks.fetch_add(1, Ordering::Relaxed);
        }
        inst.window.complete(seq);
    }

    /// Watch the rules' roots that exist (again after they appear), then match files.
    fn scan(&mut self) {
        if let Some(w) = self.watcher.as_mut() {
            for root in self.task.rules.roots() {
                if !self.watched.contains(&root) && root.is_dir() {
                    match w.watch(&root, RecursiveMode::Recursive) {
                        Ok(()) => {
                            self.watched.insert(root);
                        }
                        Err(e) => {
                            tracing::warn!(task = %self.task.name, dir = %root.display(), error = %e, "files.watch cannot watch; relying on the periodic scan")
                        }
                    }
                }
            }
        }
        let found = self.task.rules.scan(SCAN_LIMIT);
        self.newest_time = found.iter().filter_map(|(_, m)| m.time).max();
        let mut seen = HashSet::new();
        for (path, m) in found {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let id = FileId::of(&meta);
            seen.insert(id);
            if let Some(inst) = self.by_id.get(&id).and_then(|s| self.open.get_mut(s)) {
                if inst.path != path {
                    tracing::info!(task = %self.task.name, from = %inst.path.display(), to = %path.display(), "files.instance renamed");
                    inst.filename = file_name(&path);
                    inst.tags = file_tags(&self.task, &inst.filename);
                    inst.tag_cache = TagCache::default();
                    inst.path = path;
                }
                inst.time = m.time;
                if inst.detached {
                    inst.detached = false;
                    inst.finishing = false;
                    inst.eof_since = None;
                }
                // Truncated and written past the old offset before a read noticed the shrink:
                // the first bytes tell.
                if compare(inst.fp, &inst.file, meta.len()).is_ok_and(|s| s == Seen::Changed) {
                    restart(&self.task.name, &self.stats, inst, meta.len());
                }
                continue;
            }
            self.open_file(&path, id, meta.len(), m.time);
        }
        self.first_scan_from_end = false;
        for inst in self.open.values_mut() {
            if !seen.contains(&inst.id) && !inst.detached && path_gone(&inst.path, inst.id) {
                tracing::info!(task = %self.task.name, file = %inst.path.display(), "files.instance renamed away or deleted; reading it to its end");
                inst.detached = true;
            }
        }
        self.forget_gone(&seen);
    }

    /// Delete the records of files that no scan finds any more and that are not open.
    fn forget_gone(&mut self, seen: &HashSet<FileId>) {
        let prefix = format!("{}/", self.task.name);
        let Ok(records) = self
            .store
            .scan::<InstanceRecord>(Family::Instances, &prefix)
        else {
            return;
        };
        let open: HashSet<String> = self.open.values().map(|i| i.key.clone()).collect();
        let seen_keys: HashSet<String> = seen.iter().map(|id| self.key(*id)).collect();
        let mut batch = Batch::new();
        let mut n = 0;
        for (key, rec) in records {
            let Some(id) = key.rsplit('/').next().and_then(parse_id) else {
                continue;
            };
            // A file that is only out of sight (a directory unreadable for a while, a volume
            // not mounted yet, the scan limit) keeps its offset.
            if !open.contains(&key)
                && !seen_keys.contains(&key)
                && path_gone(Path::new(&rec.path), id)
            {
                batch.delete(Family::Instances, &key);
                batch.delete(Family::Offsets, &key);
                n += 1;
            }
        }
        if n > 0 {
            if let Err(e) = self.store.write(batch) {
                tracing::warn!(task = %self.task.name, error = %e, "files.state cannot forget gone files");
            }
        }
    }

    /// Open a file found by a scan, at its saved offset (or at its start or end when new).
    fn open_file(&mut self, path: &Path, id: FileId, len: u64, time: Option<u64>) {
        let key = self.key(id);
        let saved: Option<OffsetRecord> = match self.store.get(Family::Offsets, &key) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(task = %self.task.name, file = %path.display(), error = %e, "files.state unreadable offset; reading the file from the start");
                None
            }
        };
        if saved.as_ref().is_some_and(|s| {
            s.offset == len && s.fp.len as usize >= FINGERPRINT_BYTES.min(len as usize)
        }) {
            return; // read to its end before and unchanged: stays closed
        }
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(task = %self.task.name, file = %path.display(), error = %e, "files.instance cannot open");
                return;
            }
        };
        let Ok(meta) = file.metadata() else { return };
        if FileId::of(&meta) != id {
            return; // replaced between the scan and the open: the next scan sees the new one
        }
        let len = meta.len();
        let start = match &saved {
            Some(s) => match compare(s.fp, &file, len) {
                Ok(Seen::Same) if len >= s.offset => s.offset,
                Ok(_) => {
                    tracing::info!(task = %self.task.name, file = %path.display(), saved_offset = s.offset, size = len, "files.instance content changed since last seen (truncated or a reused inode): reading from the start");
                    self.stats.restarts.fetch_add(1, Ordering::Relaxed);
                    0
                }
                Err(_) => return,
            },
            None if self.first_scan_from_end => len,
            None => 0,
        };
        let Ok(fp) = fingerprint(&file, len) else {
            return;
        };
        let serial = self.next_serial;
        self.next_serial += 1;
        let t = &self.task;
        let inst = Instance {
            serial,
            id,
            key: key.clone(),
            path: path.to_path_buf(),
            filename: file_name(path),
            tags: file_tags(t, &file_name(path)),
            file,
            fp,
            splitter: LineSplitter::new(t.line, start),
            multiline: t
                .multiline
                .clone()
                .map(|re| Multiline::new(re, t.line.max_line_bytes)),
            window: OffsetWindow::new(start),
            saved: u64::MAX,
            time,
            eof_since: None,
            tag_cache: TagCache::default(),
            detached: false,
            finishing: false,
            last_ts: 0,
            lag: 0,
        };
        tracing::info!(task = %t.name, file = %path.display(), offset = start, "files.instance opened");
        let rec = InstanceRecord {
            path: path.display().to_string(),
            open: true,
            updated_ns: now_ns(),
        };
        if let Err(e) = self.store.put(Family::Instances, &key, &rec) {
            tracing::warn!(task = %t.name, error = %e, "files.state cannot save the instance");
        }
        self.stats.files_open.fetch_add(1, Ordering::Relaxed);
        self.by_id.insert(id, serial);
        self.open.insert(serial, inst);
    }

    /// Read one chunk of one file and send its records. Returns whether anything was read.
    fn pump(&mut self, serial: u64) -> bool {
        let Some(inst) = self.open.get_mut(&serial) else {
            return false;
        };
        let max_in_flight = MAX_IN_FLIGHT * self.task.workers;
        if inst.finishing || inst.window.in_flight() >= max_in_flight {
            return false;
        }
        let Ok(meta) = inst.file.metadata() else {
            return false;
        };
        let pos = inst.splitter.next_offset();
        let size = meta.len();
        let lag = size.saturating_sub(pos);
        if lag != inst.lag {
            self.stats.lag_bytes.fetch_add(lag, Ordering::Relaxed);
            self.stats.lag_bytes.fetch_sub(inst.lag, Ordering::Relaxed);
            inst.lag = lag;
        }
        if size < pos {
            restart(&self.task.name, &self.stats, inst, size);
            return true;
        }
        if meta.nlink() == 0 && !inst.detached {
            tracing::info!(task = %self.task.name, file = %inst.path.display(), "files.instance deleted; reading it to its end");
            inst.detached = true;
        }
        let mut records = LineBatch::new();
        if size == pos {
            inst.eof_since.get_or_insert_with(Instant::now);
            if let Some(m) = inst.multiline.as_mut() {
                if m.idle_since()
                    .is_some_and(|t| t.elapsed() >= self.task.multiline_timeout)
                {
                    m.flush(&mut records);
                }
            }
            if records.is_empty() {
                return false;
            }
        } else {
            let want = usize::try_from(size - pos)
                .unwrap_or(READ_CHUNK)
                .min(READ_CHUNK);
            let n = match inst.file.read_at(&mut self.buf[..want], pos) {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(task = %self.task.name, file = %inst.path.display(), error = %e, "files.instance read failed");
                    return false;
                }
            };
            if n == 0 {
                return false;
            }
            inst.eof_since = None;
            self.stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
            let before = inst.splitter.stats;
            // Lines of nginx's access log are 150-250 bytes; a batch of shorter lines grows.
            let mut lines = LineBatch::with_capacity(n + inst.splitter.partial_len(), n / 128 + 1);
            inst.splitter.feed(&self.buf[..n], &mut lines);
            let after = inst.splitter.stats;
            self.stats
                .lines
                .fetch_add(after.lines - before.lines, Ordering::Relaxed);
            self.stats
                .truncated_lines
                .fetch_add(after.truncated - before.truncated, Ordering::Relaxed);
            self.stats
                .invalid_utf8_lines
                .fetch_add(after.invalid_utf8 - before.invalid_utf8, Ordering::Relaxed);
            records = inst.records(lines, false);
        }
        let run = Run {
            processor: self.processor.as_deref_mut(),
            workers: self.workers.as_ref(),
        };
        send(
            &self.task,
            self.sink.as_ref(),
            &self.tx,
            &self.stats,
            &self.store,
            run,
            inst,
            records,
        );
        true
    }

    /// Finish files that are renamed away, deleted, superseded by a newer time-pattern file or
    /// inactive, once they are at their end and idle long enough; close them once their last
    /// records are acknowledged.
    fn close_finished(&mut self) {
        let mut close = Vec::new();
        for inst in self.open.values_mut() {
            let Some(since) = inst.eof_since else {
                continue;
            };
            let superseded = matches!((inst.time, self.newest_time), (Some(t), Some(n)) if n > t);
            let wait = if inst.detached || superseded {
                self.task.rotate_wait
            } else {
                match self.task.close_inactive {
                    Some(w) => w,
                    None => continue,
                }
            };
            if since.elapsed() < wait {
                continue;
            }
            // Finish only what is really at its end: the window may have kept `pump` from
            // reading bytes written since `eof_since` was set.
            if !inst.finishing
                && inst
                    .file
                    .metadata()
                    .map_or(true, |m| m.len() != inst.splitter.next_offset())
            {
                inst.eof_since = None;
                continue;
            }
            if !inst.finishing {
                // The file is done: its unfinished line and held record go out now. An inactive
                // file keeps them: it may grow again.
                if inst.detached || superseded {
                    let mut lines = LineBatch::new();
                    inst.splitter.flush(&mut lines);
                    let out = inst.records(lines, true);
                    let run = Run {
                        processor: self.processor.as_deref_mut(),
                        workers: self.workers.as_ref(),
                    };
                    send(
                        &self.task,
                        self.sink.as_ref(),
                        &self.tx,
                        &self.stats,
                        &self.store,
                        run,
                        inst,
                        out,
                    );
                    self.stats.rotations.fetch_add(1, Ordering::Relaxed);
                }
                inst.finishing = true;
            }
            if inst.window.in_flight() == 0 {
                close.push(inst.serial);
            }
        }
        for s in close {
            if let Some(inst) = self.open.remove(&s) {
                self.by_id.remove(&inst.id);
                self.save_one(&inst, false);
                self.stats.files_open.fetch_sub(1, Ordering::Relaxed);
                self.stats.lag_bytes.fetch_sub(inst.lag, Ordering::Relaxed);
                tracing::info!(task = %self.task.name, file = %inst.path.display(), offset = inst.window.committed(), "files.instance closed");
            }
        }
    }

    fn save_one(&self, inst: &Instance, open: bool) {
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
            .and_then(|()| self.store.write(b));
        if let Err(e) = r {
            tracing::warn!(task = %self.task.name, file = %inst.path.display(), error = %e, "files.state cannot save the offset");
        }
    }

    /// Save the offsets that moved since the last save, in one write.
    fn save_offsets(&mut self) {
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
            match self.store.write(b) {
                Ok(()) => {
                    for inst in self.open.values_mut() {
                        inst.saved = inst.window.committed();
                    }
                }
                Err(e) => {
                    tracing::warn!(task = %self.task.name, error = %e, "files.state cannot save offsets; trying again");
                }
            }
        }
    }

    /// Stop: hand the `Sink` back, wait for the last acknowledgements, save every offset.
    fn finish(mut self) {
        self.sink = None;
        // Batches handed to workers are run and sent before their acknowledgements are awaited.
        if let Some(w) = self.workers.as_mut() {
            w.stop();
        }
        let deadline = Instant::now() + STOP_WAIT;
        while self.open.values().any(|i| i.window.in_flight() > 0) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!(task = %self.task.name, "files.task stopping without every acknowledgement: those records are read again at the next start");
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
        if let Err(e) = self.store.sync() {
            tracing::warn!(task = %self.task.name, error = %e, "files.state cannot sync");
        }
        drop(self.watcher.take());
        tracing::info!(task = %self.task.name, lines = self.stats.lines.load(Ordering::Relaxed), "files.task stopped");
    }
}

/// `dev:ino` as written in keys.
fn parse_id(s: &str) -> Option<FileId> {
    let (d, i) = s.split_once(':')?;
    Some(FileId {
        dev: d.parse().ok()?,
        ino: i.parse().ok()?,
    })
}

/// The file is positively gone from `path`: nothing there, or another file.
fn path_gone(path: &Path, id: FileId) -> bool {
    match std::fs::metadata(path) {
        Ok(m) => FileId::of(&m) != id,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// The file was truncated (copytruncate) or rewritten: read it again from the start.
fn restart(task: &str, stats: &TaskStats, inst: &mut Instance, size: u64) {
    tracing::warn!(task = %task, file = %inst.path.display(), offset = inst.splitter.next_offset(), size, "files.instance truncated or rewritten (copytruncate): reading from the start");
    stats.restarts.fetch_add(1, Ordering::Relaxed);
    inst.rewind(0);
    inst.fp = fingerprint(&inst.file, size).unwrap_or(inst.fp);
    inst.saved = u64::MAX;
}

/// The tag sets of a file's points. Task tags are validated with the config and `filename`
/// and `truncated` are reserved there, so this cannot fail; if it ever did, the points would
/// carry the task tags only.
fn file_tags(task: &FileTask, filename: &str) -> [SharedTags; 2] {
    let make = |truncated: bool| {
        let mut tags = task.tags.clone();
        tags.push(("filename".to_string(), filename.to_string()));
        if truncated {
            tags.push(("truncated".to_string(), "true".to_string()));
        }
        SharedTags::new(tags)
            .or_else(|_| SharedTags::new(task.tags.clone()))
            .unwrap_or_else(|_| SharedTags::empty())
    };
    [make(false), make(true)]
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Where a task's batches run through its pipeline: on its own thread, or on its workers.
struct Run<'a> {
    processor: Option<&'a mut (dyn LineProcessor + 'static)>,
    workers: Option<&'a Workers>,
}

/// Nanoseconds reserved per record for the times of a batch handed to a worker (records that
/// carry no time take the next one; a pipeline making more records than this per line without
/// times may give two records of consecutive batches one time).
const TS_PER_RECORD: i64 = 4;

/// Room for the line protocol of `records`: nginx lines parsed into DataKit's fields and kept
/// whole come to about 2.3 times their length.
pub(crate) fn reserve_for(records: &LineBatch) -> usize {
    records.text_len() * 5 / 2 + records.len() * 64
}

/// Write records as line protocol (through the task's pipeline, if any) and send them with an
/// acknowledgement that moves the window.
#[allow(clippy::too_many_arguments)]
fn send(
    task: &FileTask,
    sink: Option<&Sink>,
    tx: &Sender<Msg>,
    stats: &TaskStats,
    store: &Store,
    run: Run<'_>,
    inst: &mut Instance,
    records: LineBatch,
) {
    let (Some(sink), Some(last)) = (sink, records.last()) else {
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
    if let Some(workers) = run.workers {
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
            stats.dropped_acks.fetch_add(1, Ordering::Relaxed);
        }
        return;
    }
    let mut out = LineWriter::new(sink.uint_support());
    out.reserve(reserve_for(&records));
    let mut ts = now_ns().max(inst.last_ts + 1);
    match run.processor {
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
        stats.dropped_acks.fetch_add(1, Ordering::Relaxed);
    }
}
