//! RocksDB loaded on first use (see build.rs): the resolver behind the generated trampolines,
//! and [`load`], which the store calls before its first RocksDB call so that a library that
//! cannot be loaded is an error of `Store::open`, not an abort inside a call.

// Loading a library and jumping into it is unsafe by nature; every block says why it holds.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/names.rs"));

/// The library, by its soname (Debian's `librocksdb7.8`).
pub const LIBRARY: &str = "librocksdb.so.7.8";

// The trampolines (see build.rs): naked jumps, which Rust functions cannot express.
std::arch::global_asm!(
    include_str!(concat!(env!("OUT_DIR"), "/trampolines.s")),
    options(att_syntax)
);

unsafe extern "C" {
    /// The trampolines' table (trampolines.s), one pointer per entry of [`NAMES`].
    static mut sandkit_rdb_ptrs: [usize; NAMES.len()];
}

/// Whether the library is loaded, and which functions it has.
static LOADED: OnceLock<Result<Vec<bool>, String>> = OnceLock::new();

/// Load the library and point every trampoline at its function (once; later calls return the
/// first outcome).
///
/// # Errors
/// The library cannot be loaded (not installed), with `dlopen`'s message.
pub fn load() -> Result<(), String> {
    loaded().map(|_| ())
}

fn loaded() -> Result<&'static [bool], String> {
    LOADED
        .get_or_init(|| {
            let lib = CString::new(LIBRARY).expect("no NUL");
            // SAFETY: a valid C string; the handle is kept for the life of the process.
            let handle = unsafe { libc::dlopen(lib.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
            if handle.is_null() {
                // SAFETY: dlerror returns a C string owned by libc (or null).
                let why = unsafe { libc::dlerror() };
                let why = if why.is_null() {
                    "unknown error".to_string()
                } else {
                    // SAFETY: non-null, NUL-terminated, valid until the next dl* call.
                    unsafe { CStr::from_ptr(why) }.to_string_lossy().into_owned()
                };
                return Err(format!(
                    "cannot load RocksDB ({LIBRARY}): {why}; install it (Debian: apt-get install librocksdb7.8)"
                ));
            }
            // The table is 8-byte aligned usizes (trampolines.s) that only these atomic stores
            // and the trampolines' loads touch.
            let table = (&raw mut sandkit_rdb_ptrs).cast::<usize>();
            let mut found = vec![false; NAMES.len()];
            for (i, name) in NAMES.iter().enumerate() {
                let c = CString::new(*name).expect("no NUL");
                // SAFETY: a valid handle and C string.
                let f = unsafe { libc::dlsym(handle, c.as_ptr()) } as usize;
                if f != 0 {
                    // SAFETY: `i` is within the table, which lives for the whole program.
                    unsafe { AtomicUsize::from_ptr(table.add(i)) }.store(f, Ordering::Release);
                    found[i] = true;
                }
            }
            Ok(found)
        })
        .as_deref()
        .map_err(Clone::clone)
}

/// Called by a trampoline whose function is not resolved yet (the first call of it): the
/// address to jump to. A library that cannot be loaded, or lacks the function, aborts: the
/// store calls [`load`] before any RocksDB call, so this only happens if that was skipped.
#[unsafe(no_mangle)]
extern "C" fn sandkit_rdb_resolve(index: usize) -> usize {
    let found = match loaded() {
        Ok(found) => found,
        Err(e) => {
            eprintln!("sandkit: {e}");
            std::process::abort();
        }
    };
    if !found.get(index).copied().unwrap_or(false) {
        eprintln!(
            "sandkit: {LIBRARY} has no function {}",
            NAMES.get(index).copied().unwrap_or("?")
        );
        std::process::abort();
    }
    let table = (&raw mut sandkit_rdb_ptrs).cast::<usize>();
    // SAFETY: `index` is within the table (it was found), which lives for the whole program.
    unsafe { AtomicUsize::from_ptr(table.add(index)) }.load(Ordering::Acquire)
}
