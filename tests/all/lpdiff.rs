//! The line protocol decoder against a real InfluxDB (Debian's influxd 1.6.7, started on
//! loopback): hand-picked edge cases and generated ones are written to both, one record per
//! request, and each must be accepted by both or refused by both. Where InfluxDB's reading of
//! an accepted record matters (escapes), the decoder's unit tests pin the values it stores.
//!
//! One deliberate difference: influxd 1.6 accepts bytes after a string value's closing quote
//! and stores a mangled value (`v="a"b` becomes `a"`); the decoder refuses such a record with
//! "text after the closing quote". Left out on purpose: unsigned integers (`1u`, which influxd 1.6 refuses and the decoder
//! accepts, as InfluxDB 2 does), invalid UTF-8 (refused by the decoder), timestamps outside
//! InfluxDB's range, and field keys named `time`.

use crate::influxdb::start_influx;
use sandkit_io::{decode_lines, Category, DecodeReason, Precision};

/// Records InfluxDB and a careless reading disagree on.
const HAND_PICKED: &[&str] = &[
    " M v=1",
    "\tM v=1",
    "M\u{1} v=1",
    "M,t\u{1}=x v=1",
    "M f\u{1}=1",
    "M,regions=\\\\ east value=1.0",
    "M,regions=\\ east value=1.0",
    "M,r=a\\b v=1",
    "M,r=a\\\\b v=1",
    "M,r=a\\\\\\ b v=1",
    "M,t=a\\\\ v=1",
    "M\\\\ v=1",
    "M,t\\\\=x v=1",
    "M f\\\\=1",
    "M,t=x\\ v=1",
    "M\\ v=1",
    "\\#M v=1",
    "M\\= v=1",
    "M s=\"x\\ny\"",
    "M s=\"x\\\\\"",
    "M s=\"x\\\\\\\"\"",
    "M s=\"x\\qy\"",
    "M s=\"a\nb\"",
    "M v=1\r",
    "M v=1 1\r",
    "M v=1,v=2",
    "M v=1i,v=2i",
    "M v=1,v=2i",
    "M,t=x,t=y v=1",
    "M,t=x v=1,t=2",
    "M v=1,",
    "M v=",
    "M,=x v=1",
    "M,t= v=1",
    "M,b v=1",
    "M v=+1",
    "M v=.5",
    "M v=5.",
    "M v=-.5",
    "M v=1.e5",
    "M v=1E+5",
    "M v=1e400",
    "M v=9223372036854775808i",
    "M v=-9223372036854775808i",
    "M v=0x1",
    "M v=1_0",
    "M v=t",
    "M v=TRUE",
    "M v=tRUE",
    "M v=True",
    "M v=1 1.5",
    "M v=1 -1",
    "M v=1 1 1",
    "M v=1  123",
    "M  v=1",
    "M,t=x  v=1",
    "M v=1 ",
    "M v=\"a\" ",
    "M v=\"a\"\t",
    "M,t=x\tv=1",
    "M\tv=1",
    "M v=1\t2",
    "M,t=x\\\ny v=1",
    "M v=1\\\nM v=2",
    "M v=1\u{0}",
    "M,t=\u{0} v=1",
];

/// Tokens the generated records are made of: delimiters, escapes and plain text.
const TOKENS: &[&str] = &[
    "a", "b1", "\\", "\\\\", " ", ",", "=", "\"", "\\ ", "\\,", "\\=", "\\\"", "#", "é", "\t",
    "\u{1}", "\r", "1", "-", ".", "e", "i", "t", "x=1", "y=\"s\"", " 5",
];

/// A small deterministic generator (xorshift), so a failure names a reproducible case.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }

    fn part(&mut self, max: u64) -> String {
        let n = 1 + self.next() % max;
        (0..n).map(|_| self.pick(TOKENS)).collect()
    }

    /// `M<part>[,<part>=<part>] <part>=<part>[ <ts>]`, every part drawn from [`TOKENS`].
    fn record(&mut self) -> String {
        let mut r = format!("M{}", self.part(2));
        if self.next().is_multiple_of(2) {
            r.push_str(&format!(",{}={}", self.part(2), self.part(2)));
        }
        r.push_str(&format!(" {}={}", self.part(2), self.part(3)));
        if self.next().is_multiple_of(3) {
            r.push_str(&format!(" {}", self.part(2)));
        }
        r
    }
}

/// Whether the decoder accepts `record`, or `None` for the one deliberate difference.
fn ours(record: &str) -> Option<bool> {
    match decode_lines(
        record.as_bytes(),
        Precision::Nanoseconds,
        0,
        Category::Metric,
    ) {
        Ok(_) => Some(true),
        Err(e) if matches!(e.reason, DecodeReason::TextAfterString { .. }) => None,
        Err(_) => Some(false),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decoder_accepts_and_refuses_what_influxdb_does() {
    let Some(influx) = start_influx().await else {
        return;
    };
    influx.create_database("lp").await;
    let mut gen = Gen(0x5eed_1234_abcd_ef01);
    let mut cases: Vec<String> = HAND_PICKED.iter().map(|s| s.to_string()).collect();
    cases.extend((0..3000).map(|_| gen.record()));
    let addr = influx.http.trim_start_matches("http://");
    let mut differ = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        // Field keys named `time` and unsigned values are out of scope (see the module doc).
        if case.contains(" time=") || case.contains("=time") {
            continue;
        }
        // A measurement of its own per record: no field type conflicts between cases.
        let record = case.replacen('M', &format!("d{i}x"), 1);
        let (status, answer) =
            sandkit_tests::http(addr, "POST", "/write?db=lp&precision=ns", &record);
        assert!(
            status == 204 || status == 400,
            "{record:?}: {status} {answer}"
        );
        let theirs = status == 204;
        let Some(ours) = ours(&record) else {
            continue;
        };
        if theirs != ours {
            differ.push(format!(
                "{record:?}: influxd {}, sandkit {} ({})",
                if theirs { "accepts" } else { "refuses" },
                if theirs { "refuses" } else { "accepts" },
                answer.trim()
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} records read differently:\n{}",
        differ.len(),
        cases.len(),
        differ.join("\n")
    );
}
