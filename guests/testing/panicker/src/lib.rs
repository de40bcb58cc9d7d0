//! Test guest that panics with "panicker: deliberate panic" on every `collect` (`init` succeeds).
//! The host must count the trap, restart the instance and keep the other plugins on schedule.
use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo};

struct Panicker;

impl Collector for Panicker {
    fn describe() -> PluginInfo {
        PluginInfo::new("panicker", "0.1.0", "panics on every collect, for tests")
            .interval_ms(1_000, 10, 3_600_000)
            .measurement(
                MeasurementInfo::new("panicker", "never emitted: collect panics first").field(
                    "never",
                    FieldKind::Boolean,
                    "",
                    "never sent",
                ),
            )
    }
    fn init(_config: Config) -> Result<Self, String> {
        Ok(Panicker)
    }
    fn collect(&mut self, _out: &mut Emitter) -> Result<(), String> {
        panic!("panicker: deliberate panic");
    }
}

sandkit_sdk::collector!(Panicker);
