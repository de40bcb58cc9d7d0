//! Load tests: a binary of their own, so that they do not run beside the timing-sensitive tests
//! of `all` (cargo runs test binaries one after another). They need the binary (`make host`).

#![allow(clippy::unwrap_used)] // tests may unwrap (CONVENTIONS.md)

mod http;
