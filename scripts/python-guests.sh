#!/usr/bin/env bash
# Build every Python plugin project (guests/python/*, guests/python-testing/*) with
# `sandkit plugin build` into build/wasm/NAME.wasm. Components are cached by the hash of what
# goes into them (the project, the SDK, the WIT, componentize-py's version) under
# $PY_GUEST_CACHE, so a fresh clone on the same machine does not rebuild them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SANDKIT_BIN:?SANDKIT_BIN: the sandkit binary}
tool=${SANDKIT_COMPONENTIZE_PY:?SANDKIT_COMPONENTIZE_PY: componentize-py}
cache=${PY_GUEST_CACHE:-$HOME/.cache/sandkit/python-guests}
out=$root/build/wasm
mkdir -p "$cache" "$out"
version=$("$tool" --version)
# "stamp-1": what `sandkit plugin build` adds to a component (the language stamp).
sdk_hash=$(cd "$root" && { cat wit/plugin.wit sdk/python/sandkit_sdk/*.py; echo stamp-1; } | sha256sum | cut -c1-16)
n=0
for manifest in "$root"/guests/python/*/sandkit-plugin.toml "$root"/guests/python-testing/*/sandkit-plugin.toml; do
  [ -e "$manifest" ] || continue
  dir=$(dirname "$manifest")
  name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest")
  hash=$( (cd "$dir" && find . -type f -name '*.py' ! -name 'test_*' ! -path './.sandkit/*' -print0 \
            | sort -z | xargs -0 sha256sum; cat sandkit-plugin.toml; echo "$version $sdk_hash") \
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
echo "python guests: $n components in build/wasm"
