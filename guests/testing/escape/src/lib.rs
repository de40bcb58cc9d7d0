//! Test guest that tries to get out of its sandbox on every `collect` and reports each attempt as
//! one `escape` point: tag `attempt`, fields `ok` (did the read, connect or write succeed) and
//! `detail` (what was read, at most 256 bytes as lossy UTF-8, or the error).
//!
//! Config `root` (required): a directory the test grants read-only. The attempts:
//! - `inside`: read `{root}/inside.txt`; the control, which should succeed;
//! - `dotdot`: read `{root}/../secret.txt`;
//! - `abs_symlink`: read `{root}/abs_link`, a symlink to an absolute path outside `root`;
//! - `rel_symlink`: read `{root}/rel_link`, a symlink to `../secret.txt`;
//! - `shadow`: read `/etc/shadow`; `passwd`: read `/etc/passwd`;
//! - `env`: whether any environment variable is visible (detail: how many);
//! - `tcp`: connect to 127.0.0.1:9;
//! - `write`: write `{root}/written.txt` in the read-only grant.
use std::net::TcpStream;

use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo, Point};

/// How much of a file's content goes into `detail`.
const DETAIL_MAX: usize = 256;

struct Escape {
    root: String,
}

/// The outcome of one attempt.
struct Outcome {
    ok: bool,
    detail: String,
}

fn read(path: &str) -> Outcome {
    match std::fs::read(path) {
        Ok(bytes) => Outcome {
            ok: true,
            detail: String::from_utf8_lossy(&bytes[..bytes.len().min(DETAIL_MAX)]).into_owned(),
        },
        Err(e) => Outcome {
            ok: false,
            detail: format!("{path}: {e}"),
        },
    }
}

fn env() -> Outcome {
    let n = std::env::vars().count();
    Outcome {
        ok: n > 0,
        detail: n.to_string(),
    }
}

fn tcp() -> Outcome {
    match TcpStream::connect("127.0.0.1:9") {
        Ok(s) => Outcome {
            ok: true,
            detail: format!("connected: {:?}", s.peer_addr()),
        },
        Err(e) => Outcome {
            ok: false,
            detail: e.to_string(),
        },
    }
}

fn write(path: &str) -> Outcome {
    match std::fs::write(path, "x") {
        Ok(()) => Outcome {
            ok: true,
            detail: format!("wrote {path}"),
        },
        Err(e) => Outcome {
            ok: false,
            detail: format!("{path}: {e}"),
        },
    }
}

impl Collector for Escape {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "escape",
            "0.1.0",
            "tries to get out of its sandbox, for tests",
        )
        .interval_ms(1_000, 10, 3_600_000)
        .measurement(
            MeasurementInfo::new("escape", "the outcome of one escape attempt")
                .tag(
                    "attempt",
                    "inside, dotdot, abs_symlink, rel_symlink, shadow, passwd, env, tcp, write",
                )
                .field(
                    "ok",
                    FieldKind::Boolean,
                    "",
                    "whether the attempt succeeded",
                )
                .field("detail", FieldKind::Text, "", "what was read, or the error"),
        )
    }

    fn init(config: Config) -> Result<Self, String> {
        let root = config
            .get_str("root")
            .filter(|r| !r.is_empty())
            .ok_or("config key \"root\" (a directory granted read-only) is required")?;
        // Kept without its trailing slashes: "{root}/name" is then right for "/" too.
        Ok(Escape {
            root: root.trim_end_matches('/').to_string(),
        })
    }

    fn collect(&mut self, out: &mut Emitter) -> Result<(), String> {
        let r = &self.root;
        let attempts = [
            ("inside", read(&format!("{r}/inside.txt"))),
            ("dotdot", read(&format!("{r}/../secret.txt"))),
            ("abs_symlink", read(&format!("{r}/abs_link"))),
            ("rel_symlink", read(&format!("{r}/rel_link"))),
            ("shadow", read("/etc/shadow")),
            ("passwd", read("/etc/passwd")),
            ("env", env()),
            ("tcp", tcp()),
            ("write", write(&format!("{r}/written.txt"))),
        ];
        for (attempt, o) in attempts {
            out.push(
                Point::new("escape")
                    .tag("attempt", attempt)
                    .field("ok", o.ok)
                    .field("detail", o.detail),
            );
        }
        Ok(())
    }
}

sandkit_sdk::collector!(Escape);
