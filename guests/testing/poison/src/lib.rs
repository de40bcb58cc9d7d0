//! Test pipeline. A line `... <n>` (ending in a number) becomes a record with the int field `n`
//! and the line as `message`; a line holding `POISON` panics (a trap), one holding `HANG` spins
//! forever (cut by fuel or the deadline), one holding `DUP` gives two records that are not valid
//! points (no field), and any other line passes through as its `message`.
//! The host must isolate exactly the lines that trap and deliver every other one parsed.
use sandkit_sdk::{Config, FieldKind, MeasurementInfo, Pipeline, PluginInfo, Records};

struct Poison;

impl Pipeline for Poison {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "poison",
            "0.1.0",
            "traps on POISON lines, hangs on HANG lines, for tests",
        )
        .measurement(
            MeasurementInfo::new("poison", "the source's measurement").field(
                "n",
                FieldKind::Int,
                "",
                "the number at the end of the line",
            ),
        )
    }
    fn init(_config: Config) -> Result<Self, String> {
        Ok(Poison)
    }
    fn process_line(&mut self, line: &str, out: &mut Records) {
        if line.contains("POISON") {
            panic!("poison: deliberate panic on {line:?}");
        }
        if line.contains("DUP") {
            // Two records with a tag and no field: neither is a valid point.
            for _ in 0..2 {
                out.record().tag("dup", "yes");
            }
            return;
        }
        if line.contains("HANG") {
            let mut x = 0u64;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        match line.rsplit(' ').next().and_then(|w| w.parse::<i64>().ok()) {
            Some(n) => {
                out.record().field("n", n).keep_message();
            }
            None => out.passthrough(),
        }
    }
}

sandkit_sdk::pipeline!(Poison);
