//! Python guests (the SDK in sdk/python, built by `sandkit plugin build` with componentize-py):
//! the fault catalog is contained exactly as for Rust guests, the `files` import keeps to the
//! grants, components built against `sandkit:plugin@0.1.0` still load, and the authoring
//! workflow (`sandkit plugin new/build/test`) works for both languages.
//!
//! Over 600 lines: one language's whole workflow and fault catalog, end to end.

use crate::catalog::{Catalog, Grants};
use sandkit_io::FieldValue;
use sandkit_tests::Harness;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What a Python collector can do wrong, and what the host must see: an exception or a
/// RecursionError is the plugin's error (counted, the instance keeps running); a loop, a
/// memory bomb, a flood of points and sys.exit are crashes (restarted, then disabled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_faults_are_contained_like_rust_ones() {
    let h = Harness::new();
    // A flood is a long call (50,000 lines): on a loaded machine it may take seconds.
    let long = "[limits]\ntimeout = \"20s\"\n";
    let seen = Catalog {
        guest: "pyfaults",
        faults: &[
            ("py_ok", "ok", ""),
            ("py_raise", "raise", ""),
            ("py_recurse", "recurse", ""),
            ("py_loop", "loop", ""),
            ("py_membomb", "membomb", ""),
            ("py_flood", "flood", "[limits]\nmax_points = 1000\n"),
            ("py_exit", "exit", ""),
            ("py_logflood", "logflood", long),
            ("py_printflood", "printflood", long),
        ],
        crashes: &[
            ("py_loop", &["out_of_fuel", "deadline"]),
            ("py_membomb", &["limit"]),
            ("py_flood", &["limit"]),
            ("py_exit", &["host_error", "unreachable"]),
        ],
        // The error names the exception and where.
        errors: &[
            ("py_raise", &["RuntimeError: boom on call", "(app.py:"]),
            (
                "py_recurse",
                &[
                    "RecursionError: maximum recursion depth exceeded",
                    "(app.py:",
                ],
            ),
        ],
        floods: &["py_logflood", "py_printflood"],
        healthy: "py_ok",
        crash_wait: Duration::from_secs(120),
        wait: Duration::from_secs(30),
    }
    .run(&h)
    .await;
    for name in ["py_loop", "py_membomb", "py_flood", "py_exit"] {
        // Stamped by `sandkit plugin build` as Python: the memory cap no config sets is the
        // interpreted languages' larger one, and the bomb still stops at it.
        let st = &seen[name];
        assert_eq!(st.lang, Some(sandkit_runtime::GuestLang::Python), "{name}");
        assert_eq!(
            st.limits.map(|l| l.memory_bytes),
            Some(sandkit_runtime::guest_lang::PYTHON_MEMORY),
            "{name}"
        );
    }
}

/// The `files` import serves granted files and lists granted directories, and refuses
/// everything else with a message that names the path and the grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_files_import_keeps_to_the_grants() {
    let h = Harness::new();
    let grants = Grants::new();
    let g = grants.granted.path();
    std::fs::write(g.join("sub/b.txt"), "x").unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        g.join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let (gs, os) = (grants.g(), grants.o());
    let paths = [
        format!("{gs}/a.txt"),
        format!("{gs}/"),
        format!("{gs}/sub/../a.txt"),
        format!("{gs}/link"),
        format!("{gs}/fifo"),
        format!("{os}/secret"),
        "/proc/loadavg".to_string(),
        "/proc/self/environ".to_string(),
        "/proc/".to_string(),
        "relative.txt".to_string(),
    ];
    let probe = grants.probe(&h, "pyfaults", "pf", &paths).await;
    let (ok, error) = (|p: &str| probe.ok(p), |p: &str| probe.error(p));
    let by_path = |p: &str| probe.point(p);
    assert!(ok(&paths[0]));
    assert_eq!(by_path(&paths[0]).field("bytes"), Some(&FieldValue::Int(5)));
    assert!(ok(&paths[1]));
    assert_eq!(
        by_path(&paths[1]).field("entries"),
        Some(&FieldValue::Int(4)),
        "a.txt, fifo, link, sub"
    );
    assert!(error(&paths[2]).contains("\"..\""), "{}", error(&paths[2]));
    assert!(!ok(&paths[3]), "a symlink may not lead out of its grant");
    assert!(
        error(&paths[4]).contains("not a regular file"),
        "{}",
        error(&paths[4])
    );
    let e = error(&paths[5]);
    assert!(
        e.contains("not under a granted directory") && e.contains("read_only_dirs"),
        "{e}"
    );
    assert!(ok(&paths[6]), "the kernel view serves /proc/loadavg");
    let e = error(&paths[7]);
    assert!(
        e.contains("kernel view") && e.contains("kernel_paths"),
        "{e}"
    );
    assert!(ok(&paths[8]), "the root of a kernel view lists");
    assert!(error(&paths[9]).contains("not an absolute path"));
    assert!(
        !probe.shows("s3cret"),
        "nothing of the file outside the grant leaked"
    );
}

/// A component built against `sandkit:plugin@0.1.0` (before the `files` import) still loads
/// and runs: the host links semver-compatible imports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_built_against_0_1_0_still_loads() {
    let h = Harness::new();
    h.conf("old", "interval = \"100ms\"\n");
    let fixture = sandkit_tests::repo_root().join("tests/fixtures/ticker-0.1.0.wasm");
    let wit = wasmparser_imports(&fixture);
    assert!(
        wit.iter().any(|i| i == "sandkit:plugin/emit@0.1.0"),
        "the fixture imports 0.1.0: {wit:?}"
    );
    let dst = h.plugins().join("old.wasm");
    std::fs::copy(&fixture, &dst).unwrap();
    h.sup.upsert(&dst).await;
    let st = h
        .wait_for("old", Duration::from_secs(30), |s| s.points >= 3)
        .await;
    assert_eq!((st.crashes, st.errors), (0, 0), "{st:#?}");
}

/// The top-level import names of a component.
fn wasmparser_imports(file: &Path) -> Vec<String> {
    let bytes = std::fs::read(file).unwrap();
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        if let Ok(wasmparser::Payload::ComponentImportSection(s)) = payload {
            for import in s.into_iter().flatten() {
                out.push(import.name.name.to_string());
            }
        }
    }
    out
}

fn componentize_py() -> Option<PathBuf> {
    let p = sandkit_tests::py_venv()?.join("bin/componentize-py");
    if p.exists() {
        return Some(p);
    }
    sandkit_tests::missing(&p.display().to_string(), "`make pydeps`")
}

/// `sandkit plugin new` scaffolds a project that `sandkit plugin build` turns into a component
/// `sandkit plugin test` runs: a Python pipeline and a Rust input here (the other worlds are
/// the same code path), and a clear error when the toolchain is missing.
#[test]
fn plugin_new_build_and_test_in_both_languages() {
    let Some(tool) = componentize_py() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    sandkit_tests::ok_output(
        "plugin new",
        &sandkit(
            d,
            &[
                "plugin", "new", "lvl", "--lang", "python", "--world", "pipeline",
            ],
        ),
    );
    // Without componentize-py the error says what to install.
    let o = Command::new(sandkit_tests::sandkit_bin())
        .args(["plugin", "build", "lvl"])
        .current_dir(d)
        .env("PATH", "/usr/bin:/bin")
        .env_remove("SANDKIT_COMPONENTIZE_PY")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("pip install componentize-py==0.25.1"), "{err}");
    let o = Command::new(sandkit_tests::sandkit_bin())
        .args(["plugin", "build", "lvl"])
        .current_dir(d)
        .env("SANDKIT_COMPONENTIZE_PY", &tool)
        .output()
        .unwrap();
    sandkit_tests::ok_output("plugin build (python)", &o);
    let wasm = d.join("lvl/lvl.wasm");
    assert!(std::fs::metadata(&wasm).unwrap().len() > 1_000_000);
    let out = sandkit_stdin(
        "plugin test (python pipeline)",
        d,
        &["plugin", "test", "lvl/lvl.wasm"],
        b"WARN disk almost full\n",
    );
    assert!(
        out.contains("< lvl,level=warn msg=\"disk almost full\""),
        "{out}"
    );

    // Rust: the scaffold vendors the SDK; cargo builds it (a shared target dir keeps the
    // dependencies between runs).
    sandkit_tests::ok_output(
        "plugin new",
        &sandkit(
            d,
            &[
                "plugin", "new", "sizes", "--lang", "rust", "--world", "input",
            ],
        ),
    );
    assert!(d.join("sizes/.sandkit/wit/plugin.wit").exists());
    let target = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/sandkit/scaffold-target"))
        .unwrap();
    let o = Command::new(sandkit_tests::sandkit_bin())
        .args(["plugin", "build", "sizes"])
        .current_dir(d)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    sandkit_tests::ok_output("plugin build (rust)", &o);
    let out = sandkit_stdin(
        "plugin test (rust input)",
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
}

/// The same lines through the Rust and the Python twin of one pipeline (`recwriter`,
/// `pyrecwriter`) give the same records: every item kind, references into the line, time,
/// `keep_message`, measurement overrides, several records per line, none, and non-ASCII text.
#[test]
fn python_and_rust_pipelines_write_the_same_records() {
    let lines = [
        "@1700000000000000000 t:host=web-1 s:msg=hello i:n=-42 u:big=18446744073709551615 f:x=0.25 b:ok=true",
        "@1700000000000000001 r:path=/index.html t:method=GET keep",
        "@1700000000000000002 m:=other i:min=-9223372036854775808 | @1700000000000000003 s:second=yes",
        "drop",
        "@1700000000000000004 t:city=Zürich r:word=naïve s:emoji=🦀 r:cjk=日本語",
        "@1700000000000000005 f:neg=-1e300 b:off=false t:=ignored i:bad=1.5 keep",
        "@1700000000000000006 r:empty= s:quote=\"q\" t:sp=a\\b",
    ];
    let input = lines.join("\n") + "\n";
    let run = |guest: &str| {
        let wasm = sandkit_tests::wasm(guest);
        let args = [
            "pipeline",
            "test",
            "--source",
            "twin",
            wasm.to_str().unwrap(),
        ];
        let out = sandkit_stdin(guest, Path::new("."), &args, input.as_bytes());
        out.lines()
            .filter(|l| !l.starts_with('>') && !l.starts_with('#'))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let rust = run("recwriter");
    let python = run("pyrecwriter");
    assert_eq!(rust, python, "Rust and Python records differ");
    let records: Vec<&String> = rust
        .iter()
        .filter(|l| l.starts_with('<') && !l.contains("(dropped"))
        .collect();
    assert_eq!(records.len(), 7, "{rust:#?}");
    assert!(
        rust.iter().all(|l| !l.starts_with('!')),
        "every line was processed: {rust:#?}"
    );
    assert!(
        records[0].contains("big=18446744073709551615u") && records[0].contains("n=-42i"),
        "{rust:#?}"
    );
    assert!(records[1].contains("path=\"/index.html\""), "{rust:#?}");
    assert!(records[2].starts_with("< other "), "{rust:#?}");
    assert!(
        records[4].contains("city=Zürich") && records[4].contains("cjk=\"日本語\""),
        "{rust:#?}"
    );
}

/// An exception on one line of a Python pipeline costs that line, not its batch: the host
/// bisects the failed batch and passes the line on raw with the exception as the reason.
#[test]
fn an_exception_costs_one_line_of_a_python_pipeline() {
    sandkit_tests::a_failing_line_costs_only_itself(
        "pyrecwriter",
        "ValueError: this line asked to fail (app.py:",
    );
}

/// The bundled Python examples in a real agent (see
/// [`sandkit_tests::examples_run_in_the_agent`]).
#[test]
fn python_examples_run_in_the_agent() {
    sandkit_tests::examples_run_in_the_agent(
        "python",
        [
            ("procs", "procs"),
            ("logfmt", "logfmt"),
            ("csvmetrics", "csvmetrics"),
        ],
        Duration::from_secs(120),
    );
}

/// Outgoing HTTP from Python keeps to the allowlist (see
/// [`sandkit_tests::guest_http_keeps_to_the_allowlist`]).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_http_keeps_to_the_allowlist() {
    sandkit_tests::guest_http_keeps_to_the_allowlist("pyfaults").await;
}

/// The bundled Python examples through the CLI: `plugin test` of the collector on the real
/// /proc and of the input on a CSV body, `pipeline test` of logfmt on its sample file (every
/// line processed, none failed).
#[test]
fn python_examples_run_in_the_cli() {
    let examples = sandkit_tests::repo_root().join("guests/python");
    let procs = sandkit_tests::wasm("procs");
    let conf = examples.join("procs/conf.toml");
    let out = sandkit_stdin(
        "plugin test procs",
        Path::new("."),
        &[
            "plugin",
            "test",
            "-c",
            conf.to_str().unwrap(),
            procs.to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.starts_with("processes total="), "{out}");
    let logfmt = sandkit_tests::wasm("logfmt");
    let conf = examples.join("logfmt/conf.toml");
    let input = std::fs::read(examples.join("logfmt/testdata/input.log")).unwrap();
    let out = sandkit_stdin(
        "pipeline test logfmt",
        Path::new("."),
        &[
            "pipeline",
            "test",
            "-c",
            conf.to_str().unwrap(),
            "--source",
            "app",
            logfmt.to_str().unwrap(),
        ],
        &input,
    );
    let records = out.lines().filter(|l| l.starts_with("< app")).count();
    assert_eq!(records, 17, "{out}");
    assert!(!out.lines().any(|l| l.starts_with('!')), "{out}");
    let csv = sandkit_tests::wasm("csvmetrics");
    let body = std::fs::read(examples.join("csvmetrics/testdata/readings.csv")).unwrap();
    let out = sandkit_stdin(
        "plugin test csvmetrics",
        Path::new("."),
        &[
            "plugin",
            "test",
            "--content-type",
            "text/csv",
            csv.to_str().unwrap(),
        ],
        &body,
    );
    let points = out
        .lines()
        .filter(|l| {
            ["weather ", "csv ", "power "]
                .iter()
                .any(|m| l.starts_with(m))
        })
        .count();
    assert_eq!(points, 4, "{out}");
    assert!(
        out.starts_with("weather host=\"web-1\",sensor=\"s1\",temp=12.5,humidity=80i"),
        "{out}"
    );
}

/// componentize-py 0.25 never frees what `process` returns: a Python pipeline's linear memory
/// grows by about its output's bytes every call. The host replaces the instance between calls
/// when it passes 75% of its cap, so a long run loses nothing and crashes nothing (before, 3M
/// logfmt lines reached the cap and crashed).
#[test]
fn a_python_pipeline_that_leaks_its_outputs_is_recycled_not_killed() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("conf.toml"), "[limits]\nmemory = \"40MiB\"\n").unwrap();
    let line = format!("t:host=h1 s:msg={}\n", "x".repeat(200));
    let n = 100_000;
    let wasm = sandkit_tests::wasm("pyrecwriter");
    let args = [
        "pipeline",
        "test",
        "-c",
        "conf.toml",
        wasm.to_str().unwrap(),
    ];
    let (_, err) = sandkit_tests::sandkit_cli_stdin(
        "pipeline test",
        t.path(),
        &args,
        line.repeat(n).as_bytes(),
        &[],
    );
    let summary = err.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with(&format!("# {n} lines, {n} records, 0 lines not processed,")),
        "{summary}"
    );
    assert!(summary.contains(" 0 crashes,"), "{summary}");
    let recycles: u64 = summary
        .rsplit(", ")
        .next()
        .and_then(|s| s.strip_suffix(" recycles"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no recycles in {summary}"));
    assert!(recycles >= 1, "{summary}");
}

/// `sandkit ARGS` in `dir`.
fn sandkit(dir: &Path, args: &[&str]) -> std::process::Output {
    sandkit_tests::sandkit_cli(dir, args, &[])
}

/// `sandkit ARGS` in `dir` with `input` on its stdin: its stdout.
fn sandkit_stdin(what: &str, dir: &Path, args: &[&str], input: &[u8]) -> String {
    sandkit_tests::sandkit_cli_stdin(what, dir, args, input, &[]).0
}
