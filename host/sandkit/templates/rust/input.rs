//! {{name}}: a Sandkit input. Each body posted to /v1/input/{{name}} becomes points.
use sandkit_sdk::{Config, Emitter, Input, PluginInfo, Point};

struct {{Type}};

impl Input for {{Type}} {
    fn describe() -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0", "the size of each body")
    }
    fn init(_config: Config) -> Result<Self, String> {
        Ok({{Type}})
    }
    fn handle(&mut self, content_type: &str, body: &[u8], out: &mut Emitter) -> Result<(), String> {
        let ct = if content_type.is_empty() { "none" } else { content_type };
        out.push(
            Point::new("{{name}}")
                .tag("content_type", ct)
                .field("bytes", body.len() as i64),
        );
        Ok(())
    }
}

sandkit_sdk::input!({{Type}});
