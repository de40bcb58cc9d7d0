//! One open file: what is read from it, and how its lines become records.

use crate::config::FileTask;
use crate::identity::{FileId, Fingerprint};
use crate::lines::{LineBatch, LineSplitter};
use crate::multiline::Multiline;
use crate::pipeline::TagCache;
use crate::window::OffsetWindow;
use sandkit_io::SharedTags;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One open file.
#[derive(Debug)]
pub(super) struct Instance {
    pub(super) serial: u64,
    pub(super) id: FileId,
    pub(super) key: String,
    pub(super) path: PathBuf,
    pub(super) filename: String,
    /// The points' tags: task tags and `filename`, without and with `truncated=true`.
    pub(super) tags: [SharedTags; 2],
    pub(super) file: File,
    pub(super) fp: Fingerprint,
    pub(super) splitter: LineSplitter,
    pub(super) multiline: Option<Multiline>,
    pub(super) window: OffsetWindow,
    pub(super) saved: u64,
    /// Match time of a time-pattern file.
    pub(super) time: Option<u64>,
    /// At the end of the file since.
    pub(super) eof_since: Option<Instant>,
    /// Tag sets of pipeline records.
    pub(super) tag_cache: TagCache,
    /// Renamed out of the rule or deleted: finish and close.
    pub(super) detached: bool,
    /// The last records were flushed; close once acknowledged.
    pub(super) finishing: bool,
    pub(super) last_ts: i64,
    /// Bytes of the file not read yet, at the last look (counted in `TaskStats::lag_bytes`).
    pub(super) lag: u64,
}

impl Instance {
    /// Lines as records: through the multi-line joiner when there is one; with `flush`, its
    /// held record too (the file is finished).
    pub(super) fn records(&mut self, lines: LineBatch, flush: bool) -> LineBatch {
        let Some(m) = self.multiline.as_mut() else {
            return lines;
        };
        // Records hold the lines' texts plus a newline between joined lines.
        let mut out = LineBatch::with_capacity(lines.text_len() + lines.len(), lines.len());
        m.push_all(&lines, &mut out);
        if flush {
            m.flush(&mut out);
        }
        out
    }

    /// Read again from `offset`: unfinished lines and records are forgotten, and the
    /// acknowledgements of batches already out are ignored (duplicates stay within the window).
    pub(super) fn rewind(&mut self, offset: u64) {
        self.splitter.reset(offset);
        self.window.reset(offset);
        if let Some(m) = self.multiline.as_mut() {
            m.reset();
        }
        self.finishing = false;
        self.eof_since = None;
    }
}

/// The tag sets of a file's points. Task tags are validated with the config and `filename`
/// and `truncated` are reserved there, so this cannot fail; if it ever did, the points would
/// carry the task tags only.
pub(super) fn file_tags(task: &FileTask, filename: &str) -> [SharedTags; 2] {
    let make = |truncated: bool| {
        let mut tags = task.tags.clone();
        tags.push(("filename".to_string(), filename.to_string()));
        if truncated {
            tags.push(("truncated".to_string(), "true".to_string()));
        }
        SharedTags::new(tags)
            .or_else(|_| SharedTags::new(task.tags.clone()))
            .unwrap_or_else(|_| SharedTags::empty())
    };
    [make(false), make(true)]
}

pub(super) fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
