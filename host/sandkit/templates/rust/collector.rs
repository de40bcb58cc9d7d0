//! {{name}}: a Sandkit collector. `collect` runs on every tick and pushes points.
use sandkit_sdk::{fs, Collector, Config, Emitter, PluginInfo, Point};

struct {{Type}};

impl Collector for {{Type}} {
    fn describe() -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0", "the load average")
    }
    fn init(_config: Config) -> Result<Self, String> {
        Ok({{Type}})
    }
    fn collect(&mut self, out: &mut Emitter) -> Result<(), String> {
        let text = String::from_utf8_lossy(&fs::read("/proc/loadavg")?).into_owned();
        let mut it = text.split_whitespace().map(|s| s.parse::<f64>().unwrap_or(0.0));
        let (l1, l5, l15) = (it.next(), it.next(), it.next());
        out.push(
            Point::new("{{name}}")
                .field("load1", l1.unwrap_or(0.0))
                .field("load5", l5.unwrap_or(0.0))
                .field("load15", l15.unwrap_or(0.0)),
        );
        Ok(())
    }
}

sandkit_sdk::collector!({{Type}});
