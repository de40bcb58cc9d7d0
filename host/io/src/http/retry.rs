//! One attempt at a request, its outcome (done, retry, rejected), and the backoff between
//! attempts.

use super::events::{DropReason, Dropped, Event, Lane};
use super::Inner;
use crate::tls::describe_error;
use crate::{Category, IoError};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use rand::Rng;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub(super) enum Attempt {
    Done,
    Retry(String),
    Rejected(String),
}

/// `delay` plus up to half of it again, so that many agents do not retry in step.
pub(super) fn jittered(delay: Duration) -> Duration {
    delay + rand::rng().random_range(Duration::ZERO..=delay / 2)
}

impl Inner {
    /// Lane `t`, `cat` for its events, its URL shown as `shown`.
    pub(super) fn event_lane<'a>(&'a self, t: usize, cat: Category, shown: &'a str) -> Lane<'a> {
        Lane {
            output: &self.name,
            url: shown,
            category: cat,
            stats: self.lane_stats(t, cat),
        }
    }

    pub(super) fn rejected(
        &self,
        t: usize,
        cat: Category,
        shown: &str,
        n: u32,
        reason: &str,
    ) -> IoError {
        let err = IoError::Rejected {
            output: self.name.clone(),
            url: shown.into(),
            reason: format!("{reason} (not retried)"),
        };
        Dropped {
            points: n,
            reason: DropReason::Rejected,
            error: &err,
        }
        .emit(&self.event_lane(t, cat, shown));
        err
    }

    pub(super) async fn attempt(
        &self,
        t: usize,
        cat: Category,
        url: &str,
        body: &Bytes,
        points: u32,
    ) -> Attempt {
        let stats = self.lane_stats(t, cat);
        let mut req = Request::post(url)
            .header("x-points", points.to_string())
            .header("user-agent", concat!("sandkit/", env!("CARGO_PKG_VERSION")));
        if let super::Endpoint::RemoteWrite { .. } = self.config.endpoint {
            req = req
                .header("content-type", "application/x-protobuf")
                .header("content-encoding", "snappy")
                .header("x-prometheus-remote-write-version", "0.1.0");
        } else if let super::Endpoint::Otlp { .. } = self.config.endpoint {
            req = req.header("content-type", "application/x-protobuf");
            if let Some(enc) = self.config.compression.content_encoding() {
                req = req.header("content-encoding", enc);
            }
        } else {
            req = req.header("content-type", "text/plain; charset=utf-8");
            if let Some(enc) = self.config.compression.content_encoding() {
                req = req.header("content-encoding", enc);
            }
        }
        if let Some((k, v)) = &self.targets[t].header {
            req = req.header(*k, v.as_str());
        }
        let req = match req.body(Full::new(body.clone())) {
            Ok(r) => r,
            Err(e) => return Attempt::Rejected(format!("cannot build request: {e}")),
        };
        let start = std::time::Instant::now();
        stats.requests.fetch_add(1, Ordering::Relaxed);
        let resp = match tokio::time::timeout(self.config.timeout, self.client.request(req)).await {
            Err(_) => {
                return Attempt::Retry(format!("no response within {:?}", self.config.timeout))
            }
            Ok(Err(e)) => {
                return Attempt::Retry(format!("transport error: {}", describe_error(&e)))
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        // The body is read (so that the connection can be reused) up to a bound: a broken or
        // hostile server cannot make the agent buffer an endless answer.
        let text = tokio::time::timeout(self.config.timeout, read_capped(resp.into_body()))
            .await
            .unwrap_or_default();
        if status.is_success() {
            stats.latency.0.observe(start.elapsed());
            stats
                .points_sent
                .fetch_add(u64::from(points), Ordering::Relaxed);
            stats
                .bytes_sent
                .fetch_add(body.len() as u64, Ordering::Relaxed);
            Attempt::Done
        } else if let super::Endpoint::Otlp { .. } = self.config.endpoint {
            // OTLP/HTTP: only these are worth another try; any other failure is final.
            if matches!(status.as_u16(), 429 | 502 | 503 | 504) {
                Attempt::Retry(format!("status {status}: {text}"))
            } else {
                Attempt::Rejected(format!("status {status}: {text}"))
            }
        } else if status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
        {
            Attempt::Retry(format!("status {status}: {text}"))
        } else {
            Attempt::Rejected(format!("status {status}: {text}"))
        }
    }
}

/// Bytes of a response body read at most; the first 512 characters are kept for the log.
pub(super) const MAX_RESPONSE_BYTES: usize = 64 << 10;

pub(super) async fn read_capped(mut body: hyper::body::Incoming) -> String {
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            seen += data.len();
            let room = 2048usize.saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
        if seen > MAX_RESPONSE_BYTES {
            break;
        }
    }
    String::from_utf8_lossy(&kept).chars().take(512).collect()
}
