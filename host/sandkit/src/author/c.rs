//! C: clang for wasm32-wasi (wasi-libc is WASI preview 1), then the component step here, in
//! process: the world's type information from the agent's own WIT is embedded in the module and
//! `wit-component` wraps it with the preview-1 reactor adapter of the wasmtime release we run.
//! No wasm-tools, no object file of component types.

use super::{find_tool, write_if_changed, Manifest, World};
use crate::sdk_files;
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Debian packages of the toolchain (clang 19 targets wasm32-wasi with them).
pub const APT_PACKAGES: &str = "clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32";

/// Where `sandkit plugin build` stages the SDK in a project.
const STAGE: &str = ".sandkit/c";

/// `app.c` and the staged SDK (so that an editor finds `sandkit.h` before the first build).
pub(super) fn scaffold(dir: &Path, name: &str, world: World) -> Result<()> {
    let app = match world {
        World::Collector => include_str!("../../templates/c/collector.c"),
        World::Pipeline => include_str!("../../templates/c/pipeline.c"),
        World::Input => include_str!("../../templates/c/input.c"),
    };
    super::write_new(&dir.join("app.c"), &super::fill(app, name))?;
    stage_sdk(dir).map(|_| ())
}

/// The header, its implementation file and the generated bindings under `DIR/.sandkit/c`.
fn stage_sdk(dir: &Path) -> Result<PathBuf> {
    let stage = dir.join(STAGE);
    for (path, text) in sdk_files::C_SDK {
        write_if_changed(&stage.join(path), text)?;
    }
    Ok(stage)
}

/// `$SANDKIT_CLANG`, else `clang-19`, else `clang` on PATH.
fn find_clang() -> Result<PathBuf> {
    find_tool("SANDKIT_CLANG", "clang-19")
        .or_else(|| find_tool("SANDKIT_CLANG", "clang"))
        .ok_or_else(|| {
            anyhow!(
                "clang not found: install it with `sudo apt-get install {APT_PACKAGES}` \
                 (Debian, Ubuntu), or point SANDKIT_CLANG at a clang that targets wasm32-wasi"
            )
        })
}

/// Whether `clang` finds what a wasm32-wasi reactor links against; an error that names the
/// packages otherwise (clang's own message would be about a missing crt1-reactor.o). Asked
/// after a failed compile.
fn check_toolchain(clang: &Path) -> Result<()> {
    let ask = |arg: &str| -> Result<String> {
        let o = Command::new(clang)
            .args(["--target=wasm32-wasi", arg])
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {}", clang.display()))?;
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let missing = |what: &str, package: &str| {
        anyhow!(
            "{} cannot build for wasm32-wasi: {what} is missing; install it with \
             `sudo apt-get install {package}` (all of it: `sudo apt-get install {APT_PACKAGES}`)",
            clang.display()
        )
    };
    if !Path::new(&ask("-print-file-name=crt1-reactor.o")?).is_file() {
        return Err(missing("wasi-libc (crt1-reactor.o)", "wasi-libc"));
    }
    if !Path::new(&ask("-print-libgcc-file-name")?).is_file() {
        return Err(missing(
            "the compiler runtime for wasm32",
            "libclang-rt-19-dev-wasm32",
        ));
    }
    if !Path::new(&ask("-print-prog-name=wasm-ld")?).is_file() {
        return Err(missing("the linker wasm-ld", "lld-19"));
    }
    Ok(())
}

/// The project's C files: every `*.c` in its directory, sorted.
fn sources(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "c") && p.is_file())
        .collect();
    out.sort();
    if out.is_empty() {
        bail!(
            "{}: no .c file; a C plugin is the .c files of its directory (see app.c of \
             `sandkit plugin new NAME --lang c`)",
            dir.display()
        );
    }
    Ok(out)
}

pub(super) fn build(dir: &Path, m: &Manifest, out: &Path) -> Result<()> {
    let clang = find_clang()?;
    let sources = sources(dir)?;
    let stage = stage_sdk(dir)?;
    let world = m.world.as_str();
    let core = stage.join(format!("{}.core.wasm", m.name));
    let status = Command::new(&clang)
        .args([
            "--target=wasm32-wasi",
            "-mexec-model=reactor",
            "-O2",
            "-std=gnu17",
            "-Wall",
            // The stack below the data, as Rust lays it out: an overflow is an out-of-bounds
            // access (a trap), never a write over the heap; 1 MiB as Rust's.
            "-Wl,--stack-first,-z,stack-size=1048576",
            "-Wl,--strip-all",
        ])
        .arg(format!("-DSANDKIT_WORLD_{}", world.to_ascii_uppercase()))
        .arg("-I")
        .arg(&stage)
        .arg("-I")
        .arg(stage.join("gen"))
        .args(&sources)
        .arg(stage.join("sandkit.c"))
        .arg(stage.join(format!("gen/{world}.c")))
        .arg("-o")
        .arg(&core)
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {}", clang.display()))?;
    if !status.success() {
        // A missing part of the toolchain makes clang fail with a message about crt1-reactor.o
        // or wasm-ld: name the package instead (asked only now, not on every build).
        check_toolchain(&clang)?;
        bail!(
            "{} failed for {} ({status}); its output is above",
            clang.display(),
            dir.display()
        );
    }
    let module = std::fs::read(&core).with_context(|| format!("cannot read {}", core.display()))?;
    let component = componentize(module, m.world)
        .with_context(|| format!("cannot make a component of {}", core.display()))?;
    std::fs::write(out, component).with_context(|| format!("cannot write {}", out.display()))
}

/// A component of a wasm32-wasi (preview 1) reactor module built for `world`.
pub(crate) fn componentize(mut module: Vec<u8>, world: World) -> Result<Vec<u8>> {
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_source("plugin.wit", sdk_files::WIT)?;
    let id = resolve.select_world(&[pkg], Some(world.as_str()))?;
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        id,
        wit_component::StringEncoding::UTF8,
        false,
    )?;
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)?
        .adapter(
            "wasi_snapshot_preview1",
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?
        .encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_is_the_c_files_of_its_directory() {
        let t = tempfile::tempdir().unwrap();
        let e = sources(t.path()).unwrap_err().to_string();
        assert!(e.contains("no .c file") && e.contains("--lang c"), "{e}");
        for f in ["b.c", "a.c", "notes.txt", "a.h"] {
            std::fs::write(t.path().join(f), "").unwrap();
        }
        std::fs::create_dir(t.path().join("dir.c")).unwrap();
        let names: Vec<String> = sources(t.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.c", "b.c"]);
    }

    #[test]
    fn what_is_not_a_wasm_module_is_refused_with_a_message() {
        let e = componentize(b"not wasm".to_vec(), World::Collector).unwrap_err();
        assert!(format!("{e:#}").contains("magic header"), "{e:#}");
    }

    #[test]
    fn the_scaffold_stages_the_sdk() {
        let t = tempfile::tempdir().unwrap();
        scaffold(t.path(), "hello", World::Pipeline).unwrap();
        let app = std::fs::read_to_string(t.path().join("app.c")).unwrap();
        assert!(app.contains("SK_PLUGIN(\"hello\"") && app.contains("sk_process_line"));
        for (path, _) in sdk_files::C_SDK {
            assert!(t.path().join(STAGE).join(path).is_file(), "{path}");
        }
    }
}
