//! The writer task's tests: what it writes (`writer`), when it cuts batches (`batches`), and
//! several outputs behind routes (`fanout`).

use crate::{Category, FieldValue, Point};

/// Records each batch it is given; takes frames in `.1` if any.
#[derive(Debug)]
struct Framed(
    std::sync::Mutex<Vec<crate::Batch>>,
    Option<crate::Compression>,
);

#[async_trait::async_trait]
impl crate::Output for Framed {
    fn name(&self) -> &str {
        "framed"
    }
    fn frames(&self) -> Option<crate::Compression> {
        self.1
    }
    async fn write(
        &self,
        _category: Category,
        batch: &crate::Batch,
    ) -> Result<crate::Delivery, crate::IoError> {
        self.0.lock().unwrap().push(batch.clone());
        Ok(crate::Delivery::Delivered)
    }
}

/// A point of measurement `m` with one field.
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

mod writer {
    use super::pt;
    use crate::sink::*;
    use crate::{CaptureOutput, FileOutput};

    #[tokio::test]
    async fn writer_delivers_everything_before_finish() {
        let cap = CaptureOutput::new();
        let (sink, handle) = spawn_writer(Arc::new(cap.clone()), 2, BatchConfig::default());
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
        let (sink, handle) = spawn_writer(Arc::new(out), 4, BatchConfig::default());
        sink.send(vec![pt("a", Category::Metric)]).await.unwrap();
        sink.send(vec![pt("b", Category::Metric)]).await.unwrap();
        drop(sink);
        handle.finish().await;
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "a v=1i 5\nb v=1i 5\n");
    }
}

mod batches {
    use crate::sink::*;
    use crate::{FieldValue, IoError};
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// Records the size of every write.
    #[derive(Debug, Default)]
    struct Sizes(Mutex<Vec<(Category, usize)>>);

    #[async_trait]
    impl Output for Sizes {
        fn name(&self) -> &str {
            "sizes"
        }
        async fn write(&self, category: Category, batch: &Batch) -> Result<Delivery, IoError> {
            self.0.lock().unwrap().push((category, batch.len()));
            Ok(Delivery::Delivered)
        }
    }

    fn pt(cat: Category) -> Point {
        Point::new(
            "m".into(),
            vec![],
            vec![("v".into(), FieldValue::Int(1))],
            5,
            cat,
        )
        .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn flushes_at_max_points_and_by_time_per_category() {
        let out = Arc::new(Sizes::default());
        let cfg = BatchConfig {
            flush_interval: Duration::from_secs(10),
            max_points: 100,
            max_bytes: usize::MAX,
        };
        let (sink, handle) = spawn_writer(out.clone(), 4, cfg);
        sink.send((0..250).map(|_| pt(Category::Metric)).collect())
            .await
            .unwrap();
        sink.send(vec![pt(Category::Logging)]).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            *out.0.lock().unwrap(),
            vec![(Category::Metric, 100), (Category::Metric, 100)]
        );
        tokio::time::sleep(Duration::from_secs(11)).await;
        let got = out.0.lock().unwrap().clone();
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got.contains(&(Category::Metric, 50)) && got.contains(&(Category::Logging, 1)));
        drop(sink);
        handle.finish().await;
    }

    #[tokio::test(start_paused = true)]
    async fn send_acked_now_writes_at_once_and_acks() {
        let out = Arc::new(Sizes::default());
        let cfg = BatchConfig {
            flush_interval: Duration::from_secs(3600),
            max_points: usize::MAX,
            max_bytes: usize::MAX,
        };
        let (sink, handle) = spawn_writer(out.clone(), 4, cfg);
        // A point waiting in a batch, then a send that wants its batch written now.
        sink.send(vec![pt(Category::Metric)]).await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let ack = Ack::new(move |o| {
            let _ = tx.send(o);
        });
        sink.send_acked_now(vec![pt(Category::Metric), pt(Category::Metric)], ack)
            .await
            .unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(1), rx)
            .await
            .expect("acknowledged without waiting for the flush interval")
            .unwrap();
        assert_eq!(outcome, AckOutcome::Delivered);
        assert_eq!(*out.0.lock().unwrap(), vec![(Category::Metric, 3)]);
        drop(sink);
        handle.finish().await;
    }

    use super::Framed;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lines_sent_as_frames_are_compressed_by_their_sender_and_joined() {
        let out = Arc::new(Framed(Mutex::default(), Some(Compression::Zstd(1))));
        let cfg = BatchConfig {
            flush_interval: Duration::from_secs(3600),
            max_points: usize::MAX,
            max_bytes: usize::MAX,
        };
        let (sink, handle) = spawn_writer(out.clone(), 4, cfg);
        let acked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let senders: Vec<_> = (0..2)
            .map(|t| {
                let (sink, acked) = (sink.clone(), acked.clone());
                std::thread::spawn(move || {
                    let text = format!("m,t={t} v=1i 1\nm,t={t} v=2i 2\n");
                    let ack = Ack::new(move |o| {
                        assert_eq!(o, AckOutcome::Delivered);
                        acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    });
                    let lines = Lines { text, count: 2 };
                    sink.blocking_send_frame_acked(Category::Logging, lines, ack)
                        .unwrap();
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        drop(sink);
        handle.finish().await;
        let got = out.0.lock().unwrap().clone();
        assert_eq!(got.len(), 1, "one batch: {got:?}");
        let b = &got[0];
        assert_eq!((b.len(), b.frames.count, b.lines.count), (4, 4, 0));
        assert_eq!(b.frames.raw, 2 * "m,t=0 v=1i 1\nm,t=0 v=2i 2\n".len());
        // Two zstd frames, read as one stream.
        let text = String::from_utf8(zstd::decode_all(&b.frames.body[..]).unwrap()).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        assert_eq!(
            lines,
            [
                "m,t=0 v=1i 1",
                "m,t=0 v=2i 2",
                "m,t=1 v=1i 1",
                "m,t=1 v=2i 2"
            ]
        );
        assert_eq!(acked.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn without_frames_a_sender_sends_text() {
        let out = Arc::new(Framed(Mutex::default(), None));
        let (sink, handle) = spawn_writer(out.clone(), 4, BatchConfig::default());
        let lines = Lines {
            text: "m v=1i 1\n".into(),
            count: 1,
        };
        let sent = tokio::task::spawn_blocking(move || {
            sink.blocking_send_frame_acked(Category::Metric, lines, Ack::new(|_| {}))
        });
        sent.await.unwrap().unwrap();
        handle.finish().await;
        let got = out.0.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].lines.count, got[0].frames.count), (1, 0));
        assert_eq!(got[0].lines.text, "m v=1i 1\n");
    }

    #[tokio::test]
    async fn flushes_at_max_bytes() {
        let out = Arc::new(Sizes::default());
        let one = pt(Category::Metric).approx_size();
        let cfg = BatchConfig {
            flush_interval: Duration::from_secs(3600),
            max_points: usize::MAX,
            max_bytes: one * 10,
        };
        let (sink, handle) = spawn_writer(out.clone(), 4, cfg);
        sink.send((0..25).map(|_| pt(Category::Metric)).collect())
            .await
            .unwrap();
        drop(sink);
        handle.finish().await;
        assert_eq!(
            *out.0.lock().unwrap(),
            vec![
                (Category::Metric, 10),
                (Category::Metric, 10),
                (Category::Metric, 5)
            ]
        );
    }
}

/// Several outputs behind routes (`Sink::fanout`): each gets what its route takes, and an
/// acknowledgement waits for every output a send went to.
mod fanout {
    use super::{pt, Framed};
    use crate::sink::*;
    use crate::{CaptureOutput, IoError};
    use async_trait::async_trait;
    use tokio::sync::Notify;

    fn names(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    fn measurements(points: &[Point]) -> Vec<&str> {
        points.iter().map(Point::measurement).collect()
    }

    /// Writes nothing until opened, then fails or delivers.
    #[derive(Debug, Default)]
    struct Gate {
        open: Notify,
        fail: bool,
    }

    #[async_trait]
    impl Output for Gate {
        fn name(&self) -> &str {
            "gate"
        }
        async fn write(&self, _: Category, _: &Batch) -> Result<Delivery, IoError> {
            self.open.notified().await;
            if self.fail {
                return Err(IoError::WriterGone);
            }
            Ok(Delivery::Delivered)
        }
    }

    fn probe() -> (Ack, tokio::sync::oneshot::Receiver<AckOutcome>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (
            Ack::new(move |o| {
                let _ = tx.send(o);
            }),
            rx,
        )
    }

    #[tokio::test]
    async fn each_output_takes_what_its_route_takes() {
        let (metrics, logs) = (CaptureOutput::new(), CaptureOutput::new());
        let cfg = BatchConfig::default();
        let (m_sink, m_writer) = spawn_writer(Arc::new(metrics.clone()), 4, cfg);
        let (l_sink, l_writer) = spawn_writer(Arc::new(logs.clone()), 4, cfg);
        let sink = Sink::fanout(vec![
            (
                Route {
                    categories: Some(vec![Category::Metric]),
                    measurements: names(&["cpu", "disk*"]),
                    ..Route::all()
                },
                m_sink,
            ),
            (
                Route {
                    categories: Some(vec![Category::Logging]),
                    sources: names(&["nginx*"]),
                    ..Route::all()
                },
                l_sink,
            ),
        ]);
        let points = || {
            vec![
                pt("cpu", Category::Metric),
                pt("diskio", Category::Metric),
                pt("mem", Category::Metric),
                pt("access", Category::Logging),
                pt("host", Category::Object),
            ]
        };
        sink.for_source(&["nginx_a"]).send(points()).await.unwrap();
        sink.for_source(&["cpu"]).send(points()).await.unwrap();
        // Not made for a source: only routes that name no sources.
        sink.send(vec![pt("cpu", Category::Metric)]).await.unwrap();
        // Counted as they are sent.
        let counts: Vec<(Category, u64)> = sink
            .unrouted()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect();
        drop(sink);
        m_writer.finish().await;
        l_writer.finish().await;
        let m = metrics.points();
        assert_eq!(
            measurements(&m),
            ["cpu", "diskio", "cpu", "diskio", "cpu"],
            "metrics of every source, of the measurements named"
        );
        assert_eq!(measurements(&logs.points()), ["access"], "nginx* only");
        // mem twice, the cpu source's access log, the object twice.
        assert_eq!(
            counts,
            [
                (Category::Metric, 2),
                (Category::Logging, 1),
                (Category::Object, 2)
            ]
        );
    }

    #[tokio::test]
    async fn an_ack_waits_for_every_output_and_takes_the_worst() {
        let cfg = BatchConfig {
            flush_interval: Duration::from_millis(10),
            ..BatchConfig::default()
        };
        let (fast, slow) = (CaptureOutput::new(), Arc::new(Gate::default()));
        let (f_sink, f_writer) = spawn_writer(Arc::new(fast.clone()), 4, cfg);
        let (s_sink, s_writer) = spawn_writer(slow.clone(), 4, cfg);
        let sink = Sink::fanout(vec![(Route::all(), f_sink), (Route::all(), s_sink)]);
        let (ack, mut rx) = probe();
        sink.send_acked(vec![pt("cpu", Category::Metric)], ack)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(fast.points().len(), 1, "the fast output has it");
        assert!(
            rx.try_recv().is_err(),
            "not acknowledged before the slow one"
        );
        slow.open.notify_one();
        assert_eq!(rx.await.unwrap(), AckOutcome::Delivered);

        // One output fails: the source hears the worst outcome.
        let failing = Arc::new(Gate {
            fail: true,
            ..Gate::default()
        });
        let (x_sink, x_writer) = spawn_writer(failing.clone(), 4, cfg);
        let both = Sink::fanout(vec![(Route::all(), sink.clone()), (Route::all(), x_sink)]);
        let (ack, rx) = probe();
        both.send_acked(vec![pt("cpu", Category::Metric)], ack)
            .await
            .unwrap();
        slow.open.notify_one();
        failing.open.notify_one();
        assert_eq!(rx.await.unwrap(), AckOutcome::Dropped);
        drop((sink, both));
        for w in [f_writer, s_writer, x_writer] {
            w.finish().await;
        }
    }

    #[tokio::test]
    async fn what_no_route_takes_is_acknowledged_as_sent_nowhere() {
        let cap = CaptureOutput::new();
        let (s, writer) = spawn_writer(Arc::new(cap.clone()), 4, BatchConfig::default());
        let route = Route {
            categories: Some(vec![Category::Logging]),
            ..Route::all()
        };
        let sink = Sink::fanout(vec![(route, s)]);
        let (ack, rx) = probe();
        sink.send_acked(vec![pt("cpu", Category::Metric)], ack)
            .await
            .unwrap();
        assert_eq!(rx.await.unwrap(), AckOutcome::Delivered);
        assert_eq!(sink.unrouted()[0], (Category::Metric, 1));
        drop(sink);
        writer.finish().await;
        assert!(cap.points().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lines_are_split_by_measurement_and_frames_only_go_where_they_can() {
        let framed = || Arc::new(Framed(Default::default(), Some(Compression::Gzip(1))));
        let cfg = BatchConfig::default();
        let (a, b) = (framed(), framed());
        let (a_sink, a_writer) = spawn_writer(a.clone(), 4, cfg);
        let (b_sink, b_writer) = spawn_writer(b.clone(), 4, cfg);
        // Both take gzip frames: a source compresses once, and each gets the frame.
        let both = Sink::fanout(vec![
            (Route::all(), a_sink.clone()),
            (Route::all(), b_sink.clone()),
        ]);
        assert_eq!(both.frames, Some(Compression::Gzip(1)));
        // A route that filters measurements needs the text.
        let sink = Sink::fanout(vec![
            (
                Route {
                    measurements: names(&["nginx"]),
                    ..Route::all()
                },
                a_sink,
            ),
            (Route::all(), b_sink),
        ]);
        assert!(sink.frames.is_none(), "a route filters measurements");
        let lines = || Lines {
            text: "nginx,status=info msg=\"a\" 1\nredis msg=\"b\" 2\n".into(),
            count: 2,
        };
        let (ack, rx) = probe();
        let (ack2, rx2) = probe();
        let (s, s2) = (sink.clone(), both.clone());
        tokio::task::spawn_blocking(move || {
            s.blocking_send_frame_acked(Category::Logging, lines(), ack)?;
            s2.blocking_send_frame_acked(Category::Logging, lines(), ack2)
        })
        .await
        .unwrap()
        .unwrap();
        drop((sink, both));
        a_writer.finish().await;
        b_writer.finish().await;
        assert_eq!(rx.await.unwrap(), AckOutcome::Delivered);
        assert_eq!(rx2.await.unwrap(), AckOutcome::Delivered);
        let got = |o: &Framed| {
            let batches = o.0.lock().unwrap();
            let text: String = batches.iter().map(|b| b.lines.text.clone()).collect();
            let frames: usize = batches.iter().map(|b| b.frames.count).sum();
            (text, frames)
        };
        // a: the nginx line as text (filtered), then both lines as a frame.
        assert_eq!(got(&a), ("nginx,status=info msg=\"a\" 1\n".to_string(), 2));
        // b: both lines as text, then both as a frame.
        let (text, frames) = got(&b);
        assert_eq!((text.lines().count(), frames), (2, 2));
    }
}
