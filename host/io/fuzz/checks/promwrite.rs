//! Arbitrary protobuf (snappy-compressed here) into the Prometheus remote-write decoder of the
//! HTTP server: it must not panic, every point it gives is valid line protocol, and the body
//! limit holds.
//!
//! Shared by the fuzz target and the corpus replay in `make test`.

#[allow(dead_code, clippy::all)]
#[path = "../../../server/src/promwrite.rs"]
mod promwrite;

use sandkit_io::{decode_lines, encode_points, Category, Precision};

/// Panics when the property does not hold for `data`.
pub fn check(data: &[u8]) {
    let body = snap::raw::Encoder::new()
        .compress_vec(data)
        .expect("snappy compresses any input");
    if let Ok(points) = promwrite::decode(&body, 1 << 20) {
        let text = encode_points(&points);
        let back = decode_lines(text.as_bytes(), Precision::Nanoseconds, 0, Category::Metric);
        assert!(back.is_ok(), "{text:?}: {back:?}");
    }
}
