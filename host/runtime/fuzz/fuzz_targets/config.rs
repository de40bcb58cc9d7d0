//! Arbitrary text as a conf.d plugin config: parsing must not panic, and a refusal names the
//! file it is about.

#![no_main]

#[path = "../checks/config.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
