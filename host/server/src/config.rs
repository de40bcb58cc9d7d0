//! `[http]` of sandkit.toml: where the server listens, the token of its write routes, and its
//! limits. Parsed raw (serde, unknown keys refused), then validated into [`HttpConfig`].

use crate::ServerError;
use sandkit_conf::{ByteSize, HumanDuration};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The `[http]` table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttpConfig {
    /// Serve the HTTP API; default true.
    pub enabled: Option<bool>,
    /// Address and port, default "127.0.0.1:9529" (DataKit's port); port 0 picks a free one.
    pub listen: Option<String>,
    /// PEM certificate chain: serve HTTPS (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Token the write routes require, as `Authorization: Bearer <token>` (or InfluxDB 2's
    /// `Token <token>`); without one they are open. Read routes (`/metrics`, `/v1/health`,
    /// `/v1/plugins`) never need it.
    pub token: Option<String>,
    /// Largest request body as sent (before decompression), default "16MiB".
    pub max_body: Option<ByteSize>,
    /// Largest body after decompression (gzip, zstd), default "64MiB": a compression bomb gets
    /// 413, not the memory.
    pub max_decompressed: Option<ByteSize>,
    /// Write requests handled at once (reads are not counted); one more gets 503 with
    /// `Retry-After`, default 64.
    pub max_concurrent: Option<usize>,
    /// Longest wait of a write for its points to be delivered or buffered by the output before
    /// it answers 503, default "30s".
    pub ack_timeout: Option<HumanDuration>,
    /// Longest wait at shutdown for requests in flight, default "10s".
    pub shutdown_grace: Option<HumanDuration>,
}

/// The server's settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// Certificate chain and key files (PEM): HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub token: Option<String>,
    pub max_body: usize,
    pub max_decompressed: usize,
    pub max_concurrent: usize,
    pub ack_timeout: Duration,
    pub shutdown_grace: Duration,
}

/// DataKit's HTTP port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9529";

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9529)),
            tls: None,
            token: None,
            max_body: 16 << 20,
            max_decompressed: 64 << 20,
            max_concurrent: 64,
            ack_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl RawHttpConfig {
    /// The validated settings, or `None` when the server is disabled.
    ///
    /// # Errors
    /// A listen address that does not parse, an empty token, or a zero limit, naming the key.
    pub fn validate(&self) -> Result<Option<HttpConfig>, ServerError> {
        if self.enabled == Some(false) {
            return Ok(None);
        }
        let bad = |key: &'static str, reason: String| ServerError::Config { key, reason };
        let d = HttpConfig::default();
        let listen = self.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = listen.parse().map_err(|e| {
            bad(
                "listen",
                format!("{listen:?} is not an address and port like \"127.0.0.1:9529\": {e}"),
            )
        })?;
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => Some((c.clone(), k.clone())),
            (None, None) => None,
            (Some(_), None) => return Err(bad("tls_key", "is missing: tls_cert needs it".into())),
            (None, Some(_)) => return Err(bad("tls_cert", "is missing: tls_key needs it".into())),
        };
        if self.token.as_deref() == Some("") {
            return Err(bad(
                "token",
                "is empty; leave it out to keep the write routes open".into(),
            ));
        }
        let size = |key: &'static str, v: Option<ByteSize>, default: usize| match v {
            Some(ByteSize(0)) => Err(bad(key, "must be above 0".into())),
            Some(ByteSize(n)) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            None => Ok(default),
        };
        let max_body = size("max_body", self.max_body, d.max_body)?;
        let max_decompressed = size(
            "max_decompressed",
            self.max_decompressed,
            d.max_decompressed,
        )?;
        let max_concurrent = match self.max_concurrent {
            Some(0) => return Err(bad("max_concurrent", "must be above 0".into())),
            Some(n) => n,
            None => d.max_concurrent,
        };
        Ok(Some(HttpConfig {
            listen,
            tls,
            token: self.token.clone(),
            max_body,
            max_decompressed,
            max_concurrent,
            ack_timeout: self.ack_timeout.map_or(d.ack_timeout, |h| h.0),
            shutdown_grace: self.shutdown_grace.map_or(d.shutdown_grace, |h| h.0),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<HttpConfig>, String> {
        let raw: RawHttpConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        raw.validate().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(parse("").unwrap(), Some(HttpConfig::default()));
        assert_eq!(parse("enabled = false").unwrap(), None);
        let c = parse("listen = \"127.0.0.1:0\"\nmax_body = \"1MiB\"\nack_timeout = \"2s\"")
            .unwrap()
            .unwrap();
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.max_body, 1 << 20);
        assert_eq!(c.ack_timeout, Duration::from_secs(2));
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = parse("listen = \"localhost\"").unwrap_err();
        assert!(e.contains("listen") && e.contains("localhost"), "{e}");
        let e = parse("max_decompressed = \"0\"").unwrap_err();
        assert!(e.contains("max_decompressed"), "{e}");
        let e = parse("token = \"\"").unwrap_err();
        assert!(e.contains("token"), "{e}");
        let e = parse("max_concurrent = 0").unwrap_err();
        assert!(e.contains("max_concurrent"), "{e}");
        assert!(parse("listen_on = \"x\"")
            .unwrap_err()
            .contains("listen_on"));
    }
}
