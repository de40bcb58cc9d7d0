//! Fleet config: plugin configs kept in etcd under a key prefix (`<prefix><plugin>.toml`, each
//! value a conf.d file), the analog of InLong's Manager fetcher. The agent takes a snapshot of
//! the prefix, then watches it from the snapshot's revision, and writes each valid config into a
//! directory beside conf.d that the plugins directory watcher follows, so a fleet config is
//! applied like a local file (and a local conf.d file of the same plugin wins). A config that
//! does not validate is refused with its error and the last good one stays.

use etcd_client::{Client, ConnectOptions, EventType, GetOptions, KeyValue, WatchOptions};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Where fleet configs come from and go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSettings {
    pub endpoints: Vec<String>,
    /// Key prefix, e.g. "sandkit/conf.d/".
    pub prefix: String,
    /// Where the configs are written (`<data_dir>/fleet.d`).
    pub dir: PathBuf,
    /// Whether `[sandbox]` grants are taken from etcd (the validator enforces it).
    pub allow_sandbox: bool,
}

/// One plugin's fleet config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetKey {
    pub key: String,
    /// The etcd revision of the version seen last.
    pub mod_revision: i64,
    /// Whether that version is the one in effect (false: refused, the previous one stays).
    pub applied: bool,
    pub error: Option<String>,
}

/// What the agent took from etcd.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FleetStatus {
    pub prefix: String,
    /// The etcd revision the agent is up to date with (0: not synchronised yet).
    pub revision: i64,
    /// By plugin name.
    pub keys: BTreeMap<String, FleetKey>,
    pub last_error: Option<String>,
}

/// Checks a config's text for plugin `name` (the conf.d rules); the error is shown as is.
pub type Validate = Arc<dyn Fn(&str, &str) -> Result<(), String> + Send + Sync>;

/// A running fleet watch.
#[derive(Debug)]
pub struct Fleet {
    status: watch::Receiver<FleetStatus>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// The first line of a config file written from etcd, followed by `<key>@<mod_revision>`; the
/// runtime reads it back as the config's version (`PluginConfig::version`).
const HEADER: &str = "# fleet: ";

impl Fleet {
    /// Starts watching (on the current tokio runtime).
    pub fn start(settings: FleetSettings, validate: Validate) -> Fleet {
        let (tx, status) = watch::channel(FleetStatus {
            prefix: settings.prefix.clone(),
            ..FleetStatus::default()
        });
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(settings, validate, tx, stop_rx));
        Fleet {
            status,
            stop,
            task: Some(task),
        }
    }

    pub fn status(&self) -> watch::Receiver<FleetStatus> {
        self.status.clone()
    }

    /// Waits until the first snapshot is applied (or `limit` passes, or etcd fails first).
    pub async fn first_sync(&self, limit: Duration) {
        let mut rx = self.status.clone();
        let _ = timeout(
            limit,
            rx.wait_for(|s| s.revision > 0 || s.last_error.is_some()),
        )
        .await;
    }

    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = timeout(Duration::from_secs(5), t).await;
        }
    }
}

async fn run(
    settings: FleetSettings,
    validate: Validate,
    status: watch::Sender<FleetStatus>,
    mut stop: watch::Receiver<bool>,
) {
    if let Err(e) = std::fs::create_dir_all(&settings.dir) {
        let why = format!("cannot create {}: {e}", settings.dir.display());
        tracing::error!("fleet.start: {why}");
        status.send_modify(|s| s.last_error = Some(why));
        return;
    }
    tracing::info!(prefix = %settings.prefix, endpoints = ?settings.endpoints, dir = %settings.dir.display(), "fleet.start: following plugin configs in etcd");
    let mut backoff = Duration::from_millis(200);
    loop {
        let started = tokio::time::Instant::now();
        let r = tokio::select! {
            r = round(&settings, &validate, &status) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        if let Err(why) = r {
            tracing::warn!(prefix = %settings.prefix, "fleet.retry: {why}");
            status.send_modify(|s| s.last_error = Some(why));
        }
        // A round that lasted was a working watch: start the backoff again.
        if started.elapsed() > Duration::from_secs(10) {
            backoff = Duration::from_millis(200);
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

async fn round(
    settings: &FleetSettings,
    validate: &Validate,
    status: &watch::Sender<FleetStatus>,
) -> Result<(), String> {
    let limit = Duration::from_secs(5);
    let options = ConnectOptions::new()
        .with_connect_timeout(limit)
        .with_keep_alive(Duration::from_secs(5), Duration::from_secs(5));
    let mut client = timeout(limit, Client::connect(&settings.endpoints, Some(options)))
        .await
        .map_err(|_| "connecting to etcd: no answer".to_string())?
        .map_err(|e| format!("connecting to etcd: {e}"))?;
    let snapshot = timeout(
        limit,
        client.get(
            settings.prefix.as_str(),
            Some(GetOptions::new().with_prefix()),
        ),
    )
    .await
    .map_err(|_| "reading the prefix: no answer".to_string())?
    .map_err(|e| format!("reading the prefix: {e}"))?;
    let revision = snapshot.header().map_or(0, |h| h.revision());
    let mut present = Vec::new();
    for kv in snapshot.kvs() {
        if let Some(name) = put(settings, validate, status, kv) {
            present.push(name);
        }
    }
    // Files of keys deleted while the agent was not watching.
    for (name, _) in fleet_files(&settings.dir) {
        if !present.contains(&name) {
            delete(settings, status, &name);
        }
    }
    status.send_modify(|s| {
        s.revision = revision;
        s.last_error = None;
    });
    let mut stream = client
        .watch(
            settings.prefix.as_str(),
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(revision + 1),
            ),
        )
        .await
        .map_err(|e| format!("watching the prefix: {e}"))?;
    loop {
        let msg = stream
            .message()
            .await
            .map_err(|e| format!("watching the prefix: {e}"))?
            .ok_or("the watch stream ended")?;
        if msg.canceled() {
            return Err(format!("the watch was canceled: {}", msg.cancel_reason()));
        }
        for ev in msg.events() {
            let Some(kv) = ev.kv() else { continue };
            match ev.event_type() {
                EventType::Put => {
                    put(settings, validate, status, kv);
                }
                EventType::Delete => {
                    if let Some(name) = plugin_of(&settings.prefix, kv) {
                        delete(settings, status, &name);
                    }
                }
            }
        }
        if let Some(h) = msg.header() {
            let rev = h.revision();
            status.send_if_modified(|s| {
                let changed = s.revision != rev;
                s.revision = rev;
                changed
            });
        }
    }
}

/// The plugin a key is the config of: `<prefix><name>.toml`, `name` a plugin name.
fn plugin_of(prefix: &str, kv: &KeyValue) -> Option<String> {
    let key = kv.key_str().ok()?;
    let name = key.strip_prefix(prefix)?.strip_suffix(".toml")?;
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    ok.then(|| name.to_string())
}

/// Applies a put: the plugin's name when the key is a plugin config.
fn put(
    settings: &FleetSettings,
    validate: &Validate,
    status: &watch::Sender<FleetStatus>,
    kv: &KeyValue,
) -> Option<String> {
    let key = String::from_utf8_lossy(kv.key()).into_owned();
    let Some(name) = plugin_of(&settings.prefix, kv) else {
        tracing::warn!(key = %key, "fleet.config ignored: not <prefix><plugin>.toml");
        return None;
    };
    let rev = kv.mod_revision();
    let checked = kv
        .value_str()
        .map_err(|e| format!("not UTF-8: {e}"))
        .and_then(|text| validate(&name, text).map(|()| text));
    let outcome = match checked {
        Ok(text) => write_config(
            &settings.dir,
            &name,
            &format!("{HEADER}{key}@{rev}\n{text}"),
        ),
        Err(e) => Err(e),
    };
    let entry = match outcome {
        Ok(()) => {
            tracing::info!(plugin = %name, key = %key, mod_revision = rev, "fleet.config applied");
            FleetKey {
                key,
                mod_revision: rev,
                applied: true,
                error: None,
            }
        }
        Err(e) => {
            tracing::error!(plugin = %name, key = %key, mod_revision = rev, "fleet.config refused: {e}; the last good config stays");
            FleetKey {
                key,
                mod_revision: rev,
                applied: false,
                error: Some(e),
            }
        }
    };
    status.send_modify(|s| {
        s.keys.insert(name.clone(), entry);
    });
    Some(name)
}

fn delete(settings: &FleetSettings, status: &watch::Sender<FleetStatus>, name: &str) {
    let file = settings.dir.join(format!("{name}.toml"));
    match std::fs::remove_file(&file) {
        Ok(()) => tracing::info!(plugin = %name, "fleet.config removed"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(file = %file.display(), error = %e, "fleet.config cannot remove"),
    }
    status.send_modify(|s| {
        s.keys.remove(name);
    });
}

/// Writes `text` to `<dir>/<name>.toml` through a temporary file (the watcher never sees half a
/// file), unless the file already holds it.
fn write_config(dir: &Path, name: &str, text: &str) -> Result<(), String> {
    let file = dir.join(format!("{name}.toml"));
    // The same config under a new revision (a re-put) is not a change: the plugin keeps
    // running, and its version stays the first revision of that text.
    let body = |t: &str| t.split_once('\n').map_or("", |(_, b)| b).to_string();
    if std::fs::read_to_string(&file).is_ok_and(|old| body(&old) == body(text)) {
        return Ok(());
    }
    let tmp = dir.join(format!(".{name}.toml.tmp"));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &file))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))
}

/// The `*.toml` files of the fleet directory, by plugin name.
fn fleet_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .filter_map(|e| {
            let p = e.path();
            let name = p.file_name()?.to_str()?.strip_suffix(".toml")?.to_string();
            (!name.starts_with('.')).then_some((name, p))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_is_written_whole_and_only_when_it_changed() {
        let d = tempfile::tempdir().unwrap();
        write_config(d.path(), "cpu", "# fleet: k@1\na = 1\n").unwrap();
        let f = d.path().join("cpu.toml");
        let before = std::fs::metadata(&f).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        // A re-put of the same text (a new revision) changes nothing.
        write_config(d.path(), "cpu", "# fleet: k@2\na = 1\n").unwrap();
        assert_eq!(std::fs::metadata(&f).unwrap().modified().unwrap(), before);
        write_config(d.path(), "cpu", "# fleet: k@3\na = 2\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&f).unwrap(),
            "# fleet: k@3\na = 2\n"
        );
        assert_eq!(
            fleet_files(d.path()),
            vec![("cpu".to_string(), f)],
            "no temporary file left"
        );
    }
}
