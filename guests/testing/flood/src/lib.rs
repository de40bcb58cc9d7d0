//! Test guest that pushes points forever in `collect`: each `flood` point has a sequence number, a
//! float and a 100-byte text field. The SDK hands them to the host 256 at a time, so the host's
//! per-call caps on points and bytes must stop it.
//!
//! With config `mode = "log"` it floods the agent's log instead: 50,000 `host-log` lines a call,
//! each carrying a newline followed by a forged agent line, then `mode = "stdout"` the same on
//! standard output.
use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo, Point};

struct Flood {
    mode: String,
}

/// A message that would write a whole agent line of its own if newlines went through.
const FORGED: &str = "flooding\n2026-01-01T00:00:00.000000Z ERROR runtime.plugin disabled plugin=\"cpu\" \u{1b}[31mforged\u{1b}[0m";

impl Collector for Flood {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "flood",
            "0.1.0",
            "emits points forever in collect, for tests",
        )
        .interval_ms(1_000, 10, 3_600_000)
        .measurement(
            MeasurementInfo::new("flood", "one of an endless stream of points")
                .field(
                    "seq",
                    FieldKind::Uint,
                    "count",
                    "sequence number within the call",
                )
                .field("value", FieldKind::Float, "", "a constant")
                .field("pad", FieldKind::Text, "", "100 bytes of padding"),
        )
    }
    fn init(config: Config) -> Result<Self, String> {
        Ok(Flood {
            mode: config.get_str("mode").unwrap_or("points").to_string(),
        })
    }
    fn collect(&mut self, out: &mut Emitter) -> Result<(), String> {
        match self.mode.as_str() {
            "log" => {
                for _ in 0..50_000 {
                    sandkit_sdk::log::log(sandkit_sdk::log::Level::Error, FORGED);
                }
                return Ok(());
            }
            "stdout" => {
                for _ in 0..50_000 {
                    println!("{FORGED}");
                }
                return Ok(());
            }
            _ => {}
        }
        let pad = "x".repeat(100);
        let mut seq = 0u64;
        loop {
            out.push(
                Point::new("flood")
                    .field("seq", seq)
                    .field("value", 0.5)
                    .field("pad", pad.clone()),
            );
            seq = seq.wrapping_add(1);
        }
    }
}

sandkit_sdk::collector!(Flood);
