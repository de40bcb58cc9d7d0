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

/// `sdk/js`: the `@sandkit/sdk` package, by path inside it (its package.json first).
pub const JS_SDK: &[(&str, &str)] = files!("sdk/js":
    "package.json",
    "src/component.js",
    "src/config.js",
    "src/files.js",
    "src/host.js",
    "src/http.js",
    "src/index.js",
    "src/info.js",
    "src/log.js",
    "src/plugin.js",
    "src/point.js",
    "src/records.js",
    "src/state.js",
    "src/system.js",
    "src/testing.js",
    "src/time.js",
    "src/world-collector.js",
    "src/world-input.js",
    "src/world-pipeline.js",
    "types/index.d.ts",
    "types/testing.d.ts",
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

/// `sdk/records`: the `sandkit-records` crate the Rust SDK depends on (`../records`).
pub const RUST_RECORDS: &[(&str, &str)] = files!("sdk/records":
    "Cargo.toml",
    "src/decode.rs",
    "src/lib.rs",
    "src/read.rs",
    "src/write.rs",
);

/// `sdk/c`: the header, the file that compiles its implementation, and the bindings
/// wit-bindgen generated for each world (`scripts/c-bindings.sh` regenerates them).
pub const C_SDK: &[(&str, &str)] = files!("sdk/c":
    "gen/collector.c",
    "gen/collector.h",
    "gen/input.c",
    "gen/input.h",
    "gen/pipeline.c",
    "gen/pipeline.h",
    "sandkit.c",
    "sandkit.h",
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
        let records: Vec<String> = super::RUST_RECORDS[1..]
            .iter()
            .map(|(p, _)| p.to_string())
            .collect();
        assert_eq!(records, on_disk(&root.join("sdk/records"), "src", ".rs"));
        let js: Vec<String> = super::JS_SDK[1..]
            .iter()
            .map(|(p, _)| p.to_string())
            .collect();
        let mut want = on_disk(&root.join("sdk/js"), "src", ".js");
        want.extend(on_disk(&root.join("sdk/js"), "types", ".d.ts"));
        assert_eq!(js, want);
        let c: Vec<String> = super::C_SDK.iter().map(|(p, _)| p.to_string()).collect();
        let mut disk: Vec<String> = ["sandkit.c", "sandkit.h"].map(String::from).to_vec();
        disk.extend(on_disk(&root.join("sdk/c"), "gen", ".c"));
        disk.extend(on_disk(&root.join("sdk/c"), "gen", ".h"));
        disk.sort();
        assert_eq!(c, disk);
        for name in std::fs::read_dir(root.join("sdk/c")).unwrap() {
            let name = name.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                !name.ends_with(".c") && !name.ends_with(".h") || disk.contains(&name),
                "sdk/c/{name} is not embedded"
            );
        }
    }

    /// sandkit.h says which contract it speaks: the version of the embedded WIT.
    #[test]
    fn the_c_header_names_the_wit_version() {
        let (_, header) = super::C_SDK
            .iter()
            .find(|(p, _)| *p == "sandkit.h")
            .unwrap();
        let version = super::WIT
            .lines()
            .find_map(|l| l.trim().strip_prefix("package sandkit:plugin@"))
            .unwrap()
            .trim_end_matches(';');
        assert!(
            header.contains(&format!("#define SANDKIT_SDK_VERSION \"{version}\"")),
            "sandkit.h does not say {version}"
        );
    }
}
