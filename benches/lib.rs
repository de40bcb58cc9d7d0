//! Shared helpers for the benches (see `runtime.rs`): where the built guests are, a runtime
//! configured like the agent's default, native baselines that do the work of a collector without
//! Wasm, and a summary of the medians criterion wrote (see docs/performance.md).

pub mod native;
pub mod summary;

use sandkit_runtime::{Limits, PluginConfig, RawRuntimeConfig, RuntimeConfig};
use std::path::Path;

pub use sandkit_tests::{repo_root, wasm};

/// The agent's default runtime settings (`RawRuntimeConfig::default()`), with the cache,
/// plugins and conf.d directories under `dir`.
///
/// # Panics
/// Never in practice: the defaults are valid.
pub fn runtime_config(dir: &Path) -> RuntimeConfig {
    RawRuntimeConfig::default()
        .validate(
            Path::new("bench"),
            dir.join("cache"),
            dir.join("plugins"),
            dir.join("conf.d"),
        )
        .expect("the default runtime config is valid")
}

/// The bundled config of collector `name` (guests/collectors/<name>/conf.toml), which grants it
/// what it reads (e.g. /proc).
///
/// # Panics
/// When the file is missing or invalid.
pub fn collector_config(name: &str, base: Limits) -> PluginConfig {
    let file = repo_root().join(format!("guests/collectors/{name}/conf.toml"));
    let text = std::fs::read_to_string(&file).expect("bundled collector conf.toml");
    PluginConfig::parse(&text, &file, base).expect("bundled collector conf.toml is valid")
}

/// A current-thread tokio runtime with IO and time enabled (the instance's deadline needs time).
///
/// # Panics
/// When the runtime cannot be built.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}
