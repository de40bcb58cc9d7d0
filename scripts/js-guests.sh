#!/usr/bin/env bash
# Build every JavaScript/TypeScript plugin project (guests/js/*, guests/js-testing/*) with
# `sandkit plugin build` into build/wasm/NAME.wasm. Components are cached by the hash of what
# goes into them (the project's sources, the SDK, the WIT, the build script and the toolchain's
# lock) under $JS_GUEST_CACHE, so a fresh clone on the same machine does not rebuild them (a
# build takes 5-20 s).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SANDKIT_BIN:?SANDKIT_BIN: the sandkit binary}
: "${SANDKIT_JS_TOOLCHAIN:?SANDKIT_JS_TOOLCHAIN: the directory of the JS toolchain (make jsdeps)}"
export SANDKIT_JS_TOOLCHAIN
cache=${JS_GUEST_CACHE:-$HOME/.cache/sandkit/js-guests}
out=$root/build/wasm
mkdir -p "$cache" "$out"
sdk_hash=$(cd "$root" && cat wit/plugin.wit sdk/js/package.json sdk/js/src/*.js sdk/js/toolchain/build.mjs \
             sdk/js/toolchain/package-lock.json | sha256sum | cut -c1-16)
n=0
for manifest in "$root"/guests/js/*/sandkit-plugin.toml "$root"/guests/js-testing/*/sandkit-plugin.toml; do
  [ -e "$manifest" ] || continue
  dir=$(dirname "$manifest")
  name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest")
  hash=$( (cd "$dir" && find . -type f \( -name '*.js' -o -name '*.ts' -o -name '*.mjs' \) ! -name '*.test.js' \
             ! -path './.sandkit/*' ! -path './node_modules/*' -print0 \
            | sort -z | xargs -0 sha256sum; cat sandkit-plugin.toml; echo "$sdk_hash") \
          | sha256sum | cut -c1-16)
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
echo "js guests: $n components in build/wasm"
