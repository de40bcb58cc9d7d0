//! Test guest that sleeps 30 s in `describe` (a blocking WASI poll) and, when it gets past it,
//! 30 s in `init`. Loading it must not hold up other plugins, the agent's start or its stop: the
//! host cuts both calls at its load deadline, whatever `[limits] timeout` says.
use std::time::Duration;

use sandkit_sdk::{Collector, Config, Emitter, PluginInfo};

struct SlowLoad;

impl Collector for SlowLoad {
    fn describe() -> PluginInfo {
        std::thread::sleep(Duration::from_secs(30));
        PluginInfo::new("slowload", "0.1.0", "sleeps while it loads, for tests")
    }
    fn init(_config: Config) -> Result<Self, String> {
        std::thread::sleep(Duration::from_secs(30));
        Ok(SlowLoad)
    }
    fn collect(&mut self, _out: &mut Emitter) -> Result<(), String> {
        Ok(())
    }
}

sandkit_sdk::collector!(SlowLoad);
