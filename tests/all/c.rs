//! C guests (the one-header SDK in sdk/c over wit-bindgen's C bindings, built by `sandkit plugin
//! build` with clang for wasm32-wasi and made a component in process): the authoring workflow
//! in every world, the bundled examples in the agent and the CLI, the fault catalog contained
//! as for Rust and Python guests, records identical to the Rust twin's, and memory that stays
//! flat over many calls.

use sandkit_io::FieldValue;
use sandkit_runtime::{load_plugin_file, Instance, PluginConfig, PluginState, Runtime, StateStore};
use sandkit_tests::{test_runtime_config, Harness};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// The `cfaults` guest installed as `name` with `[config] mode = mode` (and extra conf).
fn fault(h: &Harness, name: &str, mode: &str, extra: &str) {
    h.conf(
        name,
        &format!("interval = \"100ms\"\n{extra}\n[config]\nmode = \"{mode}\"\n"),
    );
    h.install("cfaults", name);
}

/// What a C collector can do wrong, and what the host must see: an error returned is counted
/// and the instance keeps running; abort(), a loop, a memory bomb, a flood of points, unbounded
/// recursion and exit() are crashes (restarted, then disabled); floods of log lines and of
/// stdout are rate-limited. The Rust ticker and a healthy C plugin keep their schedule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_faults_are_contained_like_rust_ones() {
    let h = Harness::new();
    h.conf("ticker", "interval = \"100ms\"\n");
    h.install("ticker", "ticker");
    fault(&h, "c_ok", "ok", "");
    fault(&h, "c_fail", "fail", "");
    fault(&h, "c_abort", "abort", "");
    fault(&h, "c_loop", "loop", "");
    fault(&h, "c_membomb", "membomb", "");
    fault(&h, "c_flood", "flood", "[limits]\nmax_points = 1000\n");
    fault(&h, "c_recurse", "recurse", "");
    fault(&h, "c_exit", "exit", "");
    fault(&h, "c_logflood", "logflood", "");
    fault(&h, "c_printflood", "printflood", "");
    for f in sandkit_runtime::plugin_files(&h.plugins()).unwrap() {
        h.sup.upsert(&f).await;
    }
    let crashes: [(&str, &[&str]); 6] = [
        ("c_abort", &["unreachable"]),
        ("c_loop", &["out_of_fuel", "deadline"]),
        ("c_membomb", &["limit"]),
        ("c_flood", &["limit"]),
        ("c_recurse", &["memory_out_of_bounds", "stack_overflow"]),
        ("c_exit", &["host_error"]),
    ];
    for (name, kinds) in crashes {
        let st = h
            .wait_state(name, PluginState::Disabled, Duration::from_secs(120))
            .await;
        assert_eq!(st.crashes, 6, "{name}: {st:#?}");
        assert_eq!(st.restarts, 5, "{name}: {st:#?}");
        let kind = st.last_crash_kind.clone().unwrap_or_default();
        assert!(kinds.contains(&kind.as_str()), "{name}: {kind:?}: {st:#?}");
        assert_eq!(st.points, 0, "{name}");
    }
    let st = h
        .wait_for("c_fail", Duration::from_secs(30), |s| s.errors >= 3)
        .await;
    assert_eq!(
        (st.crashes, st.restarts, st.state),
        (0, 0, PluginState::Running),
        "an error is not a crash: {st:#?}"
    );
    let err = st.last_error.clone().unwrap_or_default();
    assert!(
        err.contains("collect: boom on call") && err.contains("(app.c:"),
        "the error says what and where: {err}"
    );
    for name in ["c_logflood", "c_printflood"] {
        let st = h
            .wait_for(name, Duration::from_secs(60), |s| {
                s.calls >= 2 && s.log_suppressed >= 30_000
            })
            .await;
        assert_eq!(
            (st.state, st.crashes, st.errors),
            (PluginState::Running, 0, 0),
            "{name}: {st:#?}"
        );
    }
    let ok = h
        .wait_for("c_ok", Duration::from_secs(30), |s| s.points >= 5)
        .await;
    assert_eq!((ok.crashes, ok.errors), (0, 0), "{ok:#?}");
    let ticker = h
        .wait_for("ticker", Duration::from_secs(60), |s| s.calls >= 12)
        .await;
    assert_eq!(
        (ticker.state, ticker.crashes),
        (PluginState::Running, 0),
        "{ticker:#?}"
    );
    let start = std::time::Instant::now();
    while h.times("ticker").len() < 10 {
        assert!(start.elapsed() < Duration::from_secs(30), "ticker points");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let times = h.times("ticker");
    let max_gap = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    assert!(
        max_gap < 2_000_000_000,
        "the ticker stalled {max_gap} ns while C plugins misbehaved"
    );
    let calls: Vec<u64> = h
        .out
        .points()
        .iter()
        .filter(|p| p.measurement() == "cfaults")
        .filter_map(|p| match p.field("calls") {
            Some(FieldValue::Uint(n)) => Some(*n),
            _ => None,
        })
        .collect();
    assert!(
        calls.len() >= 5 && calls.windows(2).all(|w| w[1] == w[0] + 1),
        "one instance served c_ok throughout: {calls:?}"
    );
}

/// The lines of the Rust/Python twin test, and lines for C's own parsing of numbers (which
/// must match Rust's `str::parse`: signs, `.5`, `5.`, exponents, no hex, no overflow).
const TWIN_LINES: [&str; 10] = [
    "@1700000000000000000 t:host=web-1 s:msg=hello i:n=-42 u:big=18446744073709551615 f:x=0.25 b:ok=true",
    "@1700000000000000001 r:path=/index.html t:method=GET keep",
    "@1700000000000000002 m:=other i:min=-9223372036854775808 | @1700000000000000003 s:second=yes",
    "drop",
    "@1700000000000000004 t:city=Zürich r:word=naïve s:emoji=🦀 r:cjk=日本語",
    "@1700000000000000005 f:neg=-1e300 b:off=false t:=ignored i:bad=1.5 keep",
    "@1700000000000000006 r:empty= s:quote=\"q\" t:sp=a\\b",
    "@+5 i:a=+7 u:b=+8 u:c=-0 i:d=-0 f:e=.5 f:f=5. f:g=1e f:h=0x10 f:i=1E+2 f:j=-0 i:m=99999999999999999999 u:n=18446744073709551616 b:o=True",
    "@-1 s:x=a=b r:y=c=d t:z:w=1 k:v=2 =x :=y i:over=9223372036854775808 f:p=1_0 f:q=+.5e-3 x | t:a=1  t:b=2",
    "@7 m:=m2 m:= s:r=é | drop | @8 b:t=true",
];

fn pipeline_lines(guest: &str, input: &str) -> Vec<String> {
    let wasm = sandkit_tests::wasm(guest);
    let args = [
        "pipeline",
        "test",
        "--source",
        "twin",
        wasm.to_str().unwrap(),
    ];
    let (out, _) = sandkit_stdin(guest, Path::new("."), &args, input.as_bytes());
    out.lines()
        .filter(|l| !l.starts_with('>') && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The same lines through the Rust and the C twin of one pipeline (`recwriter`, `crecwriter`)
/// give the same records: every item kind, references into the line, time, `keep_message`,
/// measurement overrides, several records per line, none, non-ASCII text and number syntax.
#[test]
fn c_and_rust_pipelines_write_the_same_records() {
    let input = TWIN_LINES.join("\n") + "\n";
    let rust = pipeline_lines("recwriter", &input);
    let c = pipeline_lines("crecwriter", &input);
    assert_eq!(rust, c, "Rust and C records differ");
    let records: Vec<&String> = c
        .iter()
        .filter(|l| l.starts_with('<') && !l.contains("(dropped"))
        .collect();
    assert_eq!(records.len(), 12, "{c:#?}");
    assert!(c.iter().all(|l| !l.starts_with('!')), "{c:#?}");
    assert!(
        records[0].contains("big=18446744073709551615u") && records[0].contains("n=-42i"),
        "{c:#?}"
    );
    assert!(
        records[4].contains("city=Zürich") && records[4].contains("cjk=\"日本語\""),
        "{c:#?}"
    );
    assert!(
        records[7].contains("a=7i,b=8u,d=0i,e=0.5,f=5,i=100,j=-0")
            && records[7].ends_with(" 5")
            && !records[7].contains("c=")
            && !records[7].contains("g=")
            && !records[7].contains("h="),
        "numbers parse as Rust parses them: {}",
        records[7]
    );
}

/// An error on one line of a C pipeline costs that line, not its batch: the host bisects the
/// failed batch and passes the line on raw with the error as the reason.
#[test]
fn an_error_costs_one_line_of_a_c_pipeline() {
    let lines: Vec<String> = (0..20)
        .map(|i| {
            if i == 13 {
                format!("@{i} i:n={i} raise")
            } else {
                format!("@{i} i:n={i}")
            }
        })
        .collect();
    let wasm = sandkit_tests::wasm("crecwriter");
    let (out, _) = sandkit_stdin(
        "pipeline test",
        Path::new("."),
        &["pipeline", "test", "--source", "t", wasm.to_str().unwrap()],
        (lines.join("\n") + "\n").as_bytes(),
    );
    let records = out.lines().filter(|l| l.starts_with("< t ")).count();
    assert_eq!(records, 19, "{out}");
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with('!')).collect();
    assert_eq!(failed.len(), 1, "{out}");
    assert!(
        failed[0].contains("process: line 0 of the batch: this line asked to fail (app.c:"),
        "{out}"
    );
}

/// Memory is flat over thousands of calls: what the host hands a C guest (strings, lists,
/// file contents, batches) and what the guest returns are freed by the SDK and the bindings'
/// post-return functions. A leak of one file buffer per call would add 200 KiB a call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_guest_memory_stays_flat_over_many_calls() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("big.bin"), vec![b'x'; 200_000]).unwrap();
    let runtime = Runtime::new(test_runtime_config(dir.path())).unwrap();
    let conf = format!(
        "[sandbox]\nread_only_dirs = [{d:?}, \"/proc\"]\n[limits]\nmax_points = 1000\n\
         [config]\nmode = \"churn\"\npaths = [\"{d}/big.bin\", \"{d}/\", \"/proc/loadavg\"]\n",
        d = data.display().to_string()
    );
    let pc = PluginConfig::parse(&conf, Path::new("churn.toml"), runtime.config().limits).unwrap();
    let loaded = load_plugin_file(&runtime, "churn", &sandkit_tests::wasm("cfaults"), &pc)
        .await
        .unwrap();
    let state = Arc::new(Mutex::new(StateStore::default()));
    let mut inst = Instance::new(&loaded, &pc, state).await.unwrap();
    inst.init(&pc.config_json).await.unwrap();
    let mut after_warmup = 0;
    for i in 0..2000 {
        let r = inst.collect().await.unwrap();
        assert_eq!(r.points.len(), 301, "call {i}");
        if i == 20 {
            after_warmup = inst.memory_peak();
        }
    }
    assert_eq!(
        inst.memory_peak(),
        after_warmup,
        "linear memory grew after call 20 of a collector"
    );
    assert!(after_warmup < 4 << 20, "{after_warmup} bytes");

    // A pipeline: 2,000 batches of 50 lines, every record with references and inline text.
    let pc = PluginConfig::default_with(runtime.config().limits);
    let loaded = load_plugin_file(
        &runtime,
        "crecwriter",
        &sandkit_tests::wasm("crecwriter"),
        &pc,
    )
    .await
    .unwrap();
    let state = Arc::new(Mutex::new(StateStore::default()));
    let mut inst = Instance::new(&loaded, &pc, state).await.unwrap();
    inst.init("{}").await.unwrap();
    let line =
        "@1 t:host=web-1 s:msg=hello r:path=/index.html i:n=-42 f:x=0.25 keep | m:=other b:ok=true";
    let mut data = String::new();
    let mut ends = Vec::new();
    for _ in 0..50 {
        data.push_str(line);
        ends.push(data.len() as u32);
    }
    let mut after_warmup = 0;
    for i in 0..2000 {
        inst.process("twin", &data, &ends).await.unwrap();
        if i == 20 {
            after_warmup = inst.memory_peak();
        }
    }
    assert_eq!(
        inst.memory_peak(),
        after_warmup,
        "linear memory grew after call 20 of a pipeline"
    );
}
