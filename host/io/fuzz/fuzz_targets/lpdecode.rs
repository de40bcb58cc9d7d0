//! Arbitrary bytes into the line protocol decoder: it must not panic, must give the same
//! points and errors however the input is chunked, and what it decodes must encode to a text
//! that decodes to the same points (less what line protocol cannot carry in a name:
//! `name_as_read_back`).

#![no_main]

#[path = "../checks/lpdecode.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
