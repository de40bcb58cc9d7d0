//! Test guest that recurses without bound in `collect`. Each frame holds a 1 KiB array whose
//! address escapes through `black_box`, and the recursive call is not in tail position (its result
//! is combined with the array afterwards), so the compiler can neither drop the frames nor turn
//! the recursion into a loop. The stack runs out and the instance traps (on wasm32 the Rust stack
//! sits at the bottom of linear memory, so overflowing it is an out-of-bounds access; a host whose
//! wasm stack limit is lower sees a stack-overflow trap first).
use core::hint::black_box;

use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo};

const FRAME: usize = 1024;

#[inline(never)]
#[allow(unconditional_recursion)] // the point of this guest
fn dive(depth: u64) -> u64 {
    let mut frame = [0u8; FRAME];
    frame[(depth % FRAME as u64) as usize] = depth as u8;
    black_box(&mut frame);
    let below = dive(black_box(depth + 1));
    below.wrapping_add(u64::from(frame[(below % FRAME as u64) as usize]))
}

struct Recurse;

impl Collector for Recurse {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "recurse",
            "0.1.0",
            "recurses without bound in collect, for tests",
        )
        .interval_ms(1_000, 10, 3_600_000)
        .measurement(
            MeasurementInfo::new("recurse", "never emitted: collect overflows its stack").field(
                "never",
                FieldKind::Boolean,
                "",
                "never sent",
            ),
        )
    }
    fn init(_config: Config) -> Result<Self, String> {
        Ok(Recurse)
    }
    fn collect(&mut self, _out: &mut Emitter) -> Result<(), String> {
        let depth = dive(0);
        Err(format!("recurse: came back from depth {depth}"))
    }
}

sandkit_sdk::collector!(Recurse);
