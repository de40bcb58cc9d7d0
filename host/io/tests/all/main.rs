//! Integration tests of sandkit-io: one binary, one module per topic.

#![allow(clippy::unwrap_used)] // tests may unwrap (CONVENTIONS.md)

mod fuzz_corpus;
mod golden_records;
mod line_protocol;
