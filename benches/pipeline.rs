//! The nginx pipeline, Wasm against the same parser compiled natively, in the same run.
//!
//! Input: batches of 1,024 nginx "combined" lines (the generator of benches/tail.sh, in Rust).
//! Cases, each per batch (criterion reports time per batch; lines/s = 1024 / time):
//! - `wasm`: what a file task pays for the pipeline: `PipelineRunner::process_async`, i.e. the
//!   batch copied into the guest, `process` (parse, and write the record encoding), the output
//!   copied out;
//! - `native`: the same crate (`nginx::write_line` through the SDK's `Records`) compiled for the
//!   host: the same work without the Wasm boundary;
//! - `native_parse`: `nginx::parse` alone (no record writing), for scale;
//! - `read_records`: the host reading (and checking) the records of one batch, which a source
//!   does after either (not part of the ratio).
//!
//! The ratio wasm / native is the target (at most 1.3). Run with
//! `cargo bench -p sandkit-benches --bench pipeline`.

use criterion::{Criterion, Throughput};
use sandkit_benches::{runtime_config, summary, tokio_runtime, wasm};
use sandkit_io::records::RecordReader;
use sandkit_runtime::{load_plugin, PipelineRegistry, PluginConfig, Runtime};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const LINES: usize = 1024;

/// `n` nginx combined lines, deterministic (a Park-Miller generator, like benches/tail.sh).
fn lines(n: usize) -> Vec<String> {
    let mut seed: u64 = 20_240_301;
    let mut rnd = |m: u64| {
        seed = seed * 16_807 % 2_147_483_647;
        seed % m
    };
    let agents = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
        "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
        "curl/8.5.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "kube-probe/1.29",
    ];
    let statuses = [200, 200, 200, 200, 200, 304, 301, 404, 500, 502];
    let methods = ["GET", "GET", "GET", "POST", "HEAD"];
    (0..n)
        .map(|i| {
            let ip = format!(
                "{}.{}.{}.{}",
                1 + rnd(223),
                rnd(256),
                rnd(256),
                1 + rnd(254)
            );
            let s = i % 86_400;
            let path = match rnd(4) {
                0 => format!("/api/v1/users/{}/orders?limit={}", rnd(100_000), 10 + rnd(90)),
                1 => format!("/static/js/app.{:08x}.js", rnd(2_147_483_647)),
                2 => format!("/images/products/{}_{}.jpg", rnd(50_000), 1 + rnd(8)),
                _ => "/".to_string(),
            };
            let referrer = if rnd(2) == 0 {
                "-".to_string()
            } else {
                format!("https://www.example.com{path}")
            };
            format!(
                "{ip} - - [01/Mar/2024:{:02}:{:02}:{:02} +0000] \"{} {path} HTTP/1.1\" {} {} \"{referrer}\" \"{}\"",
                s / 3600,
                s % 3600 / 60,
                s % 60,
                methods[rnd(5) as usize],
                statuses[rnd(10) as usize],
                rnd(20_000),
                agents[rnd(5) as usize],
            )
        })
        .collect()
}

fn main() {
    let started = SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    let input = lines(LINES);
    let mut data = String::new();
    let mut ends = Vec::new();
    for l in &input {
        data.push_str(l);
        ends.push(data.len() as u32);
    }
    let bytes = data.len();

    let rt = tokio_runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = Arc::new(Runtime::new(runtime_config(dir.path())).expect("runtime"));
    let config = PluginConfig::default_with(runtime.config().limits);
    let file = wasm("nginx");
    let wasm_bytes = std::fs::read(&file).expect("read nginx.wasm");
    let loaded = rt
        .block_on(load_plugin(&runtime, "nginx", &file, &wasm_bytes, &config))
        .expect("load nginx.wasm");
    let registry = PipelineRegistry::new(runtime.clone());
    registry.insert_loaded(loaded, config);
    let mut runner = registry.runner("nginx", rt.handle().clone());
    // A/B: PIPELINE_WASM_B=other/nginx.wasm runs that build too, as `wasm_b`, in the same run.
    let mut runner_b = std::env::var_os("PIPELINE_WASM_B").map(|b| {
        let file = std::path::PathBuf::from(b);
        let bytes = std::fs::read(&file).expect("read PIPELINE_WASM_B");
        let config = PluginConfig::default_with(runtime.config().limits);
        let loaded = rt
            .block_on(load_plugin(&runtime, "nginx_b", &file, &bytes, &config))
            .expect("load PIPELINE_WASM_B");
        registry.insert_loaded(loaded, config);
        registry.runner("nginx_b", rt.handle().clone())
    });

    // The two produce the same records.
    let p = rt.block_on(runner.process_async("nginx", &data, &ends));
    assert_eq!(p.failed_lines(), 0);
    let native_out = native(&data, &ends);
    let sandkit_io::pipeline::Part::Records(chunk) = &p.parts[0] else {
        panic!("the wasm pipeline failed");
    };
    assert_eq!(chunk.output, native_out, "wasm and native outputs differ");

    let mut g = c.benchmark_group("pipeline_nginx");
    g.throughput(Throughput::Elements(LINES as u64))
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("wasm", |b| {
        b.iter(|| {
            let p = rt.block_on(runner.process_async("nginx", black_box(&data), &ends));
            black_box(p)
        })
    });
    if let Some(rb) = runner_b.as_mut() {
        g.bench_function("wasm_b", |b| {
            b.iter(|| {
                let p = rt.block_on(rb.process_async("nginx", black_box(&data), &ends));
                black_box(p)
            })
        });
    }
    g.bench_function("native", |b| {
        b.iter(|| black_box(native(black_box(&data), &ends)))
    });
    let out = native(&data, &ends);
    g.bench_function("read_records", |b| {
        b.iter(|| {
            black_box(RecordReader::validate(black_box(&out), &data, ends.len()).expect("valid"))
        })
    });
    g.bench_function("native_parse", |b| {
        b.iter(|| {
            for l in &input {
                black_box(nginx::parse(black_box(l)));
            }
        })
    });
    g.finish();
    c.final_summary();

    // The machine is shared: its speed drifts within a run. Timing the two in alternation, round
    // by round, and taking the median of the per-round ratios, is robust to that drift.
    let rounds = 41;
    let per = 20;
    let mut ratios = Vec::with_capacity(rounds);
    let (mut tw, mut tn) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = std::time::Instant::now();
        for _ in 0..per {
            black_box(rt.block_on(runner.process_async("nginx", black_box(&data), &ends)));
        }
        let w = t.elapsed().as_secs_f64() / per as f64;
        let t = std::time::Instant::now();
        for _ in 0..per {
            black_box(native(black_box(&data), &ends));
        }
        let n = t.elapsed().as_secs_f64() / per as f64;
        ratios.push(w / n);
        tw.push(w);
        tn.push(n);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (mw, mn, mr) = (median(&mut tw), median(&mut tn), median(&mut ratios));
    println!(
        "\ninterleaved, {rounds} rounds of {per} batches each: wasm {:.0} µs/batch ({:.0} lines/s), native {:.0} µs/batch ({:.0} lines/s); median of per-round ratios wasm/native = {mr:.2} (quartiles {:.2}..{:.2})",
        mw * 1e6,
        LINES as f64 / mw,
        mn * 1e6,
        LINES as f64 / mn,
        ratios[rounds / 4],
        ratios[rounds * 3 / 4],
    );
    println!("\n{LINES} lines per batch, {bytes} bytes");
    summary::print(
        &[
            ("pipeline_nginx/wasm", Some("pipeline_nginx/native")),
            ("pipeline_nginx/wasm_b", Some("pipeline_nginx/wasm")),
            ("pipeline_nginx/native", Some("pipeline_nginx/native_parse")),
            ("pipeline_nginx/wasm", Some("pipeline_nginx/native_parse")),
            ("pipeline_nginx/read_records", None),
        ],
        started,
    );
    for id in ["wasm", "wasm_b", "native", "native_parse", "read_records"] {
        if let Some(ns) = summary::median_ns(&format!("pipeline_nginx/{id}"), started) {
            println!(
                "pipeline_nginx/{id}: {:.0} lines/s",
                LINES as f64 / (ns / 1e9)
            );
        }
    }
}

/// The native path: the SDK's batch loop over `nginx::write_line`.
fn native(data: &str, ends: &[u32]) -> Vec<u8> {
    let batch = sandkit_sdk::Batch::new("nginx", data, ends).expect("batch");
    let mut out = sandkit_sdk::Records::new(&batch, data.len() + 64 * batch.len());
    for (i, line) in batch.lines().enumerate() {
        out.set_line(i);
        nginx::write_line(line, true, &mut out);
    }
    out.into_bytes()
}
