//! Sandkit's host runtime: wasmtime engines (collectors with fuel and epoch interruption,
//! pipelines with epochs only), a disk cache of
//! compiled components, per-plugin limits, the host side of the WIT imports, the supervisor that
//! schedules and restarts plugins, and the watcher of the plugins directory.
//!
//! The runtime hands points to a [`sandkit_io::Sink`] and knows nothing of outputs; its only
//! HTTP is the collectors' outgoing `http-client` import, sent to allowlisted targets through
//! [`sandkit_io::fetch`].

mod bindings;
mod cache;
mod compile;
pub mod config;
pub mod conformance;
mod directory;
pub mod embedded;
mod engine;
mod error;
mod events;
mod files;
mod footprint;
mod guest_fs;
pub mod guest_lang;
pub mod guest_log;
mod host;
mod input;
mod instance;
pub mod kernel_view;
mod logstream;
mod metrics;
mod outbound;
mod pipeline;
mod plugin;
mod status;
mod supervisor;
mod sys;

pub use cache::{ArtifactLease, CacheOutcome, Cached, ComponentCache};
pub use compile::{default_compile_threads, LARGE_COMPONENT};
pub use config::{Limits, OnError, PluginConfig, RawRuntimeConfig, RuntimeConfig, Sandbox};
pub use directory::{changes_content, watch_plugins_dir, DirWatcher, SETTLE};
pub use engine::{engine_config, EngineKind, Runtime};
pub use error::RuntimeError;
pub use footprint::{release_code_pages, trim_heap, Released};
pub use guest_lang::GuestLang;
pub use host::StateStore;
pub use input::{InputError, InputRegistry};
pub use instance::{CallReport, Instance, ProcessReport};
pub use metrics::plugin_families;
pub use outbound::{DEFAULT_HTTP_MAX_RESPONSE, DEFAULT_HTTP_TIMEOUT};
pub use pipeline::{PipelineEntry, PipelineRegistry, PipelineRunner, RegistryProvider};
pub use plugin::{
    load_plugin, load_plugin_file, plugin_name, plugin_pre, LoadedPlugin, PluginDescription,
    PluginPre,
};
pub use status::{
    status_changes, CompileProgress, EffectiveLimits, PluginState, PluginStatus, StatusCell,
    StatusGuard, CALL_LATENCY_BUCKETS_MS,
};
pub use supervisor::{effective_interval, plugin_files, Supervisor};
pub use sys::hostname;

/// Lock `m` even if a thread panicked while holding it: what it guards (a plugin's status, a
/// registry) stays usable, and a panic there would be a host bug reported on its own.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
