//! Host bindings of the WIT worlds, generated once per world.
//!
//! Exports are async (calls yield to the scheduler on every epoch tick); imports are sync and
//! trappable, so a host function can stop a guest that breaks a limit.

pub mod collector {
    wasmtime::component::bindgen!({
        world: "collector",
        path: "../../wit",
        exports: { default: async },
        imports: {
            "sandkit:plugin/http-client.fetch": async | trappable,
            "sandkit:plugin/files.read-file": async | trappable,
            "sandkit:plugin/files.list-dir": async | trappable,
            default: trappable,
        },
    });
}

/// The `pipeline` world. Its imports (types, host-log, state, files) are the collector world's, so the
/// one linker serves both and the host implements them once.
pub mod pipeline {
    wasmtime::component::bindgen!({
        world: "pipeline",
        path: "../../wit",
        exports: { default: async },
        imports: { default: trappable },
        with: {
            "sandkit:plugin/types": super::collector::sandkit::plugin::types,
            "sandkit:plugin/host-log": super::collector::sandkit::plugin::host_log,
            "sandkit:plugin/state": super::collector::sandkit::plugin::state,
            "sandkit:plugin/files": super::collector::sandkit::plugin::files,
        },
    });
}

/// The `input` world (a passive input: an HTTP body in, points out through `emit`). Its imports
/// are the collector world's.
pub mod input {
    wasmtime::component::bindgen!({
        world: "input",
        path: "../../wit",
        exports: { default: async },
        imports: { default: trappable },
        with: {
            "sandkit:plugin/types": super::collector::sandkit::plugin::types,
            "sandkit:plugin/host-log": super::collector::sandkit::plugin::host_log,
            "sandkit:plugin/emit": super::collector::sandkit::plugin::emit,
            "sandkit:plugin/state": super::collector::sandkit::plugin::state,
            "sandkit:plugin/files": super::collector::sandkit::plugin::files,
        },
    });
}

pub use collector::sandkit::plugin::types::{
    Category as WitCategory, FieldKind, FieldValue as WitFieldValue, LogLevel, PluginInfo,
    Point as WitPoint,
};
