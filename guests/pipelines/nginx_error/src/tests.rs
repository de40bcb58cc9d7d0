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
    let recs = records::records_of_line("nginx", line, |out| write_line(line, opts, out));
    assert!(recs.iter().all(|r| r.measurement.is_none()), "{recs:?}");
    recs
}

fn one_with(line: &str, opts: &Options) -> Rec {
    let mut recs = run(line, opts);
    assert_eq!(recs.len(), 1, "{line}");
    recs.remove(0)
}

fn one(line: &str) -> Rec {
    one_with(line, &Options::default())
}

/// 2024-10-10T13:55:36Z
const T: i64 = 1_728_568_536_000_000_000;

const FULL: &str = r#"2024/10/10 13:55:36 [error] 1234#5678: *99 open() "/var/www/x" failed (2: No such file or directory), client: 10.0.0.1, server: example.com, request: "GET /x HTTP/1.1", host: "example.com", referrer: "https://a/""#;

#[test]
fn a_full_line() {
    let r = one(FULL);
    assert_eq!(r.time, Some(T));
    assert!(r.keep_message);
    assert_eq!(r.tags, vec![("status".into(), "error".into())]);
    assert_eq!(
        r.fields,
        vec![
            ("pid".into(), V::Int(1234)),
            ("tid".into(), V::Int(5678)),
            ("connection_id".into(), V::Int(99)),
            (
                "msg".into(),
                t(r#"open() "/var/www/x" failed (2: No such file or directory)"#)
            ),
            ("client_ip".into(), t("10.0.0.1")),
            ("server".into(), t("example.com")),
            ("http_method".into(), t("GET")),
            ("http_url".into(), t("/x")),
            ("http_version".into(), t("1.1")),
            ("ip_or_host".into(), t("example.com")),
            ("referrer".into(), t("https://a/")),
        ]
    );
    // Every string is a slice of the line, written by reference.
    assert_eq!(r.refs, 8);
}

#[test]
fn the_parsed_line() {
    let e = parse(FULL).unwrap();
    assert_eq!(e.local_secs, Some(T / 1_000_000_000));
    assert_eq!((e.pid, e.tid, e.connection_id), (1234, 5678, Some(99)));
    assert_eq!(
        pairs(e.tail).collect::<Vec<_>>(),
        [
            ("client", "10.0.0.1"),
            ("server", "example.com"),
            ("request", "GET /x HTTP/1.1"),
            ("host", "example.com"),
            ("referrer", "https://a/"),
        ]
    );
}

#[test]
fn timezone() {
    let o = Options::from_config(&Config::from_value(json!({"timezone": "+08:00"}))).unwrap();
    assert_eq!(one_with(FULL, &o).time, Some(T - 8 * 3_600_000_000_000));
    let o = Options::from_config(&Config::from_value(json!({"timezone": "-0530"}))).unwrap();
    assert_eq!(one_with(FULL, &o).time, Some(T + 19_800_000_000_000));
}

#[test]
fn levels() {
    for (level, status) in [
        ("debug", "debug"),
        ("info", "info"),
        ("notice", "notice"),
        ("warn", "warning"),
        ("error", "error"),
        ("crit", "critical"),
        ("alert", "alert"),
        ("emerg", "emerg"),
    ] {
        let r = one(&format!("2024/10/10 13:55:36 [{level}] 1#1: x"));
        assert_eq!(r.tag("status"), Some(status), "{level}");
    }
    for level in ["warning", "ERROR", "fatal", "", "error "] {
        let line = format!("2024/10/10 13:55:36 [{level}] 1#1: x");
        assert!(one(&line).is_passthrough(), "{line}");
    }
}

#[test]
fn lines_without_a_connection_or_pairs() {
    let r = one("2024/10/10 13:55:36 [notice] 1#1: start worker process 35");
    assert_eq!(
        r.fields,
        vec![
            ("pid".into(), V::Int(1)),
            ("tid".into(), V::Int(1)),
            ("msg".into(), t("start worker process 35")),
        ]
    );
    let r = one(
        r#"2021/04/29 16:24:38 [emerg] 50102#0: unexpected ";" in /usr/local/etc/nginx/nginx.conf:23"#,
    );
    assert_eq!(r.tag("status"), Some("emerg"));
    assert_eq!(
        r.text("msg"),
        Some(r#"unexpected ";" in /usr/local/etc/nginx/nginx.conf:23"#)
    );
    assert_eq!(r.field("connection_id"), None);
    // A `*` that is not a connection number is part of the message.
    let r = one("2024/10/10 13:55:36 [warn] 7#7: *x* marks the spot");
    assert_eq!(r.field("connection_id"), None);
    assert_eq!(r.text("msg"), Some("*x* marks the spot"));
    let r = one("2024/10/10 13:55:36 [warn] 7#7: *12");
    assert_eq!(r.text("msg"), Some("*12"));
    // An empty message.
    let r = one("2024/10/10 13:55:36 [warn] 7#7:");
    assert_eq!(r.text("msg"), Some(""));
    let r = one("2024/10/10 13:55:36 [warn] 7#7: *3 ");
    assert_eq!(r.field("connection_id"), Some(&V::Int(3)));
    assert_eq!(r.text("msg"), Some(""));
}

#[test]
fn upstream_and_other_keys() {
    let r = one(
        r#"2024/10/10 13:55:40 [error] 31#31: *7 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 2001:db8::7, server: api.example.com, request: "POST /v1/orders?id=7 HTTP/2.0", upstream: "http://[::1]:8080/v1/orders?id=7", host: "api.example.com:8443", subrequest: "/auth""#,
    );
    assert_eq!(
        r.text("msg"),
        Some("upstream timed out (110: Connection timed out) while reading response header from upstream")
    );
    assert_eq!(r.text("client_ip"), Some("2001:db8::7"));
    assert_eq!(r.text("http_url"), Some("/v1/orders?id=7"));
    assert_eq!(r.text("http_version"), Some("2.0"));
    assert_eq!(r.text("upstream"), Some("http://[::1]:8080/v1/orders?id=7"));
    assert_eq!(r.text("ip_or_host"), Some("api.example.com:8443"));
    assert_eq!(r.text("subrequest"), Some("/auth"));
    // The stream module's counters: keys with spaces and `/`, no space after the colon.
    let r = one(
        "2024/10/10 13:56:00 [info] 40#40: *201 client 10.0.0.9:51234 disconnected, client: 10.0.0.9, server: 0.0.0.0:5432, upstream: \"10.0.1.5:5432\", bytes from/to client:120/4521, bytes from/to upstream:4521/120",
    );
    assert_eq!(r.text("bytes from/to client"), Some("120/4521"));
    assert_eq!(r.text("bytes from/to upstream"), Some("4521/120"));
    assert_eq!(r.text("upstream"), Some("10.0.1.5:5432"));
    // The mail module: an unquoted upstream with colons, a quoted login.
    let r = one(
        r#"2024/10/10 13:56:01 [error] 41#41: *202 auth http server 127.0.0.1:9000 did not send server or port while in http auth state, client: 10.0.0.3, server: 0.0.0.0:25, login: "bob", upstream: 127.0.0.1:25"#,
    );
    assert_eq!(r.text("login"), Some("bob"));
    assert_eq!(r.text("upstream"), Some("127.0.0.1:25"));
}

#[test]
fn odd_requests() {
    let line = |req: &str| {
        format!(
            r#"2024/10/10 13:55:36 [info] 1#1: *1 client sent invalid request while reading client request line, client: 10.0.0.1, server: _, request: "{req}""#
        )
    };
    for req in [
        r"\x16\x03\x01\x02\x00\x01",
        "GET /x",
        "GET",
        "GET /x HTTP/",
        " /x HTTP/1.1",
    ] {
        let r = one(&line(req));
        assert_eq!(r.text("request"), Some(req), "{req}");
        assert_eq!(r.field("http_method"), None, "{req}");
    }
    // A URL with spaces.
    let r = one(&line("GET /a b HTTP/1.0"));
    assert_eq!(r.text("http_url"), Some("/a b"));
    // A quote and `, ` inside the request: the value ends at the quote before the next key.
    let r = one(&line(r#"GET /a", x HTTP/1.1"#).replace("server: _, ", ""));
    assert_eq!(r.text("http_url"), Some(r#"/a", x"#));
    let r = one(&format!(
        "{}, host: \"h\"",
        line(r#"GET /a", b: c HTTP/1.1"#)
    ));
    assert_eq!(r.text("http_url"), Some(r#"/a", b: c"#));
    assert_eq!(r.text("ip_or_host"), Some("h"));
}

#[test]
fn client_inside_the_message() {
    // A request path that nginx decodes into the file name holds ", client: ".
    let r = one(
        r#"2024/10/10 13:55:36 [error] 9#9: *5 open() "/srv/a, client: 6.6.6.6" failed (2: No such file or directory), client: 10.0.0.1, server: s, request: "GET /a,%20client:%206.6.6.6 HTTP/1.1", host: "s""#,
    );
    assert_eq!(
        r.text("msg"),
        Some(r#"open() "/srv/a, client: 6.6.6.6" failed (2: No such file or directory)"#)
    );
    assert_eq!(r.text("client_ip"), Some("10.0.0.1"));
    assert_eq!(r.text("ip_or_host"), Some("s"));
    // A tail that does not read as pairs: the whole rest is the message.
    for rest in [
        "oops, client: 1.2.3.4, server: x, ",
        "oops, client: 1.2.3.4, 1bad: x",
        "oops, client: 1.2.3.4, request: \"GET / HTTP/1.1",
        "oops, client: 1.2.3.4, server",
        "oops, client:",
    ] {
        let r = one(&format!("2024/10/10 13:55:36 [error] 9#9: {rest}"));
        assert_eq!(r.text("msg"), Some(rest), "{rest}");
        assert_eq!(r.field("client_ip"), None, "{rest}");
    }
}

#[test]
fn repeated_empty_and_reserved_keys() {
    let r = one(
        r#"2024/10/10 13:55:36 [error] 9#9: *5 x, client: 1.1.1.1, server: , client: 2.2.2.2, status: 500, msg: "m", referrer: "", http_method: "PUT", request: "GET / HTTP/1.1", request: "POST / HTTP/1.1", client_ip: 3.3.3.3"#,
    );
    assert_eq!(
        r.keys(),
        [
            "pid",
            "tid",
            "connection_id",
            "msg",
            "client_ip",
            "http_method",
            "request"
        ]
    );
    assert_eq!(r.text("client_ip"), Some("1.1.1.1"));
    assert_eq!(r.text("http_method"), Some("PUT"));
    assert_eq!(r.text("request"), Some("GET / HTTP/1.1"));
    assert_eq!(r.text("msg"), Some("x"));
}

#[test]
fn many_pairs_are_capped() {
    let mut line = String::from("2024/10/10 13:55:36 [error] 9#9: x, client: c");
    for i in 0..100 {
        line.push_str(&format!(", k{i}: v"));
    }
    let r = one(&line);
    assert_eq!(r.fields.len(), 3 + MAX_PAIRS);
}

#[test]
fn unicode() {
    let r = one(
        r#"2024/10/10 13:55:36 [error] 9#9: *5 open() "/srv/文档/ü.html" failed (2: No such file or directory), client: 10.0.0.1, server: bücher.example, request: "GET /%E6%96%87 HTTP/1.1", host: "bücher.example""#,
    );
    assert_eq!(
        r.text("msg"),
        Some(r#"open() "/srv/文档/ü.html" failed (2: No such file or directory)"#)
    );
    assert_eq!(r.text("server"), Some("bücher.example"));
    assert_eq!(r.refs, 7);
    // A key with a non-ASCII letter is not a key: the tail does not read.
    let r = one("2024/10/10 13:55:36 [error] 9#9: x, client: c, ключ: v");
    assert_eq!(r.text("msg"), Some("x, client: c, ключ: v"));
}

#[test]
fn out_of_range_dates_give_no_time() {
    for date in [
        "2024/13/10 13:55:36",
        "2024/02/30 13:55:36",
        "2024/10/10 24:00:00",
        "2024/10/00 13:55:36",
    ] {
        let r = one(&format!("{date} [error] 1#1: x"));
        assert_eq!(r.time, None, "{date}");
        assert_eq!(r.text("msg"), Some("x"), "{date}");
    }
    assert_eq!(
        one("2024/02/29 00:00:00 [error] 1#1: x").time,
        Some(1_709_164_800_000_000_000)
    );
}

#[test]
fn other_lines_pass_through() {
    for line in [
        "",
        " ",
        "2024/10/10 13:55:36",
        "2024/10/10 13:55:36 [error]",
        "2024/10/10 13:55:36 [error] ",
        "2024/10/10 13:55:36 [error] x",
        "2024/10/10 13:55:36 [error] 1#: x",
        "2024/10/10 13:55:36 [error] #1: x",
        "2024/10/10 13:55:36 [error] 1#1 x",
        "2024/10/10 13:55:36 [error] 1 #1: x",
        "2024/10/10 13:55:36 [error] 1234567890123456789#1: x",
        "2024/10/10 13:55:36 [error 1#1: x",
        "2024-10-10 13:55:36 [error] 1#1: x",
        "2024/10/10T13:55:36 [error] 1#1: x",
        "24/10/10 13:55:36 [error] 1#1: x",
        "2024/1x/10 13:55:36 [error] 1#1: x",
        "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)",
        r#"127.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0""#,
        "\tat java.lang.Thread.run(Thread.java:829)",
        "２０２４/10/10 13:55:36 [error] 1#1: x",
    ] {
        let r = one(line);
        assert!(r.is_passthrough(), "{line:?}: {r:?}");
    }
}

#[test]
fn keep_message() {
    let o = Options::from_config(&Config::from_value(json!({"keep_message": false}))).unwrap();
    assert!(!one_with(FULL, &o).keep_message);
    // A passthrough keeps its line whatever the config.
    assert!(one_with("junk", &o).is_passthrough());
}

#[test]
fn offsets() {
    assert_eq!(parse_offset("+00:00"), Some(0));
    assert_eq!(parse_offset("Z"), Some(0));
    assert_eq!(parse_offset("UTC"), Some(0));
    assert_eq!(parse_offset("+08:00"), Some(28_800));
    assert_eq!(parse_offset("-0930"), Some(-34_200));
    assert_eq!(parse_offset("+23:59"), Some(86_340));
    for bad in [
        "",
        "+",
        "8",
        "+8",
        "+08",
        "+8:00",
        "+24:00",
        "+08:60",
        "08:00",
        "+08:00:00",
        "+ä:00",
        "CST",
    ] {
        assert_eq!(parse_offset(bad), None, "{bad}");
    }
}

#[test]
fn config() {
    assert_eq!(
        Options::from_config(&Config::default()).unwrap(),
        Options::default()
    );
    let err = |v: serde_json::Value| Options::from_config(&Config::from_value(v)).unwrap_err();
    assert_eq!(
        err(json!({"timezone": "Asia/Shanghai"})),
        "config key \"timezone\": expected an offset like \"+08:00\" (got \"Asia/Shanghai\")"
    );
    assert_eq!(
        err(json!({"timezone": 8})),
        "config key \"timezone\": expected a string"
    );
    assert!(err(json!({"tz": "+08:00"})).starts_with("unknown config key \"tz\""));
}

#[test]
fn every_prefix_of_a_line_gives_one_record() {
    for line in [
        FULL,
        r#"2024/10/10 13:55:49 [error] 23#23: *36 open() "/srv/ü", b: c" failed, client: 10.0.0.2, server: s, request: "GET /a", b: c HTTP/1.1", host: "h", bytes from/to client:1/2"#,
    ] {
        for (i, _) in line.char_indices() {
            assert_eq!(
                run(&line[..i], &Options::default()).len(),
                1,
                "{}",
                &line[..i]
            );
        }
    }
}
