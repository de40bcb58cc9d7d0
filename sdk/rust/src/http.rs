//! Outgoing HTTP for collectors, through the host: only the `host:port` targets listed in the
//! plugin's `[sandbox] http` allowlist are reached; anything else fails with
//! [`Error::Refused`] (and the host logs it). Redirects are not followed.
//!
//! ```ignore
//! let resp = sandkit_sdk::http::Request::get("http://127.0.0.1:9100/metrics")
//!     .header("accept", "text/plain")
//!     .timeout(std::time::Duration::from_secs(5))
//!     .send()?;
//! if resp.status != 200 { /* ... */ }
//! let text = resp.text()?;
//! ```

use crate::bindings::sandkit::plugin::http_client as raw;
use std::time::Duration;

/// A request being built; [`Request::send`] sends it.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
}

impl Request {
    /// A request with `method` ("GET", "POST", ...) to an absolute `http://` or `https://` URL.
    pub fn new(method: &str, url: &str) -> Self {
        Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
        }
    }

    /// A GET of `url`.
    pub fn get(url: &str) -> Self {
        Self::new("GET", url)
    }

    /// A POST of `body` to `url`.
    pub fn post(url: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::new("POST", url).body(body)
    }

    /// Adds a header (sent as given; repeated names are sent repeatedly).
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Time allowed for the whole exchange (default: the plugin's `[sandbox] http_timeout`,
    /// 10 s). The host never lets it run past the deadline of the current call.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and waits for the whole response.
    ///
    /// # Errors
    /// See [`Error`]; an HTTP error status is not an error here (check [`Response::status`]).
    pub fn send(self) -> Result<Response, Error> {
        let timeout_ms = self.timeout.map_or(0, |t| {
            u32::try_from(t.as_millis()).unwrap_or(u32::MAX).max(1)
        });
        let req = raw::Request {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
            timeout_ms,
        };
        match raw::fetch(&req) {
            Ok(r) => Ok(Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(e) => Err(e.into()),
        }
    }
}

/// A GET of `url` with the default timeout.
///
/// # Errors
/// As [`Request::send`].
pub fn get(url: &str) -> Result<Response, Error> {
    Request::get(url).send()
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// As received (not decompressed).
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text.
    ///
    /// # Errors
    /// When the body is not valid UTF-8 (the message gives the byte offset).
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body)
            .map_err(|e| Error::Failed(format!("the response body is not UTF-8: {e}")))
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The target is not on the plugin's `[sandbox] http` allowlist.
    Refused(String),
    /// The URL, method or a header is not valid.
    InvalidRequest(String),
    /// No complete response within the time allowed.
    Timeout(String),
    /// The response body is larger than this cap, in bytes (`[sandbox] http_max_response`).
    TooLarge(u64),
    /// Connection, TLS or protocol failure.
    Failed(String),
}

impl From<raw::HttpError> for Error {
    fn from(e: raw::HttpError) -> Self {
        match e {
            raw::HttpError::Refused(m) => Error::Refused(m),
            raw::HttpError::InvalidRequest(m) => Error::InvalidRequest(m),
            raw::HttpError::Timeout(m) => Error::Timeout(m),
            raw::HttpError::TooLarge(n) => Error::TooLarge(n),
            raw::HttpError::Failed(m) => Error::Failed(m),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Refused(m) => write!(f, "refused by the sandbox: {m}"),
            Error::InvalidRequest(m) => write!(f, "invalid request: {m}"),
            Error::Timeout(m) => write!(f, "timed out: {m}"),
            Error::TooLarge(n) => write!(f, "response body larger than {n} bytes"),
            Error::Failed(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_finds_headers_in_any_case() {
        let r = Response {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: b"ok".to_vec(),
        };
        assert_eq!(r.header("Content-Type"), Some("text/plain"));
        assert_eq!(r.header("etag"), None);
        assert_eq!(r.text().unwrap(), "ok");
        let bad = Response {
            body: vec![0xff],
            ..r
        };
        assert!(bad.text().unwrap_err().to_string().contains("not UTF-8"));
    }

    #[test]
    fn errors_say_what_happened() {
        assert_eq!(
            Error::Refused("10.0.0.1:80: not in the allowlist".into()).to_string(),
            "refused by the sandbox: 10.0.0.1:80: not in the allowlist"
        );
        assert_eq!(
            Error::TooLarge(16).to_string(),
            "response body larger than 16 bytes"
        );
    }
}
