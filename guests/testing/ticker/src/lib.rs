//! A well-behaved collector used beside the misbehaving ones: it must stay on schedule while they
//! crash. Each point carries a per-instance call counter and the host's time.
use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo, Point};

struct Ticker {
    calls: u64,
}

impl Collector for Ticker {
    fn describe() -> PluginInfo {
        PluginInfo::new("ticker", "0.1.0", "one point per call, for tests")
            .interval_ms(1_000, 10, 3_600_000)
            .measurement(MeasurementInfo::new("ticker", "a heartbeat").field(
                "calls",
                FieldKind::Uint,
                "count",
                "calls on this instance",
            ))
    }
    fn init(_config: Config) -> Result<Self, String> {
        Ok(Ticker { calls: 0 })
    }
    fn collect(&mut self, out: &mut Emitter) -> Result<(), String> {
        self.calls += 1;
        out.push(
            Point::new("ticker")
                .tag("plugin", "ticker")
                .field("calls", self.calls),
        );
        Ok(())
    }
}

sandkit_sdk::collector!(Ticker);
