//! `sandkit plugin new` and `sandkit plugin build`: one authoring workflow for every guest
//! language. A project is a directory with a `sandkit-plugin.toml` (name, language, world);
//! `build` calls the language's toolchain with the flags our WIT needs and leaves `NAME.wasm`
//! in the project, ready for `sandkit plugin test` and the plugins directory.

mod c;
mod js;
mod python;
mod rust;

use crate::sdk_files;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The manifest of a plugin project.
pub const MANIFEST: &str = "sandkit-plugin.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    Python,
    /// JavaScript (ES modules).
    Js,
    /// TypeScript: built as JavaScript after its types are stripped.
    Ts,
    C,
}

impl Lang {
    fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
            Lang::Ts => "ts",
            Lang::C => "c",
        }
    }
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
    /// The module that declares the plugin: Python, a module name (default "app", i.e. app.py);
    /// JavaScript/TypeScript, a file (default app.js or app.ts).
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

pub(super) fn fill(template: &str, name: &str) -> String {
    template
        .replace("{{name}}", name)
        .replace("{{Type}}", &camel(name))
}

pub(super) fn write_new(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Write `text` to `path` unless it already holds it (so that cargo sees no change).
pub(super) fn write_if_changed(path: &Path, text: &str) -> Result<()> {
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
        World::Collector => include_str!("../../templates/collector.toml"),
        World::Pipeline => include_str!("../../templates/pipeline.toml"),
        World::Input => include_str!("../../templates/input.toml"),
    };
    write_new(&dir.join("conf.toml"), &fill(conf, name))?;
    write_new(
        &dir.join(".gitignore"),
        include_str!("../../templates/gitignore"),
    )?;
    match lang {
        Lang::Rust => rust::scaffold(&dir, name, world)?,
        Lang::Python => python::scaffold(&dir, name, world)?,
        Lang::Js | Lang::Ts => js::scaffold(&dir, name, world, lang == Lang::Ts)?,
        Lang::C => c::scaffold(&dir, name, world)?,
    }
    Ok(dir)
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
        Lang::Python => python::build(dir, &m, &tmp)?,
        Lang::Rust => rust::build(dir, &m, &tmp)?,
        Lang::Js | Lang::Ts => js::build(dir, &m, &tmp)?,
        Lang::C => c::build(dir, &m, &tmp)?,
    }
    // The stamp tells the agent the guest's language (its default memory cap depends on it);
    // the project's conf.toml, when it has one, goes in as the default config that
    // `sandkit doc plugin` documents.
    {
        use std::io::Write;
        let mut tail = sandkit_runtime::guest_lang::stamp(m.lang.as_str(), sdk_version());
        let conf = dir.join("conf.toml");
        match std::fs::read_to_string(&conf) {
            Ok(text) => {
                toml::from_str::<toml::Table>(&text).map_err(|e| {
                    anyhow::anyhow!(
                        "{}: {}",
                        conf.display(),
                        sandkit_conf::toml_message(&text, &e)
                    )
                })?;
                tail = sandkit_runtime::embedded::with_default_conf(tail, &text);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", conf.display())),
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&tail))
            .with_context(|| format!("cannot write {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, &out)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), out.display()))?;
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "built {} ({} {}, {:.1} MB) in {:.1} s",
        out.display(),
        m.lang.as_str(),
        m.world.as_str(),
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(out)
}

/// The contract version of the SDKs this binary embeds (`package sandkit:plugin@X`).
fn sdk_version() -> &'static str {
    sdk_files::WIT
        .lines()
        .find_map(|l| l.trim().strip_prefix("package sandkit:plugin@"))
        .map_or("unknown", |v| v.trim_end_matches(';'))
}

/// Where a tool is: `$env` if set, else `name` on PATH.
pub(super) fn find_tool(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
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
