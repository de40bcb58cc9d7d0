//! Arbitrary bytes into the line protocol decoder: it must not panic, must give the same
//! points and errors however the input is chunked, and what it decodes must encode to a text
//! that decodes to the same points (less what line protocol cannot carry in a name:
//! `name_as_read_back`).
//!
//! Shared by the fuzz target and the corpus replay in `make test`.

use sandkit_io::{
    decode_lines, encode_points, point_as_read_back, Category, LineDecoder, Point, Precision,
};

/// Panics when the property does not hold for `data`.
pub fn check(data: &[u8]) {
    // The first byte picks the chunk size and the line limit; the rest is the input.
    let Some((&knobs, input)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(knobs & 0x0f) + 1;
    let max_line_bytes = if knobs & 0x80 != 0 {
        usize::from(knobs & 0x70)
    } else {
        usize::MAX
    };
    let decode = |chunk: usize| {
        let mut decoder = LineDecoder::new(Precision::Milliseconds, 7, Category::Logging)
            .with_max_line_bytes(max_line_bytes);
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            decoder.feed(piece);
            out.extend(decoder.by_ref());
        }
        decoder.finish();
        out.extend(decoder.by_ref());
        out
    };
    assert_eq!(decode(chunk), decode(input.len().max(1)));

    if let Ok(points) = decode_lines(input, Precision::Nanoseconds, 0, Category::Metric) {
        let text = encode_points(&points);
        let again = decode_lines(text.as_bytes(), Precision::Nanoseconds, 0, Category::Metric);
        let expected: Vec<Point> = points.iter().map(point_as_read_back).collect();
        assert_eq!(again, Ok(expected), "{text:?}");
    }
}
