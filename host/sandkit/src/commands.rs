//! The short-lived commands: `config check`, `plugin test`, `plugin list`, `pipeline test`,
//! `status`.

use crate::ConfigArgs;
use anyhow::{bail, Context, Result};
use sandkit_io::encode_points;
use sandkit_runtime::{
    load_plugin_file, plugin_files, plugin_name, Instance, PipelineRegistry, PluginConfig,
    PluginDescription, PluginPre, RawRuntimeConfig, Runtime, StateStore,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `sandkit config check`.
pub fn config_check(args: &ConfigArgs) -> Result<()> {
    let cfg = args.load(None)?;
    let rc = &cfg.runtime;
    let mut errors = 0;
    let mut checked = 0;
    // URLs, the CA file and the proxy are checked when the output starts; check them now.
    if let crate::config::OutputKind::Http(h) = &cfg.output {
        if let Err(e) = h.check() {
            eprintln!("error: {}: {e}", cfg.source.display());
            errors += 1;
        }
    }
    if let Ok(rd) = std::fs::read_dir(&rc.conf_dir) {
        let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "toml"))
        {
            checked += 1;
            let text = match std::fs::read_to_string(f) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: cannot read {}: {e}", f.display());
                    errors += 1;
                    continue;
                }
            };
            // File tasks were checked with the agent config above.
            if crate::config::is_files_conf(&text) {
                continue;
            }
            if let Err(e) = PluginConfig::parse(&text, f, rc.limits) {
                eprintln!("error: {e}");
                errors += 1;
            }
            let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            if !rc.plugins_dir.join(format!("{stem}.wasm")).exists() {
                eprintln!(
                    "warning: {} configures plugin {stem:?}, but {} has no {stem}.wasm",
                    f.display(),
                    rc.plugins_dir.display()
                );
            }
        }
    }
    if errors > 0 {
        bail!("{errors} config error(s)");
    }
    println!(
        "config ok: {} and {checked} plugin config(s) in {}",
        cfg.source.display(),
        rc.conf_dir.display()
    );
    Ok(())
}

/// A runtime for one-off commands, caching compiled components under the user's cache dir.
fn oneoff_runtime() -> Result<Runtime> {
    let cache = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/sandkit/components"))
        .unwrap_or_else(|| std::env::temp_dir().join("sandkit-components"));
    let mut rc = RawRuntimeConfig::default().validate(
        Path::new("<defaults>"),
        cache,
        PathBuf::new(),
        PathBuf::new(),
    )?;
    // Nothing else runs in a one-off command: a Python plugin compiles on every core.
    rc.compile_threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(Runtime::new(rc)?)
}

/// The plugin config in `file` (the conf.d format), or the defaults.
fn plugin_config(file: Option<&Path>, limits: sandkit_runtime::Limits) -> Result<PluginConfig> {
    Ok(match file {
        Some(c) => {
            let text = std::fs::read_to_string(c)
                .with_context(|| format!("cannot read {}", c.display()))?;
            PluginConfig::parse(&text, c, limits)?
        }
        None => PluginConfig::default_with(limits),
    })
}

/// A JSON list the agent wrote (outputs.json, files.json); empty when absent or unreadable.
fn read_json_list(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// `sandkit plugin test <file>`.
pub async fn plugin_test(
    file: &Path,
    config: Option<&Path>,
    count: u32,
    every: Duration,
    content_type: &str,
) -> Result<()> {
    crate::init_logging("info");
    let name = plugin_name(file).with_context(|| {
        format!(
            "{}: a plugin file must be named <name>.wasm",
            file.display()
        )
    })?;
    // A pipeline reads lines from stdin, as `sandkit pipeline test` does.
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
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
        );
        return Ok(());
    }
    for i in 0..count.max(1) {
        if i > 0 {
            tokio::time::sleep(every).await;
        }
        let r = inst.collect().await?;
        report_call(&format!("collect {}", i + 1), r, inst.memory_peak());
    }
    Ok(())
}

/// The points of one call as line protocol on stdout, and what it cost on stderr.
fn report_call(what: &str, r: sandkit_runtime::CallReport, memory_peak: u64) {
    print!("{}", encode_points(&r.points));
    eprintln!(
        "# {what}: {} points, {} refused, {} fuel, {:?}, memory peak {} KiB",
        r.points.len(),
        r.refused,
        r.fuel_used,
        r.elapsed,
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

/// Where `sandkit pipeline test` finds its plugin: a .wasm file, or a name in `plugins_dir`.
fn resolve_plugin(plugin: &str, plugins_dir: &Path) -> Result<PathBuf> {
    let p = PathBuf::from(plugin);
    if p.extension().is_some_and(|e| e == "wasm") || p.exists() {
        return Ok(p);
    }
    let p = plugins_dir.join(format!("{plugin}.wasm"));
    if p.exists() {
        Ok(p)
    } else {
        bail!(
            "no plugin {plugin:?}: neither a .wasm file nor {}",
            p.display()
        )
    }
}

/// One record as a line of line protocol (without a timestamp when the record has none), or
/// why it is not a valid point.
fn render_record(
    source: &str,
    line: &str,
    h: &sandkit_io::records::Header,
    items: &[sandkit_io::records::Item<'_>],
) -> String {
    use sandkit_io::records::Parts;
    use sandkit_io::{FieldValue, Point};
    let mut parts = Parts::default();
    parts.sort(h.keep_message, items);
    let measurement = parts.measurement.unwrap_or(source).to_string();
    let tags: Vec<(String, String)> = parts
        .tags
        .iter()
        .map(|&(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut fields: Vec<(String, FieldValue)> = parts
        .fields
        .iter()
        .map(|&(k, v)| (k.to_string(), v.into()))
        .collect();
    if parts.add_message {
        fields.push(("message".to_string(), FieldValue::Text(line.to_string())));
    }
    match Point::new(
        measurement,
        tags,
        fields,
        h.time.unwrap_or(0),
        sandkit_io::Category::Logging,
    ) {
        Ok(p) => {
            let mut s = String::new();
            sandkit_io::encode_point(&mut s, &p);
            let s = s.trim_end_matches('\n');
            match h.time {
                Some(_) => s.to_string(),
                None => s.strip_suffix(" 0").unwrap_or(s).to_string(),
            }
        }
        Err(e) => format!("(not a valid point: {e})"),
    }
}

/// `sandkit pipeline test <plugin> < sample.log`: every line before (`>`), its records after
/// (`<`, line protocol), and the lines the pipeline could not process (`!`, with why).
pub async fn pipeline_test(
    plugin: &str,
    config: Option<&Path>,
    plugins_dir: &Path,
    source: Option<&str>,
    batch: usize,
) -> Result<()> {
    use sandkit_io::pipeline::Part;
    use sandkit_io::records::{RecordError, RecordReader};
    use std::io::{BufRead, Write};
    crate::init_logging("warn");
    let file = resolve_plugin(plugin, plugins_dir)?;
    let name = plugin_name(&file).with_context(|| {
        format!(
            "{}: a plugin file must be named <name>.wasm",
            file.display()
        )
    })?;
    let runtime = Arc::new(oneoff_runtime()?);
    let pc = plugin_config(config, runtime.config().limits)?;
    let loaded = load_plugin_file(&runtime, &name, &file, &pc).await?;
    if !matches!(loaded.pre, PluginPre::Pipeline(_)) {
        bail!(
            "{}: {name} is a {}, not a pipeline",
            file.display(),
            loaded.pre.world()
        );
    }
    let d = loaded.description.clone();
    eprintln!("# {} {}: {}", d.name, d.version, d.description);
    let registry = PipelineRegistry::new(runtime.clone());
    let status = registry.insert_loaded(loaded, pc);
    let mut runner = registry.runner(&name, tokio::runtime::Handle::current());
    let source = source.unwrap_or(&name).to_string();
    let stdin = std::io::stdin();
    let mut lines: Vec<String> = Vec::new();
    let (mut total, mut records, mut failed) = (0usize, 0usize, 0usize);
    let start = std::time::Instant::now();
    let mut out = std::io::stdout().lock();
    let mut input = stdin.lock().lines();
    loop {
        lines.clear();
        for l in input.by_ref() {
            let l = l.context("reading stdin")?;
            lines.push(l.strip_suffix('\r').map(str::to_string).unwrap_or(l));
            if lines.len() >= batch.max(1) {
                break;
            }
        }
        if lines.is_empty() {
            break;
        }
        let mut data = String::new();
        let mut ends = Vec::with_capacity(lines.len());
        for l in &lines {
            data.push_str(l);
            ends.push(u32::try_from(data.len()).context("a batch over 4 GiB")?);
        }
        let processed = runner.process_async(&source, &data, &ends).await;
        // What each line became, in order.
        let mut after: Vec<Vec<String>> = vec![Vec::new(); lines.len()];
        for part in &processed.parts {
            match part {
                Part::Records(chunk) => {
                    let base = chunk.lines.start as usize;
                    let sub = &data[chunk.bytes.clone()];
                    let n = (chunk.lines.end - chunk.lines.start) as usize;
                    // As the agent does: the whole output is read first, and a malformed one
                    // keeps nothing, its lines going on unprocessed.
                    let decoded = (|| -> Result<Vec<(usize, String)>, RecordError> {
                        let mut reader = RecordReader::new(&chunk.output, sub, n)?;
                        let mut v = Vec::new();
                        while let Some(r) = reader.next_record() {
                            let (h, items) = r?;
                            let i = base + h.line as usize;
                            v.push((i, render_record(&source, &lines[i], &h, items)));
                        }
                        Ok(v)
                    })();
                    match decoded {
                        Ok(v) => {
                            for (i, text) in v {
                                after[i].push(format!("< {text}"));
                                records += 1;
                            }
                        }
                        Err(e) => {
                            let kind = if e.over_limit {
                                "output_limit"
                            } else {
                                "malformed"
                            };
                            for a in &mut after[base..base + n] {
                                a.push(format!(
                                    "! {kind}: {e} (the agent passes the line on unprocessed)"
                                ));
                                failed += 1;
                            }
                        }
                    }
                }
                Part::Failed(f) => {
                    for a in &mut after[f.lines.start as usize..f.lines.end as usize] {
                        a.push(format!("! {}: {}", f.kind, f.message));
                        failed += 1;
                    }
                }
            }
        }
        for (line, recs) in lines.iter().zip(&after) {
            writeln!(out, "> {line}")?;
            if recs.is_empty() {
                writeln!(out, "< (dropped: no record)")?;
            }
            for r in recs {
                writeln!(out, "{r}")?;
            }
        }
        total += lines.len();
    }
    let st = status.snapshot();
    eprintln!(
        "# {total} lines, {records} records, {failed} lines not processed, {} calls, {} crashes, {:?} wall, {} µs CPU in process calls, memory peak {} KiB, {} recycles",
        st.calls,
        st.crashes,
        start.elapsed(),
        st.cpu_us,
        st.memory_peak_bytes / 1024,
        st.recycles
    );
    Ok(())
}

/// `sandkit deadletter list|purge`: the lines fail-closed pipelines parked, one JSON object per
/// line (`key`, `task`, `pipeline`, `file`, `start`, `end`, `kind`, `error`, `line`,
/// `parked_ns`). The state store is locked by a running agent: stop it first.
pub fn deadletter(args: &ConfigArgs, task: Option<&str>, purge: bool) -> Result<()> {
    use sandkit_state::{Batch, Family, Store};
    let cfg = args.load(None)?;
    crate::init_logging("warn");
    let dir = cfg.data_dir.join("state");
    if !dir.exists() {
        bail!(
            "{} does not exist: no file task has run with this data_dir",
            dir.display()
        );
    }
    let store = Store::open(&dir)?;
    let prefix = task.map(|t| format!("{t}/")).unwrap_or_default();
    let entries: Vec<(String, serde_json::Value)> = store.scan(Family::DeadLetters, &prefix)?;
    if purge {
        let mut batch = Batch::new();
        for (k, _) in &entries {
            batch.delete(Family::DeadLetters, k);
        }
        store.write(batch)?;
        store.sync()?;
        eprintln!("purged {} parked line(s)", entries.len());
        return Ok(());
    }
    for (key, mut v) in entries {
        if let Some(o) = v.as_object_mut() {
            o.insert("key".into(), serde_json::Value::String(key));
        }
        println!("{v}");
    }
    Ok(())
}
