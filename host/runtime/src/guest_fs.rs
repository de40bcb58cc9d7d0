//! The guest's file system calls that take a path, done by the host instead of wasmtime-wasi.
//!
//! `open-at` is the host's own for every grant: it opens read-only and non-blocking, refuses
//! anything but regular files and directories (a FIFO, a device or a socket could block the
//! thread that reads it for ever), caps the descriptors an instance holds open, and decides per
//! file whether its reads may run on the calling thread. Under a kernel view (a grant of `/proc`
//! or `/sys`, see [`crate::kernel_view`]) every path is checked against the plugin's allowlist
//! first, and `stat-at`, `readlink-at` and `metadata-hash-at` are checked the same way before
//! wasmtime-wasi does them. Files of the safe default set are served from kernel memory and read
//! on the calling thread (the fast path); every other file is read on tokio's blocking pool, so
//! the call's deadline can fire whatever the read does.

use crate::host::HostState;
use crate::kernel_view::{self, KernelPolicy};
use cap_primitives::fs::{FollowSymlinks, OpenOptions, OpenOptionsExt};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Weak};
use wasmtime::component::{Linker, Resource};
use wasmtime::StoreContextMut;
use wasmtime_wasi::filesystem::{Descriptor, Dir, File, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::filesystem::types::{
    self as fs, DescriptorFlags, DescriptorStat, ErrorCode, HostDescriptor, MetadataHashValue,
    OpenFlags, PathFlags,
};
use wasmtime_wasi::p2::FsError;
use wasmtime_wasi::OpenMode;

/// The interface whose functions are replaced (the version wasmtime-wasi 48 defines; guests
/// importing an older 0.2 version are linked to it).
const TYPES: &str = "wasi:filesystem/types@0.2.12";

/// Files and directories one instance may hold open through `open-at`.
pub const MAX_OPEN: usize = 1024;

/// Refused paths logged per instance (then counted only).
const REFUSALS_LOGGED: u32 = 8;

const PROC_SUPER_MAGIC: i64 = 0x9fa0;
const SYSFS_MAGIC: i64 = 0x6265_6572;

/// A kernel view's root: its preopened directory (by device and inode) and its path.
#[derive(Debug)]
struct Root {
    dev: u64,
    ino: u64,
    path: String,
    /// The grant as the config gives it (what the `files` import matches paths against).
    grant: std::path::PathBuf,
}

/// The file system side of one store.
#[derive(Debug, Default)]
pub struct GuestFs {
    /// Built only when some grant is a kernel view.
    policy: Option<KernelPolicy>,
    roots: Vec<Root>,
    /// Directories opened through `open-at`, by the address of their handle: the handle (to
    /// tell a live entry from a reused address) and their kernel view path (`None`: a plain
    /// grant).
    dirs: HashMap<usize, (Weak<std::fs::File>, Option<String>)>,
    /// Everything opened through `open-at`, to cap what is held open.
    open: Vec<Weak<std::fs::File>>,
    refusals: u32,
}

/// What `open-at` found at a path.
pub(crate) enum Opened {
    Dir(std::fs::File, bool),
    File(std::fs::File, bool),
    Special,
}

impl GuestFs {
    /// The file system state for the grants `dirs` (already preopened by the caller); a kernel
    /// view among them allows the safe default set plus `kernel_paths`.
    ///
    /// # Errors
    /// When a granted directory cannot be resolved or examined, or `kernel_paths` is invalid.
    pub fn new(dirs: &[std::path::PathBuf], kernel_paths: &[String]) -> Result<Self, String> {
        let mut roots = Vec::new();
        for d in dirs {
            let real = std::fs::canonicalize(d)
                .map_err(|e| format!("cannot grant {}: {e}", d.display()))?;
            let real = real.to_string_lossy().into_owned();
            let st = rustix::fs::stat(d.as_path())
                .map_err(|e| format!("cannot grant {}: {e}", d.display()))?;
            let on_kernel_fs = rustix::fs::statfs(d.as_path())
                .map(|s| is_kernel_fs(s.f_type))
                .unwrap_or(false);
            if kernel_view::is_kernel_path(&real) || on_kernel_fs {
                roots.push(Root {
                    dev: st.st_dev,
                    ino: st.st_ino,
                    path: real,
                    grant: d.clone(),
                });
            }
        }
        let policy = if roots.is_empty() {
            None
        } else {
            Some(KernelPolicy::new(kernel_paths).map_err(|e| e.to_string())?)
        };
        Ok(GuestFs {
            policy,
            roots,
            ..GuestFs::default()
        })
    }

    /// What the kernel view allows at `path` when `grant` is one of its roots (`None` for a
    /// plain grant), for the `files` import.
    pub(crate) fn kernel_access(&self, grant: &Path, path: &str) -> Option<kernel_view::Access> {
        let policy = self.policy.as_ref()?;
        self.roots
            .iter()
            .any(|r| r.grant == grant)
            .then(|| policy.check(path))
    }

    /// The kernel view path of the directory `dir`, or `None` for a plain grant.
    fn view_of(&mut self, dir: &Arc<std::fs::File>) -> Option<String> {
        if self.roots.is_empty() {
            return None;
        }
        let key = Arc::as_ptr(dir) as usize;
        if let Some((weak, path)) = self.dirs.get(&key) {
            if weak.upgrade().is_some_and(|d| Arc::ptr_eq(&d, dir)) {
                return path.clone();
            }
        }
        // Not opened through open-at: a preopen, found by its device and inode.
        let path = rustix::fs::fstat(&**dir).ok().and_then(|st| {
            self.roots
                .iter()
                .find(|r| r.dev == st.st_dev && r.ino == st.st_ino)
                .map(|r| r.path.clone())
        });
        self.dirs.insert(key, (Arc::downgrade(dir), path.clone()));
        path
    }

    /// Whether another descriptor may be opened.
    fn room(&mut self) -> bool {
        if self.open.len() >= MAX_OPEN {
            self.open.retain(|w| w.strong_count() > 0);
            self.dirs.retain(|_, (w, _)| w.strong_count() > 0);
        }
        self.open.len() < MAX_OPEN
    }

    fn remember(&mut self, handle: &Arc<std::fs::File>, dir_path: Option<Option<String>>) {
        self.open.push(Arc::downgrade(handle));
        if let Some(path) = dir_path {
            self.dirs
                .insert(Arc::as_ptr(handle) as usize, (Arc::downgrade(handle), path));
        }
    }
}

/// Open `rel` beneath the directory `d`, read-only and non-blocking, without leaving it
/// (cap-std's sandboxed open), and say what it is and whether it lives on procfs or sysfs.
/// Shared by the guest's `open-at` and the `files` import.
pub(crate) fn open_beneath(
    d: &std::fs::File,
    rel: &Path,
    follow: FollowSymlinks,
) -> std::io::Result<Opened> {
    let mut o = OpenOptions::new();
    o.read(true)._cap_fs_ext_follow(follow);
    // Non-blocking: opening a FIFO must not wait for a writer, and a kernel file that blocks
    // on read (kmsg-like) answers "would block" instead.
    o.custom_flags((rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32);
    let f = cap_primitives::fs::open(d, rel, &o)?;
    let st = rustix::fs::fstat(&f)?;
    let kernel_fs = rustix::fs::fstatfs(&f).is_ok_and(|s| is_kernel_fs(s.f_type));
    Ok(match rustix::fs::FileType::from_raw_mode(st.st_mode) {
        rustix::fs::FileType::Directory => Opened::Dir(f, kernel_fs),
        rustix::fs::FileType::RegularFile => Opened::File(f, kernel_fs),
        _ => Opened::Special,
    })
}

fn is_kernel_fs(magic: i64) -> bool {
    magic == PROC_SUPER_MAGIC || magic == SYSFS_MAGIC
}

/// Refuse a path: log it (a few per instance) and answer "not permitted".
fn refuse(st: &mut HostState, path: &str, why: &str) -> ErrorCode {
    if st.fs.refusals < REFUSALS_LOGGED {
        st.fs.refusals += 1;
        let plugin = &*st.plugin;
        tracing::warn!(plugin, path = ?path, "file access refused: {why}");
    }
    ErrorCode::NotPermitted
}

/// A directory handle and its kernel view path (`None`: a plain grant).
type DirView = (Arc<std::fs::File>, Option<String>);

/// The directory a descriptor is, with its kernel view path; `Err` for the guest when it is a
/// file.
fn dir_of(
    st: &mut HostState,
    fd: &Resource<Descriptor>,
) -> wasmtime::Result<Result<DirView, ErrorCode>> {
    let dir = match st.table.get(fd)? {
        Descriptor::Dir(d) => d.dir.clone(),
        Descriptor::File(_) => return Ok(Err(ErrorCode::NotDirectory)),
    };
    let view = st.fs.view_of(&dir);
    Ok(Ok((dir, view)))
}

/// Check `path` under a kernel view: `Ok(None)` outside a kernel view, `Ok(Some(access))`
/// when allowed, `Err(code)` when refused.
fn check_path(
    st: &mut HostState,
    view: Option<&str>,
    path: &str,
) -> Result<Option<kernel_view::Access>, ErrorCode> {
    let Some(base) = view else {
        return Ok(None);
    };
    let Some(full) = kernel_view::join(base, path) else {
        return Err(refuse(
            st,
            path,
            "\"..\" and absolute paths are refused in /proc and /sys",
        ));
    };
    let access = st
        .fs
        .policy
        .as_ref()
        .map_or(kernel_view::Access::default(), |p| p.check(&full));
    if !access.any() {
        return Err(refuse(
            st,
            &full,
            "outside the plugin's kernel view (grant it with [sandbox] kernel_paths)",
        ));
    }
    Ok(Some(access))
}

fn io_code(st: &mut HostState, e: std::io::Error) -> wasmtime::Result<ErrorCode> {
    let mut view = st.filesystem();
    fs::Host::convert_error_code(&mut view, FsError::from(e))
}

async fn open_at(
    st: &mut HostState,
    fd: Resource<Descriptor>,
    path_flags: PathFlags,
    path: String,
    oflags: OpenFlags,
    flags: DescriptorFlags,
) -> wasmtime::Result<Result<Resource<Descriptor>, ErrorCode>> {
    let (dir, view) = match dir_of(st, &fd)? {
        Ok(d) => d,
        Err(code) => return Ok(Err(code)),
    };
    // Every grant is read-only.
    if oflags.intersects(OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::EXCLUSIVE)
        || flags.intersects(DescriptorFlags::WRITE | DescriptorFlags::MUTATE_DIRECTORY)
    {
        return Ok(Err(ErrorCode::NotPermitted));
    }
    let access = match check_path(st, view.as_deref(), &path) {
        Ok(a) => a,
        Err(code) => return Ok(Err(code)),
    };
    if !st.fs.room() {
        return Ok(Err(refuse(
            st,
            &path,
            &format!("more than {MAX_OPEN} files and directories open at once"),
        )));
    }
    let follow = if path_flags.contains(PathFlags::SYMLINK_FOLLOW) {
        FollowSymlinks::Yes
    } else {
        FollowSymlinks::No
    };
    let rel = path.clone();
    let open = move |d: &std::fs::File| open_beneath(d, Path::new(&rel), follow);
    let opened = if view.is_some() {
        // Kernel file systems answer from memory.
        open(&dir)
    } else {
        let d = dir.clone();
        tokio::task::spawn_blocking(move || open(&d)).await?
    };
    let opened = match opened {
        Ok(o) => o,
        Err(e) => return Ok(Err(io_code(st, e)?)),
    };
    let perms = wasmtime_wasi::FsPerms::ReadOnly;
    let descriptor = match opened {
        Opened::Special => {
            return Ok(Err(refuse(
                st,
                &path,
                "not a regular file or a directory (FIFOs, devices and sockets could block)",
            )))
        }
        Opened::Dir(_, true) | Opened::File(_, true) if view.is_none() => {
            return Ok(Err(refuse(
                st,
                &path,
                "/proc and /sys are reached only through a grant of their own",
            )))
        }
        Opened::Dir(f, _) => {
            if access.is_some_and(|a| !a.dir) {
                return Ok(Err(refuse(st, &path, "not a directory of the kernel view")));
            }
            let d = Dir::new(f, perms, OpenMode::READ, view.is_some());
            let sub = view.as_deref().and_then(|v| kernel_view::join(v, &path));
            st.fs.remember(&d.dir, Some(sub));
            Descriptor::Dir(d)
        }
        Opened::File(f, _) => {
            if oflags.contains(OpenFlags::DIRECTORY) {
                return Ok(Err(ErrorCode::NotDirectory));
            }
            if access.is_some_and(|a| !a.file) {
                return Ok(Err(refuse(st, &path, "not a file of the kernel view")));
            }
            let fast = access.is_some_and(|a| a.fast);
            let file = File::new(f, perms, OpenMode::READ, fast);
            st.fs.remember(&file.file, None);
            Descriptor::File(file)
        }
    };
    Ok(Ok(st.table.push(descriptor)?))
}

/// The kernel view check shared by the path lookups that wasmtime-wasi then does itself.
fn check_lookup(
    st: &mut HostState,
    fd: &Resource<Descriptor>,
    path: &str,
) -> wasmtime::Result<Result<(), ErrorCode>> {
    let view = match dir_of(st, fd)? {
        Ok((_, v)) => v,
        // wasmtime-wasi gives the right answer for a file.
        Err(_) => return Ok(Ok(())),
    };
    Ok(check_path(st, view.as_deref(), path).map(|_| ()))
}

async fn stat_at(
    st: &mut HostState,
    fd: Resource<Descriptor>,
    path_flags: PathFlags,
    path: String,
) -> wasmtime::Result<Result<DescriptorStat, ErrorCode>> {
    if let Err(code) = check_lookup(st, &fd, &path)? {
        return Ok(Err(code));
    }
    let mut view = st.filesystem();
    match HostDescriptor::stat_at(&mut view, fd, path_flags, path).await {
        Ok(s) => Ok(Ok(s)),
        Err(e) => Ok(Err(fs::Host::convert_error_code(&mut view, e)?)),
    }
}

async fn metadata_hash_at(
    st: &mut HostState,
    fd: Resource<Descriptor>,
    path_flags: PathFlags,
    path: String,
) -> wasmtime::Result<Result<MetadataHashValue, ErrorCode>> {
    if let Err(code) = check_lookup(st, &fd, &path)? {
        return Ok(Err(code));
    }
    let mut view = st.filesystem();
    match HostDescriptor::metadata_hash_at(&mut view, fd, path_flags, path).await {
        Ok(s) => Ok(Ok(s)),
        Err(e) => Ok(Err(fs::Host::convert_error_code(&mut view, e)?)),
    }
}

async fn readlink_at(
    st: &mut HostState,
    fd: Resource<Descriptor>,
    path: String,
) -> wasmtime::Result<Result<String, ErrorCode>> {
    if let Err(code) = check_lookup(st, &fd, &path)? {
        return Ok(Err(code));
    }
    let mut view = st.filesystem();
    match HostDescriptor::readlink_at(&mut view, fd, path).await {
        Ok(s) => Ok(Ok(s)),
        Err(e) => Ok(Err(fs::Host::convert_error_code(&mut view, e)?)),
    }
}

type OpenArgs = (
    Resource<Descriptor>,
    PathFlags,
    String,
    OpenFlags,
    DescriptorFlags,
);

/// Replace wasmtime-wasi's path functions in `linker` (which already has WASI) with the ones
/// above.
///
/// # Errors
/// When the linker does not have the functions to replace.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(TYPES)?;
    types.func_wrap_async(
        "[method]descriptor.open-at",
        |mut store: StoreContextMut<'_, HostState>, (fd, pf, path, of, fl): OpenArgs| {
            Box::new(async move { Ok((open_at(store.data_mut(), fd, pf, path, of, fl).await?,)) })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.stat-at",
        |mut store: StoreContextMut<'_, HostState>,
         (fd, pf, path): (Resource<Descriptor>, PathFlags, String)| {
            Box::new(async move { Ok((stat_at(store.data_mut(), fd, pf, path).await?,)) })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.metadata-hash-at",
        |mut store: StoreContextMut<'_, HostState>,
         (fd, pf, path): (Resource<Descriptor>, PathFlags, String)| {
            Box::new(async move { Ok((metadata_hash_at(store.data_mut(), fd, pf, path).await?,)) })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.readlink-at",
        |mut store: StoreContextMut<'_, HostState>, (fd, path): (Resource<Descriptor>, String)| {
            Box::new(async move { Ok((readlink_at(store.data_mut(), fd, path).await?,)) })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
