//! C guests (the one-header SDK in sdk/c over wit-bindgen's C bindings, built by `sandkit plugin
//! build` with clang for wasm32-wasi and made a component in process): the authoring workflow
//! in every world, the bundled examples in the agent and the CLI, the fault catalog contained
//! as for Rust and Python guests, records identical to the Rust twin's, and memory that stays
//! flat over many calls.
//!
//! Over 600 lines: one language's whole workflow and fault catalog, end to end.

use crate::catalog::{Catalog, Grants};
use sandkit_io::FieldValue;
use sandkit_runtime::{load_plugin_file, Instance, PluginConfig, Runtime, StateStore};
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
    found.or_else(|| sandkit_tests::missing("clang for wasm32-wasi", "`make cdeps`"))
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
        sandkit_tests::ok_output(
            "plugin new",
            &sandkit(d, &["plugin", "new", name, "--lang", "c", "--world", world]),
        );
        assert!(d.join(name).join(".sandkit/c/sandkit.h").exists());
        let o = sandkit(d, &["plugin", "build", name]);
        sandkit_tests::ok_output("plugin build", &o);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&format!("(c {world},")), "{err}");
        let size = std::fs::metadata(d.join(name).join(format!("{name}.wasm")))
            .unwrap()
            .len();
        assert!((20_000..1_000_000).contains(&size), "{name}: {size} bytes");
    }
    let out = sandkit_tests::ok_output(
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
    // A clang without wasi-libc (it finds no crt1-reactor.o, so the link fails): the error says
    // which package.
    let fake = d.join("fake-clang");
    std::fs::write(
        &fake,
        "#!/bin/sh\ncase \"$*\" in *-print-*) echo crt1-reactor.o ;;\n\
         *) echo 'wasm-ld: error: cannot open crt1-reactor.o' >&2; exit 1 ;; esac\n",
    )
    .unwrap();
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

/// What a C collector can do wrong, and what the host must see: an error returned is counted
/// and the instance keeps running; abort(), a loop, a memory bomb, a flood of points, unbounded
/// recursion and exit() are crashes (restarted, then disabled); floods of log lines and of
/// stdout are rate-limited. The Rust ticker and a healthy C plugin keep their schedule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_faults_are_contained_like_rust_ones() {
    let h = Harness::new();
    Catalog {
        guest: "cfaults",
        faults: &[
            ("c_ok", "ok", ""),
            ("c_fail", "fail", ""),
            ("c_abort", "abort", ""),
            ("c_loop", "loop", ""),
            ("c_membomb", "membomb", ""),
            ("c_flood", "flood", "[limits]\nmax_points = 1000\n"),
            ("c_recurse", "recurse", ""),
            ("c_exit", "exit", ""),
            ("c_logflood", "logflood", ""),
            ("c_printflood", "printflood", ""),
        ],
        crashes: &[
            ("c_abort", &["unreachable"]),
            ("c_loop", &["out_of_fuel", "deadline"]),
            ("c_membomb", &["limit"]),
            ("c_flood", &["limit"]),
            ("c_recurse", &["memory_out_of_bounds", "stack_overflow"]),
            ("c_exit", &["host_error"]),
        ],
        // The error says what and where.
        errors: &[("c_fail", &["collect: boom on call", "(app.c:"])],
        floods: &["c_logflood", "c_printflood"],
        healthy: "c_ok",
        crash_wait: Duration::from_secs(120),
        wait: Duration::from_secs(30),
    }
    .run(&h)
    .await;
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
    sandkit_tests::a_failing_line_costs_only_itself(
        "crecwriter",
        "process: line 0 of the batch: this line asked to fail (app.c:",
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

/// The bundled C examples in a real agent (see [`sandkit_tests::examples_run_in_the_agent`]).
#[test]
fn c_examples_run_in_the_agent() {
    sandkit_tests::examples_run_in_the_agent(
        "c",
        [
            ("cprocs", "cprocs"),
            ("clogfmt", "clogfmt"),
            ("ccsvmetrics", "ccsvmetrics"),
        ],
        Duration::from_secs(60),
    );
}

/// `sandkit ARGS` with `input` on stdin: stdout with the timestamps of "now" cut (the same
/// point made a moment apart by two plugins), and the error line with the plugin's name and
/// the place in the source cut (Python names its exception type and its file).
fn normalized(args: &[&str], input: &[u8], name: &str) -> (String, String) {
    use std::io::Write;
    let mut child = Command::new(sandkit_tests::sandkit_bin())
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let o = child.wait_with_output().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let out: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| match l.rsplit_once(' ') {
            // a time within the last minute is "now": the host's clock, not the body's
            Some((head, t))
                if t.parse::<u64>()
                    .is_ok_and(|t| t / 1_000_000_000 + 60 > now && t / 1_000_000_000 <= now) =>
            {
                head.to_string()
            }
            _ => l.to_string(),
        })
        .collect();
    let err: Vec<String> = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.starts_with("Error"))
        .map(|l| {
            let l = l
                .replace(name, "PLUGIN")
                .replace("ValueError: ", "")
                .replace("ConfigError: ", "");
            match l.find(" (app.") {
                Some(at) => l[..at].to_string(),
                None => l,
            }
        })
        .collect();
    (out.join("\n"), err.join("\n"))
}

/// The C examples against their Python twins through the CLI: logfmt's sample and lines
/// that probe its grammar give the same records; CSV bodies (good ones, and one for each
/// error) give the same points or the same error; procs emits the same measurements and fields.
#[test]
fn c_examples_match_their_python_twins() {
    let py = sandkit_tests::repo_root().join("guests/python");
    let logfmt_conf = py.join("logfmt/conf.toml");
    let mut lines = std::fs::read_to_string(py.join("logfmt/testdata/input.log")).unwrap();
    for extra in [
        "a=\"\\u00e9\\ud83d\\ude00\\ud800x\\u12\" b=\"\\q\\\\\" c=\u{a0}d e=1e-3 f=-0 g=0.0e0 h=-",
        "level=\"WARN\" level=x tags=\"\" time=\"\" ts=2024-03-01T12:00:00+0800 ts=later",
        "k=\"a\\\"b\" =x",
        "x=1\u{3000}y=\"z\"  message=m msg=n",
        "a=b\tc=\"d\" \"e\"",
    ] {
        lines.push_str(extra);
        lines.push('\n');
    }
    let run = |guest: &str| {
        let wasm = sandkit_tests::wasm(guest);
        let args = [
            "pipeline",
            "test",
            "-c",
            logfmt_conf.to_str().unwrap(),
            "--source",
            "app",
            wasm.to_str().unwrap(),
        ];
        normalized(&args, lines.as_bytes(), guest)
    };
    let (c, python) = (run("clogfmt"), run("logfmt"));
    assert_eq!(c, python, "clogfmt and logfmt differ");
    assert!(c.0.matches("\n< app").count() >= 22, "{}", c.0);

    let csv = py.join("csvmetrics/testdata");
    let bodies: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "tag_columns = [\"host\", \"sensor\"]",
            "text/csv; charset=utf-8",
            std::fs::read(csv.join("readings.csv")).unwrap(),
        ),
        (
            "measurement = \"energy\"\ndelimiter = \";\"\ntag_columns = [\"device\"]",
            "",
            std::fs::read(csv.join("energy.csv")).unwrap(),
        ),
        (
            "time_column = \"ts\"\ntime_format = \"unix_ms\"",
            "text/tab-separated-values",
            b"ts\tv\n1709294400123\t1\n-1500\t2\n".to_vec(),
        ),
        (
            "measurement_column = \"\"\n[config.column_types]\ncode = \"text\"\nlevel = \"float\"\nn = \"int\"\nup = \"bool\"",
            "",
            b"measurement,code,level,n,up\nx,200,3,007,True\n".to_vec(),
        ),
        ("", "", b"a,b\n1e5,00\n-0,+1\n \xc2\xa0x , \"y\" \r\n".to_vec()),
        ("", "", b"t,v\n1709294400.5,1\n2024-03-01 12:00:00+0100,2\n-0.5,3\n".to_vec()),
        ("", "", b"a,b,c\n1,2,3\n4,5\n".to_vec()),
        ("[config.column_types]\nn = \"int\"", "", b"n,m\n1,2\n12.5,3\n".to_vec()),
        ("", "", b"time,v\n2024-03-01T12:00:00Z,1\nyesterday,2\n".to_vec()),
        ("tag_columns = [\"host\"]", "", b"host,v\nweb-1,1\nweb-2,\n".to_vec()),
        ("", "", b"a,,c\n1,2,3\n".to_vec()),
        ("", "", b"a,b,a\n1,2,3\n".to_vec()),
        ("", "", b"a,b\n\"x\"y,1\n".to_vec()),
        ("", "", b"a,b\n\"open,1\n".to_vec()),
        ("", "application/json", b"{\"a\": 1}".to_vec()),
        ("", "", b"a,b\n\xff,1\n".to_vec()),
        ("", "", b"\n\n".to_vec()),
        ("max_rows = 2", "", b"a\n1\n2\n3\n".to_vec()),
        ("time_format = \"epoch\"", "", b"a\n1\n".to_vec()),
        ("delimiter = \";;\"", "", b"a\n1\n".to_vec()),
        ("tags = [1]", "", b"a\n1\n".to_vec()),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (conf, content_type, body)) in bodies.iter().enumerate() {
        let conf_file = dir.path().join(format!("{i}.toml"));
        std::fs::write(&conf_file, format!("[config]\n{conf}\n")).unwrap();
        let run = |guest: &str| {
            let wasm = sandkit_tests::wasm(guest);
            let args = [
                "plugin",
                "test",
                "-c",
                conf_file.to_str().unwrap(),
                "--content-type",
                content_type,
                wasm.to_str().unwrap(),
            ];
            normalized(&args, body, guest)
        };
        let (c, python) = (run("ccsvmetrics"), run("csvmetrics"));
        assert_eq!(c, python, "body {i}: ccsvmetrics and csvmetrics differ");
        assert!(
            !c.0.is_empty() || !c.1.is_empty(),
            "body {i}: nothing at all"
        );
    }

    let conf = py.join("procs/conf.toml");
    let keys = |guest: &str| {
        let wasm = sandkit_tests::wasm(guest);
        let (out, err) = normalized(
            &[
                "plugin",
                "test",
                "-c",
                conf.to_str().unwrap(),
                wasm.to_str().unwrap(),
            ],
            b"",
            guest,
        );
        assert!(err.is_empty(), "{guest}: {err}");
        // measurement and field names, without the counts (processes come and go)
        out.lines()
            .map(|l| {
                let (series, fields) = l.split_once(' ').unwrap();
                let names: Vec<&str> = fields
                    .split(',')
                    .map(|f| f.split('=').next().unwrap())
                    .collect();
                format!("{series} {}", names.join(","))
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(keys("cprocs"), keys("procs"));
}

/// The `files` import from C keeps to the grants: a granted file and directory are served,
/// `..`, a symlink out, a FIFO, an ungranted path and a /proc path outside the kernel view are
/// refused with a message naming the path and what to grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_files_import_keeps_to_the_grants_in_c() {
    let h = Harness::new();
    let grants = Grants::new();
    let (gs, os) = (grants.g(), grants.o());
    let paths = [
        format!("{gs}/a.txt"),
        format!("{gs}/"),
        format!("{gs}/sub/../a.txt"),
        format!("{gs}/link"),
        format!("{os}/secret"),
        "/proc/loadavg".to_string(),
        "/proc/self/environ".to_string(),
        format!("{gs}/sub/"),
    ];
    let probe = grants.probe(&h, "cfaults", "cf", &paths).await;
    let (ok, error) = (|p: &str| probe.ok(p), |p: &str| probe.error(p));
    let by_path = |p: &str| probe.point(p);
    assert!(ok(&paths[0]));
    assert_eq!(by_path(&paths[0]).field("bytes"), Some(&FieldValue::Int(5)));
    assert_eq!(
        by_path(&paths[1]).field("entries"),
        Some(&FieldValue::Int(3))
    );
    assert!(error(&paths[2]).contains("\"..\""), "{}", error(&paths[2]));
    assert!(!ok(&paths[3]), "a symlink may not lead out of its grant");
    let e = error(&paths[4]);
    assert!(
        e.contains("not under a granted directory") && e.contains("read_only_dirs"),
        "{e}"
    );
    assert!(ok(&paths[5]), "the kernel view serves /proc/loadavg");
    let e = error(&paths[6]);
    assert!(
        e.contains("kernel view") && e.contains("kernel_paths"),
        "{e}"
    );
    // An empty list from the host (its pointer dangles, as the canonical ABI allows) is freed
    // without a crash.
    assert_eq!(
        by_path(&paths[7]).field("entries"),
        Some(&FieldValue::Int(0))
    );
    let st = h.sup.status("cf").unwrap();
    assert_eq!((st.crashes, st.errors), (0, 0), "{st:#?}");
    assert!(!probe.shows("s3cret"));
}

/// Outgoing HTTP from C keeps to the allowlist (see
/// [`sandkit_tests::guest_http_keeps_to_the_allowlist`]).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_http_keeps_to_the_allowlist() {
    sandkit_tests::guest_http_keeps_to_the_allowlist("cfaults").await;
}

/// `sandkit ARGS` in `dir`.
fn sandkit(dir: &Path, args: &[&str]) -> std::process::Output {
    sandkit_tests::sandkit_cli(dir, args, &[])
}

/// `sandkit ARGS` in `dir` with `input` on its stdin: its stdout and stderr.
fn sandkit_stdin(what: &str, dir: &Path, args: &[&str], input: &[u8]) -> (String, String) {
    sandkit_tests::sandkit_cli_stdin(what, dir, args, input, &[])
}
