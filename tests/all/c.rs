//! C guests (the one-header SDK in sdk/c over wit-bindgen's C bindings, built by `sandkit plugin
//! build` with clang for wasm32-wasi and made a component in process): the authoring workflow
//! in every world, the bundled examples in the agent and the CLI, the fault catalog contained
//! as for Rust and Python guests, records identical to the Rust twin's, and memory that stays
//! flat over many calls.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// clang for wasm32-wasi, or None (a skip) when this machine has none; under CI=true a missing
/// toolchain fails the test (`make cdeps` installs it).
fn clang() -> Option<PathBuf> {
    let found = ["clang-19", "clang"].iter().find_map(|name| {
        let o = Command::new(name)
            .args(["--target=wasm32-wasi", "-print-file-name=crt1-reactor.o"])
            .output()
            .ok()?;
        let crt = String::from_utf8_lossy(&o.stdout).trim().to_string();
        Path::new(&crt).is_file().then(|| PathBuf::from(name))
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "clang for wasm32-wasi is missing (make cdeps installs it)"
        );
        eprintln!("skipping: no clang for wasm32-wasi (run `make cdeps`)");
    }
    found
}

fn sandkit(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(sandkit_tests::sandkit_bin())
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

fn ok_output(what: &str, o: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{what} failed: {err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `sandkit ARGS` in `dir` with `input` on its stdin; its stdout and stderr.
fn sandkit_stdin(what: &str, dir: &Path, args: &[&str], input: &[u8]) -> (String, String) {
    use std::io::Write;
    let mut child = Command::new(sandkit_tests::sandkit_bin())
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let o = child.wait_with_output().unwrap();
    let out = ok_output(what, &o);
    (out, String::from_utf8_lossy(&o.stderr).into_owned())
}

/// `sandkit plugin new --lang c` scaffolds a project in each world that `sandkit plugin build`
/// turns into a component `plugin test`/`pipeline test` run, doing what the Python and Rust
/// scaffolds do; a missing toolchain is an error that names the Debian packages.
#[test]
fn c_plugin_new_build_and_test_in_every_world() {
    let Some(_) = clang() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    for (name, world) in [
        ("load", "collector"),
        ("lvl", "pipeline"),
        ("sizes", "input"),
    ] {
        ok_output(
            "plugin new",
            &sandkit(d, &["plugin", "new", name, "--lang", "c", "--world", world]),
        );
        assert!(d.join(name).join(".sandkit/c/sandkit.h").exists());
        let o = sandkit(d, &["plugin", "build", name]);
        ok_output("plugin build", &o);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&format!("(c {world},")), "{err}");
        let size = std::fs::metadata(d.join(name).join(format!("{name}.wasm")))
            .unwrap()
            .len();
        assert!((20_000..1_000_000).contains(&size), "{name}: {size} bytes");
    }
    let out = ok_output(
        "plugin test (c collector)",
        &sandkit(
            d,
            &["plugin", "test", "-c", "load/conf.toml", "load/load.wasm"],
        ),
    );
    assert!(
        out.starts_with("load load1=") && out.contains(",load5=") && out.contains(",load15="),
        "{out}"
    );
    let (out, _) = sandkit_stdin(
        "pipeline test (c pipeline)",
        d,
        &["pipeline", "test", "lvl/lvl.wasm"],
        "WARN disk almost full\ninfo ok\nnaïve\n".as_bytes(),
    );
    assert!(
        out.contains("< lvl,level=warn msg=\"disk almost full\"")
            && out.contains("< lvl,level=info msg=\"ok\"")
            && out.contains("< lvl,level=naïve msg=\"\""),
        "{out}"
    );
    let (out, _) = sandkit_stdin(
        "plugin test (c input)",
        d,
        &[
            "plugin",
            "test",
            "--content-type",
            "text/plain",
            "sizes/sizes.wasm",
        ],
        b"12345",
    );
    assert!(
        out.starts_with("sizes,content_type=text/plain bytes=5i "),
        "{out}"
    );

    // No clang at all: the error names the packages.
    let o = Command::new(sandkit_tests::sandkit_bin())
        .args(["plugin", "build", "load"])
        .current_dir(d)
        .env("PATH", d.join("nothing-here"))
        .env_remove("SANDKIT_CLANG")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("apt-get install clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32"),
        "{err}"
    );
    // A clang without wasi-libc (it finds no crt1-reactor.o): the error says which package.
    let fake = d.join("fake-clang");
    std::fs::write(&fake, "#!/bin/sh\necho crt1-reactor.o\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = Command::new(sandkit_tests::sandkit_bin())
        .args(["plugin", "build", "load"])
        .current_dir(d)
        .env("SANDKIT_CLANG", &fake)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("wasi-libc") && err.contains("apt-get install wasi-libc"),
        "{err}"
    );
}
