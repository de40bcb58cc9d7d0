//! Write Sandkit plugins in Rust.
//!
//! The SDK wraps the bindings of the WIT contract (`sandkit:plugin@0.1.1`, in `wit/`) in
//! idiomatic types: a [`Point`] builder, a [`Config`] view of the plugin's `[config]` table, host
//! logging macros, a small [`state`] store that outlives a crashed instance, [`fs::read_to_string`] for granted files,
//! outgoing [`http`] to allowlisted targets (collectors only),
//! and the [`collector!`] macro that exports
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
pub mod http;
mod info;
mod point;
pub mod records;
pub mod time;

pub use config::Config;
pub use info::{FieldKind, MeasurementInfo, PluginInfo};
pub use point::{Category, Emitter, FieldValue, Point};
pub use records::{Batch, Record, Records, Value};

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

/// The raw bindings of the `pipeline` world, for the [`pipeline!`] macro; they share the types,
/// logging and state interfaces with [`bindings`].
#[doc(hidden)]
pub mod pipeline_bindings {
    wit_bindgen::generate!({
        world: "pipeline",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_pipeline_world",
        default_bindings_module: "sandkit_sdk::pipeline_bindings",
        runtime_path: "sandkit_sdk::wit_bindgen::rt",
        with: {
            "sandkit:plugin/types@0.1.1": crate::bindings::sandkit::plugin::types,
            "sandkit:plugin/host-log@0.1.1": crate::bindings::sandkit::plugin::host_log,
            "sandkit:plugin/state@0.1.1": crate::bindings::sandkit::plugin::state,
            "sandkit:plugin/files@0.1.1": crate::bindings::sandkit::plugin::files,
        },
    });
}

/// The raw bindings of the `input` world, for the [`input!`] macro; they share the types,
/// logging, emit and state interfaces with [`bindings`].
#[doc(hidden)]
pub mod input_bindings {
    wit_bindgen::generate!({
        world: "input",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_input_world",
        default_bindings_module: "sandkit_sdk::input_bindings",
        runtime_path: "sandkit_sdk::wit_bindgen::rt",
        with: {
            "sandkit:plugin/types@0.1.1": crate::bindings::sandkit::plugin::types,
            "sandkit:plugin/host-log@0.1.1": crate::bindings::sandkit::plugin::host_log,
            "sandkit:plugin/emit@0.1.1": crate::bindings::sandkit::plugin::emit,
            "sandkit:plugin/state@0.1.1": crate::bindings::sandkit::plugin::state,
            "sandkit:plugin/files@0.1.1": crate::bindings::sandkit::plugin::files,
        },
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

/// A log pipeline: batches of raw lines in, records out. One value lives per instance.
///
/// Implement [`process_line`](Pipeline::process_line); the default
/// [`process`](Pipeline::process) calls it for every line of the batch. A line may give no
/// record (it is dropped: a filter), one, or many. A panic traps the instance: the host retries
/// the batch on a fresh instance, then isolates the line that traps and passes it on raw (or
/// parks it), so a parser bug costs one line, not the batch.
///
/// ```ignore
/// use sandkit_sdk::{Config, Pipeline, PluginInfo, Records};
///
/// struct Level;
///
/// impl Pipeline for Level {
///     fn describe() -> PluginInfo {
///         PluginInfo::new("level", "0.1.0", "the first word of a line as its status")
///     }
///     fn init(_config: Config) -> Result<Self, String> {
///         Ok(Level)
///     }
///     fn process_line(&mut self, line: &str, out: &mut Records) {
///         let word = line.split(' ').next().unwrap_or("");
///         out.record().tag("status", word).keep_message();
///     }
/// }
///
/// sandkit_sdk::pipeline!(Level);
/// ```
pub trait Pipeline: Sized + 'static {
    /// What the plugin is. Called before `init`, possibly on a different instance.
    fn describe() -> PluginInfo;

    /// Build the pipeline from its `[config]` table.
    ///
    /// # Errors
    /// A message the host logs with the plugin's name; the pipeline does not start.
    fn init(config: Config) -> Result<Self, String>;

    /// Write the records of one line to `out` (with [`Records::record`]).
    fn process_line(&mut self, line: &str, out: &mut Records);

    /// Write the records of a whole batch; by default [`process_line`](Pipeline::process_line)
    /// for each line in order.
    ///
    /// # Errors
    /// A message the host logs and counts; the batch then passes through raw.
    fn process(&mut self, batch: &Batch<'_>, out: &mut Records) -> Result<(), String> {
        for (i, line) in batch.lines().enumerate() {
            out.set_line(i);
            self.process_line(line, out);
        }
        Ok(())
    }
}

/// A passive input: the agent's HTTP server hands it the body of each request posted to
/// `/v1/input/<plugin>`, and the points it pushes are written (all of them, or none: a call that
/// returns an error or panics writes nothing, and the client gets 400 or 500). One value lives
/// per instance; requests to one input take turns.
///
/// ```ignore
/// use sandkit_sdk::{Config, Emitter, Input, Point, PluginInfo};
///
/// struct Count;
///
/// impl Input for Count {
///     fn describe() -> PluginInfo {
///         PluginInfo::new("count", "0.1.0", "the size of each body")
///     }
///     fn init(_config: Config) -> Result<Self, String> {
///         Ok(Count)
///     }
///     fn handle(&mut self, _ct: &str, body: &[u8], out: &mut Emitter) -> Result<(), String> {
///         out.push(Point::new("count").field("bytes", body.len() as i64));
///         Ok(())
///     }
/// }
///
/// sandkit_sdk::input!(Count);
/// ```
pub trait Input: Sized + 'static {
    /// What the plugin is and emits. Called before `init`, possibly on a different instance.
    fn describe() -> PluginInfo;

    /// Build the input from its `[config]` table.
    ///
    /// # Errors
    /// A message the host logs with the plugin's name; the input does not start.
    fn init(config: Config) -> Result<Self, String>;

    /// Turn one request body (with the client's `Content-Type`) into points pushed to `out`.
    ///
    /// # Errors
    /// A message the client gets with status 400; nothing of the body is written.
    fn handle(&mut self, content_type: &str, body: &[u8], out: &mut Emitter) -> Result<(), String>;
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

/// Reading files the plugin's sandbox grants.
pub mod fs {
    /// The whole file at `path` as text, like [`std::fs::read_to_string`], with an error that
    /// says what to check in the plugin's config.
    ///
    /// # Errors
    /// When the file cannot be read (most often because its directory is not granted):
    /// `cannot read {path}: {error} (is it granted in [sandbox] read_only_dirs?)`.
    pub fn read_to_string(path: &str) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| {
            format!("cannot read {path}: {e} (is it granted in [sandbox] read_only_dirs?)")
        })
    }

    /// The whole granted file at `path`, read by the host (the `files` import): the same checks
    /// as a WASI open, with an error that names the grant to add.
    ///
    /// # Errors
    /// The host's message: not granted, not in the kernel view, not a regular file, larger
    /// than 16 MiB, or the OS error.
    pub fn read(path: &str) -> Result<Vec<u8>, String> {
        crate::bindings::sandkit::plugin::files::read_file(path)
    }

    /// The sorted names in the granted directory at `path`, listed by the host.
    ///
    /// # Errors
    /// As [`read`].
    pub fn list_dir(path: &str) -> Result<Vec<String>, String> {
        crate::bindings::sandkit::plugin::files::list_dir(path)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn error_names_the_path_and_the_grant() {
            let e = super::read_to_string("/nonexistent/sandkit-sdk-test").unwrap_err();
            assert!(
                e.starts_with("cannot read /nonexistent/sandkit-sdk-test: "),
                "{e}"
            );
            assert!(
                e.ends_with(" (is it granted in [sandbox] read_only_dirs?)"),
                "{e}"
            );
        }
    }
}

/// Host facts that WASI does not expose, each granted by the plugin's config.
pub mod system {
    use crate::bindings::sandkit::plugin::system as raw;
    pub use crate::bindings::sandkit::plugin::system::FsUsage;

    /// statvfs of a mount point; needs `[sandbox] statfs = true`.
    ///
    /// The sizes of [`FsUsage`] are bytes (block counts times the fragment size):
    /// - `total`: the size of the filesystem (`f_blocks`);
    /// - `available`: the space unprivileged users can still use (`f_bavail`). This is what
    ///   `df` prints as "Avail" and what Telegraf's `disk` input reports as `free`;
    /// - `free`: all free blocks, root's reserve included (`f_bfree`). It is not Telegraf's
    ///   `free`: Telegraf (and `df`) use it only for `used = total - free`;
    /// - `inodes_total` and `inodes_free`: inode counts (`f_files`, `f_ffree`).
    ///
    /// `df`'s "Use%" (Telegraf's `used_percent`) is then `used / (used + available)`.
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

    /// Keep the plugin's value for the calls after `init`.
    fn keep<T: 'static>(value: T) {
        INSTANCE.with(|i| *i.borrow_mut() = Some(Box::new(value)));
    }

    /// Run `f` on the value `init` kept; `call` names the export in the error when there is
    /// none.
    fn with_instance<T: 'static, R>(
        call: &str,
        f: impl FnOnce(&mut T) -> Result<R, String>,
    ) -> Result<R, String> {
        INSTANCE.with(|i| {
            let mut slot = i.borrow_mut();
            let value = slot
                .as_mut()
                .and_then(|b| b.downcast_mut::<T>())
                .ok_or_else(|| format!("{call} called before init"))?;
            f(value)
        })
    }

    pub fn describe<C: Collector>() -> bindings::sandkit::plugin::types::PluginInfo {
        C::describe().into_raw()
    }

    pub fn init<C: Collector>(config: String) -> Result<(), String> {
        keep(C::init(Config::parse(&config)?)?);
        Ok(())
    }

    pub fn describe_pipeline<P: Pipeline>() -> bindings::sandkit::plugin::types::PluginInfo {
        P::describe().into_raw()
    }

    pub fn init_pipeline<P: Pipeline>(config: String) -> Result<(), String> {
        keep(P::init(Config::parse(&config)?)?);
        Ok(())
    }

    pub fn process<P: Pipeline>(
        batch: pipeline_bindings::sandkit::plugin::pipeline_types::LineBatch,
    ) -> Result<Vec<u8>, String> {
        // `data` is a WIT string: the host sends UTF-8, so it is not checked again here.
        let batch = Batch::new(&batch.source, &batch.data, &batch.ends)?;
        with_instance("process", |p: &mut P| {
            // Parsed records are about as long as their lines, plus keys and headers.
            let mut out = Records::new(&batch, batch.data().len() + 64 * batch.len());
            p.process(&batch, &mut out)?;
            Ok(out.into_bytes())
        })
    }

    pub fn describe_input<I: Input>() -> bindings::sandkit::plugin::types::PluginInfo {
        I::describe().into_raw()
    }

    pub fn init_input<I: Input>(config: String) -> Result<(), String> {
        keep(I::init(Config::parse(&config)?)?);
        Ok(())
    }

    pub fn handle<I: Input>(content_type: String, body: Vec<u8>) -> Result<(), String> {
        with_instance("handle", |input: &mut I| {
            let mut out = Emitter::new();
            input.handle(&content_type, &body, &mut out)?;
            out.flush();
            Ok(())
        })
    }

    pub fn collect<C: Collector>() -> Result<(), String> {
        with_instance("collect", |c: &mut C| {
            let mut out = Emitter::new();
            let r = c.collect(&mut out);
            out.flush();
            r
        })
    }
}

/// The guest's language stamp (the custom section `sandkit-guest`, which `sandkit plugin build`
/// appends for other languages): the agent and `sandkit doc` read the language of a component
/// built by cargo alone from it. Every export macro below emits it.
#[doc(hidden)]
#[macro_export]
macro_rules! __stamp {
    () => {
        const _: () = {
            #[link_section = "sandkit-guest"]
            #[used]
            static SANDKIT_GUEST: [u8; 10] = *b"lang=rust\n";
        };
    };
}

/// Carry the plugin's default config (its `conf.toml`, the path relative to the file this is
/// written in) in the component, as the custom section `sandkit:conf`: `sandkit doc plugin`
/// documents its keys from it. `sandkit plugin build` adds the project's `conf.toml` by
/// itself; this is for guests built by cargo alone.
///
/// ```ignore
/// sandkit_sdk::default_conf!("../conf.toml");
/// ```
#[macro_export]
macro_rules! default_conf {
    ($path:literal) => {
        const _: () = {
            #[link_section = "sandkit:conf"]
            #[used]
            static SANDKIT_CONF: [u8; include_bytes!($path).len()] = *include_bytes!($path);
        };
    };
}

/// Export a [`Pipeline`] implementation as the plugin's `pipeline` world.
#[macro_export]
macro_rules! pipeline {
    ($ty:ty) => {
        const _: () = {
            struct __SandkitExport;
            impl $crate::pipeline_bindings::Guest for __SandkitExport {
                fn describe() -> $crate::bindings::sandkit::plugin::types::PluginInfo {
                    $crate::__private::describe_pipeline::<$ty>()
                }
                fn init(config: ::std::string::String) -> Result<(), ::std::string::String> {
                    $crate::__private::init_pipeline::<$ty>(config)
                }
                fn process(
                    batch: $crate::pipeline_bindings::sandkit::plugin::pipeline_types::LineBatch,
                ) -> Result<::std::vec::Vec<u8>, ::std::string::String> {
                    $crate::__private::process::<$ty>(batch)
                }
            }
            $crate::pipeline_bindings::export_pipeline_world!(__SandkitExport);
        };
        $crate::__stamp!();
    };
}

/// Export an [`Input`] implementation as the plugin's `input` world.
#[macro_export]
macro_rules! input {
    ($ty:ty) => {
        const _: () = {
            struct __SandkitExport;
            impl $crate::input_bindings::Guest for __SandkitExport {
                fn describe() -> $crate::bindings::sandkit::plugin::types::PluginInfo {
                    $crate::__private::describe_input::<$ty>()
                }
                fn init(config: ::std::string::String) -> Result<(), ::std::string::String> {
                    $crate::__private::init_input::<$ty>(config)
                }
                fn handle(
                    content_type: ::std::string::String,
                    body: ::std::vec::Vec<u8>,
                ) -> Result<(), ::std::string::String> {
                    $crate::__private::handle::<$ty>(content_type, body)
                }
            }
            $crate::input_bindings::export_input_world!(__SandkitExport);
        };
        $crate::__stamp!();
    };
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
        $crate::__stamp!();
    };
}
