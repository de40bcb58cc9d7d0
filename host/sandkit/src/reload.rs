//! Config reload while `sandkit run` runs: on SIGHUP, or when sandkit.toml changes (notify), the
//! config is loaded and validated again. A config with an error is refused and the running one
//! stays. A valid one applies `[runtime.limits]` at once: only the plugins whose effective config
//! changed restart, the others keep running untouched. conf.d files are followed by the plugins
//! directory watcher on their own (a change restarts that plugin alone). Sections that shape
//! the agent itself (outputs, HTTP server, file tasks, election, directories, global tags) take
//! effect at the next start: a reload that changes them says so in the log.

use crate::config::AgentConfig;
use crate::ConfigArgs;
use notify::{RecursiveMode, Watcher};
use sandkit_runtime::Supervisor;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// Quiet time after the last change of sandkit.toml before reloading (an editor writes in
/// several steps).
const DEBOUNCE: Duration = Duration::from_millis(300);

/// SIGTERM and SIGHUP, listened to from the start of `run`: one that arrives while the agent
/// starts waits for it instead of killing it (SIGHUP's default action) or skipping the flush.
#[derive(Debug)]
pub struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    pub fn install() -> Signals {
        let term = signal(SignalKind::terminate()).ok();
        if term.is_none() {
            tracing::error!("cannot listen for SIGTERM; stop with SIGINT");
        }
        Signals {
            term,
            hup: signal(SignalKind::hangup()).ok(),
        }
    }
}

impl Signals {
    /// Resolves on SIGINT or SIGTERM.
    pub async fn terminated(&mut self) {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            Some(_) = recv_signal(&mut self.term) => {}
        }
    }
}

/// Runs until SIGINT or SIGTERM, reloading on SIGHUP and on changes of the config file.
pub async fn run_until_stopped(
    signals: Signals,
    args: &ConfigArgs,
    output_file: Option<PathBuf>,
    http_listen: Option<std::net::SocketAddr>,
    running: &mut AgentConfig,
    sup: &Arc<Supervisor>,
) {
    let Signals { mut term, mut hup } = signals;
    let (tx, mut changed) = mpsc::channel::<()>(1);
    let _watcher = args.config.as_ref().and_then(|p| watch_file(p, tx));
    // What the config file held when last loaded: an event that leaves it the same (a touch,
    // an editor that saves unchanged text) is no reason to reload.
    let read = || args.config.as_ref().and_then(|p| std::fs::read(p).ok());
    let mut loaded = read();
    loop {
        let why = tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            Some(_) = recv_signal(&mut term) => return,
            Some(_) = recv_signal(&mut hup) => "SIGHUP",
            Some(()) = changed.recv() => {
                while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, changed.recv()).await {}
                let now = read();
                if now == loaded {
                    tracing::debug!("config.watch: the config file's content is unchanged");
                    continue;
                }
                "the config file changed"
            }
        };
        loaded = read();
        reload(why, args, output_file.clone(), http_listen, running, sup).await;
    }
}

async fn recv_signal(s: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match s {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// Watches the directory of `file` and reports changes of `file` (an editor may replace it).
fn watch_file(file: &std::path::Path, tx: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    // The path as given, not its target: a symlink swapped to a new file (a Kubernetes
    // ConfigMap) changes the link's own directory entry.
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let dir = file.parent()?.to_path_buf();
    let name = file.file_name()?.to_os_string();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            // Opens and reads (a `cat`, `sandkit status -c`, the reload's own read) are not
            // changes: reacting to them reloaded in a loop.
            if sandkit_runtime::changes_content(&ev.kind)
                && ev.paths.iter().any(|p| p.file_name() == Some(name.as_os_str()))
            {
                let _ = tx.try_send(());
            }
        }
    })
    .map_err(|e| tracing::warn!(error = %e, "config.watch cannot watch the config file; reload with SIGHUP"))
    .ok()?;
    if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
        tracing::warn!(dir = %dir.display(), error = %e, "config.watch cannot watch the config's directory; reload with SIGHUP");
        return None;
    }
    Some(watcher)
}

/// The tables of sandkit.toml a reload applies while the agent runs (`needs_restart` names
/// the others); the config reference (`sandkit doc config`) marks their keys so.
pub const APPLIED_ON_RELOAD: &[&str] = &["runtime.limits"];

/// What differs between two configs in the sections a reload does not apply.
fn needs_restart(old: &AgentConfig, new: &AgentConfig) -> Vec<&'static str> {
    let same =
        |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") == format!("{b:?}");
    let mut keys = Vec::new();
    let mut runtime_old = old.runtime.clone();
    runtime_old.limits = new.runtime.limits;
    let pairs: [(&'static str, bool); 9] = [
        ("data_dir", same(&old.data_dir, &new.data_dir)),
        ("global_tags", same(&old.global_tags, &new.global_tags)),
        ("output / outputs", same(&old.outputs, &new.outputs)),
        ("log.level", old.log_level == new.log_level),
        ("runtime (but limits)", same(&runtime_old, &new.runtime)),
        ("files", same(&old.files, &new.files)),
        ("http", old.http == new.http),
        ("election", old.election == new.election),
        ("fleet", old.fleet == new.fleet),
    ];
    for (key, unchanged) in pairs {
        if !unchanged {
            keys.push(key);
        }
    }
    keys
}

async fn reload(
    why: &str,
    args: &ConfigArgs,
    output_file: Option<PathBuf>,
    http_listen: Option<std::net::SocketAddr>,
    running: &mut AgentConfig,
    sup: &Arc<Supervisor>,
) {
    tracing::info!(config = %running.source.display(), "config.reload: {why}; reading the config again");
    let mut new = match args.load(output_file) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("config.reload refused: {e:#}; the running config stays");
            return;
        }
    };
    if let (Some(http), Some(addr)) = (new.http.as_mut(), http_listen) {
        http.listen = addr;
    }
    let restart = needs_restart(running, &new);
    let restarted = if new.runtime.limits != running.runtime.limits {
        running.runtime.limits = new.runtime.limits;
        sup.reload_limits(new.runtime.limits).await
    } else {
        sup.reconcile().await
    };
    if !restart.is_empty() {
        tracing::warn!(
            "config.reload: {} changed; the running values stay until the agent restarts",
            restart.join(", ")
        );
    }
    tracing::info!(
        restarted = ?restarted,
        "config.reload: done; {} plugin(s) restarted with a new config, the others untouched",
        restarted.len()
    );
}
