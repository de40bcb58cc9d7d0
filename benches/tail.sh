#!/usr/bin/env bash
# End-to-end file tail: `sandkit run` reads a ~200 MB nginx access log (combined format, ~1.16M
# lines) from the beginning and writes one point per line, (1) to a file (line protocol),
# (2) to a local HTTP receiver as DataWay batches (gzip), and (3) through the bundled nginx
# pipeline (Wasm, build/wasm/nginx.wasm) to the receiver with zstd: the full path of the
# pipelines issue. rsyslogd's imfile -> omfile on the same
# file in the same run is the baseline. For each: lines/s and MB/s of the input log, CPU time
# (utime + stime) and its share of one core, lines per CPU second (throughput per core), and peak
# resident memory (VmHWM), with the ratio to rsyslog. Target (issue): at least 1.2M lines/s on one
# core with under 30 MiB RSS; measured before on this machine kind, on the same file: rsyslog
# 295k lines/s, Fluent Bit 402k lines/s at 39 MB.
#
# How: the log is generated once (awk, deterministic) and cached. Each tool starts fresh (no saved
# offsets), reading the log from the page cache. The clock starts when the process is started
# (so startup counts) and stops at the last write of the last line: the output file's mtime once
# it holds as many lines as the log (lines are counted incrementally while polling), or the
# receiver's time of its last answered request once the X-Points sum reaches the line count. The
# CPU time and VmHWM are read from /proc when the count is reached, then the process gets SIGTERM.
# The HTTP cases also get a steady rate, without the agent's start-up: the lines after the first
# request with points over the time from that request to the last (it weighs most in the short
# two-worker case, where the start-up, about 0.05 s, is 4-5% of a 1.3 s run).
# The receiver (target/dist/bench-receiver, one thread) is a separate process: its CPU is
# reported on its own line and is not in the agent's. With RUNS > 1 each column is the median
# over the runs. Where the agent's CPU went is shown by thread name (the last run).
#
# Builds nothing: run `make build` first (`make bench` does). Environment:
#   RUNS          runs of the three cases, medians reported (default 1)
#   TAIL_LINES    lines in the generated log (default 1160000: ~213 MB; keep it a multiple of
#                 1000, the agent's batch size, or the last batch waits for the 10 s flush)
#   TAIL_LOG      use this log file instead of generating one (its lines are counted)
#   TAIL_TIMEOUT  seconds a case may take before it is reported as failed (default 300)
#   TAIL_POLL     seconds between polls of the line count (default 0.2; the end time does not
#                 depend on it, only when the process is stopped)
#   TAIL_CPU      pin the measured tools to these CPUs (taskset -c list, e.g. 0); default unpinned
#   TAIL_CPU2     the CPUs of the two-worker case (default: TAIL_CPU and the next CPU when
#                 TAIL_CPU is one CPU, else unpinned)
#   TAIL_ZSTD     zstd level of the pipeline cases (default 1; -7 to -1 are the fast levels)
#   TAIL_W2=0     skip the two-worker case (a binary from before `workers` refuses its config)
#                 and the two-core ceiling beside it (two one-worker agents at once)
#   SANDKIT_BIN   the agent (default $CARGO_TARGET_DIR/dist/sandkit, what `make build` ships)
#   RECEIVER_BIN  the receiver (default $CARGO_TARGET_DIR/dist/bench-receiver)
#   KEEP=1        keep the temporary directory (configs, outputs, logs of every case)
# The generated log is cached in $HOME/.cache/sandkit/bench/access.log (with access.log.meta).
set -euo pipefail

CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sandkit/target}"
BIN="${SANDKIT_BIN:-$CARGO_TARGET_DIR/dist/sandkit}"
RECEIVER="${RECEIVER_BIN:-$CARGO_TARGET_DIR/dist/bench-receiver}"
# The pipeline of the fourth case (build/wasm of this checkout, `make guests`).
WASM_DIR="${WASM_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build/wasm}"
RUNS="${RUNS:-1}"
LINES="${TAIL_LINES:-1160000}"
TIMEOUT="${TAIL_TIMEOUT:-300}"
POLL="${TAIL_POLL:-0.2}"
PIN="${TAIL_CPU:-}"
CACHE="$HOME/.cache/sandkit/bench"
TICK="$(getconf CLK_TCK)"
GEN_VERSION=1

[[ -x "$BIN" ]] || { echo "tail.sh: $BIN not found: run \`make build\` first" >&2; exit 1; }
[[ -x "$RECEIVER" ]] || { echo "tail.sh: $RECEIVER not found: run \`make build\` first" >&2; exit 1; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "tail.sh: RUNS must be a positive integer" >&2; exit 1; }
RSYSLOGD="$(command -v rsyslogd || true)"
[[ -n "$RSYSLOGD" ]] || { [[ -x /usr/sbin/rsyslogd ]] && RSYSLOGD=/usr/sbin/rsyslogd; } || true

TMP="$(mktemp -d -t sandkit-tail.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done
  if [[ "${KEEP:-0}" == 1 ]]; then echo "tail.sh: kept $TMP"; else rm -rf "$TMP"; fi
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
# utime + stime in clock ticks (fields 14 and 15; the comm field may hold spaces, so cut after ')').
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# One line per thread: tid, name, utime, stime in ticks.
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s\t%s\t%s\n' "${t##*/}" "$(cat "$t/comm" 2>/dev/null)" \
      "$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $12 "\t" $13}')"
  done
}
ZSTD_LEVEL="${TAIL_ZSTD:-1}"
if [[ -n "${TAIL_CPU2:-}" ]]; then
  PIN2="$TAIL_CPU2"
elif [[ "$PIN" =~ ^[0-9]+$ ]] && (($(nproc) > 1)); then
  PIN2="$PIN,$(((PIN + 1) % $(nproc)))"
else
  PIN2=""
fi
# exec_pinned CMD...: exec CMD (under taskset when TAIL_CPU is set): in `( ... ) &`, $! is CMD.
# CASE_PIN, when set, replaces TAIL_CPU (the two-worker case).
exec_pinned() {
  local pin="${CASE_PIN-$PIN}"
  if [[ -n "$pin" ]]; then exec taskset -c "$pin" "$@"; else exec "$@"; fi
}

# --- the log -----------------------------------------------------------------------------------
# nginx "combined": $remote_addr - $remote_user [$time_local] "$request" $status
# $body_bytes_sent "$http_referer" "$http_user_agent". Park-Miller's generator is exact in
# doubles, so mawk and gawk write the same file; 80% of the requests come from a pool of 4,000
# clients, timestamps span four days.
generate() {
  awk -v lines="$1" '
  function rnd(n) { seed = (seed * 16807) % 2147483647; return seed % n }
  BEGIN {
    seed = 20240301
    nua = split("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36|" \
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15|" \
      "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0|" \
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148|" \
      "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.6261.64 Mobile Safari/537.36|" \
      "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)|" \
      "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)|" \
      "curl/8.5.0|Wget/1.21.4|python-requests/2.31.0|Go-http-client/1.1|kube-probe/1.29|" \
      "Prometheus/2.50.1|okhttp/4.12.0", ua, "|")
    nword = split("shoes shirt laptop phone camera lamp desk chair watch bag book coffee tea bike", word, " ")
    nst = split("200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 304 304 301 302 404 404 206 403 500 502 499", st, " ")
    split("GET GET GET GET GET GET GET GET GET GET GET GET GET GET GET GET POST POST HEAD PUT DELETE", meth, " ")
    for (i = 0; i < 4000; i++) pool[i] = (1 + rnd(223)) "." rnd(256) "." rnd(256) "." (1 + rnd(254))
    span = 4 * 86400
    for (i = 0; i < lines; i++) {
      t = int(i * span / lines); s = t % 86400
      ts = sprintf("%02d/Mar/2024:%02d:%02d:%02d +0000", 1 + int(t / 86400), int(s / 3600), int(s % 3600 / 60), s % 60)
      ip = (rnd(10) < 8) ? pool[rnd(4000)] : (1 + rnd(223)) "." rnd(256) "." rnd(256) "." (1 + rnd(254))
      user = (rnd(50) == 0) ? "user" rnd(900) : "-"
      k = rnd(12)
      if (k < 3)       path = "/api/v1/users/" rnd(100000) "/orders?limit=" (10 + rnd(90))
      else if (k < 5)  path = sprintf("/static/js/app.%08x.js", rnd(2147483647))
      else if (k < 7)  path = "/images/products/" rnd(50000) "_" (1 + rnd(8)) ".jpg"
      else if (k < 8)  path = "/search?q=" word[1 + rnd(nword)] "+" word[1 + rnd(nword)] "&page=" (1 + rnd(20))
      else if (k < 9)  path = "/"
      else if (k < 10) path = "/blog/2024/" (1 + rnd(12)) "/" word[1 + rnd(nword)] "-" rnd(1000) ".html"
      else if (k < 11) path = "/healthz"
      else             path = "/api/v2/cart/" rnd(1000000) "/items"
      method = meth[1 + rnd(21)]
      proto = (rnd(4) == 0) ? "HTTP/2.0" : "HTTP/1.1"
      status = st[1 + rnd(nst)]
      size = (status == 304 || method == "HEAD") ? 0 : rnd(rnd(3) == 0 ? 500000 : 20000)
      r = rnd(10)
      ref = (r < 4) ? "-" : (r < 8) ? "https://www.example.com" path : "https://www.google.com/"
      printf "%s - %s [%s] \"%s %s %s\" %s %d \"%s\" \"%s\"\n", ip, user, ts, method, path, proto, status, size, ref, ua[1 + rnd(nua)]
    }
  }'
}

if [[ -n "${TAIL_LOG:-}" ]]; then
  LOG="$(realpath "$TAIL_LOG")"
  LINES=$(wc -l <"$LOG")
else
  LOG="$CACHE/access.log"
  meta="v$GEN_VERSION $LINES"
  if [[ -f "$LOG" && -f "$LOG.meta" ]] && read -r m_ver m_lines m_bytes <"$LOG.meta" &&
    [[ "$m_ver $m_lines" == "$meta" && "$(stat -c %s "$LOG")" == "$m_bytes" ]]; then
    echo "tail.sh: using the cached $LOG"
  else
    echo "tail.sh: generating $LOG ($LINES lines)"
    mkdir -p "$CACHE"
    rm -f "$LOG.meta"
    generate "$LINES" >"$LOG.tmp"
    mv "$LOG.tmp" "$LOG"
    echo "$meta $(stat -c %s "$LOG")" >"$LOG.meta"
  fi
fi
BYTES=$(stat -c %s "$LOG")
echo "tail.sh: $LOG: $LINES lines, $BYTES bytes; $RUNS run(s); temp dir $TMP"
[[ -n "$RSYSLOGD" ]] || echo "tail.sh: rsyslogd not found (Debian package rsyslog): the baseline is skipped"
[[ -f "$WASM_DIR/nginx.wasm" ]] || echo "tail.sh: $WASM_DIR/nginx.wasm not found (make guests): the pipeline case is skipped"

# --- measuring ---------------------------------------------------------------------------------
RESULTS="$TMP/results.tsv" # tool, run, status, lines, seconds, cpu ticks, VmHWM KiB, steady seconds
: >"$RESULTS"
NOTES=()

# Lines of FILE, counted incrementally into CNT_N (bytes already counted: CNT_OFF).
CNT_OFF=0
CNT_N=0
count_file_lines() {
  local size
  size=$(stat -c %s "$1" 2>/dev/null || echo 0)
  if ((size > CNT_OFF)); then
    CNT_N=$((CNT_N + $(dd if="$1" bs=1M iflag=skip_bytes,count_bytes skip="$CNT_OFF" \
      count=$((size - CNT_OFF)) status=none | wc -l)))
    CNT_OFF=$size
  fi
}

# wait_done TOOL RUN PID T0 MODE PATH: poll until PATH reports LINES lines (MODE file: lines in
# PATH, end time its mtime; MODE receiver: first field of PATH, end time its fourth field), then
# record the result and the thread breakdown. Returns 1 on timeout or exit.
wait_done() {
  local tool=$1 run=$2 pid=$3 t0=$4 mode=$5 path=$6 n=0 end="" cpu hwm f f1 n1 steady=-
  CNT_OFF=0
  CNT_N=0
  while :; do
    if [[ $mode == file ]]; then
      count_file_lines "$path"
      n=$CNT_N
    elif [[ -s $path ]]; then
      read -r n _ _ f f1 n1 <"$path" || n=0
    fi
    if ((n >= LINES)); then
      if [[ $mode == file ]]; then
        end=$(stat -c %.9Y "$path")
      else
        end=${f:0:-9}.${f: -9}
        # From the first request with points to the last, for the lines after the first request.
        steady=$(awk -v a="$f1" -v b="$f" -v n="$n" -v n1="$n1" \
          'BEGIN {printf "%.3f", (a > 0 && b > a && n > n1) ? (b - a) / 1e9 * n / (n - n1) : 0}')
      fi
      break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "tail.sh: $tool exited after $n of $LINES lines" >&2
      printf '%s\t%s\tfailed\t%s\t-\t-\t-\n' "$tool" "$run" "$n" >>"$RESULTS"
      return 1
    fi
    if awk -v a="$t0" -v b="$(now)" -v t="$TIMEOUT" 'BEGIN {exit !(b - a > t)}'; then
      echo "tail.sh: $tool: timeout after $TIMEOUT s with $n of $LINES lines" >&2
      printf '%s\t%s\ttimeout\t%s\t-\t-\t-\n' "$tool" "$run" "$n" >>"$RESULTS"
      return 1
    fi
    sleep "$POLL"
  done
  cpu=$(cpu_ticks "$pid")
  hwm=$(hwm_kib "$pid")
  thread_ticks "$pid" >"$TMP/threads.$tool"
  # What the resident memory is now: anonymous (heap, stacks) or file-backed (the binary's code).
  awk '/^(RssAnon|RssFile|RssShmem):/ {printf "%s %s %.1f MiB", sep, $1, $2 / 1024; sep = ";"}
    END {print ""}' "/proc/$pid/status" >"$TMP/rss.$tool" 2>/dev/null || true
  printf '%s\t%s\tok\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$run" "$n" \
    "$(awk -v a="$t0" -v b="$end" 'BEGIN {printf "%.3f", b - a}')" "$cpu" "$hwm" "$steady" >>"$RESULTS"
}

# stop PID NAME LOG [RC]: SIGTERM, up to 10 s, then SIGKILL; notes an exit status other than 0
# (or RC: the receiver does not catch SIGTERM, 143).
stop() {
  local pid=$1 name=$2 ok=${4:-0} rc=0 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid" 2>/dev/null || true; NOTES+=("$name: killed (SIGTERM ignored for 10 s)"); }
  wait "$pid" 2>/dev/null || rc=$?
  [[ $rc -eq $ok ]] || NOTES+=("$name: exit status $rc after SIGTERM (log: $3)")
}

# Before each case: the log in the page cache, the previous case's output written back.
settle() { cat "$LOG" >/dev/null; sync; }

run_rsyslog() {
  local run=$1 dir="$TMP/run$1/rsyslog" t0 pid
  mkdir -p "$dir/work"
  cat >"$dir/rsyslog.conf" <<EOF
global(workDirectory="$dir/work")
module(load="imfile" mode="inotify")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="tail") {
  action(type="omfile" file="$dir/out.log" template="raw")
}
# A fresh workDirectory has no state file: the file is read from its beginning.
input(type="imfile" File="$LOG" Tag="nginx" Facility="local0" Severity="info"
      ruleset="tail" readMode="0" freshStartTail="off")
EOF
  settle
  t0=$(now)
  (exec_pinned "$RSYSLOGD" -n -f "$dir/rsyslog.conf" -i "$dir/rsyslogd.pid") >"$dir/rsyslogd.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_done rsyslog "$run" "$pid" "$t0" file "$dir/out.log" || tail -5 "$dir/rsyslogd.log" >&2 || true
  stop "$pid" rsyslogd "$dir/rsyslogd.log"
  [[ ! -f $dir/out.log || $(stat -c %s "$dir/out.log") == "$BYTES" ]] ||
    NOTES+=("rsyslog run $run: out.log has $(stat -c %s "$dir/out.log") bytes, the log $BYTES")
  [[ "${KEEP:-0}" == 1 ]] || rm -f "$dir/out.log"
}

# sandkit_dir DIR OUTPUT_TOML [PIPELINE]: an agent directory with one [[files]] task, and no
# plugins but PIPELINE (copied from build/wasm) when one is named.
sandkit_dir() {
  mkdir -p "$1/plugins" "$1/conf.d"
  cat >"$1/sandkit.toml" <<EOF
data_dir = "data"
plugins_dir = "plugins"
conf_dir = "conf.d"
[output]
$2
# A partial batch at the end of the log goes out within 100 ms instead of 10 s (a file task's
# block of lines is not split, so the last batch is partial whatever the line count).
flush_interval = "100ms"
[[files]]
source = "nginx"
paths = ["$LOG"]
from_beginning = true
EOF
  if [[ -n "${3:-}" ]]; then
    cp "$WASM_DIR/$3.wasm" "$1/plugins/"
    echo "pipeline = \"$3\"" >>"$1/sandkit.toml"
    [[ "${4:-1}" == 1 ]] || echo "workers = $4" >>"$1/sandkit.toml"
  fi
}

run_sandkit_file() {
  local run=$1 dir="$TMP/run$1/sandkit-file" t0 pid n
  sandkit_dir "$dir" $'kind = "file"\npath = "out.lp"'
  settle
  uncache "$BIN"
  t0=$(now)
  (cd "$dir" && exec_pinned "$BIN" run -c sandkit.toml --http-listen 127.0.0.1:0) 2>"$dir/sandkit.log" &
  pid=$!
  PIDS+=("$pid")
  wait_done sandkit-file "$run" "$pid" "$t0" file "$dir/out.lp" || tail -5 "$dir/sandkit.log" >&2 || true
  stop "$pid" "sandkit (file)" "$dir/sandkit.log"
  n=$(grep -c '^nginx,' "$dir/out.lp" 2>/dev/null || true)
  [[ "$n" == "$LINES" ]] || NOTES+=("sandkit file run $run: out.lp has ${n:-0} nginx lines, want $LINES")
  [[ "${KEEP:-0}" == 1 ]] || rm -f "$dir/out.lp"
}

# receiver_and_dir DIR COMPRESSION LEVEL PIPELINE WORKERS: a receiver (its pid in RPID) and an
# agent directory DIR that sends it DataWay batches (sandkit_dir; PIPELINE may be empty).
receiver_and_dir() {
  local dir=$1 i addr
  mkdir -p "$dir"
  "$RECEIVER" 127.0.0.1:0 "$dir/count" >"$dir/receiver.addr" 2>"$dir/receiver.log" &
  RPID=$!
  PIDS+=("$RPID")
  for ((i = 0; i < 50; i++)); do [[ -s "$dir/receiver.addr" ]] && break; sleep 0.1; done
  addr=$(head -1 "$dir/receiver.addr")
  [[ -n "$addr" ]] || { echo "tail.sh: the receiver did not start" >&2; return 1; }
  sandkit_dir "$dir" "kind = \"dataway\"
urls = [\"http://$addr\"]
token = \"tkn_bench\"
compression = \"$2\"
compression_level = $3" "$4" "$5"
  # The component comes from a warm cache, as on every start but the first of a host: the
  # figures are the tail's, not Cranelift's (compiling is measured in benches/compile.py).
  if [[ -n "$4" && -d "$TMP/cache" ]]; then
    mkdir -p "$dir/data" && cp -r "$TMP/cache" "$dir/data/cache"
  fi
}

# run_sandkit_http RUN TOOL COMPRESSION [PIPELINE [WORKERS [LEVEL]]]
run_sandkit_http() {
  local run=$1 tool=$2 comp=$3 pipeline=${4:-} workers=${5:-1} level=${6:-1}
  local dir="$TMP/run$1/$2" t0 pid rpid pts bytes reqs
  receiver_and_dir "$dir" "$comp" "$level" "$pipeline" "$workers" || return 1
  rpid=$RPID
  settle
  uncache "$BIN" "$dir"/data/cache/*.cwasm
  t0=$(now)
  (cd "$dir" && exec_pinned "$BIN" run -c sandkit.toml --http-listen 127.0.0.1:0) 2>"$dir/sandkit.log" &
  pid=$!
  PIDS+=("$pid")
  wait_done "$tool" "$run" "$pid" "$t0" receiver "$dir/count" || tail -5 "$dir/sandkit.log" >&2 || true
  # The receiver's CPU: beside the gzip case, and in the two-worker case, where it shares the two
  # cores with the agent.
  case $tool in
    sandkit-http) printf 'receiver\t%s\tok\t-\t-\t%s\t%s\n' "$run" "$(cpu_ticks "$rpid")" "$(hwm_kib "$rpid")" >>"$RESULTS" ;;
    sandkit-nginx-w2) printf 'receiver-w2\t%s\tok\t-\t-\t%s\t%s\n' "$run" "$(cpu_ticks "$rpid")" "$(hwm_kib "$rpid")" >>"$RESULTS" ;;
  esac
  stop "$pid" "sandkit ($tool)" "$dir/sandkit.log"
  sleep 0.2
  read -r pts bytes reqs _ <"$dir/count"
  RECV_NOTE+="receiver ($tool, run $run): $pts points in $reqs requests, $((bytes / 1000000)) MB $comp; "
  [[ "$pts" == "$LINES" ]] || NOTES+=("sandkit $tool run $run: the receiver got $pts points, want $LINES")
  stop "$rpid" receiver "$dir/receiver.log" 143
}

# run_sandkit_pair RUN: the two-core ceiling of this machine for the full path: two one-worker
# agents at once, each pinned to its own CPU of TAIL_CPU2 (unpinned without it) with its own
# receiver, each tailing the log. No sharing between them, so what they reach together is what
# two cores give this workload here (the two cores of a VM share caches and memory bandwidth);
# the two-worker case is compared with it.
run_sandkit_pair() {
  local run=$1 t0 i dirs=("$TMP/run$1/sandkit-pair-a" "$TMP/run$1/sandkit-pair-b") pins=() pids=() rpids=()
  [[ -n "$PIN2" ]] && IFS=, read -r -a pins <<<"$PIN2"
  for i in 0 1; do
    receiver_and_dir "${dirs[i]}" zstd "$ZSTD_LEVEL" nginx 1 || return 1
    rpids+=("$RPID")
  done
  settle
  uncache "$BIN" "${dirs[0]}"/data/cache/*.cwasm "${dirs[1]}"/data/cache/*.cwasm
  t0=$(now)
  for i in 0 1; do
    (cd "${dirs[i]}" && CASE_PIN="${pins[i]:-}" exec_pinned "$BIN" run -c sandkit.toml --http-listen 127.0.0.1:0) 2>"${dirs[i]}/sandkit.log" &
    pids+=($!)
    PIDS+=($!)
  done
  for i in 0 1; do
    wait_done "pair-${dirs[i]: -1}" "$run" "${pids[i]}" "$t0" receiver "${dirs[i]}/count" ||
      tail -5 "${dirs[i]}/sandkit.log" >&2 || true
  done
  for i in 0 1; do
    stop "${pids[i]}" "sandkit (pair ${dirs[i]: -1})" "${dirs[i]}/sandkit.log"
    stop "${rpids[i]}" receiver "${dirs[i]}/receiver.log" 143
  done
}

# Fill the component cache once: the agent with the nginx pipeline on an empty log, until the
# pipeline's compiled artifact is stored.
warm_cache() {
  local dir="$TMP/warm" pid i
  mkdir -p "$dir/plugins"
  cp "$WASM_DIR/nginx.wasm" "$dir/plugins/"
  printf 'data_dir = "data"\nplugins_dir = "plugins"\nconf_dir = "conf.d"\n[output]\nkind = "stdout"\n' >"$dir/sandkit.toml"
  (cd "$dir" && exec "$BIN" run -c sandkit.toml --http-listen 127.0.0.1:0) >/dev/null 2>"$dir/sandkit.log" &
  pid=$!
  PIDS+=("$pid")
  for ((i = 0; i < 600; i++)); do
    compgen -G "$dir/data/cache/*.cwasm" >/dev/null && break
    sleep 0.1
  done
  stop "$pid" "sandkit (warming the cache)" "$dir/sandkit.log"
  [[ -d "$dir/data/cache" ]] && cp -r "$dir/data/cache" "$TMP/cache"
}
[[ ! -f "$WASM_DIR/nginx.wasm" ]] || warm_cache

for ((run = 1; run <= RUNS; run++)); do
  echo "tail.sh: run $run/$RUNS"
  RECV_NOTE=""
  if [[ -n "$RSYSLOGD" ]]; then run_rsyslog "$run" || true; fi
  run_sandkit_file "$run" || true
  run_sandkit_http "$run" sandkit-http gzip || true
  if [[ -f "$WASM_DIR/nginx.wasm" ]]; then
    run_sandkit_http "$run" sandkit-nginx zstd nginx 1 "$ZSTD_LEVEL" || true
    # The same on two cores: the pipeline on two workers.
    [[ "${TAIL_W2:-1}" == 0 ]] || CASE_PIN="$PIN2" run_sandkit_http "$run" sandkit-nginx-w2 zstd nginx 2 "$ZSTD_LEVEL" || true
    [[ "${TAIL_W2:-1}" == 0 ]] || run_sandkit_pair "$run" || true
  fi
done

# --- report ------------------------------------------------------------------------------------
echo
echo "File tail of $LINES lines ($(awk -v b="$BYTES" 'BEGIN {printf "%.1f", b / 1e6}') MB), $RUNS run(s), medians;" \
  "$(nproc) cores${PIN:+, tools pinned to CPU $PIN}; MB = 10^6 bytes of the log"
awk -F'\t' -v tick="$TICK" -v bytes="$BYTES" -v rs="${RSYSLOGD:+1}" '
  function med(tool, col,    n, i, j, v, a) {
    n = cnt[tool]
    for (i = 1; i <= n; i++) {
      v = val[tool, i, col]
      for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]
      a[j + 1] = v
    }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  !($1 in seen) { seen[$1] = 1; order[++tools] = $1 }
  $3 != "ok" { why[$1] = $3 " (" $4 " lines)"; next }
  {
    i = ++cnt[$1]
    cpu = $6 / tick
    val[$1, i, "cpu"] = cpu; val[$1, i, "rss"] = $7 / 1024
    if ($1 ~ /^receiver/) next
    val[$1, i, "lines"] = $4; val[$1, i, "secs"] = $5
    val[$1, i, "lps"] = $4 / $5; val[$1, i, "mbps"] = bytes / $5 / 1e6
    val[$1, i, "share"] = 100 * cpu / $5; val[$1, i, "lpc"] = cpu > 0 ? $4 / cpu : 0
    val[$1, i, "steady"] = ($8 + 0 > 0) ? $4 / $8 : 0
  }
  END {
    name["rsyslog"] = "rsyslogd imfile -> omfile"
    name["sandkit-file"] = "sandkit files -> file"
    name["sandkit-http"] = "sandkit files -> dataway gzip"
    name["sandkit-nginx"] = "sandkit nginx wasm -> zstd"
    name["sandkit-nginx-w2"] = "  same, workers = 2 (2 cores)"
    printf "%-30s %4s %8s %8s %10s %7s %7s %8s %11s %9s %8s\n", "tool", "runs", "lines", "seconds",
      "lines/s", "MB/s", "CPU s", "CPU/core", "lines/CPU-s", "peak RSS", "/rsyslog"
    base = ("rsyslog" in cnt) ? med("rsyslog", "lps") : 0
    for (k = 1; k <= tools; k++) {
      t = order[k]
      if (t ~ /^(receiver|pair-)/) continue
      if (!(t in cnt)) { printf "%-30s %s\n", name[t], "FAILED: " why[t]; continue }
      lps = med(t, "lps")
      printf "%-30s %4d %8d %8.3f %10.0f %7.1f %7.2f %7.0f%% %11.0f %5.1f MiB %8s\n", name[t], cnt[t],
        med(t, "lines"), med(t, "secs"), lps, med(t, "mbps"), med(t, "cpu"), med(t, "share"),
        med(t, "lpc"), med(t, "rss"), (base > 0 ? sprintf("%.2f", lps / base) : "-")
      if (t == "sandkit-http" && ("receiver" in cnt))
        printf "%-30s %4d %8s %8s %10s %7s %7.2f %8s %11s %5.1f MiB\n", "  receiver (not in the above)",
          cnt["receiver"], "", "", "", "", med("receiver", "cpu"), "", "", med("receiver", "rss")
    }
    for (k = 1; k <= tools; k++) {
      t = order[k]
      if ((t in cnt) && t !~ /^pair-/ && med(t, "steady") > 0)
        printf "%-30s steady: %.0f lines/s from the first request with points to the last (the start-up left out)\n", name[t], med(t, "steady")
    }
    if (("sandkit-nginx" in cnt) && ("sandkit-nginx-w2" in cnt))
      printf "two workers on two cores / one: %.2fx lines/s, %.2fx steady\n",
        med("sandkit-nginx-w2", "lps") / med("sandkit-nginx", "lps"),
        (med("sandkit-nginx", "steady") > 0 ? med("sandkit-nginx-w2", "steady") / med("sandkit-nginx", "steady") : 0)
    # The two agents of a run together: both logs over the time until the later one is done.
    np = 0
    for (i = 1; i <= cnt["pair-a"] && i <= cnt["pair-b"]; i++) {
      sa = val["pair-a", i, "secs"]; sb = val["pair-b", i, "secs"]
      val["pair", ++np, "lps"] = (val["pair-a", i, "lines"] + val["pair-b", i, "lines"]) / (sa > sb ? sa : sb)
    }
    if (np > 0 && ("sandkit-nginx" in cnt)) {
      cnt["pair"] = np
      printf "two one-worker agents at once, one per core (the two-core ceiling of this machine): %.0f lines/s together, %.2fx one agent alone\n",
        med("pair", "lps"), med("pair", "lps") / med("sandkit-nginx", "lps")
      if ("sandkit-nginx-w2" in cnt)
        printf "  workers = 2 reaches %.0f%% of that ceiling\n", 100 * med("sandkit-nginx-w2", "lps") / med("pair", "lps")
    }
    if (("sandkit-nginx-w2" in cnt) && ("receiver-w2" in cnt))
      printf "  the receiver used %.2f CPU s in the two-worker case, %.0f%% of a core over its %.3f s: on the same two cores\n",
        med("receiver-w2", "cpu"), 100 * med("receiver-w2", "cpu") / med("sandkit-nginx-w2", "secs"), med("sandkit-nginx-w2", "secs")
    if (!rs) print "rsyslogd not found (Debian package rsyslog): no baseline in this run"
  }' "$RESULTS"
echo "target (issue): >= 1.2M lines/s on one core, < 30 MiB RSS; measured before on this machine kind," \
  "same file: rsyslog 295k lines/s, Fluent Bit 5.1 402k lines/s at 39 MB"
echo "seconds: from the start of the process to the last write of the last line; CPU: utime + stime" \
  "of the process until then; lines/CPU-s: lines per second of one fully busy core"
[[ -z "${RECV_NOTE:-}" ]] || echo "$RECV_NOTE"
if ((RUNS > 1)); then
  awk -F'\t' '$1 !~ /^(receiver|pair-)/ { r[$1] = r[$1] " " ($3 == "ok" ? sprintf("%.0fk", $4 / $5 / 1000) : $3) }
    END { line = "lines/s of each run:"; for (t in r) line = line " " t r[t] ";"; print line }' "$RESULTS"
fi

# Last run, for each tool: where its CPU went, by thread name (seconds, share of the process's
# CPU, and how much of that was system time), and what its resident memory was at the end.
for t in rsyslog sandkit-file sandkit-http sandkit-nginx sandkit-nginx-w2; do
  [[ -f "$TMP/threads.$t" ]] || continue
  awk -F'\t' -v tick="$TICK" -v t="$t" '
    { used[$2] += $3 + $4; sys[$2] += $4; n[$2]++; all += $3 + $4 }
    END {
      line = sprintf("%-13s CPU by thread:", t)
      for (k in used) if (used[k] > 0)
        line = line sprintf(" %s x%d %.2f s (%.0f%%, sys %.0f%%);", k, n[k], used[k] / tick,
          all ? 100 * used[k] / all : 0, 100 * sys[k] / used[k])
      print line
    }' "$TMP/threads.$t"
  [[ ! -s "$TMP/rss.$t" ]] || printf '%-13s RSS at the end:%s\n' "$t" "$(cat "$TMP/rss.$t")"
done

fail=0
if grep -qP '^sandkit-\w+\t\d+\t(failed|timeout)' "$RESULTS"; then fail=1; fi
for n in "${NOTES[@]}"; do echo "note: $n"; [[ $n == sandkit* ]] && fail=1; done
exit "$fail"
