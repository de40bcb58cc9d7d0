//! Which file is which: device and inode, plus a fingerprint of the first bytes (as Vector
//! does), so that a reused inode or a file truncated and written again is recognised as new.
//!
//! The fingerprint covers the first [`FINGERPRINT_BYTES`] bytes, or all of a shorter file; it
//! records how many bytes it covers, so a file that has grown is checked against the same
//! prefix and then fingerprinted further.

use serde::{Deserialize, Serialize};
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

/// Bytes at the start of a file that identify its content.
pub const FINGERPRINT_BYTES: usize = 1024;

/// Device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    pub fn of(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

impl std::fmt::Display for FileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.dev, self.ino)
    }
}

/// A hash of a file's first `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub len: u32,
    pub hash: u64,
}

/// How a file compares with the fingerprint saved for its inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The same content (possibly grown since).
    Same,
    /// Shorter than the saved prefix, or another content: read it from the start.
    Changed,
}

/// Fingerprint the first `min(len, FINGERPRINT_BYTES)` bytes of `file`.
///
/// # Errors
/// When the file cannot be read.
pub fn fingerprint(file: &File, len: u64) -> io::Result<Fingerprint> {
    prefix_fingerprint(file, len.min(FINGERPRINT_BYTES as u64) as usize)
}

fn prefix_fingerprint(file: &File, n: usize) -> io::Result<Fingerprint> {
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match file.read_at(&mut buf[got..], got as u64)? {
            0 => break,
            k => got += k,
        }
    }
    Ok(Fingerprint {
        len: got as u32,
        hash: sandkit_io::fnv1a(&buf[..got]),
    })
}

/// Compare `file` (now `len` bytes long) with the fingerprint saved for its inode.
///
/// # Errors
/// When the file cannot be read.
pub fn compare(saved: Fingerprint, file: &File, len: u64) -> io::Result<Seen> {
    if len < u64::from(saved.len) {
        return Ok(Seen::Changed);
    }
    let now = prefix_fingerprint(file, saved.len as usize)?;
    Ok(if now == saved {
        Seen::Same
    } else {
        Seen::Changed
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn grown_is_same_rewritten_or_truncated_is_changed() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.log");
        std::fs::write(&p, b"first line\n").unwrap();
        let f = File::open(&p).unwrap();
        let fp = fingerprint(&f, 11).unwrap();
        assert_eq!(fp.len, 11);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(&[b'x'; 5000])
            .unwrap();
        assert_eq!(compare(fp, &f, 5011).unwrap(), Seen::Same);
        let longer = fingerprint(&f, 5011).unwrap();
        assert_eq!(longer.len as usize, FINGERPRINT_BYTES);
        // copytruncate, then new lines: shorter than the prefix, or another prefix.
        std::fs::write(&p, b"new\n").unwrap();
        assert_eq!(compare(fp, &f, 4).unwrap(), Seen::Changed);
        std::fs::write(&p, b"other line!\nmore").unwrap();
        assert_eq!(compare(fp, &f, 16).unwrap(), Seen::Changed);
        let meta = std::fs::metadata(&p).unwrap();
        assert_eq!(FileId::of(&meta), FileId::of(&f.metadata().unwrap()));
    }
}
