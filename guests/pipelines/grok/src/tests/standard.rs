//! Each standard pattern on samples it must match whole, and samples it must not.

use crate::compile::{build_regex, Expander};
use crate::{patterns, Grok, STANDARD};
use regex::Regex;
use sandkit_sdk::Config;
use serde_json::json;

/// `%{name}` as a regex that must match the whole text.
fn whole(name: &str) -> Regex {
    let e = Expander { custom: &[] }
        .expand(&format!("%{{{name}}}"))
        .unwrap();
    build_regex(&format!("^(?:{})$", e.regex)).unwrap()
}

const PATTERN_SAMPLES: &[(&str, &[&str], &[&str])] = &[
    (
        "USERNAME",
        &["alice", "john.doe-1_x"],
        &["bob smith", "a@b", ""],
    ),
    ("USER", &["root", "www-data"], &["a b", "a:b"]),
    (
        "EMAILLOCALPART",
        &["john.doe+tag", "x"],
        &["john..doe", "a b"],
    ),
    (
        "EMAILADDRESS",
        &["john.doe@example.com", "a@b"],
        &["john.doe@", "@example.com", "a b@c.d"],
    ),
    ("INT", &["42", "-7", "+0"], &["4.2", "x", ""]),
    (
        "BASE10NUM",
        &["3.14", "-0.5", ".5", "42"],
        &["1.", "1e5", "abc"],
    ),
    ("NUMBER", &["1.5", "-3", "+.25"], &["one", "1,5"]),
    ("BASE16NUM", &["0x1F", "deadBEEF", "-0xff"], &["0xZZ", "g1"]),
    ("POSINT", &["1", "42"], &["0", "042", "-1"]),
    ("NONNEGINT", &["0", "123"], &["-1", "1.5"]),
    (
        "WORD",
        &["hello", "snake_case1"],
        &["hello world", "a-b", "中文"],
    ),
    ("NOTSPACE", &["a-b/c?d", "中文"], &["a b", "", "a\tb"]),
    ("SPACE", &["", "  \t"], &["x", " x"]),
    ("DATA", &["anything at all", "", "中文 ✓"], &["line\nbreak"]),
    ("GREEDYDATA", &["anything at all", ""], &["line\nbreak"]),
    (
        "QUOTEDSTRING",
        &[r#""hello \"world\"""#, "'single'", "`back`", r#""""#],
        &[r#""unterminated"#, "no quotes", r#""a" b"#],
    ),
    ("QS", &[r#""GET / HTTP/1.1""#], &["bare"]),
    (
        "UUID",
        &["123e4567-e89b-12d3-a456-426614174000"],
        &[
            "123e4567-e89b-12d3-a456-42661417400",
            "z23e4567-e89b-12d3-a456-426614174000",
        ],
    ),
    (
        "MAC",
        &["00:1A:2b:3c:4D:5e", "00-1A-2B-3C-4D-5E", "001a.2b3c.4d5e"],
        &["00:1A:2B:3C:4D", "00:1A:2B:3C:4D:5G"],
    ),
    (
        "IPV6",
        &[
            "2001:db8::1",
            "::1",
            "::",
            "fe80::1%eth0",
            "::ffff:192.0.2.1",
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        ],
        &["2001:db8:::1", "1.2.3.4", "12345::1", "g::1"],
    ),
    (
        "IPV4",
        &["192.168.0.1", "255.255.255.255", "0.0.0.0"],
        &["256.1.1.1", "1.2.3", "1.2.3.4.5", "1.2.3.256"],
    ),
    (
        "IP",
        &["10.0.0.1", "2001:db8::1"],
        &["example.com", "10.0.0"],
    ),
    (
        "HOSTNAME",
        &["example.com", "web-01", "a.b.c.", "localhost"],
        &["-bad.com", "under_score.com", "a..b"],
    ),
    (
        "IPORHOST",
        &["example.com", "10.0.0.1", "::1"],
        &["a b", "host:80"],
    ),
    (
        "HOSTPORT",
        &["example.com:8080", "10.0.0.1:80"],
        &["example.com", "example.com:0"],
    ),
    (
        "PATH",
        &["/var/log/syslog", r"C:\Windows\System32"],
        &["relative/path", ""],
    ),
    (
        "UNIXPATH",
        &["/usr/local/bin", "/", r"/a/b\ c"],
        &["usr/bin", r"C:\x"],
    ),
    ("URIPROTO", &["https", "svn+ssh"], &["1http", "h", "ht tp"]),
    (
        "URIHOST",
        &["example.com:443", "example.com", "10.0.0.1:8080"],
        &["example.com:", "a b"],
    ),
    (
        "URIPATH",
        &["/index.html", "/a/b;c=d", "/%E4%B8%AD"],
        &["index.html", "/a b", "/中"],
    ),
    ("URIPARAM", &["?a=1&b=2", "?"], &["a=1", "?a b"]),
    ("URIPATHPARAM", &["/search?q=rust", "/x"], &["?q=1", "/a b"]),
    (
        "URI",
        &[
            "https://user:pw@example.com:8443/path?x=1",
            "http://10.0.0.1/",
            "ftp://ftp.example.org",
        ],
        &["example.com/path", "://x", "http://a b"],
    ),
    (
        "MONTH",
        &["Jan", "January", "sep", "Dec", "Mär"],
        &["Janu", "Foo", "13"],
    ),
    ("MONTHNUM", &["1", "01", "12"], &["13", "0", "00"]),
    ("MONTHDAY", &["1", "09", "31"], &["32", "0", "00"]),
    ("DAY", &["Mon", "Tuesday", "Sun"], &["Mo", "Funday"]),
    ("YEAR", &["2024", "24"], &["202", "20245", "2024a"]),
    ("HOUR", &["0", "09", "23"], &["24", "123"]),
    ("MINUTE", &["00", "59"], &["60", "5"]),
    (
        "SECOND",
        &["00", "59", "60", "59.123", "07,5"],
        &["61", "6a"],
    ),
    (
        "TIME",
        &["12:00:00", "1:02:03", "23:59:60.5"],
        &["12:00", "24:00:00", "12:60:00"],
    ),
    (
        "DATE_US",
        &["03/01/2024", "3-1-24"],
        &["13/01/2024", "2024-03-01"],
    ),
    (
        "DATE_EU",
        &["01.03.2024", "31/12/2024"],
        &["32.01.2024", "01.13.2024"],
    ),
    (
        "ISO8601_TIMEZONE",
        &["Z", "+08:00", "-0500", "+8:00"],
        &["+25:00", "UTC"],
    ),
    (
        "TIMESTAMP_ISO8601",
        &[
            "2024-03-01T12:00:00.123Z",
            "2024-03-01 12:00:00",
            "2024-03-01T12:00+08:00",
            "2024-03-01T12:00:00+0800",
        ],
        &["2024-03-01", "2024/03/01 12:00:00", "2024-13-01T00:00:00"],
    ),
    (
        "DATE",
        &["03/01/2024", "31.12.2024"],
        &["2024.12.31", "March 1"],
    ),
    (
        "DATESTAMP",
        &["03/01/2024 12:00:00", "31.12.2024-23:59:59"],
        &["03/01/2024", "2024-03-01 12:00:00"],
    ),
    ("TZ", &["UTC", "PST", "EDT"], &["CEST", "XYZ"]),
    (
        "HTTPDATE",
        &["01/Mar/2024:13:55:36 +0100", "1/Mar/2024:13:55:36 -0700"],
        &["01/Mar/2024 13:55:36 +0100", "01/03/2024:13:55:36 +0100"],
    ),
    (
        "SYSLOGTIMESTAMP",
        &["Mar  1 12:00:00", "Dec 31 23:59:59"],
        &["2024-03-01 12:00:00", "Mar 1 12:00"],
    ),
    (
        "PROG",
        &["sshd", "systemd-logind", "CRON", "postfix/smtpd"],
        &["sshd[1]", "a b"],
    ),
    ("SYSLOGPROG", &["sshd[1234]", "cron"], &["sshd[abc]", "a b"]),
    ("SYSLOGHOST", &["web-01", "10.0.0.1"], &["a b", "web_01"]),
    (
        "LOGLEVEL",
        &[
            "INFO",
            "Warning",
            "err",
            "ERROR",
            "fatal",
            "emerg",
            "Information",
            "TRACE",
        ],
        &["LOUD", "inform", "warnings"],
    ),
    (
        "COMMONAPACHELOG",
        &[
            r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
        ],
        &["2024/10/10 13:55:36 [error] 1234#1234: *1 open() failed"],
    ),
    (
        "COMBINEDAPACHELOG",
        &[r#"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 304 - "-" "curl/8.5.0""#],
        &[
            r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
        ],
    ),
];

#[test]
fn standard_patterns_match_their_samples() {
    let mut failures = Vec::new();
    for (name, pos, neg) in PATTERN_SAMPLES {
        let re = whole(name);
        for s in *pos {
            if !re.is_match(s) {
                failures.push(format!("{name} should match {s:?}"));
            }
        }
        for s in *neg {
            if re.is_match(s) {
                failures.push(format!("{name} should not match {s:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_standard_pattern_compiles_and_the_listed_ones_are_tested() {
    for (name, _) in STANDARD {
        whole(name);
    }
    let documented = [
        "USERNAME",
        "USER",
        "EMAILLOCALPART",
        "EMAILADDRESS",
        "INT",
        "BASE10NUM",
        "NUMBER",
        "BASE16NUM",
        "POSINT",
        "NONNEGINT",
        "WORD",
        "NOTSPACE",
        "SPACE",
        "DATA",
        "GREEDYDATA",
        "QUOTEDSTRING",
        "QS",
        "UUID",
        "MAC",
        "IPV6",
        "IPV4",
        "IP",
        "HOSTNAME",
        "IPORHOST",
        "HOSTPORT",
        "PATH",
        "UNIXPATH",
        "URIPROTO",
        "URIHOST",
        "URIPATH",
        "URIPARAM",
        "URIPATHPARAM",
        "URI",
        "MONTH",
        "MONTHNUM",
        "MONTHDAY",
        "DAY",
        "YEAR",
        "HOUR",
        "MINUTE",
        "SECOND",
        "TIME",
        "DATE_US",
        "DATE_EU",
        "ISO8601_TIMEZONE",
        "TIMESTAMP_ISO8601",
        "DATE",
        "DATESTAMP",
        "TZ",
        "HTTPDATE",
        "SYSLOGTIMESTAMP",
        "PROG",
        "SYSLOGPROG",
        "SYSLOGHOST",
        "LOGLEVEL",
        "COMMONAPACHELOG",
        "COMBINEDAPACHELOG",
    ];
    for name in documented {
        assert!(patterns::standard(name).is_some(), "{name} is missing");
        assert!(
            PATTERN_SAMPLES.iter().any(|(n, _, _)| *n == name),
            "{name} has no samples"
        );
    }
    let mut names: Vec<_> = STANDARD.iter().map(|(n, _)| n).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), STANDARD.len(), "a name is defined twice");
}

/// Where each group of a match is.
type Groups = Vec<Option<(usize, usize)>>;

/// Every group of `re` on `line`, as the `regex` crate finds them and as our backtracker does
/// in the match the crate's DFA found.
fn groups_both_ways(g: &Grok, line: &str) -> (Groups, Groups) {
    use regex_automata::{Anchored, Input};
    let p = &g.patterns[0];
    let mut locs = p.re.capture_locations();
    p.re.captures_read(&mut locs, line).expect("a match");
    let by_regex = (0..locs.len()).map(|i| locs.get(i)).collect();
    let m = p.re.find(line).expect("a match");
    let mut cache = p.bt.create_cache();
    let mut caps = p.bt.create_captures();
    let input = Input::new(line)
        .span(m.start()..m.end())
        .anchored(Anchored::Yes);
    p.bt.try_search(&mut cache, &input, &mut caps)
        .expect("room");
    let by_backtracker = (0..locs.len())
        .map(|i| caps.get_group(i).map(|s| (s.start, s.end)))
        .collect();
    (by_regex, by_backtracker)
}

#[test]
fn both_capture_engines_agree_on_every_sample() {
    for (name, pos, _) in PATTERN_SAMPLES {
        // Unanchored, with a capture, and between other text.
        let g = Grok::new(&Config::from_value(
            json!({"patterns": [format!("%{{{name}:x}}")]}),
        ))
        .unwrap();
        for s in *pos {
            for line in [s.to_string(), format!("<< {s} >>")] {
                if g.parse(&line).is_some() {
                    let (a, b) = groups_both_ways(&g, &line);
                    assert_eq!(a, b, "{name} on {line:?}");
                }
            }
        }
    }
}
