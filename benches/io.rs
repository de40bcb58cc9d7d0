//! IO benches: line protocol encoding and decoding (points/s in `lineproto`, bytes/s in
//! `lineproto_bytes`), and gzip vs zstd at the levels the outputs offer (zstd's fast negative
//! levels too), on 10,000 points shaped like the bundled collectors' output (`compress`) and on
//! 10,000 nginx access-log lines as the nginx pipeline writes them with `message` kept
//! (`compress_nginx`, the full path's case). The baseline in the same run is a plain `memcpy`
//! of the encoded bytes.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sandkit_io::{
    decode_lines, encode_points, Category, Compression, FieldValue, Point, Precision,
};
use std::hint::black_box;
use std::time::Duration;

fn sample_points(n: usize) -> Vec<Point> {
    (0..n)
        .map(|i| {
            Point::new(
                "cpu".into(),
                vec![
                    ("host".into(), "web-01.example.com".into()),
                    ("cpu".into(), format!("cpu{}", i % 16)),
                ],
                vec![
                    (
                        "usage_user".into(),
                        FieldValue::Float(12.5 + (i % 7) as f64),
                    ),
                    ("usage_system".into(), FieldValue::Float(3.25)),
                    ("usage_idle".into(), FieldValue::Float(84.0)),
                    ("reads".into(), FieldValue::Uint(1_234_567 + i as u64)),
                    ("errors".into(), FieldValue::Int(0)),
                    ("state".into(), FieldValue::Text("running".into())),
                ],
                1_700_000_000_000_000_000 + i as i64 * 1_000_000_000,
                Category::Metric,
            )
            .expect("valid sample point")
        })
        .collect()
}

/// Line protocol of nginx access-log lines as a file task writes them through the bundled nginx
/// pipeline (DataKit's field names, the line kept as `message`), varied like real traffic.
fn nginx_lines(n: usize) -> String {
    const PATHS: [&str; 6] = [
        "/",
        "/index.html",
        "/api/v1/items?page=3&sort=desc",
        "/static/app.9f3c2.js",
        "/login",
        "/images/logo.png",
    ];
    const AGENTS: [&str; 3] = [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "curl/7.88.1",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    ];
    let mut out = String::new();
    for i in 0..n {
        let ip = format!("10.{}.{}.{}", i % 7, (i * 13) % 251, (i * 101) % 253);
        let path = PATHS[i % PATHS.len()];
        let agent = AGENTS[(i / 3) % AGENTS.len()];
        let status = [200, 200, 200, 304, 404, 500][(i * 7) % 6];
        let bytes = 200 + (i * 7919) % 90_000;
        let (sec, min) = (i % 60, (i / 60) % 60);
        let line = format!(
            "{ip} - - [06/Dec/2026:10:{min:02}:{sec:02} +0000] \"GET {path} HTTP/1.1\" {status} {bytes} \"https://example.com/\" \"{agent}\""
        );
        let msg = line.replace('\\', "\\\\").replace('"', "\\\"");
        let ts = 1_796_551_200_000_000_000i64 + i as i64 * 1_000_000;
        out.push_str(&format!(
            "nginx,filename=access.log,host=web-01 client_ip=\"{ip}\",http_method=\"GET\",http_url=\"{path}\",http_version=\"1.1\",status=\"{status}\",bytes={bytes}i,referrer=\"https://example.com/\",agent=\"{agent}\",browser=\"\",os=\"\",message=\"{msg}\" {ts}\n"
        ));
    }
    out
}

/// gzip and zstd at every level the outputs offer that is worth comparing, on `text`, beside a
/// copy of the same bytes; prints each ratio.
fn compress_group(c: &mut Criterion, group: &str, text: &str) {
    let bytes = text.len() as u64;
    let mut g = c.benchmark_group(group);
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("memcpy_baseline", |b| {
        b.iter(|| black_box(black_box(text.as_bytes()).to_vec()))
    });
    for (name, comp) in [
        ("gzip1", Compression::Gzip(1)),
        ("gzip6", Compression::Gzip(6)),
        ("zstd-7", Compression::Zstd(-7)),
        ("zstd-5", Compression::Zstd(-5)),
        ("zstd-3", Compression::Zstd(-3)),
        ("zstd-1", Compression::Zstd(-1)),
        ("zstd1", Compression::Zstd(1)),
        ("zstd3", Compression::Zstd(3)),
    ] {
        let ratio = bytes as f64 / comp.compress(text.as_bytes()).expect("compress").len() as f64;
        eprintln!("{group}/{name}: ratio {ratio:.2}x on {bytes} bytes of line protocol");
        g.bench_with_input(BenchmarkId::from_parameter(name), &comp, |b, comp| {
            b.iter(|| black_box(comp.compress(black_box(text.as_bytes())).expect("compress")))
        });
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    let points = sample_points(10_000);
    let text = encode_points(&points);
    let bytes = text.len() as u64;
    eprintln!(
        "lineproto: {} points, {bytes} bytes of line protocol ({} bytes a line)",
        points.len(),
        bytes / points.len() as u64
    );

    let mut g = c.benchmark_group("lineproto");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(points.len() as u64));
    g.bench_function("encode_10k", |b| {
        b.iter(|| black_box(encode_points(black_box(&points))))
    });
    g.bench_function("decode_10k", |b| {
        b.iter(|| {
            black_box(decode_lines(
                black_box(text.as_bytes()),
                Precision::Nanoseconds,
                0,
                Category::Metric,
            ))
        })
    });
    g.bench_function("memcpy_baseline", |b| {
        b.iter(|| black_box(black_box(text.as_bytes()).to_vec()))
    });
    g.finish();

    // The same encode and decode again, reported in bytes of line protocol per second.
    let mut g = c.benchmark_group("lineproto_bytes");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("encode_10k", |b| {
        b.iter(|| black_box(encode_points(black_box(&points))))
    });
    g.bench_function("decode_10k", |b| {
        b.iter(|| {
            black_box(decode_lines(
                black_box(text.as_bytes()),
                Precision::Nanoseconds,
                0,
                Category::Metric,
            ))
        })
    });
    g.finish();

    compress_group(c, "compress", &text);
    let nginx = nginx_lines(10_000);
    eprintln!(
        "compress_nginx: {} bytes of line protocol ({} bytes a line)",
        nginx.len(),
        nginx.len() / 10_000
    );
    compress_group(c, "compress_nginx", &nginx);
}

criterion_group!(benches, bench);
criterion_main!(benches);
