//! Which paths of `/proc` and `/sys` a plugin may see.
//!
//! A `read_only_dirs` grant of `/proc` or `/sys` (or a directory under them) is not a plain
//! preopen: it is a *kernel view*. Every path a guest opens, stats or reads a link of through it
//! is checked here first, lexically (no `..`), against an allowlist: a safe default set (what
//! the bundled system collectors read: `stat`, `meminfo`, `diskstats`, `net/dev`,
//! `self/mounts`, ...) plus the plugin's explicit `[sandbox] kernel_paths`, which are logged at
//! load. Some files are never served, whatever the grant: every process's `environ`, `mem`,
//! `maps`, `pagemap`, `auxv`, `fd`, `root`, `cwd`, `exe` (and the like), the kernel's `kcore`,
//! `kmsg`, `kallsyms` and `keys`, and the agent's own `cmdline`. A path under `/proc` that names
//! the agent (`self`, `thread-self`, its pid or one of its thread ids) is matched as `self`.

/// Files under `/proc` never served to a plugin, in any process directory or at the top:
/// secrets (environment, memory, open files, keys), escape hatches into other file systems
/// (`root`, `cwd`, `exe`, `map_files`) and reads that block or consume (`kmsg`).
const NEVER: &[&str] = &[
    "environ",
    "mem",
    "pagemap",
    "maps",
    "smaps",
    "smaps_rollup",
    "numa_maps",
    "auxv",
    "syscall",
    "stack",
    "personality",
    "root",
    "cwd",
    "exe",
    "fd",
    "fdinfo",
    "map_files",
    "timers",
    "kcore",
    "kmsg",
    "kallsyms",
    "kpagecount",
    "kpageflags",
    "kpagecgroup",
    "keys",
    "key-users",
    "sysrq-trigger",
    "clear_refs",
    "attr",
    "mountstats",
];

/// Names never served from the agent's own process directory, on top of [`NEVER`].
const NEVER_FOR_AGENT: &[&str] = &["cmdline", "task"];

/// The safe default set: kernel-wide counters and the agent's own mount table and network
/// counters. `*` matches one path component (or part of one, as in `cpu*`), `**` any depth.
const DEFAULT_PATHS: &[&str] = &[
    "/proc/stat",
    "/proc/meminfo",
    "/proc/loadavg",
    "/proc/uptime",
    "/proc/diskstats",
    "/proc/vmstat",
    "/proc/cpuinfo",
    "/proc/partitions",
    "/proc/swaps",
    "/proc/version",
    "/proc/filesystems",
    "/proc/pressure/*",
    "/proc/mounts",
    "/proc/net/dev",
    "/proc/net/snmp",
    "/proc/net/snmp6",
    "/proc/net/netstat",
    "/proc/net/sockstat",
    "/proc/net/sockstat6",
    "/proc/self/mounts",
    "/proc/self/mountinfo",
    "/proc/self/net/dev",
    "/proc/self/net/snmp",
    "/proc/self/net/snmp6",
    "/proc/self/net/netstat",
    "/proc/self/net/sockstat",
    "/proc/self/net/sockstat6",
    "/proc/sys/fs/file-nr",
    "/proc/sys/kernel/random/entropy_avail",
    "/sys/class/net/*/statistics/*",
    "/sys/class/net/*/operstate",
    "/sys/class/net/*/carrier",
    "/sys/class/net/*/speed",
    "/sys/class/net/*/mtu",
    "/sys/block/*/stat",
    "/sys/block/*/size",
    "/sys/block/*/*/stat",
    "/sys/block/*/queue/rotational",
    "/sys/devices/system/cpu/online",
    "/sys/devices/system/cpu/possible",
    "/sys/devices/system/cpu/present",
    "/sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq",
    "/sys/class/thermal/thermal_zone*/temp",
    "/sys/class/thermal/thermal_zone*/type",
    "/sys/class/hwmon/hwmon*/name",
    "/sys/class/hwmon/hwmon*/temp*_input",
    "/sys/class/hwmon/hwmon*/temp*_label",
    "/sys/fs/cgroup/**",
];

/// Whether a path is a kernel file system path (`/proc`, `/sys` or below).
pub fn is_kernel_path(path: &str) -> bool {
    ["/proc", "/sys"]
        .iter()
        .any(|r| path == *r || path.strip_prefix(r).is_some_and(|t| t.starts_with('/')))
}

/// One component of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    /// A name, possibly with `*` wildcards inside it.
    Name(String),
    /// `**`: any number of components, none included.
    Deep,
}

/// An allowlisted path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    segs: Vec<Seg>,
    /// From the safe default set (files it matches are read on the calling thread).
    default: bool,
    /// As written.
    text: String,
}

/// What a checked path may be opened as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Access {
    /// A pattern matches the path itself: it may be opened as a file.
    pub file: bool,
    /// The path is a view's root or lies on the way to a pattern: it may be opened as a
    /// directory (and listed).
    pub dir: bool,
    /// Every pattern that allows it is from the safe default set: a regular file here is served
    /// from memory and read on the calling thread.
    pub fast: bool,
}

impl Access {
    const NONE: Access = Access {
        file: false,
        dir: false,
        fast: false,
    };

    /// Whether anything is allowed.
    pub fn any(self) -> bool {
        self.file || self.dir
    }
}

/// The kernel paths one plugin may see.
#[derive(Debug, Clone)]
pub struct KernelPolicy {
    patterns: Vec<Pattern>,
    /// The agent's process id, matched as `self`.
    agent_pid: u32,
}

/// Why a kernel path pattern is refused in a config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pattern:?}: {reason}")]
pub struct PatternError {
    pub pattern: String,
    pub reason: String,
}

fn wildcard_match(pat: &str, name: &str) -> bool {
    let parts: Vec<&str> = pat.split('*').collect();
    if parts.len() == 1 {
        return pat == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if name.len() < first.len() + last.len() || !name.starts_with(first) || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Whether `segs` matches `path` exactly.
fn matches(segs: &[Seg], path: &[&str]) -> bool {
    match segs.split_first() {
        None => path.is_empty(),
        Some((Seg::Deep, rest)) => (0..=path.len()).any(|i| matches(rest, &path[i..])),
        Some((Seg::Name(n), rest)) => {
            !path.is_empty() && wildcard_match(n, path[0]) && matches(rest, &path[1..])
        }
    }
}

/// Whether `path` is a strict prefix of something `segs` matches (a directory on the way).
fn leads_to(segs: &[Seg], path: &[&str]) -> bool {
    match segs.split_first() {
        None => false,
        Some((Seg::Deep, _)) => true,
        Some((Seg::Name(n), rest)) => match path.split_first() {
            None => true,
            Some((first, tail)) => wildcard_match(n, first) && leads_to(rest, tail),
        },
    }
}

fn parse_pattern(text: &str, default: bool) -> Result<Pattern, PatternError> {
    let bad = |reason: &str| PatternError {
        pattern: text.to_string(),
        reason: reason.to_string(),
    };
    if !is_kernel_path(text) {
        return Err(bad("not under /proc or /sys"));
    }
    let mut segs = Vec::new();
    for c in text.split('/').filter(|c| !c.is_empty()) {
        match c {
            "." | ".." => return Err(bad("\".\" and \"..\" are not allowed")),
            "**" => segs.push(Seg::Deep),
            c if c.contains("**") => return Err(bad("\"**\" must be a whole component")),
            c => segs.push(Seg::Name(c.to_string())),
        }
    }
    Ok(Pattern {
        segs,
        default,
        text: text.to_string(),
    })
}

impl KernelPolicy {
    /// The safe default set plus `extra` patterns (absolute, under /proc or /sys).
    ///
    /// # Errors
    /// A pattern that is not under /proc or /sys, has `..`, or names a file that is never
    /// served (`/proc/*/environ`, `/proc/kmsg`, ...).
    pub fn new(extra: &[String]) -> Result<Self, PatternError> {
        let mut patterns: Vec<Pattern> = DEFAULT_PATHS
            .iter()
            .map(|p| parse_pattern(p, true).expect("the default kernel paths are valid"))
            .collect();
        for p in extra {
            let pat = parse_pattern(p, false)?;
            // The check at open time refuses these anyway; a grant that names one is a
            // mistake worth an error.
            let names: Vec<&str> = p.split('/').filter(|c| !c.is_empty()).collect();
            if names.first() == Some(&"proc") {
                let last = names.last().copied().unwrap_or_default();
                let agent = matches!(names.get(1), Some(&"self") | Some(&"thread-self"));
                if NEVER.contains(&last) || (agent && NEVER_FOR_AGENT.contains(&last)) {
                    return Err(PatternError {
                        pattern: p.clone(),
                        reason: format!("/proc files named {last:?} are never served to plugins"),
                    });
                }
            }
            patterns.push(pat);
        }
        Ok(KernelPolicy {
            patterns,
            agent_pid: std::process::id(),
        })
    }

    /// The components of `path` (absolute, already free of `.` and `..`), with a component
    /// naming the agent's process under /proc turned into `self`.
    fn components<'a>(&self, path: &'a str) -> Vec<&'a str> {
        let mut comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        if comps.first() == Some(&"proc") && comps.len() > 1 {
            let is_agent = match comps[1] {
                "self" | "thread-self" => true,
                n => n.parse::<u32>().is_ok_and(|pid| self.is_agent_thread(pid)),
            };
            if is_agent {
                comps[1] = "self";
            }
        }
        comps
    }

    fn is_agent_thread(&self, id: u32) -> bool {
        id == self.agent_pid || std::path::Path::new(&format!("/proc/self/task/{id}")).exists()
    }

    /// What `path` (absolute, no `.` or `..` components) may be opened as.
    pub fn check(&self, path: &str) -> Access {
        let comps = self.components(path);
        let Some(&top) = comps.first() else {
            return Access::NONE;
        };
        if top != "proc" && top != "sys" {
            return Access::NONE;
        }
        if top == "proc" {
            let agent = comps.get(1) == Some(&"self");
            if comps[1..]
                .iter()
                .any(|c| NEVER.contains(c) || (agent && NEVER_FOR_AGENT.contains(c)))
            {
                return Access::NONE;
            }
        }
        let mut access = Access {
            file: false,
            dir: comps.len() == 1,
            fast: true,
        };
        for p in &self.patterns {
            if matches(&p.segs, &comps) {
                access.file = true;
                access.fast &= p.default;
            }
            if leads_to(&p.segs, &comps) {
                access.dir = true;
            }
        }
        if !access.file {
            access.fast = false;
        }
        access
    }

    /// The explicit patterns beyond the safe default set, for the load log.
    pub fn extra(&self) -> Vec<String> {
        self.patterns
            .iter()
            .filter(|p| !p.default)
            .map(|p| p.text.clone())
            .collect()
    }
}

/// Join `rel` (a guest path relative to the directory at `dir`) onto `dir`, lexically.
/// `None` when `rel` is absolute or has a `..` component.
pub fn join(dir: &str, rel: &str) -> Option<String> {
    if rel.starts_with('/') {
        return None;
    }
    let mut out = dir.trim_end_matches('/').to_string();
    for c in rel.split('/') {
        match c {
            "" | "." => {}
            ".." => return None,
            c => {
                out.push('/');
                out.push_str(c);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(extra: &[&str]) -> KernelPolicy {
        KernelPolicy::new(&extra.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn the_collectors_files_are_served_fast() {
        let p = policy(&[]);
        for f in [
            "/proc/stat",
            "/proc/meminfo",
            "/proc/loadavg",
            "/proc/uptime",
            "/proc/diskstats",
            "/proc/net/dev",
            "/proc/self/mounts",
            "/proc/pressure/cpu",
            "/sys/class/net/eth0/statistics/rx_bytes",
            "/sys/fs/cgroup/system.slice/cpu.stat",
            "/sys/devices/system/cpu/cpu3/cpufreq/scaling_cur_freq",
        ] {
            let a = p.check(f);
            assert!(a.file && a.fast, "{f}: {a:?}");
        }
        for d in [
            "/proc",
            "/proc/net",
            "/proc/self",
            "/sys",
            "/sys/class/net/eth0",
        ] {
            assert!(p.check(d).dir, "{d}");
        }
    }

    #[test]
    fn secrets_are_never_served() {
        // The bug: a /proc grant exposed the agent's environment, command line and memory.
        let p = policy(&["/proc/*/status", "/proc/*/cmdline", "/proc/*/io"]);
        let me = std::process::id();
        for f in [
            "/proc/self/environ".to_string(),
            "/proc/thread-self/environ".into(),
            "/proc/self/cmdline".into(),
            "/proc/self/mem".into(),
            "/proc/self/maps".into(),
            "/proc/self/root/etc/passwd".into(),
            "/proc/self/fd/0".into(),
            "/proc/self/task".into(),
            format!("/proc/{me}/environ"),
            format!("/proc/{me}/cmdline"),
            format!("/proc/{me}/task/{me}/environ"),
            "/proc/1/environ".into(),
            "/proc/1/mem".into(),
            "/proc/kcore".into(),
            "/proc/kmsg".into(),
            "/proc/keys".into(),
            "/proc/self/net/../environ".into(),
            "/etc/passwd".into(),
        ] {
            assert!(!p.check(&f).any(), "{f} is served");
        }
        // Granted explicitly: other processes' status and cmdline, the agent's status, but
        // never fast (they come from explicit grants) and never the agent's cmdline.
        let a = p.check("/proc/1/cmdline");
        assert!(a.file && !a.fast);
        assert!(p.check(&format!("/proc/{me}/status")).file);
        assert!(!p.check("/proc/1/environ").any());
    }

    #[test]
    fn unlisted_paths_are_refused() {
        let p = policy(&[]);
        for f in [
            "/proc/1/status",
            "/proc/sys/kernel/hostname",
            "/sys/firmware/x",
            "/proc/net/tcp",
        ] {
            assert!(!p.check(f).file, "{f}");
        }
        assert!(!p.check("/proc/1").dir);
        assert!(!p.check("/sys/firmware").dir);
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "/proc/*/environ",
            "/proc/self/mem",
            "/proc/kmsg",
            "/proc/self/cmdline",
            "/etc/passwd",
            "/proc/../etc",
            "/proc/a**",
        ] {
            assert!(KernelPolicy::new(&[bad.to_string()]).is_err(), "{bad}");
        }
        assert_eq!(
            policy(&["/proc/*/status"]).extra(),
            vec!["/proc/*/status".to_string()]
        );
    }

    #[test]
    fn joins_lexically() {
        assert_eq!(
            join("/proc", "self/mounts").as_deref(),
            Some("/proc/self/mounts")
        );
        assert_eq!(
            join("/proc/", "./net//dev").as_deref(),
            Some("/proc/net/dev")
        );
        assert_eq!(join("/proc", "").as_deref(), Some("/proc"));
        assert_eq!(join("/proc", "net/../self/environ"), None);
        assert_eq!(join("/proc", "/etc"), None);
        assert!(wildcard_match("temp*_input", "temp1_input"));
        assert!(!wildcard_match("temp*_input", "temp1_label"));
        assert!(wildcard_match("*", "x"));
    }
}
