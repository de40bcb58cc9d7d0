#!/usr/bin/env bash
# The four guest languages side by side, same run, same machine: size, build time, cold compile
# and cached load, linear memory of an instance, the cost of a collect, and a pipeline's cost
# per line. Every language builds the same scaffolds (`sandkit plugin new`: a collector that
# reads /proc/loadavg into one point, a pipeline that cuts "LEVEL message"), so the figures
# compare the languages, not the plugins. Medians of RUNS runs (default 5).
#
# Needs `make build` (the binary, the Python venv, the JS toolchain, clang). Environment:
#   RUNS          runs per figure (default 5)
#   LANGS         languages to measure (default "rust python js c"; Rust is the baseline)
#   SANDKIT_BIN   the binary (default $CARGO_TARGET_DIR/dist/sandkit, what `make build` ships)
#   KEEP=1        keep the temporary directory
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sandkit/target}"
BIN="${SANDKIT_BIN:-$CARGO_TARGET_DIR/dist/sandkit}"
RUNS="${RUNS:-5}"
export SANDKIT_COMPONENTIZE_PY="${SANDKIT_COMPONENTIZE_PY:-$HOME/.cache/sandkit/py/bin/componentize-py}"
export SANDKIT_JS_TOOLCHAIN="${SANDKIT_JS_TOOLCHAIN:-$HOME/.cache/sandkit/js}"
export RUST_BACKTRACE=0
LANGS="${LANGS:-rust python js c}"
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
declare -A SRC=([rust]=src/lib.rs [python]=app.py [js]=app.js [ts]=app.ts [c]=app.c)
for lang in $LANGS; do
  for world in collector pipeline; do
    name="${lang:0:2}$world"
    "$BIN" plugin new "$name" --lang "$lang" --world "$world" >/dev/null 2>&1
    # The first Rust build fetches and compiles the SDK's dependencies: not counted.
    [[ "$lang" == rust ]] && CARGO_TARGET_DIR="$TMP/target-$name" "$BIN" plugin build "$name" >/dev/null 2>&1
    builds=()
    for _ in $(seq "$RUNS"); do
      touch "$name/${SRC[$lang]}"
      t0=$(now)
      CARGO_TARGET_DIR="$TMP/target-$name" "$BIN" plugin build "$name" >/dev/null 2>&1
      builds+=("$(secs "$t0" "$(now)")")
    done
    R[$name.build]=$(printf '%s\n' "${builds[@]}" | median)
    R[$name.size]=$(stat -c %s "$name/$name.wasm" | awk '{printf "%.2f", $1/1e6}')
  done
done

for lang in $LANGS; do
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
  R[$name.call]=$(awk -v v="$calls_us" 'BEGIN {printf "%.1f", v}')
  R[$name.fuel]=$fuel
  R[$name.mem]=$(awk -v k="$mem" 'BEGIN {printf "%.1f", k/1024}')

  name="${lang:0:2}pipeline"
  HOME="$TMP/home" "$BIN" plugin test "$name/$name.wasm" < lines.txt >/dev/null 2>&1 || true
  per=()
  for _ in $(seq "$RUNS"); do
    HOME="$TMP/home" "$BIN" pipeline test "$name/$name.wasm" < lines.txt 2> p.txt >/dev/null
    per+=("$(grep -E '^# [0-9]+ lines' p.txt | sed -E 's/.* ([0-9]+) µs CPU in process calls.*/\1/' | awk '{printf "%.3f", $1/20000}')")
  done
  R[$name.line]=$(printf '%s\n' "${per[@]}" | median)
  R[$name.lps]=$(awk -v us="${R[$name.line]}" 'BEGIN {printf "%.0f", 1e6/us}')
done

# One row: the figure of each language, then its ratio to Rust's (FMT formats the ratio).
row() {
  local label=$1 key=$2 unit=$3 fmt=$4 line="| $1 |" ratios=""
  for lang in $LANGS; do
    local v=${R[${lang:0:2}$key]}
    line+=" $v$unit |"
    [[ "$lang" == rust ]] && continue
    ratios+=" $(awk -v a="${R[ru$key]}" -v b="$v" -v f="$fmt" 'BEGIN {printf f, b/a}') |"
  done
  echo "$line$ratios"
}
header="| figure (median of $RUNS) |"; rule="|---|"; ratio_cols=""
for lang in $LANGS; do
  header+=" $lang |"; rule+="---|"
  [[ "$lang" == rust ]] || { ratio_cols+=" $lang / rust |"; rule+="---|"; }
done
echo "$header$ratio_cols"
echo "$rule"
row "collector component size" collector.size " MB" "%.3gx"
row "\`sandkit plugin build\` (warm toolchain)" collector.build " s" "%.3gx"
row "\`plugin test\`, cold cache (compile + one collect)" collector.cold " s" "%.3gx"
row "\`plugin test\`, from the cache" collector.cached " s" "%.3gx"
row "linear memory of an instance (peak)" collector.mem " MiB" "%.3gx"
row "one collect (read /proc/loadavg, one point)" collector.call " µs" "%.3gx"
row "fuel of that collect" collector.fuel "" "%.3gx"
row "pipeline CPU per line (20k lines, batches of 1024)" pipeline.line " µs" "%.3gx"
row "pipeline lines/s on one core (from that CPU)" pipeline.lps "" "%.3gx"
