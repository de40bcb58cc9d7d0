//! The keys of a plugin's default config (the `conf.toml` a component carries), read from its
//! text as DataKit's sample configs are written: a key set in the file is set by default, a key
//! in a comment (`# key = value`) is one that may be set; the comment after a key (and the
//! indented comment lines under it), or else the comment lines above it, describe it.

/// One key of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfKey {
    /// Dotted: `interval`, `sandbox.http`, `config.urls`.
    pub key: String,
    /// The value as written (TOML).
    pub value: String,
    /// Set in the file (true) or only shown in a comment (false).
    pub set: bool,
    pub description: String,
}

/// Where a `#` outside strings starts on `line`, if anywhere.
fn comment_start(line: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return Some(i),
            None => {}
        }
    }
    None
}

/// `[table]` or `[[table]]` (without a comment), as its dotted name.
fn table_header(text: &str) -> Option<String> {
    let t = text.trim();
    let inner = t
        .strip_prefix("[[")
        .and_then(|r| r.strip_suffix("]]"))
        .or_else(|| t.strip_prefix('[').and_then(|r| r.strip_suffix(']')))?;
    let name: String = inner.trim().to_string();
    (!name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)))
    .then_some(name)
}

/// `key = value` as TOML, if `text` is exactly one such pair: its key and the value as written.
fn key_value(text: &str) -> Option<(String, String)> {
    let table: toml::Table = text.parse().ok()?;
    if table.len() != 1 {
        return None;
    }
    let (k, v) = table.into_iter().next()?;
    let (written, value) = text.split_once('=')?;
    let value = value.trim().to_string();
    // A dotted key (`a.b = 1`) parses as a nested table: keep it as written.
    if v.is_table() && !value.starts_with('{') {
        let dotted: String = written
            .split('.')
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(".");
        return Some((dotted, value));
    }
    Some((k, value))
}

/// The file's own description (the comment lines before its first key or table) and every key,
/// in order.
pub fn keys(text: &str) -> (String, Vec<ConfKey>) {
    let mut intro: Option<String> = None;
    let mut out: Vec<ConfKey> = Vec::new();
    let mut table = String::new();
    // A table shown in a comment (`# [config.tags]`): the commented keys under it are its,
    // until the next table; the keys set in the file stay in `table`.
    let mut commented_table: Option<String> = None;
    // Comment lines since the last key or table: the description of the next key without one.
    let mut above: Vec<String> = Vec::new();
    // The key the previous line described, while indented comment lines may continue it.
    let mut open: Option<usize> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            if intro.is_none() && !above.is_empty() {
                // The file's first block of comments describes the file.
                intro = Some(above.join(" "));
            }
            above.clear();
            open = None;
            continue;
        }
        let (code, comment) = match comment_start(line) {
            Some(i) => (line[..i].trim(), line[i + 1..].trim()),
            None => (trimmed, ""),
        };
        let header = code.is_empty() && {
            let inner = comment.trim_start_matches('#').trim();
            let inner = comment_start(inner).map_or(inner, |i| inner[..i].trim());
            table_header(inner).is_some() || key_value(inner).is_some()
        };
        if intro.is_none() && (!code.is_empty() || header) && open.is_none() {
            // The first key or table: what came before describes the file.
            intro = Some(above.join(" "));
            above.clear();
        }
        if code.is_empty() {
            // A comment line: a continuation (indented, or `#   # more` under a commented
            // key), a commented table or key, or prose.
            let continues = line.starts_with(char::is_whitespace) || comment.starts_with('#');
            if let (Some(i), true) = (open, continues) {
                let comment = comment.trim_start_matches('#').trim();
                let d = &mut out[i].description;
                if !d.is_empty() {
                    d.push(' ');
                }
                d.push_str(comment);
                continue;
            }
            open = None;
            let inner = comment.trim_start_matches('#').trim();
            let (inner_code, inner_comment) = match comment_start(inner) {
                Some(i) => (inner[..i].trim(), inner[i + 1..].trim()),
                None => (inner, ""),
            };
            if let Some(t) = table_header(inner_code) {
                commented_table = Some(t);
                above.clear();
                continue;
            }
            if let Some((k, v)) = key_value(inner_code) {
                let t = commented_table.as_deref().unwrap_or(&table);
                out.push(key_of(t, k, v, false, inner_comment, &mut above));
                open = Some(out.len() - 1);
                continue;
            }
            above.push(comment.to_string());
            continue;
        }
        if let Some(t) = table_header(code) {
            table = t;
            commented_table = None;
            above.clear();
            open = None;
            continue;
        }
        match key_value(code) {
            Some((k, v)) => {
                out.push(key_of(&table, k, v, true, comment, &mut above));
                open = Some(out.len() - 1);
            }
            None => {
                // A value over several lines: not a key of ours to show.
                above.clear();
                open = None;
            }
        }
    }
    // A key both set and shown in a comment (an example of another value) is the set one.
    let mut seen = std::collections::HashSet::new();
    let set: std::collections::HashSet<String> = out
        .iter()
        .filter(|k| k.set)
        .map(|k| k.key.clone())
        .collect();
    out.retain(|k| (k.set || !set.contains(&k.key)) && seen.insert((k.key.clone(), k.set)));
    (intro.unwrap_or_else(|| above.join(" ")), out)
}

fn key_of(
    table: &str,
    key: String,
    value: String,
    set: bool,
    comment: &str,
    above: &mut Vec<String>,
) -> ConfKey {
    let description = if comment.is_empty() {
        above.join(" ")
    } else {
        comment.to_string()
    };
    above.clear();
    ConfKey {
        key: if table.is_empty() {
            key
        } else {
            format!("{table}.{key}")
        },
        value,
        set,
        description,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_set_and_commented_with_their_descriptions() {
        let text = r#"# default config for the prom collector
interval = "10s"
[sandbox]
# the only host:port targets the plugin may reach
http = ["127.0.0.1:9100"]
# http_timeout = "10s"          # per request when the plugin asks for none
[config]                       # passed to init
urls = ["http://127.0.0.1:9100/metrics"]
time_format = "auto"           # auto (RFC 3339 or unix seconds), rfc3339,
                               # unix_us or unix_ns
note = "a # in a string"       # kept whole
# [config.tags]                # added to every point
# dc = "eu-1"
[sandbox]
statfs = true
limits.fuel = 5
"#;
        let (intro, k) = keys(text);
        assert_eq!(intro, "default config for the prom collector");
        let show: Vec<(String, String, bool, String)> = k
            .into_iter()
            .map(|k| (k.key, k.value, k.set, k.description))
            .collect();
        let row = |k: &str, v: &str, set: bool, d: &str| {
            (k.to_string(), v.to_string(), set, d.to_string())
        };
        assert_eq!(
            show,
            [
                row("interval", "\"10s\"", true, ""),
                row(
                    "sandbox.http",
                    "[\"127.0.0.1:9100\"]",
                    true,
                    "the only host:port targets the plugin may reach"
                ),
                row(
                    "sandbox.http_timeout",
                    "\"10s\"",
                    false,
                    "per request when the plugin asks for none"
                ),
                row(
                    "config.urls",
                    "[\"http://127.0.0.1:9100/metrics\"]",
                    true,
                    ""
                ),
                row(
                    "config.time_format",
                    "\"auto\"",
                    true,
                    "auto (RFC 3339 or unix seconds), rfc3339, unix_us or unix_ns"
                ),
                row("config.note", "\"a # in a string\"", true, "kept whole"),
                row("config.tags.dc", "\"eu-1\"", false, ""),
                row("sandbox.statfs", "true", true, ""),
                row("sandbox.limits.fuel", "5", true, ""),
            ]
        );
    }
}
