//! {{name}}: a Sandkit log pipeline. `process_line` writes the records of one line.
use sandkit_sdk::{Config, Pipeline, PluginInfo, Records};

struct {{Type}};

impl Pipeline for {{Type}} {
    fn describe() -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0", "the first word of a line as its level")
    }
    fn init(_config: Config) -> Result<Self, String> {
        Ok({{Type}})
    }
    fn process_line(&mut self, line: &str, out: &mut Records) {
        let (level, rest) = line.split_once(' ').unwrap_or((line, ""));
        out.record()
            .tag("level", &level.to_ascii_lowercase())
            .field("msg", rest);
    }
}

sandkit_sdk::pipeline!({{Type}});
