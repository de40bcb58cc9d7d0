//! Outputs: where encoded points go. The DataWay and InfluxDB outputs implement the same trait.

use crate::{encode_points_with, Category, Compression, IoError, LaneSnapshot, Lines, Point};
use std::borrow::Cow;

/// A batch encoded for sending: the request body (compressed line protocol) and its points.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub body: bytes::Bytes,
    pub points: u32,
}

/// What the writer hands an output: points of one category, lines of the same category that
/// their source already wrote as line protocol ([`crate::LineWriter`]), and lines their source
/// already compressed ([`Frames`], only for an output with [`Output::frames`]).
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub points: Vec<Point>,
    pub lines: Lines,
    pub frames: Frames,
}

/// Line protocol compressed by its sources, each send its own frame (a gzip member or a zstd
/// frame) in the output's [`Output::frames`] compression, the frames end to end: a decoder of
/// either format reads them as one stream. Sources on their own threads compress there, so the
/// compression of a busy task is spread over its workers.
#[derive(Debug, Clone, Default)]
pub struct Frames {
    /// The frames, end to end.
    pub body: Vec<u8>,
    /// Lines in them.
    pub count: usize,
    /// Their size before compression.
    pub raw: usize,
}

impl Frames {
    /// Append another source's frames.
    pub fn append(&mut self, mut other: Frames) {
        if self.count == 0 {
            *self = other;
        } else {
            self.body.append(&mut other.body);
            self.count += other.count;
            self.raw += other.raw;
        }
    }
}

impl From<Vec<Point>> for Batch {
    fn from(points: Vec<Point>) -> Self {
        Batch {
            points,
            ..Batch::default()
        }
    }
}

impl Batch {
    /// Points and lines in it.
    pub fn len(&self) -> usize {
        self.points.len() + self.lines.count + self.frames.count
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batch's points, then its lines read back into points (not its [`Frames`]): for
    /// outputs that take points, not text.
    ///
    /// # Errors
    /// `output`'s config error when a line a source wrote does not read back.
    pub fn all_points(
        &self,
        category: Category,
        output: &str,
    ) -> Result<Cow<'_, [Point]>, IoError> {
        if self.lines.count == 0 {
            return Ok(Cow::Borrowed(&self.points));
        }
        let decoded = crate::decode_lines(
            self.lines.text.as_bytes(),
            crate::Precision::Nanoseconds,
            0,
            category,
        )
        .map_err(|e| IoError::Config {
            output: output.into(),
            message: format!("a line written by a source does not read back: {e}"),
        })?;
        let mut all = self.points.clone();
        all.extend(decoded);
        Ok(Cow::Owned(all))
    }

    /// The batch's points and lines as line protocol (not its [`Frames`], already compressed):
    /// the points, then the lines. With `uint_support` false,
    /// points' unsigned fields are written as integers (lines were written for the output, see
    /// [`Output::uint_support`]).
    pub fn text(&self, uint_support: bool) -> Cow<'_, str> {
        if self.points.is_empty() {
            return Cow::Borrowed(&self.lines.text);
        }
        let mut text = encode_points_with(&self.points, uint_support);
        text.push_str(&self.lines.text);
        Cow::Owned(text)
    }
}

/// Where a written batch went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The destination took it.
    Delivered,
    /// The destination is unreachable; the batch is in the durable buffer and will be sent.
    Buffered,
}
use async_trait::async_trait;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

/// A destination for points. Called by one writer task at a time, with points of one category.
#[async_trait]
pub trait Output: Send + Sync + Debug {
    /// A short name for logs and metrics (`stdout`, `file`, `dataway`).
    fn name(&self) -> &str;

    /// Write a batch of one category.
    ///
    /// # Errors
    /// When the batch is given up: the destination refused it, or could not be reached and
    /// there is no buffer to keep it in.
    async fn write(&self, category: Category, batch: &Batch) -> Result<Delivery, IoError>;

    /// [`Output::write`] of a copy of `points`.
    ///
    /// # Errors
    /// As for `write`.
    async fn write_points(
        &self,
        category: Category,
        points: &[Point],
    ) -> Result<Delivery, IoError> {
        self.write(category, &Batch::from(points.to_vec())).await
    }

    /// Encode a batch for [`Output::send`], or `None` if this output only has `write`. The
    /// writer encodes the next batch while the previous one is being sent.
    fn encode(&self, _category: Category, _batch: &Batch) -> Option<Result<Encoded, IoError>> {
        None
    }

    /// The compression of this output's request bodies when sources may compress their lines
    /// themselves ([`Batch::frames`]): the output sends their frames joined to the frame of
    /// the rest of the batch. `None` (the default): sources send text.
    fn frames(&self) -> Option<Compression> {
        None
    }

    /// Whether unsigned fields are written with the `u` suffix (false for InfluxDB 1.x): sources
    /// that write line protocol themselves write it as the output would.
    fn uint_support(&self) -> bool {
        true
    }

    /// Send a batch made by [`Output::encode`].
    ///
    /// # Errors
    /// As for `write`; outputs without `encode` refuse.
    async fn send(&self, _category: Category, _batch: &Encoded) -> Result<Delivery, IoError> {
        Err(IoError::Config {
            output: self.name().into(),
            message: "this output takes points, not encoded batches".into(),
        })
    }

    /// Counters per destination and category (HTTP outputs), for status and `/metrics`.
    fn lane_stats(&self) -> Vec<LaneSnapshot> {
        Vec::new()
    }

    /// The agent is stopping: an output that retries without end gives up what it still
    /// retries as [`IoError::Stopped`] (its sources send it again at the next start).
    fn stop(&self) {}

    /// Make everything written so far durable or delivered.
    ///
    /// # Errors
    /// As for `write`.
    async fn flush(&self) -> Result<(), IoError> {
        Ok(())
    }
}

/// Line protocol on standard output: the embedded default, to see what the agent collects.
#[derive(Debug, Default)]
pub struct StdoutOutput;

#[async_trait]
impl Output for StdoutOutput {
    fn name(&self) -> &str {
        "stdout"
    }

    async fn write(&self, _category: Category, batch: &Batch) -> Result<Delivery, IoError> {
        let text = batch.text(true);
        let mut out = tokio::io::stdout();
        let r = async {
            out.write_all(text.as_bytes()).await?;
            out.flush().await
        }
        .await;
        r.map(|()| Delivery::Delivered)
            .map_err(|source| IoError::Write {
                output: "stdout".into(),
                source,
            })
    }
}

/// Line protocol appended to a file.
#[derive(Debug)]
pub struct FileOutput {
    path: PathBuf,
    file: tokio::sync::Mutex<tokio::fs::File>,
}

impl FileOutput {
    /// Open (create or append to) `path`.
    ///
    /// # Errors
    /// When the file cannot be opened for appending.
    pub async fn open(path: &Path) -> Result<Self, IoError> {
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .map_err(|source| IoError::Open {
                output: "file".into(),
                path: path.to_path_buf(),
                source,
            })?;
        Ok(FileOutput {
            path: path.to_path_buf(),
            file: tokio::sync::Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl Output for FileOutput {
    fn name(&self) -> &str {
        "file"
    }

    async fn write(&self, _category: Category, batch: &Batch) -> Result<Delivery, IoError> {
        let text = batch.text(true);
        let mut f = self.file.lock().await;
        // tokio's File hands the bytes to a background write: flushing waits for it, so
        // `Delivered` means the kernel has them (what an HTTP client's 204 promises).
        let written = match f.write_all(text.as_bytes()).await {
            Ok(()) => f.flush().await,
            Err(e) => Err(e),
        };
        written
            .map(|()| Delivery::Delivered)
            .map_err(|source| IoError::Write {
                output: "file".into(),
                source,
            })
    }

    async fn flush(&self) -> Result<(), IoError> {
        let mut f = self.file.lock().await;
        f.flush().await.map_err(|source| IoError::Write {
            output: "file".into(),
            source,
        })
    }
}

/// Keeps points in memory: for `sandkit plugin test` and for tests. Lines written as line
/// protocol are read back into points.
#[derive(Debug, Clone, Default)]
pub struct CaptureOutput {
    points: Arc<Mutex<Vec<Point>>>,
}

impl CaptureOutput {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far, in order.
    pub fn points(&self) -> Vec<Point> {
        self.points.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Take everything written so far.
    pub fn take(&self) -> Vec<Point> {
        self.points
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }
}

#[async_trait]
impl Output for CaptureOutput {
    fn name(&self) -> &str {
        "capture"
    }

    async fn write(&self, category: Category, batch: &Batch) -> Result<Delivery, IoError> {
        let all = batch.all_points(category, "capture")?;
        if let Ok(mut p) = self.points.lock() {
            p.extend_from_slice(&all);
        }
        Ok(Delivery::Delivered)
    }
}
