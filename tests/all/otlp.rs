//! OTLP/HTTP both ways, with the official OpenTelemetry code on the other side:
//! - in: the OpenTelemetry Python SDK (from PyPI, `make pydeps`) exports metrics and logs to the
//!   agent's `/v1/metrics` and `/v1/logs` (protobuf, one of them gzip), and posts OTLP/JSON
//!   spans; the points that arrive are read from the agent's file output;
//! - out: the agent's OTLP output is received by a Python server that decodes each request with
//!   the generated modules of the official `opentelemetry-proto` package (not our code).

use sandkit_tests::{agent_with_config, eventually, post_each, stop_agent, ChildGuard};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The venv's Python with the OpenTelemetry packages, or `None` (a failure under CI=true).
fn otel_python() -> Option<PathBuf> {
    let p = sandkit_tests::py_venv()?.join("bin/python");
    let ok = p.exists()
        && Command::new(&p)
            .args(["-c", "import opentelemetry.sdk, opentelemetry.proto, opentelemetry.exporter.otlp.proto.http"])
            .status()
            .is_ok_and(|s| s.success());
    if ok {
        return Some(p);
    }
    sandkit_tests::missing("the OpenTelemetry Python SDK", "`make pydeps`")
}

fn script(name: &str) -> PathBuf {
    sandkit_tests::repo_root()
        .join("tests/data/otlp")
        .join(name)
}

/// The lines of `text` that begin with `prefix`.
fn lines_of(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_opentelemetry_sdk_exports_metrics_and_logs_to_the_agent() {
    let Some(python) = otel_python() else {
        return;
    };
    let d = sandkit_tests::agent_dir(&[]);
    let (agent, guard, addr) = agent_with_config(
        d.path(),
        "data_dir = \"data\"\n[global_tags]\nsite = \"lab\"\n[http]\ntoken = \"s3cret\"\n\
         [[outputs]]\nname = \"otlp-in\"\nkind = \"file\"\npath = \"out.lp\"\n\
         flush_interval = \"50ms\"\nroute = { sources = [\"otlp\"] }\n",
    )
    .await;
    let base = format!("http://{addr}");

    let run = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script("export.py"))
            .args([&base, "s3cret"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let out = d.path().join("out.lp");
    // Every export was answered 200 only once its points were in the output: they are there.
    let all = std::fs::read_to_string(&out).unwrap_or_default();
    let log = stop_agent(d.path(), agent, guard);
    assert!(run.status.success(), "{said}\n{log}\n{all}");

    // Metrics: measurement = the meter's name, fields = the instruments (without `shop.`),
    // tags = the resource's and the data point's attributes, and the global tags.
    let shop = lines_of(&all, "shop,");
    let find = |needle: &[&str]| {
        shop.iter()
            .find(|l| needle.iter().all(|n| l.contains(n)))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{all}"))
            .clone()
    };
    let eu = find(&["region=eu", "orders="]);
    assert!(eu.contains(" orders=5i "), "{eu}");
    for tag in [
        "service.name=shop",
        "deployment.environment=test",
        "telemetry.sdk.language=python",
        "site=lab",
    ] {
        assert!(eu.contains(tag), "{tag} missing in {eu}");
    }
    assert!(find(&["region=us"]).contains(" orders=7i "));
    let hist = find(&["latency_count="]);
    assert!(hist.contains("latency_count=3u"), "{hist}");
    assert!(hist.contains("latency_sum=4.3"), "{hist}");
    assert!(
        hist.contains("latency_min=0.02") && hist.contains("latency_max=4"),
        "{hist}"
    );
    // Buckets are cumulative (the SDK's default bounds: 0, 5, 10, 25...): none of the three
    // values is under 0, all three are under 5, 10 and +Inf.
    assert!(find(&["le=0,"]).contains("latency_bucket=0u"));
    assert!(find(&["le=5,"]).contains("latency_bucket=3u"));
    assert!(find(&["le=+Inf"]).contains("latency_bucket=3u"));
    assert!(find(&["queue=mail"]).contains(" queue.depth=17i "));

    // Logs: measurement = the logger's name, status from the severity, the message, string
    // attributes as tags and the others as typed fields.
    let logs = lines_of(&all, "shop.checkout,");
    assert_eq!(logs.len(), 2, "{all}");
    let warn = logs.iter().find(|l| l.contains("status=warning")).unwrap();
    assert!(warn.contains("customer=ann"), "{warn}");
    assert!(warn.contains("message=\"payment slow\""), "{warn}");
    assert!(warn.contains("order_id=42i"), "{warn}");
    assert!(warn.contains("service.name=shop"), "{warn}");
    let err = logs.iter().find(|l| l.contains("status=error")).unwrap();
    assert!(err.contains("message=\"card declined\""), "{err}");

    // The data point with a value, of the body that had one without.
    assert_eq!(lines_of(&all, "partial,").len(), 1, "{all}");

    // Spans posted as OTLP/JSON: a tracing point.
    let spans = lines_of(&all, "opentelemetry,");
    assert_eq!(spans.len(), 1, "{all}");
    for part in [
        "service=api",
        "operation=GET\\ /users",
        "span_kind=server",
        "status=ok",
        "trace_id=\"5b8efff798038103d269b633813fc60c\"",
        "duration=250000i",
        " 1700000000000000000",
    ] {
        assert!(spans[0].contains(part), "{part} missing in {}", spans[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_otlp_output_is_read_by_the_official_proto_definitions() {
    let Some(python) = otel_python() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let received = work.path().join("received.jsonl");
    let port = sandkit_tests::free_port();
    let receiver = Command::new(python)
        .arg(script("receiver.py"))
        .arg(port.to_string())
        .arg(&received)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(work.path().join("receiver.log")).unwrap())
        .spawn()
        .unwrap();
    let _receiver = ChildGuard(receiver);
    assert!(
        eventually(20, || std::net::TcpStream::connect(("127.0.0.1", port))
            .is_ok())
        .await,
        "the receiver did not start"
    );

    let d = sandkit_tests::agent_dir(&[]);
    let (agent, guard, addr) = agent_with_config(
        d.path(),
        &format!(
            "data_dir = \"data\"\n[global_tags]\nhost = \"web-1\"\nsite = \"lab\"\n\
             [[outputs]]\nname = \"collector\"\nkind = \"otlp\"\nurl = \"http://127.0.0.1:{port}\"\n\
             token = \"t0k\"\ncounters = [\"app.requests\"]\nflush_interval = \"50ms\"\n"
        ),
    )
    .await;
    let metric =
        "app,path=/a\\ b requests=42i,ratio=0.25,up=true,note=\"text\" 1700000000123000000\n";
    let logging = "app,status=warning,path=/x message=\"slow upstream\",bytes=512i,trace_id=\"0af7651916cd43dd8448eb211c80319c\" 1700000000456000000\n";
    post_each(
        &addr,
        &[("/v1/write/metric", metric), ("/v1/write/logging", logging)],
    )
    .await;
    let log = stop_agent(d.path(), agent, guard);
    let got: Vec<serde_json::Value> = std::fs::read_to_string(&received)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |path: &str| {
        got.iter()
            .find(|r| r["path"] == path)
            .unwrap_or_else(|| panic!("nothing on {path}: {got:?}\n{log}"))
    };
    let attrs = |list: &serde_json::Value| -> Vec<(String, serde_json::Value)> {
        list.as_array()
            .map(|a| {
                a.iter()
                    .map(|kv| (kv["key"].as_str().unwrap().to_string(), kv["value"].clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let s = |v: &str| serde_json::json!({ "stringValue": v });

    let m = find("/v1/metrics");
    assert_eq!(m["content_type"], "application/x-protobuf");
    assert_eq!(m["content_encoding"], "gzip");
    assert_eq!(m["authorization"], "Bearer t0k");
    let rm = &m["request"]["resourceMetrics"][0];
    let res = attrs(&rm["resource"]["attributes"]);
    assert!(res.contains(&("host".into(), s("web-1"))), "{res:?}");
    assert!(res.contains(&("site".into(), s("lab"))), "{res:?}");
    let sm = &rm["scopeMetrics"][0];
    assert_eq!(sm["scope"]["name"], "app");
    let metric = |name: &str| {
        sm["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {sm}"))
            .clone()
    };
    let requests = metric("app.requests");
    let sum = &requests["sum"];
    assert_eq!(sum["isMonotonic"], true);
    assert_eq!(
        sum["aggregationTemporality"],
        "AGGREGATION_TEMPORALITY_CUMULATIVE"
    );
    let dp = &sum["dataPoints"][0];
    assert_eq!(dp["asInt"], "42");
    assert_eq!(dp["timeUnixNano"], "1700000000123000000");
    assert!(
        dp["startTimeUnixNano"].as_str().is_some_and(|t| t != "0"),
        "{dp}"
    );
    assert_eq!(attrs(&dp["attributes"]), vec![("path".into(), s("/a b"))]);
    assert_eq!(
        metric("app.ratio")["gauge"]["dataPoints"][0]["asDouble"],
        0.25
    );
    assert_eq!(metric("app.up")["gauge"]["dataPoints"][0]["asInt"], "1");
    assert!(
        !sm["metrics"].to_string().contains("note"),
        "text fields are not metrics"
    );

    let l = find("/v1/logs");
    let sl = &l["request"]["resourceLogs"][0]["scopeLogs"][0];
    assert_eq!(sl["scope"]["name"], "app");
    let r = &sl["logRecords"][0];
    assert_eq!(r["severityNumber"], "SEVERITY_NUMBER_WARN");
    assert_eq!(r["severityText"], "warning");
    assert_eq!(r["body"], s("slow upstream"));
    assert_eq!(r["timeUnixNano"], "1700000000456000000");
    // protobuf's JSON mapping writes bytes in base64.
    assert_eq!(r["traceId"], "CvdlGRbNQ92ESOshHIAxnA==");
    let ra = attrs(&r["attributes"]);
    assert!(ra.contains(&("path".into(), s("/x"))), "{ra:?}");
    assert!(
        ra.contains(&("bytes".into(), serde_json::json!({ "intValue": "512" }))),
        "{ra:?}"
    );
    // Its lanes carry the output's name.
    let m = std::fs::read_to_string(d.path().join("data/metrics.json")).unwrap();
    assert!(m.contains("\"collector\""), "{m}");
}
