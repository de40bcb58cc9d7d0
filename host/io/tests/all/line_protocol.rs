//! Line protocol: what the encoder writes, the decoder reads back unchanged, and the decoder
//! neither panics nor depends on how its input is chunked.

use proptest::prelude::*;
use sandkit_io::{
    decode_lines, encode_points, name_as_read_back, point_as_read_back, Category, DecodeError,
    FieldValue, LineDecoder, NamePart, Point, Precision,
};
use std::collections::HashSet;

/// Characters that line protocol treats specially, and a few plain ones, so that generated
/// names are mostly made of the hard cases.
const SPECIAL: &[char] = &[
    ',', ' ', '=', '"', '\\', '\n', '\r', '\t', '\u{c}', '#', 'n', 'r', 't', 'f', 'a', '1', 'é',
    '\0', '\u{feff}', '😀',
];

fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => proptest::sample::select(SPECIAL),
        1 => any::<char>(),
    ]
}

fn text(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(any_char(), len).prop_map(String::from_iter)
}

fn name() -> impl Strategy<Value = String> {
    text(1..10)
}

fn float() -> impl Strategy<Value = f64> {
    use proptest::num::f64 as f;
    prop_oneof![
        4 => f::POSITIVE | f::NEGATIVE | f::NORMAL | f::SUBNORMAL | f::ZERO,
        1 => proptest::sample::select(vec![
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            f64::EPSILON,
            5e-324,
            -0.0,
            0.1 + 0.2,
            1e300,
            -1e-300,
            2.0,
        ]),
    ]
}

fn field_value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        any::<i64>().prop_map(FieldValue::Int),
        proptest::sample::select(vec![i64::MIN, i64::MAX, 0, -1]).prop_map(FieldValue::Int),
        any::<u64>().prop_map(FieldValue::Uint),
        proptest::sample::select(vec![u64::MAX, 0]).prop_map(FieldValue::Uint),
        float().prop_map(FieldValue::Float),
        any::<bool>().prop_map(FieldValue::Bool),
        text(0..16).prop_map(FieldValue::Text),
    ]
}

fn timestamp() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        proptest::sample::select(vec![i64::MIN, i64::MAX, 0, -1]),
    ]
}

/// A point and what decoding its line gives back: the same point without its empty tags
/// (the encoder leaves them out, as InfluxDB refuses them), its names as they read back.
fn point(category: Category) -> impl Strategy<Value = (Point, Point)> {
    let tags = proptest::collection::btree_map(name(), text(0..8), 0..5);
    let fields = proptest::collection::vec((name(), field_value()), 1..6);
    (name(), tags, fields, timestamp()).prop_map(move |(m, tags, fields, ts)| {
        // Keys that stay distinct once read back.
        let mut seen = HashSet::new();
        let fields: Vec<_> = fields
            .into_iter()
            .filter(|(k, _)| seen.insert(name_as_read_back(k, NamePart::FieldKey)))
            .collect();
        let mut seen = HashSet::new();
        let tags: Vec<_> = tags
            .into_iter()
            .filter(|(k, _)| seen.insert(name_as_read_back(k, NamePart::Tag)))
            .collect();
        let kept: Vec<_> = tags
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .cloned()
            .collect();
        let point = Point::new(m.clone(), tags, fields.clone(), ts, category).unwrap();
        let expected = Point::new(m, kept, fields, ts, category).unwrap();
        (point, point_as_read_back(&expected))
    })
}

fn points() -> impl Strategy<Value = (Vec<Point>, Vec<Point>, Category)> {
    proptest::sample::select(Category::ALL.to_vec())
        .prop_flat_map(|category| {
            (
                proptest::collection::vec(point(category), 0..6),
                Just(category),
            )
        })
        .prop_map(|(pairs, category)| {
            let (points, expected) = pairs.into_iter().unzip();
            (points, expected, category)
        })
}

/// Cut `input` at `cuts` (taken modulo its length) and decode it chunk by chunk.
fn decode_chunked(
    input: &[u8],
    cuts: &[usize],
    max_line_bytes: usize,
    category: Category,
) -> Vec<Result<Point, DecodeError>> {
    let mut decoder =
        LineDecoder::new(Precision::Nanoseconds, 7, category).with_max_line_bytes(max_line_bytes);
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    at.push(0);
    at.push(input.len());
    at.sort_unstable();
    let mut out = Vec::new();
    for w in at.windows(2) {
        decoder.feed(&input[w[0]..w[1]]);
        out.extend(decoder.by_ref());
    }
    decoder.finish();
    out.extend(decoder.by_ref());
    out
}

/// Bytes drawn mostly from what line protocol cares about.
fn lp_bytes() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: Vec<u8> = b"ab,= \"\\\n\r\t#ntfiuTFeE.-+019".to_vec();
    proptest::collection::vec(
        prop_oneof![
            6 => proptest::sample::select(alphabet),
            1 => any::<u8>(),
        ],
        0..120,
    )
}

/// Records built from valid and (now and then) invalid pieces, so that many of them decode.
fn lp_records() -> impl Strategy<Value = Vec<u8>> {
    const NAME: &[&str] = &[
        "a", "b", "\\,", "\\ ", "\\=", "\\\\", "\\n", "\\t", "\\#", "\"", "é", "\\q",
    ];
    const VALUE: &[&str] = &[
        "1",
        "-1.5",
        "1e3",
        ".5",
        "2i",
        "-3i",
        "4u",
        "t",
        "FALSE",
        "\"s\"",
        r#""a\"b\\""#,
        "\"x\ny\"",
        r#""\""#,
        "\"\"",
    ];
    const TIME: &[&str] = &["", " 1", " -5", "  9 "];
    const END: &[&str] = &["\n", "\r\n", "\n\n", "\n# c\n"];
    const BAD: &[&str] = &["\\", "=", ",", "#", " ", "nan", "12x", "", "\n", "\""];
    let piece = |good: &'static [&'static str]| {
        prop_oneof![
            12 => proptest::sample::select(good),
            1 => proptest::sample::select(BAD),
        ]
    };
    let name = move || proptest::collection::vec(piece(NAME), 1..4).prop_map(|p| p.concat());
    let tag = (name(), name()).prop_map(|(k, v)| format!(",{k}={v}"));
    let field = (name(), piece(VALUE)).prop_map(|(k, v)| format!("{k}={v}"));
    let record = (
        name(),
        proptest::collection::vec(tag, 0..3),
        proptest::collection::vec(field, 1..4),
        piece(TIME),
        proptest::sample::select(END),
    )
        .prop_map(|(m, tags, fields, ts, end)| {
            format!("{m}{} {}{ts}{end}", tags.concat(), fields.join(","))
        });
    proptest::collection::vec(record, 1..4).prop_map(|r| r.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn decode_reads_back_what_encode_writes((points, expected, category) in points()) {
        let text = encode_points(&points);
        let decoded = decode_lines(text.as_bytes(), Precision::Nanoseconds, 0, category);
        prop_assert_eq!(decoded, Ok(expected), "{:?}", text);
    }

    #[test]
    fn chunked_decoding_reads_back_what_encode_writes(
        (points, expected, category) in points(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let text = encode_points(&points);
        let decoded: Result<Vec<_>, _> =
            decode_chunked(text.as_bytes(), &cuts, usize::MAX, category).into_iter().collect();
        prop_assert_eq!(decoded, Ok(expected), "{:?}", text);
    }

    #[test]
    fn what_decodes_encodes_to_the_same_points(input in prop_oneof![lp_records(), lp_bytes()]) {
        if let Ok(points) = decode_lines(&input, Precision::Nanoseconds, 0, Category::Metric) {
            let text = encode_points(&points);
            let again = decode_lines(text.as_bytes(), Precision::Nanoseconds, 0, Category::Metric);
            let points: Vec<Point> = points.iter().map(point_as_read_back).collect();
            prop_assert_eq!(again, Ok(points), "{:?} -> {:?}", String::from_utf8_lossy(&input), text);
        }
    }

    #[test]
    fn any_bytes_in_any_chunks_decode_the_same_without_panicking(
        input in prop_oneof![lp_records(), lp_bytes(), proptest::collection::vec(any::<u8>(), 0..200)],
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        max_line_bytes in prop_oneof![Just(usize::MAX), 0..40usize],
    ) {
        let whole = decode_chunked(&input, &[], max_line_bytes, Category::Logging);
        let chunked = decode_chunked(&input, &cuts, max_line_bytes, Category::Logging);
        prop_assert_eq!(&chunked, &whole);
        if max_line_bytes == usize::MAX {
            // decode_lines stops at the first error of the same sequence.
            let first: Result<Vec<_>, _> = whole.into_iter().collect();
            let direct = decode_lines(&input, Precision::Nanoseconds, 7, Category::Logging);
            prop_assert_eq!(direct, first);
        }
        for item in chunked.into_iter().flatten() {
            prop_assert!(!item.fields().is_empty());
        }
    }
}

#[test]
fn encoder_bugs_found_by_round_trips_stay_fixed() {
    // Regression: names ending in a backslash, names holding `\n` as text, and measurements
    // starting with `#` did not decode to what was encoded.
    let cases = [
        ("m\\", "t\\", "v\\", "f\\"),
        ("#m", "\\n", "a\\,b", "\\=\\"),
        ("\\#m", "#", "\\\\", "x\\ty"),
    ];
    for (m, k, v, f) in cases {
        let p = Point::new(
            m.into(),
            vec![(k.into(), v.into())],
            vec![(f.into(), FieldValue::Text("\\\"\n".into()))],
            1,
            Category::Metric,
        )
        .unwrap();
        let text = encode_points(std::slice::from_ref(&p));
        let back = decode_lines(text.as_bytes(), Precision::Nanoseconds, 0, Category::Metric);
        assert_eq!(back, Ok(vec![point_as_read_back(&p)]), "{text:?}");
    }
}
