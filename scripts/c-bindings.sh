#!/usr/bin/env bash
# The C bindings of sdk/c/gen/ from wit/plugin.wit, made by a small program over the
# `wit-bindgen-c` crate (sdk/c/gen-tool, built once into its own target dir: about 1.5 min the
# first time, nothing after). The output is kept in the repository, so building a C plugin
# needs no generator.
#   bash scripts/c-bindings.sh           regenerate sdk/c/gen
#   bash scripts/c-bindings.sh --check   fail when sdk/c/gen differs from what the WIT gives
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${C_GEN_TARGET_DIR:-$HOME/.cache/sandkit/c-gen-target}
CARGO_TARGET_DIR=$target cargo build -q --release --locked --manifest-path "$root/sdk/c/gen-tool/Cargo.toml"
tool=$target/release/sandkit-c-gen
if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$tool" "$root/wit" "$tmp"
  if ! diff -r "$tmp" "$root/sdk/c/gen" >/dev/null; then
    diff -ru "$root/sdk/c/gen" "$tmp" | head -40 >&2
    echo "sdk/c/gen is not what wit/plugin.wit gives: run bash scripts/c-bindings.sh and commit" >&2
    exit 1
  fi
  echo "c bindings: sdk/c/gen matches wit/plugin.wit"
else
  "$tool" "$root/wit" "$root/sdk/c/gen"
  echo "c bindings: sdk/c/gen written from wit/plugin.wit"
fi
