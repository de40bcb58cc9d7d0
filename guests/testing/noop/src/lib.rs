//! A collector whose `collect` does nothing: benches use it to measure the cost of a call.
use sandkit_sdk::{Collector, Config, Emitter, PluginInfo};

struct Noop;

impl Collector for Noop {
    fn describe() -> PluginInfo {
        PluginInfo::new("noop", "0.1.0", "does nothing, for benches")
            .interval_ms(1_000, 1, 3_600_000)
    }
    fn init(_config: Config) -> Result<Self, String> {
        Ok(Noop)
    }
    fn collect(&mut self, _out: &mut Emitter) -> Result<(), String> {
        Ok(())
    }
}

sandkit_sdk::collector!(Noop);
