//! File collection, the way InLong Agent does it: tasks (a path rule and how to read what it
//! matches), instances (one per matching file) and offsets, kept in RocksDB through
//! `sandkit-state`. Discovery combines notify events with a periodic scan; a file is known by
//! device, inode and a fingerprint of its first bytes; offsets are committed only when every
//! record before them is acknowledged by the IO layer.
//!
//! - [`rule`]: path rules (globs, InLong time patterns) and scanning;
//! - [`identity`]: device, inode and fingerprint;
//! - [`lines`], [`multiline`]: cutting bytes into records;
//! - [`window`]: the sliding window of acknowledged offsets;
//! - [`source`]: the running tasks; `parse`: records through a pipeline; `workers`: the
//!   threads of a task with `workers` above 1;
//! - [`config`]: `[[files]]` tables.

pub mod config;
pub mod error;
mod events;
pub mod identity;
pub mod lines;
pub mod multiline;
mod pipeline;
pub mod rule;
pub mod source;
pub mod window;
mod workers;

pub use config::{FileTask, RawFileTask};
pub use error::FilesError;
pub use source::{task_families, FileSource, TaskSnapshot, TaskStats};
