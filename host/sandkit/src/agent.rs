//! `sandkit run`: wire the runtime, the supervisor, the plugins directory and the output, then run
//! until SIGINT or SIGTERM.

use crate::config::{OutputConfig, OutputKind};
use crate::ConfigArgs;
use anyhow::{Context, Result};
use sandkit_files::{FileSource, TaskSnapshot, TaskStats};
use sandkit_io::pipeline::PipelineProvider;
use sandkit_io::{
    spawn_writer, FileOutput, HttpOutput, NatsOutput, Output, Sink, StdoutOutput, WriterHandle,
};
use sandkit_runtime::{watch_plugins_dir, RegistryProvider, Runtime, Supervisor};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How often the plugins directory is rescanned besides notify events.
const RESCAN_EVERY: Duration = Duration::from_secs(10);
/// How often status.json is rewritten.
const STATUS_EVERY: Duration = Duration::from_secs(2);

pub async fn run(
    args: &ConfigArgs,
    output_file: Option<PathBuf>,
    http_listen: Option<std::net::SocketAddr>,
) -> Result<()> {
    let mut signals = crate::reload::Signals::install();
    let mut cfg = args.load(output_file.clone())?;
    if let (Some(http), Some(addr)) = (cfg.http.as_mut(), http_listen) {
        http.listen = addr;
    }
    crate::init_logging(&cfg.log_level);
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data_dir {}", cfg.data_dir.display()))?;
    let (sink, outputs, writers) = start_outputs(&cfg.outputs).await?;
    warn_unowned_buffers(&cfg.outputs, &cfg.data_dir);
    let runtime = Arc::new(Runtime::new(cfg.runtime.clone())?);
    tracing::info!(
        config = %cfg.source.display(),
        plugins_dir = %cfg.runtime.plugins_dir.display(),
        conf_dir = %cfg.runtime.conf_dir.display(),
        outputs = %cfg.outputs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>().join(","),
        "sandkit.start"
    );
    let election = sandkit_election::Election::start(&cfg.election);
    let sup = Supervisor::with_leadership(
        runtime,
        sink.clone(),
        cfg.global_tags.clone(),
        election.leader(),
    );
    // Fleet configs are written before the first scan, so plugins start with them.
    let fleet = match cfg.fleet.clone() {
        Some(settings) => {
            sup.set_fleet_dir(settings.dir.clone());
            let base = cfg.runtime.limits;
            let allow_sandbox = settings.allow_sandbox;
            let validate: sandkit_election::fleet::Validate = Arc::new(move |name, text| {
                let file = PathBuf::from(format!("etcd:{name}.toml"));
                let config = sandkit_runtime::PluginConfig::parse(text, &file, base)
                    .map_err(|e| e.to_string())?;
                if !allow_sandbox && config.sandbox != sandkit_runtime::Sandbox::default() {
                    return Err(format!(
                        "config error in {}: [sandbox] grants are not taken from etcd \
                         (set [fleet] allow_sandbox = true in sandkit.toml to allow them)",
                        file.display()
                    ));
                }
                Ok(())
            });
            let fleet = sandkit_election::fleet::Fleet::start(settings, validate);
            fleet.first_sync(Duration::from_secs(5)).await;
            Some(fleet)
        }
        None => None,
    };
    // Plugins load first (the first scan of the directory is done when this returns), so that
    // file tasks find the pipelines they name.
    // A stop while they load (a plugin may take up to its load deadline) does not wait for them.
    let watcher = tokio::select! {
        w = watch_plugins_dir(cfg.runtime.plugins_dir.clone(), sup.clone(), RESCAN_EVERY) => w?,
        () = signals.terminated() => {
            tracing::info!("sandkit.stop: stop requested while plugins were loading");
            sup.shutdown().await;
            election.stop().await;
            if let Some(f) = fleet {
                f.stop().await;
            }
            drop(sup);
            drop(sink);
            finish(&outputs, writers).await;
            tracing::info!("sandkit.stop: done");
            return Ok(());
        }
    };
    // Loading (and compiling into an empty cache) freed its working memory, and its code will
    // not run again until a plugin changes: give both back.
    release_memory("plugins loaded");
    let provider: Arc<dyn PipelineProvider> = Arc::new(RegistryProvider {
        registry: sup.pipelines().clone(),
        handle: tokio::runtime::Handle::current(),
    });
    let files = if cfg.files.is_empty() {
        None
    } else {
        for t in &cfg.files {
            if let Some(p) = &t.pipeline {
                if sup.pipelines().get(p).is_none() {
                    tracing::warn!(
                        task = %t.name, pipeline = %p, plugins_dir = %cfg.runtime.plugins_dir.display(),
                        "files.task names a pipeline that is not loaded (no {p}.wasm, or it failed to load); \
                         its lines go on unparsed, tagged pipeline_error=missing, until it loads"
                    );
                }
            }
        }
        let dir = cfg.data_dir.join("state");
        let store = sandkit_state::Store::open(&dir)?;
        Some(FileSource::start(
            cfg.files.clone(),
            store,
            sink.clone(),
            Some(provider.clone()),
        )?)
    };
    let status_file = cfg.data_dir.join("status.json");
    let file_stats: Vec<(String, Arc<TaskStats>)> = files
        .as_ref()
        .map(|f| f.stats().to_vec())
        .unwrap_or_default();
    let metrics = metrics_registry(&sup, &outputs, &sink, &file_stats, &election);
    let server = match &cfg.http {
        Some(http) => {
            let state = sandkit_server::ServerState {
                global_tags: cfg.global_tags.clone(),
                metrics: metrics.clone(),
                plugins: {
                    let sup = sup.clone();
                    Arc::new(move || serde_json::to_vec_pretty(&sup.statuses()))
                },
                pipelines: Some(provider.clone()),
                inputs: Some(sup.inputs().clone()),
                election: Some({
                    let e = election.status();
                    Arc::new(move || serde_json::to_vec_pretty(&*e.borrow()))
                }),
            };
            Some(start_server(http, &cfg.data_dir, sink.clone(), state).await?)
        }
        None => None,
    };
    // Started: the code that only start-up ran (opening the store, starting the server) goes too.
    release_memory("started");
    // The writer finishes once every sink is dropped: the supervisor, the file tasks and the
    // server hold theirs.
    drop(sink);
    let status_task = tokio::spawn(write_status_forever(
        sup.clone(),
        metrics.clone(),
        cfg.data_dir.clone(),
    ));
    let election_task = tokio::spawn(write_on_change(
        election.status(),
        cfg.data_dir.join("election.json"),
    ));
    let fleet_task = fleet
        .as_ref()
        .map(|f| tokio::spawn(write_on_change(f.status(), cfg.data_dir.join("fleet.json"))));

    crate::reload::run_until_stopped(signals, args, output_file, http_listen, &mut cfg, &sup).await;
    tracing::info!("sandkit.stop: stopping plugins and flushing the output");
    if let Some(f) = &files {
        f.request_stop();
    }
    drop(watcher);
    if let Some(server) = server {
        // Writes in flight finish (their points reach the writer, which is still running).
        server.shutdown().await;
    }
    status_task.abort();
    sup.shutdown().await;
    // Resign once the election plugins are stopped: the next leader takes over at once.
    let final_leadership = election.status();
    election_task.abort();
    election.stop().await;
    write_json(
        &*final_leadership.borrow(),
        &cfg.data_dir.join("election.json"),
        &mut String::new(),
    );
    if let Some(f) = fleet {
        f.stop().await;
    }
    if let Some(t) = fleet_task {
        t.abort();
    }
    write_json(&sup.statuses(), &status_file, &mut String::new());
    drop(sup);
    finish(&outputs, writers).await;
    if let Some(f) = files {
        // The tasks wait for the acknowledgements of their last batches and save offsets.
        let _ = tokio::task::spawn_blocking(move || f.join()).await;
    }
    // The last counts, once the tasks have their last acknowledgements.
    write_json(
        &metrics.snapshot_except(&["plugins"]),
        &cfg.data_dir.join("metrics.json"),
        &mut String::new(),
    );
    tracing::info!("sandkit.stop: done");
    Ok(())
}

/// Start the HTTP server; the address it got is written to `<data_dir>/http.addr` (for a
/// config that says port 0).
async fn start_server(
    http: &sandkit_server::HttpConfig,
    data_dir: &Path,
    sink: sandkit_io::Sink,
    state: sandkit_server::ServerState,
) -> Result<sandkit_server::ServerHandle> {
    let server = sandkit_server::start(http.clone(), sink, state)
        .await
        .context("starting the HTTP server ([http] in the config; enabled = false turns it off)")?;
    let addr_file = data_dir.join("http.addr");
    if let Err(e) = std::fs::write(&addr_file, server.local_addr().to_string()) {
        tracing::warn!(file = %addr_file.display(), error = %e, "sandkit.start cannot write the server's address");
    }
    Ok(server)
}

/// Write `value` as JSON to `path` unless it would be the same as `last` (an idle agent writes
/// nothing).
fn write_json<T: serde::Serialize>(value: &T, path: &Path, last: &mut String) -> bool {
    let text = match serde_json::to_string_pretty(value) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "sandkit.status cannot encode");
            return false;
        }
    };
    if text == *last {
        return true;
    }
    let tmp = path.with_extension("json.tmp");
    match std::fs::write(&tmp, &text).and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => {
            *last = text;
            true
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "sandkit.status cannot write");
            false
        }
    }
}

/// `file` (election.json, fleet.json) rewritten each time the state in `state` changes.
async fn write_on_change<T: serde::Serialize + Clone>(
    mut state: tokio::sync::watch::Receiver<T>,
    file: PathBuf,
) {
    let mut last = String::new();
    loop {
        let s = state.borrow_and_update().clone();
        write_json(&s, &file, &mut last);
        if state.changed().await.is_err() {
            return;
        }
    }
}

fn file_snapshots(stats: &[(String, Arc<TaskStats>)]) -> Vec<TaskSnapshot> {
    stats.iter().map(|(n, s)| s.snapshot(n)).collect()
}

/// status.json (the plugins' statuses) and metrics.json (the metric families of every source
/// but the plugins, as `/metrics` has them: what `sandkit status` renders its output and file
/// task tables from). The plugins' counters are in status.json, written when they change:
/// writing their families too every 2 s cost an idle agent about 0.007% of a core.
async fn write_status_forever(
    sup: Arc<Supervisor>,
    metrics: sandkit_metrics::Registry,
    data_dir: PathBuf,
) {
    let mut tick = tokio::time::interval(STATUS_EVERY);
    let (status, metrics_file) = (data_dir.join("status.json"), data_dir.join("metrics.json"));
    let (mut last_status, mut last_metrics) = (String::new(), String::new());
    let mut written_changes = None;
    loop {
        tick.tick().await;
        // Read before the statuses: a change made while they are read moves it again.
        let changes = sandkit_runtime::status_changes();
        if written_changes != Some(changes)
            && write_json(&sup.statuses(), &status, &mut last_status)
        {
            written_changes = Some(changes);
        }
        write_json(
            &metrics.snapshot_except(&["plugins"]),
            &metrics_file,
            &mut last_metrics,
        );
    }
}

/// Give back the heap's free memory and the pages of code that ran only while starting
/// (they stay in the page cache; what runs from now on faults back in: `sandkit_runtime`'s
/// `footprint` module).
fn release_memory(stage: &str) {
    sandkit_runtime::trim_heap();
    let released = sandkit_runtime::release_code_pages();
    tracing::debug!(
        stage,
        mappings = released.mappings,
        kib = released.kib,
        "sandkit.footprint: start-up code released"
    );
}

/// The agent's metrics: each source's families are declared in its crate.
fn metrics_registry(
    sup: &Arc<Supervisor>,
    outputs: &[Arc<dyn Output>],
    sink: &Sink,
    file_stats: &[(String, Arc<TaskStats>)],
    election: &sandkit_election::Election,
) -> sandkit_metrics::Registry {
    let mut r = sandkit_metrics::Registry::default();
    // Weak: the supervisor holds a sink, and the writer finishes only once every sink is gone.
    let sup = Arc::downgrade(sup);
    r.register("plugins", move |f| {
        if let Some(sup) = sup.upgrade() {
            sandkit_runtime::plugin_families(&sup.statuses(), f);
        }
    });
    let outputs = outputs.to_vec();
    // Not the sink itself: it would keep the writers from finishing.
    let unrouted = sink.unrouted_counts();
    r.register("outputs", move |f| {
        let lanes: Vec<_> = outputs.iter().flat_map(|o| o.lane_stats()).collect();
        sandkit_io::lane_families(&lanes, f);
        sandkit_io::unrouted_families(&unrouted, f);
    });
    let stats = file_stats.to_vec();
    r.register("files", move |f| {
        sandkit_files::task_families(&file_snapshots(&stats), f);
    });
    let leadership = election.status();
    r.register("election", move |f| leadership.borrow().families(f));
    r
}

/// Each output's writer, and one sink that hands every output what its route takes.
async fn start_outputs(
    configs: &[OutputConfig],
) -> Result<(Sink, Vec<Arc<dyn Output>>, Vec<WriterHandle>)> {
    let mut outputs: Vec<Arc<dyn Output>> = Vec::new();
    let (mut routed, mut writers) = (Vec::new(), Vec::new());
    for o in configs {
        let output: Arc<dyn Output> = match &o.kind {
            OutputKind::Stdout => Arc::new(StdoutOutput),
            OutputKind::File(p) => Arc::new(FileOutput::open(p).await?),
            OutputKind::Http(h) => Arc::new(HttpOutput::named((**h).clone(), &o.name)?),
            OutputKind::Nats(n) => Arc::new(NatsOutput::new((**n).clone(), &o.name)?),
        };
        let (sink, writer) = spawn_writer(output.clone(), o.queue_batches, o.batch);
        outputs.push(output);
        routed.push((o.route.clone(), sink));
        writers.push(writer);
    }
    Ok((Sink::fanout(routed), outputs, writers))
}

/// Batches an earlier run left in a buffer directory that no configured output uses now (after
/// a switch between `[output]` and `[[outputs]]`, or a renamed output): kept, not sent; say
/// where, so that an operator can move them under the output that should send them.
fn warn_unowned_buffers(configs: &[OutputConfig], data_dir: &Path) {
    let owned: Vec<PathBuf> = configs
        .iter()
        .filter_map(|o| match &o.kind {
            OutputKind::Http(h) => h.buffer.as_ref().map(|b| b.dir.clone()),
            _ => None,
        })
        .collect();
    let mut roots = vec![data_dir.join("buffer")];
    roots.extend(
        owned
            .iter()
            .filter_map(|d| d.parent().map(Path::to_path_buf)),
    );
    roots.sort();
    roots.dedup();
    // The target directories of an output whose buffer is the root itself (`[output]`).
    let kinds = [
        "dataway-",
        "influxdb-",
        "influxdb2-",
        "prometheus_remote_write-",
    ];
    for root in roots {
        let Ok(rd) = std::fs::read_dir(&root) else {
            continue;
        };
        for e in rd.flatten() {
            let (path, name) = (e.path(), e.file_name().to_string_lossy().into_owned());
            let a_target = owned.contains(&root) && kinds.iter().any(|k| name.starts_with(k));
            if owned.contains(&path) || a_target || !path.is_dir() {
                continue;
            }
            let bytes = sandkit_io::buffer::held_bytes(&path);
            if bytes > 0 {
                tracing::warn!(dir = %path.display(), bytes, "io.buffer holds batches that no configured output sends (an output renamed, or [output] and [[outputs]] switched); move the directory under the buffer of the output that should send them");
            }
        }
    }
}

/// Wait for every writer to write what it has (every sink is gone). An output still retrying
/// without end (NATS) gives its batch up as lost, to be sent again at the next start.
async fn finish(outputs: &[Arc<dyn Output>], writers: Vec<WriterHandle>) {
    for o in outputs {
        o.stop();
    }
    for w in writers {
        w.finish().await;
    }
}
