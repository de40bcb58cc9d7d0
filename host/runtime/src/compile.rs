//! Where Cranelift runs: off the async workers, at low priority, on a bounded number of threads.
//!
//! A Python or JavaScript plugin is an 18 MB component (an interpreter) that takes Cranelift
//! seconds to compile. wasmtime compiles in parallel on rayon's global pool, which has a thread
//! per core: on a small machine one such compile took every core for seconds. Here compiles run
//! on two rayon pools of our own whose threads lower their own priority (nice 10):
//!
//! - large components (at least [`LARGE_COMPONENT`] bytes) on a pool of `compile_threads`
//!   threads (default: half the cores, at least one), one compile at a time: a second waits;
//! - small ones (a Rust plugin compiles in 50-100 ms) on a pool of their own with a thread per
//!   core, at once: they are never queued behind a large one, and a cold start with many of
//!   them is as quick as with wasmtime's own pool.
//!
//! The pools are built when a compile starts and dropped when the last compile running on them
//! ends, so an agent whose components all come from the cache starts no compile thread, and one
//! that compiled at start keeps none. Once no compile runs, the heap is trimmed: Cranelift's
//! tens of megabytes of freed working memory go back to the system instead of staying resident
//! in the compile threads' malloc arenas (a cold start of six collectors otherwise idled at
//! 50 MiB instead of 27, docs/performance.md).

use std::sync::{Arc, Condvar, Mutex};

use crate::footprint::trim_heap;

/// From this size a component is compiled on the pool of large components, one at a time.
pub const LARGE_COMPONENT: usize = 4 << 20;

/// The nice value of the compile threads: the agent's other threads (nice 0) win the CPU.
const COMPILE_NICE: i32 = 10;

/// The default of `[runtime] compile_threads`: half the cores, at least one.
pub fn default_compile_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// Lower the calling thread's priority (Linux: nice is per thread). Best effort: a failure
/// leaves the thread at its priority.
pub(crate) fn lower_priority() {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), COMPILE_NICE) {
        tracing::debug!(error = %e, "runtime.compile cannot lower the priority of a compile thread");
    }
}

/// A pool and the compiles running on it; the pool is dropped (its threads end) with the last.
#[derive(Debug, Default)]
struct PoolSlot {
    pool: Option<Arc<rayon::ThreadPool>>,
    users: usize,
}

/// The compile pools and the one-at-a-time slot of large compiles.
#[derive(Debug)]
pub(crate) struct Compiler {
    threads: usize,
    large: Mutex<PoolSlot>,
    small: Mutex<PoolSlot>,
    /// Whether a large compile is running.
    busy: Mutex<bool>,
    freed: Condvar,
}

/// Holds the slot of large compiles; frees it when dropped.
struct Slot<'a>(&'a Compiler);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(|p| p.into_inner()) = false;
        self.0.freed.notify_one();
    }
}

impl Compiler {
    pub(crate) fn new(threads: usize) -> Self {
        Compiler {
            threads: threads.max(1),
            large: Mutex::new(PoolSlot::default()),
            small: Mutex::new(PoolSlot::default()),
            busy: Mutex::new(false),
            freed: Condvar::new(),
        }
    }

    /// Run `compile` on the pool in `slot` (built if no compile is running on it), or on the
    /// calling thread if threads cannot be started. The last compile out drops the pool and
    /// trims the heap.
    fn on_pool<T>(
        slot: &Mutex<PoolSlot>,
        threads: usize,
        name: &'static str,
        compile: impl FnOnce() -> T + Send,
    ) -> T
    where
        T: Send,
    {
        let pool = {
            let mut s = slot.lock().unwrap_or_else(|p| p.into_inner());
            if s.pool.is_none() {
                s.pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(move |i| format!("{name}-{i}"))
                    .start_handler(|_| lower_priority())
                    .build()
                    .map_err(|e| {
                        tracing::warn!(error = %e, "runtime.compile cannot start compile threads; compiling on the calling thread");
                    })
                    .ok()
                    .map(Arc::new);
            }
            s.users += 1;
            s.pool.clone()
        };
        let out = match &pool {
            Some(p) => p.install(compile),
            None => compile(),
        };
        drop(pool);
        let last = {
            let mut s = slot.lock().unwrap_or_else(|p| p.into_inner());
            s.users -= 1;
            if s.users == 0 {
                s.pool.take()
            } else {
                None
            }
        };
        if let Some(pool) = last {
            // Dropping the pool ends its threads (they exit once idle); their arenas' memory
            // is free then, and the trim below returns it.
            drop(pool);
            trim_heap();
        }
        out
    }

    /// Compile `bytes` on `engine` (blocking the calling thread until done). A large component
    /// waits for the large compile in progress, if any: `waiting` is called then. `started` is
    /// set when the compile itself starts.
    pub(crate) fn precompile(
        &self,
        engine: &wasmtime::Engine,
        bytes: &[u8],
        waiting: impl FnOnce(),
        started: &mut Option<std::time::Instant>,
    ) -> wasmtime::Result<Vec<u8>> {
        let compile = || engine.precompile_component(bytes);
        if bytes.len() < LARGE_COMPONENT {
            *started = Some(std::time::Instant::now());
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            return Self::on_pool(&self.small, cores, "sandkit-compile-small", compile);
        }
        let _slot = {
            let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
            if *busy {
                waiting();
            }
            while *busy {
                busy = self.freed.wait(busy).unwrap_or_else(|p| p.into_inner());
            }
            *busy = true;
            Slot(self)
        };
        *started = Some(std::time::Instant::now());
        Self::on_pool(&self.large, self.threads, "sandkit-compile", compile)
    }
}
