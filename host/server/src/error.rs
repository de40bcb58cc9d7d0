//! Errors of the server: configuration and start-up. Request errors become responses (see
//! `body::BodyError` and the routes) and never end the server.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("config error in [http]: key {key:?} {reason}")]
    Config { key: &'static str, reason: String },
    #[error("[http] TLS: {file}: {reason}")]
    Tls {
        file: std::path::PathBuf,
        reason: String,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}
