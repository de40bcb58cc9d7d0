#!/usr/bin/env bash
# Build every C plugin project (guests/c/*, guests/c-testing/*) with `sandkit plugin build`
# into build/wasm/NAME.wasm. Components are cached by the hash of what goes into them (the
# project's C files and manifest, the SDK, the WIT, clang's version) under $C_GUEST_CACHE, so a
# fresh clone on the same machine does not rebuild them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SANDKIT_BIN:?SANDKIT_BIN: the sandkit binary}
cache=${C_GUEST_CACHE:-$HOME/.cache/sandkit/c-guests}
out=$root/build/wasm
mkdir -p "$cache" "$out"
clang=${SANDKIT_CLANG:-$(command -v clang-19 || command -v clang || echo clang)}
version=$("$clang" --version | head -1)
sdk_hash=$(cd "$root" && cat wit/plugin.wit sdk/c/sandkit.h sdk/c/sandkit.c sdk/c/gen/* host/sandkit/src/author/c.rs \
           | sha256sum | cut -c1-16)
n=0
for manifest in "$root"/guests/c/*/sandkit-plugin.toml "$root"/guests/c-testing/*/sandkit-plugin.toml; do
  [ -e "$manifest" ] || continue
  dir=$(dirname "$manifest")
  name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest")
  hash=$( (cd "$dir" && find . -maxdepth 1 -type f -name '*.c' -print0 | sort -z | xargs -0 sha256sum; \
            cat sandkit-plugin.toml; echo "$version $sdk_hash") | sha256sum | cut -c1-16)
  cached=$cache/$name-$hash.wasm
  if [ ! -s "$cached" ]; then
    "$bin" plugin build "$dir" -o "$cached.part.wasm"
    mv "$cached.part.wasm" "$cached"
  fi
  cp "$cached" "$out/.$name.tmp" && mv "$out/.$name.tmp" "$out/$name.wasm"
  n=$((n + 1))
done
# Keep the cache from growing without end: components older than 30 days go.
find "$cache" -name '*.wasm' -mtime +30 -delete 2>/dev/null || true
echo "c guests: $n components in build/wasm"
