//! The write routes: line protocol in, points to the sink, answered once the output has them.
//!
//! - `POST /v1/write/{category}` (DataKit): `precision` (`n`, `u`, `ms`, `s`, `m`, `h`),
//!   `ignore_global_tags` (also DataKit's `ignore_global_host_tags`); for logging, `pipeline`
//!   or `source` (see `pipelines`).
//! - `POST /write` (InfluxDB 1.x): `precision` as above; `db`, `rp` and the rest are accepted
//!   and ignored. Points are metrics.
//! - `POST /api/v2/write` (InfluxDB 2.x): `precision` (`ns`, `us`, `ms`, `s`); `org` and
//!   `bucket` are accepted and ignored. Points are metrics.
//!
//! - `POST /api/v1/write` and `/prom_remote_write`: Prometheus remote write (`promwrite`).
//! - `POST /v1/metrics`, `/v1/logs`, `/v1/traces`: OTLP/HTTP (`otlp`).
//!
//! With a token configured, each wants `Authorization: Bearer <token>` or `Token <token>`, or
//! `?token=<token>` (as DataWay URLs carry it).

use crate::body::{decode, read_limited};
use crate::routes::{error, no_content, Resp};
use crate::Shared;
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE,
};
use hyper::{Request, StatusCode};
use sandkit_io::now_ns;
use sandkit_io::{decode_lines, Ack, AckOutcome, Category, Point, Precision};
use sandkit_runtime::InputError;

/// Which write API a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    DataKit(Category),
    InfluxV1,
    InfluxV2,
}

/// The query string's `key=value` pairs, percent-decoded.
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Equal in time that does not depend on where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the request carries the token (always, when none is configured).
pub(crate) fn authorized(
    token: Option<&str>,
    req: &Request<Incoming>,
    query: &[(String, String)],
) -> bool {
    let Some(token) = token else {
        return true;
    };
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
                .then_some(token)
        });
    let given = header.or_else(|| {
        query
            .iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.as_str())
    });
    given.is_some_and(|g| same_secret(g.trim().as_bytes(), token.as_bytes()))
}

/// Handle one write.
pub(crate) async fn handle(shared: &Shared, req: Request<Incoming>, api: Api) -> Resp {
    let query = query_pairs(req.uri().query().unwrap_or(""));
    if !authorized(shared.config.token.as_deref(), &req, &query) {
        return unauthorized();
    }
    let param = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.as_str());
    let precision = match param("precision") {
        None | Some("") => Precision::Nanoseconds,
        Some(p) => match Precision::parse(p) {
            Some(p)
                if api != Api::InfluxV2 || !matches!(p, Precision::Minutes | Precision::Hours) =>
            {
                p
            }
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("precision {p:?} is not one of n, ns, u, us, ms, s, m, h"),
                )
            }
        },
    };
    let category = match api {
        Api::DataKit(c) => c,
        Api::InfluxV1 | Api::InfluxV2 => Category::Metric,
    };
    let ignore_global = ignore_global_tags(&query);

    let encoding = req
        .headers()
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let length = content_length(&req);
    let body = match read_body(shared, req.into_body(), length).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let limit = shared.config.max_decompressed;
    let decoded = tokio::task::spawn_blocking(move || {
        let text = decode(encoding.as_deref(), body, limit)?;
        Ok::<_, crate::BodyError>(decode_lines(&text, precision, now_ns(), category))
    })
    .await;
    let mut points = match decoded {
        Ok(Ok(Ok(points))) => points,
        Ok(Ok(Err(e))) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("{e}; nothing of this body was written"),
            )
        }
        Ok(Err(e)) => return error(e.status(), &e.to_string()),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    if let (Api::DataKit(Category::Logging), Some(pipes)) = (api, shared.pipelines.clone()) {
        let named = param("pipeline")
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        let source = param("source").unwrap_or("").to_string();
        if let Some(n) = named.as_deref().filter(|n| !pipes.has(n)) {
            // Only loaded pipelines: a name from the client never reaches the file system.
            return error(
                StatusCode::BAD_REQUEST,
                &format!("no pipeline named {n:?} is loaded; nothing of this body was written"),
            );
        }
        let chosen =
            named.or_else(|| (!source.is_empty() && pipes.has(&source)).then(|| source.clone()));
        if let Some(name) = chosen {
            let source = if source.is_empty() {
                name.clone()
            } else {
                source
            };
            match tokio::task::spawn_blocking(move || pipes.apply(&name, &source, points)).await {
                Ok(p) => points = p,
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            }
        }
    }
    deliver(shared, "http", points, ignore_global).await
}

/// Add the global tags (unless `ignore_global`), send the points (to the outputs whose route
/// takes `source`: `http`, or the input plugin's name), and answer once the outputs delivered
/// or buffered them.
async fn deliver(shared: &Shared, source: &str, points: Vec<Point>, ignore_global: bool) -> Resp {
    match delivered(shared, source, points, ignore_global).await {
        Ok(()) => no_content(),
        Err((status, why)) => error(status, &why),
    }
}

/// Send the points to the sink and wait for their acknowledgement (all or nothing), or the
/// status and reason of the failure.
pub(crate) async fn delivered(
    shared: &Shared,
    source: &str,
    mut points: Vec<Point>,
    ignore_global: bool,
) -> Result<(), (StatusCode, String)> {
    if points.is_empty() {
        return Ok(());
    }
    if !ignore_global {
        for p in &mut points {
            for (k, v) in &shared.state.global_tags {
                p.add_tag_if_missing(k, v);
            }
        }
    }
    let n = points.len();
    let Some(sink) = shared.sink().map(|s| s.for_source(&[source])) else {
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            "the agent is shutting down".into(),
        ));
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let ack = Ack::new(move |o| {
        let _ = tx.send(o);
    });
    // One deadline over both the send (it waits while the writer's queue is full) and the ack.
    let deadline = tokio::time::Instant::now() + shared.config.ack_timeout;
    match tokio::time::timeout_at(deadline, sink.send_acked_now(points, ack)).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => {
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "the agent is shutting down".into(),
            ))
        }
        Err(_) => {
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the output's queue stayed full for {:?}; nothing was written",
                    shared.config.ack_timeout
                ),
            ))
        }
    }
    drop(sink);
    match tokio::time::timeout_at(deadline, rx).await {
        Ok(Ok(o)) if o.is_safe() => Ok(()),
        Ok(Ok(o)) => {
            let why = match o {
                AckOutcome::Dropped => "the output refused them or gave up",
                _ => "they were lost (the agent is stopping)",
            };
            tracing::warn!(points = n, outcome = ?o, "server.write points not delivered");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{n} points were not delivered: {why}"),
            ))
        }
        Ok(Err(_)) => Err((
            StatusCode::SERVICE_UNAVAILABLE,
            "the points were not acknowledged (the agent is stopping)".into(),
        )),
        Err(_) => Err((
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{n} points were not delivered or buffered within {:?}; they may still be",
                shared.config.ack_timeout
            ),
        )),
    }
}

/// `POST /api/v1/write` (also DataKit's `/prom_remote_write`): Prometheus remote write.
pub(crate) async fn prometheus(shared: &Shared, req: Request<Incoming>) -> Resp {
    let query = query_pairs(req.uri().query().unwrap_or(""));
    if !authorized(shared.config.token.as_deref(), &req, &query) {
        return unauthorized();
    }
    let ignore_global = ignore_global_tags(&query);
    let length = content_length(&req);
    let body = match read_body(shared, req.into_body(), length).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let limit = shared.config.max_decompressed;
    let decoded = tokio::task::spawn_blocking(move || crate::promwrite::decode(&body, limit)).await;
    match decoded {
        Ok(Ok(points)) => deliver(shared, "http", points, ignore_global).await,
        Ok(Err(e @ crate::promwrite::PromError::TooLarge { .. })) => {
            error(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string())
        }
        Ok(Err(e)) => error(
            StatusCode::BAD_REQUEST,
            &format!("{e}; nothing of this body was written"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `POST /v1/input/{plugin}`: the body goes to a passive input plugin, whose points are
/// delivered like a write's. Its `Content-Type` is passed on; a compressed body
/// (`Content-Encoding`) is decompressed first.
pub(crate) async fn input(shared: &Shared, req: Request<Incoming>, plugin: &str) -> Resp {
    let query = query_pairs(req.uri().query().unwrap_or(""));
    if !authorized(shared.config.token.as_deref(), &req, &query) {
        return unauthorized();
    }
    let Some(inputs) = shared.state.inputs.clone() else {
        return error(StatusCode::NOT_FOUND, "this agent has no input plugins");
    };
    let ignore_global = ignore_global_tags(&query);
    let header = |h| {
        req.headers()
            .get(h)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    let encoding = header(CONTENT_ENCODING);
    let length = content_length(&req);
    let body = match read_body(shared, req.into_body(), length).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let limit = shared.config.max_decompressed;
    let body =
        match tokio::task::spawn_blocking(move || decode(encoding.as_deref(), body, limit)).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => return error(e.status(), &e.to_string()),
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        };
    match inputs.handle(plugin, &content_type, &body).await {
        Ok(points) => deliver(shared, plugin, points, ignore_global).await,
        Err(e) => {
            let status = match &e {
                InputError::Missing(_) => StatusCode::NOT_FOUND,
                InputError::Disabled(_) => StatusCode::SERVICE_UNAVAILABLE,
                InputError::Refused { .. } => StatusCode::BAD_REQUEST,
                InputError::Crashed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            };
            error(status, &format!("{e}; nothing of this body was written"))
        }
    }
}

/// A client has this long to send its whole body (a slow one would hold a slot).
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The body, within the size limit and [`BODY_TIMEOUT`], or the error response.
async fn read_body(
    shared: &Shared,
    body: Incoming,
    length: Option<u64>,
) -> Result<bytes::Bytes, Resp> {
    read_body_or(shared, body, length)
        .await
        .map_err(|(status, why)| error(status, &why))
}

/// [`read_body`] with the failure's status and reason, for a route that answers in a format
/// of its own (OTLP).
pub(crate) async fn read_body_or(
    shared: &Shared,
    body: Incoming,
    length: Option<u64>,
) -> Result<bytes::Bytes, (StatusCode, String)> {
    match tokio::time::timeout(
        BODY_TIMEOUT,
        read_limited(body, length, shared.config.max_body),
    )
    .await
    {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => Err((e.status(), e.to_string())),
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            format!("the body did not arrive within {BODY_TIMEOUT:?}"),
        )),
    }
}

/// `ignore_global_tags=true` (or DataKit's `ignore_global_host_tags`).
pub(crate) fn ignore_global_tags(query: &[(String, String)]) -> bool {
    ["ignore_global_tags", "ignore_global_host_tags"]
        .iter()
        .any(|k| {
            query
                .iter()
                .any(|(q, v)| q == k && (v == "true" || v == "1"))
        })
}

fn unauthorized() -> Resp {
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "a token is required: Authorization: Bearer <token>",
    );
    r.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

pub(crate) fn content_length(req: &Request<Incoming>) -> Option<u64> {
    req.headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_decoded() {
        assert_eq!(
            query_pairs("db=x&precision=s&token=a%2Bb%3D&flag&p=a+b&bad=%zz%4"),
            vec![
                ("db".into(), "x".into()),
                ("precision".into(), "s".into()),
                ("token".into(), "a+b=".into()),
                ("flag".into(), String::new()),
                ("p".into(), "a b".into()),
                ("bad".into(), "%zz%4".into()),
            ]
        );
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
    }
}
