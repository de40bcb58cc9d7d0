//! Unit tests of the line-protocol decoder. Over 600 lines: every error path and every quirk
//! InfluxDB accepts has its own case.

use super::*;
use crate::FieldValue;
use DecodeReason as R;

fn decode(input: &str) -> Result<Vec<Point>, DecodeError> {
    decode_lines(
        input.as_bytes(),
        Precision::Nanoseconds,
        42,
        Category::Metric,
    )
}

fn one(input: &str) -> Point {
    let points = decode(input).unwrap();
    assert_eq!(points.len(), 1, "{input:?}");
    points.into_iter().next().unwrap()
}

/// `(line, column, reason)` of the error that `input` gives.
fn err(input: &str) -> (usize, usize, DecodeReason) {
    let e = decode(input).unwrap_err();
    (e.line, e.column, e.reason)
}

fn key(k: &str) -> String {
    k.to_string()
}

#[test]
fn every_error_path_has_its_reason_and_position() {
    let value = |v: &str| v.to_string();
    let cases: Vec<(&str, usize, usize, DecodeReason)> = vec![
        (
            "m f=\"\u{e9}\" 1\nm f=\"x",
            2,
            5,
            R::UnterminatedString { key: key("f") },
        ),
        (",t=v f=1", 1, 1, R::MissingMeasurement),
        ("  ,t=v f=1", 1, 3, R::MissingMeasurement),
        (" f=1", 1, 5, R::MissingFields),
        ("m,=v f=1", 1, 3, R::MissingTagKey),
        ("m, f=1", 1, 3, R::MissingTagKey),
        ("m,t f=1", 1, 4, R::MissingTagEquals { key: key("t") }),
        ("m,t,u=v f=1", 1, 4, R::MissingTagEquals { key: key("t") }),
        ("m,t", 1, 4, R::MissingTagEquals { key: key("t") }),
        ("m,t= f=1", 1, 5, R::MissingTagValue { key: key("t") }),
        ("m,t=,u=v f=1", 1, 5, R::MissingTagValue { key: key("t") }),
        ("m,t=a=b f=1", 1, 6, R::UnescapedEquals { key: key("t") }),
        ("m,t=a=b f=1", 1, 6, R::UnescapedEquals { key: key("t") }),
        ("m,t===b f=1", 1, 6, R::UnescapedEquals { key: key("t") }),
        (
            "m,t=1,u=2,t=3 f=1",
            1,
            11,
            R::DuplicateTag { key: key("t") },
        ),
        (
            "m,a\\ b=1,a\\ b=2 f=1",
            1,
            10,
            R::DuplicateTag { key: key("a b") },
        ),
        ("m", 1, 2, R::MissingFields),
        ("m,t=v", 1, 6, R::MissingFields),
        ("m   ", 1, 5, R::MissingFields),
        ("m =1", 1, 3, R::MissingFieldKey),
        ("m f=1,=2", 1, 7, R::MissingFieldKey),
        ("m f=1,", 1, 7, R::MissingFieldKey),
        ("m f", 1, 4, R::MissingFieldEquals { key: key("f") }),
        ("m f g=1", 1, 4, R::MissingFieldEquals { key: key("f") }),
        ("m f,g=1", 1, 4, R::MissingFieldEquals { key: key("f") }),
        ("m f=", 1, 5, R::MissingFieldValue { key: key("f") }),
        ("m f=,g=1", 1, 5, R::MissingFieldValue { key: key("f") }),
        ("m f= 1", 1, 5, R::MissingFieldValue { key: key("f") }),
        (
            "m f=12x",
            1,
            5,
            R::InvalidFieldValue {
                value: value("12x"),
            },
        ),
        (
            "m g=1,f=abc",
            1,
            9,
            R::InvalidFieldValue {
                value: value("abc"),
            },
        ),
        (
            "m f=1.5i",
            1,
            5,
            R::InvalidFieldValue {
                value: value("1.5i"),
            },
        ),
        ("m f=+1", 1, 5, R::InvalidFieldValue { value: value("+1") }),
        ("m f=1e", 1, 5, R::InvalidFieldValue { value: value("1e") }),
        (
            "m f=1..2",
            1,
            5,
            R::InvalidFieldValue {
                value: value("1..2"),
            },
        ),
        ("m f=.", 1, 5, R::InvalidFieldValue { value: value(".") }),
        (
            "m f=tru",
            1,
            5,
            R::InvalidFieldValue {
                value: value("tru"),
            },
        ),
        (
            "m f=tRUE",
            1,
            5,
            R::InvalidFieldValue {
                value: value("tRUE"),
            },
        ),
        (
            "m f=0x10",
            1,
            5,
            R::InvalidFieldValue {
                value: value("0x10"),
            },
        ),
        (
            "m f=1_000",
            1,
            5,
            R::InvalidFieldValue {
                value: value("1_000"),
            },
        ),
        (
            "m f=12\"x\"",
            1,
            5,
            R::InvalidFieldValue {
                value: value("12\"x\""),
            },
        ),
        (
            "m f=9223372036854775808i",
            1,
            5,
            R::IntegerOutOfRange {
                value: value("9223372036854775808i"),
            },
        ),
        (
            "m f=-9223372036854775809i",
            1,
            5,
            R::IntegerOutOfRange {
                value: value("-9223372036854775809i"),
            },
        ),
        (
            "m f=18446744073709551616u",
            1,
            5,
            R::IntegerOutOfRange {
                value: value("18446744073709551616u"),
            },
        ),
        (
            "m f=-1u",
            1,
            5,
            R::NegativeUnsigned {
                value: value("-1u"),
            },
        ),
        (
            "m f=1e309",
            1,
            5,
            R::FloatOutOfRange {
                value: value("1e309"),
            },
        ),
        (
            "m f=-1e400",
            1,
            5,
            R::FloatOutOfRange {
                value: value("-1e400"),
            },
        ),
        (
            "m f=NaN",
            1,
            5,
            R::NonFiniteFloat {
                value: value("NaN"),
            },
        ),
        (
            "m f=-inf",
            1,
            5,
            R::NonFiniteFloat {
                value: value("-inf"),
            },
        ),
        (
            "m f=+Infinity",
            1,
            5,
            R::NonFiniteFloat {
                value: value("+Infinity"),
            },
        ),
        ("m s=\"abc", 1, 5, R::UnterminatedString { key: key("s") }),
        ("m s=\"a\\\"", 1, 5, R::UnterminatedString { key: key("s") }),
        (
            "m s=\"a\nb\nc",
            1,
            5,
            R::UnterminatedString { key: key("s") },
        ),
        ("m s=\"a\"b", 1, 8, R::TextAfterString { key: key("s") }),
        ("m s=\"a\nbc\"x", 2, 4, R::TextAfterString { key: key("s") }),
        ("m f=1,g=2,f=3i", 1, 11, R::DuplicateField { key: key("f") }),
        (
            "m f=1 12a",
            1,
            7,
            R::InvalidTimestamp {
                value: value("12a"),
            },
        ),
        ("m f=1 -", 1, 7, R::InvalidTimestamp { value: value("-") }),
        ("m f=1 +5", 1, 7, R::InvalidTimestamp { value: value("+5") }),
        (
            "m f=1 1,2",
            1,
            7,
            R::InvalidTimestamp {
                value: value("1,2"),
            },
        ),
        (
            "m f=1 1.5",
            1,
            7,
            R::InvalidTimestamp {
                value: value("1.5"),
            },
        ),
        (
            "m f=1 9223372036854775808",
            1,
            7,
            R::TimestampOutOfRange {
                value: value("9223372036854775808"),
            },
        ),
        (
            "m f=1 1 2",
            1,
            9,
            R::TextAfterTimestamp { text: value("2") },
        ),
        (
            "m f=1 1\t",
            1,
            7,
            R::InvalidTimestamp {
                value: value("1\t"),
            },
        ),
        (
            "m f=\"\u{e9}\" 1\nm,t=\u{e9}\u{e9}=x f=1",
            2,
            9,
            R::UnescapedEquals { key: key("t") },
        ),
    ];
    for (input, line, column, reason) in cases {
        assert_eq!(err(input), (line, column, reason), "{input:?}");
    }
}

#[test]
fn invalid_utf8_is_refused_where_it_starts() {
    let e = decode_lines(
        b"m f=1\nm s=\"ab\xff\"",
        Precision::Nanoseconds,
        0,
        Category::Metric,
    )
    .unwrap_err();
    assert_eq!((e.line, e.column, e.reason), (2, 8, R::InvalidUtf8));
    // A comment is not decoded, so its bytes do not matter.
    assert!(
        decode_lines(b"# \xff\xfe\n", Precision::Nanoseconds, 0, Category::Metric)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn timestamps_out_of_range_after_scaling_are_refused() {
    let e = decode_lines(b"m f=1 9223372037", Precision::Seconds, 0, Category::Metric).unwrap_err();
    assert_eq!(
        (e.line, e.column, e.reason),
        (
            1,
            7,
            R::TimestampOutOfRange {
                value: "9223372037".into()
            }
        )
    );
    let ok = decode_lines(
        b"m f=1 -9223372036",
        Precision::Seconds,
        0,
        Category::Metric,
    );
    assert_eq!(ok.unwrap()[0].timestamp_ns(), -9_223_372_036_000_000_000);
}

#[test]
fn error_text_is_lowercase_with_position() {
    let e = decode("# header\n\ncpu,host=srv1 v=12x 1").unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 3, column 17: invalid field value \"12x\""
    );
    let long = format!("m f={}x", "9".repeat(100));
    let text = decode(&long).unwrap_err().to_string();
    assert_eq!(
        text,
        format!(
            "line 1, column 5: invalid field value \"{}...\"",
            "9".repeat(64)
        )
    );
    let e = decode("m,t=v,t=w f=1").unwrap_err();
    assert_eq!(e.to_string(), "line 1, column 7: duplicate tag key \"t\"");
}

#[test]
fn errors_count_lines_across_crlf_comments_and_multiline_strings() {
    assert_eq!(err("m f=1i\nm f=12x\n").0, 2);
    // A carriage return is no line end (InfluxDB refuses CRLF bodies the same way).
    assert_eq!(err("m f=1i\r\nm f=2i\n").0, 1);
    assert_eq!(err("m f=1i\n\n  # c\nm f=12x").0, 4);
    assert_eq!(err("m s=\"a\nb\" 1\nm s=\"\n\n\" 2\nm f=12x").0, 6);
}

#[test]
fn decodes_every_field_type() {
    let p = one("cpu,host=a,cpu=c0 i=-3i,u=7u,f=1.5,w=2,b=true,s=\"hi\" 1700000000000000000");
    assert_eq!(p.measurement(), "cpu");
    assert_eq!(p.tags(), [(key("cpu"), key("c0")), (key("host"), key("a"))]);
    let fields: Vec<_> = p
        .fields()
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    assert_eq!(
        fields,
        [
            ("i", FieldValue::Int(-3)),
            ("u", FieldValue::Uint(7)),
            ("f", FieldValue::Float(1.5)),
            ("w", FieldValue::Float(2.0)),
            ("b", FieldValue::Bool(true)),
            ("s", FieldValue::Text("hi".into())),
        ]
    );
    assert_eq!(p.timestamp_ns(), 1_700_000_000_000_000_000);
    assert_eq!(p.category(), Category::Metric);
}

#[test]
fn decodes_number_and_boolean_spellings() {
    let field = |v: &str| one(&format!("m f={v}")).field("f").cloned().unwrap();
    for t in ["t", "T", "true", "True", "TRUE"] {
        assert_eq!(field(t), FieldValue::Bool(true), "{t}");
    }
    for f in ["f", "F", "false", "False", "FALSE"] {
        assert_eq!(field(f), FieldValue::Bool(false), "{f}");
    }
    let floats = [
        ("1", 1.0),
        ("-1.5", -1.5),
        ("1e3", 1e3),
        ("1E-3", 1e-3),
        ("2.5e+2", 250.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("-.5", -0.5),
        ("007", 7.0),
        ("1e-400", 0.0),
    ];
    for (text, f) in floats {
        assert_eq!(field(text), FieldValue::Float(f), "{text}");
    }
    match field("-0") {
        FieldValue::Float(z) => assert!(z == 0.0 && z.is_sign_negative()),
        other => panic!("{other:?}"),
    }
    assert_eq!(field("-9223372036854775808i"), FieldValue::Int(i64::MIN));
    assert_eq!(field("9223372036854775807i"), FieldValue::Int(i64::MAX));
    assert_eq!(field("18446744073709551615u"), FieldValue::Uint(u64::MAX));
    assert_eq!(field("0u"), FieldValue::Uint(0));
    assert_eq!(field(&f64::MAX.to_string()), FieldValue::Float(f64::MAX));
}

#[test]
fn unescapes_names() {
    let p = one(r"my\ m\,x\=y\q,t\ k\,\==v\=1\,2\ 3 f\=k\,\ =1");
    assert_eq!(p.measurement(), r"my m,x=y\q");
    assert_eq!(p.tags(), [(key("t k,="), key("v=1,2 3"))]);
    assert_eq!(p.fields()[0].0, "f=k, ");
    // As Debian's influxd 1.6.7 reads them (checked in tests/all/lpdiff.rs): a delimiter right
    // after a backslash is escaped whatever precedes it, and every other backslash stays.
    assert_eq!(
        one(r"m,regions=\\ east value=1.0").tag("regions"),
        Some(r"\ east")
    );
    assert_eq!(one(r"m,r=a\\b v=1").tag("r"), Some(r"a\\b"));
    assert_eq!(one(r"m,r=a\\\ b v=1").tag("r"), Some(r"a\\ b"));
    assert_eq!(one(r"m,t=x\ny v=1").tag("t"), Some(r"x\ny"));
    assert_eq!(one(r"m v\nx=1").fields()[0].0, r"v\nx");
    assert_eq!(
        one(r"a\nb\rc\td\fe\\f v=1").measurement(),
        r"a\nb\rc\td\fe\\f"
    );
    assert_eq!(one(r"\#m f=1").measurement(), r"\#m");
    assert_eq!(one(r"m\=x f=1").measurement(), "m=x");
    assert!(
        decode(r"m,t=a\\ v=1").is_err(),
        "the space is escaped: no fields"
    );
    assert!(decode(r"m\\ v=1").is_err());
    // A tag value may start with `=`; a field key takes the byte after a backslash.
    assert_eq!(one("m,e==\\= f=1").tag("e"), Some("=="));
    assert_eq!(one(r"m f\\a=1").fields()[0].0, r"f\\a");
    assert!(decode(r"m f\\=1").is_err());
    assert!(decode(r"m \\=\,x=1").is_err());
    // A backslash before a multi-byte character is a plain byte.
    assert_eq!(one("m\\\u{e9} f=1").measurement(), "m\\\u{e9}");
}

#[test]
fn a_field_given_twice_keeps_its_last_value_unless_the_types_differ() {
    let p = one("m v=1,w=2,v=3");
    assert_eq!(p.field("v"), Some(&FieldValue::Float(3.0)));
    assert_eq!(p.fields().len(), 2);
    assert_eq!(
        one("m s=\"a\",s=\"b\"").field("s"),
        Some(&FieldValue::Text("b".into()))
    );
    let e = decode("m v=1,v=2i").unwrap_err();
    assert_eq!(e.to_string(), "line 1, column 7: duplicate field key \"v\"");
}

#[test]
fn unescapes_strings() {
    let p = one("m s=\"a\\\"b\\\\c\\d\\n,x=1 2\ny\",t=\"\" 5");
    assert_eq!(
        p.field("s"),
        Some(&FieldValue::Text("a\"b\\c\\d\\n,x=1 2\ny".into()))
    );
    assert_eq!(p.field("t"), Some(&FieldValue::Text(String::new())));
    assert_eq!(p.timestamp_ns(), 5);
}

#[test]
fn skips_blank_lines_and_comments() {
    let input = "\n\n   \n\t# comment \"with a quote\n#\nm f=1i\n  \tm f=2i 7  \n# end";
    let points = decode(input).unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[0].field("f"), Some(&FieldValue::Int(1)));
    assert_eq!(points[0].timestamp_ns(), 42);
    assert_eq!(points[1].timestamp_ns(), 7);
    assert!(decode("").unwrap().is_empty());
    // Several spaces between sections, as InfluxDB allows.
    assert_eq!(one("m,t=v   f=1   9   ").timestamp_ns(), 9);
}

#[test]
fn scales_timestamps_by_precision() {
    let ts = |precision, input: &str| {
        decode_lines(input.as_bytes(), precision, 99, Category::Logging).unwrap()[0].timestamp_ns()
    };
    assert_eq!(ts(Precision::Nanoseconds, "m f=1 -5"), -5);
    assert_eq!(ts(Precision::Microseconds, "m f=1 5"), 5_000);
    assert_eq!(ts(Precision::Milliseconds, "m f=1 5"), 5_000_000);
    assert_eq!(ts(Precision::Seconds, "m f=1 5"), 5_000_000_000);
    assert_eq!(ts(Precision::Seconds, "m f=1"), 99);
}

#[test]
fn decoding_stops_at_the_first_error() {
    assert_eq!(err("m f=1\nm f=x\nm f=y").0, 2);
}

fn stream(decoder: &mut LineDecoder) -> Vec<Result<Point, DecodeError>> {
    std::iter::from_fn(|| decoder.next_point()).collect()
}

#[test]
fn any_chunking_gives_the_same_points_and_errors() {
    let input = "a,t=1 f=\"x\ny\" 1\r\nbad\nb s=\"q\\\"\",g=2u 3\n# c\nc f=1e9";
    let whole = {
        let mut d = LineDecoder::new(Precision::Nanoseconds, 0, Category::Metric);
        d.feed(input.as_bytes());
        d.finish();
        stream(&mut d)
    };
    assert_eq!(whole.len(), 4);
    assert_eq!(whole[1].as_ref().unwrap_err().line, 3);
    for size in 1..input.len() {
        let mut d = LineDecoder::new(Precision::Nanoseconds, 0, Category::Metric);
        let mut got = Vec::new();
        for chunk in input.as_bytes().chunks(size) {
            d.feed(chunk);
            got.extend(stream(&mut d));
        }
        d.finish();
        got.extend(stream(&mut d));
        assert_eq!(got, whole, "chunks of {size}");
    }
}

#[test]
fn the_last_record_needs_finish() {
    let mut d = LineDecoder::new(Precision::Nanoseconds, 0, Category::Metric);
    d.feed(b"m f=1");
    assert!(d.next_point().is_none());
    d.finish();
    assert!(d.next_point().unwrap().is_ok());
    assert!(d.next_point().is_none());
    // Feeding after finish goes on with the same stream.
    d.feed(b"n f=2");
    assert!(d.next_point().is_none());
    d.finish();
    let p = d.next_point().unwrap().unwrap();
    assert_eq!(p.measurement(), "n");
    assert_eq!(d.buffered(), 0);
}

#[test]
fn the_decoder_is_an_iterator_that_goes_on_after_errors() {
    let mut d = LineDecoder::new(Precision::Nanoseconds, 0, Category::Metric);
    d.feed(b"m f=1\nm f=\nm f=3\n");
    let got: Vec<_> = d.by_ref().collect();
    assert_eq!(got.len(), 3);
    assert!(got[0].is_ok() && got[2].is_ok());
    let e = got[1].as_ref().unwrap_err();
    assert_eq!((e.line, e.column), (2, 5));
}

#[test]
fn long_records_are_refused_and_skipped() {
    let mut d =
        LineDecoder::new(Precision::Nanoseconds, 0, Category::Metric).with_max_line_bytes(10);
    // 10 bytes fit; the 11th is refused where it is, and the rest of that record (here a
    // string value with newlines in it) is skipped.
    d.feed(b"m f=1i 123\nm f=1i 1234\nm s=\"ab\nlong\nlong\" 1\nm f=2i\n");
    let got = stream(&mut d);
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].as_ref().unwrap().timestamp_ns(), 123);
    let e = got[1].as_ref().unwrap_err();
    assert_eq!((e.line, e.column), (2, 11));
    assert_eq!(e.reason, R::LineTooLong { max: 10 });
    assert_eq!(
        e.to_string(),
        "line 2, column 11: line is longer than the limit of 10 bytes"
    );
    let e = got[2].as_ref().unwrap_err();
    assert_eq!(
        (e.line, e.column, &e.reason),
        (4, 3, &R::LineTooLong { max: 10 })
    );
    let p = got[3].as_ref().unwrap();
    assert_eq!(p.field("f"), Some(&FieldValue::Int(2)));
    // Lines are still counted right after a skipped record.
    d.feed(b"m f=x\n");
    assert_eq!(stream(&mut d)[0].as_ref().unwrap_err().line, 7);
}

#[test]
fn a_line_that_never_ends_keeps_memory_bounded() {
    let mut d =
        LineDecoder::new(Precision::Nanoseconds, 0, Category::Metric).with_max_line_bytes(1000);
    let chunk = [b'x'; 4096];
    let mut errors = 0;
    for _ in 0..1000 {
        d.feed(&chunk);
        errors += stream(&mut d).len();
        assert!(d.buffered() <= 1000, "{}", d.buffered());
    }
    assert_eq!(errors, 1);
    d.feed(b"\nm f=1\n");
    let got = stream(&mut d);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].as_ref().unwrap().measurement(), "m");
}

#[test]
fn decode_lines_has_the_default_limit() {
    let long = format!("m s=\"{}\"", "x".repeat(DEFAULT_MAX_LINE_BYTES));
    let e = decode(&long).unwrap_err();
    assert_eq!((e.line, e.column), (1, DEFAULT_MAX_LINE_BYTES + 1));
    let fits = format!("m s=\"{}\"", "x".repeat(DEFAULT_MAX_LINE_BYTES - 6));
    assert_eq!(decode(&fits).unwrap().len(), 1);
}
