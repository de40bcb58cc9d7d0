//! Sandkit integration tests: one binary, one module per topic. They need the guests
//! (`make guests`) and the binary (`make host`); `make test` builds both first.

#![allow(clippy::unwrap_used)] // tests may unwrap (CONVENTIONS.md)

mod c;
mod catalog;
mod cli;
mod collectors;
mod compile;
mod docs;
mod durability;
mod election;
mod faults;
mod files;
mod fuzz_corpus;
mod influxdb;
mod js;
mod lpdiff;
mod nats;
mod otlp;
mod outputs;
mod pipelines;
mod plugins_dir;
mod python;
mod remote_write;
mod routing;
mod sandbox;
mod scrape;
mod server;
