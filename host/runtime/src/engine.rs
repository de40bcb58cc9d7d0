//! The one wasmtime engine of the agent, its epoch ticker, the linker with every host import,
//! and the component cache.

use crate::bindings::collector::Collector;
use crate::cache::{CacheOutcome, ComponentCache};
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

/// Engine, linker and cache, shared by every plugin. They are built on first use, so that an agent
/// with no plugins (one that only tails files, say) pays neither the memory nor the start-up time
/// of wasmtime and keeps no epoch thread.
pub struct Runtime {
    config: RuntimeConfig,
    parts: OnceLock<Parts>,
    /// Serialises the first build: two plugins loading at once build one engine.
    building: Mutex<()>,
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
            .field("config", &self.config)
            .field("built", &self.parts.get().is_some())
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
    /// A runtime for `config`; the engine, the linker and the cache are built when first needed.
    ///
    /// # Errors
    /// None today: kept fallible so that checks of the configuration can move here.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        Ok(Runtime {
            config,
            parts: OnceLock::new(),
            building: Mutex::new(()),
        })
    }

    /// The engine, the linker, the cache and the epoch ticker, built on the first call.
    fn parts(&self) -> Result<&Parts, RuntimeError> {
        if let Some(p) = self.parts.get() {
            return Ok(p);
        }
        let _guard = self.building.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = self.parts.get() {
            return Ok(p);
        }
        let engine =
            Engine::new(&engine_config()).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| RuntimeError::Engine(format!("linking WASI: {e:#}")))?;
        Collector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| RuntimeError::Engine(format!("linking sandkit imports: {e:#}")))?;
        let cache = ComponentCache::new(&engine, self.config.cache_dir.clone())?;
        let ticker = EpochTicker::start(engine.clone(), self.config.epoch_tick);
        Ok(self.parts.get_or_init(|| Parts {
            engine,
            linker,
            cache,
            ticker,
        }))
    }

    /// The engine (built now if this is the first use).
    ///
    /// # Errors
    /// When the engine, the linker or the cache directory cannot be built.
    pub fn engine(&self) -> Result<&Engine, RuntimeError> {
        Ok(&self.parts()?.engine)
    }

    /// The linker with every host import.
    ///
    /// # Errors
    /// As [`Runtime::engine`].
    pub fn linker(&self) -> Result<&Linker<HostState>, RuntimeError> {
        Ok(&self.parts()?.linker)
    }

    /// The handle instances use to keep the epoch ticking during their calls.
    ///
    /// # Errors
    /// As [`Runtime::engine`].
    pub fn activity(&self) -> Result<EpochActivity, RuntimeError> {
        Ok(self.parts()?.ticker.activity.clone())
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
        let parts = self.parts()?;
        parts.cache.load(&parts.engine, file, bytes, hash)
    }
}
