use super::*;
use serde_json::json;

mod standard;

fn grok(v: serde_json::Value) -> Grok {
    match Grok::new(&Config::from_value(v)) {
        Ok(g) => g,
        Err(e) => panic!("config error: {e}"),
    }
}

fn err(v: serde_json::Value) -> String {
    match Grok::new(&Config::from_value(v)) {
        Ok(_) => panic!("expected a config error"),
        Err(e) => e,
    }
}

#[test]
fn combined_apache_log_fields() {
    let g = grok(json!({"patterns": ["%{COMBINEDAPACHELOG}"], "time_field": "timestamp"}));
    let line = r#"2001:db8::1 - bob [01/Mar/2024:13:55:36 +0100] "POST /api?id=7 HTTP/2.0" 201 17 "https://example.com/" "curl/8.5.0""#;
    let p = g.parse(line).unwrap();
    let names: Vec<_> = p.fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "clientip",
            "auth",
            "verb",
            "request",
            "httpversion",
            "response",
            "bytes",
            "referrer",
            "agent"
        ]
    );
    assert_eq!(p.field("clientip"), Some(Value::Text("2001:db8::1")));
    assert_eq!(p.field("request"), Some(Value::Text("/api?id=7")));
    assert_eq!(p.field("response"), Some(Value::Int(201)));
    assert_eq!(p.field("bytes"), Some(Value::Int(17)));
    assert_eq!(p.field("agent"), Some(Value::Text("curl/8.5.0")));
    assert_eq!(
        p.field("referrer"),
        Some(Value::Text("https://example.com/"))
    );
    assert_eq!(p.field("ident"), None);
    // 2024-03-01T12:55:36Z
    assert_eq!(p.time_ns, Some(1_709_297_736_000_000_000));
    // A request that is not METHOD URL HTTP/x, and no bytes.
    let p = g
        .parse(r#"1.2.3.4 - - [01/Mar/2024:13:55:36 +0100] "\x16\x03" 400 - "-" "-""#)
        .unwrap();
    assert_eq!(p.field("rawrequest"), Some(Value::Text(r"\x16\x03")));
    assert_eq!(p.field("verb"), None);
    assert_eq!(p.field("bytes"), None);
    assert_eq!((p.field("referrer"), p.field("agent")), (None, None));
    // A user name that starts with a dash; an agent with escaped quotes, whole when the
    // pattern is anchored (the agent is `%{DATA}`, which stops at the first quote it can).
    let line =
        r#"1.2.3.4 - -bob [01/Mar/2024:13:55:36 +0100] "GET / HTTP/1.1" 200 5 "-" "say \"hi\"""#;
    let p = g.parse(line).unwrap();
    assert_eq!(p.field("auth"), Some(Value::Text("-bob")));
    assert_eq!(p.field("agent"), Some(Value::Text(r"say \")));
    let anchored = grok(json!({"patterns": ["^%{COMBINEDAPACHELOG}$"]}));
    let p = anchored.parse(line).unwrap();
    assert_eq!(p.field("agent"), Some(Value::Text(r#"say \"hi\""#)));
}

#[test]
fn syslog_with_program_and_pid() {
    let g = grok(json!({
        "patterns": ["%{SYSLOGTIMESTAMP:time} %{SYSLOGHOST:host} %{SYSLOGPROG}: %{GREEDYDATA:msg}"],
        "tags": ["host"],
        "year": 2023,
        "timezone": "+08:00",
    }));
    let p = g
        .parse("Mar  1 12:00:00 web-01 sshd[1234]: Accepted publickey for alice")
        .unwrap();
    assert_eq!(p.tags, [("host".to_string(), "web-01")]);
    assert_eq!(p.field("program"), Some(Value::Text("sshd")));
    assert_eq!(p.field("pid"), Some(Value::Int(1234)));
    assert_eq!(
        p.field("msg"),
        Some(Value::Text("Accepted publickey for alice"))
    );
    // 2023-03-01T04:00:00Z
    assert_eq!(p.time_ns, Some(1_677_643_200_000_000_000));
    let p = g.parse("Mar 10 01:02:03 10.0.0.2 CRON: job done").unwrap();
    assert_eq!(p.field("pid"), None);
    assert_eq!(p.field("program"), Some(Value::Text("CRON")));
}

#[test]
fn nested_custom_patterns() {
    let g = grok(json!({
        "patterns": ["^%{APP}$"],
        "custom_patterns": {
            "APP": "\\[%{LOGLEVEL:level}\\] %{REQ} %{RESULT}",
            "REQ": "%{WORD:method} %{URIPATHPARAM:path}",
            "RESULT": "took=%{NUMBER:took:float}ms ok=%{WORD:ok:bool}",
        },
    }));
    let p = g.parse("[WARN] GET /x?y=1 took=12.5ms ok=true").unwrap();
    assert_eq!(p.tags, [("status".to_string(), "warning")]);
    assert_eq!(p.field("method"), Some(Value::Text("GET")));
    assert_eq!(p.field("path"), Some(Value::Text("/x?y=1")));
    assert_eq!(p.field("took"), Some(Value::Float(12.5)));
    assert_eq!(p.field("ok"), Some(Value::Bool(true)));
    assert_eq!(p.field("level"), None);
    // A custom pattern replaces a standard one of the same name.
    let g = grok(json!({"patterns": ["%{INT:n}"], "custom_patterns": {"INT": "[0-9]{2}"}}));
    assert_eq!(
        g.parse("12345").unwrap().field("n"),
        Some(Value::Text("12"))
    );
}

#[test]
fn cycles_and_depth_are_errors() {
    let e = err(json!({"patterns": ["%{A}"], "custom_patterns": {"A": "a%{B}", "B": "b%{A}"}}));
    assert_eq!(
        e,
        "config key \"custom_patterns\": A: patterns refer to each other in a cycle: A -> B -> A"
    );
    let e = err(json!({"patterns": ["x"], "custom_patterns": {"SELF": "x%{SELF}"}}));
    assert!(e.ends_with("cycle: SELF -> SELF"), "{e}");
    // A long chain: P0 -> P1 -> ... -> P40.
    let mut custom = serde_json::Map::new();
    for i in 0..40 {
        custom.insert(format!("P{i:02}"), json!(format!("%{{P{:02}}}", i + 1)));
    }
    custom.insert("P40".into(), json!("x"));
    let e = err(json!({"patterns": ["%{P00}"], "custom_patterns": custom}));
    assert!(e.contains("patterns nest deeper than 32 levels"), "{e}");
    // Doubling at every level: 2^30 copies.
    let mut custom = serde_json::Map::new();
    for i in 0..30 {
        custom.insert(
            format!("D{i:02}"),
            json!(format!("%{{D{0:02}}}%{{D{0:02}}}", i + 1)),
        );
    }
    custom.insert("D30".into(), json!("x"));
    let e = err(json!({"patterns": ["x"], "custom_patterns": custom}));
    assert!(
        e.contains("expands to a regex of more than 1048576 bytes"),
        "{e}"
    );
}

#[test]
fn typed_captures_keep_text_when_they_do_not_convert() {
    let g = grok(json!({"patterns": [
        "^%{NOTSPACE:i:int} %{NOTSPACE:f:float} %{NOTSPACE:b:bool} %{NOTSPACE:s:string}$"
    ]}));
    let p = g.parse("-42 1e3 FALSE 7").unwrap();
    assert_eq!(p.field("i"), Some(Value::Int(-42)));
    assert_eq!(p.field("f"), Some(Value::Float(1000.0)));
    assert_eq!(p.field("b"), Some(Value::Bool(false)));
    assert_eq!(p.field("s"), Some(Value::Text("7")));
    let p = g.parse("4.2 inf maybe x").unwrap();
    assert_eq!(p.field("i"), Some(Value::Text("4.2")));
    assert_eq!(p.field("f"), Some(Value::Text("inf")));
    assert_eq!(p.field("b"), Some(Value::Text("maybe")));
    let p = g.parse("99999999999999999999 NaN yes x").unwrap();
    assert_eq!(p.field("i"), Some(Value::Text("99999999999999999999")));
    assert_eq!(p.field("f"), Some(Value::Text("NaN")));
    assert_eq!(p.field("b"), Some(Value::Bool(true)));
}

#[test]
fn duplicate_field_names_and_regex_groups() {
    let g = grok(json!({"patterns": ["^(?:%{INT:v:int}|%{WORD:v})$", "^%{WORD:w} %{WORD:w}$"]}));
    let p = g.parse("42").unwrap();
    assert_eq!(p.fields, [("v".to_string(), Value::Int(42))]);
    let p = g.parse("abc").unwrap();
    assert_eq!(p.fields, [("v".to_string(), Value::Text("abc"))]);
    let p = g.parse("first second").unwrap();
    assert_eq!((p.pattern, p.fields.len()), (1, 1));
    assert_eq!(p.field("w"), Some(Value::Text("first")));
    // Empty captures and groups that took no part are left out; a plain named group captures.
    let g = grok(json!({"patterns": [r"^(?<user>\w+)=%{DATA:v}(?: %{INT:n})?$"]}));
    let p = g.parse("ü=").unwrap();
    assert_eq!(p.fields, [("user".to_string(), Value::Text("ü"))]);
}

#[test]
fn patterns_are_tried_in_order_and_unmatched_lines_give_none() {
    let g = grok(json!({"patterns": ["^%{INT:a}$", "^%{NUMBER:b}$", "%{WORD:c}"]}));
    assert_eq!(g.parse("7").unwrap().pattern, 0);
    assert_eq!(g.parse("7.5").unwrap().pattern, 1);
    assert_eq!(
        g.parse("-- x --").unwrap().field("c"),
        Some(Value::Text("x"))
    );
    assert_eq!(g.parse("-- --"), None);
    assert_eq!(g.parse(""), None);
}

#[test]
fn time_capture() {
    let g =
        grok(json!({"patterns": ["^%{DATA:time} \\| %{GREEDYDATA:rest}$"], "timezone": "-05:00"}));
    let t = |line: &str| g.parse(line).unwrap().time_ns;
    assert_eq!(t("1709294400 | x"), Some(1_709_294_400_000_000_000));
    assert_eq!(
        t("2024-03-01 12:00:00 | x"),
        Some(1_709_312_400_000_000_000)
    );
    // Not a time: stays a field.
    let p = g.parse("yesterday | x").unwrap();
    assert_eq!(
        (p.time_ns, p.field("time")),
        (None, Some(Value::Text("yesterday")))
    );
}

#[test]
fn time_formats() {
    let d = time::Defaults {
        offset_s: 0,
        year: 2024,
    };
    let at = |s: &str| time::parse(s, d);
    const T: i64 = 1_709_294_400_000_000_000; // 2024-03-01T12:00:00Z
    const S: i64 = 1_000_000_000;
    assert_eq!(at("01/Mar/2024:13:00:00 +0100"), Some(T));
    assert_eq!(at("1/Mar/2024:12:00:00 +0000"), Some(T));
    assert_eq!(at("2024-03-01T12:00:00Z"), Some(T));
    assert_eq!(at("2024-03-01T12:00:00.123Z"), Some(T + 123_000_000));
    assert_eq!(
        at("2024-03-01T20:00:00.123456789+08:00"),
        Some(T + 123_456_789)
    );
    assert_eq!(at("2024-03-01T20:00:00,5+0800"), Some(T + 500_000_000));
    assert_eq!(at("2024-03-01T07:00:00-05"), Some(T));
    assert_eq!(at("2024-03-01 12:00:00"), Some(T));
    assert_eq!(at("2024-03-01 12:00:00 UTC"), Some(T));
    assert_eq!(at("2024/03/01 12:00:00"), Some(T));
    assert_eq!(at("2024-03-01T1200"), Some(T));
    assert_eq!(at("Mar  1 12:00:00"), Some(T));
    assert_eq!(at("March 1 12:00:00.25"), Some(T + 250_000_000));
    assert_eq!(at("Mar 1 12:00:00 2025"), Some(T + 365 * 86_400 * S));
    assert_eq!(at("1709294400"), Some(T));
    assert_eq!(at("1709294400123"), Some(T + 123_000_000));
    assert_eq!(at("1709294400123456"), Some(T + 123_456_000));
    assert_eq!(at("1709294400123456789"), Some(T + 123_456_789));
    assert_eq!(at("20240301120000"), Some(T));
    assert_eq!(at("0"), None);
    assert_eq!(at("170929440"), None);
    assert_eq!(at("2024-03-01"), None);
    assert_eq!(at("2024-13-01 12:00:00"), None);
    assert_eq!(at("2024-02-30 12:00:00"), None);
    assert_eq!(at("2023-02-29 12:00:00"), None);
    assert!(at("2024-02-29 12:00:00").is_some());
    assert!(at("2000-02-29 12:00:00").is_some());
    assert_eq!(at("1900-02-29 12:00:00"), None);
    assert_eq!(at("2024-03-01 24:00:00"), None);
    assert_eq!(at("2024-03-01 12:00:00 +25:00"), None);
    assert_eq!(at("2024-03-01 12:00:00 junk"), None);
    assert_eq!(at("01/Foo/2024:12:00:00 +0000"), None);
    assert_eq!(at("Foo  1 12:00:00"), None);
    assert_eq!(at("Mar  1 12:00"), None);
    assert_eq!(at(""), None);
    // A local time and a syslog time take the configured offset and year.
    let d = time::Defaults {
        offset_s: 8 * 3600,
        year: 2023,
    };
    assert_eq!(time::parse("2024-03-01 20:00:00", d), Some(T));
    assert_eq!(
        time::parse("Mar  1 20:00:00", d),
        Some(T - 366 * 86_400 * S)
    );
    assert_eq!(time::zone_offset(b"-05:30"), Some(-(5 * 3600 + 30 * 60)));
    assert_eq!(time::zone_offset(b"+0800"), Some(8 * 3600));
    assert_eq!(time::zone_offset(b"Z"), Some(0));
    assert_eq!(time::zone_offset(b"Asia/Shanghai"), None);
}

#[test]
fn level_mapping() {
    let cases = [
        ("EMERG", "emerg"),
        ("emergency", "emerg"),
        ("panic", "emerg"),
        ("Alert", "alert"),
        ("crit", "critical"),
        ("CRITICAL", "critical"),
        ("Fatal", "critical"),
        ("err", "error"),
        ("ERROR", "error"),
        ("severe", "error"),
        ("E", "error"),
        ("warn", "warning"),
        ("WARNING", "warning"),
        ("W", "warning"),
        ("notice", "notice"),
        ("INFO", "info"),
        ("Information", "info"),
        ("I", "info"),
        ("debug", "debug"),
        ("TRACE", "debug"),
        ("verbose", "debug"),
        ("ok", "OK"),
        ("3", "error"),
        ("7", "debug"),
        ("loud", "unknown"),
        ("", "unknown"),
        ("a very long level name", "unknown"),
        ("ÉRROR", "unknown"),
    ];
    for (raw, want) in cases {
        assert_eq!(status_level(raw), want, "{raw}");
    }
    let g =
        grok(json!({"patterns": ["^%{LOGLEVEL:lvl}: %{GREEDYDATA:msg}$"], "level_field": "lvl"}));
    let p = g.parse("ERROR: disk full").unwrap();
    assert_eq!(p.tags, [("status".to_string(), "error")]);
    assert_eq!(p.fields, [("msg".to_string(), Value::Text("disk full"))]);
}

#[test]
fn config_errors() {
    let cases: &[(serde_json::Value, &str)] = &[
        (json!({}), "config key \"patterns\" is required: a list of grok patterns"),
        (json!({"patterns": []}), "config key \"patterns\": expected at least one pattern"),
        (json!({"patterns": "%{INT}"}), "config key \"patterns\": expected a list of strings"),
        (json!({"patterns": [""]}), "config key \"patterns\": a pattern is empty"),
        (
            json!({"patterns": ["%{INT:n}", "%{NOPE:x}"]}),
            "config key \"patterns\": \"%{NOPE:x}\": unknown pattern %{NOPE}",
        ),
        (
            json!({"patterns": ["%{INT:n:integer}"]}),
            "config key \"patterns\": \"%{INT:n:integer}\": unknown type \"integer\" in %{INT:n:integer} (expected int, float, bool or string)",
        ),
        (json!({"patterns": ["%{INT:}"]}), "config key \"patterns\": \"%{INT:}\": empty field name in %{INT:}"),
        (json!({"patterns": ["a %{INT"]}), "config key \"patterns\": \"a %{INT\": unclosed %{"),
        (
            json!({"patterns": ["%{IN T}"]}),
            "config key \"patterns\": \"%{IN T}\": bad pattern name in %{IN T}: expected letters, digits, _ or -",
        ),
        (json!({"patterns": ["(%{INT}"]}), "config key \"patterns\": \"(%{INT}\": invalid regex: unclosed group"),
        (
            json!({"patterns": ["(?<=a)%{INT}"]}),
            "config key \"patterns\": \"(?<=a)%{INT}\": invalid regex: look-around, including look-ahead and look-behind, is not supported",
        ),
        (
            json!({"patterns": ["%{APP}"], "custom_patterns": {"APP": "%{WORD} %{NOPE:x}"}}),
            "config key \"custom_patterns\": APP: unknown pattern %{NOPE} (in APP)",
        ),
        (
            json!({"patterns": ["x"], "custom_patterns": ["A"]}),
            "config key \"custom_patterns\": expected a table of NAME = \"regex\"",
        ),
        (
            json!({"patterns": ["x"], "custom_patterns": {"A": 1}}),
            "config key \"custom_patterns\": expected a table of NAME = \"regex\"",
        ),
        (
            json!({"patterns": ["x"], "custom_patterns": {"A B": "x"}}),
            "config key \"custom_patterns\": bad pattern name \"A B\": expected letters, digits, _ or -",
        ),
        (json!({"patterns": ["%{WORD:host}"], "tags": ["hots"]}), "config key \"tags\": no pattern captures \"hots\""),
        (json!({"patterns": ["%{WORD:t}"], "time_field": "ts"}), "config key \"time_field\": no pattern captures \"ts\""),
        (json!({"patterns": ["%{WORD:l}"], "level_field": "lvl"}), "config key \"level_field\": no pattern captures \"lvl\""),
        (
            json!({"patterns": ["x"], "timezone": "Asia/Shanghai"}),
            "config key \"timezone\": expected a UTC offset like +08:00, got \"Asia/Shanghai\"",
        ),
        (json!({"patterns": ["x"], "year": 0}), "config key \"year\": expected a year from 1 to 9999, got 0"),
        (json!({"patterns": ["x"], "year": -1}), "config key \"year\": expected a non-negative integer"),
        (json!({"patterns": ["x"], "keep_message": "no"}), "config key \"keep_message\": expected a boolean"),
        (
            json!({"patterns": ["x"], "pattern": "y"}),
            "unknown config key \"pattern\" (known: patterns, custom_patterns, tags, time_field, level_field, timezone, year, keep_message)",
        ),
    ];
    for (config, want) in cases {
        assert_eq!(err(config.clone()), *want, "{config}");
    }
    // Defaults need not be captured: "time" and "level" are optional.
    grok(json!({"patterns": ["%{WORD:w}"]}));
}

#[test]
fn long_lines_take_our_backtracker_then_the_pikevm() {
    let g = grok(json!({"patterns": ["^%{COMBINEDAPACHELOG}"]}));
    let short = g.patterns[0].short;
    assert!((500..2000).contains(&short), "{short}");
    // The crate's own engines, our backtracker (past `short`), the crate's PikeVM (past ours).
    for (n, engine) in [
        (100, Engine::Regex),
        (5_000, Engine::Backtrack),
        (40_000, Engine::Regex),
    ] {
        let agent = "é".repeat(n / 2);
        let line = format!(
            r#"1.2.3.4 - - [01/Mar/2024:13:55:36 +0100] "GET /a HTTP/1.1" 200 5 "-" "{agent}" 7"#
        );
        let mut scratch = g.scratch();
        assert_eq!(g.find(&line, &mut scratch), Some((0, engine)), "{n}");
        let p = g.parse(&line).unwrap();
        assert_eq!(p.field("agent"), Some(Value::Text(agent.as_str())), "{n}");
        assert_eq!(p.field("bytes"), Some(Value::Int(5)), "{n}");
    }
}

#[test]
fn parse_line_compiles_and_parses() {
    let c = Config::from_value(json!({"patterns": ["%{IP:ip}"]}));
    let p = parse_line(&c, "from 10.1.2.3 ok").unwrap().unwrap();
    assert_eq!(p.field("ip"), Some(Value::Text("10.1.2.3")));
    assert_eq!(parse_line(&c, "no address").unwrap(), None);
    assert!(parse_line(&Config::default(), "x").is_err());
}

#[test]
fn pipeline_writes_records_and_passes_unmatched_lines_through() {
    use sandkit_sdk::records::{Batch, F_MESSAGE, F_TIME, MAGIC};
    let mut p = GrokPipeline::new(&Config::from_value(json!({
        "patterns": ["^%{TIMESTAMP_ISO8601:time} %{LOGLEVEL:level} %{GREEDYDATA:msg}$"],
        "keep_message": false,
    })))
    .unwrap();
    // Lines are concatenated, without their line breaks.
    let data = "2024-03-01T12:00:00Z INFO started 中文not a match";
    let ends = [40u32, data.len() as u32];
    let batch = Batch::new("app", data, &ends).unwrap();
    assert_eq!(batch.line(0), "2024-03-01T12:00:00Z INFO started 中文");
    let mut out = Records::new(&batch, 0);
    for (i, line) in batch.lines().enumerate() {
        out.set_line(i);
        p.write_line(line, &mut out);
    }
    let b = out.into_bytes();
    assert_eq!(&b[..4], MAGIC);
    // Record 0: time set, no message, 2 items (status tag, msg field).
    assert_eq!(b[8], F_TIME);
    assert_eq!(
        i64::from_le_bytes(b[9..17].try_into().unwrap()),
        1_709_294_400_000_000_000
    );
    assert_eq!(u16::from_le_bytes(b[17..19].try_into().unwrap()), 2);
    // The last record is the unmatched line passed through: message only, no items.
    let last = &b[b.len() - 15..];
    assert_eq!(u32::from_le_bytes(last[..4].try_into().unwrap()), 1);
    assert_eq!(last[4], F_MESSAGE);
    assert_eq!(u16::from_le_bytes(last[13..15].try_into().unwrap()), 0);
}
