//! JavaScript and TypeScript guests (the SDK in sdk/js, built by `sandkit plugin build` with
//! rolldown and componentize-js): the fault catalog is contained exactly as for Rust and Python
//! guests, whatever a plugin throws becomes its error, the `files` and `http-client` imports keep
//! to the grants, the JS record writer matches the Rust one, the bundled examples run in the
//! agent, and `sandkit plugin new/build/test` works for js and ts.

use crate::catalog::{Catalog, Grants};
use sandkit_io::FieldValue;
use sandkit_runtime::PluginState;
use sandkit_tests::Harness;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What a JavaScript collector can do wrong, and what the host must see: a thrown Error, string
/// or plain object, and runaway recursion are the plugin's errors (counted, the instance keeps
/// running); an endless loop, a memory bomb and a flood of points are crashes (restarted, then
/// disabled). The floods of log lines and console output have their own test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_faults_are_contained_like_rust_ones() {
    let h = Harness::new();
    let seen = Catalog {
        guest: "jsfaults",
        faults: &[
            ("js_ok", "ok", ""),
            ("js_throw", "throw", ""),
            ("js_string", "throwstring", ""),
            ("js_object", "throwobject", ""),
            ("js_recurse", "recurse", ""),
            ("js_loop", "loop", ""),
            ("js_membomb", "membomb", ""),
            ("js_flood", "flood", "[limits]\nmax_points = 1000\n"),
        ],
        crashes: &[
            ("js_loop", &["out_of_fuel", "deadline"]),
            ("js_membomb", &["limit"]),
            ("js_flood", &["limit"]),
        ],
        errors: &[
            ("js_throw", &["collect: Error: boom on call "]),
            ("js_string", &["collect: a string on call "]),
            (
                "js_object",
                &["collect: threw a non-Error Object: {\"call\":"],
            ),
            (
                "js_recurse",
                &["collect: InternalError: too much recursion"],
            ),
        ],
        floods: &[],
        healthy: "js_ok",
        crash_wait: Duration::from_secs(240),
        wait: Duration::from_secs(60),
    }
    .run(&h)
    .await;
    // An Error says where it was thrown, in the plugin's own source.
    let err = seen["js_throw"].last_error.clone().unwrap();
    assert!(err.contains("(app.js:"), "{err}");
    let err = seen["js_recurse"].last_error.clone().unwrap();
    assert!(
        err.contains("(app.js:") && err.contains(" in recurse)"),
        "{err}"
    );
}

/// A flood of host-log lines or of console.log output from JavaScript is rate-limited by the
/// host, not a fault, and the Rust ticker beside it keeps its schedule. Apart from the other
/// faults: console.log is one WASI write per line, and each write waits for a free executor
/// thread, which plugins spinning to their deadline on every core do not leave (Python buffers
/// its stdout and writes rarely).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_log_floods_are_rate_limited() {
    let h = Harness::new();
    h.conf("ticker", "interval = \"100ms\"\n");
    h.install("ticker", "ticker");
    h.fault("jsfaults", "js_logflood", "logflood", "");
    h.fault("jsfaults", "js_printflood", "printflood", "");
    for f in sandkit_runtime::plugin_files(&h.plugins()).unwrap() {
        h.sup.upsert(&f).await;
    }
    for name in ["js_logflood", "js_printflood"] {
        crate::catalog::rate_limited(&h, name, 5, Duration::from_secs(120)).await;
    }
    let ticker = h
        .wait_for("ticker", Duration::from_secs(60), |s| s.calls >= 12)
        .await;
    h.wait_points("ticker", 10).await;
    assert_eq!((ticker.state, ticker.crashes), (PluginState::Running, 0));
    let times = h.times("ticker");
    let max_gap = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    assert!(
        times.len() >= 10 && max_gap < 2_000_000_000,
        "the ticker stalled {max_gap} ns ({} points) while JS plugins flooded the log",
        times.len()
    );
}

/// The `files` import from JavaScript: a granted file is read, a granted directory listed, and
/// everything else refused with the host's message (naming the path and the grant).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_files_keep_to_the_grants() {
    let h = Harness::new();
    let grants = Grants::new();
    let gs = grants.g();
    let paths = [
        format!("{gs}/a.txt"),
        format!("{gs}/"),
        format!("{gs}/link"),
        format!("{}/secret", grants.o()),
        "/proc/loadavg".to_string(),
        "relative.txt".to_string(),
    ];
    let probe = grants.probe(&h, "jsfaults", "jf", &paths).await;
    let (ok, error) = (|p: &str| probe.ok(p), |p: &str| probe.error(p));
    let by_path = |p: &str| probe.point(p);
    assert!(ok(&paths[0]));
    assert_eq!(by_path(&paths[0]).field("bytes"), Some(&FieldValue::Int(5)));
    assert_eq!(
        by_path(&paths[1]).field("entries"),
        Some(&FieldValue::Int(3)),
        "a.txt, link, sub"
    );
    assert!(!ok(&paths[2]), "a symlink may not lead out of its grant");
    let e = error(&paths[3]);
    assert!(
        e.contains("not under a granted directory") && e.contains("read_only_dirs"),
        "{e}"
    );
    assert!(ok(&paths[4]), "the kernel view serves /proc/loadavg");
    assert!(error(&paths[5]).contains("not an absolute path"));
    assert!(!probe.shows("s3cret"));
    let st = h.sup.status("jf").unwrap();
    assert_eq!((st.crashes, st.errors), (0, 0), "{st:#?}");
}

/// Outgoing HTTP from JavaScript keeps to the allowlist (see
/// [`sandkit_tests::guest_http_keeps_to_the_allowlist`]).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_http_keeps_to_the_allowlist() {
    sandkit_tests::guest_http_keeps_to_the_allowlist("jsfaults").await;
}

/// The lines of `pipeline test` that carry records and failures (not the echoed input or the
/// summary).
fn pipeline_records(guest: &str, input: &str) -> Vec<String> {
    let wasm = sandkit_tests::wasm(guest);
    let args = [
        "pipeline",
        "test",
        "--source",
        "twin",
        wasm.to_str().unwrap(),
    ];
    sandkit_stdin(guest, Path::new("."), &args, input.as_bytes(), &[])
        .lines()
        .filter(|l| !l.starts_with('>') && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The same lines through the Rust and the JavaScript twin of one pipeline (`recwriter`,
/// `jsrecwriter`) give the same records: every item kind, references into the line (across
/// 2-, 3- and 4-byte characters, which JavaScript indexes as UTF-16), time, `keep_message`,
/// measurement overrides, several records per line, none, and values Rust and JS parse alike.
#[test]
fn js_and_rust_pipelines_write_the_same_records() {
    let lines = [
        "@1700000000000000000 t:host=web-1 s:msg=hello i:n=-42 u:big=18446744073709551615 f:x=0.25 b:ok=true",
        "@1700000000000000001 r:path=/index.html t:method=GET keep",
        "@1700000000000000002 m:=other i:min=-9223372036854775808 | @1700000000000000003 s:second=yes",
        "drop",
        "@1700000000000000004 t:city=Zürich r:word=naïve s:emoji=🦀 r:cjk=日本語",
        "@1700000000000000005 f:neg=-1e300 b:off=false t:=ignored i:bad=1.5 keep",
        "@1700000000000000006 r:empty= s:quote=\"q\" t:sp=a\\b",
        "@7 r:crab=🦀🦀x r:e=é u:plus=+5 i:iplus=+7 f:dot=.5 f:exp=1e5 u:neg=-1 i:big=9223372036854775808",
    ];
    let input = lines.join("\n") + "\n";
    let rust = pipeline_records("recwriter", &input);
    let js = pipeline_records("jsrecwriter", &input);
    assert_eq!(rust, js, "Rust and JavaScript records differ");
    let records: Vec<&String> = rust
        .iter()
        .filter(|l| l.starts_with('<') && !l.contains("(dropped"))
        .collect();
    assert_eq!(records.len(), 8, "{rust:#?}");
    assert!(rust.iter().all(|l| !l.starts_with('!')), "{rust:#?}");
    assert!(
        records[4].contains("city=Zürich") && records[4].contains("cjk=\"日本語\""),
        "{rust:#?}"
    );
    assert!(records[7].contains("crab=\"🦀🦀x\""), "{rust:#?}");
}

/// A throw on one line of a JS pipeline costs that line, not its batch: the host bisects the
/// failed batch and passes the line on raw with the error as the reason.
#[test]
fn a_throw_costs_one_line_of_a_js_pipeline() {
    sandkit_tests::a_failing_line_costs_only_itself(
        "jsrecwriter",
        "process: line 0 of the batch: RangeError: this line asked to fail (app.js:",
    );
}

/// The JS toolchain of `make jsdeps`, or None (a skip) outside CI.
fn js_toolchain() -> Option<PathBuf> {
    let p = std::env::var_os("SANDKIT_JS_TOOLCHAIN")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sandkit/js")))?;
    if p.join("node_modules/@bytecodealliance/componentize-js")
        .is_dir()
    {
        return Some(p);
    }
    sandkit_tests::missing(
        &format!("the JS toolchain ({})", p.display()),
        "`make jsdeps`",
    )
}

/// `sandkit plugin new` scaffolds JavaScript and TypeScript projects in every world that
/// `sandkit plugin build` turns into components `sandkit plugin test` runs, whose own tests pass
/// on plain node; a missing toolchain and a manifest that names another world are clear errors.
#[test]
fn plugin_new_build_and_test_in_js_and_ts() {
    let Some(tool) = js_toolchain() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let env: [(&str, &Path); 1] = [("SANDKIT_JS_TOOLCHAIN", &tool)];
    for (name, lang, world) in [
        ("load", "js", "collector"),
        ("lvl", "ts", "pipeline"),
        ("sizes", "js", "input"),
    ] {
        sandkit_tests::ok_output(
            "plugin new",
            &sandkit(
                d,
                &["plugin", "new", name, "--lang", lang, "--world", world],
                &[],
            ),
        );
    }
    // Without a toolchain the error says what to install.
    let o = Command::new(sandkit_tests::sandkit_bin())
        .args(["plugin", "build", "load"])
        .current_dir(d)
        .env("HOME", d)
        .env_remove("SANDKIT_JS_TOOLCHAIN")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("npm install") && err.contains("componentize-js 0.23.0"),
        "{err}"
    );
    for name in ["load", "lvl", "sizes"] {
        sandkit_tests::ok_output(
            &format!("plugin build {name}"),
            &sandkit(d, &["plugin", "build", name], &env),
        );
        assert!(
            std::fs::metadata(d.join(name).join(format!("{name}.wasm")))
                .unwrap()
                .len()
                > 1_000_000
        );
        // The scaffold's own test, on node (the hook resolves @sandkit/sdk as npm install would).
        let hook = sandkit_tests::repo_root().join("sdk/js/tools/resolve-sdk.mjs");
        let o = Command::new("node")
            .arg("--import")
            .arg(&hook)
            .args(["--test", "app.test.js"])
            .current_dir(d.join(name))
            .env("SANDKIT_JS_TOOLCHAIN", &tool)
            .output()
            .unwrap();
        sandkit_tests::ok_output(&format!("node --test in {name}"), &o);
    }
    let out = sandkit_stdin(
        "plugin test (js collector)",
        d,
        &["plugin", "test", "-c", "load/conf.toml", "load/load.wasm"],
        b"",
        &[],
    );
    assert!(out.starts_with("load load1="), "{out}");
    let out = sandkit_stdin(
        "plugin test (ts pipeline)",
        d,
        &["plugin", "test", "lvl/lvl.wasm"],
        b"WARN disk almost full\n",
        &[],
    );
    assert!(
        out.contains("< lvl,level=warn msg=\"disk almost full\""),
        "{out}"
    );
    let out = sandkit_stdin(
        "plugin test (js input)",
        d,
        &[
            "plugin",
            "test",
            "--content-type",
            "text/plain",
            "sizes/sizes.wasm",
        ],
        b"12345",
        &[],
    );
    assert!(
        out.starts_with("sizes,content_type=text/plain bytes=5i "),
        "{out}"
    );
    // A manifest that names another world than the module declares fails the build.
    let manifest = d.join("sizes/sandkit-plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("\"input\"", "\"collector\"")).unwrap();
    let o = sandkit(d, &["plugin", "build", "sizes"], &env);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "sandkit-plugin.toml says world = \"collector\", but the module declares an input"
        ),
        "{err}"
    );
}

/// The bundled JavaScript/TypeScript examples in a real agent (see
/// [`sandkit_tests::examples_run_in_the_agent`]).
#[test]
fn js_examples_run_in_the_agent() {
    sandkit_tests::examples_run_in_the_agent(
        "js",
        [
            ("procs", "procs_js"),
            ("logfmt", "logfmt_js"),
            ("csvmetrics", "csvmetrics_js"),
        ],
        Duration::from_secs(180),
    );
}

/// `sandkit ARGS` in `dir` with `env`.
fn sandkit(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> std::process::Output {
    sandkit_tests::sandkit_cli(dir, args, env)
}

/// `sandkit ARGS` in `dir` with `input` on its stdin and `env`: its stdout.
fn sandkit_stdin(
    what: &str,
    dir: &Path,
    args: &[&str],
    input: &[u8],
    env: &[(&str, &Path)],
) -> String {
    sandkit_tests::sandkit_cli_stdin(what, dir, args, input, env).0
}
