//! Giving memory the agent no longer uses back to the system: the heap after compiles, and the
//! pages of code that ran only while starting.
//!
//! Start-up runs code that a running agent never runs again: config parsing, the plugins
//! directory's first scan, deserialising compiled components and instantiating them, RocksDB's
//! open (its options registry, its static objects and the dynamic linker's symbol tables). The
//! kernel maps file pages in blocks of 64 KiB around each page touched, so those paths leave
//! 10-15 MiB of the binary, its libraries and the compiled components in the agent's resident
//! set for good, although none of it is dirty and all of it is in the page cache anyway.
//! [`release_code_pages`] gives those clean pages back; the code a running agent does run faults
//! back in. Writable mappings, and read-only ones holding any page written since they were
//! mapped (RELRO: relocated vtables and GOT), are never touched.
//!
//! - The executable and its shared libraries stay mapped for the life of the process, so their
//!   pages are unmapped with `MADV_DONTNEED`: they stay in the page cache, and what runs again
//!   faults back in from it (minor faults, no disk reads).
//! - Other read-only file mappings (the compiled components) are unmapped when a plugin is
//!   unloaded, and the address range may then hold new memory before the `madvise` that read
//!   the old list reaches it: `MADV_DONTNEED` there could zero another mapping's data. So they
//!   get `MADV_PAGEOUT` (Linux 5.4), which never loses data whatever the range holds by then
//!   (anonymous pages go to swap or stay); their pages leave the page cache too, so a component
//!   that runs again reads its pages back from disk once.

/// Return the heap's free memory to the system (glibc keeps freed memory of every arena
/// resident otherwise). Called after compiles, which free tens of megabytes at once.
#[allow(unsafe_code)]
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas; any argument is valid.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What [`release_code_pages`] unmapped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    /// Mappings released.
    pub mappings: usize,
    /// Their resident size before, in KiB.
    pub kib: u64,
}

/// Unmap the resident pages of the clean, read-only, private file mappings (the executable, its
/// shared libraries, the compiled components: see the module's text). Safe to call at any time
/// from any thread: code that runs meanwhile faults its pages back in. Nothing happens where
/// `/proc/self/smaps` is not readable (not Linux).
pub fn release_code_pages() -> Released {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return Released::default();
    };
    let exe = std::fs::read_link("/proc/self/exe").ok();
    let mut released = Released::default();
    for m in mappings(&smaps) {
        let permanent =
            exe.as_deref().is_some_and(|e| e.as_os_str() == m.path) || is_shared_library(m.path);
        if m.releasable() && unmap_pages(m.start, m.end, permanent) {
            released.mappings += 1;
            released.kib += m.rss_kib;
        }
    }
    released
}

/// One mapping of `/proc/self/smaps`, with the fields that decide whether its pages may go.
#[derive(Debug, Default, PartialEq, Eq)]
struct Mapping<'a> {
    start: usize,
    end: usize,
    perms: &'a str,
    path: &'a str,
    rss_kib: u64,
    /// Pages of the mapping that are no longer the file's (copied on write): `Anonymous`,
    /// `Private_Dirty` and `Shared_Dirty`, in KiB.
    written_kib: u64,
    locked: bool,
}

impl Mapping<'_> {
    /// Read-only, private, file-backed, resident, never written, not locked.
    fn releasable(&self) -> bool {
        let p = self.perms.as_bytes();
        p.len() == 4
            && p[0] == b'r'
            && p[1] == b'-'
            && p[3] == b'p'
            && self.path.starts_with('/')
            && self.rss_kib > 0
            && self.written_kib == 0
            && !self.locked
    }
}

/// `libfoo.so` or `libfoo.so.1.2` (the agent never unloads one: RocksDB, once loaded, stays).
fn is_shared_library(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".so") || name.contains(".so.")
}

/// The mappings of an smaps text. A header line is `START-END PERMS OFFSET DEV INODE [PATH]`;
/// the lines after it are `Key: value [kB]` up to `VmFlags:`.
fn mappings(smaps: &str) -> Vec<Mapping<'_>> {
    let mut out: Vec<Mapping<'_>> = Vec::new();
    for line in smaps.lines() {
        if let Some(m) = header(line) {
            out.push(m);
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if key == "VmFlags" {
            cur.locked = value.split_whitespace().any(|f| f == "lo");
            continue;
        }
        let kib = value
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        match key {
            "Rss" => cur.rss_kib = kib,
            "Anonymous" | "Private_Dirty" | "Shared_Dirty" => cur.written_kib += kib,
            _ => {}
        }
    }
    out
}

fn header(line: &str) -> Option<Mapping<'_>> {
    let mut fields = line.splitn(6, ' ');
    let (start, end) = fields.next()?.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let perms = fields.next()?;
    // Offset, device and inode; a key line ("Rss:  4 kB") has no such fields.
    for _ in 0..3 {
        fields.next()?;
    }
    let path = fields.next().unwrap_or("").trim_start();
    Some(Mapping {
        start,
        end,
        perms,
        path,
        ..Mapping::default()
    })
}

/// `MADV_DONTNEED` on a `permanent` mapping (one never unmapped), else `MADV_PAGEOUT`.
#[allow(unsafe_code)]
fn unmap_pages(start: usize, end: usize, permanent: bool) -> bool {
    #[cfg(target_os = "linux")]
    {
        let (advice, len) = (
            if permanent {
                libc::MADV_DONTNEED
            } else {
                libc::MADV_PAGEOUT
            },
            end - start,
        );
        // SAFETY: with MADV_DONTNEED, the range is one whole mapping of the executable or of a
        // shared library as the kernel listed it, and those are never unmapped, so it is still
        // that mapping: private, read-only and without a page written since it was mapped, so
        // every page equals the file's and is only unmapped (the next access maps the same
        // bytes from the page cache). MADV_PAGEOUT changes no byte of whatever the range holds.
        // No Rust reference can observe either.
        unsafe { libc::madvise(start as *mut libc::c_void, len, advice) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (start, end, permanent);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d2c0000000-55d2c0200000 r--p 00000000 fe:00 123 /usr/bin/sandkit
Rss:                1024 kB
Anonymous:             0 kB
Private_Dirty:         0 kB
Shared_Dirty:          0 kB
VmFlags: rd mr mw me
55d2c0200000-55d2c0900000 r-xp 00200000 fe:00 123 /usr/bin/sandkit
Rss:                4096 kB
Anonymous:             0 kB
Private_Dirty:         0 kB
Shared_Dirty:          0 kB
VmFlags: rd ex mr mw me
55d2c0900000-55d2c0940000 r--p 00900000 fe:00 123 /usr/bin/sandkit
Rss:                 256 kB
Anonymous:           256 kB
Private_Dirty:       256 kB
Shared_Dirty:          0 kB
VmFlags: rd mr mw me ac
55d2c0940000-55d2c0950000 rw-p 00940000 fe:00 123 /usr/bin/sandkit
Rss:                  64 kB
Anonymous:            64 kB
Private_Dirty:        64 kB
Shared_Dirty:          0 kB
VmFlags: rd wr mr mw me ac
7f0000000000-7f0000100000 r-xp 00000000 fe:00 456 /usr/lib/x86_64-linux-gnu/librocksdb.so.7.8.3
Rss:                 512 kB
Anonymous:             0 kB
Private_Dirty:         0 kB
Shared_Dirty:          0 kB
VmFlags: rd ex mr mw me lo
7f0000100000-7f0000200000 r-xp 00000000 fe:00 789 /data/cache/abc.cwasm
Rss:                 100 kB
Anonymous:             0 kB
Private_Dirty:         0 kB
Shared_Dirty:          0 kB
VmFlags: rd ex mr mw me
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
Rss:                  16 kB
Anonymous:            16 kB
VmFlags: rd wr mr mw me gd ac
";

    #[test]
    fn only_clean_read_only_mappings_are_releasable() {
        let ms = mappings(SMAPS);
        assert_eq!(ms.len(), 7);
        assert_eq!(ms[0].start, 0x55d2_c000_0000);
        assert_eq!(ms[0].end, 0x55d2_c020_0000);
        assert_eq!(ms[0].path, "/usr/bin/sandkit");
        assert_eq!(ms[1].rss_kib, 4096);
        let releasable: Vec<bool> = ms.iter().map(Mapping::releasable).collect();
        // Text and read-only data of the binary and of a compiled component: yes. RELRO
        // (written before it was made read-only), data, a locked mapping and the stack: no.
        assert_eq!(
            releasable,
            [true, true, false, false, false, true, false],
            "{ms:#?}"
        );
        assert_eq!(ms[2].written_kib, 512);
        assert!(ms[4].locked);
        assert_eq!(ms[6].path, "[stack]");
        assert!(is_shared_library(ms[4].path));
        assert!(is_shared_library("/lib/libc.so"));
        assert!(!is_shared_library(ms[5].path));
    }

    #[test]
    fn released_code_runs_again_and_the_process_keeps_its_data() {
        // Data reached through relocated pointers (a vtable, a static string) before and after.
        let shown: Box<dyn std::fmt::Display> = Box::new(12_345_u64);
        let before = format!("{shown} {}", std::env::consts::OS);
        let file_kib = || {
            std::fs::read_to_string("/proc/self/status")
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix("RssFile:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        };
        let resident = file_kib();
        let released = release_code_pages();
        // Code of the standard library and of this crate runs again (faulted back in) here.
        assert_eq!(format!("{shown} {}", std::env::consts::OS), before);
        if cfg!(target_os = "linux") {
            assert!(released.mappings > 0, "{released:?}");
            assert!(released.kib > 0, "{released:?}");
            let (Some(resident), Some(now)) = (resident, file_kib()) else {
                panic!("no RssFile in /proc/self/status");
            };
            assert!(
                now < resident,
                "file-backed resident {resident} KiB -> {now} KiB"
            );
        }
    }
}
