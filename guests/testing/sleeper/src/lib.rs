//! Test guest that sleeps in `collect` (`std::thread::sleep`, a blocking WASI poll) for config
//! `sleep_ms` milliseconds (default 30000), then emits one `sleeper` point. The host's deadline
//! must cut the call short even though the guest is blocked in a host call, not running code.
use std::time::Duration;

use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo, Point};

struct Sleeper {
    sleep_ms: u64,
}

impl Collector for Sleeper {
    fn describe() -> PluginInfo {
        PluginInfo::new("sleeper", "0.1.0", "sleeps in collect, for tests")
            .interval_ms(1_000, 10, 3_600_000)
            .measurement(
                MeasurementInfo::new("sleeper", "sent once the sleep is over").field(
                    "slept_ms",
                    FieldKind::Uint,
                    "ms",
                    "how long collect slept",
                ),
            )
    }
    fn init(config: Config) -> Result<Self, String> {
        Ok(Sleeper {
            sleep_ms: config.u64_or("sleep_ms", 30_000)?,
        })
    }
    fn collect(&mut self, out: &mut Emitter) -> Result<(), String> {
        std::thread::sleep(Duration::from_millis(self.sleep_ms));
        out.push(Point::new("sleeper").field("slept_ms", self.sleep_ms));
        Ok(())
    }
}

sandkit_sdk::collector!(Sleeper);
