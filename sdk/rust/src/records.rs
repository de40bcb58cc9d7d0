//! The pipeline record encoding: what a pipeline's `process` returns. The encoding lives in
//! the `sandkit-records` crate, shared with the agent that reads it; this module is that crate:
//! [`Records`] and [`Record`] to write an output, [`decode`] to check one in a test.

pub use sandkit_records::*;
