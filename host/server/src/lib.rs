//! The agent's HTTP server: inbound writes (DataKit's `/v1/write/{category}`, InfluxDB's
//! `/write` and `/api/v2/write`, Prometheus remote write, OTLP/HTTP `/v1/metrics`, `/v1/logs`
//! and `/v1/traces`), input plugins at `/v1/input/{plugin}`, `/metrics` in Prometheus text
//! format, plugin status, election and health.
//!
//! Writes are all or nothing: a body with a bad line gets 400 naming the line and column and
//! none of its points are sent. A good body is answered once the IO layer has delivered or
//! durably buffered its points (the sink's acknowledgement), so a client that got 204 can forget
//! them. Bodies are read up to `max_body` and decompressed up to `max_decompressed`; at most
//! `max_concurrent` requests run at once; shutdown stops accepting and lets requests in flight
//! finish (up to `shutdown_grace`).

mod body;
mod config;
mod error;
mod metrics;
pub mod otlp;
mod pipelines;
mod promwrite;
mod routes;
mod tls;
mod write;

pub use body::BodyError;
pub use config::{HttpConfig, RawHttpConfig, DEFAULT_LISTEN};
pub use error::ServerError;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use sandkit_io::pipeline::PipelineProvider;
use sandkit_io::Sink;
use sandkit_metrics::Registry;
use sandkit_runtime::InputRegistry;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// A document the server reports as JSON (`/v1/plugins`, `/v1/election`), written when asked
/// (pretty, in the order its type declares its fields).
pub type Report = Arc<dyn Fn() -> serde_json::Result<Vec<u8>> + Send + Sync>;

/// What the server reports on, and how it tags inbound points.
#[derive(Clone)]
pub struct ServerState {
    /// Tags added to inbound points that lack them (unless the request says
    /// `ignore_global_tags=true`).
    pub global_tags: Vec<(String, String)>,
    /// The agent's metrics, for `/metrics` (which adds the server's own).
    pub metrics: Registry,
    /// The plugins' statuses, for `/v1/plugins`.
    pub plugins: Report,
    /// The loaded pipelines, for logging writes that name one (`?pipeline=` or `?source=`).
    pub pipelines: Option<Arc<dyn PipelineProvider>>,
    /// The loaded passive inputs, for `/v1/input/{plugin}`.
    pub inputs: Option<Arc<InputRegistry>>,
    /// The leader election, for `/v1/election`.
    pub election: Option<Report>,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("global_tags", &self.global_tags)
            .finish_non_exhaustive()
    }
}

/// The state of a running server, shared by its connections.
pub(crate) struct Shared {
    config: HttpConfig,
    /// Taken at shutdown, so that the writer can finish even if a connection lingers.
    sink: Mutex<Option<Sink>>,
    state: ServerState,
    pipelines: Option<Arc<pipelines::Pipelines>>,
    slots: Semaphore,
    started: Instant,
    /// Requests answered, by route and status code.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
}

impl Shared {
    fn sink(&self) -> Option<Sink> {
        self.sink.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn count(&self, route: &'static str, status: u16) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((route, status))
            .or_default() += 1;
    }
}

/// A running server; [`ServerHandle::shutdown`] stops it.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// The address it listens on (the port chosen when the config said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop accepting, let requests in flight finish (up to `shutdown_grace`), and release the
    /// sink.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "server.shutdown task failed");
        }
    }
}

/// Bind `config.listen` and serve until shutdown; inbound points go to `sink` (released at
/// shutdown, so that the writer can finish).
///
/// # Errors
/// [`ServerError::Bind`] when the address cannot be bound (in use, not local...).
pub async fn start(
    config: HttpConfig,
    sink: Sink,
    state: ServerState,
) -> Result<ServerHandle, ServerError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.listen,
        source,
    })?;
    let tls = match &config.tls {
        Some((cert, key)) => Some(tls::acceptor(cert, key)?),
        None => None,
    };
    let (stop, stopped) = watch::channel(false);
    let shared = Arc::new(Shared {
        slots: Semaphore::new(config.max_concurrent),
        sink: Mutex::new(Some(sink)),
        pipelines: state
            .pipelines
            .clone()
            .map(|p| Arc::new(pipelines::Pipelines::new(p))),
        config,
        state,
        started: Instant::now(),
        requests: Mutex::new(BTreeMap::new()),
    });
    tracing::info!(%addr, tls = tls.is_some(), "server.listen");
    let task = tokio::spawn(serve(listener, tls, shared, stopped));
    Ok(ServerHandle { addr, stop, task })
}

/// Slowloris guard: a client has this long to send its request headers (and to finish a TLS
/// handshake).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let (shared, watcher, tls) = (shared.clone(), graceful.watcher(), tls.clone());
                    tokio::spawn(async move {
                        let result = match tls {
                            None => connection(TokioIo::new(stream), shared, watcher).await,
                            Some(acceptor) => {
                                match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await {
                                    Ok(Ok(s)) => connection(TokioIo::new(s), shared, watcher).await,
                                    Ok(Err(e)) => {
                                        tracing::debug!(%peer, error = %e, "server.tls handshake failed");
                                        return;
                                    }
                                    Err(_) => return,
                                }
                            }
                        };
                        if let Err(e) = result {
                            tracing::debug!(%peer, error = %e, "server.connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "server.accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = stopped.changed() => break,
        }
    }
    drop(listener);
    let grace = shared.config.shutdown_grace;
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!(?grace, "server.shutdown requests still in flight after the grace time; they get 503");
        }
    }
    shared.sink.lock().unwrap_or_else(|p| p.into_inner()).take();
    tracing::info!("server.stopped");
}

/// Serve one connection (plain or TLS) until it closes, watched for graceful shutdown.
async fn connection<I>(io: I, shared: Arc<Shared>, watcher: Watcher) -> Result<(), hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| {
        let s = shared.clone();
        async move { Ok::<_, Infallible>(routes::handle(&s, req).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(io, svc);
    watcher.watch(conn).await
}
