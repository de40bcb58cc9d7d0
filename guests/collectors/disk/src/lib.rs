//! `disk` collector: filesystem usage per mount point, with the names and definitions of
//! Telegraf's `inputs.disk`.
//!
//! Mounts come from `/proc/self/mounts` (of the agent: the guest reads the host's `/proc`), octal
//! escapes such as `\040` undone. When a path is mounted over, only the last (visible) mount is
//! kept. Mounts whose filesystem type is in `ignore_fs` are skipped, and, when `mount_points` is
//! set, those not listed. Sizes come from the host's statvfs through `system.statfs`, which the
//! plugin's `[sandbox] statfs = true` must grant. As in Telegraf, filesystems of size 0 are skipped,
//! `free` is the space unprivileged users can still use (statvfs `f_bavail`), `used` is `total`
//! minus all free blocks (`f_bfree`, root's reserve included), and `used_percent` is
//! `used / (used + free)`, as `df` prints it. A mount whose statfs fails is logged and skipped.
//!
//! Config: `ignore_fs` (list of filesystem types; replaces the default list), `mount_points`
//! (list of paths; default all).

use std::collections::HashSet;

use sandkit_sdk::system::FsUsage;
use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo, Point};

const MOUNTS: &str = "/proc/self/mounts";

/// Telegraf's default `ignore_fs`, plus the pseudo filesystems that have no disk behind them.
const DEFAULT_IGNORE_FS: [&str; 28] = [
    "tmpfs",
    "devtmpfs",
    "devfs",
    "iso9660",
    "overlay",
    "aufs",
    "squashfs",
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "pstore",
    "bpf",
    "tracefs",
    "debugfs",
    "securityfs",
    "mqueue",
    "configfs",
    "fusectl",
    "hugetlbfs",
    "autofs",
    "binfmt_misc",
    "nsfs",
    "ramfs",
    "rpc_pipefs",
    "devpts",
    "efivarfs",
    "selinuxfs",
];

/// One line of `/proc/self/mounts`.
#[derive(Debug, Clone, PartialEq)]
struct Mount {
    device: String,
    path: String,
    fstype: String,
    options: Vec<String>,
}

impl Mount {
    /// Telegraf's `mode` tag: "rw", "ro", or "unknown" when the options say neither.
    fn mode(&self) -> &'static str {
        if self.options.iter().any(|o| o == "rw") {
            "rw"
        } else if self.options.iter().any(|o| o == "ro") {
            "ro"
        } else {
            "unknown"
        }
    }

    /// Telegraf's `device` tag: the device with every "/dev/" removed.
    fn device_tag(&self) -> String {
        self.device.replace("/dev/", "")
    }
}

/// Undo the octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash) the kernel
/// writes in the fields of `/proc/self/mounts`.
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let code = b.get(i + 1..i + 4).and_then(|d| {
                d.iter().try_fold(0u32, |acc, &c| {
                    (b'0'..=b'7')
                        .contains(&c)
                        .then(|| acc * 8 + u32::from(c - b'0'))
                })
            });
            if let Some(byte) = code.and_then(|c| u8::try_from(c).ok()) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mounts in `/proc/self/mounts` order. Lines with fewer than four fields are skipped.
fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let mut w = line.split_whitespace();
            let device = unescape(w.next()?);
            let path = unescape(w.next()?);
            let fstype = unescape(w.next()?);
            let options = w.next()?.split(',').map(unescape).collect();
            Some(Mount {
                device,
                path,
                fstype,
                options,
            })
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
struct Options {
    ignore_fs: Vec<String>,
    mount_points: Option<Vec<String>>,
}

/// The mounts to measure: the visible (last) mount of each path, then the filters.
fn select(mounts: &[Mount], opts: &Options) -> Vec<Mount> {
    let mut seen = HashSet::new();
    let mut visible: Vec<&Mount> = mounts
        .iter()
        .rev()
        .filter(|m| seen.insert(m.path.as_str()))
        .collect();
    visible.reverse();
    visible
        .into_iter()
        .filter(|m| !opts.ignore_fs.contains(&m.fstype))
        .filter(|m| {
            opts.mount_points
                .as_ref()
                .is_none_or(|only| only.contains(&m.path))
        })
        .cloned()
        .collect()
}

/// The `disk` point of one mount, or `None` for a filesystem of size 0 (Telegraf skips those).
fn point(m: &Mount, u: &FsUsage) -> Option<Point> {
    if u.total == 0 {
        return None;
    }
    let free = u.available;
    let used = u.total.saturating_sub(u.free);
    let used_percent = if used.saturating_add(free) > 0 {
        used as f64 / (used as f64 + free as f64) * 100.0
    } else {
        0.0
    };
    Some(
        Point::new("disk")
            .tag("path", m.path.as_str())
            .tag("device", m.device_tag())
            .tag("fstype", m.fstype.as_str())
            .tag("mode", m.mode())
            .field("total", u.total)
            .field("free", free)
            .field("used", used)
            .field("used_percent", used_percent)
            .field("inodes_total", u.inodes_total)
            .field("inodes_free", u.inodes_free)
            .field("inodes_used", u.inodes_total.saturating_sub(u.inodes_free)),
    )
}

fn options(config: &Config) -> Result<Options, String> {
    config.check_keys(&["ignore_fs", "mount_points"])?;
    Ok(Options {
        ignore_fs: config
            .get_str_list("ignore_fs")?
            .unwrap_or_else(|| DEFAULT_IGNORE_FS.iter().map(|s| s.to_string()).collect()),
        mount_points: config.get_str_list("mount_points")?,
    })
}

fn read_mounts() -> Result<Vec<Mount>, String> {
    sandkit_sdk::fs::read_to_string(MOUNTS).map(|text| parse_mounts(&text))
}

struct Disk {
    opts: Options,
    /// Mounts whose last statfs failed: their next failure is logged at debug level only.
    failing: HashSet<String>,
}

impl Collector for Disk {
    fn describe() -> PluginInfo {
        let u = FieldKind::Uint;
        PluginInfo::new("disk", "0.1.0", "filesystem usage per mount point")
            .interval_ms(10_000, 1_000, 3_600_000)
            .measurement(
                MeasurementInfo::new(
                    "disk",
                    "filesystem usage of one mount point, as Telegraf's disk input",
                )
                .tag("path", "mount point")
                .tag("device", "mounted device, without /dev/")
                .tag("fstype", "filesystem type")
                .tag("mode", "rw, ro, or unknown, from the mount options")
                .field("total", u, "bytes", "size of the filesystem")
                .field("free", u, "bytes", "space left for unprivileged users")
                .field(
                    "used",
                    u,
                    "bytes",
                    "space in use: total minus all free blocks",
                )
                .field(
                    "used_percent",
                    FieldKind::Float,
                    "percent",
                    "used / (used + free), as df prints it",
                )
                .field("inodes_total", u, "count", "inodes of the filesystem")
                .field("inodes_free", u, "count", "free inodes")
                .field("inodes_used", u, "count", "inodes in use"),
            )
    }

    fn init(config: Config) -> Result<Self, String> {
        let opts = options(&config)?;
        read_mounts()?;
        Ok(Disk {
            opts,
            failing: HashSet::new(),
        })
    }

    fn collect(&mut self, out: &mut Emitter) -> Result<(), String> {
        let mounts = select(&read_mounts()?, &self.opts);
        let mut first_error = None;
        let mut measured = 0usize;
        for m in &mounts {
            match sandkit_sdk::system::statfs(&m.path) {
                Ok(u) => {
                    measured += 1;
                    self.failing.remove(&m.path);
                    if let Some(p) = point(m, &u) {
                        out.push(p);
                    }
                }
                Err(e) => {
                    if self.failing.insert(m.path.clone()) {
                        sandkit_sdk::warn!("statfs {:?} failed, skipping it: {e}", m.path);
                    } else {
                        sandkit_sdk::debug!("statfs {:?} failed again: {e}", m.path);
                    }
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) if measured == 0 => Err(format!(
                "statfs failed for all {} mounts (is [sandbox] statfs = true?); first error: {e}",
                mounts.len()
            )),
            _ => Ok(()),
        }
    }
}

sandkit_sdk::collector!(Disk);
sandkit_sdk::default_conf!("../conf.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MOUNTS_SAMPLE: &str = "\
proc /proc proc rw,relatime 0 0
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
devtmpfs /dev devtmpfs rw,relatime,size=12334492k,nr_inodes=3083623,mode=755 0 0
/dev/vda / ext4 rw,relatime,discard 0 0
/dev/vdb1 /mnt/My\\040Disk ext4 ro,noatime 0 0
/dev/mapper/vg-home /home xfs rw,relatime,attr2,inode64 0 0
tmpfs /run tmpfs rw,nosuid,nodev,size=2468412k,mode=755 0 0
/dev/vdc /srv ext4 rw,relatime 0 0
tmpfs /srv tmpfs rw,relatime 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0
broken line
";

    fn defaults() -> Options {
        options(&Config::default()).expect("default options")
    }

    fn options_of(config: serde_json::Value) -> Result<Options, String> {
        options(&Config::from_value(config))
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape("/mnt/My\\040Disk"), "/mnt/My Disk");
        assert_eq!(unescape("a\\011b\\012c\\134d"), "a\tb\nc\\d");
        assert_eq!(unescape("no\\escape\\9"), "no\\escape\\9");
        assert_eq!(unescape("end\\04"), "end\\04");
        assert_eq!(unescape("\\777"), "\\777");
    }

    #[test]
    fn parses_mounts() {
        let m = parse_mounts(MOUNTS_SAMPLE);
        assert_eq!(m.len(), 10);
        assert_eq!(
            m[4],
            Mount {
                device: "/dev/vdb1".into(),
                path: "/mnt/My Disk".into(),
                fstype: "ext4".into(),
                options: vec!["ro".into(), "noatime".into()],
            }
        );
        assert_eq!(m[4].mode(), "ro");
        assert_eq!(m[3].mode(), "rw");
        assert_eq!(m[5].device_tag(), "mapper/vg-home");
    }

    #[test]
    fn selects_visible_real_filesystems() {
        let sel = select(&parse_mounts(MOUNTS_SAMPLE), &defaults());
        let paths: Vec<_> = sel.iter().map(|m| m.path.as_str()).collect();
        // /srv is covered by a tmpfs: what statfs sees there is the tmpfs, which is ignored.
        assert_eq!(paths, ["/", "/mnt/My Disk", "/home"]);
    }

    #[test]
    fn mount_points_and_ignore_fs_from_config() {
        let opts = options_of(json!({"mount_points": ["/home", "/run"], "ignore_fs": ["xfs"]}))
            .expect("options");
        let sel = select(&parse_mounts(MOUNTS_SAMPLE), &opts);
        let paths: Vec<_> = sel.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["/run"]);
        assert_eq!(
            options_of(json!({"mount_points": "/"})),
            Err("config key \"mount_points\": expected a list of strings".to_string())
        );
        assert!(options_of(json!({"ignore_fs": [1]})).is_err());
        assert_eq!(
            options_of(json!({"mountpoints": ["/"]})),
            Err("unknown config key \"mountpoints\" (known: ignore_fs, mount_points)".to_string())
        );
    }

    #[test]
    fn fields_like_telegraf() {
        let m = &parse_mounts(MOUNTS_SAMPLE)[3];
        // 100 GiB, 40 GiB free of which 5 GiB reserved for root.
        let gib = 1u64 << 30;
        let u = FsUsage {
            total: 100 * gib,
            available: 35 * gib,
            free: 40 * gib,
            inodes_total: 1000,
            inodes_free: 600,
        };
        let used = 60 * gib;
        let want = Point::new("disk")
            .tag("path", "/")
            .tag("device", "vda")
            .tag("fstype", "ext4")
            .tag("mode", "rw")
            .field("total", 100 * gib)
            .field("free", 35 * gib)
            .field("used", used)
            .field("used_percent", 60.0 / 95.0 * 100.0)
            .field("inodes_total", 1000u64)
            .field("inodes_free", 600u64)
            .field("inodes_used", 400u64);
        assert_eq!(point(m, &u), Some(want));
    }

    #[test]
    fn empty_filesystems_are_skipped() {
        let m = &parse_mounts(MOUNTS_SAMPLE)[0];
        let u = FsUsage {
            total: 0,
            available: 0,
            free: 0,
            inodes_total: 0,
            inodes_free: 0,
        };
        assert_eq!(point(m, &u), None);
    }
}
