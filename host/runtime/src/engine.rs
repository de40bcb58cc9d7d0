//! The one wasmtime engine of the agent, its epoch ticker, the linker with every host import,
//! and the component cache.

use crate::bindings::collector::Collector;
use crate::cache::{CacheOutcome, ComponentCache};
use crate::host::HostState;
use crate::{RuntimeConfig, RuntimeError};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
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

/// Engine, linker and cache, shared by every plugin.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: ComponentCache,
    config: RuntimeConfig,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The engine configuration: fuel and epochs on (both change generated code, and so the cache key).
pub fn engine_config() -> wasmtime::Config {
    let mut c = wasmtime::Config::new();
    c.wasm_component_model(true);
    c.consume_fuel(true);
    c.epoch_interruption(true);
    c.cranelift_opt_level(wasmtime::OptLevel::Speed);
    c
}

impl Runtime {
    /// Build the engine, the linker and the cache.
    ///
    /// # Errors
    /// When the engine cannot be built or the cache directory cannot be created.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let engine =
            Engine::new(&engine_config()).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| RuntimeError::Engine(format!("linking WASI: {e:#}")))?;
        Collector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| RuntimeError::Engine(format!("linking sandkit imports: {e:#}")))?;
        let cache = ComponentCache::new(&engine, config.cache_dir.clone())?;
        let ticker = EpochTicker::start(engine.clone(), config.epoch_tick);
        Ok(Runtime {
            engine,
            linker,
            cache,
            config,
            _ticker: ticker,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn linker(&self) -> &Linker<HostState> {
        &self.linker
    }

    /// The handle instances use to keep the epoch ticking during their calls.
    pub fn activity(&self) -> EpochActivity {
        self._ticker.activity.clone()
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Compile (or fetch from the cache) the component in `bytes`.
    ///
    /// # Errors
    /// When the bytes are not a valid component.
    pub fn component(
        &self,
        file: &Path,
        bytes: &[u8],
        hash: &str,
    ) -> Result<(Component, CacheOutcome), RuntimeError> {
        self.cache.load(&self.engine, file, bytes, hash)
    }
}
