//! What a task saves in RocksDB: per file its offset and last path, per task that it ran.

use crate::identity::{FileId, Fingerprint};
use serde::{Deserialize, Serialize};

/// Saved per file: where reading resumes, and what the file started with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct OffsetRecord {
    pub(super) offset: u64,
    pub(super) fp: Fingerprint,
}

/// Saved per file: its last path and whether an instance is reading it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct InstanceRecord {
    pub(super) path: String,
    pub(super) open: bool,
    pub(super) updated_ns: i64,
}

/// Saved per task: that it has run before (files found at its first start are read from the
/// end unless `from_beginning`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct TaskRecord {
    pub(super) source: String,
    pub(super) paths: Vec<String>,
    pub(super) created_ns: i64,
}

/// `dev:ino` as written in keys.
pub(super) fn parse_id(s: &str) -> Option<FileId> {
    let (d, i) = s.split_once(':')?;
    Some(FileId {
        dev: d.parse().ok()?,
        ino: i.parse().ok()?,
    })
}
