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
//! The pools are built on first use, so an agent whose components all come from the cache
//! starts no compile thread.

use std::sync::{Condvar, Mutex, OnceLock};

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

/// The compile pools and the one-at-a-time slot of large compiles.
#[derive(Debug)]
pub(crate) struct Compiler {
    threads: usize,
    large: OnceLock<Option<rayon::ThreadPool>>,
    small: OnceLock<Option<rayon::ThreadPool>>,
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
            large: OnceLock::new(),
            small: OnceLock::new(),
            busy: Mutex::new(false),
            freed: Condvar::new(),
        }
    }

    fn pool<'a>(
        slot: &'a OnceLock<Option<rayon::ThreadPool>>,
        threads: usize,
        name: &'static str,
    ) -> Option<&'a rayon::ThreadPool> {
        slot.get_or_init(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(move |i| format!("{name}-{i}"))
                .start_handler(|_| lower_priority())
                .build()
                .map_err(|e| {
                    tracing::warn!(error = %e, "runtime.compile cannot start compile threads; compiling on wasmtime's default threads");
                })
                .ok()
        })
        .as_ref()
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
            return match Self::pool(&self.small, cores, "sandkit-compile-small") {
                Some(p) => p.install(compile),
                None => compile(),
            };
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
        match Self::pool(&self.large, self.threads, "sandkit-compile") {
            Some(p) => p.install(compile),
            None => compile(),
        }
    }
}
