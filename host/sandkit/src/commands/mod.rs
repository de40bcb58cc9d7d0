//! The short-lived commands: `config check`, `plugin test`, `plugin list`, `pipeline test`,
//! `status`.

mod pipeline;
mod plugin;
mod status;

pub use pipeline::pipeline_test;
pub use plugin::{plugin_list, plugin_test};
pub use status::status;

use crate::ConfigArgs;
use anyhow::{bail, Context, Result};
use sandkit_runtime::{PluginConfig, RawRuntimeConfig, Runtime};
use std::path::{Path, PathBuf};

/// `sandkit config check`.
pub fn config_check(args: &ConfigArgs) -> Result<()> {
    let cfg = args.load(None)?;
    let rc = &cfg.runtime;
    let mut errors = 0;
    let mut checked = 0;
    // URLs, the CA file and the proxy are checked when the output starts; check them now.
    for o in &cfg.outputs {
        let checked = match &o.kind {
            crate::config::OutputKind::Http(h) => h.check(),
            crate::config::OutputKind::Nats(n) => {
                sandkit_io::NatsOutput::new((**n).clone(), &o.name).map(drop)
            }
            _ => Ok(()),
        };
        if let Err(e) = checked {
            eprintln!("error: {}: output {}: {e}", cfg.source.display(), o.name);
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

/// The plugin name of a component file (its stem), or an error saying how it must be named.
pub(crate) fn name_of(file: &Path) -> Result<String> {
    sandkit_runtime::plugin_name(file).with_context(|| {
        format!(
            "{}: a plugin file must be named <name>.wasm",
            file.display()
        )
    })
}

/// A component file's plugin name and bytes.
pub(crate) fn read_component(file: &Path) -> Result<(String, Vec<u8>)> {
    let name = name_of(file)?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok((name, bytes))
}

/// A runtime for one-off commands, caching compiled components under the user's cache dir.
pub(crate) fn oneoff_runtime() -> Result<Runtime> {
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
