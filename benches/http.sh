#!/usr/bin/env bash
# The HTTP write route under load: wrk POSTs a body of 100 line-protocol points to `sandkit run`
# (`/v1/write/metric`, output: a file) with one connection and with many, and the same body to
# InfluxDB 1.x's `/write` (Debian's influxd, on loopback) in the same run as the baseline.
# Reports requests/s and points/s of each, the ratio to influxd, and sandkit's peak RSS.
#
# Builds nothing: run `make build` first (`make bench` does). Environment:
#   HTTP_SECONDS  seconds of load per case (default 10)
#   HTTP_CONNS    connections of the "many" case (default 32)
#   SANDKIT_BIN   the binary (default $CARGO_TARGET_DIR/dist/sandkit, what `make build` ships)
#   KEEP=1        keep the temporary directory
set -euo pipefail

CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sandkit/target}"
BIN="${SANDKIT_BIN:-$CARGO_TARGET_DIR/dist/sandkit}"
SECONDS_EACH="${HTTP_SECONDS:-10}"
CONNS="${HTTP_CONNS:-32}"
POINTS=100

[[ -x "$BIN" ]] || { echo "http.sh: $BIN not found: run \`make build\` first" >&2; exit 1; }
command -v wrk >/dev/null || { echo "http.sh: wrk not found (Debian package wrk; make test-deps installs it)" >&2; exit 1; }

TMP="$(mktemp -d -t sandkit-http.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done
  if [[ "${KEEP:-0}" == 1 ]]; then echo "http.sh: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# The body: 100 points of a few series, like a Telegraf batch.
for ((i = 0; i < POINTS; i++)); do
  printf 'bench,host=h%d,dc=eu usage_user=%d.5,usage_system=0.25,count=%di %d\n' \
    $((i % 10)) $((i % 90)) "$i" $((1700000000000000000 + i))
done >"$TMP/body.lp"
cat >"$TMP/post.lua" <<'EOF'
wrk.method = "POST"
local f = io.open(os.getenv("BODY"), "rb")
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "text/plain; charset=utf-8"
EOF

# run_wrk NAME URL CONNS: one wrk run; appends "NAME conns req/s non2xx" to results.
run_wrk() {
  local out threads=$(($3 < 2 ? 1 : 2))
  out=$(BODY="$TMP/body.lp" wrk -t"$threads" -c"$3" -d"${SECONDS_EACH}s" -s "$TMP/post.lua" "$2" 2>&1)
  local rps bad
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
  [[ -n "$rps" ]] || { echo "http.sh: wrk failed for $1:" >&2; echo "$out" >&2; return 1; }
  echo "$1 $3 $rps ${bad:-0}" >>"$TMP/results"
}

# --- sandkit --------------------------------------------------------------------------------
mkdir -p "$TMP/agent/plugins" "$TMP/agent/conf.d"
cat >"$TMP/agent/sandkit.toml" <<EOF
data_dir = "data"
[output]
kind = "file"
path = "out.lp"
[log]
level = "warn"
EOF
(cd "$TMP/agent" && exec "$BIN" run -c sandkit.toml --http-listen 127.0.0.1:0) 2>"$TMP/agent.log" &
AGENT=$!
PIDS+=("$AGENT")
for ((i = 0; i < 100; i++)); do [[ -s "$TMP/agent/data/http.addr" ]] && break; sleep 0.1; done
ADDR=$(cat "$TMP/agent/data/http.addr")
run_wrk sandkit "http://$ADDR/v1/write/metric" 1
run_wrk sandkit "http://$ADDR/v1/write/metric" "$CONNS"
SANDKIT_HWM=$(hwm_kib "$AGENT")
kill -TERM "$AGENT"
wait "$AGENT" || true
LINES=$(wc -l <"$TMP/agent/out.lp")

# --- influxd (baseline) -----------------------------------------------------------------------
if command -v influxd >/dev/null; then
  RPC=$(free_port)
  IHTTP=$(free_port)
  mkdir -p "$TMP/influx"
  cat >"$TMP/influx/influx.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$RPC"
[meta]
  dir = "$TMP/influx/meta"
[data]
  dir = "$TMP/influx/data"
  wal-dir = "$TMP/influx/wal"
[http]
  bind-address = "127.0.0.1:$IHTTP"
  log-enabled = false
EOF
  influxd -config "$TMP/influx/influx.conf" >/dev/null 2>"$TMP/influx.log" &
  PIDS+=("$!")
  disown
  for ((i = 0; i < 100; i++)); do
    curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$IHTTP/ping" 2>/dev/null | grep -q 204 && break
    sleep 0.2
  done
  curl -s -XPOST "http://127.0.0.1:$IHTTP/query" --data-urlencode "q=CREATE DATABASE bench" >/dev/null
  run_wrk influxd "http://127.0.0.1:$IHTTP/write?db=bench" 1
  run_wrk influxd "http://127.0.0.1:$IHTTP/write?db=bench" "$CONNS"
else
  echo "http.sh: influxd not found (Debian package influxdb): no baseline in this run"
fi

# --- report -----------------------------------------------------------------------------------
echo
echo "HTTP writes of $POINTS-point line-protocol bodies, $SECONDS_EACH s per case, $(nproc) cores (wrk on the same machine)"
awk -v pts="$POINTS" '
  { rps[$1, $2] = $3; bad[$1, $2] = $4; conns[$2] = 1; tools[$1] = 1 }
  END {
    printf "%-10s %6s %12s %12s %8s %10s\n", "server", "conns", "requests/s", "points/s", "non-2xx", "/influxd"
    for (t in tools) for (c in conns) if ((t, c) in rps) {
      base = ((("influxd", c) in rps) ? rps["influxd", c] : 0)
      printf "%-10s %6d %12.0f %12.0f %8d %10s\n", t, c, rps[t, c], rps[t, c] * pts, bad[t, c],
        (base > 0 ? sprintf("%.2f", rps[t, c] / base) : "-")
    }
  }' "$TMP/results" | sort -k1,1r -k2,2n
echo "sandkit peak RSS: $((SANDKIT_HWM / 1024)) MiB; lines in its output: $LINES"
if grep -q "sandkit [0-9]* [0-9.]* [1-9]" "$TMP/results"; then
  echo "http.sh: sandkit answered non-2xx" >&2
  exit 1
fi
