//! Guest stdout and stderr, forwarded line by line to the host's log with the plugin's name,
//! under the plugin's log rate limit ([`crate::guest_log`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

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

    /// The stream itself, written on the guest's own thread: the default adapter hands every
    /// write to a task of its own and makes the guest wait until an executor thread runs it,
    /// so under load each `print` or `console.log` line cost a trip through the scheduler (a
    /// flood of 2,000 lines went past a 1.5 s deadline beside busy plugins).
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

/// Writes never wait: a line goes to the rate-limited log at once (or is dropped by it).
const WRITE_PERMIT: usize = 64 * 1024;

impl OutputStream for LogStream {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        if let Ok(mut inner) = self.inner.lock() {
            inner.write(&bytes);
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

impl Pollable for LogStream {
    /// Always ready (see [`OutputStream::check_write`]).
    fn ready<'a, 'b>(&'a mut self) -> Pin<Box<dyn Future<Output = ()> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(std::future::ready(()))
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
