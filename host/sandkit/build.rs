//! Link options of the agent binary.
fn main() {
    // Relative relocations packed (DT_RELR, glibc 2.36+, binutils 2.38+): the binary is
    // position-independent (ASLR), and its ~40,000 relative relocations took ~1 MiB of
    // `.rela.dyn` that the loader read at every start; packed, they take a few KiB.
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    // The functions a running agent calls every interval (collecting, encoding, writing,
    // status), laid out together: the kernel maps code in 64 KiB blocks around each page that
    // runs, and scattered over the binary these 400 functions (410 KiB) kept 4.8 MiB resident
    // (docs/performance.md, "Start-up code released"). Names that no longer exist (a dependency
    // update renames what it touches) are skipped; `benches/link-order.sh` refreshes the list
    // and, with `--check`, counts the names that still match.
    // The manifest directory of this build, read when the script runs: `env!` would keep the
    // one the script was compiled in, and clones that share a target directory (CI's) reuse
    // the compiled script.
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let order = std::path::Path::new(&dir).join("link-order.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}
