//! Test guest that pushes points forever in `collect`: each `flood` point has a sequence number, a
//! float and a 100-byte text field. The SDK hands them to the host 256 at a time, so the host's
//! per-call caps on points and bytes must stop it.
use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo, Point};

struct Flood;

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
    fn init(_config: Config) -> Result<Self, String> {
        Ok(Flood)
    }
    fn collect(&mut self, out: &mut Emitter) -> Result<(), String> {
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
