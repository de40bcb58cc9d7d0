#!/usr/bin/env bash
# Idle cost of `sandkit run` with the six bundled collectors at their 10 s interval: resident
# memory (VmRSS, sampled every second) and CPU time (utime + stime) as a share of one core, beside
# collectd or prometheus-node-exporter measured the same way when one is installed.
#
# Builds nothing: run `make build` first (`make bench` does). sandkit runs twice on one data
# directory: with an empty component cache, then with the cache the first run filled. Environment:
#   IDLE_SECONDS  seconds of sampling after the warm-up (default 60)
#   IDLE_WARMUP   seconds between start and the first sample (default 5): startup (compiling the
#                 six components into an empty cache) is reported apart from the steady state
#   SANDKIT_BIN   the binary (default $CARGO_TARGET_DIR/dist/sandkit, what `make build` ships)
#   KEEP=1        keep the temporary directory (agent log, out.lp, RSS samples)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=benches/collectors.sh
source "$ROOT/benches/collectors.sh"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sandkit/target}"
BIN="${SANDKIT_BIN:-$CARGO_TARGET_DIR/dist/sandkit}"
DURATION="${IDLE_SECONDS:-60}"
WARMUP="${IDLE_WARMUP:-5}"
TICK="$(getconf CLK_TCK)"

[[ -x "$BIN" ]] || { echo "idle.sh: $BIN not found: run \`make build\` first" >&2; exit 1; }
need_collectors idle.sh

TMP="$(mktemp -d -t sandkit-idle.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done
  if [[ "${KEEP:-0}" == 1 ]]; then echo "idle.sh: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

now() { date +%s.%N; }
# Drop files from the page cache, so that the next start reads them back as a host's first start
# does (readahead), whatever wrote them last: a binary just written by the linker or by cp is
# cached in larger blocks, which the kernel maps whole (measured: up to 1.8 MiB more resident).
uncache() {
  local f
  for f in "$@"; do dd if="$f" iflag=nocache count=0 status=none 2>/dev/null || true; done
}
# CPU time of the whole process in nanoseconds, threads that exited included: its process CPU
# clock (clock_getcpuclockid(3): the clock id is (~pid << 3) | 2). /proc's utime + stime count
# 10 ms ticks, which at 0.05% of a core is 3 ticks a minute: too coarse to compare.
cpu_ns() { python3 -c 'import sys, time; print(time.clock_gettime_ns(((~int(sys.argv[1])) << 3) | 2))' "$1"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# One line per thread: tid, name, utime + stime in ticks.
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s\t%s\t%s\n' "${t##*/}" "$(cat "$t/comm" 2>/dev/null)" \
      "$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $12 + $13}')"
  done
}

# measure LABEL PID: warm up, sample, and print one result line; leaves the process running.
measure() {
  local label=$1 pid=$2 samples="$TMP/$1.rss" t0 t1 c0 c1 i
  sleep "$WARMUP"
  kill -0 "$pid" 2>/dev/null || { echo "idle.sh: $label exited during warm-up" >&2; return 1; }
  t0=$(now); c0=$(cpu_ns "$pid"); thread_ticks "$pid" >"$TMP/$label.threads0"
  : >"$samples"
  for ((i = 0; i < DURATION; i++)); do
    sleep 1
    rss_kib "$pid" >>"$samples"
  done
  t1=$(now); c1=$(cpu_ns "$pid"); thread_ticks "$pid" >"$TMP/$label.threads1"
  sort -n "$samples" | awk -v label="$label" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" \
    -v warm="$WARMUP" '
    { v[NR] = $1 }
    END {
      med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%-34s %9.1f MiB %9.1f MiB %9.4f %% %12.2f s\n", label, med / 1024, v[NR] / 1024,
        100 * (c1 - c0) / 1e9 / (t1 - t0), c0 / 1e9
    }'
  # What the resident memory is: anonymous (heap, stacks, instances) or file-backed (the binary's
  # code, shared with other processes and reclaimable).
  awk '/^(RssAnon|RssFile|RssShmem):/ {printf "%s %s %.1f MiB", sep, $1, $2 / 1024; sep = ";"}
    END {print ""}' "/proc/$pid/status" | sed 's/^/    RSS at the end:/'
  # Where the CPU went, by thread name, in ticks (a thread that exited during the window is not
  # counted).
  awk -F'\t' -v tick="$TICK" -v wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" '
    NR == FNR { start[$1] = $3; next }
    { used[$2] += $3 - (($1 in start) ? start[$1] : 0); n[$2]++ }
    END {
      line = "    by thread:"
      for (k in used) line = line sprintf(" %s x%d %.3f%%;", k, n[k], 100 * used[k] / tick / wall)
      print line
    }' "$TMP/$label.threads0" "$TMP/$label.threads1"
}

header() {
  echo
  echo "Idle cost over ${DURATION} s after a ${WARMUP} s warm-up ($(nproc) cores; CPU as % of one core)"
  printf "%-34s %13s %13s %11s %14s\n" "process" "RSS median" "RSS max" "CPU" "startup CPU"
}

# --- sandkit ---------------------------------------------------------------------------------
# Twice on the same data directory: first with an empty component cache (the six components are
# compiled at start), then again once the cache holds them (what every later start of a running
# host is).
AGENT="$TMP/agent"
collectors_agent "$AGENT"
fail=0
missing=()
results=()
for cache in cold warm; do
  rm -f "$AGENT/out.lp"
  uncache "$BIN" "$AGENT"/data/cache/*.cwasm
  (cd "$AGENT" && exec "$BIN" run --http-listen 127.0.0.1:0 --output-file "$AGENT/out.lp") 2>"$AGENT/sandkit-$cache.log" &
  SANDKIT=$!
  PIDS+=("$SANDKIT")
  echo "idle.sh: sandkit run (pid $SANDKIT, $cache cache) in $AGENT; sampling for $((WARMUP + DURATION)) s"
  results+=("$(measure "sandkit run, $cache cache" "$SANDKIT")")
  kill -TERM "$SANDKIT"
  rc=0
  wait "$SANDKIT" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "idle.sh: sandkit ($cache cache) exited $rc after SIGTERM (want 0); log tail:" >&2
    tail -20 "$AGENT/sandkit-$cache.log" >&2
    fail=1
  fi
  for m in "${COLLECTORS[@]}"; do
    grep -qE "^$m[, ]" "$AGENT/out.lp" 2>/dev/null || missing+=("$m ($cache)")
  done
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "idle.sh: out.lp has no lines for: ${missing[*]}; log tail:" >&2
  tail -20 "$AGENT/sandkit-warm.log" >&2
  fail=1
fi
lines=$(wc -l <"$AGENT/out.lp" 2>/dev/null || echo 0)

# --- baseline ----------------------------------------------------------------------------------
baseline=""
if command -v collectd >/dev/null; then
  # The plugins of TECH-NOTES' measurement (cpu, memory, df, disk, interface, load) at 10 s,
  # written to CSV files as sandkit writes line protocol to a file.
  mkdir -p "$TMP/collectd/csv"
  cat >"$TMP/collectd/collectd.conf" <<EOF
Interval 10
BaseDir "$TMP/collectd"
PIDFile "$TMP/collectd/collectd.pid"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin cpu
LoadPlugin memory
LoadPlugin df
LoadPlugin disk
LoadPlugin interface
LoadPlugin load
LoadPlugin csv
<Plugin csv>
  DataDir "$TMP/collectd/csv"
</Plugin>
EOF
  collectd -f -C "$TMP/collectd/collectd.conf" >"$TMP/collectd/log" 2>&1 &
  BASE=$!
  PIDS+=("$BASE")
  baseline="$(measure "collectd (same 6 kinds, 10 s)" "$BASE")"
  kill -TERM "$BASE"; wait "$BASE" || true
elif command -v prometheus-node-exporter >/dev/null; then
  # Idle: nobody scrapes it, as in TECH-NOTES' figure.
  prometheus-node-exporter --web.listen-address=127.0.0.1:0 >"$TMP/node-exporter.log" 2>&1 &
  BASE=$!
  PIDS+=("$BASE")
  baseline="$(measure "prometheus-node-exporter (idle)" "$BASE")"
  kill -TERM "$BASE"; wait "$BASE" || true
fi

header
printf '%s\n' "${results[@]}"
if [[ -n "$baseline" ]]; then
  echo "$baseline"
else
  echo "baseline: neither collectd nor prometheus-node-exporter is installed; the baseline is the figure"
  echo "  published in TECH-NOTES (this machine kind): collectd with cpu, memory, df, disk, interface,"
  echo "  load at 10 s: 2.9 MB RSS and 0.03% of a core; prometheus-node-exporter idle: 14.2 MB RSS"
fi
echo "target (issue 18): at most 12 MiB RSS and 0.05% of a core with a warm cache"
echo "startup CPU: CPU time used before the first sample (with a cold cache, compiling six components)"
echo "sandkit: out.lp of the warm run $lines lines; measurements missing: ${missing[*]:-none}"
exit "$fail"
