use super::*;
use crate::{Category, FieldValue};

fn point(m: &str, tags: &[(&str, &str)], fields: Vec<(&str, FieldValue)>) -> Point {
    Point::new(
        m.into(),
        tags.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        fields
            .into_iter()
            .map(|(a, b)| (a.to_string(), b))
            .collect(),
        1_700_000_000_000_000_000,
        Category::Metric,
    )
    .unwrap()
}

#[test]
fn encodes_every_field_type() {
    let p = point(
        "cpu",
        &[("host", "a"), ("cpu", "cpu-total")],
        vec![
            ("i", FieldValue::Int(-3)),
            ("u", FieldValue::Uint(7)),
            ("f", FieldValue::Float(1.5)),
            ("whole", FieldValue::Float(2.0)),
            ("b", FieldValue::Bool(true)),
            ("s", FieldValue::Text("hi".into())),
        ],
    );
    assert_eq!(
        encode_points(&[p]),
        "cpu,cpu=cpu-total,host=a i=-3i,u=7u,f=1.5,whole=2,b=true,s=\"hi\" 1700000000000000000\n"
    );
}

#[test]
fn escapes_like_influxdb() {
    let p = point(
        "my measure,x",
        &[("tag key", "v=1,2"), ("t", "a\nb")],
        vec![("field=k", FieldValue::Text("say \"hi\" \\ bye".into()))],
    );
    assert_eq!(
            encode_points(&[p]),
            "my\\ measure\\,x,t=a\\nb,tag\\ key=v\\=1\\,2 field\\=k=\"say \\\"hi\\\" \\\\ bye\" 1700000000000000000\n"
        );
}

#[test]
fn backslashes_are_written_as_they_are_but_at_the_end_of_a_name() {
    // InfluxDB 1.x keeps every backslash that is not before `,`, ` ` or `=`, and has no way
    // to write one at the end of a name (it would escape the delimiter after it).
    let p = point(
        r"#m\",
        &[(r"C:\Users", r"C:\new\"), (r"k\", r"\,\=\\")],
        vec![(r"f\", FieldValue::Int(1))],
    );
    assert_eq!(
        encode_points(&[p]),
        concat!(
            "\\#m\u{ff3c},C:\\Users=C:\\new\u{ff3c},k\u{ff3c}=\\\\,\\\\=\\\u{ff3c} f\u{ff3c}=1i",
            " 1700000000000000000\n"
        )
    );
    assert_eq!(name_as_read_back(r"a\,b\", NamePart::Tag), "a\\,b\u{ff3c}");
    assert_eq!(name_as_read_back("#m\n", NamePart::Measurement), "\\#m\\n");
}

#[test]
fn uints_become_ints_for_influxdb_1() {
    let p = point(
        "m",
        &[],
        vec![
            ("a", FieldValue::Uint(5)),
            ("b", FieldValue::Uint(u64::MAX)),
        ],
    );
    assert_eq!(
        encode_points_with(&[p], false),
        "m a=5i,b=9223372036854775807i 1700000000000000000\n"
    );
}

#[test]
fn empty_tag_values_are_left_out() {
    let p = point(
        "m",
        &[("a", ""), ("b", "x")],
        vec![("f", FieldValue::Int(1))],
    );
    assert_eq!(encode_points(&[p]), "m,b=x f=1i 1700000000000000000\n");
}

#[test]
fn floats_keep_precision() {
    let p = point(
        "m",
        &[],
        vec![
            ("f", FieldValue::Float(0.1 + 0.2)),
            ("g", FieldValue::Float(1e300)),
        ],
    );
    let line = encode_points(&[p]);
    let f: f64 = line.split(['=', ',']).nth(1).unwrap().parse().unwrap();
    assert_eq!(f, 0.1 + 0.2);
    let g: f64 = line
        .split(' ')
        .nth(1)
        .and_then(|f| f.split(',').find_map(|kv| kv.strip_prefix("g=")))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(g, 1e300, "{line}");
}
/// The word-at-a-time scan flags exactly the strings that hold a byte it is meant to flag,
/// wherever that byte is, for every length around the word size.
#[test]
fn word_scans_find_special_bytes_anywhere() {
    let naive_name = |s: &[u8]| s.iter().all(|&b| b > b' ' && !b",=\\".contains(&b));
    let naive_text = |s: &[u8]| !s.iter().any(|&b| b == b'"' || b == b'\\');
    let probes = [
        0u8, 1, b'\t', b'\n', 0x0c, b'\r', 0x1f, b' ', b'!', b'"', b'#', b'+', b',', b'-', b'<',
        b'=', b'>', b'[', b'\\', b']', b'a', 0x7f, 0x80, 0xa0, 0xff,
    ];
    for len in 0..=26 {
        for fill in [b'a', b'0', 0xc3, 0xff, b'~'] {
            let base = vec![fill; len];
            assert_eq!(none_special(&base, name_special), naive_name(&base));
            assert_eq!(none_special(&base, text_special), naive_text(&base));
            for pos in 0..len {
                for &b in &probes {
                    let mut s = base.clone();
                    s[pos] = b;
                    assert_eq!(none_special(&s, name_special), naive_name(&s), "{s:?}");
                    assert_eq!(none_special(&s, text_special), naive_text(&s), "{s:?}");
                }
            }
        }
    }
}

#[test]
fn floats_are_shortest_and_integral_ones_have_no_fraction() {
    let cases = [
        (84.0, "84"),
        (-3.0, "-3"),
        (0.0, "0"),
        (-0.0, "-0"),
        (3.25, "3.25"),
        (-0.001, "-0.001"),
        (12.5, "12.5"),
        (-0.05, "-0.05"),
        (0.125, "0.125"),
        (999.999, "999.999"),
        (1_234_567.125, "1234567.125"),
        (0.0625, "0.0625"),
        (1.0 / 3.0, "0.3333333333333333"),
        (1_125_899_906_842_624.0, "1125899906842624"),
        (0.1 + 0.2, "0.30000000000000004"),
        (123_456_789_012_345.0, "123456789012345"),
        (9_007_199_254_740_992.0, "9007199254740992"),
        (1e16, "1e+16"),
        (1e30, "1e+30"),
        (1.5e300, "1.5e+300"),
        (1e-7, "1e-7"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
    ];
    for (x, want) in cases {
        let mut out = String::new();
        write_float(&mut out, &mut itoa::Buffer::new(), x);
        assert_eq!(out, want);
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// Encode one point and decode the line again.
    fn read_back(p: &Point) -> Result<(String, Vec<Point>), TestCaseError> {
        let line = encode_points(std::slice::from_ref(p));
        let back = crate::decode_lines(
            line.as_bytes(),
            crate::Precision::Nanoseconds,
            0,
            Category::Metric,
        )
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
        Ok((line, back))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// The fast path writes what the slow path (the original escaping loop) writes.
        #[test]
        fn escaping_fast_path_matches_the_slow_path(
            s in proptest::collection::vec(
                prop_oneof![
                    3 => proptest::sample::select(vec![
                        ',', ' ', '=', '"', '\\', '\n', '\r', '\t', '\u{c}', '#', 'n', 'a', '1',
                        '\0', '\u{1f}', '!', 'é', '😀',
                    ]),
                    1 => any::<char>(),
                ],
                0..24,
            ).prop_map(String::from_iter),
            kind in proptest::sample::select(vec![NamePart::Measurement, NamePart::Tag, NamePart::FieldKey]),
        ) {
            let (mut fast, mut slow) = (String::new(), String::new());
            escape_into(&mut fast, &s, kind);
            escape_slow(&mut slow, &s, kind);
            prop_assert_eq!(fast, slow);
        }

        /// Any finite float is written as zmij writes it (less a trailing `.0`), and decodes
        /// back to the same bits, as a float.
        #[test]
        fn floats_read_back_exactly(
            x in prop_oneof![
                proptest::num::f64::POSITIVE | proptest::num::f64::NEGATIVE
                    | proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL
                    | proptest::num::f64::ZERO,
                (-(1i64 << 54)..(1i64 << 54)).prop_map(|i| i as f64),
                // Short decimals, and the edges of the fast path for them.
                (-100_000_000i64..100_000_000, 0..6usize)
                    .prop_map(|(i, k)| i as f64 / [1.0, 1e1, 1e2, 1e3, 1e4, 1e5][k]),
                (-(1i64 << 53)..(1i64 << 53), 0..5usize)
                    .prop_map(|(i, k)| i as f64 / [1.0, 1e1, 1e2, 1e3, 1e4][k]),
            ],
        ) {
            let mut text = String::new();
            write_float(&mut text, &mut itoa::Buffer::new(), x);
            let mut z = zmij::Buffer::new();
            let z = z.format_finite(x);
            prop_assert_eq!(text.as_str(), z.strip_suffix(".0").unwrap_or(z));

            let p = point("m", &[], vec![("f", FieldValue::Float(x))]);
            let (line, back) = read_back(&p)?;
            match back.first().and_then(|p| p.field("f")) {
                Some(FieldValue::Float(y)) => prop_assert_eq!(y.to_bits(), x.to_bits(), "{}", line),
                other => prop_assert!(false, "{:?} from {}", other, line),
            }
        }

        /// Any string field (quotes, backslashes, newlines, any characters) decodes back
        /// to itself.
        #[test]
        fn string_fields_read_back_exactly(t in "[\"\\\\a-z \n\u{e9}\u{1f600}]{0,40}") {
            let p = point("m", &[], vec![("f", FieldValue::Text(t.clone()))]);
            let (line, back) = read_back(&p)?;
            prop_assert_eq!(back.first().and_then(|p| p.field("f")), Some(&FieldValue::Text(t)), "{}", line);
        }
    }
}
