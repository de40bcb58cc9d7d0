//! Host facts for the `system` import: filesystem usage of mount points and the host name.

use crate::bindings::collector::sandkit::plugin::system::FsUsage;

/// Undo the octal escapes of /proc/self/mounts (`\040` for a space).
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let oct = &b[i + 1..(i + 4).min(b.len())];
            if oct.len() == 3 && oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = (oct[0] - b'0') as u32 * 64
                    + (oct[1] - b'0') as u32 * 8
                    + (oct[2] - b'0') as u32;
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_mount_point(path: &str) -> Result<bool, String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts")
        .map_err(|e| format!("cannot read /proc/self/mounts: {e}"))?;
    Ok(mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(1))
        .any(|m| unescape_mount(m) == path))
}

/// statvfs of a mount point listed in /proc/self/mounts.
pub fn statfs(path: &str) -> Result<FsUsage, String> {
    if !is_mount_point(path)? {
        return Err(format!("{path:?} is not a mount point"));
    }
    let st = rustix::fs::statvfs(path).map_err(|e| format!("statvfs {path:?}: {e}"))?;
    let frsize = if st.f_frsize > 0 {
        st.f_frsize
    } else {
        st.f_bsize
    };
    Ok(FsUsage {
        total: st.f_blocks.saturating_mul(frsize),
        available: st.f_bavail.saturating_mul(frsize),
        free: st.f_bfree.saturating_mul(frsize),
        inodes_total: st.f_files,
        inodes_free: st.f_ffree,
    })
}

/// The host's name.
pub fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_mount_paths() {
        assert_eq!(unescape_mount("/mnt/my\\040disk"), "/mnt/my disk");
        assert_eq!(unescape_mount("/plain"), "/plain");
        assert_eq!(unescape_mount("/odd\\"), "/odd\\");
    }

    #[test]
    fn statfs_of_root_and_refusal_of_non_mounts() {
        let u = statfs("/").unwrap();
        assert!(u.total > 0 && u.free <= u.total && u.available <= u.free);
        assert!(statfs("/definitely/not/a/mount").is_err());
    }
}
