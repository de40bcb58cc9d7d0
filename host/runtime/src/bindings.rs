//! Host bindings of the WIT worlds, generated once per world.
//!
//! Exports are async (calls yield to the scheduler on every epoch tick); imports are sync and
//! trappable, so a host function can stop a guest that breaks a limit.

pub mod collector {
    wasmtime::component::bindgen!({
        world: "collector",
        path: "../../wit",
        exports: { default: async },
        imports: { default: trappable },
    });
}

pub use collector::sandkit::plugin::types::{
    Category as WitCategory, FieldKind, FieldValue as WitFieldValue, LogLevel, PluginInfo,
    Point as WitPoint,
};
