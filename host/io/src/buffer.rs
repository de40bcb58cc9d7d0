//! The durable buffer: an on-disk FIFO of encoded batches, one per output target and category.
//!
//! Append-only segment files (`<id>.seg`, 20 decimal digits) start with an 8-byte magic and hold
//! records `[len u32][crc32 u32][points u32][body]` (little endian; the CRC covers `points` and
//! `body`). A `cursor` file holds the read position (`<segment> <offset>`), replaced by rename
//! after each delivered batch. Segments before the cursor are deleted; when the unread bytes
//! exceed the cap, the oldest segment is deleted and its records counted as dropped.
//!
//! Crash safety: a record is acknowledged only after it is written (and `fdatasync`ed when
//! `fsync` is on). A torn record at the end of the last segment (kill -9 or power loss during an
//! append) fails its length or CRC check and is cut off when the queue is opened. The cursor is
//! not synced: after a power loss it may point back, which replays batches (at least once),
//! never skips them. Why segments and not a RocksDB column family: see docs/architecture.md.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"SKBUF01\n";
const MAGIC_LEN: u64 = MAGIC.len() as u64;
const HEADER: u64 = 12;
/// Larger records are taken for corruption (a batch is capped far below this).
const MAX_RECORD: u64 = 1 << 30;

/// Size limits of one queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// Unread bytes kept before the oldest segment is dropped.
    pub max_bytes: u64,
    /// A new segment is started when the current one would grow past this.
    pub segment_bytes: u64,
    /// `fdatasync` every append before it is acknowledged.
    pub fsync: bool,
}

impl QueueConfig {
    /// Segments of an eighth of the cap, between 64 KiB and 64 MiB: dropping the oldest segment
    /// frees a useful amount without throwing away much.
    pub fn with_cap(max_bytes: u64, fsync: bool) -> Self {
        QueueConfig {
            max_bytes,
            segment_bytes: (max_bytes / 8).clamp(64 << 10, 64 << 20),
            fsync,
        }
    }
}

/// A position in the queue: segment id and byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub segment: u64,
    pub offset: u64,
}

/// A batch read from the queue; hand `pos` and `next` back to [`DiskQueue::commit`].
#[derive(Debug)]
pub struct Record {
    pub pos: Pos,
    pub next: Pos,
    pub points: u32,
    pub body: Vec<u8>,
}

/// What an append or a read threw away.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// Records (batches) and points dropped because the cap was exceeded.
    pub overflow_records: u64,
    pub overflow_points: u64,
    /// Bytes skipped because a record failed its checks while reading.
    pub corrupt_bytes: u64,
}

impl Dropped {
    fn add(&mut self, o: Dropped) {
        self.overflow_records += o.overflow_records;
        self.overflow_points += o.overflow_points;
        self.corrupt_bytes += o.corrupt_bytes;
    }
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    id: u64,
    size: u64,
}

/// One on-disk FIFO. Not thread-safe by itself: the output keeps it behind a mutex and calls it
/// from blocking threads.
#[derive(Debug)]
pub struct DiskQueue {
    dir: PathBuf,
    cfg: QueueConfig,
    segments: VecDeque<Segment>,
    writer: Option<File>,
    reader: Option<(u64, File)>,
    read: Pos,
    /// Drops seen by reads since the last call to [`DiskQueue::take_dropped`].
    dropped: Dropped,
    /// The record handed out by the last [`DiskQueue::peek`] and not yet committed: it is being
    /// sent, so the cap does not count it as dropped.
    sending: Option<Pos>,
    /// Id for the first segment when there is none: one past the cursor's, so that a stale
    /// cursor can never point into new segments.
    next_id: u64,
}

fn seg_name(id: u64) -> String {
    format!("{id:020}.seg")
}

fn crc(points: u32, body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&points.to_le_bytes());
    h.update(body);
    h.finalize()
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

impl DiskQueue {
    /// Open (or create) the queue in `dir`, cutting off a torn record at the end.
    ///
    /// # Errors
    /// When the directory or a segment cannot be read or written.
    pub fn open(dir: &Path, cfg: QueueConfig) -> io::Result<Self> {
        create_dirs(dir, cfg.fsync)?;
        let mut ids = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let name = e?.file_name();
            let name = name.to_string_lossy();
            if let Some(id) = name
                .strip_suffix(".seg")
                .and_then(|s| s.parse::<u64>().ok())
            {
                ids.push(id);
            } else if name.ends_with(".tmp") {
                let _ = std::fs::remove_file(dir.join(&*name));
            }
        }
        ids.sort_unstable();
        let mut q = DiskQueue {
            dir: dir.to_path_buf(),
            cfg,
            segments: VecDeque::new(),
            writer: None,
            reader: None,
            read: Pos {
                segment: 0,
                offset: MAGIC_LEN,
            },
            dropped: Dropped::default(),
            sending: None,
            next_id: 1,
        };
        let last = ids.last().copied();
        for id in ids {
            let size = if Some(id) == last {
                q.recover_tail(id)?
            } else {
                std::fs::metadata(q.seg_path(id))?.len()
            };
            q.segments.push_back(Segment { id, size });
        }
        let cursor = std::fs::read_to_string(dir.join("cursor"))
            .ok()
            .and_then(|t| {
                let mut it = t.split_whitespace().map(|x| x.parse::<u64>().ok());
                Some(Pos {
                    segment: it.next()??,
                    offset: it.next()??,
                })
            });
        q.next_id = cursor.map_or(1, |c| c.segment.saturating_add(1));
        if let Some(first) = q.segments.front().copied() {
            q.read = match cursor {
                Some(c) if q.segments.iter().any(|s| s.id == c.segment) => c,
                _ => Pos {
                    segment: first.id,
                    offset: MAGIC_LEN,
                },
            };
            // Segments wholly before the cursor were delivered; the delete was interrupted.
            while q.segments.front().is_some_and(|s| s.id < q.read.segment) {
                if let Some(s) = q.segments.pop_front() {
                    let _ = std::fs::remove_file(q.seg_path(s.id));
                }
            }
            if let Some(head) = q.segments.front() {
                q.read.offset = q.read.offset.clamp(MAGIC_LEN, head.size.max(MAGIC_LEN));
            }
        }
        Ok(q)
    }

    fn seg_path(&self, id: u64) -> PathBuf {
        self.dir.join(seg_name(id))
    }

    /// Validate every record of the last segment and cut the file after the last good one.
    fn recover_tail(&self, id: u64) -> io::Result<u64> {
        let path = self.seg_path(id);
        let mut f = OpenOptions::new().read(true).write(true).open(&path)?;
        let len = f.metadata()?.len();
        let mut magic = [0u8; 8];
        if len < MAGIC_LEN || f.read_exact(&mut magic).is_err() || &magic != MAGIC {
            // Torn while being created (or not ours): start it afresh.
            f.set_len(0)?;
            f.write_all_at(MAGIC, 0)?;
            if len > 0 {
                tracing::warn!(file = %path.display(), bytes = len, "io.buffer segment without a valid header reset");
            }
            return Ok(MAGIC_LEN);
        }
        let mut off = MAGIC_LEN;
        let mut head = [0u8; HEADER as usize];
        let mut body = Vec::new();
        while off + HEADER <= len {
            f.read_exact_at(&mut head, off)?;
            let n = u64::from(u32_at(&head, 0));
            if n > MAX_RECORD || off + HEADER + n > len {
                break;
            }
            body.resize(n as usize, 0);
            f.read_exact_at(&mut body, off + HEADER)?;
            if crc(u32_at(&head, 8), &body) != u32_at(&head, 4) {
                break;
            }
            off += HEADER + n;
        }
        if off < len {
            tracing::warn!(file = %path.display(), offset = off, bytes = len - off, "io.buffer torn record at the end cut off (interrupted write)");
            f.set_len(off)?;
        }
        Ok(off)
    }

    /// Bytes of records not yet delivered.
    pub fn unread_bytes(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| {
                let start = if s.id == self.read.segment {
                    self.read.offset
                } else {
                    MAGIC_LEN
                };
                s.size.saturating_sub(start)
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.unread_bytes() == 0
    }

    /// Drops seen while reading since the last call.
    pub fn take_dropped(&mut self) -> Dropped {
        std::mem::take(&mut self.dropped)
    }

    /// Append a batch of `points` points; returns what the cap pushed out.
    ///
    /// # Errors
    /// When the segment cannot be written (disk full, ...); the queue is left as it was.
    pub fn append(&mut self, points: u32, body: &[u8]) -> io::Result<Dropped> {
        let n = HEADER + body.len() as u64;
        let roll = match self.segments.back() {
            None => true,
            Some(s) => s.size > MAGIC_LEN && s.size + n > self.cfg.segment_bytes,
        };
        if roll || self.writer.is_none() {
            self.open_writer(roll)?;
        }
        let (Some(w), Some(last)) = (self.writer.as_mut(), self.segments.back_mut()) else {
            return Err(io::Error::other("no segment open for writing"));
        };
        let mut rec = Vec::with_capacity(n as usize);
        rec.extend_from_slice(&(body.len() as u32).to_le_bytes());
        rec.extend_from_slice(&crc(points, body).to_le_bytes());
        rec.extend_from_slice(&points.to_le_bytes());
        rec.extend_from_slice(body);
        let written = w.write_all_at(&rec, last.size).and_then(|()| {
            if self.cfg.fsync {
                w.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            let _ = w.set_len(last.size);
            return Err(e);
        }
        last.size += n;
        let mut dropped = Dropped::default();
        while self.unread_bytes() > self.cfg.max_bytes && self.segments.len() > 1 {
            dropped.add(self.drop_oldest());
        }
        Ok(dropped)
    }

    fn open_writer(&mut self, new_segment: bool) -> io::Result<()> {
        if new_segment {
            let id = self.segments.back().map_or(self.next_id, |s| s.id + 1);
            let path = self.seg_path(id);
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)?;
            f.write_all_at(MAGIC, 0)?;
            if self.cfg.fsync {
                f.sync_data()?;
                File::open(&self.dir)?.sync_all()?;
            }
            let first = self.segments.is_empty();
            self.segments.push_back(Segment {
                id,
                size: MAGIC_LEN,
            });
            self.writer = Some(f);
            if first {
                self.read = Pos {
                    segment: id,
                    offset: MAGIC_LEN,
                };
                self.save_cursor();
            }
        } else if let Some(last) = self.segments.back() {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(self.seg_path(last.id))?;
            self.writer = Some(f);
        }
        Ok(())
    }

    /// Delete the oldest segment (never the one being written), counting what it held unread.
    fn drop_oldest(&mut self) -> Dropped {
        let Some(s) = self.segments.pop_front() else {
            return Dropped::default();
        };
        let path = self.seg_path(s.id);
        let mut d = Dropped::default();
        let mut off = if self.read.segment == s.id {
            self.read.offset
        } else {
            MAGIC_LEN
        };
        if let Ok(f) = File::open(&path) {
            let mut head = [0u8; HEADER as usize];
            while off + HEADER <= s.size && f.read_exact_at(&mut head, off).is_ok() {
                let here = Pos {
                    segment: s.id,
                    offset: off,
                };
                if self.sending != Some(here) {
                    d.overflow_records += 1;
                    d.overflow_points += u64::from(u32_at(&head, 8));
                }
                off += HEADER + u64::from(u32_at(&head, 0));
            }
        }
        if let Err(e) = std::fs::remove_file(&path) {
            // The cursor moves past it below, so a later open deletes it as delivered.
            tracing::warn!(file = %path.display(), error = %e, "io.buffer cannot delete a dropped segment");
        }
        if self.reader.as_ref().is_some_and(|(id, _)| *id == s.id) {
            self.reader = None;
        }
        if let Some(next) = self.segments.front() {
            if self.read.segment <= s.id {
                self.read = Pos {
                    segment: next.id,
                    offset: MAGIC_LEN,
                };
                self.save_cursor();
            }
        }
        d
    }

    /// The oldest undelivered batch, if any. Corrupt records are skipped (logged, counted).
    ///
    /// # Errors
    /// When a segment cannot be read.
    pub fn peek(&mut self) -> io::Result<Option<Record>> {
        loop {
            let Some(head) = self.segments.front().copied() else {
                return Ok(None);
            };
            if self.read.segment != head.id {
                self.read = Pos {
                    segment: head.id,
                    offset: MAGIC_LEN,
                };
            }
            if self.read.offset >= head.size {
                if self.segments.len() == 1 {
                    return Ok(None);
                }
                // Wholly delivered and no longer written: delete it.
                self.segments.pop_front();
                self.reader = None;
                let _ = std::fs::remove_file(self.seg_path(head.id));
                continue;
            }
            if self.reader.as_ref().is_none_or(|(id, _)| *id != head.id) {
                self.reader = Some((head.id, File::open(self.seg_path(head.id))?));
            }
            let Some((_, f)) = self.reader.as_ref() else {
                continue;
            };
            let off = self.read.offset;
            let mut hdr = [0u8; HEADER as usize];
            let ok_len = off + HEADER <= head.size && f.read_exact_at(&mut hdr, off).is_ok();
            let n = u64::from(u32_at(&hdr, 0));
            if ok_len && n <= MAX_RECORD && off + HEADER + n <= head.size {
                let mut body = vec![0u8; n as usize];
                f.read_exact_at(&mut body, off + HEADER)?;
                let points = u32_at(&hdr, 8);
                if crc(points, &body) == u32_at(&hdr, 4) {
                    self.sending = Some(self.read);
                    return Ok(Some(Record {
                        pos: self.read,
                        next: Pos {
                            segment: head.id,
                            offset: off + HEADER + n,
                        },
                        points,
                        body,
                    }));
                }
            }
            let skipped = head.size - off;
            tracing::error!(file = %self.seg_path(head.id).display(), offset = off, bytes = skipped, "io.buffer corrupt record: the rest of the segment is skipped");
            self.dropped.corrupt_bytes += skipped;
            self.read.offset = head.size;
            self.save_cursor();
        }
    }

    /// Mark the record at `pos` delivered. A no-op when the cap dropped it meanwhile.
    pub fn commit(&mut self, pos: Pos, next: Pos) {
        if self.sending == Some(pos) {
            self.sending = None;
        }
        if self.read == pos {
            self.read = next;
            self.save_cursor();
        }
    }

    fn save_cursor(&self) {
        let tmp = self.dir.join("cursor.tmp");
        let text = format!("{} {}\n", self.read.segment, self.read.offset);
        let r = std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, self.dir.join("cursor")));
        if let Err(e) = r {
            // Not fatal: an old cursor replays batches, it never skips them.
            tracing::warn!(dir = %self.dir.display(), error = %e, "io.buffer cannot save the cursor");
        }
    }
}

/// `create_dir_all`, and with `fsync` on, sync every directory it created and the one above, so
/// that a new queue directory survives a power loss.
fn create_dirs(dir: &Path, fsync: bool) -> io::Result<()> {
    if !fsync {
        return std::fs::create_dir_all(dir);
    }
    let mut created = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        created.push(d.to_path_buf());
        at = d.parent();
    }
    std::fs::create_dir_all(dir)?;
    for d in &created {
        if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(parent)?.sync_all()?;
        }
    }
    Ok(())
}

/// Bytes of queued records under `dir` (every queue below it; segment headers not counted).
pub fn held_bytes(dir: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => n += held_bytes(&e.path()),
                Ok(_) if e.file_name().to_string_lossy().ends_with(".seg") => {
                    n += e.metadata().map_or(0, |m| m.len().saturating_sub(8));
                }
                _ => {}
            }
        }
    }
    n
}

/// Read every undelivered record of the queue in `dir` without changing it (tests, tools).
///
/// # Errors
/// When the directory cannot be read.
pub fn read_queue(dir: &Path) -> io::Result<Vec<(u32, Vec<u8>)>> {
    let copy = tempfile_dir(dir)?;
    let mut q = DiskQueue::open(&copy, QueueConfig::with_cap(u64::MAX, false))?;
    let mut out = Vec::new();
    while let Some(r) = q.peek()? {
        q.commit(r.pos, r.next);
        out.push((r.points, r.body));
    }
    let _ = std::fs::remove_dir_all(&copy);
    Ok(out)
}

/// Copy a queue directory next to itself so that reading it changes nothing.
fn tempfile_dir(dir: &Path) -> io::Result<PathBuf> {
    let copy = dir.with_extension(format!("read-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy)?;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_file() {
            std::fs::copy(e.path(), copy.join(e.file_name()))?;
        }
    }
    Ok(copy)
}

#[cfg(test)]
mod tests;
