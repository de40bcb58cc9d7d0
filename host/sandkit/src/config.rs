//! sandkit.toml: parsing (unknown keys rejected, with file and position) and validation into the
//! settings each part of the agent uses.

use anyhow::{bail, Context, Result};
use sandkit_runtime::{config::toml_message, RawRuntimeConfig, RuntimeConfig};
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
    #[serde(default)]
    output: RawOutput,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    runtime: RawRuntimeConfig,
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
struct RawOutput {
    /// "stdout" or "file".
    #[serde(default = "default_output_kind")]
    kind: String,
    /// File to append line protocol to, for kind = "file".
    path: Option<PathBuf>,
    /// Batches that may wait for the output before producers are held back.
    #[serde(default = "default_queue")]
    queue_batches: usize,
}

fn default_output_kind() -> String {
    "stdout".into()
}
fn default_queue() -> usize {
    64
}

impl Default for RawOutput {
    fn default() -> Self {
        RawOutput {
            kind: default_output_kind(),
            path: None,
            queue_batches: default_queue(),
        }
    }
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

/// Where points go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputKind {
    Stdout,
    File(PathBuf),
}

/// The validated agent config.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The file it came from, or `<embedded default>`.
    pub source: PathBuf,
    pub data_dir: PathBuf,
    pub global_tags: Vec<(String, String)>,
    pub output: OutputKind,
    pub queue_batches: usize,
    pub log_level: String,
    pub runtime: RuntimeConfig,
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
        let output = match (ov.output_file.clone(), raw.output.kind.as_str()) {
            (Some(p), _) => OutputKind::File(p),
            (None, "stdout") => OutputKind::Stdout,
            (None, "file") => match &raw.output.path {
                Some(p) => OutputKind::File(resolve(p)),
                None => bail!(
                    "config error in {}: key \"output.path\" is required when output.kind = \"file\"",
                    source.display()
                ),
            },
            (None, other) => bail!(
                "config error in {}: key \"output.kind\": {other:?} is not an output; use \"stdout\" or \"file\"",
                source.display()
            ),
        };
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
            .or_insert_with(sandkit_runtime_hostname);
        let runtime =
            raw.runtime
                .validate(source, data_dir.join("cache"), plugins_dir, conf_dir)?;
        Ok(AgentConfig {
            source: source.to_path_buf(),
            data_dir,
            global_tags: global_tags.into_iter().collect(),
            output,
            queue_batches: raw.output.queue_batches.max(1),
            log_level: raw.log.level,
            runtime,
        })
    }
}

fn sandkit_runtime_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let c = AgentConfig::load(None, &Overrides::default()).unwrap();
        assert_eq!(c.output, OutputKind::Stdout);
        assert_eq!(c.runtime.max_crashes, 6);
        assert!(c.global_tags.iter().any(|(k, _)| k == "host"));
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let e = AgentConfig::parse(
            "plugins_dir = \"p\"\n[runtime]\nmax_crash = 3\n",
            Path::new("/etc/sandkit/sandkit.toml"),
            Path::new("/etc/sandkit"),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("/etc/sandkit/sandkit.toml"), "{e}");
        assert!(e.contains("max_crash"), "{e}");
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn relative_paths_resolve_against_the_config_dir() {
        let c = AgentConfig::parse(
            "[output]\nkind = \"file\"\npath = \"out.lp\"\n",
            Path::new("/etc/sk/sandkit.toml"),
            Path::new("/etc/sk"),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.output, OutputKind::File("/etc/sk/out.lp".into()));
        assert_eq!(c.runtime.plugins_dir, PathBuf::from("/etc/sk/plugins"));
    }

    #[test]
    fn bad_values_are_refused() {
        let p = Path::new("s.toml");
        let ov = Overrides::default();
        assert!(AgentConfig::parse("[output]\nkind = \"kafka\"", p, Path::new(""), &ov).is_err());
        assert!(AgentConfig::parse("[output]\nkind = \"file\"", p, Path::new(""), &ov).is_err());
        assert!(AgentConfig::parse("[runtime]\njitter = 2.0", p, Path::new(""), &ov).is_err());
        assert!(AgentConfig::parse("[log]\nlevel = \"loud\"", p, Path::new(""), &ov).is_err());
    }
}
