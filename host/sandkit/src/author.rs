//! `sandkit plugin new` and `sandkit plugin build`: one authoring workflow for every guest
//! language. A project is a directory with a `sandkit-plugin.toml` (name, language, world);
//! `build` calls the language's toolchain with the flags our WIT needs and leaves `NAME.wasm`
//! in the project, ready for `sandkit plugin test` and the plugins directory.

use crate::sdk_files;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The manifest of a plugin project.
pub const MANIFEST: &str = "sandkit-plugin.toml";

/// The componentize-py release the Python SDK is built and tested with.
pub const COMPONENTIZE_PY: &str = "0.25.1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    Python,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum World {
    Collector,
    Pipeline,
    Input,
}

impl World {
    fn as_str(self) -> &'static str {
        match self {
            World::Collector => "collector",
            World::Pipeline => "pipeline",
            World::Input => "input",
        }
    }
}

/// `sandkit-plugin.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name: the output is `NAME.wasm`.
    pub name: String,
    pub lang: Lang,
    pub world: World,
    /// Python: the module that declares the plugin (default "app", i.e. app.py).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
}

/// Whether `name` can name a plugin (it becomes a file name, a crate and a measurement).
fn check_name(name: &str) -> Result<()> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        bail!(
            "{name:?} is not a plugin name: use lower-case letters, digits, '_' and '-', \
             starting with a letter (at most 64)"
        );
    }
    Ok(())
}

fn camel(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn fill(template: &str, name: &str) -> String {
    template
        .replace("{{name}}", name)
        .replace("{{Type}}", &camel(name))
}

fn write_new(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Write `text` to `path` unless it already holds it (so that cargo sees no change).
fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    write_new(path, text)
}

/// `sandkit plugin new NAME`: a project that builds out of the box.
pub fn plugin_new(name: &str, lang: Lang, world: World, dir: Option<&Path>) -> Result<PathBuf> {
    check_name(name)?;
    let dir = dir.map_or_else(|| PathBuf::from(name), Path::to_path_buf);
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        bail!(
            "{} exists and is not empty; choose another name or --dir",
            dir.display()
        );
    }
    let manifest = Manifest {
        name: name.to_string(),
        lang,
        world,
        module: (lang == Lang::Python).then(|| "app".to_string()),
    };
    write_new(
        &dir.join(MANIFEST),
        &format!(
            "# A Sandkit plugin: `sandkit plugin build` makes {name}.wasm from it.\n{}",
            toml::to_string(&manifest)?
        ),
    )?;
    let conf = match world {
        World::Collector => include_str!("../templates/collector.toml"),
        World::Pipeline => include_str!("../templates/pipeline.toml"),
        World::Input => include_str!("../templates/input.toml"),
    };
    write_new(&dir.join("conf.toml"), &fill(conf, name))?;
    write_new(
        &dir.join(".gitignore"),
        include_str!("../templates/gitignore"),
    )?;
    match lang {
        Lang::Python => {
            let (app, test) = match world {
                World::Collector => (
                    include_str!("../templates/python/collector.py"),
                    include_str!("../templates/python/test_collector.py"),
                ),
                World::Pipeline => (
                    include_str!("../templates/python/pipeline.py"),
                    include_str!("../templates/python/test_pipeline.py"),
                ),
                World::Input => (
                    include_str!("../templates/python/input.py"),
                    include_str!("../templates/python/test_input.py"),
                ),
            };
            write_new(&dir.join("app.py"), &fill(app, name))?;
            write_new(&dir.join("test_app.py"), &fill(test, name))?;
        }
        Lang::Rust => {
            let lib = match world {
                World::Collector => include_str!("../templates/rust/collector.rs"),
                World::Pipeline => include_str!("../templates/rust/pipeline.rs"),
                World::Input => include_str!("../templates/rust/input.rs"),
            };
            write_new(&dir.join("src/lib.rs"), &fill(lib, name))?;
            write_new(
                &dir.join("Cargo.toml"),
                &fill(include_str!("../templates/rust/Cargo.toml"), name),
            )?;
            vendor_rust_sdk(&dir)?;
        }
    }
    Ok(dir)
}

/// The Rust SDK and the WIT under `<dir>/.sandkit`, as the scaffolded Cargo.toml expects.
fn vendor_rust_sdk(dir: &Path) -> Result<()> {
    let base = dir.join(".sandkit");
    for (path, text) in sdk_files::RUST_SDK {
        write_if_changed(&base.join("sdk/rust").join(path), text)?;
    }
    write_if_changed(&base.join("wit/plugin.wit"), sdk_files::WIT)
}

/// Read the project's manifest; a Rust project without one is described by its Cargo.toml.
fn manifest_of(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let m: Manifest = toml::from_str(&text)
                .map_err(|e| anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
            check_name(&m.name).with_context(|| format!("{}: name", path.display()))?;
            Ok(m)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if dir.join("Cargo.toml").exists() {
                bail!(
                    "{} has a Cargo.toml but no {MANIFEST}: add one with name, lang = \"rust\" \
                     and world (collector, pipeline or input)",
                    dir.display()
                );
            }
            bail!(
                "{} is not a plugin project (no {MANIFEST}); make one with `sandkit plugin new NAME`",
                dir.display()
            )
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// `sandkit plugin build [DIR]`: `DIR/NAME.wasm` (or `out`).
pub fn plugin_build(dir: &Path, out: Option<&Path>) -> Result<PathBuf> {
    let m = manifest_of(dir)?;
    let out = out.map_or_else(|| dir.join(format!("{}.wasm", m.name)), Path::to_path_buf);
    let started = Instant::now();
    let tmp = out.with_extension("wasm.tmp");
    match m.lang {
        Lang::Python => build_python(dir, &m, &tmp)?,
        Lang::Rust => build_rust(dir, &m, &tmp)?,
    }
    std::fs::rename(&tmp, &out)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), out.display()))?;
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "built {} ({} {}, {:.1} MB) in {:.1} s",
        out.display(),
        match m.lang {
            Lang::Rust => "rust",
            Lang::Python => "python",
        },
        m.world.as_str(),
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(out)
}

/// Where a tool is: `$env` if set, else `name` on PATH.
fn find_tool(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn build_python(dir: &Path, m: &Manifest, out: &Path) -> Result<()> {
    let module = m.module.as_deref().unwrap_or("app");
    if !dir.join(format!("{module}.py")).is_file()
        && !dir.join(module).join("__init__.py").is_file()
    {
        bail!(
            "{}: module {module:?} not found ({module}.py); set `module` in {MANIFEST}",
            dir.display()
        );
    }
    let tool = find_tool("SANDKIT_COMPONENTIZE_PY", "componentize-py").ok_or_else(|| {
        anyhow!(
            "componentize-py not found: install it with `pip install componentize-py=={COMPONENTIZE_PY}` \
             (or `pip install sandkit-sdk`, which pins it), or point SANDKIT_COMPONENTIZE_PY at it"
        )
    })?;
    if let Ok(v) = Command::new(&tool).arg("--version").output() {
        let v = String::from_utf8_lossy(&v.stdout);
        if !v.contains(COMPONENTIZE_PY) {
            eprintln!(
                "warning: {} is {}; the SDK is tested with componentize-py {COMPONENTIZE_PY}",
                tool.display(),
                v.trim()
            );
        }
    }
    // The agent's own SDK and WIT, and an entry module that registers the plugin and exports
    // the SDK's implementation of the world.
    let stage = dir.join(".sandkit/python");
    for (path, text) in sdk_files::PYTHON_SDK {
        write_if_changed(&stage.join("sdk").join(path), text)?;
    }
    write_if_changed(&stage.join("wit/plugin.wit"), sdk_files::WIT)?;
    write_if_changed(
        &stage.join("entry/_sandkit_entry.py"),
        &format!(
            "# Written by `sandkit plugin build`: the module componentize-py builds.\n\
             import {module}  # noqa: F401  (declares the plugin)\n\
             from sandkit_sdk._world import WitWorld  # noqa: F401\n\
             from sandkit_sdk import plugin as _plugin\n\
             if _plugin.registered().kind != '{world}':\n    \
                 raise SystemExit('{MANIFEST} says world = \"{world}\", but the module declares a ' + _plugin.registered().kind)\n",
            world = m.world.as_str()
        ),
    )?;
    let status = Command::new(&tool)
        .arg("-q")
        .arg("-d")
        .arg(stage.join("wit"))
        .arg("-w")
        .arg(m.world.as_str())
        .arg("componentize")
        .arg("-p")
        .arg(stage.join("entry"))
        .arg("-p")
        .arg(stage.join("sdk"))
        .arg("-p")
        .arg(dir)
        .arg("_sandkit_entry")
        .arg("-o")
        .arg(out)
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {}", tool.display()))?;
    if !status.success() {
        let _ = std::fs::remove_file(out);
        bail!(
            "componentize-py failed for {} ({status}); its output is above. Module-level code \
             runs at build time: read files and the clock in init/collect, not on import",
            dir.display()
        );
    }
    Ok(())
}

fn build_rust(dir: &Path, m: &Manifest, out: &Path) -> Result<()> {
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
        vendor_rust_sdk(dir)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("my_plugin-2").is_ok());
        assert!(check_name("2fast").is_err());
        assert!(check_name("Hello").is_err());
        assert!(check_name("a/b").is_err());
        assert_eq!(camel("my_plugin-2"), "MyPlugin2");
    }

    #[test]
    fn a_new_project_has_its_manifest_and_a_clear_error_without_one() {
        let t = tempfile::tempdir().unwrap();
        let dir = plugin_new(
            "hello",
            Lang::Python,
            World::Pipeline,
            Some(&t.path().join("h")),
        )
        .unwrap();
        let m = manifest_of(&dir).unwrap();
        assert_eq!(
            (m.name.as_str(), m.lang, m.world),
            ("hello", Lang::Python, World::Pipeline)
        );
        assert!(std::fs::read_to_string(dir.join("app.py"))
            .unwrap()
            .contains("@pipeline(\"hello\")"));
        let again = plugin_new("hello", Lang::Python, World::Pipeline, Some(&dir)).unwrap_err();
        assert!(again.to_string().contains("not empty"), "{again}");
        let e = manifest_of(t.path()).unwrap_err().to_string();
        assert!(e.contains("sandkit plugin new"), "{e}");
        std::fs::write(
            dir.join(MANIFEST),
            "name = \"hello\"\nlang = \"go\"\nworld = \"input\"\n",
        )
        .unwrap();
        let e = manifest_of(&dir).unwrap_err().to_string();
        assert!(e.contains("sandkit-plugin.toml") && e.contains("go"), "{e}");
    }
}
