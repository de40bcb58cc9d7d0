//! The SDKs and the WIT this agent ships, embedded so that `sandkit plugin new/build` gives a
//! project the contract of the agent that builds it, with nothing else to download.

/// `wit/plugin.wit`.
pub const WIT: &str = include_str!("../../../wit/plugin.wit");

macro_rules! files {
    ($base:literal: $($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../", $base, "/", $path)))),*]
    };
}

/// `sdk/python`: the `sandkit_sdk` package, by path inside it.
pub const PYTHON_SDK: &[(&str, &str)] = files!("sdk/python":
    "sandkit_sdk/__init__.py",
    "sandkit_sdk/_host.py",
    "sandkit_sdk/_world.py",
    "sandkit_sdk/config.py",
    "sandkit_sdk/files.py",
    "sandkit_sdk/http.py",
    "sandkit_sdk/info.py",
    "sandkit_sdk/log.py",
    "sandkit_sdk/plugin.py",
    "sandkit_sdk/point.py",
    "sandkit_sdk/records.py",
    "sandkit_sdk/state.py",
    "sandkit_sdk/system.py",
    "sandkit_sdk/testing.py",
    "sandkit_sdk/time.py",
);

/// `sdk/rust`: the `sandkit-sdk` crate, by path inside it.
pub const RUST_SDK: &[(&str, &str)] = files!("sdk/rust":
    "Cargo.toml",
    "src/config.rs",
    "src/http.rs",
    "src/info.rs",
    "src/lib.rs",
    "src/point.rs",
    "src/records.rs",
    "src/time.rs",
);

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn on_disk(dir: &Path, sub: &str, ext: &str) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(ext))
            .map(|n| format!("{sub}/{n}"))
            .collect();
        out.sort();
        out
    }

    /// A file added to an SDK must be embedded too, or scaffolded projects would miss it.
    #[test]
    fn every_sdk_file_is_embedded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let py: Vec<String> = super::PYTHON_SDK
            .iter()
            .map(|(p, _)| p.to_string())
            .collect();
        assert_eq!(py, on_disk(&root.join("sdk/python"), "sandkit_sdk", ".py"));
        let rs: Vec<String> = super::RUST_SDK[1..]
            .iter()
            .map(|(p, _)| p.to_string())
            .collect();
        assert_eq!(rs, on_disk(&root.join("sdk/rust"), "src", ".rs"));
    }
}
