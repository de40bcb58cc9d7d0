//! Opening RocksDB: every column family, and options tuned for a small memory footprint.

use std::path::Path;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBPinnableSlice, Options, DB,
};

use crate::migrate::META;
use crate::{Family, StateError};

const MIB: usize = 1024 * 1024;
/// Memtable size of one family; a full one is flushed to an SST file.
const WRITE_BUFFER_SIZE: usize = MIB;
/// Memtables per family: the one being written and one being flushed.
const WRITE_BUFFERS: i32 = 2;
/// Cap on the memtables of all families together.
const ALL_WRITE_BUFFERS_SIZE: usize = 4 * MIB;
/// The one LRU block cache, shared by all families; it holds index and filter blocks too.
const BLOCK_CACHE_SIZE: usize = MIB;
const MAX_OPEN_FILES: i32 = 64;
/// Past this much WAL, RocksDB flushes the families that pin the oldest WAL file.
const MAX_WAL_SIZE: u64 = 8 * MIB as u64;
const LOG_FILE_SIZE: usize = MIB;
const LOG_FILES: usize = 2;

/// The handle of the column family `name`, which `open_db` always opens.
pub(crate) fn family_handle<'a>(
    db: &'a DB,
    path: &Path,
    name: &'static str,
) -> Result<&'a ColumnFamily, StateError> {
    db.cf_handle(name).ok_or_else(|| StateError::NoFamily {
        path: path.to_path_buf(),
        family: name,
    })
}

/// The value stored under `stored` in `cf` (the family `family`), or `None`; a failure names
/// the family and `key`, the key as its caller knows it.
pub(crate) fn read<'a>(
    db: &'a DB,
    cf: &ColumnFamily,
    family: &'static str,
    key: &str,
    stored: impl AsRef<[u8]>,
) -> Result<Option<DBPinnableSlice<'a>>, StateError> {
    db.get_pinned_cf(cf, stored)
        .map_err(|source| StateError::Read {
            family,
            key: key.to_owned(),
            source,
        })
}

/// Opens (or creates) the RocksDB database in `dir` with every column family and the
/// small-memory options, without looking at the schema version.
pub(crate) fn open_db(dir: &Path) -> Result<DB, StateError> {
    crate::lazy::load().map_err(|reason| StateError::Library {
        path: dir.to_path_buf(),
        reason,
    })?;
    let open_error = |source| StateError::Open {
        path: dir.to_path_buf(),
        source,
    };
    let cache = Cache::new_lru_cache(BLOCK_CACHE_SIZE).map_err(open_error)?;
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(&cache);
    table.set_cache_index_and_filter_blocks(true);
    let family_options = || {
        let mut opts = Options::default();
        opts.set_write_buffer_size(WRITE_BUFFER_SIZE);
        opts.set_max_write_buffer_number(WRITE_BUFFERS);
        opts.set_block_based_table_factory(&table);
        opts
    };

    let mut opts = family_options();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_db_write_buffer_size(ALL_WRITE_BUFFERS_SIZE);
    opts.set_max_total_wal_size(MAX_WAL_SIZE);
    opts.set_max_open_files(MAX_OPEN_FILES);
    opts.set_keep_log_file_num(LOG_FILES);
    opts.set_max_log_file_size(LOG_FILE_SIZE);
    // No statistics object is created; this also stops the periodic stats dump into LOG.
    opts.set_stats_dump_period_sec(0);
    opts.set_max_background_jobs(2);

    let names = [rocksdb::DEFAULT_COLUMN_FAMILY_NAME, META]
        .into_iter()
        .chain(Family::ALL.iter().map(|f| f.name()));
    let families = names.map(|name| ColumnFamilyDescriptor::new(name, family_options()));
    DB::open_cf_descriptors(&opts, dir, families).map_err(|source| {
        if is_lock_held(&source) {
            StateError::InUse {
                path: dir.to_path_buf(),
            }
        } else {
            open_error(source)
        }
    })
}

/// Whether RocksDB failed to take the store's `LOCK` because it is held: by another process
/// ("While lock file: …/LOCK: Resource temporarily unavailable") or by this one ("lock hold by
/// current process").
fn is_lock_held(error: &rocksdb::Error) -> bool {
    let message = error.to_string();
    error.kind() == rocksdb::ErrorKind::IOError
        && (message.contains("While lock file") || message.contains("lock hold by current process"))
}
