//! sandkit.toml: parsing (unknown keys rejected, with file and position) and validation into the
//! settings each part of the agent uses.

use anyhow::{bail, Context, Result};
use sandkit_conf::toml_message;
use sandkit_files::{FileTask, RawFileTask};
use sandkit_runtime::{RawRuntimeConfig, RuntimeConfig};
use sandkit_server::{HttpConfig, RawHttpConfig};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The embedded default config.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// Directory of plugin components.
    #[serde(default = "default_plugins_dir")]
    plugins_dir: PathBuf,
    /// Directory of per-plugin config files.
    #[serde(default = "default_conf_dir")]
    conf_dir: PathBuf,
    /// Directory of the agent's state.
    #[serde(default = "default_data_dir")]
    data_dir: PathBuf,
    /// Tags added to every point that does not have them; `host` defaults to the host name.
    #[serde(default)]
    global_tags: BTreeMap<String, String>,
    /// One output (the single-output form).
    output: Option<toml::Spanned<outputs::RawOutput>>,
    /// Several outputs, each with a name and a route.
    #[serde(default)]
    outputs: Vec<toml::Spanned<outputs::RawOutput>>,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    runtime: RawRuntimeConfig,
    /// Log files to collect: one `[[files]]` table per task.
    #[serde(default)]
    files: Vec<RawFileTask>,
    /// The HTTP server: inbound writes, /metrics, status.
    #[serde(default)]
    http: RawHttpConfig,
    /// Leader election among agents (plugins with `election = true` run on the leader only).
    #[serde(default)]
    election: sandkit_election::RawElectionConfig,
    /// Plugin configs kept in etcd (applied like conf.d files; a local file wins).
    #[serde(default)]
    fleet: sandkit_election::RawFleetConfig,
}

fn default_plugins_dir() -> PathBuf {
    "plugins".into()
}
fn default_conf_dir() -> PathBuf {
    "conf.d".into()
}
fn default_data_dir() -> PathBuf {
    "data".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    /// error, warn, info, debug or trace; SANDKIT_LOG overrides it.
    #[serde(default = "default_level")]
    level: String,
}

fn default_level() -> String {
    "info".into()
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            level: default_level(),
        }
    }
}

/// The names a route's `sources` may take: the plugins in the plugins directory and those with
/// a config in conf.d, the file tasks' sources and names, and `http` (the server's writes).
fn known_sources(runtime: &RuntimeConfig, files: &[FileTask]) -> Vec<String> {
    let stems = |dir: &Path, ext: &str| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == ext))
                    .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut names = stems(&runtime.plugins_dir, "wasm");
    names.extend(stems(&runtime.conf_dir, "toml"));
    for f in files {
        names.push(f.source.clone());
        names.push(f.name.clone());
    }
    names.push("http".into());
    names.push(sandkit_server::otlp::SOURCE.into());
    names.sort();
    names.dedup();
    names
}

/// A conf.d file of file tasks: `[[files]]` tables and nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilesConf {
    files: Vec<RawFileTask>,
}

/// Whether a conf.d file holds file tasks (a top-level `files` key) rather than a plugin's
/// config.
pub fn is_files_conf(text: &str) -> bool {
    text.parse::<toml::Table>()
        .is_ok_and(|t| t.contains_key("files"))
}

/// The `[[files]]` tasks of `conf_dir/*.toml` files that hold them, in file name order.
fn files_in_conf_dir(conf_dir: &Path) -> Result<Vec<(PathBuf, Vec<RawFileTask>)>> {
    let Ok(rd) = std::fs::read_dir(conf_dir) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue; // `config check` and the plugin loader report unreadable files
        };
        if !is_files_conf(&text) {
            continue;
        }
        let conf: FilesConf = toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "config error in {}: {} (a conf.d file with [[files]] holds only [[files]] tables)",
                p.display(),
                toml_message(&text, &e)
            )
        })?;
        out.push((p, conf.files));
    }
    Ok(out)
}

/// The validated agent config.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The file it came from, or `<embedded default>`.
    pub source: PathBuf,
    pub data_dir: PathBuf,
    pub global_tags: Vec<(String, String)>,
    /// `[output]`, or the `[[outputs]]` in config order.
    pub outputs: Vec<OutputConfig>,
    pub log_level: String,
    pub runtime: RuntimeConfig,
    pub files: Vec<FileTask>,
    /// `None` when `[http] enabled = false`.
    pub http: Option<HttpConfig>,
    pub election: sandkit_election::ElectionConfig,
    /// `None` without `[fleet]`.
    pub fleet: Option<sandkit_election::fleet::FleetSettings>,
}

/// Overrides from the command line.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub plugins_dir: Option<PathBuf>,
    pub conf_dir: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub output_file: Option<PathBuf>,
}

impl AgentConfig {
    /// Load `path`, or the embedded default when `None`.
    ///
    /// # Errors
    /// Unreadable file, TOML syntax, unknown keys and bad values, naming the file and the key.
    pub fn load(path: Option<&Path>, ov: &Overrides) -> Result<AgentConfig> {
        let (text, source, base) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read config {}", p.display()))?;
                let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
                (text, p.to_path_buf(), base)
            }
            None => (
                DEFAULT_CONFIG.to_string(),
                PathBuf::from("<embedded default>"),
                PathBuf::new(),
            ),
        };
        Self::parse(&text, &source, &base, ov)
    }

    /// Parse config text; relative paths resolve against `base`.
    ///
    /// # Errors
    /// As for [`AgentConfig::load`].
    pub fn parse(text: &str, source: &Path, base: &Path, ov: &Overrides) -> Result<AgentConfig> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "config error in {}: {}",
                source.display(),
                toml_message(text, &e)
            )
        })?;
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let plugins_dir = ov
            .plugins_dir
            .clone()
            .unwrap_or_else(|| resolve(&raw.plugins_dir));
        let conf_dir = ov
            .conf_dir
            .clone()
            .unwrap_or_else(|| resolve(&raw.conf_dir));
        let data_dir = ov
            .data_dir
            .clone()
            .unwrap_or_else(|| resolve(&raw.data_dir));
        if !["error", "warn", "info", "debug", "trace"].contains(&raw.log.level.as_str()) {
            bail!(
                "config error in {}: key \"log.level\": {:?} is not one of error, warn, info, debug, trace",
                source.display(),
                raw.log.level
            );
        }
        let mut global_tags: BTreeMap<String, String> = raw.global_tags;
        global_tags
            .entry("host".into())
            .or_insert_with(sandkit_runtime::hostname);
        let runtime =
            raw.runtime
                .validate(source, data_dir.join("cache"), plugins_dir, conf_dir)?;
        let global_tags: Vec<(String, String)> = global_tags.into_iter().collect();
        let mut files = Vec::new();
        let mut sources = vec![(source.to_path_buf(), raw.files.clone())];
        sources.extend(files_in_conf_dir(&runtime.conf_dir)?);
        for (file, tasks) in &sources {
            for (i, t) in tasks.iter().enumerate() {
                let task = t.validate(&global_tags).map_err(|e| {
                    anyhow::anyhow!(
                        "config error in {}: [[files]] #{} (source {:?}): {e}",
                        file.display(),
                        i + 1,
                        t.source
                    )
                })?;
                if files.iter().any(|f: &FileTask| f.name == task.name) {
                    bail!(
                        "config error in {}: [[files]] #{}: a task named {:?} exists already; set `name`",
                        file.display(),
                        i + 1,
                        task.name
                    );
                }
                files.push(task);
            }
        }
        let http = raw
            .http
            .validate()
            .map_err(|e| anyhow::anyhow!("config error in {}: {e}", source.display()))?;
        let host = global_tags
            .iter()
            .find(|(k, _)| k == "host")
            .map_or_else(sandkit_runtime::hostname, |(_, v)| v.clone());
        let election = raw
            .election
            .validate(&host)
            .map_err(|e| anyhow::anyhow!("config error in {}: {e}", source.display()))?;
        let fleet = raw
            .fleet
            .validate(&election, data_dir.join("fleet.d"))
            .map_err(|e| anyhow::anyhow!("config error in {}: {e}", source.display()))?;
        let sources = known_sources(&runtime, &files);
        let outputs = outputs::outputs(
            raw.output.as_ref(),
            &raw.outputs,
            &outputs::Context {
                text,
                source,
                resolve: &resolve,
                data_dir: &data_dir,
                output_file: ov.output_file.as_deref(),
                sources: &sources,
                global_tags: &global_tags,
            },
        )?;
        Ok(AgentConfig {
            http,
            election,
            fleet,
            source: source.to_path_buf(),
            data_dir,
            global_tags,
            outputs,
            log_level: raw.log.level,
            runtime,
            files,
        })
    }
}

mod outputs;
#[cfg(test)]
mod tests;

pub use outputs::{OutputConfig, OutputKind};

/// The keys serde's unknown-field error lists for a probe key in `text`: what the config types
/// accept in the table the probe is in. The config reference (`sandkit doc config`) is checked
/// against these, so that it cannot leave a key out or name one the agent refuses.
///
/// # Errors
/// When `text` does not fail on the probe key `__probe__` with such a list.
pub fn accepted_keys<T: serde::de::DeserializeOwned>(text: &str) -> Result<Vec<String>> {
    let Err(e) = toml::from_str::<T>(text) else {
        bail!("the probe {text:?} parsed: no unknown-field error to read the keys from");
    };
    let msg = e.message().to_string();
    let Some((before, expected)) = msg.split_once("expected") else {
        bail!("the probe {text:?} failed otherwise: {msg}");
    };
    if !before.contains("`__probe__`") {
        bail!("the probe {text:?} failed otherwise: {msg}");
    }
    Ok(expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect())
}

/// [`accepted_keys`] of sandkit.toml.
///
/// # Errors
/// As for [`accepted_keys`].
pub fn agent_keys(text: &str) -> Result<Vec<String>> {
    accepted_keys::<RawConfig>(text)
}
