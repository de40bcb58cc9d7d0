//! The bounded channel between producers (plugins) and the writer task that owns the output.

use crate::{
    Ack, AckOutcome, Batch, Category, Compression, Delivery, Frames, IoError, Lines, Output, Point,
    Route, Unrouted,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Where producers send points. Cloning is cheap; sending waits when a writer is behind
/// (backpressure), so memory stays bounded by the channel capacity.
///
/// A sink feeds one output's writer ([`spawn_writer`]) or several ([`Sink::fanout`]), each
/// behind its [`Route`]: a send goes to every output whose route takes it, and its
/// acknowledgement completes when each of them has its share (the worst outcome wins). What no
/// route takes is counted ([`Sink::unrouted`]) and acknowledged as delivered: the config sends
/// it nowhere.
#[derive(Debug, Clone)]
pub struct Sink {
    /// Every output's writer.
    all: Arc<[Target]>,
    /// The writers this sink's sends may reach: those whose route takes its source.
    active: Arc<[usize]>,
    /// Whether every active writer's output takes unsigned fields ([`Output::uint_support`]),
    /// for sources that write line protocol.
    uint_support: bool,
    /// The active outputs' one [`Output::frames`] compression, for sources that compress
    /// their lines themselves; `None` when they differ or a route filters measurements.
    frames: Option<Compression>,
    unrouted: Arc<Unrouted>,
}

/// One output's writer and its route.
#[derive(Debug, Clone)]
struct Target {
    route: Route,
    tx: mpsc::Sender<Envelope>,
    uint_support: bool,
    frames: Option<Compression>,
}

/// Points from one send, and the acknowledgement of their source if it wants one.
#[derive(Debug)]
struct Envelope {
    points: Vec<Point>,
    /// Lines already in line protocol, of one category, as text or as a compressed frame.
    lines: Option<(Category, Lines)>,
    frames: Option<(Category, Frames)>,
    ack: Option<Ack>,
    /// Write the batches these points went into at once (someone is waiting on the ack).
    now: bool,
}

impl Envelope {
    fn points(points: Vec<Point>, ack: Option<Ack>, now: bool) -> Self {
        Envelope {
            points,
            lines: None,
            frames: None,
            ack,
            now,
        }
    }

    fn is_empty(&self) -> bool {
        self.points.is_empty() && self.lines.is_none() && self.frames.is_none()
    }
}

impl Sink {
    fn new(all: Arc<[Target]>, active: Arc<[usize]>, unrouted: Arc<Unrouted>) -> Sink {
        let targets = || active.iter().map(|&i| &all[i]);
        let uint_support = targets().all(|t| t.uint_support);
        let first = targets().next().and_then(|t| t.frames);
        let frames = first
            .filter(|c| targets().all(|t| t.frames == Some(*c) && t.route.measurements.is_none()));
        Sink {
            uint_support,
            frames,
            all,
            active,
            unrouted,
        }
    }

    /// One sink over several outputs' sinks (each made by [`spawn_writer`]), each output
    /// taking what its route takes. A sink that is a fan-out already keeps its own routes
    /// when it is given [`Route::all`] (routes are not intersected).
    pub fn fanout(outputs: Vec<(Route, Sink)>) -> Sink {
        let all: Vec<Target> = outputs
            .into_iter()
            .flat_map(|(route, sink)| {
                let mut targets: Vec<Target> = sink.all.to_vec();
                if route != Route::all() {
                    for t in &mut targets {
                        t.route = route.clone();
                    }
                }
                targets
            })
            .collect();
        let active = (0..all.len())
            .filter(|&i| all[i].route.sources.is_none())
            .collect();
        Sink::new(all.into(), active, Arc::default())
    }

    /// This sink for the sends of one source, known by `names` (a plugin's name, a file task's
    /// `source` and `name`, `http`): the outputs whose route names sources take them only if
    /// it names one of these. A sink not made for a source reaches only the routes that name no
    /// sources.
    pub fn for_source(&self, names: &[&str]) -> Sink {
        let active = (0..self.all.len())
            .filter(|&i| names.iter().any(|n| self.all[i].route.takes_source(n)))
            .collect();
        Sink::new(self.all.clone(), active, self.unrouted.clone())
    }

    /// Points, by category, that no output's route took.
    pub fn unrouted(&self) -> Vec<(Category, u64)> {
        self.unrouted.counts()
    }

    /// The counts of [`Sink::unrouted`], to read without holding the sink (which keeps the
    /// writers running).
    pub fn unrouted_counts(&self) -> Arc<Unrouted> {
        self.unrouted.clone()
    }

    /// Which writer gets what of `env`.
    fn route(&self, mut env: Envelope) -> Vec<(&mpsc::Sender<Envelope>, Envelope)> {
        if let [i] = *self.active {
            let t = &self.all[i];
            if t.route.takes_all_sent() {
                return vec![(&t.tx, env)];
            }
        }
        let mut out = Vec::with_capacity(self.active.len());
        for &i in self.active.iter() {
            let t = &self.all[i];
            let part = Envelope {
                points: env
                    .points
                    .iter()
                    .filter(|p| t.route.takes_point(p))
                    .cloned()
                    .collect(),
                lines: env
                    .lines
                    .as_ref()
                    .and_then(|(c, l)| Some((*c, t.route.lines(*c, l)?))),
                frames: env
                    .frames
                    .as_ref()
                    .filter(|(c, f)| f.count > 0 && t.route.takes_category(*c))
                    .cloned(),
                ack: None,
                now: env.now,
            };
            if !part.is_empty() {
                out.push((&t.tx, part));
            }
        }
        self.count_unrouted(&env);
        let ack = env.ack.take();
        for (_, part) in &mut out {
            part.ack = ack.as_ref().map(Ack::share);
        }
        if let Some(a) = ack {
            // Its shares went with the parts; with none, nothing was routed anywhere: done.
            a.release();
        }
        out
    }

    /// Count what of `env` no active route takes.
    fn count_unrouted(&self, env: &Envelope) {
        let routes = || self.active.iter().map(|&i| &self.all[i].route);
        let add = |c: Category, n: usize| self.unrouted.add(c, n);
        for p in &env.points {
            if !routes().any(|r| r.takes_point(p)) {
                add(p.category(), 1);
            }
        }
        if let Some((c, l)) = &env.lines {
            let taken = routes()
                .filter_map(|r| r.lines(*c, l))
                .map(|l| l.count)
                .max();
            // With measurement filters, a line two routes took counts once: the max is a
            // lower bound of what was taken, exact when one route takes a superset.
            add(*c, l.count - taken.unwrap_or(0).min(l.count));
        }
        if let Some((c, f)) = &env.frames {
            if !routes().any(|r| r.takes_category(*c)) {
                add(*c, f.count);
            }
        }
    }

    async fn deliver(&self, env: Envelope) -> Result<(), IoError> {
        for (tx, part) in self.route(env) {
            tx.send(part).await.map_err(|_| IoError::WriterGone)?;
        }
        Ok(())
    }

    fn blocking_deliver(&self, env: Envelope) -> Result<(), IoError> {
        for (tx, part) in self.route(env) {
            tx.blocking_send(part).map_err(|_| IoError::WriterGone)?;
        }
        Ok(())
    }

    /// Send a batch of points.
    ///
    /// # Errors
    /// When the writer task has stopped.
    pub async fn send(&self, points: Vec<Point>) -> Result<(), IoError> {
        if points.is_empty() {
            return Ok(());
        }
        self.deliver(Envelope::points(points, None, false)).await
    }

    /// Send points and be told through `ack` when all of them are delivered or durably
    /// buffered (or given up). If the writer has stopped, `ack` reports
    /// [`AckOutcome::Lost`].
    ///
    /// # Errors
    /// When the writer task has stopped.
    pub async fn send_acked(&self, points: Vec<Point>, ack: Ack) -> Result<(), IoError> {
        self.deliver(Envelope::points(points, Some(ack), false))
            .await
    }

    /// [`Sink::send_acked`], and the batches these points join are written at once instead of
    /// when they fill up or age: for a sender that waits on the acknowledgement (an HTTP client
    /// of the server), whose own request is the batch.
    ///
    /// # Errors
    /// When the writer task has stopped.
    pub async fn send_acked_now(&self, points: Vec<Point>, ack: Ack) -> Result<(), IoError> {
        self.deliver(Envelope::points(points, Some(ack), true))
            .await
    }

    /// [`Sink::send_acked`] for a source on its own thread (outside the tokio runtime): waits
    /// while the writer's queue is full.
    ///
    /// # Errors
    /// When the writer task has stopped.
    pub fn blocking_send_acked(&self, points: Vec<Point>, ack: Ack) -> Result<(), IoError> {
        self.blocking_deliver(Envelope::points(points, Some(ack), false))
    }

    /// [`Sink::blocking_send_acked`] for lines a source wrote as line protocol itself (a
    /// [`crate::LineWriter`] made with [`Sink::uint_support`]), all of `category`.
    ///
    /// # Errors
    /// When the writer task has stopped.
    pub fn blocking_send_lines_acked(
        &self,
        category: Category,
        lines: Lines,
        ack: Ack,
    ) -> Result<(), IoError> {
        self.blocking_deliver(Envelope {
            lines: Some((category, lines)),
            ..Envelope::points(Vec::new(), Some(ack), false)
        })
    }

    /// [`Sink::blocking_send_lines_acked`], the lines compressed on this thread first when the
    /// outputs take frames ([`Output::frames`]): for a source with several threads of its own,
    /// whose compression then runs on them rather than on the runtime's.
    ///
    /// # Errors
    /// When the writer task has stopped.
    pub fn blocking_send_frame_acked(
        &self,
        category: Category,
        lines: Lines,
        ack: Ack,
    ) -> Result<(), IoError> {
        let Some(compression) = self.frames.filter(|_| lines.count > 0) else {
            return self.blocking_send_lines_acked(category, lines, ack);
        };
        let Ok(body) = compression.compress(lines.text.as_bytes()) else {
            // Not expected (the compressor writes to memory): the writer compresses the text.
            return self.blocking_send_lines_acked(category, lines, ack);
        };
        let frames = Frames {
            body,
            count: lines.count,
            raw: lines.text.len(),
        };
        self.blocking_deliver(Envelope {
            frames: Some((category, frames)),
            ..Envelope::points(Vec::new(), Some(ack), false)
        })
    }

    /// Whether lines for this sink write unsigned fields with the `u` suffix.
    pub fn uint_support(&self) -> bool {
        self.uint_support
    }
}

/// The writer task; await [`WriterHandle::finish`] after dropping every `Sink` to flush.
#[derive(Debug)]
pub struct WriterHandle {
    task: JoinHandle<()>,
}

impl WriterHandle {
    /// Wait until every batch sent before the last `Sink` was dropped is written and flushed.
    pub async fn finish(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "io.writer task failed");
        }
    }
}

/// When a category's batch is written: whichever of the three comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Longest time a point waits in a batch.
    pub flush_interval: Duration,
    /// Points per batch.
    pub max_points: usize,
    /// Approximate uncompressed line-protocol bytes per batch.
    pub max_bytes: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            flush_interval: Duration::from_secs(10),
            max_points: 1_000,
            max_bytes: 1 << 20,
        }
    }
}

#[derive(Debug, Default)]
struct Pending {
    batch: Batch,
    bytes: usize,
    since: Option<Instant>,
    /// A share of the acknowledgement of every send with points in this batch.
    acks: Vec<Ack>,
}

impl Pending {
    /// Something of a send with `ack` joined the batch.
    fn joined(&mut self, ack: Option<&Ack>) {
        self.since.get_or_insert_with(Instant::now);
        if let Some(a) = ack {
            if !self.acks.last().is_some_and(|l| l.same(a)) {
                self.acks.push(a.share());
            }
        }
    }

    fn full(&self, cfg: &BatchConfig) -> bool {
        self.batch.len() >= cfg.max_points || self.bytes >= cfg.max_bytes
    }

    /// Add to the batch (`put`, of `bytes` uncompressed) for a send with `ack`; the batch, taken,
    /// when that filled it.
    fn add(
        &mut self,
        bytes: usize,
        ack: Option<&Ack>,
        cfg: &BatchConfig,
        put: impl FnOnce(&mut Batch),
    ) -> Option<Pending> {
        self.bytes += bytes;
        put(&mut self.batch);
        self.joined(ack);
        self.full(cfg).then(|| std::mem::take(self))
    }
}

/// Batches being written at once. Encoding (and compressing) a batch overlaps the sending of the
/// one before it; per category, batches are sent one at a time and in order.
const IN_FLIGHT: u32 = 4;

/// The batches handed to the output and not yet written.
struct InFlight {
    output: Arc<dyn Output>,
    slots: Arc<Semaphore>,
    /// Per category, fires when the last batch dispatched for it has been written.
    last: BTreeMap<Category, oneshot::Receiver<()>>,
}

impl InFlight {
    /// Start writing `batch` in its own task; waits only for a free slot.
    async fn dispatch(&mut self, cat: Category, batch: Pending) {
        if batch.batch.is_empty() {
            batch.acks.into_iter().for_each(|a| a.release());
            return;
        }
        let Ok(slot) = self.slots.clone().acquire_owned().await else {
            return; // never closed; the acks report Lost if it were
        };
        let (done, done_rx) = oneshot::channel();
        let prev = self.last.insert(cat, done_rx);
        let output = self.output.clone();
        tokio::spawn(async move {
            let n = batch.batch.len();
            // Encode while the previous batch of this category may still be in flight.
            let result = match output.encode(cat, &batch.batch) {
                Some(encoded) => {
                    drop(batch.batch);
                    if let Some(p) = prev {
                        let _ = p.await;
                    }
                    match encoded {
                        Ok(e) => output.send(cat, &e).await,
                        Err(e) => Err(e),
                    }
                }
                None => {
                    if let Some(p) = prev {
                        let _ = p.await;
                    }
                    output.write(cat, &batch.batch).await
                }
            };
            let outcome = match result {
                Ok(Delivery::Delivered) => AckOutcome::Delivered,
                Ok(Delivery::Buffered) => AckOutcome::Buffered,
                Err(e @ IoError::Stopped { .. }) => {
                    tracing::warn!(output = output.name(), category = %cat, points = n, error = %e, "io.write stopped; the sources send these again at the next start");
                    AckOutcome::Lost
                }
                Err(e) => {
                    tracing::error!(output = output.name(), category = %cat, points = n, error = %e, "io.write failed");
                    AckOutcome::Dropped
                }
            };
            for a in batch.acks {
                a.complete(outcome);
            }
            let _ = done.send(());
            drop(slot);
        });
    }

    /// Wait until every dispatched batch is written.
    async fn finish(self) {
        let _ = self.slots.acquire_many(IN_FLIGHT).await;
    }
}

/// Start the writer task for `output`: points are batched per category and written when a batch
/// is full or old enough. `capacity` batches may wait in the channel and up to four are being
/// written; while the output is slow, senders wait, so memory is bounded by the channel, the
/// batches in flight and one pending batch per category.
pub fn spawn_writer(
    output: Arc<dyn Output>,
    capacity: usize,
    batch: BatchConfig,
) -> (Sink, WriterHandle) {
    let (tx, mut rx) = mpsc::channel::<Envelope>(capacity.max(1));
    let uint_support = output.uint_support();
    let frames = output.frames();
    let task = tokio::spawn(async move {
        let mut pending: BTreeMap<Category, Pending> = BTreeMap::new();
        let mut inflight = InFlight {
            output: output.clone(),
            slots: Arc::new(Semaphore::new(IN_FLIGHT as usize)),
            last: BTreeMap::new(),
        };
        // One timer, for the oldest pending batch's deadline, moved only when that deadline
        // does; nothing pending, the timer is not polled (an idle agent is not woken to find
        // nothing to write).
        let due = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(due);
        let mut armed: Option<Instant> = None;
        loop {
            let due_at = pending
                .values()
                .filter_map(|p| p.since)
                .min()
                .map(|s| s + batch.flush_interval);
            if due_at != armed {
                if let Some(at) = due_at {
                    due.as_mut().reset(at);
                }
                armed = due_at;
            }
            tokio::select! {
                got = rx.recv() => {
                    let Some(Envelope { points, lines, frames, ack, now }) = got else { break };
                    let mut touched: Vec<Category> = Vec::new();
                    for p in points {
                        let cat = p.category();
                        if now && !touched.contains(&cat) {
                            touched.push(cat);
                        }
                        let e = pending.entry(cat).or_default();
                        let bytes = p.approx_size();
                        if let Some(full) = e.add(bytes, ack.as_ref(), &batch, |b| b.points.push(p)) {
                            inflight.dispatch(cat, full).await;
                        }
                    }
                    if let Some((cat, lines)) = lines.filter(|(_, l)| l.count > 0) {
                        if now && !touched.contains(&cat) {
                            touched.push(cat);
                        }
                        let e = pending.entry(cat).or_default();
                        let bytes = lines.text.len();
                        let put = |b: &mut Batch| {
                            if b.lines.count == 0 {
                                b.lines = lines;
                            } else {
                                b.lines.text.push_str(&lines.text);
                                b.lines.count += lines.count;
                            }
                        };
                        if let Some(full) = e.add(bytes, ack.as_ref(), &batch, put) {
                            inflight.dispatch(cat, full).await;
                        }
                    }
                    if let Some((cat, frames)) = frames.filter(|(_, f)| f.count > 0) {
                        let e = pending.entry(cat).or_default();
                        let bytes = frames.raw;
                        if let Some(full) = e.add(bytes, ack.as_ref(), &batch, |b| b.frames.append(frames)) {
                            inflight.dispatch(cat, full).await;
                        }
                    }
                    if let Some(a) = ack {
                        a.release();
                    }
                    for cat in touched {
                        if let Some(p) = pending.remove(&cat) {
                            inflight.dispatch(cat, p).await;
                        }
                    }
                }
                () = &mut due, if armed.is_some() => {
                    let now = Instant::now();
                    let due: Vec<Category> = pending
                        .iter()
                        .filter(|(_, p)| p.since.is_some_and(|s| now.duration_since(s) >= batch.flush_interval))
                        .map(|(c, _)| *c)
                        .collect();
                    for cat in due {
                        if let Some(p) = pending.remove(&cat) {
                            inflight.dispatch(cat, p).await;
                        }
                    }
                }
            }
        }
        for (cat, p) in std::mem::take(&mut pending) {
            inflight.dispatch(cat, p).await;
        }
        inflight.finish().await;
        if let Err(e) = output.flush().await {
            tracing::error!(output = output.name(), error = %e, "io.flush failed");
        }
    });
    let target = Target {
        route: Route::all(),
        tx,
        uint_support,
        frames,
    };
    let sink = Sink::new(Arc::new([target]), Arc::new([0]), Arc::default());
    (sink, WriterHandle { task })
}

#[cfg(test)]
mod tests;
