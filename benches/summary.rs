//! The medians criterion wrote in this run, each beside the baseline measured in the same run,
//! printed as the table docs/performance.md reports.

use std::path::PathBuf;
use std::time::SystemTime;

/// Where criterion keeps its results: `$CRITERION_HOME`, else `<target dir>/criterion` (criterion's
/// own rule; the target dir is `$CARGO_TARGET_DIR` or the one holding this bench binary).
pub fn criterion_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(PathBuf::from(home));
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(target).join("criterion"));
    }
    // <target>/release/deps/runtime-<hash>
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("criterion"))
}

/// The median time per iteration of bench `id` ("group/bench"), in ns, if it ran since `since`.
pub fn median_ns(id: &str, since: SystemTime) -> Option<f64> {
    let file = criterion_dir()?.join(id).join("new/estimates.json");
    let modified = std::fs::metadata(&file).and_then(|m| m.modified()).ok()?;
    if modified < since {
        return None;
    }
    let text = std::fs::read_to_string(&file).ok()?;
    // {"mean":{..},"median":{"confidence_interval":{..},"point_estimate":N,"standard_error":..},..}
    let rest = &text[text.find("\"median\"")?..];
    let rest = &rest[rest.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = rest.find([',', '}'])?;
    rest[..end].trim().parse().ok()
}

/// A duration in ns with a readable unit.
pub fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.2} ns")
    }
}

/// A ratio with about three significant digits.
pub fn format_ratio(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else if r >= 1.0 {
        format!("{r:.2}")
    } else {
        format!("{r:.5}")
    }
}

/// Print one line per `(bench, baseline)`: both medians and bench / baseline.
pub fn print(rows: &[(&str, Option<&str>)], since: SystemTime) {
    let show = |id: &str| median_ns(id, since).map_or_else(|| "not run".to_string(), format_ns);
    println!();
    println!("Medians of this run (bench / baseline = ratio):");
    println!(
        "{:<36} {:>11}  {:<36} {:>11}  {:>9}",
        "bench", "median", "baseline", "median", "ratio"
    );
    for &(bench, baseline) in rows {
        let ratio = match (
            median_ns(bench, since),
            baseline.and_then(|b| median_ns(b, since)),
        ) {
            (Some(a), Some(b)) if b > 0.0 => format_ratio(a / b),
            _ => "-".to_string(),
        };
        println!(
            "{:<36} {:>11}  {:<36} {:>11}  {:>9}",
            bench,
            show(bench),
            baseline.unwrap_or("-"),
            baseline.map_or_else(|| "-".to_string(), show),
            ratio
        );
    }
}
