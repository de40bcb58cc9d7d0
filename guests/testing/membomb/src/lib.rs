//! Test guest that allocates 1 MiB buffers forever in `collect`, writes to every page of each and
//! keeps them all: a memory bomb. The host's memory cap must make the allocation fail (the guest
//! then aborts, a trap) long before the host itself runs short.
//!
//! With `[config] per_call_mib = N` it is a slow leak instead: each collect keeps N MiB more and
//! emits `membomb held_mib=...`, as a guest whose toolchain never frees what crosses the
//! boundary does; the host must replace the instance between calls before the cap is reached.
use core::hint::black_box;

use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo, Point};

const MIB: usize = 1 << 20;
const PAGE: usize = 4096;

struct Membomb {
    hoard: Vec<Vec<u8>>,
    /// MiB kept per call (a slow leak), or 0: a bomb.
    per_call: usize,
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
            MeasurementInfo::new("membomb", "emitted only as a slow leak (per_call_mib)").field(
                "held_mib",
                FieldKind::Int,
                "",
                "MiB this instance holds",
            ),
        )
    }
    fn init(config: Config) -> Result<Self, String> {
        let per_call = config.u64_or("per_call_mib", 0)? as usize;
        Ok(Membomb {
            hoard: Vec::new(),
            per_call,
        })
    }
    fn collect(&mut self, out: &mut Emitter) -> Result<(), String> {
        loop {
            let mut chunk = vec![0u8; MIB];
            chunk.iter_mut().step_by(PAGE).for_each(|b| *b = 0xA5);
            self.hoard.push(black_box(chunk));
            if self.per_call > 0 && self.hoard.len().is_multiple_of(self.per_call) {
                out.push(Point::new("membomb").field("held_mib", self.hoard.len() as i64));
                return Ok(());
            }
        }
    }
}

sandkit_sdk::collector!(Membomb);
