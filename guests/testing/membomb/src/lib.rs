//! Test guest that allocates 1 MiB buffers forever in `collect`, writes to every page of each and
//! keeps them all: a memory bomb. The host's memory cap must make the allocation fail (the guest
//! then aborts, a trap) long before the host itself runs short.
use core::hint::black_box;

use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo};

const MIB: usize = 1 << 20;
const PAGE: usize = 4096;

struct Membomb {
    hoard: Vec<Vec<u8>>,
}

impl Collector for Membomb {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "membomb",
            "0.1.0",
            "allocates memory forever in collect, for tests",
        )
        .interval_ms(1_000, 10, 3_600_000)
        .measurement(
            MeasurementInfo::new("membomb", "never emitted: collect does not return").field(
                "never",
                FieldKind::Boolean,
                "",
                "never sent",
            ),
        )
    }
    fn init(_config: Config) -> Result<Self, String> {
        Ok(Membomb { hoard: Vec::new() })
    }
    fn collect(&mut self, _out: &mut Emitter) -> Result<(), String> {
        loop {
            let mut chunk = vec![0u8; MIB];
            chunk.iter_mut().step_by(PAGE).for_each(|b| *b = 0xA5);
            self.hoard.push(black_box(chunk));
        }
    }
}

sandkit_sdk::collector!(Membomb);
