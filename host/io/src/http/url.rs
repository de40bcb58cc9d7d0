//! Destination URLs: parsing, redacting for logs, the request URL of a category, and the
//! buffer directory name of each.

use super::config::Endpoint;
use super::HttpOutput;
use crate::Category;

/// One destination URL: how to build its request for a category.
#[derive(Debug)]
pub(super) struct Target {
    /// URL up to the category (DataWay) or the full path (InfluxDB), without query.
    pub(super) base: String,
    /// The query string, with secrets; never logged.
    pub(super) query: String,
    pub(super) header: Option<(&'static str, String)>,
    /// Directory name of its buffer: readable and stable, without secrets.
    pub(super) id: String,
}

impl Target {
    pub(super) fn url(&self, kind: &Endpoint, cat: Category) -> (String, String) {
        let shown = match kind {
            Endpoint::DataWay { .. } => format!("{}/v1/write/{}", self.base, cat.as_str()),
            Endpoint::Otlp { .. } => match cat {
                Category::Logging => format!("{}/v1/logs", self.base),
                _ => format!("{}/v1/metrics", self.base),
            },
            _ => self.base.clone(),
        };
        if self.query.is_empty() {
            return (shown.clone(), shown);
        }
        (format!("{shown}?{}", self.query), shown)
    }
}

/// `http://user:pass@host:port/path?query` without the credentials and the query, for logs.
pub(super) fn redact(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or(url);
    let (scheme, rest) = no_query.split_once("://").unwrap_or(("", no_query));
    let (auth, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    if scheme.is_empty() {
        format!("{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    }
}

pub(super) fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Split `http(s)://host:port/path?a=1&b=2` into `http(s)://host:port/path` (no trailing slash)
/// and its query parameters as written. Credentials in the URL are refused: they would end up
/// in logs and directory names.
pub(super) fn split_url(url: &str) -> Result<(String, Vec<String>), String> {
    let shown = redact(url);
    let bad = || format!("{shown:?} is not an http:// or https:// URL");
    let uri: hyper::Uri = url.parse().map_err(|_| bad())?;
    let scheme = uri.scheme_str().filter(|s| *s == "http" || *s == "https");
    let (Some(scheme), Some(auth)) = (scheme, uri.authority()) else {
        return Err(bad());
    };
    if auth.as_str().contains('@') {
        return Err(format!(
            "{shown:?}: credentials in the URL are not supported (they would be logged); use the token setting"
        ));
    }
    let base = format!("{scheme}://{auth}{}", uri.path().trim_end_matches('/'));
    let params = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    Ok((base, params))
}

pub(super) fn target_id(output: &str, base: &str, params: &str) -> String {
    let host: String = base
        .split("://")
        .nth(1)
        .unwrap_or(base)
        .split('/')
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{output}-{host}-{:08x}",
        crate::fnv1a(format!("{base}?{params}").as_bytes()) as u32
    )
}

impl HttpOutput {
    pub(super) fn targets(name: &str, endpoint: &Endpoint) -> Result<Vec<Target>, String> {
        let targets = match endpoint {
            Endpoint::DataWay { urls, token } => urls
                .iter()
                .map(|u| {
                    // DataKit users often write the token into the URL: `https://dw?token=tkn_x`.
                    // It is taken from there (as written) or from the config (encoded); other
                    // query parameters are passed on as they are, and never logged.
                    let (base, params) = split_url(u)?;
                    let mut query: Vec<String> = params
                        .iter()
                        .filter(|p| !p.starts_with("token="))
                        .cloned()
                        .collect();
                    match params.iter().find(|p| p.starts_with("token=")) {
                        Some(t) => query.push(t.clone()),
                        None => query.push(format!("token={}", encode_query(token))),
                    }
                    let query = query.join("&");
                    Ok(Target {
                        id: target_id(name, &base, &query),
                        base,
                        query,
                        header: None,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?,
            Endpoint::InfluxV1 { url, db } => {
                let (base, params) = split_url(url)?;
                if !params.is_empty() {
                    return Err(format!(
                        "{:?}: the URL takes no query here; set db in the config",
                        redact(url)
                    ));
                }
                let base = format!("{base}/write");
                let query = format!("db={}&precision=ns", encode_query(db));
                vec![Target {
                    id: target_id(name, &base, &query),
                    base,
                    query,
                    header: None,
                }]
            }
            Endpoint::InfluxV2 {
                url,
                org,
                bucket,
                token,
            } => {
                let (base, params) = split_url(url)?;
                if !params.is_empty() {
                    return Err(format!("{:?}: the URL takes no query here; set org, bucket and token in the config", redact(url)));
                }
                let base = format!("{base}/api/v2/write");
                let query = format!(
                    "org={}&bucket={}&precision=ns",
                    encode_query(org),
                    encode_query(bucket)
                );
                vec![Target {
                    // The token is part of the destination: another token, another queue.
                    id: target_id(name, &base, &format!("{query}&{token}")),
                    base,
                    query,
                    header: Some(("authorization", format!("Token {token}"))),
                }]
            }
            Endpoint::RemoteWrite { url, token, .. } | Endpoint::Otlp { url, token, .. } => {
                // The URL as given, its query passed on (VictoriaMetrics' `extra_label`...).
                let (base, params) = split_url(url)?;
                let query = params.join("&");
                let token = token.as_deref().filter(|t| !t.is_empty());
                vec![Target {
                    id: target_id(name, &base, &format!("{query}&{}", token.unwrap_or(""))),
                    base,
                    query,
                    header: token.map(|t| ("authorization", format!("Bearer {t}"))),
                }]
            }
        };
        for (i, t) in targets.iter().enumerate() {
            if targets[..i].iter().any(|o| o.id == t.id) {
                return Err(format!("{:?} is listed twice with the same token", t.base));
            }
        }
        Ok(targets)
    }
}
