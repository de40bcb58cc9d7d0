//! Python: componentize-py over the embedded `sandkit_sdk`.

use super::{find_tool, write_if_changed, Manifest, World, MANIFEST};
use crate::sdk_files;
use anyhow::{anyhow, bail, Context, Result};
use std::path::Path;
use std::process::{Command, Stdio};

/// The componentize-py release the Python SDK is built and tested with.
pub const COMPONENTIZE_PY: &str = "0.25.1";

/// `app.py` and `test_app.py`.
pub(super) fn scaffold(dir: &Path, name: &str, world: World) -> Result<()> {
    let (app, test) = match world {
        World::Collector => (
            include_str!("../../templates/python/collector.py"),
            include_str!("../../templates/python/test_collector.py"),
        ),
        World::Pipeline => (
            include_str!("../../templates/python/pipeline.py"),
            include_str!("../../templates/python/test_pipeline.py"),
        ),
        World::Input => (
            include_str!("../../templates/python/input.py"),
            include_str!("../../templates/python/test_input.py"),
        ),
    };
    super::write_new(&dir.join("app.py"), &super::fill(app, name))?;
    super::write_new(&dir.join("test_app.py"), &super::fill(test, name))
}

pub(super) fn build(dir: &Path, m: &Manifest, out: &Path) -> Result<()> {
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
