//! Body compression for HTTP outputs: gzip (DataWay's default) and zstd.

use std::io::Write;

/// How a request body is compressed; sets `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    /// gzip at a level 0-9.
    Gzip(u32),
    /// zstd at a level 1-19.
    Zstd(i32),
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
            Compression::Zstd(level) => zstd::bulk::compress(data, level.clamp(1, 19)),
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
            "zstd" => {
                let l = level.unwrap_or(1);
                if (1..=19).contains(&l) {
                    Ok(Compression::Zstd(l))
                } else {
                    Err(format!("zstd level {l} is outside 1-19"))
                }
            }
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
    }
}
