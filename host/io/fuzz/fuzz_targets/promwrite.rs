//! Arbitrary protobuf (snappy-compressed here) into the Prometheus remote-write decoder of the
//! HTTP server: it must not panic, every point it gives is valid line protocol, and the body
//! limit holds.

#![no_main]

#[path = "../checks/promwrite.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
