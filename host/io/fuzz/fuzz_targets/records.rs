//! Arbitrary bytes into the pipeline record reader (what a guest's `process` returns): it must
//! not panic, and what it accepts stays within the output limits.

#![no_main]

#[path = "../checks/records.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
