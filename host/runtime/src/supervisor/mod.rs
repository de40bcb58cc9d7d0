//! The supervisor: one task per plugin that schedules `collect` on the plugin's interval with
//! jitter, catches and attributes every crash, restarts on a fresh instance with exponential
//! backoff, and disables the plugin after `max_crashes`. Plugin tasks share nothing but the
//! sink, and every guest call yields on each epoch tick, so one plugin's crash, loop or slowness
//! cannot delay another's schedule.
//!
//! This module is the registry: which plugins there are, loading and compiling them, reconciling
//! with the plugins directory and their configs, and their statuses. [`schedule`] is the task of
//! one plugin.

mod schedule;

pub use schedule::effective_interval;
#[cfg(test)]
mod tests;

use crate::config::PluginConfig;
use crate::input::InputRegistry;
use crate::pipeline::{PipelineEntry, PipelineRegistry};
use crate::plugin::{load_plugin_hashed, plugin_name, LoadedPlugin, PluginPre};
use crate::status::{PluginState, PluginStatus, StatusCell};
use crate::{Runtime, RuntimeError};
use sandkit_io::Sink;
use schedule::PluginTask;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tokio::task::JoinHandle;

struct Entry {
    status: Arc<StatusCell>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    /// The config the plugin runs with: a change restarts it.
    config: Option<PluginConfig>,
}

/// Runs every plugin of the plugins directory.
pub struct Supervisor {
    runtime: Arc<Runtime>,
    sink: Sink,
    global_tags: Arc<Vec<(String, String)>>,
    /// Shared with the threads that compile (they mark the plugin as compiling).
    plugins: Arc<Mutex<HashMap<String, Entry>>>,
    pipelines: Arc<PipelineRegistry>,
    inputs: Arc<InputRegistry>,
    /// Whether this agent leads the election: `election = true` collectors run only then.
    leader: watch::Receiver<bool>,
    /// The default limits (`[runtime.limits]`) conf.d files override; a config reload may
    /// replace them.
    base_limits: Mutex<crate::config::Limits>,
    /// Where fleet configs from etcd are written; a conf.d file of the same plugin wins.
    fleet_dir: std::sync::OnceLock<PathBuf>,
    /// One change of a plugin at a time (the directory watcher and a config reload may both
    /// load it): two loads of one plugin would start it twice. Different plugins load in
    /// parallel, so one slow load holds up no other.
    changes: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Keeps `leader` open when no election feeds it (always leader).
    _always: Option<watch::Sender<bool>>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor").finish_non_exhaustive()
    }
}

impl Supervisor {
    /// A supervisor on a single node: this agent always leads.
    pub fn new(runtime: Arc<Runtime>, sink: Sink, global_tags: Vec<(String, String)>) -> Arc<Self> {
        let (always, leader) = watch::channel(true);
        Self::build(runtime, sink, global_tags, leader, Some(always))
    }

    /// A supervisor whose `election = true` collectors run only while `leader` is true.
    pub fn with_leadership(
        runtime: Arc<Runtime>,
        sink: Sink,
        global_tags: Vec<(String, String)>,
        leader: watch::Receiver<bool>,
    ) -> Arc<Self> {
        Self::build(runtime, sink, global_tags, leader, None)
    }

    fn build(
        runtime: Arc<Runtime>,
        sink: Sink,
        global_tags: Vec<(String, String)>,
        leader: watch::Receiver<bool>,
        always: Option<watch::Sender<bool>>,
    ) -> Arc<Self> {
        let runtime_limits = runtime.config().limits;
        Arc::new(Supervisor {
            pipelines: PipelineRegistry::new(runtime.clone()),
            inputs: InputRegistry::new(runtime.clone()),
            runtime,
            sink,
            global_tags: Arc::new(global_tags),
            plugins: Arc::new(Mutex::new(HashMap::new())),
            leader,
            _always: always,
            base_limits: Mutex::new(runtime_limits),
            fleet_dir: std::sync::OnceLock::new(),
            changes: Mutex::new(HashMap::new()),
        })
    }

    /// The pipelines loaded from the plugins directory.
    pub fn pipelines(&self) -> &Arc<PipelineRegistry> {
        &self.pipelines
    }

    /// The passive inputs loaded from the plugins directory.
    pub fn inputs(&self) -> &Arc<InputRegistry> {
        &self.inputs
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.plugins.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Status of every plugin, sorted by name.
    pub fn statuses(&self) -> Vec<PluginStatus> {
        let mut v: Vec<PluginStatus> = self
            .entries()
            .values()
            .map(|e| e.status.snapshot())
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Follow plugin configs in `dir` too (written by the fleet watcher); set before the
    /// plugins directory is watched. A conf.d file of the same plugin wins.
    pub fn set_fleet_dir(&self, dir: PathBuf) {
        let _ = self.fleet_dir.set(dir);
    }

    pub fn fleet_dir(&self) -> Option<&Path> {
        self.fleet_dir.get().map(PathBuf::as_path)
    }

    /// The config of plugin `name`: its conf.d file, else its fleet config, else the defaults.
    fn load_config(&self, name: &str) -> Result<PluginConfig, RuntimeError> {
        let base = *self.base_limits.lock().unwrap_or_else(|p| p.into_inner());
        let conf_dir = &self.runtime.config().conf_dir;
        if let Some(fleet) = self.fleet_dir.get() {
            let local = conf_dir.join(format!("{name}.toml"));
            if !local.exists() && fleet.join(format!("{name}.toml")).exists() {
                return PluginConfig::load(fleet, name, base);
            }
        }
        PluginConfig::load(conf_dir, name, base)
    }

    /// Apply new default limits (a reload of `[runtime.limits]`): every plugin's config is
    /// read again, and only the plugins whose effective config changed restart; the others
    /// keep running untouched. Returns the names of those restarted.
    pub async fn reload_limits(self: &Arc<Self>, limits: crate::config::Limits) -> Vec<String> {
        *self.base_limits.lock().unwrap_or_else(|p| p.into_inner()) = limits;
        // The pipeline registry derives each pipeline's limits from the same defaults.
        self.pipelines.set_base_limits(limits);
        self.reconcile().await
    }

    /// Read every plugin's conf.d file again and restart those whose config or file changed.
    /// Returns the names of those restarted (or stopped).
    pub async fn reconcile(self: &Arc<Self>) -> Vec<String> {
        // What a restart changes: the file's hash or the config.
        let identity = |e: &Entry| (e.status.lock().hash.clone(), e.config.clone());
        let files: Vec<(String, PathBuf)> = self
            .entries()
            .iter()
            .map(|(n, e)| (n.clone(), e.status.lock().file.clone()))
            .collect();
        let mut loads = tokio::task::JoinSet::new();
        for (name, file) in files {
            let sup = self.clone();
            loads.spawn(async move {
                let _one_at_a_time = sup.change_lock(&name).await;
                // One status lock at a time (a second lock in the same expression deadlocks).
                let before = sup.entries().get(&name).map(identity);
                sup.load_and_start(&file, false).await;
                let after = sup.entries().get(&name).map(identity);
                (after != before).then_some(name)
            });
        }
        let mut changed: Vec<String> = loads.join_all().await.into_iter().flatten().collect();
        changed.sort();
        changed
    }

    /// Load `files` (new or changed) in parallel, as [`Supervisor::upsert`] does each.
    pub async fn upsert_all(self: &Arc<Self>, files: Vec<PathBuf>) {
        let mut loads = tokio::task::JoinSet::new();
        for f in files {
            let sup = self.clone();
            loads.spawn(async move { sup.upsert(&f).await });
        }
        loads.join_all().await;
    }

    /// The lock that serialises the changes of plugin `name`.
    async fn change_lock(&self, name: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let m = self
            .changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name.to_string())
            .or_default()
            .clone();
        m.lock_owned().await
    }

    /// Status of one plugin.
    pub fn status(&self, name: &str) -> Option<PluginStatus> {
        self.entries().get(name).map(|e| e.status.snapshot())
    }

    /// A plugin file appeared or changed: load it and (re)start the plugin. A file that cannot be
    /// loaded gets one clear error; a running older version keeps running.
    pub async fn upsert(&self, file: &Path) {
        let Some(name) = plugin_name(file) else {
            return;
        };
        let _one_at_a_time = self.change_lock(&name).await;
        self.load_and_start(file, true).await;
    }

    /// As [`Supervisor::upsert`]; a disabled or failed plugin whose file and config are the same
    /// is retried only with `retry_disabled`.
    async fn load_and_start(&self, file: &Path, retry_disabled: bool) {
        let Some(name) = plugin_name(file) else {
            return;
        };
        let bytes = match tokio::fs::read(file).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return self.remove_unlocked(&name).await
            }
            Err(source) => {
                let e = RuntimeError::Read {
                    file: file.to_path_buf(),
                    source,
                };
                return self.record_load_error(&name, file, &e, None);
            }
        };
        // Hashing 18 MB of a Python component takes a while: not on an async worker.
        let hashed = tokio::task::spawn_blocking(move || {
            let hash = crate::cache::ComponentCache::content_hash(&bytes);
            (bytes, hash)
        })
        .await;
        let Ok((bytes, hash)) = hashed else {
            return;
        };
        let config = match self.load_config(&name) {
            Ok(c) => c,
            Err(e) => return self.record_load_error(&name, file, &e, None),
        };
        if let Some(e) = self.entries().get(&name) {
            let st = e.status.lock();
            let reenable =
                retry_disabled && matches!(st.state, PluginState::Disabled | PluginState::Failed);
            let same =
                st.hash.as_deref() == Some(hash.as_str()) && e.config.as_ref() == Some(&config);
            if same && !reenable {
                return;
            }
        }
        if !config.enabled {
            self.stop_entry(&name).await;
            let mut st = PluginStatus::new(&name, file.to_path_buf());
            st.state = PluginState::Off;
            st.hash = Some(hash);
            tracing::info!(plugin = %name, "runtime.plugin disabled by config (enabled = false)");
            self.insert_idle(&name, st, Some(config));
            return;
        }
        let on_compile = self.mark_compiling(&name, file, &hash);
        let loaded = load_plugin_hashed(
            &self.runtime,
            &name,
            file,
            bytes,
            hash.clone(),
            &config,
            on_compile,
        )
        .await;
        if let Some(e) = self.entries().get(&name) {
            e.status.lock().compiling = None;
        }
        let loaded = match loaded {
            Ok(l) => l,
            Err(e) => {
                return self.record_load_error(&name, file, &e, Some((hash, config)));
            }
        };
        if let Some(t) = loaded.compile_time {
            tracing::info!(
                plugin = %name, compile_ms = t.as_millis() as u64,
                "runtime.compile {name} compiled in {:.1} s", t.as_secs_f64()
            );
        }
        tracing::info!(
            plugin = %name, file = %file.display(), version = %loaded.description.version,
            hash = &loaded.hash[..12], cache = ?loaded.cache,
            compile_ms = loaded.compile_time.map(|t| t.as_millis() as u64),
            "runtime.plugin loaded"
        );
        if !config.sandbox.kernel_paths.is_empty() {
            tracing::warn!(
                plugin = %name, paths = ?config.sandbox.kernel_paths,
                "runtime.plugin granted kernel paths beyond the safe set"
            );
        }
        self.stop_entry(&name).await;
        match loaded.pre {
            PluginPre::Pipeline(_) => {
                self.inputs.remove(&name);
                self.register_pipeline(loaded, config);
            }
            PluginPre::Input(_) => {
                self.pipelines.remove(&name);
                self.register_input(loaded, config);
            }
            PluginPre::Collector(_) => {
                self.pipelines.remove(&name);
                self.inputs.remove(&name);
                self.start(loaded, config);
            }
        }
    }

    /// What a load calls when it compiles `file` (a cache miss): the plugin shows as compiling.
    /// A plugin with a version at work keeps its state and shows the compile beside it; any
    /// other (new, failed, disabled, off) is in state `compiling` until the load ends.
    fn mark_compiling(&self, name: &str, file: &Path, hash: &str) -> Box<dyn FnMut(usize) + Send> {
        let plugins = self.plugins.clone();
        let (name, file, hash) = (name.to_string(), file.to_path_buf(), hash.to_string());
        Box::new(move |bytes| {
            let progress = crate::status::CompileProgress {
                bytes: bytes as u64,
                since_unix_ms: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64),
            };
            let mut map = plugins.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = map.get(&name) {
                let mut st = e.status.lock();
                st.compiling = Some(progress);
                if !matches!(
                    st.state,
                    PluginState::Running
                        | PluginState::Starting
                        | PluginState::Backoff
                        | PluginState::Standby
                ) {
                    st.state = PluginState::Compiling;
                }
                return;
            }
            let mut st = PluginStatus::new(&name, file.clone());
            st.state = PluginState::Compiling;
            st.hash = Some(hash.clone());
            st.compiling = Some(progress);
            let (stop, _) = watch::channel(false);
            map.insert(
                name.clone(),
                Entry {
                    status: StatusCell::new(st),
                    stop,
                    task: None,
                    config: None,
                },
            );
        })
    }

    /// A pipeline has no schedule: it runs when a source hands it lines. Register it (replacing
    /// an older version: sources switch to it at their next batch).
    fn register_pipeline(&self, plugin: LoadedPlugin, config: PluginConfig) {
        let name = plugin.name.to_string();
        if config.raw_limits.fuel.is_some() {
            let file = config.source.as_deref().map(|f| f.display().to_string());
            tracing::warn!(plugin = %name, file, "runtime.pipeline [limits] fuel has no effect on a pipeline (pipelines run without fuel metering; limits.timeout bounds them)");
        }
        let status = self.register_unscheduled(&plugin, &config);
        self.pipelines
            .insert(PipelineEntry::new(plugin, config, status.clone()));
        // The limits it runs with are the registry's (its deadline defaults lower); no fuel.
        if let Some(entry) = self.pipelines.get(&name) {
            let mut limits: crate::status::EffectiveLimits =
                entry.config.limits.for_guest(entry.plugin.lang).into();
            limits.fuel = 0;
            status.lock().limits = Some(limits);
        }
    }

    /// The status and supervisor entry of a plugin that runs on demand (a pipeline or an
    /// input), not on a schedule.
    fn register_unscheduled(
        &self,
        plugin: &LoadedPlugin,
        config: &PluginConfig,
    ) -> Arc<StatusCell> {
        let name = plugin.name.to_string();
        let mut st = PluginStatus::new(&name, plugin.file.clone());
        st.hash = Some(plugin.hash.clone());
        st.lang = Some(plugin.lang);
        st.description = Some(plugin.description.clone());
        st.state = PluginState::Running;
        st.config_file.clone_from(&config.source);
        st.config_version.clone_from(&config.version);
        st.limits = Some(config.limits.for_guest(plugin.lang).into());
        let status = StatusCell::new(st);
        let (stop, _) = watch::channel(false);
        self.entries().insert(
            name,
            Entry {
                status: status.clone(),
                stop,
                task: None,
                config: Some(config.clone()),
            },
        );
        status
    }

    /// An input has no schedule either: it runs when the server hands it a request body.
    fn register_input(&self, plugin: LoadedPlugin, config: PluginConfig) {
        let status = self.register_unscheduled(&plugin, &config);
        self.inputs.insert(plugin, config, status);
    }

    fn insert_idle(&self, name: &str, st: PluginStatus, config: Option<PluginConfig>) {
        let (stop, _) = watch::channel(false);
        self.entries().insert(
            name.to_string(),
            Entry {
                status: StatusCell::new(st),
                stop,
                task: None,
                config,
            },
        );
    }

    /// A file that cannot be loaded: `identity` (its hash and config, when known) is kept, so
    /// the same file with the same config is not tried (and logged) again by a reload or a
    /// rescan until one of them changes.
    fn record_load_error(
        &self,
        name: &str,
        file: &Path,
        e: &RuntimeError,
        identity: Option<(String, PluginConfig)>,
    ) {
        let running = self
            .entries()
            .get(name)
            .map(|en| {
                let mut st = en.status.lock();
                st.last_error = Some(e.to_string());
                matches!(
                    st.state,
                    PluginState::Running | PluginState::Backoff | PluginState::Starting
                )
            })
            .unwrap_or(false);
        if running {
            tracing::error!(plugin = %name, error = %e, "runtime.plugin new file rejected; the previous version keeps running");
        } else {
            tracing::error!(plugin = %name, error = %e, "runtime.plugin file rejected");
            let mut st = PluginStatus::new(name, file.to_path_buf());
            st.state = PluginState::Failed;
            st.last_error = Some(e.to_string());
            let (hash, config) = identity.unzip();
            st.hash = hash;
            self.insert_idle(name, st, config);
        }
    }

    /// A plugin file was removed: stop the plugin (its current call, if any, finishes and its
    /// points are sent).
    pub async fn remove(&self, name: &str) {
        let _one_at_a_time = self.change_lock(name).await;
        self.remove_unlocked(name).await;
    }

    async fn remove_unlocked(&self, name: &str) {
        self.pipelines.remove(name);
        self.inputs.remove(name);
        if self.stop_entry(name).await {
            tracing::info!(plugin = %name, "runtime.plugin removed");
        }
        if self.entries().remove(name).is_some() {
            crate::status::status_changed();
        }
    }

    async fn stop_entry(&self, name: &str) -> bool {
        let task = {
            let mut map = self.entries();
            let Some(e) = map.get_mut(name) else {
                return false;
            };
            let _ = e.stop.send(true);
            e.status.lock().state = PluginState::Stopped;
            e.task.take()
        };
        if let Some(t) = task {
            let _ = t.await;
        }
        true
    }

    /// Stop every plugin and wait for their tasks.
    pub async fn shutdown(&self) {
        let names: Vec<String> = self.entries().keys().cloned().collect();
        for n in names {
            self.stop_entry(&n).await;
        }
    }

    /// Start a loaded plugin under `config`.
    pub fn start(&self, plugin: LoadedPlugin, config: PluginConfig) {
        let name = plugin.name.to_string();
        let mut st = PluginStatus::new(&name, plugin.file.clone());
        st.hash = Some(plugin.hash.clone());
        st.lang = Some(plugin.lang);
        st.description = Some(plugin.description.clone());
        st.config_file.clone_from(&config.source);
        st.config_version.clone_from(&config.version);
        st.limits = Some(config.limits.for_guest(plugin.lang).into());
        let status = StatusCell::new(st);
        let (stop, stop_rx) = watch::channel(false);
        let task = PluginTask {
            conformance: crate::conformance::Conformance::new(crate::conformance::Declared::new(
                &plugin.description,
            )),
            plugin,
            config,
            runtime: self.runtime.clone(),
            sink: self.sink.for_source(&[&name]),
            global_tags: self.global_tags.clone(),
            status: status.clone(),
            stop: stop_rx,
            leader: self.leader.clone(),
        };
        let running_config = task.config.clone();
        let handle = tokio::spawn(task.run());
        self.entries().insert(
            name,
            Entry {
                status,
                stop,
                task: Some(handle),
                config: Some(running_config),
            },
        );
    }
}

/// Names of plugin files in `dir`, for scans.
pub fn plugin_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| plugin_name(p).is_some() && p.is_file())
        .collect();
    v.sort();
    Ok(v)
}
