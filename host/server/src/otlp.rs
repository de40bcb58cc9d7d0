//! OTLP/HTTP in: `POST /v1/metrics`, `/v1/logs` and `/v1/traces` take the export requests of
//! any OpenTelemetry SDK or collector (protobuf, `application/x-protobuf`, or OTLP/JSON,
//! `application/json`; `Content-Encoding` gzip, zstd, deflate or none) into the metric,
//! logging and tracing categories, with the write routes' token, size limits and
//! all-or-nothing acknowledgement: a 200 means every point of the body is delivered or in the
//! output's buffer. How points are made of each signal: `sandkit_io::otlp`.
//!
//! The answer is in the request's own encoding: an empty `Export*ServiceResponse` on success;
//! on failure a `google.rpc.Status` with the reason, and the status code OTLP tells clients to
//! act on (400 and 413 are not retried, 503 and 429 are).

use crate::body::decode;
use crate::routes::{reply, Resp};
use crate::write::{
    authorized, content_length, delivered, ignore_global_tags, query_pairs, read_body,
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

/// The request's encoding, which the answer shares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

fn answer(enc: Encoding, status: StatusCode, message: Option<&str>) -> Resp {
    // gRPC codes: INVALID_ARGUMENT, UNAUTHENTICATED, RESOURCE_EXHAUSTED, UNAVAILABLE.
    let code = match status.as_u16() {
        200 => 0,
        401 => 16,
        413 | 429 => 8,
        400 | 415 => 3,
        _ => 14,
    };
    match (enc, message) {
        (Encoding::Protobuf, None) => reply(status, "application/x-protobuf", Vec::new()),
        (Encoding::Json, None) => reply(status, "application/json", "{}"),
        (Encoding::Protobuf, Some(m)) => reply(
            status,
            "application/x-protobuf",
            prost::Message::encode_to_vec(&Status {
                code,
                message: m.to_string(),
            }),
        ),
        (Encoding::Json, Some(m)) => reply(
            status,
            "application/json",
            serde_json::json!({ "code": code, "message": m }).to_string(),
        ),
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
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or("").trim();
    let enc = match media {
        "application/x-protobuf" | "application/protobuf" => Encoding::Protobuf,
        "application/json" => Encoding::Json,
        _ => {
            return answer(
                Encoding::Json,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some(&format!(
                    "Content-Type {content_type:?}: OTLP/HTTP is application/x-protobuf or application/json"
                )),
            )
        }
    };
    let query = query_pairs(req.uri().query().unwrap_or(""));
    if !authorized(shared.config.token.as_deref(), &req, &query) {
        let mut r = answer(
            enc,
            StatusCode::UNAUTHORIZED,
            Some("a token is required: Authorization: Bearer <token>"),
        );
        r.headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    let ignore_global = ignore_global_tags(&query);
    let encoding = header(CONTENT_ENCODING);
    let length = content_length(&req);
    let body = match read_body(shared, req.into_body(), length).await {
        Ok(b) => b,
        Err(r) => return r,
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
    let points = match decoded {
        Ok(Ok(points)) => points,
        Ok(Err((status, why))) => return answer(enc, status, Some(&why)),
        Err(e) => return answer(enc, StatusCode::INTERNAL_SERVER_ERROR, Some(&e.to_string())),
    };
    match delivered(shared, SOURCE, points, ignore_global).await {
        Ok(()) => answer(enc, StatusCode::OK, None),
        Err((status, why)) => answer(enc, status, Some(&why)),
    }
}
