//! Request bodies: read up to a size limit, then decompressed (gzip, zstd) up to another, so
//! that neither a large body nor a compression bomb can take the memory.

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body;
use hyper::StatusCode;
use std::io::Read;

/// Why a body was refused; each maps to a status code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("the body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the {encoding} body decompresses to more than the limit of {limit} bytes")]
    DecompressedTooLarge {
        encoding: &'static str,
        limit: usize,
    },
    #[error("Content-Encoding {0:?} is not supported (gzip, zstd or identity)")]
    UnsupportedEncoding(String),
    #[error("the body is not valid {encoding}: {reason}")]
    Corrupt {
        encoding: &'static str,
        reason: String,
    },
    #[error("the body could not be read: {0}")]
    Read(String),
}

impl BodyError {
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge { .. } | BodyError::DecompressedTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            BodyError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyError::Corrupt { .. } | BodyError::Read(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// Read a whole body of at most `limit` bytes. A `Content-Length` above the limit is refused
/// before anything is read.
///
/// # Errors
/// [`BodyError::TooLarge`], or the connection failed while reading.
pub async fn read_limited<B>(
    body: B,
    content_length: Option<u64>,
    limit: usize,
) -> Result<Bytes, BodyError>
where
    B: Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if content_length.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(BodyError::TooLarge { limit })
        }
        Err(e) => Err(BodyError::Read(e.to_string())),
    }
}

/// The body as its `Content-Encoding` says (none, `identity`, `gzip`, `x-gzip`, `zstd`),
/// decompressed to at most `limit` bytes. Runs on the caller's thread: call it off the async
/// workers for large bodies.
///
/// # Errors
/// An unknown encoding, a corrupt body, or one that decompresses past the limit.
pub fn decode(encoding: Option<&str>, body: Bytes, limit: usize) -> Result<Bytes, BodyError> {
    let encoding = encoding.map(|e| e.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("") | Some("identity") => Ok(body),
        Some("gzip") | Some("x-gzip") => {
            inflate("gzip", flate2::read::MultiGzDecoder::new(&body[..]), limit)
        }
        Some("zstd") => {
            let d =
                zstd::stream::read::Decoder::new(&body[..]).map_err(|e| BodyError::Corrupt {
                    encoding: "zstd",
                    reason: e.to_string(),
                })?;
            inflate("zstd", d, limit)
        }
        Some(other) => Err(BodyError::UnsupportedEncoding(other.to_string())),
    }
}

/// Read `reader` to its end, refusing more than `limit` bytes: at most `limit + 1` are ever
/// held.
fn inflate(encoding: &'static str, reader: impl Read, limit: usize) -> Result<Bytes, BodyError> {
    let mut out = Vec::new();
    let mut r = reader.take((limit as u64).saturating_add(1));
    r.read_to_end(&mut out).map_err(|e| BodyError::Corrupt {
        encoding,
        reason: e.to_string(),
    })?;
    if out.len() > limit {
        return Err(BodyError::DecompressedTooLarge { encoding, limit });
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Bytes {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        Bytes::from(e.finish().unwrap())
    }

    #[test]
    fn encodings_round_trip() {
        let data = b"m f=1i 1\n".repeat(100);
        assert_eq!(
            decode(None, Bytes::from(data.clone()), 1 << 20).unwrap(),
            data
        );
        assert_eq!(decode(Some("GZIP"), gzip(&data), 1 << 20).unwrap(), data);
        let z = zstd::bulk::compress(&data, 1).unwrap();
        assert_eq!(decode(Some("zstd"), Bytes::from(z), 1 << 20).unwrap(), data);
        assert_eq!(
            decode(Some("br"), Bytes::new(), 10).unwrap_err(),
            BodyError::UnsupportedEncoding("br".into())
        );
    }

    #[test]
    fn a_bomb_is_refused_at_the_limit() {
        // 64 MiB of zeros: about 64 KiB of gzip.
        let bomb = gzip(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 1 << 20);
        let e = decode(Some("gzip"), bomb, 1 << 20).unwrap_err();
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let z = zstd::bulk::compress(&vec![0u8; 8 << 20], 3).unwrap();
        let e = decode(Some("zstd"), Bytes::from(z), 1 << 20).unwrap_err();
        assert!(matches!(e, BodyError::DecompressedTooLarge { .. }), "{e}");
        // Exactly at the limit is fine.
        assert_eq!(
            decode(Some("gzip"), gzip(&[7; 100]), 100).unwrap().len(),
            100
        );
    }

    #[test]
    fn corrupt_bodies_are_bad_requests() {
        let e = decode(Some("gzip"), Bytes::from_static(b"not gzip"), 100).unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let e = decode(Some("zstd"), Bytes::from_static(b"not zstd"), 100).unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn bodies_past_the_limit_are_refused() {
        let body = Full::new(Bytes::from(vec![1u8; 1000]));
        assert_eq!(
            read_limited(body, None, 999).await.unwrap_err(),
            BodyError::TooLarge { limit: 999 }
        );
        let body = Full::new(Bytes::from(vec![1u8; 1000]));
        assert_eq!(read_limited(body, None, 1000).await.unwrap().len(), 1000);
        // A declared length past the limit is refused without reading.
        let body = Full::new(Bytes::new());
        assert!(read_limited(body, Some(5000), 1000).await.is_err());
    }
}
