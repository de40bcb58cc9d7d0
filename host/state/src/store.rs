//! The store: typed reads and writes of JSON values under versioned keys, and batches.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{ColumnFamily, Direction, IteratorMode, WriteBatch, DB};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::db::{family_handle, open_db, read};
use crate::migrate::{self, Migration, SCHEMA_VERSION};
use crate::{versioned, Family, StateError, KEY_VERSION};

/// A handle on an open state store. Cloning it is cheap and every clone is the same store; the
/// store closes when the last clone is dropped.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: DB,
    path: PathBuf,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store in `dir`, creating it (and any missing column family) if need be, then
    /// records the schema version in a new store or migrates an older one to it.
    ///
    /// # Errors
    ///
    /// [`StateError::InUse`] if another process (or another `Store` in this one) has the store
    /// open, [`StateError::SchemaTooNew`] if a newer build wrote it, [`StateError::NoMigration`]
    /// or [`StateError::Migration`] if it cannot be brought up to date, [`StateError::Open`] if
    /// RocksDB cannot open it.
    pub fn open(dir: &Path) -> Result<Store, StateError> {
        Store::open_with(dir, SCHEMA_VERSION, migrate::MIGRATIONS)
    }

    /// [`Store::open`] with the schema version and migrations given: tests use it to bring
    /// older layouts of their own up to date.
    pub(crate) fn open_with(
        dir: &Path,
        current: u32,
        migrations: &[Migration],
    ) -> Result<Store, StateError> {
        let db = open_db(dir)?;
        migrate::upgrade(&db, dir, current, migrations)?;
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                path: dir.to_path_buf(),
            }),
        })
    }

    /// The directory the store lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Stores `value` as JSON under `key` in `fam`, replacing any value there.
    ///
    /// # Errors
    ///
    /// [`StateError::Encode`] if `value` cannot be encoded, [`StateError::Write`] if RocksDB
    /// fails to write it.
    pub fn put<T: Serialize + ?Sized>(
        &self,
        fam: Family,
        key: &str,
        value: &T,
    ) -> Result<(), StateError> {
        let bytes = encode(fam, key, value)?;
        let cf = self.cf(fam)?;
        self.inner
            .db
            .put_cf(cf, versioned(key), bytes)
            .map_err(|source| StateError::Write {
                family: fam.name(),
                key: key.to_owned(),
                source,
            })
    }

    /// The value under `key` in `fam`, or `None` if there is none.
    ///
    /// # Errors
    ///
    /// [`StateError::Decode`] (naming the family and key) if the stored value is not the JSON of
    /// a `T`, [`StateError::Read`] if RocksDB fails to read it.
    pub fn get<T: DeserializeOwned>(
        &self,
        fam: Family,
        key: &str,
    ) -> Result<Option<T>, StateError> {
        let cf = self.cf(fam)?;
        let Some(bytes) = read(&self.inner.db, cf, fam.name(), key, versioned(key))? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StateError::Decode {
                family: fam.name(),
                key: key.to_owned(),
                source,
            })
    }

    /// Removes `key` from `fam`; removing a key that is not there is not an error.
    ///
    /// # Errors
    ///
    /// [`StateError::Write`] if RocksDB fails to write the deletion.
    pub fn delete(&self, fam: Family, key: &str) -> Result<(), StateError> {
        let cf = self.cf(fam)?;
        self.inner
            .db
            .delete_cf(cf, versioned(key))
            .map_err(|source| StateError::Write {
                family: fam.name(),
                key: key.to_owned(),
                source,
            })
    }

    /// Every `(key, value)` of `fam` whose key starts with `prefix`, in key (byte) order; an
    /// empty prefix gives the whole family. A record whose value does not decode as a `T` is
    /// logged (a warning naming family and key) and skipped, so that one bad record does not
    /// hide the others.
    ///
    /// # Errors
    ///
    /// [`StateError::Scan`] if RocksDB fails to read the family.
    pub fn scan<T: DeserializeOwned>(
        &self,
        fam: Family,
        prefix: &str,
    ) -> Result<Vec<(String, T)>, StateError> {
        let cf = self.cf(fam)?;
        let start = versioned(prefix);
        let version_len = KEY_VERSION.len() + 1;
        let mut out = Vec::new();
        let mode = IteratorMode::From(start.as_bytes(), Direction::Forward);
        for item in self.inner.db.iterator_cf(cf, mode) {
            let (raw_key, value) = item.map_err(|source| StateError::Scan {
                family: fam.name(),
                prefix: prefix.to_owned(),
                source,
            })?;
            if !raw_key.starts_with(start.as_bytes()) {
                break;
            }
            let Some(key) = raw_key
                .get(version_len..)
                .and_then(|k| std::str::from_utf8(k).ok())
            else {
                let key = String::from_utf8_lossy(&raw_key);
                tracing::warn!(family = fam.name(), %key, "state: skipping a key that is not UTF-8");
                continue;
            };
            match serde_json::from_slice(&value) {
                Ok(value) => out.push((key.to_owned(), value)),
                Err(error) => tracing::warn!(
                    family = fam.name(),
                    key,
                    %error,
                    "state: skipping a record that does not decode"
                ),
            }
        }
        Ok(out)
    }

    /// Applies every put and delete of `batch` atomically: after a crash either all of them are
    /// there or none is.
    ///
    /// # Errors
    ///
    /// [`StateError::Batch`] if RocksDB fails to write the batch; then none of it is applied.
    pub fn write(&self, batch: Batch) -> Result<(), StateError> {
        if batch.ops.is_empty() {
            return Ok(());
        }
        let ops = batch.ops.len();
        let mut raw = WriteBatch::default();
        for op in batch.ops {
            let cf = self.cf(op.fam)?;
            match op.value {
                Some(value) => raw.put_cf(cf, versioned(&op.key), value),
                None => raw.delete_cf(cf, versioned(&op.key)),
            }
        }
        self.inner
            .db
            .write(raw)
            .map_err(|source| StateError::Batch {
                path: self.inner.path.clone(),
                ops,
                source,
            })
    }

    /// Makes every write so far durable against power loss by fsyncing the write-ahead log.
    /// Writes already survive the process being killed without it; the agent calls this at a
    /// clean stop.
    ///
    /// # Errors
    ///
    /// [`StateError::Sync`] if the WAL cannot be written out or fsynced.
    pub fn sync(&self) -> Result<(), StateError> {
        self.inner
            .db
            .flush_wal(true)
            .map_err(|source| StateError::Sync {
                path: self.inner.path.clone(),
                source,
            })
    }

    /// The RocksDB database, for tests that write below the typed API.
    #[cfg(test)]
    pub(crate) fn raw(&self) -> &DB {
        &self.inner.db
    }

    fn cf(&self, fam: Family) -> Result<&ColumnFamily, StateError> {
        family_handle(&self.inner.db, &self.inner.path, fam.name())
    }
}

/// Several puts and deletes that [`Store::write`] applies atomically, in the order they were
/// added. Values are encoded when added, so a value that cannot be encoded fails there.
#[derive(Debug, Default)]
pub struct Batch {
    ops: Vec<Op>,
}

#[derive(Debug)]
struct Op {
    fam: Family,
    key: String,
    /// JSON of the value; `None` for a delete.
    value: Option<Vec<u8>>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds a put of `value` under `key` in `fam`.
    ///
    /// # Errors
    ///
    /// [`StateError::Encode`] if `value` cannot be encoded; the batch is left as it was.
    pub fn put<T: Serialize + ?Sized>(
        &mut self,
        fam: Family,
        key: &str,
        value: &T,
    ) -> Result<(), StateError> {
        let value = encode(fam, key, value)?;
        self.ops.push(Op {
            fam,
            key: key.to_owned(),
            value: Some(value),
        });
        Ok(())
    }

    /// Adds a delete of `key` in `fam`.
    pub fn delete(&mut self, fam: Family, key: &str) {
        self.ops.push(Op {
            fam,
            key: key.to_owned(),
            value: None,
        });
    }

    /// How many puts and deletes the batch holds.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

fn encode<T: Serialize + ?Sized>(fam: Family, key: &str, value: &T) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(value).map_err(|source| StateError::Encode {
        family: fam.name(),
        key: key.to_owned(),
        source,
    })
}
