//! Errors of the runtime. Every variant names the plugin or the file it is about.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("config error in {file}: {message}")]
    Config { file: PathBuf, message: String },

    #[error("cannot read {file}: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },

    #[error("{file}: not a valid WebAssembly component: {reason}")]
    InvalidComponent { file: PathBuf, reason: String },

    #[error("{file}: the component does not implement the sandkit:plugin/{world} world: {reason}")]
    WrongWorld {
        file: PathBuf,
        world: &'static str,
        reason: String,
    },

    #[error("component cache at {dir}: {reason}")]
    Cache { dir: PathBuf, reason: String },

    #[error("plugin {plugin}: {reason}")]
    Plugin { plugin: String, reason: String },

    #[error("plugin {plugin}: {call} trapped: {trap}")]
    Trap {
        plugin: String,
        call: &'static str,
        trap: String,
    },

    #[error("plugin {plugin}: {call} ran past its deadline of {deadline:?}")]
    Deadline {
        plugin: String,
        call: &'static str,
        deadline: std::time::Duration,
    },

    #[error("plugin {plugin}: {call} returned an error: {message}")]
    Guest {
        plugin: String,
        call: &'static str,
        message: String,
    },

    #[error("engine: {0}")]
    Engine(String),

    #[error("watching {dir}: {reason}")]
    Watch { dir: PathBuf, reason: String },
}

impl RuntimeError {
    /// A short, stable name of a crash for status and metrics: the trap kind in a trap's
    /// message (`unreachable`, `out_of_fuel`...), `deadline`, `init_error` or `start_error`.
    pub fn crash_kind(&self) -> String {
        match self {
            RuntimeError::Deadline { .. } => "deadline".to_string(),
            RuntimeError::Trap { trap, .. } => trap
                .strip_prefix('[')
                .and_then(|t| t.split(']').next())
                .unwrap_or("trap")
                .to_string(),
            RuntimeError::Guest { .. } => "init_error".to_string(),
            _ => "start_error".to_string(),
        }
    }

    /// Whether the failure is a crash: the instance cannot be used again and counts toward
    /// disabling the plugin.
    pub fn is_crash(&self) -> bool {
        matches!(
            self,
            RuntimeError::Trap { .. } | RuntimeError::Deadline { .. }
        )
    }
}
