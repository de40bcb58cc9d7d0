//! The `http-client` import: outgoing requests under the plugin's allowlist (`crate::outbound`).

use super::HostState;
use crate::bindings::collector::sandkit::plugin::http_client;
use wasmtime::Result;

impl http_client::Host for HostState {
    async fn fetch(
        &mut self,
        req: http_client::Request,
    ) -> Result<std::result::Result<http_client::Response, http_client::HttpError>> {
        let grant = self.http.clone();
        let max = grant.as_ref().map_or(0, |g| g.max_requests);
        if grant.is_some() && self.http_sent + self.http_refused >= u64::from(max) {
            return Ok(Err(http_client::HttpError::Refused(format!(
                "more than {max} requests in one call ([sandbox] http_max_requests)"
            ))));
        }
        let url = crate::outbound::url_for_log(&req.url);
        let (r, sent) = crate::outbound::fetch(grant.as_deref(), self.call_deadline, req).await;
        self.http_sent += u64::from(sent);
        if let Err(http_client::HttpError::Refused(why)) = &r {
            self.http_refused += 1;
            // One line per refused target and call (at most 8 a call): a plugin looping on a
            // refused URL cannot flood the log.
            let target = why.split(": ").next().unwrap_or("").to_string();
            if self.http_refusals_logged.len() < 8 && !self.http_refusals_logged.contains(&target) {
                let plugin = &*self.plugin;
                tracing::warn!(plugin, url = %url, "outgoing HTTP refused: {why}");
                self.http_refusals_logged.push(target);
            }
        }
        Ok(r)
    }
}
