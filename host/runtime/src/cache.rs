//! The on-disk cache of compiled components.
//!
//! A compiled artifact is keyed by the SHA-256 of the .wasm plus the engine's compatibility hash
//! (wasmtime version and every setting that changes generated code, fuel and epochs included),
//! so an engine never loads code compiled for another configuration. Files are written to a
//! temporary name and renamed into place, so a crash never leaves a half-written artifact under a
//! valid key. Only files this cache wrote are ever deserialized.
//!
//! The directory is bounded (`[runtime] cache_max_bytes`): after each write the least recently
//! used artifacts (by modification time, renewed on each load from the cache) that no loaded
//! plugin uses are removed, never the one just written.

use crate::compile::Compiler;
use crate::RuntimeError;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::Engine;

/// How a component was obtained, for logs and benches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Compiled,
}

/// The artifacts in use (by file name) and the bound on the cache, shared by the caches of the
/// two engines, which write to the same directory.
#[derive(Debug)]
pub(crate) struct CacheShared {
    max_bytes: u64,
    in_use: std::sync::Mutex<HashMap<PathBuf, usize>>,
}

impl CacheShared {
    pub(crate) fn new(max_bytes: u64) -> Arc<Self> {
        Arc::new(CacheShared {
            max_bytes,
            in_use: Default::default(),
        })
    }

    fn in_use(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, usize>> {
        self.in_use.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lease(self: &Arc<Self>, path: &Path) -> ArtifactLease {
        *self.in_use().entry(path.to_path_buf()).or_default() += 1;
        ArtifactLease {
            path: path.to_path_buf(),
            shared: self.clone(),
        }
    }
}

/// Marks an artifact as used by a loaded plugin: eviction keeps it while any lease on it lives.
#[derive(Debug)]
pub struct ArtifactLease {
    path: PathBuf,
    shared: Arc<CacheShared>,
}

impl Drop for ArtifactLease {
    fn drop(&mut self) {
        let mut in_use = self.shared.in_use();
        if let Some(n) = in_use.get_mut(&self.path) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                in_use.remove(&self.path);
            }
        }
    }
}

/// A component from [`ComponentCache::load`].
#[derive(Debug)]
pub struct Cached {
    pub component: Component,
    pub outcome: CacheOutcome,
    /// How long Cranelift took (not counting a wait for another compile), when it compiled.
    pub compile_time: Option<Duration>,
    /// Keeps the artifact from eviction; drop it when the plugin is unloaded.
    pub lease: ArtifactLease,
}

#[derive(Debug)]
pub struct ComponentCache {
    dir: PathBuf,
    engine_key: String,
    /// One compile per hash at a time: plugins load in parallel, and two plugins from the same
    /// file must not write (and map) the same artifact at once; the second finds it cached.
    compiling: std::sync::Mutex<HashMap<String, Arc<std::sync::Mutex<()>>>>,
    shared: Arc<CacheShared>,
}

/// Makes every temporary file name unique within the process.
static TMP_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl ComponentCache {
    /// Open (create) the cache directory for `engine`.
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub(crate) fn new(
        engine: &Engine,
        dir: PathBuf,
        shared: Arc<CacheShared>,
    ) -> Result<Self, RuntimeError> {
        std::fs::create_dir_all(&dir).map_err(|e| RuntimeError::Cache {
            dir: dir.clone(),
            reason: format!("cannot create: {e}"),
        })?;
        // The compatibility hash only implements `Hash`; SipHash with fixed keys is stable for a
        // given build, and a change of toolchain merely causes a recompile.
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let engine_key = format!("{:016x}", h.finish());
        Ok(ComponentCache {
            dir,
            engine_key,
            compiling: Default::default(),
            shared,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The content hash used in keys and shown in status.
    pub fn content_hash(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    fn path_for(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}-{}.cwasm", self.engine_key))
    }

    /// The component for `bytes` (from `file`), from the cache or compiled by `compiler` and
    /// stored; `on_compile` is called with the size of `bytes` just before a compile (not on a
    /// cache hit). Blocks for as long as the compile takes: call it off the async workers.
    ///
    /// # Errors
    /// When `bytes` is not a valid component; cache write failures are logged, not returned.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        compiler: &Compiler,
        file: &Path,
        bytes: &[u8],
        hash: &str,
        on_compile: &mut dyn FnMut(usize),
    ) -> Result<Cached, RuntimeError> {
        check_header(file, bytes)?;
        let one = self
            .compiling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(hash.to_string())
            .or_default()
            .clone();
        let _one_at_a_time = one.lock().unwrap_or_else(|p| p.into_inner());
        let path = self.path_for(hash);
        // Leased before it is looked at: an eviction from now on leaves it alone.
        let lease = self.shared.lease(&path);
        if path.exists() {
            match deserialize(engine, &path) {
                Ok(component) => {
                    touch(&path);
                    return Ok(Cached {
                        component,
                        outcome: CacheOutcome::Hit,
                        compile_time: None,
                        lease,
                    });
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "runtime.cache artifact unusable; recompiling");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        on_compile(bytes.len());
        let size = bytes.len() as f64 / 1e6;
        let waiting = || {
            tracing::info!(file = %file.display(), "runtime.compile {size:.1} MB waits for the compile of another large component");
        };
        let (compiled, compile_time) = {
            // Timed from when it gets its turn.
            let mut started = None;
            let compiled = compiler.precompile(engine, bytes, waiting, &mut started);
            let took = started
                .map(|t: std::time::Instant| t.elapsed())
                .unwrap_or_default();
            (compiled, took)
        };
        let compiled = compiled.map_err(|e| RuntimeError::InvalidComponent {
            file: file.to_path_buf(),
            reason: format!("{e:#}"),
        })?;
        let seq = TMP_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self
            .dir
            .join(format!(".{hash}.{}.{seq}.tmp", std::process::id()));
        let stored = std::fs::write(&tmp, &compiled).and_then(|()| std::fs::rename(&tmp, &path));
        let component = match stored {
            Ok(()) => {
                self.evict(&path);
                deserialize(engine, &path).map_err(|e| RuntimeError::Cache {
                    dir: self.dir.clone(),
                    reason: format!("cannot load what was just compiled: {e}"),
                })?
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                tracing::warn!(dir = %self.dir.display(), error = %e, "runtime.cache cannot store artifact; using it from memory");
                #[allow(unsafe_code)]
                // SAFETY: `compiled` was produced just now by this engine's `precompile_component`.
                let c = unsafe { Component::deserialize(engine, &compiled) };
                c.map_err(|e| RuntimeError::Cache {
                    dir: self.dir.clone(),
                    reason: format!("{e}"),
                })?
            }
        };
        Ok(Cached {
            component,
            outcome: CacheOutcome::Compiled,
            compile_time: Some(compile_time),
            lease,
        })
    }

    /// Keep the directory within `cache_max_bytes` after `written` was stored: remove the least
    /// recently used artifacts that no loaded plugin uses, never `written`.
    fn evict(&self, written: &Path) {
        let in_use = self.shared.in_use();
        match evict(&self.dir, self.shared.max_bytes, written, &in_use) {
            Ok(r) if r.removed > 0 || r.total > self.shared.max_bytes => {
                tracing::info!(
                    dir = %self.dir.display(), removed = r.removed, freed_bytes = r.freed,
                    total_bytes = r.total, max_bytes = self.shared.max_bytes,
                    "runtime.cache evicted the least recently used artifacts{}",
                    if r.total > self.shared.max_bytes {
                        "; still above cache_max_bytes: the rest are in use"
                    } else {
                        ""
                    }
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "runtime.cache cannot list the cache for eviction");
            }
        }
    }
}

/// What one eviction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Eviction {
    removed: usize,
    freed: u64,
    /// Bytes of artifacts left.
    total: u64,
}

/// Remove the artifacts (`*.cwasm`) of `dir` least recently used first (by modification time,
/// which a load from the cache renews) until they take at most `max_bytes`; `keep` and the
/// artifacts in `in_use` are never removed.
fn evict(
    dir: &Path,
    max_bytes: u64,
    keep: &Path,
    in_use: &HashMap<PathBuf, usize>,
) -> std::io::Result<Eviction> {
    let mut artifacts = Vec::new();
    let mut total = 0u64;
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || !name.ends_with(".cwasm") {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        total += meta.len();
        let used = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
        artifacts.push((used, path, meta.len()));
    }
    let mut report = Eviction {
        removed: 0,
        freed: 0,
        total,
    };
    if total <= max_bytes {
        return Ok(report);
    }
    artifacts.sort();
    for (_, path, len) in artifacts {
        if report.total <= max_bytes {
            break;
        }
        if path == keep || in_use.contains_key(&path) {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {
                report.removed += 1;
                report.freed += len;
                report.total -= len;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => report.total -= len,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "runtime.cache cannot remove an artifact");
            }
        }
    }
    Ok(report)
}

/// Mark `path` as just used (its modification time orders eviction). Best effort.
fn touch(path: &Path) {
    let now = std::time::SystemTime::now();
    if let Err(e) = std::fs::File::open(path).and_then(|f| f.set_modified(now)) {
        tracing::debug!(file = %path.display(), error = %e, "runtime.cache cannot touch an artifact");
    }
}

fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    #[allow(unsafe_code)]
    // SAFETY: the cache directory holds only artifacts this cache wrote (via temp file and rename)
    // with this engine's compatibility hash in the name; wasmtime checks the header as well.
    unsafe {
        Component::deserialize_file(engine, path)
    }
}

/// Clear errors for the common ways a file is not a component.
fn check_header(file: &Path, bytes: &[u8]) -> Result<(), RuntimeError> {
    let err = |reason: &str| RuntimeError::InvalidComponent {
        file: file.to_path_buf(),
        reason: reason.to_string(),
    };
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(err("not a WebAssembly file (bad magic number)"));
    }
    // Bytes 4..8: version 1 and layer 0 for a core module, layer 1 for a component.
    if bytes[4..8] == [1, 0, 0, 0] {
        return Err(err(
            "a core WebAssembly module, not a component; build for wasm32-wasip2 or wrap it with `wasm-tools component new`",
        ));
    }
    if bytes[6..8] != [1, 0] {
        return Err(err("unknown WebAssembly encoding version"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::SystemTime;

    /// An artifact of `len` bytes last used `age_s` seconds ago.
    fn artifact(dir: &Path, name: &str, len: usize, age_s: u64) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, vec![0u8; len]).unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(age_s))
            .unwrap();
        p
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn under_the_bound_nothing_is_removed() {
        let d = tempfile::tempdir().unwrap();
        let a = artifact(d.path(), "a.cwasm", 100, 30);
        artifact(d.path(), "b.cwasm", 100, 20);
        let r = evict(d.path(), 200, &a, &HashMap::new()).unwrap();
        assert_eq!(
            r,
            Eviction {
                removed: 0,
                freed: 0,
                total: 200
            }
        );
        assert_eq!(names(d.path()), ["a.cwasm", "b.cwasm"]);
    }

    #[test]
    fn the_least_recently_used_go_first() {
        let d = tempfile::tempdir().unwrap();
        artifact(d.path(), "old.cwasm", 100, 300);
        artifact(d.path(), "older.cwasm", 100, 400);
        artifact(d.path(), "recent.cwasm", 100, 10);
        let new = artifact(d.path(), "new.cwasm", 100, 0);
        let r = evict(d.path(), 250, &new, &HashMap::new()).unwrap();
        assert_eq!(
            r,
            Eviction {
                removed: 2,
                freed: 200,
                total: 200
            }
        );
        assert_eq!(names(d.path()), ["new.cwasm", "recent.cwasm"]);
    }

    #[test]
    fn artifacts_in_use_and_the_one_just_written_stay() {
        let d = tempfile::tempdir().unwrap();
        let used = artifact(d.path(), "used.cwasm", 100, 500);
        artifact(d.path(), "idle.cwasm", 100, 100);
        // The one just written is the oldest by time stamp (a clock step back): still kept.
        let new = artifact(d.path(), "new.cwasm", 100, 1000);
        let in_use = HashMap::from([(used, 1)]);
        let r = evict(d.path(), 50, &new, &in_use).unwrap();
        // Above the bound with what must stay: the caller warns.
        assert_eq!(
            r,
            Eviction {
                removed: 1,
                freed: 100,
                total: 200
            }
        );
        assert_eq!(names(d.path()), ["new.cwasm", "used.cwasm"]);
    }

    #[test]
    fn temporary_and_foreign_files_are_neither_counted_nor_removed() {
        let d = tempfile::tempdir().unwrap();
        artifact(d.path(), ".abc.1.2.tmp", 1000, 900);
        artifact(d.path(), "notes.txt", 1000, 900);
        std::fs::create_dir(d.path().join("dir.cwasm")).unwrap();
        artifact(d.path(), "a.cwasm", 100, 100);
        let new = artifact(d.path(), "b.cwasm", 100, 0);
        let r = evict(d.path(), 150, &new, &HashMap::new()).unwrap();
        assert_eq!(r.removed, 1);
        assert_eq!(r.total, 100);
        assert_eq!(
            names(d.path()),
            [".abc.1.2.tmp", "b.cwasm", "dir.cwasm", "notes.txt"]
        );
    }

    #[test]
    fn leases_mark_artifacts_in_use_until_the_last_is_dropped() {
        let shared = CacheShared::new(0);
        let p = Path::new("/cache/x.cwasm");
        let one = shared.lease(p);
        let two = shared.lease(p);
        assert_eq!(shared.in_use().get(p), Some(&2));
        drop(one);
        assert_eq!(shared.in_use().get(p), Some(&1));
        drop(two);
        assert!(shared.in_use().is_empty());
    }

    #[test]
    fn a_load_from_the_cache_renews_the_artifact() {
        let d = tempfile::tempdir().unwrap();
        let p = artifact(d.path(), "a.cwasm", 10, 3600);
        touch(&p);
        let age = SystemTime::now()
            .duration_since(std::fs::metadata(&p).unwrap().modified().unwrap())
            .unwrap_or_default();
        assert!(age < Duration::from_secs(60), "{age:?}");
    }
}
