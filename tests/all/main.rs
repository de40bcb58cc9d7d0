//! Sandkit integration tests: one binary, one module per topic. They need the guests
//! (`make guests`) and the binary (`make host`); `make test` builds both first.

mod cli;
mod collectors;
mod faults;
mod plugins_dir;
mod sandbox;
