//! The `state` import: a plugin's key-value state, kept by the host across instances (in
//! memory) and capped by the plugin's `[limits] state`.

use super::HostState;
use crate::bindings::collector::sandkit::plugin::state;
use std::collections::BTreeMap;
use wasmtime::Result;

/// Per-plugin key-value state that outlives instances.
#[derive(Debug, Default)]
pub struct StateStore {
    map: BTreeMap<String, Vec<u8>>,
    bytes: u64,
}

/// What one state entry costs the agent beyond its key and value bytes (the map's node share
/// and two heap headers), counted against the plugin's state cap: a million empty keys under a
/// 1 MiB cap took 26 MB before it was.
pub const STATE_ENTRY_OVERHEAD: u64 = 64;

impl StateStore {
    fn size_of(k: &str, v: &[u8]) -> u64 {
        (k.len() + v.len()) as u64 + STATE_ENTRY_OVERHEAD
    }

    /// Bytes counted against the cap (keys, values and [`STATE_ENTRY_OVERHEAD`] per entry).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl state::Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>> {
        Ok(self
            .state
            .lock()
            .ok()
            .and_then(|s| s.map.get(&key).cloned()))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<std::result::Result<(), String>> {
        let Ok(mut s) = self.state.lock() else {
            return Ok(Err("state store unavailable".into()));
        };
        let old = s.map.get(&key).map_or(0, |v| StateStore::size_of(&key, v));
        let new_total = s.bytes - old + StateStore::size_of(&key, &value);
        if new_total > self.limits.state_bytes {
            return Ok(Err(format!(
                "state would grow to {new_total} bytes, above the cap of {}",
                self.limits.state_bytes
            )));
        }
        s.bytes = new_total;
        s.map.insert(key, value);
        Ok(Ok(()))
    }

    fn delete(&mut self, key: String) -> Result<()> {
        if let Ok(mut s) = self.state.lock() {
            if let Some(v) = s.map.remove(&key) {
                s.bytes -= StateStore::size_of(&key, &v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Limits, PluginConfig};
    use std::sync::{Arc, Mutex};

    #[test]
    fn many_small_state_keys_are_counted_with_their_overhead() {
        // The bug: 1M empty keys fitted under the 1 MiB cap and took 26 MB of the agent.
        let config = PluginConfig::default_with(Limits {
            state_bytes: 1 << 20,
            ..Limits::default()
        });
        let store = Arc::new(Mutex::new(StateStore::default()));
        let mut hs = HostState::new(Arc::from("statekeys"), &config, store.clone()).unwrap();
        let mut n = 0u64;
        while state::Host::set(&mut hs, format!("k{n}"), Vec::new())
            .unwrap()
            .is_ok()
        {
            n += 1;
        }
        let s = store.lock().unwrap();
        assert!(n < (1 << 20) / STATE_ENTRY_OVERHEAD, "{n} keys");
        assert_eq!(s.len() as u64, n);
        assert!(s.bytes() <= 1 << 20);
    }
}
