//! `sandkit plugin test` and `sandkit plugin list`.

use super::{oneoff_runtime, pipeline_test, plugin_config};
use crate::ConfigArgs;
use anyhow::{bail, Context, Result};
use sandkit_io::encode_points;
use sandkit_runtime::conformance::{check_points, Declared, Mismatch, Seen};
use sandkit_runtime::{
    load_plugin_file, plugin_files, plugin_name, Instance, PluginConfig, PluginDescription,
    Runtime, StateStore,
};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `sandkit plugin test <file>`.
pub async fn plugin_test(
    file: &Path,
    config: Option<&Path>,
    count: u32,
    every: Duration,
    content_type: &str,
) -> Result<()> {
    crate::init_logging("info");
    // A pipeline reads lines from stdin, as `sandkit pipeline test` does.
    let (name, bytes) = super::read_component(file)?;
    if sandkit_runtime::EngineKind::of_component(&bytes) == sandkit_runtime::EngineKind::Pipeline {
        let path = file.to_string_lossy();
        return pipeline_test(&path, config, Path::new("."), None, 1024).await;
    }
    let runtime = oneoff_runtime()?;
    let pc = plugin_config(config, runtime.config().limits)?;
    // The bytes read above (an 18 MB Python component is not read twice).
    let loaded = sandkit_runtime::load_plugin(&runtime, &name, file, &bytes, &pc).await?;
    let d = &loaded.description;
    eprintln!("# {} {}: {}", d.name, d.version, d.description);
    let declared = Declared::new(d);
    let mut seen = Seen::default();
    let mut inst = Instance::new(&loaded, &pc, Arc::new(Mutex::new(StateStore::default()))).await?;
    inst.init(&pc.config_json).await?;
    if loaded.pre.world() == "input" {
        // An input gets stdin as one request body.
        use std::io::Read;
        let mut body = Vec::new();
        std::io::stdin().read_to_end(&mut body)?;
        let r = inst.handle(content_type, &body).await?;
        report_call(
            &format!("handle of {} bytes", body.len()),
            r,
            inst.memory_peak(),
            (&name, &declared, &mut seen),
        );
        return Ok(());
    }
    for i in 0..count.max(1) {
        if i > 0 {
            tokio::time::sleep(every).await;
        }
        let r = inst.collect().await?;
        report_call(
            &format!("collect {}", i + 1),
            r,
            inst.memory_peak(),
            (&name, &declared, &mut seen),
        );
    }
    Ok(())
}

/// A warning on stderr for each mismatch not seen before.
pub(super) fn warn_mismatches(plugin: &str, mismatches: &[Mismatch], seen: &mut Seen) {
    for m in mismatches.iter().filter(|m| seen.first(m)) {
        warn_mismatch(plugin, m);
    }
}

/// The warning of one mismatch, on stderr.
fn warn_mismatch(plugin: &str, m: &Mismatch) {
    eprintln!("warning: {plugin}: {m} (not in its describe)");
}

/// The points of one call as line protocol on stdout, what it cost on stderr, and a warning
/// for each way a point differs from the plugin's description.
fn report_call(
    what: &str,
    r: sandkit_runtime::CallReport,
    memory_peak: u64,
    check: (&str, &Declared, &mut Seen),
) {
    let (plugin, declared, seen) = check;
    let (undeclared, new) = check_points(declared, &r.points, seen);
    for m in &new {
        warn_mismatch(plugin, m);
    }
    print!("{}", encode_points(&r.points));
    if undeclared > 0 {
        eprintln!("# {undeclared} points unlike the plugin's describe (warnings above)");
    }
    eprintln!(
        "# {what}: {} points, {} refused, {} fuel, {:?} wall, {:?} CPU, memory peak {} KiB",
        r.points.len(),
        r.refused,
        r.fuel_used,
        r.elapsed,
        r.cpu,
        memory_peak / 1024
    );
    if let Some(why) = r.first_refusal {
        eprintln!("# first refused point: {why}");
    }
}

fn print_description(d: &PluginDescription) {
    let f = |x: Duration| sandkit_conf::format_duration(x);
    println!("{} {}: {}", d.name, d.version, d.description);
    println!(
        "  interval {} (min {}, max {})",
        f(d.default_interval),
        f(d.min_interval),
        f(d.max_interval)
    );
    for m in &d.measurements {
        println!(
            "  measurement {} [{}]: {}",
            m.name, m.category, m.description
        );
        for (t, desc) in &m.tags {
            println!("    tag   {t}: {desc}");
        }
        for fi in &m.fields {
            let unit = if fi.unit.is_empty() {
                String::new()
            } else {
                format!(", {}", fi.unit)
            };
            println!(
                "    field {} ({}{unit}): {}",
                fi.name, fi.kind, fi.description
            );
        }
    }
}

/// `sandkit plugin list`.
pub async fn plugin_list(args: &ConfigArgs, json: bool) -> Result<()> {
    let cfg = args.load(None)?;
    crate::init_logging("warn");
    let runtime = Runtime::new(cfg.runtime.clone())?;
    let dir = &cfg.runtime.plugins_dir;
    let files = plugin_files(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    let mut out = Vec::new();
    let mut failed = 0;
    for f in files {
        let Some(name) = plugin_name(&f) else {
            continue;
        };
        let loaded = match PluginConfig::load(&cfg.runtime.conf_dir, &name, cfg.runtime.limits) {
            Ok(pc) => load_plugin_file(&runtime, &name, &f, &pc).await,
            Err(e) => Err(e),
        };
        match loaded {
            Ok(l) => {
                if !json {
                    print_description(&l.description);
                }
                out.push(serde_json::json!({"file": f, "plugin": l.description}));
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
                out.push(serde_json::json!({"file": f, "error": e.to_string()}));
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    if failed > 0 {
        bail!("{failed} plugin file(s) could not be loaded");
    }
    Ok(())
}
