//! The bounded channel between producers (plugins) and the writer task that owns the output.

use crate::{Category, IoError, Output, Point};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Where producers send points. Cloning is cheap; sending waits when the writer is behind
/// (backpressure), so memory stays bounded by the channel capacity.
#[derive(Debug, Clone)]
pub struct Sink {
    tx: mpsc::Sender<Vec<Point>>,
}

impl Sink {
    /// Send a batch of points.
    ///
    /// # Errors
    /// When the writer task has stopped.
    pub async fn send(&self, points: Vec<Point>) -> Result<(), IoError> {
        if points.is_empty() {
            return Ok(());
        }
        self.tx.send(points).await.map_err(|_| IoError::WriterGone)
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

/// Start the writer task for `output`; `capacity` batches may wait in the channel.
pub fn spawn_writer(output: Arc<dyn Output>, capacity: usize) -> (Sink, WriterHandle) {
    let (tx, mut rx) = mpsc::channel::<Vec<Point>>(capacity.max(1));
    let task = tokio::spawn(async move {
        while let Some(batch) = rx.recv().await {
            write_batch(output.as_ref(), batch).await;
        }
        if let Err(e) = output.flush().await {
            tracing::error!(output = output.name(), error = %e, "io.flush failed");
        }
    });
    (Sink { tx }, WriterHandle { task })
}

async fn write_batch(output: &dyn Output, mut batch: Vec<Point>) {
    batch.sort_by_key(|p| p.category());
    let mut start = 0;
    while start < batch.len() {
        let cat: Category = batch[start].category();
        let end = batch[start..]
            .iter()
            .position(|p| p.category() != cat)
            .map_or(batch.len(), |n| start + n);
        if let Err(e) = output.write(cat, &batch[start..end]).await {
            tracing::error!(output = output.name(), category = %cat, points = end - start, error = %e, "io.write failed");
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CaptureOutput, FieldValue, FileOutput};

    fn pt(m: &str, cat: Category) -> Point {
        Point::new(
            m.into(),
            vec![],
            vec![("v".into(), FieldValue::Int(1))],
            5,
            cat,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn writer_delivers_everything_before_finish() {
        let cap = CaptureOutput::new();
        let (sink, handle) = spawn_writer(Arc::new(cap.clone()), 2);
        for i in 0..50 {
            sink.send(vec![
                pt(&format!("m{i}"), Category::Metric),
                pt("o", Category::Object),
            ])
            .await
            .unwrap();
        }
        drop(sink);
        handle.finish().await;
        let got = cap.points();
        assert_eq!(got.len(), 100);
        assert_eq!(
            got.iter()
                .filter(|p| p.category() == Category::Object)
                .count(),
            50
        );
        assert_eq!(got[0].measurement(), "m0");
    }

    #[tokio::test]
    async fn file_output_appends_line_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.lp");
        let out = FileOutput::open(&path).await.unwrap();
        let (sink, handle) = spawn_writer(Arc::new(out), 4);
        sink.send(vec![pt("a", Category::Metric)]).await.unwrap();
        sink.send(vec![pt("b", Category::Metric)]).await.unwrap();
        drop(sink);
        handle.finish().await;
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "a v=1i 5\nb v=1i 5\n");
    }
}
