//! The plugins directory (and conf.d beside it): an initial scan, then notify (inotify) events that trigger a debounced
//! rescan, plus a periodic rescan in case an event was missed. A rescan compares each file's
//! size, modification time and inode with what it saw last, and tells the supervisor what was
//! added, changed or removed. A plugin file modified less than [`SETTLE`] ago is left for a
//! later rescan: a slow copy is loaded once, when it is complete, instead of failing once per
//! write.

use crate::supervisor::{plugin_files, Supervisor};
use crate::{plugin_name, RuntimeError};
use notify::{RecursiveMode, Watcher};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Quiet time after the last event before rescanning: a file being copied sends many events.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// How long a plugin file must stay unmodified before it is loaded.
pub const SETTLE: Duration = Duration::from_millis(300);

/// What a rescan compares: the plugin file, its conf.d file and its fleet config file.
type PluginSignature = (Signature, Option<Signature>, Option<Signature>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Signature {
    len: u64,
    mtime_ns: i128,
    ino: u64,
}

fn signature(p: &Path) -> Option<Signature> {
    let m = std::fs::metadata(p).ok()?;
    Some(Signature {
        len: m.len(),
        mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        ino: m.ino(),
    })
}

/// Keeps the watcher and the scan task alive; dropping it stops watching.
pub struct DirWatcher {
    _watcher: notify::RecommendedWatcher,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for DirWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirWatcher").finish_non_exhaustive()
    }
}

impl Drop for DirWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether a file with `sig` was modified less than [`SETTLE`] ago (it may still be written).
fn unsettled(sig: &Signature) -> bool {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    now - sig.mtime_ns < SETTLE.as_nanos() as i128
}

/// Compare the directory with `known` and tell the supervisor; true when a changed file was
/// left for later because it is still being written (only with `settle`: the first scan, at
/// start-up, loads what is there). The first scan (`loads` is `None`) returns once every load
/// is done; later ones start the loads in `loads` and return, so that a plugin that compiles
/// for seconds holds up no later change of another.
async fn rescan(
    dir: &Path,
    known: &mut HashMap<PathBuf, PluginSignature>,
    sup: &Arc<Supervisor>,
    settle: bool,
    loads: Option<&mut tokio::task::JoinSet<()>>,
) -> bool {
    let conf_dir = sup.runtime().config().conf_dir.clone();
    let files = match plugin_files(dir) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(dir = %dir.display(), error = %e, "runtime.scan cannot list the plugins directory");
            return false;
        }
    };
    let mut seen = HashMap::new();
    let mut pending = false;
    let mut changed = Vec::new();
    for f in files {
        let Some(wasm_sig) = signature(&f) else {
            continue;
        };
        let conf_of =
            |dir: &Path| plugin_name(&f).and_then(|n| signature(&dir.join(format!("{n}.toml"))));
        let fleet_sig = sup.fleet_dir().and_then(conf_of);
        let sig = (wasm_sig, conf_of(&conf_dir), fleet_sig);
        let before = known.get(&f).copied();
        if settle
            && before != Some(sig)
            && before.map(|b| b.0) != Some(wasm_sig)
            && unsettled(&wasm_sig)
        {
            // Still being written: keep what was known and look again.
            pending = true;
            if let Some(b) = before {
                seen.insert(f, b);
            }
            continue;
        }
        seen.insert(f.clone(), sig);
        if before != Some(sig) {
            changed.push(f);
        }
    }
    let removed: Vec<String> = known
        .keys()
        .filter(|f| !seen.contains_key(*f))
        .filter_map(|f| plugin_name(f))
        .collect();
    *known = seen;
    match loads {
        // Loaded in parallel: one slow plugin holds up no other.
        None => {
            sup.upsert_all(changed).await;
            for name in removed {
                sup.remove(&name).await;
            }
        }
        // The supervisor orders the changes of each plugin.
        Some(loads) => {
            for f in changed {
                let sup = sup.clone();
                loads.spawn(async move { sup.upsert(&f).await });
            }
            for name in removed {
                let sup = sup.clone();
                loads.spawn(async move { sup.remove(&name).await });
            }
        }
    }
    pending
}

/// Whether a file system event can mean new content: creation, a write, a rename, a removal or
/// the close of a file opened for writing; not opens, reads or closes after reading.
pub fn changes_content(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode};
    use notify::EventKind;
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Load every plugin in `dir` now, then follow additions, replacements and removals.
///
/// # Errors
/// When the directory cannot be created or watched.
pub async fn watch_plugins_dir(
    dir: PathBuf,
    sup: Arc<Supervisor>,
    rescan_every: Duration,
) -> Result<DirWatcher, RuntimeError> {
    let werr = |reason: String| RuntimeError::Watch {
        dir: dir.clone(),
        reason,
    };
    std::fs::create_dir_all(&dir).map_err(|e| werr(format!("cannot create: {e}")))?;
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        match res {
            // Reads (the agent's own among them) change nothing.
            Ok(ev) if !changes_content(&ev.kind) => return,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "runtime.watch event error; rescanning"),
        }
        // A full channel already holds a pending rescan.
        let _ = tx.try_send(());
    })
    .map_err(|e| werr(e.to_string()))?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| werr(e.to_string()))?;
    // conf.d changes restart the plugin with its new config (a bad edit keeps the old one).
    let conf_dir = sup.runtime().config().conf_dir.clone();
    if conf_dir.is_dir() && conf_dir != dir {
        watcher
            .watch(&conf_dir, RecursiveMode::NonRecursive)
            .map_err(|e| werr(format!("watching {}: {e}", conf_dir.display())))?;
    }
    if let Some(fleet) = sup.fleet_dir() {
        std::fs::create_dir_all(fleet)
            .map_err(|e| werr(format!("creating {}: {e}", fleet.display())))?;
        watcher
            .watch(fleet, RecursiveMode::NonRecursive)
            .map_err(|e| werr(format!("watching {}: {e}", fleet.display())))?;
    }
    let mut known = HashMap::new();
    let mut pending = rescan(&dir, &mut known, &sup, false, None).await;
    let task = tokio::spawn(async move {
        // Loads in flight, dropped (cancelled) with the task.
        let mut loads = tokio::task::JoinSet::new();
        let mut periodic = tokio::time::interval(rescan_every);
        periodic.tick().await;
        loop {
            let settle = async {
                if pending {
                    tokio::time::sleep(SETTLE).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                got = rx.recv() => {
                    if got.is_none() {
                        return;
                    }
                    // Debounce: wait until events stop for a moment.
                    while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {}
                }
                () = settle => {}
                _ = periodic.tick() => {}
            }
            while loads.try_join_next().is_some() {}
            pending = rescan(&dir, &mut known, &sup, true, Some(&mut loads)).await;
        }
    });
    Ok(DirWatcher {
        _watcher: watcher,
        task,
    })
}
