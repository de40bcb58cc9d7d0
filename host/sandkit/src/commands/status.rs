//! `sandkit status`: what a running agent wrote of its plugins, outputs and file tasks.

use crate::ConfigArgs;
use anyhow::{Context, Result};
use std::time::Duration;

/// `sandkit status`.
pub fn status(args: &ConfigArgs, json: bool) -> Result<()> {
    let cfg = args.load(None)?;
    let path = cfg.data_dir.join("status.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {} (is the agent running with this data_dir?)",
            path.display()
        )
    })?;
    if json {
        println!("{text}");
        return Ok(());
    }
    let statuses: Vec<serde_json::Value> = serde_json::from_str(&text)?;
    println!(
        "{:<16} {:<9} {:>9} {:>8} {:>7} {:>8} {:>9}  last error",
        "plugin", "state", "interval", "calls", "crashes", "points", "mem KiB"
    );
    for s in statuses {
        let str_of = |k: &str| {
            s.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let num = |k: &str| s.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let interval = s
            .get("interval_ms")
            .and_then(serde_json::Value::as_u64)
            .map(|m| sandkit_conf::format_duration(Duration::from_millis(m)))
            .unwrap_or_default();
        // A compile in progress: of a new plugin (state `compiling`), or of a new version of
        // one that keeps running meanwhile.
        let compiling = s.get("compiling").filter(|c| !c.is_null()).map(|c| {
            let bytes = c
                .get("bytes")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            let since = c
                .get("since_unix_ms")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let secs = Duration::from_secs(now.saturating_sub(since) / 1000);
            let what = if str_of("state") == "compiling" {
                "compiling"
            } else {
                "compiling a new version"
            };
            format!(
                "{what} ({:.1} MB, for {}); ",
                bytes as f64 / 1e6,
                sandkit_conf::format_duration(secs)
            )
        });
        println!(
            "{:<16} {:<9} {:>9} {:>8} {:>7} {:>8} {:>9}  {}{}",
            str_of("name"),
            str_of("state"),
            interval,
            num("calls"),
            num("crashes"),
            num("points"),
            num("memory_peak_bytes") / 1024,
            compiling.unwrap_or_default(),
            str_of("last_error")
        );
    }
    if let Ok(text) = std::fs::read_to_string(cfg.data_dir.join("election.json")) {
        if let Ok(e) = serde_json::from_str::<serde_json::Value>(&text) {
            let s = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
            let role = if e.get("leader").and_then(serde_json::Value::as_bool) == Some(true) {
                format!(
                    "leader (term {})",
                    e.get("term")
                        .and_then(serde_json::Value::as_i64)
                        .unwrap_or(0)
                )
            } else {
                let leader = s("leader_id");
                format!(
                    "follower (leader: {})",
                    if leader.is_empty() {
                        "unknown"
                    } else {
                        &leader
                    }
                )
            };
            println!("\nelection ({}): {} is {role}", s("backend"), s("id"));
            if let Some(err) = e.get("last_error").and_then(|v| v.as_str()) {
                println!("  last error: {err}");
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string(cfg.data_dir.join("fleet.json")) {
        if let Ok(f) = serde_json::from_str::<serde_json::Value>(&text) {
            let keys = f.get("keys").and_then(|k| k.as_object());
            let refused = keys.map_or(0, |k| {
                k.values()
                    .filter(|v| v.get("applied") == Some(&serde_json::Value::Bool(false)))
                    .count()
            });
            println!(
                "fleet ({}): up to date with etcd revision {}, {} config(s), {refused} refused",
                f.get("prefix").and_then(|v| v.as_str()).unwrap_or(""),
                f.get("revision")
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or(0),
                keys.map_or(0, serde_json::Map::len)
            );
            if let Some(err) = f.get("last_error").and_then(|v| v.as_str()) {
                println!("  last error: {err}");
            }
        }
    }
    // Every other source of metrics (outputs, file tasks, ...), one table each, as the agent's
    // registry declares them: a counter added in its crate shows here without this knowing it.
    let metrics = std::fs::read_to_string(cfg.data_dir.join("metrics.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    if let Some(serde_json::Value::Object(sources)) = metrics {
        // The outputs, then the file tasks, then any other source (by name: the JSON object
        // comes back sorted).
        let mut order: Vec<&String> = sources.keys().collect();
        order.sort_by_key(|s| (s.as_str() != "outputs", s.as_str() != "files", s.as_str()));
        for source in order {
            let families = &sources[source];
            // The plugins have their table above, the election its line.
            if source == "plugins" || source == "election" {
                continue;
            }
            if let Some(t) = metrics_table(families) {
                print!("\n{source}:\n{t}");
            }
        }
    }
    Ok(())
}

/// A table of one source's families (`metrics.json`): a row per label set of its first family,
/// a column per family (its name without `sandkit_<source>_` and `_total`; samples with more
/// labels, such as a `reason`, summed into their row; a histogram as its mean in ms, `<name>_avg_ms`).
fn metrics_table(families: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    let families = families.as_array()?;
    let labels_of = |s: &Value| -> Vec<(String, String)> {
        s.get("labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let first = families.first()?.get("samples")?.as_array()?.first()?;
    let keys: Vec<String> = labels_of(first).into_iter().map(|(k, _)| k).collect();
    let name_of = |f: &Value| {
        f.get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    // The common prefix of the names, up to an underscore (`sandkit_files_`).
    let names: Vec<String> = families.iter().map(name_of).collect();
    let prefix_len = names.iter().skip(1).fold(names[0].len(), |n, other| {
        names[0]
            .bytes()
            .zip(other.bytes())
            .take(n)
            .take_while(|(a, b)| a == b)
            .count()
    });
    let prefix_len = names[0][..prefix_len].rfind('_').map_or(0, |i| i + 1);
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    let mut cells: Vec<Vec<Option<f64>>> = Vec::new();
    for (f, name) in families.iter().zip(&names) {
        let histogram = f.get("kind").and_then(Value::as_str) == Some("histogram");
        let short = name[prefix_len.min(name.len())..].trim_end_matches("_total");
        let column = if histogram {
            format!("{}_avg_ms", short.trim_end_matches("_seconds"))
        } else {
            short.to_string()
        };
        let c = columns.len();
        columns.push(column);
        cells.iter_mut().for_each(|r| r.push(None));
        for s in f
            .get("samples")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let labels = labels_of(s);
            let Some(row) = keys
                .iter()
                .map(|k| labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
                .collect::<Option<Vec<String>>>()
            else {
                continue;
            };
            let v = match s.get("value") {
                Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
                Some(h @ Value::Object(_)) => {
                    let num = |k: &str| h.get(k).and_then(Value::as_f64).unwrap_or(0.0);
                    num("sum_us") / num("count").max(1.0) / 1000.0
                }
                _ => continue,
            };
            let r = match rows.iter().position(|x| *x == row) {
                Some(r) => r,
                None => {
                    rows.push(row);
                    cells.push(vec![None; columns.len()]);
                    rows.len() - 1
                }
            };
            let cell = &mut cells[r][c];
            *cell = Some(cell.unwrap_or(0.0) + v);
        }
    }
    if rows.is_empty() {
        return None;
    }
    let show = |v: Option<f64>| match v {
        None => "-".to_string(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
    };
    let header: Vec<String> = keys.iter().cloned().chain(columns).collect();
    let body: Vec<Vec<String>> = rows
        .into_iter()
        .zip(cells)
        .map(|(r, c)| r.into_iter().chain(c.into_iter().map(show)).collect())
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            body.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in std::iter::once(&header).chain(&body) {
        for (i, cell) in line.iter().enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            // Labels left-aligned, numbers right-aligned.
            if i < keys.len() {
                out.push_str(&format!("{cell:<w$}", w = widths[i]));
            } else {
                out.push_str(&format!("{cell:>w$}", w = widths[i]));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::metrics_table;

    #[test]
    fn a_source_becomes_a_table_of_its_families() {
        let families = serde_json::json!([
            {"name": "sandkit_files_open", "kind": "gauge", "samples": [
                {"labels": {"task": "app"}, "value": 2.0},
                {"labels": {"task": "nginx"}, "value": 1.0}]},
            {"name": "sandkit_files_lines_total", "kind": "counter", "samples": [
                {"labels": {"task": "nginx"}, "value": 1200.0}]},
            {"name": "sandkit_files_dropped_total", "kind": "counter", "samples": [
                {"labels": {"task": "app", "reason": "a"}, "value": 1.0},
                {"labels": {"task": "app", "reason": "b"}, "value": 2.0}]},
            {"name": "sandkit_files_wait_seconds", "kind": "histogram", "samples": [
                {"labels": {"task": "app"}, "value": {"buckets": [1, 1], "sum_us": 3000, "count": 2}}]}
        ]);
        assert_eq!(
            metrics_table(&families).unwrap(),
            "task   open  lines  dropped  wait_avg_ms\n\
             app       2      -        3          1.5\n\
             nginx     1   1200        -            -\n"
        );
        assert_eq!(metrics_table(&serde_json::json!([])), None);
    }
}
