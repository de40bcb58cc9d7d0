//! `sandkit pipeline test`: a pipeline over sample lines, each line and its records shown.

use super::{oneoff_runtime, plugin_config};
use anyhow::{bail, Context, Result};
use sandkit_runtime::conformance::{Declared, Mismatch, Seen};
use sandkit_runtime::{load_plugin_file, PipelineRegistry, PluginPre};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
/// why it is not a valid point; how it differs from the pipeline's description goes to
/// `mismatches`.
fn render_record(
    source: &str,
    line: &str,
    h: &sandkit_io::records::Header,
    items: &[sandkit_io::records::Item<'_>],
    declared: &Declared,
    mismatches: &mut Vec<Mismatch>,
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
            let before = mismatches.len();
            declared.check(&p, mismatches);
            // The host adds `message` (the raw line) when the pipeline asks it to.
            if parts.add_message {
                let mut i = 0;
                mismatches.retain(|m| {
                    i += 1;
                    i <= before || !matches!(m, Mismatch::Field { field, .. } if field == "message")
                });
            }
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
    let name = super::name_of(&file)?;
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
    let declared = Declared::for_pipeline(&d);
    let mut seen = Seen::default();
    let mut mismatches = Vec::new();
    let mut undeclared = 0usize;
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
                            mismatches.clear();
                            let text = render_record(
                                &source,
                                &lines[i],
                                &h,
                                items,
                                &declared,
                                &mut mismatches,
                            );
                            if !mismatches.is_empty() {
                                undeclared += 1;
                                super::plugin::warn_mismatches(&name, &mismatches, &mut seen);
                            }
                            v.push((i, text));
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
    if undeclared > 0 {
        eprintln!("# {undeclared} records unlike the plugin's describe (warnings above)");
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
