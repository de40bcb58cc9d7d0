//! Test guest of the wrong world: a plain program, built for wasm32-wasip2 it is a
//! `wasi:cli/command` component instead of a `sandkit:plugin/collector` one. The host must refuse
//! to load it with a clear error rather than fail later.
fn main() {
    println!("hello");
}
