//! Body compression for HTTP outputs: gzip (DataWay's default) and zstd.

use std::io::Write;

/// How a request body is compressed; sets `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    /// gzip at a level 0-9.
    Gzip(u32),
    /// zstd at a level from -7 (its fastest) to 19; negative levels trade ratio for speed.
    Zstd(i32),
}

/// zstd's levels offered: its fast (negative) levels down to -7, and 1-19.
pub const ZSTD_LEVELS: std::ops::RangeInclusive<i32> = -7..=19;

thread_local! {
    /// The zstd context of this thread and its level, reused from batch to batch: a context
    /// is megabytes of tables, set up again on every call otherwise.
    static ZSTD: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
}

fn zstd_compress(data: &[u8], level: i32) -> std::io::Result<Vec<u8>> {
    let level = level.clamp(*ZSTD_LEVELS.start(), *ZSTD_LEVELS.end());
    ZSTD.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            *slot = Some((level, zstd::bulk::Compressor::new(level)?));
        }
        let (_, c) = slot.as_mut().expect("set above");
        c.compress(data)
    })
}

impl Compression {
    /// The `Content-Encoding` value, or `None` for an uncompressed body.
    pub fn content_encoding(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip(_) => Some("gzip"),
            Compression::Zstd(_) => Some("zstd"),
        }
    }

    /// Compress `data`.
    ///
    /// # Errors
    /// Only on an internal compressor failure (writing to memory does not fail otherwise).
    pub fn compress(self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Compression::None => Ok(data.to_vec()),
            Compression::Gzip(level) => {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 4),
                    flate2::Compression::new(level.min(9)),
                );
                enc.write_all(data)?;
                enc.finish()
            }
            Compression::Zstd(level) => zstd_compress(data, level),
        }
    }

    /// Parse `"gzip"`, `"zstd"` or `"none"` with an optional level.
    ///
    /// # Errors
    /// An unknown name, or a level out of range for the codec.
    pub fn parse(name: &str, level: Option<i32>) -> Result<Compression, String> {
        match name {
            "none" | "identity" => Ok(Compression::None),
            "gzip" => {
                let l = level.unwrap_or(1);
                u32::try_from(l)
                    .ok()
                    .filter(|l| *l <= 9)
                    .map(Compression::Gzip)
                    .ok_or_else(|| format!("gzip level {l} is outside 0-9"))
            }
            "zstd" => match level.unwrap_or(1) {
                0 => Err("zstd level 0 is not a level here (zstd reads it as 3): use -7 to -1 (fastest) or 1 to 19".into()),
                l if ZSTD_LEVELS.contains(&l) => Ok(Compression::Zstd(l)),
                l => Err(format!("zstd level {l} is outside -7 to 19")),
            },
            other => Err(format!(
                "{other:?} is not a compression; use \"gzip\", \"zstd\" or \"none\""
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn gzip_and_zstd_round_trip() {
        let data = b"cpu,host=a usage=1.5 1\n".repeat(100);
        let gz = Compression::Gzip(1).compress(&data).unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        let zs = Compression::Zstd(3).compress(&data).unwrap();
        assert_eq!(zstd::decode_all(&zs[..]).unwrap(), data);
        // Fast levels, and a level change on the same thread (the context is made again).
        for level in [-7, -1, 1, 3] {
            let zs = Compression::Zstd(level).compress(&data).unwrap();
            assert_eq!(zstd::decode_all(&zs[..]).unwrap(), data, "level {level}");
        }
        assert!(gz.len() < data.len() && zs.len() < data.len());
    }

    #[test]
    fn parse_checks_names_and_levels() {
        assert_eq!(
            Compression::parse("gzip", None).unwrap(),
            Compression::Gzip(1)
        );
        assert_eq!(
            Compression::parse("zstd", Some(3)).unwrap(),
            Compression::Zstd(3)
        );
        assert!(Compression::parse("brotli", None).is_err());
        assert!(Compression::parse("gzip", Some(12)).is_err());
        assert!(Compression::parse("zstd", Some(0)).is_err());
        assert!(Compression::parse("zstd", Some(-8)).is_err());
        assert!(Compression::parse("zstd", Some(20)).is_err());
        assert_eq!(
            Compression::parse("zstd", Some(-5)).unwrap(),
            Compression::Zstd(-5)
        );
    }
}
