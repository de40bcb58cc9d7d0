//! Arbitrary text as a conf.d plugin config: parsing must not panic, and a refusal names the
//! file it is about.
//!
//! Shared by the fuzz target and the corpus replay in `make test`.

use sandkit_runtime::{Limits, PluginConfig};
use std::path::Path;

/// Panics when the property does not hold for `data`.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = PluginConfig::parse(text, Path::new("conf.d/fuzz.toml"), Limits::default()) {
        let message = e.to_string();
        assert!(message.contains("conf.d/fuzz.toml"), "{message}");
    }
}
