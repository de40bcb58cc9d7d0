//! Finding files: watching the rules' roots, scanning, opening what matches at its saved
//! offset, and forgetting the records of files that are gone.

use super::instance::{file_name, file_tags, Instance};
use super::read::restart;
use super::runner::Runner;
use super::stored::{parse_id, InstanceRecord, OffsetRecord};
use super::SCAN_LIMIT;
use crate::events::{Event, FileOpened, FileRestarted, Restart};
use crate::identity::{compare, fingerprint, FileId, Seen, FINGERPRINT_BYTES};
use crate::lines::LineSplitter;
use crate::multiline::Multiline;
use crate::pipeline::TagCache;
use crate::window::OffsetWindow;
use notify::{RecursiveMode, Watcher};
use sandkit_io::now_ns;
use sandkit_state::{Batch, Family};
use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

impl Runner {
    /// Watch the rules' roots that exist (again after they appear), then match files.
    pub(super) fn scan(&mut self) {
        if let Some(w) = self.watcher.as_mut() {
            for root in self.out.task.rules.roots() {
                if !self.watched.contains(&root) && root.is_dir() {
                    match w.watch(&root, RecursiveMode::Recursive) {
                        Ok(()) => {
                            self.watched.insert(root);
                        }
                        Err(e) => {
                            tracing::warn!(task = %self.out.task.name, dir = %root.display(), error = %e, "files.watch cannot watch; relying on the periodic scan")
                        }
                    }
                }
            }
        }
        let found = self.out.task.rules.scan(SCAN_LIMIT);
        self.newest_time = found.iter().filter_map(|(_, m)| m.time).max();
        let mut seen = HashSet::new();
        for (path, m) in found {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let id = FileId::of(&meta);
            seen.insert(id);
            if let Some(inst) = self.by_id.get(&id).and_then(|s| self.open.get_mut(s)) {
                if inst.path != path {
                    tracing::info!(task = %self.out.task.name, from = %inst.path.display(), to = %path.display(), "files.instance renamed");
                    inst.filename = file_name(&path);
                    inst.tags = file_tags(&self.out.task, &inst.filename);
                    inst.tag_cache = TagCache::default();
                    inst.path = path;
                }
                inst.time = m.time;
                if inst.detached {
                    inst.detached = false;
                    inst.finishing = false;
                    inst.eof_since = None;
                }
                // Truncated and written past the old offset before a read noticed the shrink:
                // the first bytes tell.
                if compare(inst.fp, &inst.file, meta.len()).is_ok_and(|s| s == Seen::Changed) {
                    restart(&self.out.task.name, &self.out.stats, inst, meta.len());
                }
                continue;
            }
            self.open_file(&path, id, meta.len(), m.time);
        }
        self.first_scan_from_end = false;
        for inst in self.open.values_mut() {
            if !seen.contains(&inst.id) && !inst.detached && path_gone(&inst.path, inst.id) {
                tracing::info!(task = %self.out.task.name, file = %inst.path.display(), "files.instance renamed away or deleted; reading it to its end");
                inst.detached = true;
            }
        }
        self.forget_gone(&seen);
    }

    /// Delete the records of files that no scan finds any more and that are not open.
    pub(super) fn forget_gone(&mut self, seen: &HashSet<FileId>) {
        let prefix = format!("{}/", self.out.task.name);
        let Ok(records) = self
            .out
            .store
            .scan::<InstanceRecord>(Family::Instances, &prefix)
        else {
            return;
        };
        let open: HashSet<String> = self.open.values().map(|i| i.key.clone()).collect();
        let seen_keys: HashSet<String> = seen.iter().map(|id| self.key(*id)).collect();
        let mut batch = Batch::new();
        let mut n = 0;
        for (key, rec) in records {
            let Some(id) = key.rsplit('/').next().and_then(parse_id) else {
                continue;
            };
            // A file that is only out of sight (a directory unreadable for a while, a volume
            // not mounted yet, the scan limit) keeps its offset.
            if !open.contains(&key)
                && !seen_keys.contains(&key)
                && path_gone(Path::new(&rec.path), id)
            {
                batch.delete(Family::Instances, &key);
                batch.delete(Family::Offsets, &key);
                n += 1;
            }
        }
        if n > 0 {
            if let Err(e) = self.out.store.write(batch) {
                tracing::warn!(task = %self.out.task.name, error = %e, "files.state cannot forget gone files");
            }
        }
    }

    /// Open a file found by a scan, at its saved offset (or at its start or end when new).
    pub(super) fn open_file(&mut self, path: &Path, id: FileId, len: u64, time: Option<u64>) {
        let key = self.key(id);
        let saved: Option<OffsetRecord> = match self.out.store.get(Family::Offsets, &key) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(task = %self.out.task.name, file = %path.display(), error = %e, "files.state unreadable offset; reading the file from the start");
                None
            }
        };
        if saved.as_ref().is_some_and(|s| {
            s.offset == len && s.fp.len as usize >= FINGERPRINT_BYTES.min(len as usize)
        }) {
            return; // read to its end before and unchanged: stays closed
        }
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(task = %self.out.task.name, file = %path.display(), error = %e, "files.instance cannot open");
                return;
            }
        };
        let Ok(meta) = file.metadata() else { return };
        if FileId::of(&meta) != id {
            return; // replaced between the scan and the open: the next scan sees the new one
        }
        let len = meta.len();
        let start = match &saved {
            Some(s) => match compare(s.fp, &file, len) {
                Ok(Seen::Same) if len >= s.offset => s.offset,
                Ok(_) => {
                    FileRestarted {
                        path,
                        offset: s.offset,
                        size: len,
                        why: Restart::ChangedSinceLastSeen,
                    }
                    .emit(&self.out.task.name, &self.out.stats);
                    0
                }
                Err(_) => return,
            },
            None if self.first_scan_from_end => len,
            None => 0,
        };
        let Ok(fp) = fingerprint(&file, len) else {
            return;
        };
        let serial = self.next_serial;
        self.next_serial += 1;
        let t = &self.out.task;
        let inst = Instance {
            serial,
            id,
            key: key.clone(),
            path: path.to_path_buf(),
            filename: file_name(path),
            tags: file_tags(t, &file_name(path)),
            file,
            fp,
            splitter: LineSplitter::new(t.line, start),
            multiline: t
                .multiline
                .clone()
                .map(|re| Multiline::new(re, t.line.max_line_bytes)),
            window: OffsetWindow::new(start),
            saved: u64::MAX,
            time,
            eof_since: None,
            tag_cache: TagCache::default(),
            detached: false,
            finishing: false,
            last_ts: 0,
            lag: 0,
        };
        let rec = InstanceRecord {
            path: path.display().to_string(),
            open: true,
            updated_ns: now_ns(),
        };
        if let Err(e) = self.out.store.put(Family::Instances, &key, &rec) {
            tracing::warn!(task = %t.name, error = %e, "files.state cannot save the instance");
        }
        FileOpened {
            path,
            offset: start,
        }
        .emit(&t.name, &self.out.stats);
        self.by_id.insert(id, serial);
        self.open.insert(serial, inst);
    }
}

/// The file is positively gone from `path`: nothing there, or another file.
pub(super) fn path_gone(path: &Path, id: FileId) -> bool {
    match std::fs::metadata(path) {
        Ok(m) => FileId::of(&m) != id,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}
