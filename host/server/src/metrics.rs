//! `/metrics`: the agent's own metrics in Prometheus text format (version 0.0.4): what the
//! agent's registry collects (plugins, outputs, file tasks, election: each family declared in
//! its crate), then the server's own families.

use crate::Shared;
use sandkit_metrics::{render_prometheus, Families};

/// The whole page.
pub(crate) fn render(shared: &Shared) -> String {
    let mut families = shared.state.metrics.collect();
    server(&mut families, shared);
    render_prometheus(&families)
}

fn server(out: &mut Families, shared: &Shared) {
    let requests = shared
        .requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    out.counter(
        "sandkit_http_requests_total",
        "requests answered by the agent's HTTP server, by route and status code",
        requests.iter().map(|((route, code), n)| {
            (
                vec![("route", (*route).to_string()), ("code", code.to_string())],
                *n as f64,
            )
        }),
    );
    out.gauge(
        "sandkit_uptime_seconds",
        "seconds since the server started",
        [(Vec::new(), shared.started.elapsed().as_secs_f64())],
    );
}
