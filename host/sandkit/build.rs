//! Link options of the agent binary.
fn main() {
    // Relative relocations packed (DT_RELR, glibc 2.36+, binutils 2.38+): the binary is
    // position-independent (ASLR), and its ~40,000 relative relocations took ~1 MiB of
    // `.rela.dyn` that the loader read at every start; packed, they take a few KiB.
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
}
