//! OTLP/HTTP in: `POST /v1/metrics`, `/v1/logs` and `/v1/traces` take the export requests of
//! any OpenTelemetry SDK or collector (protobuf, `application/x-protobuf`, or OTLP/JSON,
//! `application/json`; `Content-Encoding` gzip, zstd or none) into the metric,
//! logging and tracing categories, with the write routes' token, size limits and
//! all-or-nothing acknowledgement: a 200 means every point made of the body is delivered or in
//! the output's buffer. How points are made of each signal: `sandkit_io::otlp`.
//!
//! The answer is in the request's own encoding: an `Export*ServiceResponse` on success, with
//! `partial_success` counting the data points (records, spans) that had no place in a point;
//! on failure a `google.rpc.Status` with the reason, and the status code OTLP tells clients to
//! act on (400 and 413 are not retried, 503 and 429 are). A body's decoded messages may take
//! about eight times `max_decompressed` (estimated on the wire first) and its points four
//! times: past that it is a 413.

use crate::body::decode;
use crate::routes::{reply, Resp};
use crate::write::{
    authorized, content_length, delivered, ignore_global_tags, query_pairs, read_body_or,
};
use crate::Shared;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Request, StatusCode};
use sandkit_io::otlp::{OtlpError, Signal};

/// The source name routes see for what arrives here.
pub const SOURCE: &str = "otlp";

/// `google.rpc.Status`, the body of an OTLP error.
#[derive(Clone, PartialEq, prost::Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// `Export{Metrics,Logs,Trace}PartialSuccess`: the same two fields in all three.
#[derive(Clone, PartialEq, prost::Message)]
struct PartialSuccess {
    #[prost(int64, tag = "1")]
    rejected: i64,
    #[prost(string, tag = "2")]
    error_message: String,
}

/// `Export{Metrics,Logs,Trace}ServiceResponse`.
#[derive(Clone, PartialEq, prost::Message)]
struct ExportResponse {
    #[prost(message, optional, tag = "1")]
    partial_success: Option<PartialSuccess>,
}

/// The request's encoding, which the answer shares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

/// A failure, as a `google.rpc.Status` with the gRPC code of the HTTP status.
fn failure(enc: Encoding, status: StatusCode, message: &str) -> Resp {
    // INVALID_ARGUMENT, UNAUTHENTICATED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE.
    let code = match status.as_u16() {
        401 => 16,
        413 | 429 => 8,
        400 | 415 => 3,
        500 => 13,
        _ => 14,
    };
    match enc {
        Encoding::Protobuf => reply(
            status,
            "application/x-protobuf",
            prost::Message::encode_to_vec(&Status {
                code,
                message: message.to_string(),
            }),
        ),
        Encoding::Json => reply(
            status,
            "application/json",
            serde_json::json!({ "code": code, "message": message }).to_string(),
        ),
    }
}

/// Success, with what was rejected (data points, log records or spans) when anything was.
fn success(enc: Encoding, signal: Signal, rejected: u64, reason: Option<String>) -> Resp {
    let partial = (rejected > 0).then(|| PartialSuccess {
        rejected: i64::try_from(rejected).unwrap_or(i64::MAX),
        error_message: reason.unwrap_or_default(),
    });
    match enc {
        Encoding::Protobuf => reply(
            StatusCode::OK,
            "application/x-protobuf",
            prost::Message::encode_to_vec(&ExportResponse {
                partial_success: partial,
            }),
        ),
        Encoding::Json => {
            let body = match partial {
                None => serde_json::json!({}),
                Some(p) => {
                    let what = match signal {
                        Signal::Metrics => "rejectedDataPoints",
                        Signal::Logs => "rejectedLogRecords",
                        Signal::Traces => "rejectedSpans",
                    };
                    serde_json::json!({ "partialSuccess": {
                        what: p.rejected.to_string(), "errorMessage": p.error_message } })
                }
            };
            reply(StatusCode::OK, "application/json", body.to_string())
        }
    }
}

/// A failure answered before the request is read (too many in flight, a wrong method), in the
/// encoding its `Content-Type` asks for.
pub(crate) fn failure_for(req: &Request<Incoming>, status: StatusCode, why: &str) -> Resp {
    failure(encoding_of(req).unwrap_or(Encoding::Json), status, why)
}

fn encoding_of(req: &Request<Incoming>) -> Option<Encoding> {
    let content_type = req.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    match content_type
        .split(';')
        .next()?
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
        "application/json" => Some(Encoding::Json),
        _ => None,
    }
}

/// Handle one export request.
pub(crate) async fn handle(shared: &Shared, req: Request<Incoming>, signal: Signal) -> Resp {
    let header = |h| {
        req.headers()
            .get(h)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    let enc = match encoding_of(&req) {
        Some(enc) => enc,
        None => {
            let content_type = header(CONTENT_TYPE).unwrap_or_default();
            return failure(
                Encoding::Json,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!(
                    "Content-Type {content_type:?}: OTLP/HTTP is application/x-protobuf or application/json"
                ),
            );
        }
    };
    let query = query_pairs(req.uri().query().unwrap_or(""));
    if !authorized(shared.config.token.as_deref(), &req, &query) {
        let mut r = failure(
            enc,
            StatusCode::UNAUTHORIZED,
            "a token is required: Authorization: Bearer <token>",
        );
        r.headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    let ignore_global = ignore_global_tags(&query);
    let encoding = header(CONTENT_ENCODING);
    let length = content_length(&req);
    let body = match read_body_or(shared, req.into_body(), length).await {
        Ok(b) => b,
        Err((status, why)) => return failure(enc, status, &why),
    };
    let limit = shared.config.max_decompressed;
    let decoded = tokio::task::spawn_blocking(move || {
        let body =
            decode(encoding.as_deref(), body, limit).map_err(|e| (e.status(), e.to_string()))?;
        // Points may take four times the body's limit: a small body of many histogram buckets
        // under many attributes cannot grow without bound.
        sandkit_io::otlp::decode(
            signal,
            &body,
            enc == Encoding::Json,
            limit.saturating_mul(4),
        )
        .map_err(|e| match e {
            OtlpError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
            e => (
                StatusCode::BAD_REQUEST,
                format!("{e}; nothing of this body was written"),
            ),
        })
    })
    .await;
    let decoded = match decoded {
        Ok(Ok(d)) => d,
        Ok(Err((status, why))) => return failure(enc, status, &why),
        Err(e) => return failure(enc, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    if decoded.rejected > 0 {
        tracing::warn!(signal = ?signal, rejected = decoded.rejected, reason = decoded.reason.as_deref().unwrap_or(""), "server.otlp data points with no place in a point");
    }
    match delivered(shared, SOURCE, decoded.points, ignore_global).await {
        Ok(()) => success(enc, signal, decoded.rejected, decoded.reason),
        Err((status, why)) => failure(enc, status, &why),
    }
}
