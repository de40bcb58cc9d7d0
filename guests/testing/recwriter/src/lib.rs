//! A pipeline that writes the records a line spells out, for the test that Rust and Python
//! writers give the host the same records (its twin: guests/python-testing/pyrecwriter).
//!
//! A line is records separated by " | "; a record is tokens separated by spaces: `@NS` sets the
//! time, `keep` keeps the line as `message`, `drop` (alone) writes no record, `KIND:KEY=VALUE`
//! adds an item: `t` tag, `s` text, `r` text sent as a reference into the line, `i` int, `u`
//! uint, `f` float, `b` bool ("true"/"false"), and `m:=NAME` sets the measurement. Tokens that
//! do not parse are skipped.
use sandkit_sdk::{Config, Pipeline, PluginInfo, Records};

struct RecWriter;

impl Pipeline for RecWriter {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "recwriter",
            "0.1.0",
            "records as a line spells them, for tests",
        )
    }
    fn init(_config: Config) -> Result<Self, String> {
        Ok(RecWriter)
    }
    fn process_line(&mut self, line: &str, out: &mut Records) {
        for spec in line.split(" | ") {
            if spec == "drop" {
                continue;
            }
            let mut r = out.record();
            for tok in spec.split(' ') {
                if tok == "keep" {
                    r.keep_message();
                    continue;
                }
                if let Some(ns) = tok.strip_prefix('@') {
                    if let Ok(ns) = ns.parse() {
                        r.time_ns(ns);
                    }
                    continue;
                }
                let Some((head, value)) = tok.split_once('=') else {
                    continue;
                };
                let Some((kind, key)) = head.split_once(':') else {
                    continue;
                };
                // Owned copies are written inline; `r` passes the slice of the line itself.
                let owned = value.to_string();
                match kind {
                    "t" => {
                        r.tag(key, &owned);
                    }
                    "s" => {
                        r.field(key, owned.as_str());
                    }
                    "r" => {
                        r.field(key, value);
                    }
                    "i" => {
                        if let Ok(x) = value.parse::<i64>() {
                            r.field(key, x);
                        }
                    }
                    "u" => {
                        if let Ok(x) = value.parse::<u64>() {
                            r.field(key, x);
                        }
                    }
                    "f" => {
                        if let Ok(x) = value.parse::<f64>() {
                            r.field(key, x);
                        }
                    }
                    "b" => {
                        if let Ok(x) = value.parse::<bool>() {
                            r.field(key, x);
                        }
                    }
                    "m" => {
                        r.measurement(&owned);
                    }
                    _ => {}
                }
            }
        }
    }
}

sandkit_sdk::pipeline!(RecWriter);
