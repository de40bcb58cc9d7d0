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
//! - `write`: write `{root}/written.txt` in the read-only grant;
//! - `fifo`: read `{root}/fifo` (a FIFO with no writer: refused, never waited on).
//!
//! With config `kernel = true` (and `/proc` granted), the attempts on the agent through /proc
//! follow, `pid` (optional) naming a process whose files are tried too:
//! - `proc_stat`, `proc_mounts`: `/proc/stat`, `/proc/self/mounts`; the controls;
//! - `environ`, `thread_environ`, `cmdline`, `maps`, `kmsg`, `root`, `kcore`: the agent's
//!   environment, command line, memory map, the kernel log, `/proc/self/root/etc/passwd`,
//!   the kernel's memory;
//! - `mem`: the agent's memory at the first readable mapping of `/proc/self/maps`;
//! - `fd_link`: where the agent's fd 1 points; `stat_environ`: metadata of `environ`;
//! - `pid_environ`, `pid_cmdline`, `pid_status`, `pid_mem`: those of process `pid`;
//!   `init_environ`: pid 1's.
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpStream;

use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo, Point};

/// How much of a file's content goes into `detail`.
const DETAIL_MAX: usize = 256;

struct Escape {
    root: String,
    kernel: bool,
    pid: Option<i64>,
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

fn failed(what: &str, e: impl std::fmt::Display) -> Outcome {
    Outcome {
        ok: false,
        detail: format!("{what}: {e}"),
    }
}

/// Read 64 bytes of `mem` at the first readable mapping listed in `maps` (itself read from the
/// same directory, or guessed when that fails).
fn mem(dir: &str) -> Outcome {
    let start = std::fs::read_to_string(format!("{dir}/maps"))
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.split(' ').nth(1).is_some_and(|p| p.starts_with('r')))
                .and_then(|l| l.split('-').next())
                .and_then(|a| u64::from_str_radix(a, 16).ok())
        })
        .unwrap_or(0x40_0000);
    let path = format!("{dir}/mem");
    let mut f = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => return failed(&path, e),
    };
    if let Err(e) = f.seek(SeekFrom::Start(start)) {
        return failed(&path, e);
    }
    let mut buf = [0u8; 64];
    match f.read(&mut buf) {
        Ok(n) => Outcome {
            ok: true,
            detail: String::from_utf8_lossy(&buf[..n]).into_owned(),
        },
        Err(e) => failed(&path, e),
    }
}

fn link(path: &str) -> Outcome {
    match std::fs::read_link(path) {
        Ok(t) => Outcome {
            ok: true,
            detail: t.display().to_string(),
        },
        Err(e) => failed(path, e),
    }
}

fn metadata(path: &str) -> Outcome {
    match std::fs::metadata(path) {
        Ok(m) => Outcome {
            ok: true,
            detail: format!("{} bytes", m.len()),
        },
        Err(e) => failed(path, e),
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
                    "inside, dotdot, abs_symlink, rel_symlink, shadow, passwd, env, tcp, write, \
                     fifo, and with kernel = true proc_stat, proc_mounts, environ, ...",
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
            kernel: config.get_bool("kernel").unwrap_or(false),
            pid: config.get_i64("pid"),
        })
    }

    fn collect(&mut self, out: &mut Emitter) -> Result<(), String> {
        let r = &self.root;
        let mut attempts = vec![
            ("inside", read(&format!("{r}/inside.txt"))),
            ("dotdot", read(&format!("{r}/../secret.txt"))),
            ("abs_symlink", read(&format!("{r}/abs_link"))),
            ("rel_symlink", read(&format!("{r}/rel_link"))),
            ("shadow", read("/etc/shadow")),
            ("passwd", read("/etc/passwd")),
            ("env", env()),
            ("tcp", tcp()),
            ("write", write(&format!("{r}/written.txt"))),
            ("fifo", read(&format!("{r}/fifo"))),
        ];
        if self.kernel {
            attempts.extend([
                ("proc_stat", read("/proc/stat")),
                ("proc_mounts", read("/proc/self/mounts")),
                ("environ", read("/proc/self/environ")),
                ("thread_environ", read("/proc/thread-self/environ")),
                ("cmdline", read("/proc/self/cmdline")),
                ("maps", read("/proc/self/maps")),
                ("mem", mem("/proc/self")),
                ("kmsg", read("/proc/kmsg")),
                ("kcore", read("/proc/kcore")),
                ("root", read("/proc/self/root/etc/passwd")),
                ("fd_link", link("/proc/self/fd/1")),
                ("stat_environ", metadata("/proc/self/environ")),
                ("init_environ", read("/proc/1/environ")),
            ]);
            if let Some(pid) = self.pid {
                attempts.extend([
                    ("pid_environ", read(&format!("/proc/{pid}/environ"))),
                    ("pid_cmdline", read(&format!("/proc/{pid}/cmdline"))),
                    ("pid_status", read(&format!("/proc/{pid}/status"))),
                    ("pid_mem", mem(&format!("/proc/{pid}"))),
                ]);
            }
        }
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
