//! One outgoing request with the limits its caller sets: the answer's body capped (its
//! `Content-Length` first, then the bytes as they come), a time allowed for the whole exchange,
//! redirects not followed, and a request that is safe to repeat sent once more when the
//! connection closes under it. The runtime uses it for plugins' `http-client` import, after its
//! allowlist has let the request through.

use crate::describe_error;
use crate::HttpClient;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, CONTENT_LENGTH};
use hyper::{Method, Uri};
use std::time::Duration;

/// A request, ready to go out (and to go out again).
#[derive(Debug, Clone)]
pub struct FetchRequest {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl FetchRequest {
    fn to_hyper(&self) -> hyper::Request<Full<Bytes>> {
        let mut r = hyper::Request::new(Full::new(self.body.clone()));
        *r.method_mut() = self.method.clone();
        *r.uri_mut() = self.uri.clone();
        *r.headers_mut() = self.headers.clone();
        r
    }
}

/// An answer, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why there is no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The connection or the exchange failed (the text says how).
    Failed(String),
    /// The body is over the cap (bytes).
    TooLarge(u64),
    /// No complete answer within the time allowed.
    Timeout(Duration),
}

/// Send `req` through `client`: a body over `cap` bytes is refused, and the whole exchange,
/// the body included, must end within `allowed`. `sent` counts the times the request went out
/// (1, or 2 when it was sent again).
///
/// # Errors
/// See [`FetchError`].
pub async fn fetch(
    client: &HttpClient,
    req: &FetchRequest,
    cap: u64,
    allowed: Duration,
    sent: &mut u32,
) -> Result<Fetched, FetchError> {
    let replayable = is_replayable(&req.method, &req.headers);
    *sent = 1;
    let exchange = async {
        let resp = match client.request(req.to_hyper()).await {
            Ok(resp) => resp,
            // A connection that closed or was reset before any answer: most often a kept-alive
            // connection the server closed as the request went out on it (hyper sends it again
            // by itself only when it saw the close before writing). A request that is safe to
            // repeat (RFC 9110, 9.2.2) goes out once more, within the same time allowed; it is
            // counted twice. Unlike Go's client, this does not know whether the connection was
            // reused: a server that resets a fresh connection before answering sees a GET twice.
            Err(e) if replayable && closed_before_an_answer(&e) => {
                tracing::debug!(uri = %req.uri, error = %describe_error(&e), "connection closed under the request; sending it again");
                *sent = 2;
                client
                    .request(req.to_hyper())
                    .await
                    .map_err(|e| FetchError::Failed(describe_error(&e)))?
            }
            Err(e) => return Err(FetchError::Failed(describe_error(&e))),
        };
        let declared = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > cap) {
            return Err(FetchError::TooLarge(cap));
        }
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = resp.into_body();
        let mut data = Vec::with_capacity(usize::try_from(declared.unwrap_or(0)).unwrap_or(0));
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| FetchError::Failed(describe_error(&e)))?;
            if let Ok(chunk) = frame.into_data() {
                if (data.len() + chunk.len()) as u64 > cap {
                    return Err(FetchError::TooLarge(cap));
                }
                data.extend_from_slice(&chunk);
            }
        }
        Ok(Fetched {
            status,
            headers,
            body: data,
        })
    };
    match tokio::time::timeout(allowed, exchange).await {
        Ok(r) => r,
        Err(_) => Err(FetchError::Timeout(allowed)),
    }
}

/// Whether a request may go out twice: a method HTTP defines as safe, or a request carrying an
/// idempotency key (the rule Go's `net/http` client applies to the same retry).
fn is_replayable(method: &Method, headers: &HeaderMap) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) || headers.contains_key("idempotency-key")
        || headers.contains_key("x-idempotency-key")
}

/// Whether `err` is a connection that closed or was reset before any answer came, as opposed to
/// a refused connection, a TLS failure or a malformed answer. A TLS server that closes without
/// `close_notify` shows as an unexpected end of file.
fn closed_before_an_answer(err: &hyper_util::client::legacy::Error) -> bool {
    if err.is_connect() {
        return false;
    }
    let mut next = std::error::Error::source(err);
    while let Some(e) = next {
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() {
                return true;
            }
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::{
                BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof,
            };
            if matches!(
                io.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
            ) {
                return true;
            }
        }
        next = e.source();
    }
    false
}
