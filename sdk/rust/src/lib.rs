//! Write Sandkit plugins in Rust.
//!
//! The SDK wraps the bindings of the WIT contract (`sandkit:plugin@0.1.0`, in `wit/`) in
//! idiomatic types: a [`Point`] builder, a [`Config`] view of the plugin's `[config]` table, host
//! logging macros, a small persistent [`state`] store, and the [`collector!`] macro that exports
//! a type implementing [`Collector`]. Authors never depend on `wit-bindgen` themselves.
//!
//! A minimal collector:
//!
//! ```ignore
//! use sandkit_sdk::{Collector, Config, Emitter, PluginInfo, Point};
//!
//! struct Hello;
//!
//! impl Collector for Hello {
//!     fn describe() -> PluginInfo {
//!         PluginInfo::new("hello", "0.1.0", "says hello").interval_ms(10_000, 1_000, 3_600_000)
//!     }
//!     fn init(_config: Config) -> Result<Self, String> {
//!         Ok(Hello)
//!     }
//!     fn collect(&mut self, out: &mut Emitter) -> Result<(), String> {
//!         out.push(Point::new("hello").tag("who", "world").field("count", 1i64));
//!         Ok(())
//!     }
//! }
//!
//! sandkit_sdk::collector!(Hello);
//! ```

extern crate self as sandkit_sdk;

mod config;
mod info;
mod point;

pub use config::Config;
pub use info::{FieldKind, MeasurementInfo, PluginInfo};
pub use point::{Category, Emitter, FieldValue, Point};

/// The raw bindings, for the macros; not part of the stable API.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "collector",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_collector_world",
        default_bindings_module: "sandkit_sdk::bindings",
        runtime_path: "sandkit_sdk::wit_bindgen::rt",
    });
}

/// Re-exported so that the generated code resolves without the guest depending on it.
#[doc(hidden)]
pub use wit_bindgen;

/// A scheduled collector. One value lives per instance: `init` makes it, `collect` runs on every
/// tick. A panic in any method traps the instance; the host counts it and restarts a fresh one.
pub trait Collector: Sized + 'static {
    /// What the plugin is and emits. Called before `init`, possibly on a different instance.
    fn describe() -> PluginInfo;

    /// Build the collector from its `[config]` table.
    ///
    /// # Errors
    /// A message the host logs with the plugin's name; the plugin does not start.
    fn init(config: Config) -> Result<Self, String>;

    /// Push points to `out`; they are sent to the host when `collect` returns (or sooner, in
    /// chunks, when many are pushed).
    ///
    /// # Errors
    /// A message the host logs and counts; the instance keeps running.
    fn collect(&mut self, out: &mut Emitter) -> Result<(), String>;
}

/// Host logging. Lines appear in the agent's log tagged with the plugin name.
pub mod log {
    use crate::bindings::sandkit::plugin::host_log;
    pub use crate::bindings::sandkit::plugin::types::LogLevel as Level;

    /// Log one message at `level`.
    pub fn log(level: Level, message: &str) {
        host_log::log(level, message);
    }
}

/// Log at info level through the host, with `format!` arguments.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Info, &format!($($arg)*)) };
}

/// Log at warn level through the host, with `format!` arguments.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Warn, &format!($($arg)*)) };
}

/// Log at error level through the host, with `format!` arguments.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Error, &format!($($arg)*)) };
}

/// Log at debug level through the host, with `format!` arguments.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Debug, &format!($($arg)*)) };
}

/// A small key-value store per plugin kept by the host across instance restarts.
pub mod state {
    use crate::bindings::sandkit::plugin::state as raw;

    /// The value stored under `key`, if any.
    pub fn get(key: &str) -> Option<Vec<u8>> {
        raw::get(key)
    }

    /// Store `value` under `key`.
    ///
    /// # Errors
    /// When the plugin's state would go past the cap the host sets.
    pub fn set(key: &str, value: &[u8]) -> Result<(), String> {
        raw::set(key, value)
    }

    /// Remove `key`.
    pub fn delete(key: &str) {
        raw::delete(key)
    }
}

/// Host facts that WASI does not expose, each granted by the plugin's config.
pub mod system {
    use crate::bindings::sandkit::plugin::system as raw;
    pub use crate::bindings::sandkit::plugin::system::FsUsage;

    /// statvfs of a mount point; needs `[sandbox] statfs = true`.
    ///
    /// # Errors
    /// When not granted, when `path` is not a mount point, or when the call fails.
    pub fn statfs(path: &str) -> Result<FsUsage, String> {
        raw::statfs(path)
    }

    /// The host name.
    pub fn hostname() -> String {
        raw::hostname()
    }
}

#[doc(hidden)]
pub mod __private {
    use super::*;
    use std::cell::RefCell;

    thread_local! {
        static INSTANCE: RefCell<Option<Box<dyn std::any::Any>>> = const { RefCell::new(None) };
    }

    pub fn describe<C: Collector>() -> bindings::sandkit::plugin::types::PluginInfo {
        C::describe().into_raw()
    }

    pub fn init<C: Collector>(config: String) -> Result<(), String> {
        let config = Config::parse(&config)?;
        let c = C::init(config)?;
        INSTANCE.with(|i| *i.borrow_mut() = Some(Box::new(c)));
        Ok(())
    }

    pub fn collect<C: Collector>() -> Result<(), String> {
        INSTANCE.with(|i| {
            let mut slot = i.borrow_mut();
            let c = slot
                .as_mut()
                .and_then(|b| b.downcast_mut::<C>())
                .ok_or_else(|| "collect called before init".to_string())?;
            let mut out = Emitter::new();
            let r = c.collect(&mut out);
            out.flush();
            r
        })
    }
}

/// Export a [`Collector`] implementation as the plugin's `collector` world.
#[macro_export]
macro_rules! collector {
    ($ty:ty) => {
        const _: () = {
            struct __SandkitExport;
            impl $crate::bindings::Guest for __SandkitExport {
                fn describe() -> $crate::bindings::sandkit::plugin::types::PluginInfo {
                    $crate::__private::describe::<$ty>()
                }
                fn init(config: ::std::string::String) -> Result<(), ::std::string::String> {
                    $crate::__private::init::<$ty>(config)
                }
                fn collect() -> Result<(), ::std::string::String> {
                    $crate::__private::collect::<$ty>()
                }
            }
            $crate::bindings::export_collector_world!(__SandkitExport);
        };
    };
}
