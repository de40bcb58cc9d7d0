//! The one wasmtime engine of the agent, its epoch ticker, the linker with every host import,
//! and the component cache.

use crate::bindings::collector::Collector;
use crate::cache::{CacheOutcome, ComponentCache};
use crate::host::HostState;
use crate::{RuntimeConfig, RuntimeError};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::Engine;

/// Advances the engine's epoch every tick until dropped.
#[derive(Debug)]
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sandkit-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .ok();
        EpochTicker { stop, thread }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
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
