//! Unit tests: a real RocksDB in a temporary directory.

use std::path::Path;

use rocksdb::DB;
use serde::{Deserialize, Serialize};

use crate::db::family_handle;

mod data;
mod open;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Offset {
    pub(crate) offset: u64,
    pub(crate) inode: u64,
}

pub(crate) fn off(offset: u64) -> Offset {
    Offset { offset, inode: 7 }
}

/// Writes a raw key and value into `fam`, below the typed API.
pub(crate) fn raw_put(db: &DB, fam: &'static str, key: &str, value: &[u8]) {
    let cf = family_handle(db, Path::new("test"), fam).unwrap();
    db.put_cf(cf, key, value).unwrap();
}

pub(crate) fn raw_get(db: &DB, fam: &'static str, key: &str) -> Option<Vec<u8>> {
    let cf = family_handle(db, Path::new("test"), fam).unwrap();
    db.get_cf(cf, key).unwrap()
}
