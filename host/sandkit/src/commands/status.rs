//! `sandkit status`: what a running agent wrote of its plugins, outputs and file tasks.

use super::read_json_list;
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
    let outputs: Vec<serde_json::Value> = read_json_list(&cfg.data_dir.join("outputs.json"));
    if !outputs.is_empty() {
        println!(
            "\n{:<40} {:<14} {:>10} {:>8} {:>10} {:>12} {:>8}",
            "output url", "category", "sent", "retries", "dropped", "buffer KiB", "avg ms"
        );
    }
    for o in outputs {
        let num = |k: &str| o.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let dropped =
            num("dropped_rejected") + num("dropped_unreachable") + num("dropped_overflow");
        let ok_requests = num("requests").saturating_sub(num("retries")).max(1);
        println!(
            "{:<40} {:<14} {:>10} {:>8} {:>10} {:>12} {:>8.1}",
            o.get("url").and_then(|v| v.as_str()).unwrap_or_default(),
            o.get("category")
                .and_then(|v| v.as_str())
                .unwrap_or_default(),
            num("points_sent"),
            num("retries"),
            dropped,
            num("buffer_bytes") / 1024,
            num("latency_us_total") as f64 / ok_requests as f64 / 1000.0
        );
    }
    let files: Vec<serde_json::Value> = read_json_list(&cfg.data_dir.join("files.json"));
    if !files.is_empty() {
        println!(
            "\n{:<20} {:>6} {:>12} {:>10} {:>10} {:>9} {:>9}",
            "file task", "open", "lines", "MiB", "truncated", "restarts", "rotations"
        );
    }
    for f in files {
        let num = |k: &str| f.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        println!(
            "{:<20} {:>6} {:>12} {:>10} {:>10} {:>9} {:>9}",
            f.get("task").and_then(|v| v.as_str()).unwrap_or_default(),
            num("files_open"),
            num("lines"),
            num("bytes") >> 20,
            num("truncated_lines"),
            num("restarts"),
            num("rotations")
        );
    }
    Ok(())
}
