//! Guest stdout and stderr, forwarded line by line to the host's log with the plugin's name.
//! A chatty guest is rate-limited (a burst of lines, then a steady rate) and told how many lines
//! were dropped, so it cannot flood the host's log.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Longest line kept; the rest of a longer line is cut.
const MAX_LINE: usize = 4096;
/// Lines allowed in a burst, and refilled per second.
const BURST: f64 = 200.0;
const PER_SECOND: f64 = 20.0;

#[derive(Debug)]
struct Inner {
    plugin: Arc<str>,
    stream: &'static str,
    line: Vec<u8>,
    tokens: f64,
    last: Instant,
    dropped: u64,
}

impl Inner {
    fn emit_line(&mut self) {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * PER_SECOND).min(BURST);
        self.last = now;
        let text = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        if self.tokens < 1.0 {
            self.dropped += 1;
            return;
        }
        self.tokens -= 1.0;
        if self.dropped > 0 {
            tracing::warn!(plugin = %self.plugin, stream = self.stream, dropped = self.dropped, "runtime.guest_output lines dropped by rate limit");
            self.dropped = 0;
        }
        if self.stream == "stderr" {
            tracing::warn!(plugin = %self.plugin, stream = self.stream, "{text}");
        } else {
            tracing::info!(plugin = %self.plugin, stream = self.stream, "{text}");
        }
    }

    fn write(&mut self, buf: &[u8]) {
        for &b in buf {
            if b == b'\n' {
                self.emit_line();
            } else if self.line.len() < MAX_LINE {
                self.line.push(b);
            }
        }
    }
}

/// A stdout or stderr stream for one plugin.
#[derive(Debug, Clone)]
pub struct LogStream {
    inner: Arc<Mutex<Inner>>,
}

impl LogStream {
    pub fn new(plugin: Arc<str>, stream: &'static str) -> Self {
        LogStream {
            inner: Arc::new(Mutex::new(Inner {
                plugin,
                stream,
                line: Vec::new(),
                tokens: BURST,
                last: Instant::now(),
                dropped: 0,
            })),
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for LogStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if let Ok(mut inner) = self.inner.lock() {
            inner.write(buf);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Ok(mut inner) = self.inner.lock() {
            if !inner.line.is_empty() {
                inner.emit_line();
            }
        }
        Poll::Ready(Ok(()))
    }
}
