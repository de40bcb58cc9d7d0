//! RocksDB is Debian's `librocksdb.a`, linked statically (`ROCKSDB_STATIC` in .cargo/config.toml):
//! an agent without file tasks then pays only for the pages of it that run, where the shared
//! library's relocations and symbol tables were touched at every start (docs/performance.md).
//! The archive needs the compression libraries the shared library would have pulled in.
fn main() {
    println!("cargo:rerun-if-env-changed=ROCKSDB_STATIC");
    if std::env::var_os("ROCKSDB_STATIC").is_some() {
        for lib in ["snappy", "lz4", "zstd", "bz2", "z"] {
            println!("cargo:rustc-link-lib=dylib={lib}");
        }
    }
}
