#!/usr/bin/env bash
# Build every plugin project of one guest language with `sandkit plugin build` into
# build/wasm/NAME.wasm:
#   python  guests/python/*, guests/python-testing/*  (componentize-py: SANDKIT_COMPONENTIZE_PY)
#   js      guests/js/*, guests/js-testing/*          (componentize-js: SANDKIT_JS_TOOLCHAIN)
#   c       guests/c/*, guests/c-testing/*            (clang: SANDKIT_CLANG or clang-19)
# Components are cached by the hash of what goes into them (the project's sources and manifest,
# the SDK, the WIT, the builder's own code, the toolchain's version) under
# $GUEST_CACHE (default ~/.cache/sandkit/LANG-guests), so a fresh clone on the same machine does
# not rebuild them (a Python or JS build takes 5-20 s).
#   bash scripts/plugin-guests.sh LANG      (SANDKIT_BIN: the sandkit binary)
set -euo pipefail
lang=${1:?usage: plugin-guests.sh python|js|c}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SANDKIT_BIN:?SANDKIT_BIN: the sandkit binary}
cache=${GUEST_CACHE:-$HOME/.cache/sandkit/$lang-guests}
out=$root/build/wasm
mkdir -p "$cache" "$out"
cd "$root"
# What every language's build depends on: the contract and the builder (which stamps).
common=(wit/plugin.wit host/sandkit/src/author/mod.rs)
case "$lang" in
  python)
    tool=${SANDKIT_COMPONENTIZE_PY:?SANDKIT_COMPONENTIZE_PY: componentize-py}
    version=$("$tool" --version)
    sdk=(sdk/python/sandkit_sdk/*.py host/sandkit/src/author/python.rs)
    # The project's sources: every .py but the tests.
    sources() { find . -type f -name '*.py' ! -name 'test_*' ! -path './.sandkit/*' -print0; }
    ;;
  js)
    : "${SANDKIT_JS_TOOLCHAIN:?SANDKIT_JS_TOOLCHAIN: the directory of the JS toolchain (make jsdeps)}"
    export SANDKIT_JS_TOOLCHAIN
    version=$(node --version)
    sdk=(sdk/js/package.json sdk/js/src/*.js sdk/js/toolchain/build.mjs sdk/js/toolchain/package-lock.json
         host/sandkit/src/author/js.rs)
    sources() {
      find . -type f \( -name '*.js' -o -name '*.ts' -o -name '*.mjs' \) ! -name '*.test.js' \
        ! -path './.sandkit/*' ! -path './node_modules/*' -print0
    }
    ;;
  c)
    clang=${SANDKIT_CLANG:-$(command -v clang-19 || command -v clang || echo clang)}
    version=$("$clang" --version | head -1)
    sdk=(sdk/c/sandkit.h sdk/c/sandkit.c sdk/c/gen/* host/sandkit/src/author/c.rs)
    sources() { find . -maxdepth 1 -type f -name '*.c' -print0; }
    ;;
  *)
    echo "plugin-guests.sh: unknown language $lang (python, js or c)" >&2
    exit 2
    ;;
esac
sdk_hash=$( { cat "${common[@]}" "${sdk[@]}"; echo "$version"; } | sha256sum | cut -c1-16)
n=0
for manifest in guests/"$lang"/*/sandkit-plugin.toml guests/"$lang"-testing/*/sandkit-plugin.toml; do
  [ -e "$manifest" ] || continue
  dir=$root/$(dirname "$manifest")
  name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest")
  hash=$( (cd "$dir" && sources | sort -z | xargs -0 sha256sum; cat sandkit-plugin.toml; cat conf.toml 2>/dev/null; echo "$sdk_hash") \
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
echo "$lang guests: $n components in build/wasm"
