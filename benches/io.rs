//! IO benches: line protocol encoding and decoding (points/s in `lineproto`, bytes/s in
//! `lineproto_bytes`), and gzip vs zstd at the levels the outputs use, on 10,000 points shaped
//! like the bundled collectors' output. The baseline in the same run is a plain `memcpy` of the
//! encoded bytes.

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

    let mut g = c.benchmark_group("compress");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Bytes(bytes));
    for (name, comp) in [
        ("gzip1", Compression::Gzip(1)),
        ("gzip6", Compression::Gzip(6)),
        ("zstd1", Compression::Zstd(1)),
        ("zstd3", Compression::Zstd(3)),
    ] {
        let ratio = bytes as f64 / comp.compress(text.as_bytes()).expect("compress").len() as f64;
        eprintln!("compress/{name}: ratio {ratio:.1}x on {bytes} bytes of line protocol");
        g.bench_with_input(BenchmarkId::from_parameter(name), &comp, |b, comp| {
            b.iter(|| black_box(comp.compress(black_box(text.as_bytes())).expect("compress")))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
