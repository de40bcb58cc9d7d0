//! Sandkit's state store: a small typed key-value store over RocksDB, for the state that must
//! outlive a restart of the agent. The file collector keeps its tasks, file instances and read
//! offsets here (as InLong Agent does); plugin state may move here later.
//!
//! A [`Store`] is opened once per data directory and cloned freely (it is an `Arc` inside).
//! Values are JSON (`serde_json`), one [`Family`] (a RocksDB column family) per kind of record.
//! Several puts and deletes can be applied atomically with a [`Batch`].
//!
//! # Crash semantics
//!
//! Every write goes to RocksDB's write-ahead log (WAL) before it returns, but the WAL is not
//! fsynced on each write. A write that returned therefore survives the process being killed
//! (`kill -9`, a panic, an OOM kill): the bytes reached the operating system. It may be lost if
//! the machine loses power or the kernel crashes before the OS writes it out. [`Store::sync`]
//! fsyncs the WAL, making every write so far durable against power loss too; the agent calls it
//! at a clean stop. A [`Batch`] is applied all or nothing, crash or not.
//!
//! # Key layout
//!
//! Every stored key is `<KEY_VERSION>/<key>`, that is `v1/<key>` today (see [`KEY_VERSION`]), so
//! that a later layout can live beside the old one and an upgrade can still read the old state.
//! A `meta` column family holds `schema_version`, a JSON number (see [`SCHEMA_VERSION`]), under a
//! key that is not versioned so that any build can read it. [`Store::open`] records it in a new
//! store, runs the migrations from an older stored version up to the current one, and refuses a
//! store written by a newer build.
//!
//! # Memory
//!
//! RocksDB is tuned for an agent that aims at well under 30 MiB RSS in total: 1 MiB write
//! buffers (2 per family, 4 MiB for all families together), one shared 1 MiB block cache that
//! also holds index and filter blocks, at most 64 open files, no statistics, and an info `LOG`
//! capped at two files of 1 MiB.

mod db;
mod error;
mod lazy;
mod migrate;
mod store;
#[cfg(test)]
mod tests;

use std::fmt;

pub use error::StateError;
pub use lazy::LIBRARY;
pub use migrate::SCHEMA_VERSION;
pub use store::{Batch, Store};

/// The version prefix of every stored key: a key `k` is stored as `v1/k`.
pub const KEY_VERSION: &str = "v1";

/// A column family of the store: one kind of record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// File collection tasks (`tasks`).
    Tasks,
    /// File instances: one file being read by a task (`instances`).
    Instances,
    /// Read offsets of file instances (`offsets`).
    Offsets,
    /// Lines a fail-closed pipeline could not process, parked for inspection (`deadletter`).
    DeadLetters,
}

impl Family {
    /// Every family, in a fixed order.
    pub const ALL: [Family; 4] = [
        Family::Tasks,
        Family::Instances,
        Family::Offsets,
        Family::DeadLetters,
    ];

    /// The column family's name in RocksDB.
    pub fn name(self) -> &'static str {
        match self {
            Family::Tasks => "tasks",
            Family::Instances => "instances",
            Family::Offsets => "offsets",
            Family::DeadLetters => "deadletter",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The stored form of `key`: `v1/<key>`.
fn versioned(key: &str) -> String {
    let mut out = String::with_capacity(KEY_VERSION.len() + 1 + key.len());
    out.push_str(KEY_VERSION);
    out.push('/');
    out.push_str(key);
    out
}
