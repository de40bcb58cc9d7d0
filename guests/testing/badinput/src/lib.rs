//! `badinput`: a passive input that misbehaves on purpose, by body: `PANIC` traps, `HANG` never
//! returns, `BAD` emits a point the host refuses (an empty field key), `ERR` refuses the body;
//! any other body gives one point `badinput bytes=<len>i,text="<body>"`.

use sandkit_sdk::{Config, Emitter, Input, PluginInfo, Point};

struct BadInput;

impl Input for BadInput {
    fn describe() -> PluginInfo {
        PluginInfo::new("badinput", "0.1.0", "test input that misbehaves on purpose")
    }

    fn init(_config: Config) -> Result<Self, String> {
        Ok(BadInput)
    }

    fn handle(&mut self, _ct: &str, body: &[u8], out: &mut Emitter) -> Result<(), String> {
        let text = String::from_utf8_lossy(body);
        match text.trim() {
            "PANIC" => panic!("badinput: asked to panic"),
            "HANG" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "BAD" => {
                out.push(Point::new("badinput").field("ok", 1i64));
                out.push(Point::new("badinput").field("", 1i64));
                Ok(())
            }
            "ERR" => Err("badinput: this body is refused".into()),
            t => {
                out.push(
                    Point::new("badinput")
                        .field("bytes", body.len() as i64)
                        .field("text", t),
                );
                Ok(())
            }
        }
    }
}

sandkit_sdk::input!(BadInput);
