//! Loading a plugin file: read, hash, compile (or fetch from the cache), check the world, build
//! the `InstancePre`, and ask the plugin to describe itself.

use crate::bindings::collector::CollectorPre;
use crate::bindings::input::InputPre;
use crate::bindings::pipeline::PipelinePre;
use crate::bindings::{FieldKind, PluginInfo};
use crate::cache::{ArtifactLease, CacheOutcome, ComponentCache};
use crate::config::PluginConfig;
use crate::engine::EngineKind;
use crate::host::{HostState, StateStore};
use crate::instance::Instance;
use crate::{GuestLang, Runtime, RuntimeError};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A field a plugin declares.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldDescription {
    pub name: String,
    pub kind: &'static str,
    pub unit: String,
    pub description: String,
}

/// A measurement a plugin declares.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MeasurementDescription {
    pub name: String,
    pub category: String,
    pub description: String,
    pub tags: Vec<(String, String)>,
    pub fields: Vec<FieldDescription>,
}

/// What `describe` returned, in host types.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PluginDescription {
    pub name: String,
    pub version: String,
    pub description: String,
    #[serde(with = "humantime_ms")]
    pub default_interval: Duration,
    #[serde(with = "humantime_ms")]
    pub min_interval: Duration,
    #[serde(with = "humantime_ms")]
    pub max_interval: Duration,
    pub measurements: Vec<MeasurementDescription>,
}

mod humantime_ms {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&sandkit_conf::format_duration(*d))
    }
}

fn kind_name(k: FieldKind) -> &'static str {
    match k {
        FieldKind::Int => "int",
        FieldKind::Uint => "uint",
        FieldKind::Float => "float",
        FieldKind::Boolean => "bool",
        FieldKind::Text => "string",
    }
}

impl PluginDescription {
    fn from_wit(i: PluginInfo) -> Self {
        let min = Duration::from_millis(i.min_interval_ms.max(1));
        let max = Duration::from_millis(i.max_interval_ms).max(min);
        PluginDescription {
            name: i.name,
            version: i.version,
            description: i.description,
            default_interval: Duration::from_millis(i.default_interval_ms).clamp(min, max),
            min_interval: min,
            max_interval: max,
            measurements: i
                .measurements
                .into_iter()
                .map(|m| MeasurementDescription {
                    name: m.name,
                    category: crate::host::category(m.category).to_string(),
                    description: m.description,
                    tags: m
                        .tags
                        .into_iter()
                        .map(|t| (t.name, t.description))
                        .collect(),
                    fields: m
                        .fields
                        .into_iter()
                        .map(|f| FieldDescription {
                            name: f.name,
                            kind: kind_name(f.kind),
                            unit: f.unit,
                            description: f.description,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A plugin ready to be instantiated any number of times.
#[derive(Clone)]
pub struct LoadedPlugin {
    pub name: Arc<str>,
    pub file: PathBuf,
    pub hash: String,
    pub pre: PluginPre,
    pub description: PluginDescription,
    /// What it was written in (its default memory cap depends on it).
    pub lang: GuestLang,
    pub cache: CacheOutcome,
    /// How long Cranelift took, when it compiled (not a cache hit).
    pub compile_time: Option<Duration>,
    /// Keeps its compiled artifact in the cache (eviction spares artifacts in use).
    pub artifact: Arc<ArtifactLease>,
    /// Keeps the epoch ticking while this plugin's calls run.
    pub activity: crate::engine::EpochActivity,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.name)
            .field("file", &self.file)
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

/// The plugin name of a file: its stem (`plugins/cpu.wasm` is `cpu`).
pub fn plugin_name(file: &Path) -> Option<String> {
    if file.extension().and_then(|e| e.to_str()) != Some("wasm") {
        return None;
    }
    let stem = file.file_stem()?.to_str()?;
    if stem.is_empty() || stem.starts_with('.') {
        return None;
    }
    Some(stem.to_string())
}

/// The `InstancePre` of a plugin, by world.
#[derive(Clone)]
pub enum PluginPre {
    Collector(CollectorPre<HostState>),
    Pipeline(PipelinePre<HostState>),
    Input(InputPre<HostState>),
}

impl std::fmt::Debug for PluginPre {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PluginPre({})", self.world())
    }
}

impl PluginPre {
    /// The world's name.
    pub fn world(&self) -> &'static str {
        match self {
            PluginPre::Collector(_) => "collector",
            PluginPre::Pipeline(_) => "pipeline",
            PluginPre::Input(_) => "input",
        }
    }

    pub(crate) fn engine(&self) -> &wasmtime::Engine {
        match self {
            PluginPre::Collector(p) => p.engine(),
            PluginPre::Pipeline(p) => p.engine(),
            PluginPre::Input(p) => p.engine(),
        }
    }
}

/// Build the `InstancePre` for a component: a pipeline when it exports `process`, otherwise a
/// collector; or say why it is neither.
///
/// # Errors
/// [`RuntimeError::WrongWorld`] naming the file and what is missing.
pub fn plugin_pre(
    runtime: &Runtime,
    file: &Path,
    component: &wasmtime::component::Component,
) -> Result<PluginPre, RuntimeError> {
    let engine = component.engine();
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    let (world, kind) = if exports.iter().any(|e| e == "process") {
        ("pipeline", EngineKind::Pipeline)
    } else if exports.iter().any(|e| e == "handle") {
        ("input", EngineKind::Collector)
    } else {
        ("collector", EngineKind::Collector)
    };
    let wrong = |reason: String| RuntimeError::WrongWorld {
        file: file.to_path_buf(),
        world,
        reason,
    };
    let wanted: [&str; 3] = match world {
        "pipeline" => ["describe", "init", "process"],
        "input" => ["describe", "init", "handle"],
        _ => ["describe", "init", "collect"],
    };
    let missing: Vec<&str> = wanted
        .into_iter()
        .filter(|n| !exports.iter().any(|e| e == n))
        .collect();
    if !missing.is_empty() {
        return Err(wrong(format!(
            "missing export(s) {}; it exports [{}]{}",
            missing.join(", "),
            exports.join(", "),
            if world == "collector" {
                " (a pipeline exports describe, init, process; an input describe, init, handle)"
            } else {
                ""
            }
        )));
    }
    let linker = runtime.linker(kind)?;
    if !wasmtime::Engine::same(linker.engine(), engine) {
        // `Runtime::component` picks the engine by the same rule; this is a guard, not a path.
        return Err(wrong(format!(
            "it was compiled on the engine of the other world, not a {world}'s"
        )));
    }
    let pre = linker
        .instantiate_pre(component)
        .map_err(|e| wrong(format!("imports the host cannot satisfy: {e:#}")))?;
    Ok(match world {
        "pipeline" => {
            PluginPre::Pipeline(PipelinePre::new(pre).map_err(|e| wrong(format!("{e:#}")))?)
        }
        "input" => PluginPre::Input(InputPre::new(pre).map_err(|e| wrong(format!("{e:#}")))?),
        _ => PluginPre::Collector(CollectorPre::new(pre).map_err(|e| wrong(format!("{e:#}")))?),
    })
}

/// Load `bytes` (read from `file`) as plugin `name`: compile or fetch from cache, check the world,
/// and call `describe` on a throwaway instance under `config`'s limits.
///
/// # Errors
/// Invalid component, wrong world, or a `describe` that traps.
pub async fn load_plugin(
    runtime: &Runtime,
    name: &str,
    file: &Path,
    bytes: &[u8],
    config: &PluginConfig,
) -> Result<LoadedPlugin, RuntimeError> {
    let hash = ComponentCache::content_hash(bytes);
    load_plugin_hashed(
        runtime,
        name,
        file,
        bytes.to_vec(),
        hash,
        config,
        Box::new(|_| {}),
    )
    .await
}

/// Log the start of a compile of plugin `name`, `bytes` long: at info for a large component
/// (seconds of Cranelift), at debug for a small one.
pub(crate) fn log_compile_start(name: &str, bytes: usize) {
    let mb = bytes as f64 / 1e6;
    if bytes >= crate::compile::LARGE_COMPONENT {
        tracing::info!(plugin = %name, bytes, "runtime.compile compiling {name} ({mb:.1} MB); it takes seconds for interpreted languages");
    } else {
        tracing::debug!(plugin = %name, bytes, "runtime.compile compiling {name} ({mb:.1} MB)");
    }
}

/// [`load_plugin`] for a caller that already hashed `bytes` (the supervisor compares hashes
/// before loading); `on_compile` is called with the size of `bytes` when it is compiled (not
/// on a cache hit), from the thread that compiles it.
pub(crate) async fn load_plugin_hashed(
    runtime: &Runtime,
    name: &str,
    file: &Path,
    bytes: Vec<u8>,
    hash: String,
    config: &PluginConfig,
    mut on_compile: Box<dyn FnMut(usize) + Send>,
) -> Result<LoadedPlugin, RuntimeError> {
    // Compiling takes 50 ms for a small Rust guest and seconds for Python or JS: it runs on a
    // thread of its own (and Cranelift on low-priority threads, see `crate::compile`).
    let logged_name = name.to_string();
    let on_compile = Box::new(move |n: usize| {
        log_compile_start(&logged_name, n);
        on_compile(n);
    });
    let lang = crate::guest_lang::detect(&bytes);
    let cached = runtime
        .load_component(file, bytes, &hash, on_compile)
        .await?;
    let component = cached.component;
    let pre = plugin_pre(runtime, file, &component)?;
    let name: Arc<str> = Arc::from(name);
    let activity = runtime.activity(match pre {
        PluginPre::Collector(_) | PluginPre::Input(_) => EngineKind::Collector,
        PluginPre::Pipeline(_) => EngineKind::Pipeline,
    })?;
    // describe runs without any grant: it must not depend on the host.
    let mut bare = config.clone();
    bare.sandbox = Default::default();
    let state = Arc::new(Mutex::new(StateStore::default()));
    let mut inst =
        Instance::from_parts(&pre, name.clone(), lang, activity.clone(), &bare, state).await?;
    let info = inst.describe().await?;
    Ok(LoadedPlugin {
        name,
        file: file.to_path_buf(),
        hash,
        pre,
        description: PluginDescription::from_wit(info),
        lang,
        cache: cached.outcome,
        compile_time: cached.compile_time,
        artifact: Arc::new(cached.lease),
        activity,
    })
}

/// Read a plugin file and load it.
///
/// # Errors
/// As for [`load_plugin`], and when the file cannot be read.
pub async fn load_plugin_file(
    runtime: &Runtime,
    name: &str,
    file: &Path,
    config: &PluginConfig,
) -> Result<LoadedPlugin, RuntimeError> {
    let bytes = tokio::fs::read(file)
        .await
        .map_err(|source| RuntimeError::Read {
            file: file.to_path_buf(),
            source,
        })?;
    let hash = ComponentCache::content_hash(&bytes);
    load_plugin_hashed(runtime, name, file, bytes, hash, config, Box::new(|_| {})).await
}
