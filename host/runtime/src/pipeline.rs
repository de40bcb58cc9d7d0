//! Pipelines: the registry of loaded pipeline plugins, and the runner that calls one for one
//! source, isolating the lines it cannot process.
//!
//! A batch whose call fails (trap, deadline, an error returned, an output without the record
//! encoding's magic) is retried once on a fresh instance. If it fails again, it is bisected: each half is called on its own, halves that pass
//! are kept, halves that fail are split again, down to single lines, which are the poison lines.
//! Every line ends up either in a record chunk or in a failed part; the source passes failed
//! lines on raw or parks them. The bisection spends at most `2 * log2(lines) + 8` failed calls on
//! a batch; past that, the ranges still unresolved fail whole (`unisolated`), so a pipeline that
//! fails on every line costs bounded time.
//!
//! Crashes follow the supervisor's rule with one difference: a pipeline is disabled after
//! `max_crashes` *consecutive* batches that crashed and lost at least half their lines (any other
//! batch resets the run), so poison lines, even one in every batch, do not disable a working
//! parser, while one that crashes on everything is disabled within `max_crashes` batches. A
//! batch whose instance cannot start or init fails whole at once (no bisection). A disabled pipeline fails every batch as `disabled`;
//! its lines pass through raw (or are parked). Replacing its file re-enables it.

use crate::config::{OnError, PluginConfig};
use crate::events::{
    AfterCrash, BatchCrashed, Call, CallCompleted, CallFailed, Crashed, Event, MemorySeen,
};
use crate::host::StateStore;
use crate::instance::Instance;
use crate::lock;
use crate::plugin::LoadedPlugin;
use crate::status::{PluginState, PluginStatus, StatusCell};
use crate::{Runtime, RuntimeError};
use sandkit_io::pipeline::{Chunk, Failed, LineProcessor, Part, PipelineProvider, Processed};
use sandkit_io::records::MAGIC;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// A loaded pipeline, shared by every source that names it.
pub struct PipelineEntry {
    pub(crate) plugin: LoadedPlugin,
    pub(crate) config: PluginConfig,
    pub(crate) status: Arc<StatusCell>,
    state: Arc<Mutex<StateStore>>,
    /// Batches in a row that crashed.
    consecutive: AtomicU32,
    /// A sample of its records against its description.
    conformance: crate::conformance::Conformance,
}

impl std::fmt::Debug for PipelineEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineEntry")
            .field("plugin", &self.plugin.name)
            .finish_non_exhaustive()
    }
}

impl PipelineEntry {
    pub(crate) fn new(plugin: LoadedPlugin, config: PluginConfig, status: Arc<StatusCell>) -> Self {
        PipelineEntry {
            conformance: crate::conformance::Conformance::new(
                crate::conformance::Declared::for_pipeline(&plugin.description),
            ),
            plugin,
            config,
            status,
            state: Arc::new(Mutex::new(StateStore::default())),
            consecutive: AtomicU32::new(0),
        }
    }

    fn disabled(&self) -> bool {
        self.status.state() == PluginState::Disabled
    }
}

/// The pipelines loaded from the plugins directory, by name.
pub struct PipelineRegistry {
    runtime: Arc<Runtime>,
    entries: Mutex<HashMap<String, Arc<PipelineEntry>>>,
    /// The default limits (`[runtime.limits]`), replaced by a config reload.
    base: Mutex<crate::config::Limits>,
}

impl std::fmt::Debug for PipelineRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineRegistry").finish_non_exhaustive()
    }
}

impl PipelineRegistry {
    pub fn new(runtime: Arc<Runtime>) -> Arc<Self> {
        Arc::new(PipelineRegistry {
            base: Mutex::new(runtime.config().limits),
            runtime,
            entries: Mutex::new(HashMap::new()),
        })
    }

    /// Register a loaded pipeline outside the supervisor (one-off commands, tests); its status.
    pub fn insert_loaded(&self, plugin: LoadedPlugin, config: PluginConfig) -> Arc<StatusCell> {
        let mut st = PluginStatus::new(&plugin.name, plugin.file.clone());
        st.hash = Some(plugin.hash.clone());
        st.description = Some(plugin.description.clone());
        st.state = PluginState::Running;
        let status = StatusCell::new(st);
        self.insert(PipelineEntry::new(plugin, config, status.clone()));
        status
    }

    /// The limits a pipeline runs with (see [`PluginConfig::for_pipeline`]).
    fn config_for(&self, config: &PluginConfig) -> PluginConfig {
        config.for_pipeline(*lock(&self.base))
    }

    /// New default limits (a config reload); pipelines registered from now on use them.
    pub(crate) fn set_base_limits(&self, limits: crate::config::Limits) {
        *lock(&self.base) = limits;
    }

    pub(crate) fn insert(&self, mut entry: PipelineEntry) {
        entry.config = self.config_for(&entry.config);
        lock(&self.entries).insert(entry.plugin.name.to_string(), Arc::new(entry));
    }

    pub(crate) fn remove(&self, name: &str) -> bool {
        lock(&self.entries).remove(name).is_some()
    }

    pub fn get(&self, name: &str) -> Option<Arc<PipelineEntry>> {
        lock(&self.entries).get(name).cloned()
    }

    /// A runner of pipeline `name` for one source. Its calls block the calling thread (a
    /// source's own thread) on `handle`; use [`PipelineRunner::process_async`] inside a runtime.
    pub fn runner(self: &Arc<Self>, name: &str, handle: tokio::runtime::Handle) -> PipelineRunner {
        PipelineRunner {
            registry: self.clone(),
            name: name.to_string(),
            handle,
            current: None,
            missing_parks: None,
        }
    }
}

/// Makes blocking runners for sources on their own threads.
#[derive(Debug, Clone)]
pub struct RegistryProvider {
    pub registry: Arc<PipelineRegistry>,
    pub handle: tokio::runtime::Handle,
}

impl PipelineProvider for RegistryProvider {
    fn processor(&self, name: &str) -> Box<dyn LineProcessor> {
        Box::new(self.registry.runner(name, self.handle.clone()))
    }

    fn has(&self, name: &str) -> bool {
        self.registry.get(name).is_some()
    }
}

/// Runs one pipeline for one source with its own instance.
pub struct PipelineRunner {
    registry: Arc<PipelineRegistry>,
    name: String,
    handle: tokio::runtime::Handle,
    current: Option<(Arc<PipelineEntry>, Instance)>,
    /// While the pipeline is not loaded: whether its conf.d file says `on_error = "park"` (read
    /// once, at the first batch that finds it missing).
    missing_parks: Option<bool>,
}

impl std::fmt::Debug for PipelineRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineRunner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Why a call gave nothing usable.
struct CallError {
    kind: String,
    message: String,
    /// The instance is gone (trap, deadline): a crash.
    crash: bool,
}

impl CallError {
    fn from_runtime(e: &RuntimeError) -> Self {
        // An error the guest returned is not a crash: the instance is fine.
        let said_no = matches!(e, RuntimeError::Guest { .. });
        CallError {
            kind: if said_no {
                "error".into()
            } else {
                e.crash_kind()
            },
            message: e.to_string(),
            crash: !said_no,
        }
    }
}

/// Records of each batch checked against the pipeline's description: the first ones of the
/// batch's first run of records. Checking every record would cost a lookup per field of every
/// line on the log path; a sample finds a pipeline that emits what it does not declare within a
/// batch or two, which is what the counter is for.
const CHECKED_PER_BATCH: usize = 4;

/// Check a sample of a batch's records against the pipeline's description; those unlike it
/// are counted in `undeclared_points`, each new kind of difference logged.
fn check_sample(entry: &PipelineEntry, source: &str, data: &str, processed: &Processed) {
    use sandkit_io::records::{Parts, RecordReader};
    let Some(chunk) = processed.parts.iter().find_map(|p| match p {
        Part::Records(c) => Some(c),
        Part::Failed(_) => None,
    }) else {
        return;
    };
    let sub = data.get(chunk.bytes.clone()).unwrap_or_default();
    let n = (chunk.lines.end - chunk.lines.start) as usize;
    let Ok(mut reader) = RecordReader::new(&chunk.output, sub, n) else {
        return;
    };
    let mut parts = Parts::default();
    let mut bad = 0;
    let mut new = Vec::new();
    for _ in 0..CHECKED_PER_BATCH {
        let Some(Ok((h, items))) = reader.next_record() else {
            break;
        };
        parts.sort(h.keep_message, items);
        let measurement = parts.measurement.unwrap_or(source);
        let (unlike, first) =
            entry
                .conformance
                .check_record(measurement, &parts.tags, &parts.fields);
        bad += u64::from(unlike);
        new.extend(first);
    }
    crate::events::PointsUndeclared {
        points: bad,
        new: &new,
    }
    .emit(&entry.plugin.name, &entry.status);
}

/// The byte range of lines `r` in the batch.
fn bytes_of(ends: &[u32], r: &Range<u32>) -> Range<usize> {
    let start = if r.start == 0 {
        0
    } else {
        ends[r.start as usize - 1] as usize
    };
    start..ends[r.end as usize - 1] as usize
}

impl PipelineRunner {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Process a batch (see [`LineProcessor::process`]) inside a tokio runtime.
    pub async fn process_async(&mut self, source: &str, data: &str, ends: &[u32]) -> Processed {
        let n = u32::try_from(ends.len()).unwrap_or(u32::MAX);
        let Some(entry) = self.registry.get(&self.name) else {
            self.current = None;
            // A pipeline that failed to load still has its conf.d file: a fail-closed one parks
            // its lines while it is missing, as it would when it fails.
            let rc = self.registry.runtime.config();
            let parks = *self.missing_parks.get_or_insert_with(|| {
                PluginConfig::load(&rc.conf_dir, &self.name, rc.limits)
                    .is_ok_and(|c| c.on_error == OnError::Park)
            });
            return Processed::all_failed(
                n,
                "missing",
                format!("pipeline {} is not loaded", self.name),
                parks,
            );
        };
        self.missing_parks = None;
        let fail_closed = entry.config.on_error == OnError::Park;
        if entry.disabled() {
            self.current = None;
            return Processed::all_failed(
                n,
                "disabled",
                format!(
                    "pipeline {} is disabled after repeated crashes; replace its file to re-enable it",
                    self.name
                ),
                fail_closed,
            );
        }
        if n == 0 {
            return Processed::default();
        }
        if self
            .current
            .as_ref()
            .is_some_and(|(e, _)| !Arc::ptr_eq(e, &entry))
        {
            self.current = None; // the plugin was reloaded
        }
        let mut crashed = false;
        let mut parts = Vec::new();
        let all = 0..n;
        let first = self.call(&entry, source, data, ends, &all).await;
        let mut last = match first {
            Ok(chunk) => {
                parts.push(Part::Records(chunk));
                None
            }
            Err(e) => Some(e),
        };
        if let Some(e) = &last {
            crashed |= e.crash;
            tracing::warn!(pipeline = %self.name, source, lines = n, kind = %e.kind, error = %e.message, "pipeline.batch failed; retrying it on a fresh instance");
            self.current = None;
            match self.call(&entry, source, data, ends, &all).await {
                Ok(chunk) => {
                    parts.push(Part::Records(chunk));
                    last = None;
                }
                Err(e) => {
                    crashed |= e.crash;
                    last = Some(e);
                }
            }
        }
        if let Some(e) = last {
            if e.kind == "start_error" {
                // The instance cannot even start: no line is to blame, bisecting would only
                // repeat the failure.
                parts.push(Part::Failed(Failed {
                    lines: 0..n,
                    kind: e.kind,
                    message: e.message,
                }));
            } else {
                self.isolate(&entry, source, data, ends, e, &mut parts, &mut crashed)
                    .await;
            }
        }
        let failed: u32 = parts
            .iter()
            .map(|p| match p {
                Part::Failed(f) => f.lines.end - f.lines.start,
                Part::Records(_) => 0,
            })
            .sum();
        self.count(&entry, crashed, failed * 2 >= n);
        parts.sort_by_key(|p| match p {
            Part::Records(c) => c.lines.start,
            Part::Failed(f) => f.lines.start,
        });
        Processed { parts, fail_closed }
    }

    /// Bisect a batch whose whole call failed twice.
    #[allow(clippy::too_many_arguments)]
    async fn isolate(
        &mut self,
        entry: &Arc<PipelineEntry>,
        source: &str,
        data: &str,
        ends: &[u32],
        first: CallError,
        parts: &mut Vec<Part>,
        crashed: &mut bool,
    ) {
        let n = ends.len() as u32;
        let mut budget = 2 * (32 - n.leading_zeros()) + 8;
        // Ranges known to fail, with the error of their last call.
        let mut failing = vec![(0..n, first)];
        while let Some((r, e)) = failing.pop() {
            if r.end - r.start == 1 || budget == 0 {
                let kind = if r.end - r.start == 1 {
                    e.kind
                } else {
                    "unisolated".to_string()
                };
                tracing::warn!(pipeline = %self.name, source, lines = ?r, kind = %kind, error = %e.message, "pipeline.lines isolated: they go on unprocessed");
                parts.push(Part::Failed(Failed {
                    lines: r,
                    kind,
                    message: e.message,
                }));
                continue;
            }
            let mid = r.start + (r.end - r.start) / 2;
            for half in [r.start..mid, mid..r.end] {
                match self.call(entry, source, data, ends, &half).await {
                    Ok(chunk) => parts.push(Part::Records(chunk)),
                    Err(e) => {
                        *crashed |= e.crash;
                        budget = budget.saturating_sub(1);
                        failing.push((half, e));
                    }
                }
            }
        }
    }

    /// Crash accounting for one batch, and the status counters.
    fn count(&self, entry: &PipelineEntry, crashed: bool, mostly_failed: bool) {
        let max = self.registry.runtime.config().max_crashes;
        let run = if crashed && mostly_failed {
            entry.consecutive.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            entry.consecutive.store(0, Ordering::Relaxed);
            0
        };
        if crashed {
            let disabled = (run >= max).then_some((run, entry.plugin.file.as_path()));
            BatchCrashed { disabled }.emit(&self.name, &entry.status);
        }
    }

    /// One call on lines `r`, on the current instance or a fresh one.
    async fn call(
        &mut self,
        entry: &Arc<PipelineEntry>,
        source: &str,
        data: &str,
        ends: &[u32],
        r: &Range<u32>,
    ) -> Result<Chunk, CallError> {
        if self.current.is_none() {
            let made = async {
                let mut inst =
                    Instance::new(&entry.plugin, &entry.config, entry.state.clone()).await?;
                inst.init(&entry.config.config_json).await?;
                Ok::<_, RuntimeError>(inst)
            }
            .await;
            match made {
                Ok(inst) => self.current = Some((entry.clone(), inst)),
                Err(e) => {
                    // Whatever went wrong (a trap in init, an error it returned, a limit), no
                    // line is to blame: the batch fails whole as `start_error`.
                    let mut ce = CallError::from_runtime(&e);
                    ce.crash = true;
                    ce.kind = "start_error".into();
                    let crashed = Crashed {
                        error: &e,
                        after: AfterCrash::InBatch,
                    };
                    crashed.emit(&self.name, &entry.status);
                    return Err(ce);
                }
            }
        }
        let Some((_, inst)) = self.current.as_mut() else {
            return Err(CallError {
                kind: "start_error".into(),
                message: "no instance".into(),
                crash: true,
            });
        };
        let bytes = bytes_of(ends, r);
        let base = bytes.start as u32;
        let sub_ends: Vec<u32> = ends[r.start as usize..r.end as usize]
            .iter()
            .map(|e| e - base)
            .collect();
        let sub = &data[bytes.clone()];
        let result = inst.process(source, sub, &sub_ends).await;
        MemorySeen(inst.memory_peak()).emit(&self.name, &entry.status);
        if result.is_ok() && inst.should_recycle() {
            // Its output is out of the instance already: the next call gets a fresh one.
            inst.recycled().emit(&self.name, &entry.status);
            self.current = None;
        }
        match result {
            Ok(report) => {
                // Only the magic is checked here; the source checks every record as it reads
                // them (once), and passes the lines of a malformed output on unprocessed.
                let whole = report.output.get(..4) == Some(MAGIC.as_slice());
                let lines = if whole { u64::from(r.end - r.start) } else { 0 };
                CallCompleted::of_process(&report, lines).emit(&self.name, &entry.status);
                if !whole {
                    let e = format!(
                        "pipeline {}: its output does not start with the record encoding's magic",
                        self.name
                    );
                    let failed = CallFailed {
                        call: Call::Process,
                        error: &e,
                        counted: true,
                    };
                    failed.emit(&self.name, &entry.status);
                    return Err(CallError {
                        kind: "malformed".into(),
                        message: e,
                        crash: false,
                    });
                }
                Ok(Chunk {
                    lines: r.clone(),
                    bytes,
                    output: report.output,
                })
            }
            Err(e) => {
                let ce = CallError::from_runtime(&e);
                if ce.crash {
                    let crashed = Crashed {
                        error: &e,
                        after: AfterCrash::InBatch,
                    };
                    crashed.emit(&self.name, &entry.status);
                    self.current = None;
                } else {
                    let failed = CallFailed {
                        call: Call::Process,
                        error: &e.to_string(),
                        counted: false,
                    };
                    failed.emit(&self.name, &entry.status);
                }
                Err(ce)
            }
        }
    }
}

impl LineProcessor for PipelineRunner {
    fn name(&self) -> &str {
        &self.name
    }

    fn process(&mut self, source: &str, data: &str, ends: &[u32]) -> Processed {
        let handle = self.handle.clone();
        let processed = handle.block_on(self.process_async(source, data, ends));
        // (After a crash or a recycle the runner holds no instance; the entry is still there.)
        let entry = match &self.current {
            Some((e, _)) => Some(e.clone()),
            None => self.registry.get(&self.name),
        };
        if let Some(e) = entry {
            check_sample(&e, source, data, &processed);
        }
        processed
    }

    fn delivered(&mut self, records: u64) {
        let entry = match &self.current {
            Some((e, _)) => Some(e.clone()),
            None => self.registry.get(&self.name),
        };
        if let Some(e) = entry {
            e.status.lock().records += records;
        }
    }
}
