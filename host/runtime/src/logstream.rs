//! Guest stdout and stderr, forwarded line by line to the host's log with the plugin's name,
//! under the plugin's log rate limit ([`crate::guest_log`]).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use crate::guest_log::{GuestLog, Level, MAX_MESSAGE};

#[derive(Debug)]
struct Inner {
    log: Arc<GuestLog>,
    stream: &'static str,
    line: Vec<u8>,
}

impl Inner {
    fn emit_line(&mut self) {
        let text = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        let level = if self.stream == "stderr" {
            Level::Warn
        } else {
            Level::Info
        };
        self.log.line(level, self.stream, &text);
    }

    fn write(&mut self, buf: &[u8]) {
        for &b in buf {
            if b == b'\n' {
                self.emit_line();
            } else if self.line.len() < MAX_MESSAGE {
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
    pub fn new(log: Arc<GuestLog>, stream: &'static str) -> Self {
        LogStream {
            inner: Arc::new(Mutex::new(Inner {
                log,
                stream,
                line: Vec::new(),
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
