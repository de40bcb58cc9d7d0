//! The on-disk cache of compiled components.
//!
//! A compiled artifact is keyed by the SHA-256 of the .wasm plus the engine's compatibility hash
//! (wasmtime version and every setting that changes generated code, fuel and epochs included),
//! so an engine never loads code compiled for another configuration. Files are written to a
//! temporary name and renamed into place, so a crash never leaves a half-written artifact under a
//! valid key. Only files this cache wrote are ever deserialized.

use crate::RuntimeError;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

/// How a component was obtained, for logs and benches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Compiled,
}

#[derive(Debug)]
pub struct ComponentCache {
    dir: PathBuf,
    engine_key: String,
    /// One compile per hash at a time: plugins load in parallel, and two plugins from the same
    /// file must not write (and map) the same artifact at once; the second finds it cached.
    compiling:
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<std::sync::Mutex<()>>>>,
}

/// Makes every temporary file name unique within the process.
static TMP_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl ComponentCache {
    /// Open (create) the cache directory for `engine`.
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub fn new(engine: &Engine, dir: PathBuf) -> Result<Self, RuntimeError> {
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

    /// The component for `bytes` (from `file`), from the cache or compiled and stored.
    ///
    /// # Errors
    /// When `bytes` is not a valid component; cache write failures are logged, not returned.
    pub fn load(
        &self,
        engine: &Engine,
        file: &Path,
        bytes: &[u8],
        hash: &str,
    ) -> Result<(Component, CacheOutcome), RuntimeError> {
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
        if path.exists() {
            match deserialize(engine, &path) {
                Ok(c) => return Ok((c, CacheOutcome::Hit)),
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "runtime.cache artifact unusable; recompiling");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let compiled =
            engine
                .precompile_component(bytes)
                .map_err(|e| RuntimeError::InvalidComponent {
                    file: file.to_path_buf(),
                    reason: format!("{e:#}"),
                })?;
        let seq = TMP_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self
            .dir
            .join(format!(".{hash}.{}.{seq}.tmp", std::process::id()));
        let stored = std::fs::write(&tmp, &compiled).and_then(|()| std::fs::rename(&tmp, &path));
        match stored {
            Ok(()) => match deserialize(engine, &path) {
                Ok(c) => Ok((c, CacheOutcome::Compiled)),
                Err(e) => Err(RuntimeError::Cache {
                    dir: self.dir.clone(),
                    reason: format!("cannot load what was just compiled: {e}"),
                }),
            },
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                tracing::warn!(dir = %self.dir.display(), error = %e, "runtime.cache cannot store artifact; using it from memory");
                #[allow(unsafe_code)]
                // SAFETY: `compiled` was produced just now by this engine's `precompile_component`.
                let c = unsafe { Component::deserialize(engine, &compiled) };
                c.map(|c| (c, CacheOutcome::Compiled))
                    .map_err(|e| RuntimeError::Cache {
                        dir: self.dir.clone(),
                        reason: format!("{e}"),
                    })
            }
        }
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
