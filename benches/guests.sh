#!/usr/bin/env bash
# Python guests beside Rust ones, same run, same machine: size, build time, cold compile and
# cached load, linear memory of an instance, the cost of a collect, and a pipeline's cost per
# line. Both languages build the same scaffolds (`sandkit plugin new`), so the figures compare
# the languages, not the plugins. Medians of RUNS runs (default 5).
#
# Needs `make build` (the binary and the Python venv). Environment:
#   RUNS          runs per figure (default 5)
#   SANDKIT_BIN   the binary (default $CARGO_TARGET_DIR/release/sandkit)
#   KEEP=1        keep the temporary directory
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sandkit/target}"
BIN="${SANDKIT_BIN:-$CARGO_TARGET_DIR/release/sandkit}"
RUNS="${RUNS:-5}"
export SANDKIT_COMPONENTIZE_PY="${SANDKIT_COMPONENTIZE_PY:-$HOME/.cache/sandkit/py/bin/componentize-py}"
export RUST_BACKTRACE=0
[[ -x "$BIN" ]] || { echo "guests.sh: $BIN not found: run \`make build\` first" >&2; exit 1; }
[[ -x "$SANDKIT_COMPONENTIZE_PY" ]] || { echo "guests.sh: componentize-py not found: run \`make pydeps\`" >&2; exit 1; }

TMP="$(mktemp -d -t sandkit-guests.XXXXXX)"
[[ "${KEEP:-}" == 1 ]] || trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }

# Lines for the pipelines: "LEVEL message" as the scaffold's pipeline parses them.
python3 -c "
import random
r = random.Random(7)
for i in range(20000):
    print(r.choice(['INFO', 'WARN', 'ERROR', 'DEBUG']), 'request', i, 'served in', r.randint(1, 999), 'ms')
" > lines.txt

declare -A R
for lang in rust python; do
  for world in collector pipeline; do
    name="${lang:0:2}$world"
    "$BIN" plugin new "$name" --lang "$lang" --world "$world" >/dev/null 2>&1
    # The first Rust build fetches and compiles the SDK's dependencies: not counted.
    [[ "$lang" == rust ]] && CARGO_TARGET_DIR="$TMP/target-$name" "$BIN" plugin build "$name" >/dev/null 2>&1
    builds=()
    for _ in $(seq "$RUNS"); do
      if [[ "$lang" == rust ]]; then touch "$name/src/lib.rs"; else touch "$name/app.py"; fi
      t0=$(now)
      CARGO_TARGET_DIR="$TMP/target-$name" "$BIN" plugin build "$name" >/dev/null 2>&1
      builds+=("$(secs "$t0" "$(now)")")
    done
    R[$name.build]=$(printf '%s\n' "${builds[@]}" | median)
    R[$name.size]=$(stat -c %s "$name/$name.wasm" | awk '{printf "%.2f", $1/1e6}')
  done
done

for lang in rust python; do
  name="${lang:0:2}collector"
  cold=(); cached=(); calls=(); mem=""
  for _ in $(seq "$RUNS"); do
    rm -rf home; mkdir home
    t0=$(now); HOME="$TMP/home" "$BIN" plugin test -c "$name/conf.toml" "$name/$name.wasm" >/dev/null 2>&1
    cold+=("$(secs "$t0" "$(now)")")
    t0=$(now); HOME="$TMP/home" "$BIN" plugin test -c "$name/conf.toml" "$name/$name.wasm" >/dev/null 2>&1
    cached+=("$(secs "$t0" "$(now)")")
  done
  # 50 collects back to back on one instance: the median call (µs) and the instance's memory.
  HOME="$TMP/home" "$BIN" plugin test -c "$name/conf.toml" --count 50 --every 0s "$name/$name.wasm" 2> calls.txt >/dev/null
  calls_us=$(grep '^# collect' calls.txt | sed -E 's/.*, ([0-9.]+)(µs|ms|s), memory.*/\1 \2/' \
    | awk '{v=$1; if ($2=="ms") v*=1000; else if ($2=="s") v*=1e6; print v}' | median)
  fuel=$(grep '^# collect' calls.txt | sed -E 's/.* ([0-9]+) fuel.*/\1/' | median)
  mem=$(grep '^# collect' calls.txt | tail -1 | sed -E 's/.*memory peak ([0-9]+) KiB.*/\1/')
  R[$name.cold]=$(printf '%s\n' "${cold[@]}" | median)
  R[$name.cached]=$(printf '%s\n' "${cached[@]}" | median)
  R[$name.call]=$calls_us
  R[$name.fuel]=$fuel
  R[$name.mem]=$(awk -v k="$mem" 'BEGIN {printf "%.1f", k/1024}')

  name="${lang:0:2}pipeline"
  HOME="$TMP/home" "$BIN" plugin test "$name/$name.wasm" < lines.txt >/dev/null 2>&1 || true
  per=()
  for _ in $(seq "$RUNS"); do
    HOME="$TMP/home" "$BIN" pipeline test "$name/$name.wasm" < lines.txt 2> p.txt >/dev/null
    per+=("$(grep -E '^# [0-9]+ lines' p.txt | sed -E 's/.* ([0-9]+) µs CPU in process calls.*/\1/' | awk '{printf "%.2f", $1/20000}')")
  done
  R[$name.line]=$(printf '%s\n' "${per[@]}" | median)
done

cat <<TABLE
| figure (median of $RUNS) | Rust | Python | Python / Rust |
|---|---|---|---|
| collector component size | ${R[rucollector.size]} MB | ${R[pycollector.size]} MB | $(awk -v a="${R[rucollector.size]}" -v b="${R[pycollector.size]}" 'BEGIN {printf "%.0fx", b/a}') |
| \`sandkit plugin build\` (warm toolchain) | ${R[rucollector.build]} s | ${R[pycollector.build]} s | $(awk -v a="${R[rucollector.build]}" -v b="${R[pycollector.build]}" 'BEGIN {printf "%.1fx", b/a}') |
| \`plugin test\`, cold cache (compile + one collect) | ${R[rucollector.cold]} s | ${R[pycollector.cold]} s | $(awk -v a="${R[rucollector.cold]}" -v b="${R[pycollector.cold]}" 'BEGIN {printf "%.0fx", b/a}') |
| \`plugin test\`, from the cache | ${R[rucollector.cached]} s | ${R[pycollector.cached]} s | $(awk -v a="${R[rucollector.cached]}" -v b="${R[pycollector.cached]}" 'BEGIN {printf "%.1fx", b/a}') |
| linear memory of an instance (peak) | ${R[rucollector.mem]} MiB | ${R[pycollector.mem]} MiB | $(awk -v a="${R[rucollector.mem]}" -v b="${R[pycollector.mem]}" 'BEGIN {printf "%.0fx", b/a}') |
| one collect (read /proc/loadavg, one point) | ${R[rucollector.call]} µs | ${R[pycollector.call]} µs | $(awk -v a="${R[rucollector.call]}" -v b="${R[pycollector.call]}" 'BEGIN {printf "%.0fx", b/a}') |
| fuel of that collect | ${R[rucollector.fuel]} | ${R[pycollector.fuel]} | $(awk -v a="${R[rucollector.fuel]}" -v b="${R[pycollector.fuel]}" 'BEGIN {printf "%.0fx", b/a}') |
| pipeline CPU per line (20k lines, batches of 1024) | ${R[rupipeline.line]} µs | ${R[pypipeline.line]} µs | $(awk -v a="${R[rupipeline.line]}" -v b="${R[pypipeline.line]}" 'BEGIN {printf "%.0fx", b/a}') |
TABLE
