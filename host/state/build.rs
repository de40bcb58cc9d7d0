//! RocksDB is loaded when the store is first opened, not when the agent starts.
//!
//! Linked normally, Debian's `librocksdb.so.7.8` (or its static archive) runs its C++ static
//! initialisers and has its symbols resolved at every start: about 4.5 MiB of resident code
//! (RocksDB's and libstdc++'s) in an agent that has no file task and never opens the store
//! (docs/performance.md). Here `librocksdb-sys` links an empty archive (`lazy/librocksdb.a`,
//! through `ROCKSDB_LIB_DIR` and `ROCKSDB_STATIC` in .cargo/config.toml), and this script
//! generates, for every function of RocksDB's C API (`lazy/symbols.txt`, the exports of the
//! Debian library), a symbol that jumps through a table. The table starts out pointing at a
//! resolver that `dlopen`s the library and fills it (src/lazy.rs); from then on a call is one
//! indirect jump.
use std::fmt::Write as _;

fn main() {
    println!("cargo:rerun-if-changed=lazy/symbols.txt");
    let list = std::fs::read_to_string("lazy/symbols.txt").expect("lazy/symbols.txt");
    let names: Vec<&str> = list.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut asm = String::new();
    // The table: one pointer per function, first at its resolving stub.
    asm.push_str(".pushsection .data\n.p2align 3\n.globl sandkit_rdb_ptrs\nsandkit_rdb_ptrs:\n");
    for n in &names {
        let _ = writeln!(asm, "  .quad {n}__sk_resolve");
    }
    asm.push_str(".popsection\n.pushsection .text\n");
    for (i, n) in names.iter().enumerate() {
        let _ = write!(
            asm,
            ".globl {n}\n.type {n},@function\n.p2align 4\n{n}:\n  jmp *(sandkit_rdb_ptrs+{off})(%rip)\n\
             {n}__sk_resolve:\n  mov ${i}, %r11d\n  jmp sandkit_rdb_trampoline\n",
            off = i * 8
        );
    }
    // The first call of any function: save the argument registers (integer and vector), ask
    // `sandkit_rdb_resolve(index)` for the address (it loads the library once), restore them
    // and jump there, as if the caller had called the function itself. Entered with the stack
    // at 8 mod 16 (a call's return address): rbp, eight registers and 128 bytes keep the call
    // below aligned.
    asm.push_str(
        "sandkit_rdb_trampoline:\n  push %rbp\n  mov %rsp, %rbp\n  push %rdi\n  push %rsi\n  push %rdx\n  push %rcx\n  push %r8\n  push %r9\n  push %rax\n  push %r11\n  sub $128, %rsp\n",
    );
    for x in 0..8 {
        let _ = writeln!(asm, "  movdqu %xmm{x}, {}(%rsp)", x * 16);
    }
    asm.push_str("  mov %r11, %rdi\n  call sandkit_rdb_resolve\n  mov %rax, %r10\n");
    for x in 0..8 {
        let _ = writeln!(asm, "  movdqu {}(%rsp), %xmm{x}", x * 16);
    }
    asm.push_str(
        "  add $128, %rsp\n  pop %r11\n  pop %rax\n  pop %r9\n  pop %r8\n  pop %rcx\n  pop %rdx\n  pop %rsi\n  pop %rdi\n  pop %rbp\n  jmp *%r10\n.popsection\n",
    );
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("trampolines.s"), asm).expect("write trampolines.s");
    let mut rs = String::from("/// RocksDB's C API functions, in the order of the table.\npub(crate) const NAMES: &[&str] = &[\n");
    for n in &names {
        let _ = writeln!(rs, "    \"{n}\",");
    }
    rs.push_str("];\n");
    std::fs::write(out.join("names.rs"), rs).expect("write names.rs");
}
