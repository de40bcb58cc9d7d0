//! Sandkit's IO layer: the point model, the line protocol encoder, and the outputs that points
//! are written to.
//!
//! Plugins (through the runtime) hand points to a [`Sink`]; a writer task owns one [`Output`]
//! and writes what arrives. The sink is bounded, so a slow output pushes back on producers
//! instead of growing a queue. This crate knows nothing of wasmtime: the runtime converts guest
//! values into [`Point`]s at the boundary.

mod ack;
pub mod buffer;
mod compress;
mod error;
mod fetch;
mod http;
mod lineproto;
mod lpdecode;
pub mod lpwriter;
mod nats;
pub mod otlp;
mod output;
pub mod pipeline;
mod point;
pub mod records;
mod remote_write;
mod route;
mod sink;
mod stable;
mod tls;

pub use ack::{Ack, AckOutcome};
pub use compress::Compression;
pub use error::{DecodeError, DecodeReason};
pub use error::{IoError, PointError};
pub use fetch::{fetch, FetchError, FetchRequest, Fetched};
pub use http::{
    lane_families, BufferConfig, Endpoint, HttpOutput, HttpOutputConfig, LaneSnapshot,
    LATENCY_BUCKETS_MS,
};
pub use lineproto::{
    encode_point, encode_point_with, encode_points, encode_points_with, name_as_read_back,
    point_as_read_back, NamePart, TRAILING_BACKSLASH,
};
pub use lpdecode::{decode_lines, LineDecoder, Precision, DEFAULT_MAX_LINE_BYTES};
pub use lpwriter::{line_prefix, LineError, LineWriter, Lines};
pub use nats::{NatsConfig, NatsOutput};
pub use output::{
    Batch, CaptureOutput, Delivery, Encoded, FileOutput, Frames, Output, StdoutOutput,
};
pub use point::{Category, FieldKey, FieldValue, Point, SharedStr, SharedTags};
pub use remote_write::{prom_name, Counters};
pub use route::{name_matches, unrouted_families, Route, Unrouted};
pub use sink::{spawn_writer, BatchConfig, Sink, WriterHandle};
pub use stable::{fnv1a, now_ns};
pub use tls::{build_client, describe_error, HttpClient, TlsProxyConfig};
