//! Routing: method and path to a handler, the concurrency cap, and the shape of responses
//! (JSON errors `{"error": "..."}`, as InfluxDB 1.x answers).

use crate::write::{self, Api};
use crate::{metrics, Shared};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use sandkit_io::otlp::Signal;
use sandkit_io::Category;
use std::str::FromStr;

pub(crate) type Resp = Response<Full<Bytes>>;

/// A response with a body and a content type.
pub(crate) fn reply(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// `{"error": message}` with `status`.
pub(crate) fn error(status: StatusCode, message: &str) -> Resp {
    let body = serde_json::json!({ "error": message }).to_string();
    reply(status, "application/json", body)
}

pub(crate) fn no_content() -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

fn json<T: serde::Serialize>(value: &T) -> Resp {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => reply(StatusCode::OK, "application/json", body),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

fn report(r: &crate::Report) -> Resp {
    match r() {
        Ok(body) => reply(StatusCode::OK, "application/json", body),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// What a request is for.
enum Route {
    Health,
    Plugins,
    Election,
    Metrics,
    Write(Api),
    PromWrite,
    Otlp(sandkit_io::otlp::Signal),
    Input(String),
}

impl Route {
    /// The route of `path`, with the method it takes.
    fn of(path: &str) -> Option<(Route, Method)> {
        Some(match path {
            "/v1/health" | "/health" => (Route::Health, Method::GET),
            "/v1/plugins" => (Route::Plugins, Method::GET),
            "/v1/election" => (Route::Election, Method::GET),
            "/metrics" => (Route::Metrics, Method::GET),
            "/write" => (Route::Write(Api::InfluxV1), Method::POST),
            "/api/v2/write" => (Route::Write(Api::InfluxV2), Method::POST),
            "/api/v1/write" | "/prom_remote_write" => (Route::PromWrite, Method::POST),
            "/v1/metrics" => (Route::Otlp(Signal::Metrics), Method::POST),
            "/v1/logs" => (Route::Otlp(Signal::Logs), Method::POST),
            "/v1/traces" => (Route::Otlp(Signal::Traces), Method::POST),
            _ if path.starts_with("/v1/input/") => {
                let name = &path["/v1/input/".len()..];
                if name.is_empty() || name.contains('/') {
                    return None;
                }
                (Route::Input(name.to_string()), Method::POST)
            }
            _ => {
                let cat = path.strip_prefix("/v1/write/")?;
                let cat = Category::from_str(cat).ok()?;
                (Route::Write(Api::DataKit(cat)), Method::POST)
            }
        })
    }

    /// The label of the route in the server's own metrics.
    fn label(&self) -> &'static str {
        match self {
            Route::Health => "/v1/health",
            Route::Plugins => "/v1/plugins",
            Route::Election => "/v1/election",
            Route::Metrics => "/metrics",
            Route::Write(Api::InfluxV1) => "/write",
            Route::Write(Api::InfluxV2) => "/api/v2/write",
            Route::Write(Api::DataKit(_)) => "/v1/write/{category}",
            Route::PromWrite => "/api/v1/write",
            Route::Otlp(Signal::Metrics) => "/v1/metrics",
            Route::Otlp(Signal::Logs) => "/v1/logs",
            Route::Otlp(Signal::Traces) => "/v1/traces",
            Route::Input(_) => "/v1/input/{plugin}",
        }
    }
}

/// Answer one request.
pub(crate) async fn handle(shared: &Shared, req: Request<Incoming>) -> Resp {
    let Some((route, method)) = Route::of(req.uri().path()) else {
        let msg = if req.uri().path().starts_with("/v1/write/") {
            "unknown category: use metric, logging, object, custom_object, keyevent, network, \
             tracing, rum, security or profiling"
        } else {
            "no such route"
        };
        shared.count("other", 404);
        return error(StatusCode::NOT_FOUND, msg);
    };
    let label = route.label();
    // OTLP clients read failures as a google.rpc.Status in their own encoding.
    let error = |status, why: &str| match route {
        Route::Otlp(_) => crate::otlp::failure_for(&req, status, why),
        _ => error(status, why),
    };
    if req.method() != method && !(method == Method::GET && req.method() == Method::HEAD) {
        shared.count(label, 405);
        let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        r.headers_mut().insert(
            ALLOW,
            HeaderValue::from_static(if method == Method::GET {
                "GET, HEAD"
            } else {
                "POST"
            }),
        );
        return r;
    }
    // Reads are cheap and must answer under write load (health checks): only writes count
    // toward the cap.
    let is_write = method == Method::POST;
    let slot = if is_write {
        shared.slots.try_acquire().ok()
    } else {
        None
    };
    if is_write && slot.is_none() {
        shared.count(label, 503);
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many requests in flight; try again",
        );
        r.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    let resp = match route {
        Route::Health => json(&serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_s": shared.started.elapsed().as_secs(),
        })),
        Route::Plugins => report(&shared.state.plugins),
        Route::Election => match &shared.state.election {
            Some(e) => report(e),
            None => reply(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                "this agent runs no election\n",
            ),
        },
        Route::Metrics => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics::render(shared),
        ),
        Route::Write(api) => write::handle(shared, req, api).await,
        Route::PromWrite => write::prometheus(shared, req).await,
        Route::Otlp(signal) => crate::otlp::handle(shared, req, signal).await,
        Route::Input(name) => write::input(shared, req, &name).await,
    };
    drop(slot);
    shared.count(label, resp.status().as_u16());
    resp
}
