//! Schema versions and the migrations between them.
//!
//! The `meta` column family holds `schema_version` (JSON number, key not versioned). A new store
//! gets [`SCHEMA_VERSION`]. A store at an older version is brought up one version at a time by
//! the [`Migration`] registered for each step; each step's writes and its version bump go in one
//! synced batch, so a crash leaves the store either before or after the step, never half-way.

use std::path::Path;

use rocksdb::{ColumnFamily, WriteBatch, WriteOptions, DB};

use crate::db::{family_handle, read};
use crate::StateError;

/// The schema version this build writes and reads. Bump it, and add a migration from the
/// previous version to `MIGRATIONS` in `migrate.rs`, whenever the key layout or a stored type
/// changes incompatibly.
pub const SCHEMA_VERSION: u32 = 1;

/// The column family of store-wide metadata.
pub(crate) const META: &str = "meta";
/// The key of the schema version in [`META`].
pub(crate) const SCHEMA_KEY: &str = "schema_version";

/// One step of migration, from schema version `from` to `from + 1`.
#[derive(Debug)]
pub(crate) struct Migration {
    /// The version this step starts from.
    pub from: u32,
    /// What the step does, for the log.
    pub name: &'static str,
    /// Reads the old layout from the database and adds the writes that turn it into the new
    /// one to the batch. It must not write to the database itself.
    pub run: fn(&DB, &mut WriteBatch) -> Result<(), StateError>,
}

/// The migrations of this build, one per version step. There are none yet: version 1 is the
/// first layout.
pub(crate) const MIGRATIONS: &[Migration] = &[];

/// The schema version stored in `db`, or `None` for a store that has none (a new one).
///
/// # Errors
///
/// [`StateError::Read`] if RocksDB fails, [`StateError::BadSchemaVersion`] if it is not a
/// number.
pub(crate) fn stored_version(db: &DB, path: &Path) -> Result<Option<u32>, StateError> {
    let meta = family_handle(db, path, META)?;
    let Some(bytes) = read(db, meta, META, SCHEMA_KEY, SCHEMA_KEY)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|_| StateError::BadSchemaVersion {
            path: path.to_path_buf(),
            value: String::from_utf8_lossy(&bytes).into_owned(),
        })
}

/// Brings the store in `db` to schema version `current`: records it in a new store, runs the
/// `migrations` from the stored version up, refuses a store newer than `current`.
///
/// # Errors
///
/// [`StateError::SchemaTooNew`], [`StateError::NoMigration`] when a step has no migration,
/// [`StateError::Migration`] when one fails (the store stays at the last version reached), and
/// the errors of reading and writing the version.
pub(crate) fn upgrade(
    db: &DB,
    path: &Path,
    current: u32,
    migrations: &[Migration],
) -> Result<(), StateError> {
    let meta = family_handle(db, path, META)?;
    let Some(mut version) = stored_version(db, path)? else {
        return write_version(db, meta, current, WriteBatch::default());
    };
    if version > current {
        return Err(StateError::SchemaTooNew {
            path: path.to_path_buf(),
            found: version,
            known: current,
        });
    }
    while version < current {
        let step = migrations
            .iter()
            .find(|m| m.from == version)
            .ok_or_else(|| StateError::NoMigration {
                path: path.to_path_buf(),
                from: version,
            })?;
        tracing::info!(
            path = %path.display(),
            from = version,
            to = version + 1,
            migration = step.name,
            "state: migrating the store"
        );
        let mut batch = WriteBatch::default();
        (step.run)(db, &mut batch).map_err(|source| StateError::Migration {
            path: path.to_path_buf(),
            from: version,
            source: Box::new(source),
        })?;
        version += 1;
        write_version(db, meta, version, batch)?;
    }
    Ok(())
}

/// Writes `batch` with the schema version set to `version`, atomically and synced.
fn write_version(
    db: &DB,
    meta: &ColumnFamily,
    version: u32,
    mut batch: WriteBatch,
) -> Result<(), StateError> {
    batch.put_cf(meta, SCHEMA_KEY, version.to_string());
    let mut opts = WriteOptions::default();
    opts.set_sync(true);
    db.write_opt(batch, &opts)
        .map_err(|source| StateError::Write {
            family: META,
            key: SCHEMA_KEY.to_owned(),
            source,
        })
}
