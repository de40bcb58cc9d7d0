//! Errors of the state store.

use std::path::PathBuf;

/// Why a state store operation failed. Every variant names what it was about: the store's
/// path, or the family and key of the record.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The store's `LOCK` is held: another process (or another [`crate::Store`] in this one)
    /// has it open.
    #[error(
        "state store {} is in use by another process \
         (is another sandkit running with the same data_dir?)",
        path.display()
    )]
    InUse { path: PathBuf },
    /// The RocksDB library cannot be loaded (it is loaded when a store is first opened).
    #[error("cannot open state store {}: {reason}", path.display())]
    Library { path: PathBuf, reason: String },
    /// RocksDB could not open the store.
    #[error("cannot open state store {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rocksdb::Error,
    },
    /// The store was written by a newer build, with a layout this build does not know.
    #[error(
        "state store {} has schema version {found}, newer than version {known} that this \
         build knows: run a newer sandkit or use another data_dir",
        path.display()
    )]
    SchemaTooNew {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    /// The stored schema version is not a number.
    #[error("state store {}: bad schema_version {value:?}", path.display())]
    BadSchemaVersion { path: PathBuf, value: String },
    /// The store is older than this build and no migration leads on from its version.
    #[error("state store {}: no migration from schema version {from}", path.display())]
    NoMigration { path: PathBuf, from: u32 },
    /// A migration failed; the store stays at version `from`.
    #[error("state store {}: migration from schema version {from} failed: {source}", path.display())]
    Migration {
        path: PathBuf,
        from: u32,
        source: Box<StateError>,
    },
    /// A column family that `open` creates is missing (a bug, or a store damaged by hand).
    #[error("state store {}: no column family {family}", path.display())]
    NoFamily { path: PathBuf, family: &'static str },
    /// A value could not be encoded as JSON.
    #[error("cannot encode {family}/{key}: {source}")]
    Encode {
        family: &'static str,
        key: String,
        source: serde_json::Error,
    },
    /// A stored value is not the JSON of the type asked for.
    #[error("cannot decode {family}/{key}: {source}")]
    Decode {
        family: &'static str,
        key: String,
        source: serde_json::Error,
    },
    /// RocksDB failed to read a record.
    #[error("cannot read {family}/{key}: {source}")]
    Read {
        family: &'static str,
        key: String,
        source: rocksdb::Error,
    },
    /// RocksDB failed to scan a family.
    #[error("cannot scan {family} from prefix {prefix:?}: {source}")]
    Scan {
        family: &'static str,
        prefix: String,
        source: rocksdb::Error,
    },
    /// RocksDB failed to write (put or delete) a record.
    #[error("cannot write {family}/{key}: {source}")]
    Write {
        family: &'static str,
        key: String,
        source: rocksdb::Error,
    },
    /// RocksDB failed to apply a batch; none of it was applied.
    #[error("cannot write a batch of {ops} operations to state store {}: {source}", path.display())]
    Batch {
        path: PathBuf,
        ops: usize,
        source: rocksdb::Error,
    },
    /// RocksDB failed to fsync the write-ahead log.
    #[error("cannot sync state store {}: {source}", path.display())]
    Sync {
        path: PathBuf,
        source: rocksdb::Error,
    },
}
