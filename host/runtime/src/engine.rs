//! The agent's two wasmtime engines (collectors, pipelines), their epoch tickers, the linkers
//! with every host import, and the component cache.

use crate::bindings::collector::Collector;
use crate::cache::{CacheOutcome, CacheShared, Cached, ComponentCache};
use crate::compile::Compiler;
use crate::host::HostState;
use crate::{RuntimeConfig, RuntimeError};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::Engine;

#[derive(Debug, Default)]
struct TickerShared {
    stop: AtomicBool,
    /// Guest calls in flight; the ticker sleeps while there are none.
    active: Mutex<usize>,
    wake: Condvar,
}

/// Marks guest calls in flight so that the epoch ticker runs only while some guest runs: an idle
/// agent does not wake every tick.
#[derive(Debug, Clone, Default)]
pub struct EpochActivity {
    shared: Arc<TickerShared>,
}

/// Held for the duration of a guest call.
#[derive(Debug)]
pub struct ActiveCall {
    shared: Arc<TickerShared>,
}

impl EpochActivity {
    /// Mark a call as running until the guard is dropped.
    pub fn enter(&self) -> ActiveCall {
        let mut a = self.shared.active.lock().unwrap_or_else(|p| p.into_inner());
        *a += 1;
        if *a == 1 {
            self.shared.wake.notify_one();
        }
        ActiveCall {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for ActiveCall {
    fn drop(&mut self) {
        let mut a = self.shared.active.lock().unwrap_or_else(|p| p.into_inner());
        *a = a.saturating_sub(1);
    }
}

/// Advances the engine's epoch every tick while a guest call is in flight, until dropped.
#[derive(Debug)]
struct EpochTicker {
    activity: EpochActivity,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine, tick: Duration) -> Self {
        let activity = EpochActivity::default();
        let shared = activity.shared.clone();
        let thread = std::thread::Builder::new()
            .name("sandkit-epoch".into())
            .spawn(move || loop {
                {
                    let mut a = shared.active.lock().unwrap_or_else(|p| p.into_inner());
                    while *a == 0 && !shared.stop.load(Ordering::Relaxed) {
                        a = shared.wake.wait(a).unwrap_or_else(|p| p.into_inner());
                    }
                }
                if shared.stop.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(tick);
                engine.increment_epoch();
            })
            .ok();
        EpochTicker { activity, thread }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.activity.shared.stop.store(true, Ordering::Relaxed);
        {
            let _a = self.activity.shared.active.lock();
            self.activity.shared.wake.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Which engine a component runs on. Collectors and pipelines are compiled differently:
///
/// - collectors: fuel metering (a deterministic CPU budget per call, reported as `fuel_used`) and
///   epoch interruption (the wall-time deadline);
/// - pipelines: epoch interruption only. They run once per batch of a thousand lines on a file
///   task's thread, where fuel metering (a counter update in every basic block) cost a fifth of
///   the nginx pipeline's time (docs/performance.md); their CPU is accounted with the thread's
///   CPU clock around each call instead, and the deadline still cuts a pipeline that never
///   returns. (Cranelift's inliner was tried too: no faster end to end, and compiling the nginx
///   pipeline took 4x the time and 160 MiB more memory.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Collector,
    Pipeline,
}

impl EngineKind {
    /// The engine of the component in `bytes`: a pipeline when its top-level component exports
    /// `process` (what [`crate::plugin_pre`] checks after compiling), else a collector. Bytes
    /// that do not parse are left to the compiler to report.
    pub fn of_component(bytes: &[u8]) -> EngineKind {
        use wasmparser::{Parser, Payload};
        let mut depth = 0usize;
        for payload in Parser::new(0).parse_all(bytes) {
            let Ok(payload) = payload else {
                return EngineKind::Collector;
            };
            match payload {
                Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
                Payload::End(_) => depth = depth.saturating_sub(1),
                Payload::ComponentExportSection(exports) if depth == 0 => {
                    for e in exports.into_iter().flatten() {
                        if e.name.name == "process" {
                            return EngineKind::Pipeline;
                        }
                    }
                }
                _ => {}
            }
        }
        EngineKind::Collector
    }

    fn index(self) -> usize {
        match self {
            EngineKind::Collector => 0,
            EngineKind::Pipeline => 1,
        }
    }
}

/// The engine configuration of `kind` (both change generated code, and so the cache key).
pub fn engine_config(kind: EngineKind) -> wasmtime::Config {
    let mut c = wasmtime::Config::new();
    c.wasm_component_model(true);
    c.epoch_interruption(true);
    c.cranelift_opt_level(wasmtime::OptLevel::Speed);
    // Parallel compilation stays on: it runs on whichever rayon pool the compile is installed
    // in, and `crate::compile` installs it in pools of its own (bounded, low priority).
    c.parallel_compilation(true);
    match kind {
        EngineKind::Collector => {
            c.consume_fuel(true);
        }
        EngineKind::Pipeline => {
            c.consume_fuel(false);
        }
    }
    c
}

/// The engines, linkers and cache, shared by every plugin. Each engine is built on first use, so
/// that an agent with no plugins (one that only tails files, say) pays neither the memory nor the
/// start-up time of wasmtime and keeps no epoch thread, and one with collectors only builds no
/// pipeline engine.
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    config: RuntimeConfig,
    /// By [`EngineKind::index`].
    parts: [OnceLock<Parts>; 2],
    /// Serialises the first build: two plugins loading at once build one engine.
    building: Mutex<()>,
    /// Where and how components compile (low priority, bounded threads).
    compiler: Compiler,
    /// The bound of the cache directory and the artifacts in use, for both engines' caches.
    cache_shared: Arc<CacheShared>,
}

struct Parts {
    engine: Engine,
    linker: Linker<HostState>,
    cache: ComponentCache,
    ticker: EpochTicker,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.inner.config)
            .field("collector_engine", &self.inner.parts[0].get().is_some())
            .field("pipeline_engine", &self.inner.parts[1].get().is_some())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime for `config`; the engines, linkers and cache are built when first needed.
    ///
    /// # Errors
    /// None today: kept fallible so that checks of the configuration can move here.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        Ok(Runtime {
            inner: Arc::new(Inner {
                compiler: Compiler::new(config.compile_threads),
                cache_shared: CacheShared::new(config.cache_max_bytes),
                config,
                parts: [OnceLock::new(), OnceLock::new()],
                building: Mutex::new(()),
            }),
        })
    }

    /// The engine of `kind` (built now if this is its first use).
    ///
    /// # Errors
    /// When the engine, the linker or the cache directory cannot be built.
    pub fn engine(&self, kind: EngineKind) -> Result<&Engine, RuntimeError> {
        Ok(&self.inner.parts(kind)?.engine)
    }

    /// The linker with every host import, for components of `kind`.
    ///
    /// # Errors
    /// As [`Runtime::engine`].
    pub fn linker(&self, kind: EngineKind) -> Result<&Linker<HostState>, RuntimeError> {
        Ok(&self.inner.parts(kind)?.linker)
    }

    /// The handle instances of `kind` use to keep their engine's epoch ticking during calls.
    ///
    /// # Errors
    /// As [`Runtime::engine`].
    pub fn activity(&self, kind: EngineKind) -> Result<EpochActivity, RuntimeError> {
        Ok(self.inner.parts(kind)?.ticker.activity.clone())
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Compile (or fetch from the cache) the component in `bytes`, on the engine its exports
    /// call for ([`EngineKind::of_component`]), on the calling thread (which it blocks for as
    /// long as a compile takes; the agent uses [`Runtime::load_component`]).
    ///
    /// # Errors
    /// When the bytes are not a valid component.
    pub fn component(
        &self,
        file: &Path,
        bytes: &[u8],
        hash: &str,
    ) -> Result<(Component, CacheOutcome), RuntimeError> {
        let c = self.inner.load(file, bytes, hash, &mut |_| {})?;
        Ok((c.component, c.outcome))
    }

    /// As [`Runtime::component`], on a thread of its own so that the caller's async worker
    /// stays free while Cranelift runs (seconds for a Python or JavaScript component);
    /// `on_compile` is called (on that thread) with the size of `bytes` when it compiles, not
    /// on a cache hit.
    ///
    /// # Errors
    /// As [`Runtime::component`].
    pub async fn load_component(
        &self,
        file: &Path,
        bytes: Vec<u8>,
        hash: &str,
        mut on_compile: Box<dyn FnMut(usize) + Send>,
    ) -> Result<Cached, RuntimeError> {
        let inner = self.inner.clone();
        let (file, hash) = (file.to_path_buf(), hash.to_string());
        let (tx, rx) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("sandkit-load".into())
            .spawn(move || {
                let _ = tx.send(inner.load(&file, &bytes, &hash, &mut *on_compile));
            });
        if let Err(e) = spawned {
            return Err(RuntimeError::Engine(format!(
                "cannot start a thread to load the component: {e}"
            )));
        }
        rx.await.unwrap_or_else(|_| {
            Err(RuntimeError::Engine(
                "the thread loading the component panicked".into(),
            ))
        })
    }
}

impl Inner {
    /// The engine of `kind` with its linker, cache and epoch ticker, built on the first call.
    fn parts(&self, kind: EngineKind) -> Result<&Parts, RuntimeError> {
        let slot = &self.parts[kind.index()];
        if let Some(p) = slot.get() {
            return Ok(p);
        }
        let _guard = self.building.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = slot.get() {
            return Ok(p);
        }
        let engine = Engine::new(&engine_config(kind))
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| RuntimeError::Engine(format!("linking WASI: {e:#}")))?;
        crate::guest_fs::add_to_linker(&mut linker)
            .map_err(|e| RuntimeError::Engine(format!("linking the guest file system: {e:#}")))?;
        Collector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| RuntimeError::Engine(format!("linking sandkit imports: {e:#}")))?;
        let cache = ComponentCache::new(
            &engine,
            self.config.cache_dir.clone(),
            self.cache_shared.clone(),
        )?;
        let ticker = EpochTicker::start(engine.clone(), self.config.epoch_tick);
        Ok(slot.get_or_init(|| Parts {
            engine,
            linker,
            cache,
            ticker,
        }))
    }

    fn load(
        &self,
        file: &Path,
        bytes: &[u8],
        hash: &str,
        on_compile: &mut dyn FnMut(usize),
    ) -> Result<Cached, RuntimeError> {
        let parts = self.parts(EngineKind::of_component(bytes))?;
        parts
            .cache
            .load(&parts.engine, &self.compiler, file, bytes, hash, on_compile)
    }
}
