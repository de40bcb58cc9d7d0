//! Test guest whose `collect` never returns: it spins on a counter kept opaque to the optimizer
//! with `black_box`, so the loop stays a real loop. The host must interrupt it (fuel or epoch
//! deadline) without blocking other plugins.
use core::hint::black_box;

use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo};

struct Spin;

impl Collector for Spin {
    fn describe() -> PluginInfo {
        PluginInfo::new("spin", "0.1.0", "spins forever in collect, for tests")
            .interval_ms(1_000, 10, 3_600_000)
            .measurement(
                MeasurementInfo::new("spin", "never emitted: collect does not return").field(
                    "never",
                    FieldKind::Boolean,
                    "",
                    "never sent",
                ),
            )
    }
    fn init(_config: Config) -> Result<Self, String> {
        Ok(Spin)
    }
    fn collect(&mut self, _out: &mut Emitter) -> Result<(), String> {
        let mut counter = 0u64;
        loop {
            counter = black_box(counter.wrapping_add(1));
        }
    }
}

sandkit_sdk::collector!(Spin);
