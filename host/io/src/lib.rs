//! Sandkit's IO layer: the point model, the line protocol encoder, and the outputs that points
//! are written to.
//!
//! Plugins (through the runtime) hand points to a [`Sink`]; a writer task owns one [`Output`]
//! and writes what arrives. The sink is bounded, so a slow output pushes back on producers
//! instead of growing a queue. This crate knows nothing of wasmtime: the runtime converts guest
//! values into [`Point`]s at the boundary.

mod error;
mod lineproto;
mod output;
mod point;
mod sink;

pub use error::{IoError, PointError};
pub use lineproto::{encode_point, encode_points};
pub use output::{CaptureOutput, FileOutput, Output, StdoutOutput};
pub use point::{Category, FieldValue, Point};
pub use sink::{spawn_writer, Sink, WriterHandle};
