//! Rust: cargo for wasm32-wasip2 over the vendored `sandkit-sdk` crate.

use super::{find_tool, write_if_changed, Manifest, World};
use crate::sdk_files;
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `src/lib.rs`, `Cargo.toml` and the vendored SDK.
pub(super) fn scaffold(dir: &Path, name: &str, world: World) -> Result<()> {
    let lib = match world {
        World::Collector => include_str!("../../templates/rust/collector.rs"),
        World::Pipeline => include_str!("../../templates/rust/pipeline.rs"),
        World::Input => include_str!("../../templates/rust/input.rs"),
    };
    super::write_new(&dir.join("src/lib.rs"), &super::fill(lib, name))?;
    super::write_new(
        &dir.join("Cargo.toml"),
        &super::fill(include_str!("../../templates/rust/Cargo.toml"), name),
    )?;
    vendor_sdk(dir)
}

/// The Rust SDK (with the record-encoding crate it depends on) and the WIT under
/// `<dir>/.sandkit`, as the scaffolded Cargo.toml expects.
fn vendor_sdk(dir: &Path) -> Result<()> {
    let base = dir.join(".sandkit");
    for (path, text) in sdk_files::RUST_SDK {
        write_if_changed(&base.join("sdk/rust").join(path), text)?;
    }
    // The SDK's `../records` path dependency.
    for (path, text) in sdk_files::RUST_RECORDS {
        write_if_changed(&base.join("sdk/records").join(path), text)?;
    }
    write_if_changed(&base.join("wit/plugin.wit"), sdk_files::WIT)
}

pub(super) fn build(dir: &Path, m: &Manifest, out: &Path) -> Result<()> {
    let cargo = find_tool("CARGO", "cargo").ok_or_else(|| {
        anyhow!("cargo not found: install Rust with rustup (https://rustup.rs), then `rustup target add wasm32-wasip2`")
    })?;
    if let Ok(o) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    {
        if o.status.success()
            && !String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == "wasm32-wasip2")
        {
            bail!(
                "the wasm32-wasip2 target is not installed: run `rustup target add wasm32-wasip2`"
            );
        }
    }
    if !cargo_toml_has_sdk_elsewhere(dir) {
        vendor_sdk(dir)?;
    }
    let output = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", cargo.display()))?;
    if !output.status.success() {
        bail!(
            "cargo build failed for {} ({}); its output is above",
            dir.display(),
            output.status
        );
    }
    // The last .wasm artifact cargo reports is the project's.
    let mut wasm = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        if let Some(files) = msg["filenames"].as_array() {
            for f in files.iter().filter_map(|f| f.as_str()) {
                if f.ends_with(".wasm") {
                    wasm = Some(PathBuf::from(f));
                }
            }
        }
    }
    let wasm = wasm.ok_or_else(|| {
        anyhow!(
            "cargo built no .wasm for {}: is `crate-type = [\"cdylib\"]` in its [lib]?",
            m.name
        )
    })?;
    std::fs::copy(&wasm, out)
        .with_context(|| format!("cannot copy {} to {}", wasm.display(), out.display()))?;
    Ok(())
}

/// Whether the project's Cargo.toml takes the SDK from somewhere else than the vendored copy
/// (a project inside the Sandkit repository, say): then the copy is not written.
fn cargo_toml_has_sdk_elsewhere(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|t| t.contains("sandkit-sdk") && !t.contains(".sandkit/sdk/rust"))
}
