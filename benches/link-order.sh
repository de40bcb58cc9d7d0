#!/usr/bin/env bash
# The link order of the agent's idle code: host/sandkit/link-order.txt, the functions a warm
# agent with the six bundled collectors runs while idle (collecting, encoding, writing,
# status), which host/sandkit/build.rs hands to the linker (`--symbol-ordering-file`) so that
# they sit together in a few 64 KiB blocks instead of scattered over the binary (the kernel maps
# code in such blocks around each page that runs: docs/performance.md, "Start-up code
# released").
#
#   bash benches/link-order.sh          refresh the list from the binary `make build` ships
#   bash benches/link-order.sh --check  how many of the list's names the binary has
#
# The names are mangled symbols: they change when a dependency or the code of a listed
# function changes, and with the build command (`make build` runs `cargo build --profile dist
# --workspace --bins`; `-p sandkit` resolves features differently and names most crates'
# symbols otherwise). A name the binary no longer has is skipped by the linker; --check says
# how many still match, and a refresh after a dependency update brings them back.
#
# How: the agent runs once to fill its component cache, then again under valgrind's callgrind
# with instrumentation off until it has started (its data/http.addr exists), on for
# LINK_ORDER_SECONDS (default 65: six collects of each collector), then dumped; the functions of
# the binary with a cost are listed, most run first. Needs valgrind (Debian package valgrind).
# Environment: SANDKIT_BIN (default $CARGO_TARGET_DIR/dist/sandkit), LINK_ORDER_SECONDS, KEEP=1.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=benches/collectors.sh
source "$ROOT/benches/collectors.sh"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sandkit/target}"
BIN="${SANDKIT_BIN:-$CARGO_TARGET_DIR/dist/sandkit}"
LIST="$ROOT/host/sandkit/link-order.txt"
SECONDS_ON="${LINK_ORDER_SECONDS:-65}"

[[ -x "$BIN" ]] || { echo "link-order.sh: $BIN not found: run \`make build\` first" >&2; exit 1; }

if [[ "${1:-}" == --check ]]; then
  command -v nm >/dev/null || { echo "link-order.sh: nm not found (Debian package binutils)" >&2; exit 1; }
  total=$(grep -cv '^\s*\(#\|$\)' "$LIST" || true)
  found=$(grep -v '^\s*\(#\|$\)' "$LIST" | sort -u | comm -12 - <(nm "$BIN" | awk '{print $NF}' | sort -u) | wc -l)
  echo "link-order.sh: $found of $total names of $LIST are in $BIN"
  exit 0
fi

command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
  { echo "link-order.sh: valgrind not found (apt-get install valgrind)" >&2; exit 1; }
need_collectors link-order.sh

TMP="$(mktemp -d -t sandkit-link-order.XXXXXX)"
PID=""
cleanup() {
  [[ -z "$PID" ]] || kill -KILL "$PID" 2>/dev/null || true
  if [[ "${KEEP:-0}" == 1 ]]; then echo "link-order.sh: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

AGENT="$TMP/agent"
collectors_agent "$AGENT"
run_agent() { cd "$AGENT" && exec "$@" run --http-listen 127.0.0.1:0 --output-file "$AGENT/out.lp"; }
# wait_for FILE SECONDS: until FILE exists, or fail.
wait_for() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do [[ -e "$1" ]] && return 0; sleep 0.1; done
  echo "link-order.sh: $1 did not appear within $2 s" >&2
  return 1
}

echo "link-order.sh: filling the component cache"
(run_agent "$BIN") 2>"$AGENT/warm.log" &
PID=$!
wait_for "$AGENT/data/http.addr" 120
kill -TERM "$PID"
wait "$PID" || true
rm -f "$AGENT/data/http.addr"

echo "link-order.sh: the agent under callgrind (started, then $SECONDS_ON s of idle)"
(run_agent valgrind --tool=callgrind --demangle=no --instr-atstart=no --callgrind-out-file="$TMP/callgrind.out" "$BIN") \
  2>"$AGENT/callgrind.log" &
PID=$!
wait_for "$AGENT/data/http.addr" 600
callgrind_control -i on "$PID" >/dev/null 2>&1
sleep "$SECONDS_ON"
callgrind_control -d "$PID" >/dev/null 2>&1
kill -TERM "$PID"
wait "$PID" || true
PID=""
dump=$(ls -S "$TMP"/callgrind.out* | head -1)

# The dump names each object and function once as "ob=(N) name" / "fn=(N) name" and by number
# after; cost lines follow their fn= line. Functions of the binary with a cost, most first,
# without callgrind's "'N" recursion suffixes.
python3 - "$dump" "$(basename "$BIN")" "$LIST.tmp" <<'EOF'
import collections, re, sys

dump, binary, out = sys.argv[1:4]
names = {"ob": {}, "fn": {}}
cost = collections.Counter()
owner = {}
ob = fn = None
pat = re.compile(r"^(c?ob|c?fn|fl|fi|fe|cfi|cfl)=\((\d+)\)(?: (.*))?$")
for line in open(dump, errors="replace"):
    m = pat.match(line.rstrip("\n"))
    if m:
        kind, num, name = m.groups()
        table = names.get(kind.lstrip("c"))
        if table is not None and name is not None:
            table[num] = name
        if kind == "ob":
            ob = names["ob"].get(num)
        elif kind == "fn":
            fn = names["fn"].get(num)
            owner[fn] = ob
        continue
    parts = line.split()
    if fn and len(parts) >= 2 and parts[1].isdigit() and (line[:1].isdigit() or line[:1] in "+-*"):
        cost[fn] += int(parts[1])
picked, seen = [], set()
for f, c in sorted(cost.items(), key=lambda kv: -kv[1]):
    if c > 0 and owner.get(f) and owner[f].endswith("/" + binary):
        name = re.sub(r"'\d+$", "", f)
        if name not in seen:
            seen.add(name)
            picked.append(name)
if not picked:
    sys.exit(f"link-order.sh: no function of {binary} in {dump}")
with open(out, "w") as o:
    o.write("\n".join(picked) + "\n")
print(f"link-order.sh: {len(picked)} functions")
EOF
mv "$LIST.tmp" "$LIST"
echo "link-order.sh: wrote $LIST; rebuild (make build) to link with it, then check: bash benches/link-order.sh --check"
