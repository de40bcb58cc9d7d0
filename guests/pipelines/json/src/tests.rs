//! The JSON pipeline against its cases, one topic: typed scalars, flattening and depth, arrays,
//! times and levels and their candidate keys, tags and colliding keys, limits, lines that are
//! not objects, config (over 600 lines: the cases are the bulk of it).
use super::*;
use sandkit_sdk::records::{self, Decoded, OwnedValue as V};
use serde_json::json;

/// A decoded record.
type Rec = Decoded;

fn t(s: &str) -> V {
    V::Text(s.to_string())
}

/// The records of one line, none naming a measurement.
fn run(line: &str, opts: &Options) -> Vec<Rec> {
    let recs = records::records_of_line("json", line, |out| write_line(line, opts, out));
    assert!(recs.iter().all(|r| r.measurement.is_none()), "{recs:?}");
    recs
}

/// The one record of `line` with `opts`.
fn one_with(line: &str, opts: &Options) -> Rec {
    let mut recs = run(line, opts);
    assert_eq!(recs.len(), 1, "{line}");
    recs.remove(0)
}

fn one(line: &str) -> Rec {
    one_with(line, &Options::default())
}

fn opts(config: serde_json::Value) -> Options {
    Options::from_config(&Config::from_value(config)).unwrap()
}

/// 2024-03-01T12:00:00Z
const NOON: i64 = 1_709_294_400_000_000_000;

#[test]
fn scalars_become_typed_fields() {
    let r = one(r#"{"s":"x","i":-7,"f":1.5,"b":true,"n":null,"z":0,"e":""}"#);
    assert_eq!(
        r.fields,
        vec![
            ("b".into(), V::Bool(true)),
            ("e".into(), t("")),
            ("f".into(), V::Float(1.5)),
            ("i".into(), V::Int(-7)),
            ("s".into(), t("x")),
            ("z".into(), V::Int(0)),
        ]
    );
    assert!(r.keep_message);
    assert_eq!(r.time, None);
    assert!(r.tags.is_empty());
}

#[test]
fn nested_objects_are_flattened() {
    let line = r#"{"a":{"b":1,"c":{"d":"x"},"e":{}},"f":{}}"#;
    let r = one(line);
    assert_eq!(
        r.fields,
        vec![("a.b".into(), V::Int(1)), ("a.c.d".into(), t("x"))]
    );
    let r = one_with(line, &opts(json!({"separator": "_"})));
    assert_eq!(r.keys(), ["a_b", "a_c_d"]);
    let r = one_with(line, &opts(json!({"separator": ""})));
    assert_eq!(r.keys(), ["ab", "acd"]);
}

#[test]
fn deep_objects_past_max_depth_are_json_text() {
    let line = r#"{"a":{"b":{"c":{"d":1}}},"x":2}"#;
    let r = one_with(line, &opts(json!({"max_depth": 2})));
    assert_eq!(
        r.fields,
        vec![
            ("a.b".into(), t(r#"{"c":{"d":1}}"#)),
            ("x".into(), V::Int(2))
        ]
    );
    let r = one_with(line, &opts(json!({"max_depth": 1})));
    assert_eq!(r.field("a"), Some(&t(r#"{"b":{"c":{"d":1}}}"#)));
    assert_eq!(one(line).keys(), ["a.b.c.d", "x"]);

    // 100 levels: the default max_depth keeps 10 key parts, the rest as text.
    let mut deep = String::new();
    for _ in 0..100 {
        deep.push_str(r#"{"k":"#);
    }
    deep.push('1');
    deep.push_str(&"}".repeat(100));
    let r = one(&deep);
    assert_eq!(r.fields.len(), 1);
    let (k, v) = &r.fields[0];
    assert_eq!(k, &["k"; 10].join("."));
    let V::Text(text) = v else { panic!("{v:?}") };
    assert_eq!(text.matches('{').count(), 90);

    // Past serde_json's recursion limit (128): not parsed, passed through.
    let mut deeper = "[".repeat(200);
    deeper.insert(0, '{');
    assert!(one(&deeper).is_passthrough());
    let nested = format!("{}1{}", r#"{"k":"#.repeat(200), "}".repeat(200));
    assert!(one(&nested).is_passthrough());
}

#[test]
fn arrays_are_json_text() {
    let r = one(r#"{"a":[1,"x",{"b":null},[true]],"e":[],"s":"[not an array]"}"#);
    assert_eq!(
        r.fields,
        vec![
            ("a".into(), t(r#"[1,"x",{"b":null},[true]]"#)),
            ("e".into(), t("[]")),
            ("s".into(), t("[not an array]")),
        ]
    );
}

#[test]
fn huge_numbers() {
    let r = one(
        r#"{"max_i":9223372036854775807,"min_i":-9223372036854775808,"u":9223372036854775808,"max_u":18446744073709551615,"big":18446744073709551616,"neg_big":-9223372036854775809,"e":1.5e300,"tiny":5e-324,"exp":1e3}"#,
    );
    assert_eq!(r.field("max_i"), Some(&V::Int(i64::MAX)));
    assert_eq!(r.field("min_i"), Some(&V::Int(i64::MIN)));
    assert_eq!(r.field("u"), Some(&V::Uint(1 << 63)));
    assert_eq!(r.field("max_u"), Some(&V::Uint(u64::MAX)));
    assert_eq!(r.field("big"), Some(&V::Float(18446744073709551616.0)));
    assert_eq!(r.field("neg_big"), Some(&V::Float(-9223372036854775809.0)));
    assert_eq!(r.field("e"), Some(&V::Float(1.5e300)));
    assert_eq!(r.field("tiny"), Some(&V::Float(5e-324)));
    assert_eq!(r.field("exp"), Some(&V::Float(1000.0)));
    // Past f64: serde_json refuses the line.
    assert!(one(r#"{"inf":1e400}"#).is_passthrough());
}

#[test]
fn times_in_rfc3339() {
    let r = one(r#"{"time":"2024-03-01T12:00:00Z","x":1}"#);
    assert_eq!(r.time, Some(NOON));
    assert_eq!(r.keys(), ["x"]);
    for (s, want) in [
        ("2024-03-01T12:00:00.123456Z", NOON + 123_456_000),
        ("2024-03-01T20:00:00.5+08:00", NOON + 500_000_000),
        ("2024-03-01T10:30:00-0130", NOON),
        ("2024-03-01t12:00:00z", NOON),
        ("2024-03-01 12:00:00Z", NOON),
        ("2024-03-01T12:00:00.123456789123Z", NOON + 123_456_789),
        ("1969-12-31T23:59:59.5Z", -500_000_000),
    ] {
        let r = one(&format!(r#"{{"time":"{s}"}}"#));
        assert_eq!(r.time, Some(want), "{s}");
        assert!(r.fields.is_empty(), "{s}");
    }
}

#[test]
fn unparseable_times_stay_fields() {
    for s in [
        r#""2024-03-01T12:00:00""#,
        r#""2024-03-01""#,
        r#""2024-02-30T12:00:00Z""#,
        r#""2024-13-01T12:00:00Z""#,
        r#""2024-03-01T24:00:00Z""#,
        r#""2024-03-01T12:00:00.Z""#,
        r#""2024-03-01T12:00:00+25:00""#,
        r#""2024-03-01T12:00:00Z junk""#,
        r#""2024-03-01T12:00:00+08""#,
        r#""3000-01-01T00:00:00Z""#,
        r#""٢٠٢٤-03-01T12:00:00Z""#,
        "1709294400",
        "true",
        "[1]",
    ] {
        let r = one(&format!(r#"{{"time":{s}}}"#));
        assert_eq!(r.time, None, "{s}");
        assert_eq!(r.keys(), ["time"], "{s}");
    }
}

#[test]
fn time_field_candidates() {
    // The first present in the order time, timestamp, @timestamp, ts; the others stay fields.
    let r = one(r#"{"ts":"2024-03-01T12:00:01Z","@timestamp":"2024-03-01T12:00:00Z"}"#);
    assert_eq!(r.time, Some(NOON));
    assert_eq!(r.keys(), ["ts"]);
    // A null is not present.
    let r = one(r#"{"time":null,"ts":"2024-03-01T12:00:00Z"}"#);
    assert_eq!(r.time, Some(NOON));
    // The first present does not parse: no time, and the next is not tried.
    let r = one(r#"{"time":"yesterday","ts":"2024-03-01T12:00:00Z"}"#);
    assert_eq!(r.time, None);
    assert_eq!(r.keys(), ["time", "ts"]);
    // A configured one, nested by its flattened name; the defaults are then plain fields.
    let o = opts(json!({"time_field": "meta.at"}));
    let r = one_with(r#"{"meta":{"at":"2024-03-01T12:00:00Z"},"time":"x"}"#, &o);
    assert_eq!(r.time, Some(NOON));
    assert_eq!(r.keys(), ["time"]);
    // "" reads no time.
    let r = one_with(
        r#"{"time":"2024-03-01T12:00:00Z"}"#,
        &opts(json!({"time_field": ""})),
    );
    assert_eq!(r.time, None);
    assert_eq!(r.keys(), ["time"]);
}

#[test]
fn epoch_times() {
    let unix = opts(json!({"time_format": "unix"}));
    for (v, want) in [
        ("1709294400", NOON),
        ("1709294400.123", NOON + 123_000_000),
        ("1709294400.000001", NOON + 1_000),
        (r#""1709294400.123456789""#, NOON + 123_456_789),
        (r#"" 1709294400 ""#, NOON),
        ("-1.5", -1_500_000_000),
        ("0", 0),
    ] {
        let r = one_with(&format!(r#"{{"ts":{v}}}"#), &unix);
        assert_eq!(r.time, Some(want), "{v}");
    }
    let cases = [
        ("unix_ms", "1709294400123", NOON + 123_000_000),
        ("unix_ms", "1709294400123.5", NOON + 123_500_000),
        ("unix_us", "1709294400123456", NOON + 123_456_000),
        ("unix_ns", "1709294400123456789", NOON + 123_456_789),
        ("unix_ns", r#""1709294400123456789""#, NOON + 123_456_789),
    ];
    for (f, v, want) in cases {
        let r = one_with(
            &format!(r#"{{"time":{v}}}"#),
            &opts(json!({ "time_format": f })),
        );
        assert_eq!(r.time, Some(want), "{f} {v}");
    }
    // Out of range, not a number, an RFC 3339 text.
    for v in [
        "1e300",
        "18446744073709551615",
        "9223372036854775807",
        r#""12ab""#,
        r#""1.""#,
        r#""""#,
        r#""2024-03-01T12:00:00Z""#,
        "false",
    ] {
        let r = one_with(&format!(r#"{{"time":{v}}}"#), &unix);
        assert_eq!(r.time, None, "{v}");
        assert_eq!(r.keys(), ["time"], "{v}");
    }
}

#[test]
fn levels() {
    for (v, want) in [
        (r#""INFO""#, "info"),
        (r#""Warn""#, "warning"),
        (r#""err""#, "error"),
        (r#""crit""#, "critical"),
        (r#""FATAL""#, "critical"),
        (r#""information""#, "info"),
        (r#""trace""#, "debug"),
        (r#"" debug ""#, "debug"),
        (r#""emergency""#, "emerg"),
        (r#""ok""#, "OK"),
        (r#""E""#, "error"),
        ("30", "info"),
        ("50", "error"),
        ("60", "critical"),
        ("3", "error"),
        ("0", "emerg"),
    ] {
        let r = one(&format!(r#"{{"level":{v},"x":1}}"#));
        assert_eq!(r.tag("status"), Some(want), "{v}");
        assert_eq!(r.keys(), ["x"], "{v}");
    }
    // Not a level: kept as a field, no status.
    for v in [r#""loud""#, "42", "3.0", "true", r#"["info"]"#, r#""""#] {
        let r = one(&format!(r#"{{"level":{v}}}"#));
        assert_eq!(r.tag("status"), None, "{v}");
        assert_eq!(r.keys(), ["level"], "{v}");
    }
}

#[test]
fn level_field_candidates() {
    // level before severity, lvl and status.
    let r = one(r#"{"severity":"error","lvl":"debug","level":"warning"}"#);
    assert_eq!(r.tag("status"), Some("warning"));
    assert_eq!(r.keys(), ["lvl", "severity"]);
    // The default `status` key holds DataKit's level...
    let r = one(r#"{"status":"error","code":3}"#);
    assert_eq!(r.tag("status"), Some("error"));
    assert_eq!(r.keys(), ["code"]);
    // ...but a number there is an HTTP or application code, not a level.
    let r = one(r#"{"status":200}"#);
    assert_eq!(r.tags, vec![]);
    assert_eq!(r.field("status"), Some(&V::Int(200)));
    // When set to status explicitly, numbers are levels there too.
    let r = one_with(r#"{"status":4}"#, &opts(json!({"level_field": "status"})));
    assert_eq!(r.tag("status"), Some("warning"));
    // Nested, by the flattened name; "" reads no level.
    let o = opts(json!({"level_field": "log.level"}));
    let r = one_with(r#"{"log":{"level":"ERROR"},"level":"info"}"#, &o);
    assert_eq!(r.tag("status"), Some("error"));
    assert_eq!(r.keys(), ["level"]);
    let r = one_with(r#"{"level":"info"}"#, &opts(json!({"level_field": ""})));
    assert_eq!(r.tag("status"), None);
    assert_eq!(r.keys(), ["level"]);
}

#[test]
fn the_status_tag_wins_over_a_status_key() {
    let r = one(r#"{"level":"info","status":"active","x":1}"#);
    assert_eq!(r.tags, vec![("status".into(), "info".into())]);
    assert_eq!(r.keys(), ["x"]);
    // Named as a tag, still only once.
    let o = opts(json!({"tags": ["status"]}));
    let r = one_with(r#"{"level":"info","status":"active"}"#, &o);
    assert_eq!(r.tags, vec![("status".into(), "info".into())]);
    // Without a level, a `status` tag from the object.
    let r = one_with(r#"{"status":"pending"}"#, &o);
    assert_eq!(r.tags, vec![("status".into(), "pending".into())]);
    assert!(r.fields.is_empty());
    assert!(r.keep_message);
}

#[test]
fn the_objects_message() {
    // `message` is the message: no raw line.
    let r = one(r#"{"message":"hello","msg":"other","x":1}"#);
    assert_eq!(
        r.fields,
        vec![
            ("msg".into(), t("other")),
            ("x".into(), V::Int(1)),
            ("message".into(), t("hello"))
        ]
    );
    assert!(!r.keep_message);
    // `msg` when there is no `message`; it is not also a field.
    let r = one(r#"{"msg":"hello","x":1}"#);
    assert_eq!(r.keys(), ["x", "message"]);
    assert_eq!(r.field("message"), Some(&t("hello")));
    assert!(!r.keep_message);
    // Even with keep_message = false.
    let no_keep = opts(json!({"keep_message": false}));
    let r = one_with(r#"{"msg":"hello"}"#, &no_keep);
    assert_eq!(r.fields, vec![("message".into(), t("hello"))]);
    // A scalar or array message as its text; an empty one as it is.
    assert_eq!(one(r#"{"message":42}"#).field("message"), Some(&t("42")));
    assert_eq!(
        one(r#"{"message":[1,2]}"#).field("message"),
        Some(&t("[1,2]"))
    );
    assert_eq!(one(r#"{"message":""}"#).field("message"), Some(&t("")));
    // An object `message` is flattened; `msg` (a string) is then the message.
    let r = one(r#"{"message":{"text":"hi"},"msg":"m"}"#);
    assert_eq!(
        r.fields,
        vec![("message.text".into(), t("hi")), ("message".into(), t("m"))]
    );
    let r = one(r#"{"message":{"text":"hi"},"msg":7}"#);
    assert_eq!(r.keys(), ["message.text", "msg"]);
    assert!(r.keep_message);
    // A non-string msg is a plain field; a null message is absent.
    let r = one(r#"{"message":null,"msg":false}"#);
    assert_eq!(r.fields, vec![("msg".into(), V::Bool(false))]);
    assert!(r.keep_message);
    // A nested `message` is a plain field.
    let r = one(r#"{"a":{"message":"x"}}"#);
    assert_eq!(r.keys(), ["a.message"]);
    assert!(r.keep_message);
}

#[test]
fn keep_message() {
    let no_keep = opts(json!({"keep_message": false}));
    let r = one_with(r#"{"x":1}"#, &no_keep);
    assert!(!r.keep_message);
    assert!(one(r#"{"x":1}"#).keep_message);
    // A record needs a field: without any, the raw line is kept anyway.
    for line in [
        "{}",
        r#"{"level":"info","time":"2024-03-01T12:00:00Z"}"#,
        r#"{"a":null,"b":{}}"#,
    ] {
        let r = one_with(line, &no_keep);
        assert!(r.keep_message, "{line}");
        assert!(r.fields.is_empty(), "{line}");
    }
    let r = one_with(
        r#"{"service":"api"}"#,
        &opts(json!({"keep_message": false, "tags": ["service"]})),
    );
    assert!(r.keep_message);
    assert_eq!(r.tag("service"), Some("api"));
    // An empty object with the default config: the raw line only.
    assert!(one("{}").is_passthrough());
}

#[test]
fn tags() {
    let o = opts(json!({"tags": ["service", "k8s.ns", "port", "canary", "zones", "absent"]}));
    let r = one_with(
        r#"{"service":"api","k8s":{"ns":"prod","pod":"p-1"},"port":8080,"canary":true,"zones":["a","b"],"x":1}"#,
        &o,
    );
    assert_eq!(
        r.tags,
        vec![
            ("canary".into(), "true".into()),
            ("k8s.ns".into(), "prod".into()),
            ("port".into(), "8080".into()),
            ("service".into(), "api".into()),
            ("zones".into(), r#"["a","b"]"#.into()),
        ]
    );
    assert_eq!(r.keys(), ["k8s.pod", "x"]);
}

#[test]
fn colliding_keys_keep_the_first() {
    // Sorted keys: "a" (its leaf a.b) comes before "a.b".
    let r = one(r#"{"a.b":1,"a":{"b":2}}"#);
    assert_eq!(r.fields, vec![("a.b".into(), V::Int(2))]);
    // Duplicate keys in the text: serde_json keeps the last.
    let r = one(r#"{"a":1,"a":2}"#);
    assert_eq!(r.fields, vec![("a".into(), V::Int(2))]);
    // An empty separator makes more collisions.
    let r = one_with(r#"{"ab":1,"a":{"b":2}}"#, &opts(json!({"separator": ""})));
    assert_eq!(r.fields, vec![("ab".into(), V::Int(2))]);
    // A flattened key equal to `message` does not shadow the message.
    let r = one_with(
        r#"{"mess":{"age":1},"x":2}"#,
        &opts(json!({"separator": ""})),
    );
    assert_eq!(r.keys(), ["x"]);
    assert!(r.keep_message);
    // A consumed time key: its later duplicate is left out too.
    let r = one_with(
        r#"{"t.s":"x","t":{"s":"2024-03-01T12:00:00Z"}}"#,
        &opts(json!({"time_field": "t.s"})),
    );
    assert_eq!(r.time, Some(NOON));
    assert!(r.fields.is_empty());
    // Many keys (the set path of the duplicate check).
    let mut line = String::from("{");
    for i in 0..200 {
        line.push_str(&format!(r#""k{i}.x":{i},"k{i}":{{"x":-1}},"#));
    }
    line.push_str(r#""z":0}"#);
    let r = one(&line);
    assert_eq!(r.fields.len(), 201);
    assert!(r.fields[..200].iter().all(|(_, v)| *v == V::Int(-1)));
}

#[test]
fn odd_keys() {
    // An empty top-level key is left out, with all below it; a nested one gives a non-empty key.
    let r = one(r#"{"":1,"x":{"":2}}"#);
    assert_eq!(r.fields, vec![("x.".into(), V::Int(2))]);
    let r = one(r#"{"":{"y":3},"z":4}"#);
    assert_eq!(r.fields, vec![("z".into(), V::Int(4))]);
    // Keys with spaces, commas, equals and quotes are kept as they are.
    let r = one(r#"{"a b":1,"c,d=e":2,"q\"":3}"#);
    assert_eq!(r.keys(), ["a b", "c,d=e", "q\""]);
    // A key past MAX_KEY bytes is left out.
    let long = "k".repeat(MAX_KEY + 1);
    let r = one(&format!(r#"{{"{long}":1,"ok":2}}"#));
    assert_eq!(r.keys(), ["ok"]);
    let r = one(&format!(r#"{{"{}":1}}"#, "k".repeat(MAX_KEY)));
    assert_eq!(r.fields.len(), 1);
}

#[test]
fn many_keys_are_capped() {
    let mut line = String::from(r#"{"level":"info","#);
    for i in 0..3000 {
        line.push_str(&format!(r#""k{i:04}":{i},"#));
    }
    line.push_str(r#""msg":"m"}"#);
    let r = one(&line);
    // The status tag and the message count.
    assert_eq!(r.tags.len() + r.fields.len(), MAX_ITEMS);
    assert_eq!(r.fields.last(), Some(&("message".into(), t("m"))));
    assert_eq!(r.fields[0], ("k0000".into(), V::Int(0)));
}

#[test]
fn unicode() {
    let r = one(
        r#"{"名前":"東京","emoji":"😀 ok","esc":"caf\u00e9 \ud83d\ude00","nl":"a\nb\t\"c\"","ctl":"\u0000"}"#,
    );
    assert_eq!(r.field("名前"), Some(&t("東京")));
    assert_eq!(r.field("emoji"), Some(&t("😀 ok")));
    assert_eq!(r.field("esc"), Some(&t("café 😀")));
    assert_eq!(r.field("nl"), Some(&t("a\nb\t\"c\"")));
    assert_eq!(r.field("ctl"), Some(&t("\0")));
    let r = one(r#"{"level":"ＩＮＦＯ","nested":{"ключ":"значение"}}"#);
    assert_eq!(r.tag("status"), None);
    assert_eq!(r.keys(), ["level", "nested.ключ"]);
    // A lone surrogate is not valid JSON text.
    assert!(one(r#"{"s":"\ud800"}"#).is_passthrough());
}

#[test]
fn lines_that_are_not_objects_pass_through() {
    for line in [
        "",
        "   ",
        "plain text log line",
        "[1,2,3]",
        "42",
        r#""a string""#,
        "null",
        "true",
        "{",
        r#"{"a":1"#,
        r#"{"a":1} trailing"#,
        r#"{"a":1}{"b":2}"#,
        r#"{'a':1}"#,
        r#"{"a":01}"#,
        r#"{"a":NaN}"#,
        r#"{"a":1,}"#,
        "{\"a\":\"\x01\"}",
        "2024-03-01 {\"a\":1}",
    ] {
        let r = one(line);
        assert!(r.is_passthrough(), "{line:?}: {r:?}");
    }
}

#[test]
fn whitespace_and_bom() {
    let r = one(" \t{\"x\":1}  ");
    assert_eq!(r.fields, vec![("x".into(), V::Int(1))]);
    let r = one("\u{feff}{\"x\":1}");
    assert_eq!(r.fields, vec![("x".into(), V::Int(1))]);
}

#[test]
fn a_full_line() {
    let o = opts(json!({"tags": ["service"]}));
    let r = one_with(
        r#"{"@timestamp":"2024-03-01T20:00:00.250+08:00","log.level":"warn","level":"WARN","service":"checkout","message":"slow request","http":{"method":"POST","status_code":503,"latency_ms":812.5},"user":{"id":42,"roles":["admin"]},"trace_id":null}"#,
        &o,
    );
    assert_eq!(r.time, Some(NOON + 250_000_000));
    assert_eq!(
        r.tags,
        vec![
            ("status".into(), "warning".into()),
            ("service".into(), "checkout".into())
        ]
    );
    assert_eq!(
        r.fields,
        vec![
            ("http.latency_ms".into(), V::Float(812.5)),
            ("http.method".into(), t("POST")),
            ("http.status_code".into(), V::Int(503)),
            ("log.level".into(), t("warn")),
            ("user.id".into(), V::Int(42)),
            ("user.roles".into(), t(r#"["admin"]"#)),
            ("message".into(), t("slow request")),
        ]
    );
    assert!(!r.keep_message);
}

#[test]
fn rfc3339() {
    assert_eq!(rfc3339_ns("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(
        rfc3339_ns("2024-02-29T23:59:59.999999999Z"),
        Some(1_709_251_199_999_999_999)
    );
    assert_eq!(rfc3339_ns("2023-02-29T00:00:00Z"), None);
    assert_eq!(
        rfc3339_ns("2000-02-29T00:00:00Z"),
        Some(951_782_400_000_000_000)
    );
    assert_eq!(rfc3339_ns("1900-02-29T00:00:00Z"), None);
    // A leap second counts as the next second.
    assert_eq!(
        rfc3339_ns("2016-12-31T23:59:60Z"),
        rfc3339_ns("2017-01-01T00:00:00Z")
    );
    // The range of i64 nanoseconds.
    assert_eq!(rfc3339_ns("2262-04-11T23:47:16.854775807Z"), Some(i64::MAX));
    assert_eq!(rfc3339_ns("2262-04-11T23:47:16.854775808Z"), None);
    assert_eq!(rfc3339_ns("1677-09-21T00:12:43.145224192Z"), Some(i64::MIN));
    assert_eq!(rfc3339_ns("0000-01-01T00:00:00Z"), None);
    for bad in [
        "",
        "2024-03-01T12:00:00",
        "2024-03-01T12:00:00ZZ",
        "2024-03-01T12:00:00+08:0",
        "2024-03-01T12:00:00+8:00",
        "2024-03-01T12:00:00+08:60",
        "2024-03-01X12:00:00Z",
        "2024/03/01T12:00:00Z",
        "24-03-01T12:00:00Z",
        "2024-3-01T12:00:00Z",
        "2024-03-00T12:00:00Z",
        "2024-03-01T12:60:00Z",
        "2024-03-01T12:00:61Z",
        "+2024-03-01T12:00:00Z",
        "2024-03-01T12:00:00.1.2Z",
        "2024-03-01T12:00:00.é",
        "2024-03-01T12:00:0éZ",
    ] {
        assert_eq!(rfc3339_ns(bad), None, "{bad}");
    }
}

#[test]
fn decimals() {
    assert_eq!(decimal_ns("1", 9), Some(1_000_000_000));
    assert_eq!(decimal_ns("-0.000000001", 9), Some(-1));
    assert_eq!(decimal_ns("1.0000000019", 9), Some(1_000_000_001));
    assert_eq!(decimal_ns("9223372036854775807", 0), Some(i64::MAX));
    assert_eq!(decimal_ns("9223372036854775808", 0), None);
    assert_eq!(decimal_ns("-9223372036854775808", 0), Some(i64::MIN));
    assert_eq!(decimal_ns("99999999999999999999", 0), None);
    for bad in ["", "-", ".5", "1.", "1e9", "+1", "1 ", "0x10", "١"] {
        assert_eq!(decimal_ns(bad, 9), None, "{bad}");
    }
}

#[test]
fn level_names() {
    assert_eq!(normalize_level("WARNING"), Some("warning"));
    assert_eq!(normalize_level("Success"), Some("OK"));
    assert_eq!(normalize_level("f"), Some("emerg"));
    assert_eq!(normalize_level("unknown"), Some("unknown"));
    assert_eq!(normalize_level("informational-but-long"), None);
    assert_eq!(normalize_level("ınfo"), None);
    assert_eq!(normalize_level(""), None);
    assert_eq!(numeric_level(-1), None);
    assert_eq!(numeric_level(8), None);
    assert_eq!(numeric_level(10), Some("debug"));
    assert_eq!(numeric_level(40), Some("warning"));
}

#[test]
fn config() {
    assert_eq!(
        Options::from_config(&Config::default()).unwrap(),
        Options::default()
    );
    let o = opts(json!({
        "separator": "/", "time_field": "at", "time_format": "unix_ms", "level_field": "sev",
        "tags": ["a"], "keep_message": false, "max_depth": 3
    }));
    assert_eq!(
        o,
        Options {
            separator: "/".into(),
            time_fields: vec!["at".into()],
            time_format: TimeFormat::UnixMs,
            level_fields: vec![("sev".into(), true)],
            tags: vec!["a".into()],
            keep_message: false,
            max_depth: 3,
        }
    );
    let err = |v: serde_json::Value| Options::from_config(&Config::from_value(v)).unwrap_err();
    assert!(err(json!({"sep": "."})).starts_with("unknown config key \"sep\""));
    assert_eq!(
        err(json!({"time_format": "iso"})),
        "config key \"time_format\": expected one of rfc3339, unix, unix_ms, unix_us, unix_ns (got \"iso\")"
    );
    assert_eq!(
        err(json!({"max_depth": 0})),
        "config key \"max_depth\": expected at least 1"
    );
    assert_eq!(
        err(json!({"tags": "service"})),
        "config key \"tags\": expected a list of strings"
    );
    assert_eq!(
        err(json!({"time_field": 1})),
        "config key \"time_field\": expected a string"
    );
    assert_eq!(
        err(json!({"keep_message": "no"})),
        "config key \"keep_message\": expected a boolean"
    );
}

#[test]
fn every_prefix_of_a_line_gives_one_record() {
    let o = opts(json!({"tags": ["service"], "time_format": "rfc3339"}));
    for line in [
        r#"{"time":"2024-03-01T12:00:00.5+08:00","level":"warn","service":"a","msg":"m é 😀","n":{"x":[1,{"y":null}],"z":-1.5e3}}"#,
        r#"{"ts":1709294400.25,"level":30,"message":{"a":"\u00e9\n"},"big":18446744073709551616}"#,
    ] {
        for (i, _) in line.char_indices() {
            for o in [&o, &opts(json!({"time_format": "unix", "max_depth": 1}))] {
                assert_eq!(run(&line[..i], o).len(), 1, "{}", &line[..i]);
            }
        }
    }
}
