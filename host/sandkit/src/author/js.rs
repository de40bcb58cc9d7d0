//! JavaScript and TypeScript: the embedded `@sandkit/sdk`, bundled with rolldown (which also
//! strips TypeScript) and componentized with componentize-js, both driven by a small node
//! script embedded here (no jco CLI). The toolchain is the npm tree of
//! `sdk/js/toolchain/package.json`: `$SANDKIT_JS_TOOLCHAIN`, else the project's own
//! `node_modules` (the scaffolded package.json pins it), else `~/.cache/sandkit/js` (`make jsdeps`).

use super::{find_tool, write_if_changed, write_new, Lang, Manifest, World, MANIFEST};
use crate::sdk_files;
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The node script that bundles and componentizes (`sdk/js/toolchain/build.mjs`).
const BUILD_SCRIPT: &str = include_str!("../../../../sdk/js/toolchain/build.mjs");
/// The pinned toolchain: its dependencies go into a scaffolded project's package.json.
const TOOLCHAIN_PACKAGE: &str = include_str!("../../../../sdk/js/toolchain/package.json");
/// The componentize-js release the SDK is built and tested with.
pub const COMPONENTIZE_JS: &str = "0.23.0";
const COMPONENTIZE_DIR: &str = "node_modules/@bytecodealliance/componentize-js";

fn default_module(ts: bool) -> &'static str {
    if ts {
        "app.ts"
    } else {
        "app.js"
    }
}

/// `app.js` (or `app.ts`), a test for `node --test`, a package.json pinning the toolchain and
/// the SDK staged under `.sandkit/js/sdk` (which package.json links as `@sandkit/sdk`).
pub(super) fn scaffold(dir: &Path, name: &str, world: World, ts: bool) -> Result<()> {
    let (js, ts_src, test) = match world {
        World::Collector => (
            include_str!("../../templates/js/collector.js"),
            include_str!("../../templates/ts/collector.ts"),
            include_str!("../../templates/js/collector.test.js"),
        ),
        World::Pipeline => (
            include_str!("../../templates/js/pipeline.js"),
            include_str!("../../templates/ts/pipeline.ts"),
            include_str!("../../templates/js/pipeline.test.js"),
        ),
        World::Input => (
            include_str!("../../templates/js/input.js"),
            include_str!("../../templates/ts/input.ts"),
            include_str!("../../templates/js/input.test.js"),
        ),
    };
    let module = default_module(ts);
    write_new(
        &dir.join(module),
        &super::fill(if ts { ts_src } else { js }, name),
    )?;
    write_new(
        &dir.join("app.test.js"),
        &super::fill(test, name).replace("{{module}}", module),
    )?;
    write_new(&dir.join("package.json"), &package_json(name)?)?;
    if ts {
        write_new(
            &dir.join("tsconfig.json"),
            include_str!("../../templates/ts/tsconfig.json"),
        )?;
    }
    let ignore = dir.join(".gitignore");
    let mut text = std::fs::read_to_string(&ignore).unwrap_or_default();
    text.push_str("node_modules/\n");
    write_new(&ignore, &text)?;
    stage_sdk(&dir.join(".sandkit/js"))
}

/// The project's package.json: `npm install` links the staged SDK and installs the toolchain
/// at the versions this agent was tested with; `npm test` runs the tests on node.
fn package_json(name: &str) -> Result<String> {
    let toolchain: serde_json::Value =
        serde_json::from_str(TOOLCHAIN_PACKAGE).context("the embedded toolchain package.json")?;
    let mut dev = serde_json::Map::new();
    dev.insert("@sandkit/sdk".into(), "file:.sandkit/js/sdk".into());
    if let Some(deps) = toolchain["dependencies"].as_object() {
        dev.extend(deps.clone());
    }
    let pkg = serde_json::json!({
        "name": name,
        "version": "0.1.0",
        "private": true,
        "type": "module",
        "scripts": {
            "build": "sandkit plugin build",
            "test": "node --test",
        },
        "devDependencies": dev,
    });
    Ok(serde_json::to_string_pretty(&pkg)? + "\n")
}

/// The agent's SDK (`@sandkit/sdk`) under `stage/sdk`; files of an SDK staged by another
/// agent version that this one lacks are removed (a stale module could shadow a new one).
fn stage_sdk(stage: &Path) -> Result<()> {
    let sdk = stage.join("sdk");
    for (path, text) in sdk_files::JS_SDK {
        write_if_changed(&sdk.join(path), text)?;
    }
    remove_stale(&sdk, &sdk)
}

fn remove_stale(root: &Path, dir: &Path) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            remove_stale(root, &path)?;
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        if !sdk_files::JS_SDK.iter().any(|(p, _)| *p == rel) {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove the stale {}", path.display()))?;
        }
    }
    Ok(())
}

/// Where the toolchain's node_modules are: `$SANDKIT_JS_TOOLCHAIN`, the project, the cache.
fn toolchain(dir: &Path) -> Result<PathBuf> {
    if let Some(t) = std::env::var_os("SANDKIT_JS_TOOLCHAIN").filter(|t| !t.is_empty()) {
        let t = PathBuf::from(t);
        if !t.join(COMPONENTIZE_DIR).is_dir() {
            bail!(
                "SANDKIT_JS_TOOLCHAIN={} has no {COMPONENTIZE_DIR}: run `npm ci` there with \
                 sdk/js/toolchain/package.json and package-lock.json (`make jsdeps` does)",
                t.display()
            );
        }
        return Ok(t);
    }
    let cache = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sandkit/js"));
    [Some(dir.to_path_buf()), cache]
        .into_iter()
        .flatten()
        .find(|d| d.join(COMPONENTIZE_DIR).is_dir())
        .ok_or_else(|| {
            anyhow!(
                "the JavaScript toolchain is not installed: run `npm install` in {} (its \
                 package.json pins @bytecodealliance/componentize-js {COMPONENTIZE_JS} and \
                 rolldown), or point SANDKIT_JS_TOOLCHAIN at a directory where they are installed",
                dir.display()
            )
        })
}

fn warn_on_other_version(toolchain: &Path) {
    let pkg = toolchain.join(COMPONENTIZE_DIR).join("package.json");
    let version = std::fs::read_to_string(&pkg)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(str::to_string));
    if let Some(v) = version.filter(|v| v != COMPONENTIZE_JS) {
        eprintln!(
            "warning: {} has componentize-js {v}; the SDK is tested with {COMPONENTIZE_JS}",
            toolchain.display()
        );
    }
}

pub(super) fn build(dir: &Path, m: &Manifest, out: &Path) -> Result<()> {
    let module = m
        .module
        .clone()
        .unwrap_or_else(|| default_module(m.lang == Lang::Ts).to_string());
    if Path::new(&module).is_absolute() || module.split(['/', '\\']).any(|p| p == "..") {
        bail!(
            "{}: module {module:?} must be a path inside the project",
            dir.display()
        );
    }
    if !dir.join(&module).is_file() {
        bail!(
            "{}: module {module:?} not found; set `module` in {MANIFEST} (a .js or .ts file of \
             the project)",
            dir.display()
        );
    }
    let node = find_tool("SANDKIT_NODE", "node").ok_or_else(|| {
        anyhow!("node not found: install Node.js 20 or later (or point SANDKIT_NODE at it)")
    })?;
    let toolchain = toolchain(dir)?;
    warn_on_other_version(&toolchain);
    let dir =
        std::fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let stage = dir.join(".sandkit/js");
    stage_sdk(&stage)?;
    write_if_changed(&stage.join("plugin.wit"), sdk_files::WIT)?;
    write_if_changed(&stage.join("build.mjs"), BUILD_SCRIPT)?;
    // The entry evaluates the author's module (which declares the plugin), then the world's
    // exports, which check that the declared kind is the manifest's world.
    let world = m.world.as_str();
    let import = format!("../../{}", module.replace('\\', "/"));
    write_if_changed(
        &stage.join("entry.js"),
        &format!(
            "// Written by `sandkit plugin build`: the module that is bundled and componentized.\n\
             import {import:?};\n\
             export * from './sdk/src/world-{world}.js';\n"
        ),
    )?;
    let out_abs = if out.is_absolute() {
        out.to_path_buf()
    } else {
        std::env::current_dir()?.join(out)
    };
    let args = serde_json::json!({
        "toolchain": toolchain,
        "entry": stage.join("entry.js"),
        "sdk": stage.join("sdk/src/index.js"),
        "project": dir,
        "wit": stage.join("plugin.wit"),
        "world": world,
        "bundle": stage.join("bundle.js"),
        "out": out_abs,
    });
    let status = Command::new(&node)
        .arg(stage.join("build.mjs"))
        .arg(args.to_string())
        .current_dir(&dir)
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {}", node.display()))?;
    if !status.success() {
        let _ = std::fs::remove_file(&out_abs);
        bail!(
            "the JavaScript build failed for {} ({status}); its output is above. Module-level \
             code runs at build time: read files and the clock in init/collect, not on import",
            dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scaffold_pins_the_toolchain_and_links_the_staged_sdk() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("p");
        super::super::plugin_new("p", Lang::Ts, World::Input, Some(&dir)).unwrap();
        let pkg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).unwrap())
                .unwrap();
        let dev = &pkg["devDependencies"];
        assert_eq!(dev["@bytecodealliance/componentize-js"], COMPONENTIZE_JS);
        assert_eq!(dev["@sandkit/sdk"], "file:.sandkit/js/sdk");
        assert!(dev["rolldown"]
            .as_str()
            .is_some_and(|v| !v.starts_with('^')));
        assert!(dir.join(".sandkit/js/sdk/types/index.d.ts").is_file());
        assert!(dir.join(".sandkit/js/sdk/package.json").is_file());
        let app = std::fs::read_to_string(dir.join("app.ts")).unwrap();
        assert!(app.contains("input('p'"), "{app}");
        let test = std::fs::read_to_string(dir.join("app.test.js")).unwrap();
        assert!(test.contains("./app.ts") && !test.contains("{{"), "{test}");
        assert!(std::fs::read_to_string(dir.join(".gitignore"))
            .unwrap()
            .contains("node_modules/"));
    }

    #[test]
    fn a_missing_module_is_named() {
        let t = tempfile::tempdir().unwrap();
        let m = Manifest {
            name: "x".into(),
            lang: Lang::Js,
            world: World::Collector,
            module: Some("main.js".into()),
        };
        let e = build(t.path(), &m, &t.path().join("x.wasm"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"main.js\" not found") && e.contains(MANIFEST),
            "{e}"
        );
    }
}
