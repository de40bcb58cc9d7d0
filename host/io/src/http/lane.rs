//! Durable lanes: the on-disk queue of one destination URL and category, and the task that
//! drains it in order.

use super::config::BufferConfig;
use super::events::{BufferOverflow, CorruptSkipped, DropReason, Dropped, Event, StillUnreachable};
use super::retry::{jittered, Attempt};
use super::{HttpOutput, Inner};
use crate::buffer::{DiskQueue, QueueConfig, Record};
use crate::{Category, Delivery, IoError};
use bytes::Bytes;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The durable queue of one target and category, and the task that drains it.
#[derive(Debug)]
pub(super) struct Lane {
    pub(super) target: usize,
    pub(super) category: Category,
    pub(super) queue: Mutex<DiskQueue>,
    /// Unread bytes, mirrored so that the writer can check for an empty queue without waiting.
    pub(super) unread: AtomicU64,
    pub(super) wake: Notify,
}

impl HttpOutput {
    /// Open the queues an earlier run left with data; warn about those of URLs no longer
    /// configured (they are kept, not sent).
    pub(super) fn open_existing(&self, buf: &BufferConfig) -> Result<(), IoError> {
        let Ok(entries) = std::fs::read_dir(&buf.dir) else {
            return Ok(());
        };
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            let Some(t) = self.inner.targets.iter().position(|t| t.id == id) else {
                if id.starts_with(&format!("{}-", self.inner.kind)) {
                    let bytes = crate::buffer::held_bytes(&e.path());
                    if bytes > 0 {
                        tracing::warn!(dir = %e.path().display(), bytes, "io.buffer holds batches for a URL that is no longer configured; kept, not sent");
                    }
                }
                continue;
            };
            for cat in Category::ALL {
                if e.path().join(cat.as_str()).is_dir() {
                    let lane = self.lane_now(t, cat)?;
                    let n = lane.unread.load(Ordering::Relaxed);
                    if n > 0 {
                        tracing::info!(url = %self.inner.targets[t].base, category = %cat, bytes = n, "io.buffer replaying batches left by the last run");
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn lane_dir(
        &self,
        target: usize,
        category: Category,
    ) -> Option<(PathBuf, QueueConfig)> {
        let buf = self.inner.config.buffer.as_ref()?;
        let dir = buf
            .dir
            .join(&self.inner.targets[target].id)
            .join(category.as_str());
        Some((dir, buf.queue_config(category)))
    }

    pub(super) fn existing_lane(&self, target: usize, category: Category) -> Option<Arc<Lane>> {
        self.lanes.lock().ok()?.get(&(target, category)).cloned()
    }

    /// The lane of a target and category, opened (and its drain task started) on first use.
    /// The queue is opened on a blocking thread (it may cut a torn tail), one at a time.
    pub(super) async fn lane(
        &self,
        target: usize,
        category: Category,
    ) -> Result<Arc<Lane>, IoError> {
        if let Some(l) = self.existing_lane(target, category) {
            return Ok(l);
        }
        let _one = self.opening.lock().await;
        if let Some(l) = self.existing_lane(target, category) {
            return Ok(l);
        }
        let Some((dir, cfg)) = self.lane_dir(target, category) else {
            return Err(IoError::WriterGone);
        };
        let d = dir.clone();
        let q = tokio::task::spawn_blocking(move || DiskQueue::open(&d, cfg))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        self.install(target, category, dir, q)
    }

    /// [`HttpOutput::lane`] for the constructor, where blocking is expected.
    pub(super) fn lane_now(&self, target: usize, category: Category) -> Result<Arc<Lane>, IoError> {
        if let Some(l) = self.existing_lane(target, category) {
            return Ok(l);
        }
        let Some((dir, cfg)) = self.lane_dir(target, category) else {
            return Err(IoError::WriterGone);
        };
        let q = DiskQueue::open(&dir, cfg);
        self.install(target, category, dir, q)
    }

    pub(super) fn install(
        &self,
        target: usize,
        category: Category,
        dir: PathBuf,
        q: std::io::Result<DiskQueue>,
    ) -> Result<Arc<Lane>, IoError> {
        let q = q.map_err(|source| IoError::Open {
            output: self.inner.name.clone(),
            path: dir,
            source,
        })?;
        let lane = Arc::new(Lane {
            target,
            category,
            unread: AtomicU64::new(q.unread_bytes()),
            queue: Mutex::new(q),
            wake: Notify::new(),
        });
        self.inner
            .lane_stats(target, category)
            .buffer_bytes
            .store(lane.unread.load(Ordering::Relaxed), Ordering::Relaxed);
        self.lanes
            .lock()
            .map_err(|_| IoError::WriterGone)?
            .insert((target, category), lane.clone());
        let task = tokio::spawn(drain(self.inner.clone(), lane.clone()));
        if let Ok(mut d) = self.drains.lock() {
            d.push(task);
        }
        Ok(lane)
    }

    /// The buffer directory name of each URL, in config order (`<output>-<host_port>-<hash>`).
    pub fn buffer_dir_names(&self) -> Vec<String> {
        self.inner.targets.iter().map(|t| t.id.clone()).collect()
    }

    /// Append a batch to a lane's queue and wake its drain task.
    pub(super) async fn buffer(
        &self,
        lane: &Arc<Lane>,
        body: &Bytes,
        n: u32,
    ) -> Result<Delivery, IoError> {
        let inner = &self.inner;
        let l = lane.clone();
        let b = body.clone();
        let r = tokio::task::spawn_blocking(move || {
            let mut q = l
                .queue
                .lock()
                .map_err(|_| std::io::Error::other("buffer lock poisoned"))?;
            let d = q.append(n, &b)?;
            l.unread.store(q.unread_bytes(), Ordering::Release);
            Ok::<_, std::io::Error>(d)
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        let here = inner.event_lane(lane.target, lane.category, &inner.targets[lane.target].base);
        let s = here.stats;
        s.buffer_bytes
            .store(lane.unread.load(Ordering::Relaxed), Ordering::Relaxed);
        match r {
            Ok(d) => {
                s.buffered_points.fetch_add(u64::from(n), Ordering::Relaxed);
                if d.overflow_records > 0 {
                    BufferOverflow {
                        batches: d.overflow_records,
                        points: d.overflow_points,
                    }
                    .emit(&here);
                }
                lane.wake.notify_one();
                Ok(Delivery::Buffered)
            }
            Err(source) => {
                let err = IoError::Write {
                    output: format!(
                        "{} buffer of {} {}",
                        inner.name, inner.targets[lane.target].base, lane.category
                    ),
                    source,
                };
                Dropped {
                    points: n,
                    reason: DropReason::BufferFailed,
                    error: &err,
                }
                .emit(&here);
                Err(err)
            }
        }
    }
}

/// Re-send a lane's queue, oldest first, until it is empty; then wait for more.
pub(super) async fn drain(inner: Arc<Inner>, lane: Arc<Lane>) {
    let (url, shown) = inner.targets[lane.target].url(&inner.config.endpoint, lane.category);
    let here = inner.event_lane(lane.target, lane.category, &shown);
    let stats = here.stats;
    let mut delay = inner.config.backoff_initial;
    let mut failing = 0u64;
    loop {
        let l = lane.clone();
        let next = tokio::task::spawn_blocking(move || {
            let mut q = l
                .queue
                .lock()
                .map_err(|_| std::io::Error::other("buffer lock poisoned"))?;
            let r = q.peek();
            let d = q.take_dropped();
            l.unread.store(q.unread_bytes(), Ordering::Release);
            r.map(|r| (r, d))
        })
        .await;
        let rec: Record = match next {
            Ok(Ok((r, d))) => {
                if d.corrupt_bytes > 0 {
                    CorruptSkipped {
                        bytes: d.corrupt_bytes,
                    }
                    .emit(&here);
                }
                stats
                    .buffer_bytes
                    .store(lane.unread.load(Ordering::Relaxed), Ordering::Relaxed);
                match r {
                    Some(r) => r,
                    None => {
                        lane.wake.notified().await;
                        continue;
                    }
                }
            }
            Ok(Err(e)) => {
                tracing::error!(output = %inner.name, url = %shown, category = %lane.category, error = %e, "io.buffer cannot read; retrying");
                tokio::time::sleep(jittered(inner.config.backoff_max)).await;
                continue;
            }
            Err(e) => {
                // A panic in a blocking read, or the runtime shutting down: try again later.
                tracing::error!(output = %inner.name, url = %shown, category = %lane.category, error = %e, "io.buffer read task failed; retrying");
                tokio::time::sleep(jittered(inner.config.backoff_max)).await;
                continue;
            }
        };
        // The record is held until it is sent: if the cap pushes its segment out meanwhile, it
        // still goes first (and is not counted as dropped), so order is kept.
        let body = Bytes::from(rec.body);
        loop {
            let outcome = inner
                .attempt(lane.target, lane.category, &url, &body, rec.points)
                .await;
            match outcome {
                Attempt::Retry(why) => {
                    failing += 1;
                    let wait = jittered(delay);
                    StillUnreachable {
                        attempts: failing,
                        wait,
                        buffered_bytes: lane.unread.load(Ordering::Relaxed),
                        why: &why,
                    }
                    .emit(&here);
                    tokio::time::sleep(wait).await;
                    delay = (delay * 2).min(inner.config.backoff_max);
                }
                Attempt::Rejected(reason) => {
                    inner.rejected(lane.target, lane.category, &shown, rec.points, &reason);
                    break;
                }
                Attempt::Done => {
                    if failing > 0 {
                        tracing::info!(output = %inner.name, url = %shown, category = %lane.category, after_attempts = failing, "io.http reachable again, sending the buffer");
                    }
                    break;
                }
            }
        }
        failing = 0;
        delay = inner.config.backoff_initial;
        let l = lane.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Ok(mut q) = l.queue.lock() {
                q.commit(rec.pos, rec.next);
                l.unread.store(q.unread_bytes(), Ordering::Release);
            }
        })
        .await;
        stats
            .buffer_bytes
            .store(lane.unread.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}
