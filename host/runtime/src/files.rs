//! The `files` import (since `sandkit:plugin@0.1.1`): granted files read by the host, for guests
//! whose language cannot reach WASI preopens easily (an interpreter's own file API may not map
//! to them). The checks are those of the guest's own `open-at` (`crate::guest_fs`): a path must
//! lie lexically under a directory of `[sandbox] read_only_dirs` (no `..`), under a kernel view
//! it must be in the view, symbolic links may not lead out of the grant (cap-std's sandboxed
//! open), only regular files are read (a FIFO or a device could block for ever) and a plain grant
//! never reaches procfs or sysfs.

use crate::guest_fs::{open_beneath, Opened};
use crate::host::HostState;
use crate::kernel_view::Access;
use cap_primitives::fs::FollowSymlinks;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest file `files.read` returns.
pub const MAX_READ: u64 = 16 << 20;

/// Entries `files.list` returns at most.
pub const MAX_LIST: usize = 100_000;

/// Where a checked path lies: the grant it is under and the rest of it.
struct Located {
    grant: PathBuf,
    rel: String,
    full: String,
    /// `Some` under a kernel view: what the view allows at the path.
    kernel: Option<Access>,
}

/// The path's components, lexically: `None` when it is relative or has a `..` component.
fn components(path: &str) -> Option<Vec<&str>> {
    if !path.starts_with('/') {
        return None;
    }
    let mut out = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

fn locate(st: &HostState, what: &str, path: &str) -> Result<Located, String> {
    let plugin = &st.plugin;
    let Some(comps) = components(path) else {
        return Err(format!(
            "files.{what} of {path:?}: not an absolute path without \"..\" components"
        ));
    };
    // The longest grant the path lies under.
    let mut best: Option<(usize, &PathBuf)> = None;
    for g in st.file_grants.iter() {
        let gs = g.to_string_lossy();
        let Some(gcomps) = components(&gs) else {
            continue;
        };
        let n = gcomps.len();
        if comps.len() >= n && comps[..n] == gcomps[..] && best.is_none_or(|(b, _)| n > b) {
            best = Some((n, g));
        }
    }
    let Some((n, grant)) = best else {
        let grants: Vec<String> = st
            .file_grants
            .iter()
            .map(|g| g.display().to_string())
            .collect();
        return Err(format!(
            "files.{what} of {path:?}: not under a granted directory of plugin {plugin} \
             ([sandbox] read_only_dirs = {grants:?}); add the directory to read_only_dirs in \
             its conf.d file"
        ));
    };
    let full = format!("/{}", comps.join("/"));
    let rel = if n == comps.len() {
        ".".to_string()
    } else {
        comps[n..].join("/")
    };
    let kernel = st.fs.kernel_access(grant, &full);
    Ok(Located {
        grant: grant.clone(),
        rel,
        full,
        kernel,
    })
}

fn open(loc: &Located, dir: bool) -> std::io::Result<std::fs::File> {
    let base = std::fs::File::open(&loc.grant)?;
    let err = |why: &str| Err(std::io::Error::other(why.to_string()));
    match open_beneath(&base, Path::new(&loc.rel), FollowSymlinks::Yes)? {
        Opened::Special => {
            err("not a regular file or a directory (FIFOs, devices and sockets could block)")
        }
        Opened::Dir(_, true) | Opened::File(_, true) if loc.kernel.is_none() => {
            err("/proc and /sys are reached only through a grant of their own")
        }
        Opened::Dir(f, _) if dir => Ok(f),
        Opened::File(f, _) if !dir => Ok(f),
        Opened::Dir(..) => err("a directory, not a file"),
        Opened::File(..) => err("a file, not a directory"),
    }
}

fn read_file(loc: &Located) -> Result<Vec<u8>, String> {
    let f = open(loc, false).map_err(|e| format!("files.read-file of {:?}: {e}", loc.full))?;
    let mut out = Vec::new();
    let n = f
        .take(MAX_READ + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("files.read-file of {:?}: {e}", loc.full))?;
    if n as u64 > MAX_READ {
        return Err(format!(
            "files.read-file of {:?}: larger than {} MiB",
            loc.full,
            MAX_READ >> 20
        ));
    }
    Ok(out)
}

fn list_dir(loc: &Located) -> Result<Vec<String>, String> {
    let f = open(loc, true).map_err(|e| format!("files.list-dir of {:?}: {e}", loc.full))?;
    let dir = rustix::fs::Dir::read_from(&f)
        .map_err(|e| format!("files.list-dir of {:?}: {e}", loc.full))?;
    let mut names = Vec::new();
    for entry in dir {
        let entry = entry.map_err(|e| format!("files.list-dir of {:?}: {e}", loc.full))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "." || name == ".." {
            continue;
        }
        if names.len() == MAX_LIST {
            return Err(format!(
                "files.list-dir of {:?}: more than {MAX_LIST} entries",
                loc.full
            ));
        }
        names.push(name);
    }
    names.sort_unstable();
    Ok(names)
}

/// `files.read`: the whole granted file.
pub async fn read(st: &mut HostState, path: String) -> Result<Vec<u8>, String> {
    let loc = locate(st, "read-file", &path)?;
    if let Some(access) = loc.kernel {
        if !access.file {
            return Err(kernel_refusal(st, "read-file", &loc.full));
        }
        if access.fast {
            return read_file(&loc);
        }
    }
    tokio::task::spawn_blocking(move || read_file(&loc))
        .await
        .map_err(|e| format!("files.read-file of {path:?}: {e}"))?
}

/// `files.list`: the names in a granted directory.
pub async fn list(st: &mut HostState, path: String) -> Result<Vec<String>, String> {
    let loc = locate(st, "list-dir", &path)?;
    if let Some(access) = loc.kernel {
        if !access.dir {
            return Err(kernel_refusal(st, "list-dir", &loc.full));
        }
        return list_dir(&loc);
    }
    tokio::task::spawn_blocking(move || list_dir(&loc))
        .await
        .map_err(|e| format!("files.list-dir of {path:?}: {e}"))?
}

fn kernel_refusal(st: &HostState, what: &str, full: &str) -> String {
    format!(
        "files.{what} of {full:?}: not in the kernel view of plugin {}; add it to [sandbox] \
         kernel_paths in its conf.d file (secrets such as environ, mem or kmsg are never served)",
        st.plugin
    )
}

#[cfg(test)]
mod tests {
    use super::components;

    #[test]
    fn paths_are_read_lexically() {
        assert_eq!(components("/proc//stat/"), Some(vec!["proc", "stat"]));
        assert_eq!(components("/var/./log"), Some(vec!["var", "log"]));
        assert_eq!(components("/var/log/../../etc"), None);
        assert_eq!(components("var/log"), None);
        assert_eq!(components("/"), Some(vec![]));
    }
}
