#!/usr/bin/env python3
"""Compiling a large component while the agent works (docs/performance.md, "Compiling large
components").

`sandkit run` with the `ticker` collector (interval TICK, default 1s, no jitter) and a file tail
(one line every 100 ms, each carrying the time it was written); after a warm-up a large component
(an 18 MB Python collector) is dropped into plugins/ and compiled into an empty cache. Reported
per run: the time from the drop until /v1/plugins shows it running, the compile time the agent
logs, and during that window the largest gap between ticker points, the largest delay of a tail
line (its point's timestamp minus the time it was written) and the slowest /v1/health answer
(polled every 100 ms). Then the medians over the runs.

Builds nothing: run `make build` first. Environment:
  SANDKIT_BIN  the binary (default $CARGO_TARGET_DIR/dist/sandkit)
  BIG_WASM     the large component (default: `sandkit plugin new/build` of a Python collector,
               which needs componentize-py; SANDKIT_COMPONENTIZE_PY points at it)
  RUNS         runs (default 3)
  TICK         the ticker's interval (default 1s)
  WORK_LINES   nginx access log lines appended at the drop to a second tail that runs the nginx
               pipeline (default 2000000; 0: none): the agent's heavy work, whose pace shows how
               much CPU the compile leaves it (time from its first to its last point)
  CONTROL=1    also run without the drop, for the pace of that work alone (CONTROL=only: just
               that)
  COMPILE_THREADS  `[runtime] compile_threads` (default: the agent's default)
  KEEP=1       keep the temporary directories
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/sandkit/target"))
BIN = os.environ.get("SANDKIT_BIN", os.path.join(TARGET, "dist/sandkit"))
RUNS = int(os.environ.get("RUNS", "3"))
TICK = os.environ.get("TICK", "1s")
WORK_LINES = int(os.environ.get("WORK_LINES", "2000000"))
COMPILE_THREADS = os.environ.get("COMPILE_THREADS")
KEEP = os.environ.get("KEEP") == "1"


def die(msg):
    print(f"compile.py: {msg}", file=sys.stderr)
    sys.exit(1)


def big_component(scratch):
    if os.environ.get("BIG_WASM"):
        return os.environ["BIG_WASM"]
    proj = os.path.join(scratch, "big")
    subprocess.run([BIN, "plugin", "new", "big", "--lang", "python", "--dir", proj], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([BIN, "plugin", "build", proj], check=True)
    return os.path.join(proj, "big.wasm")


def get(addr, path):
    t = time.monotonic()
    with urllib.request.urlopen(f"http://{addr}{path}", timeout=30) as r:
        body = r.read()
    return time.monotonic() - t, body


def nginx_lines(n):
    """`n` lines of nginx's combined format, varied but deterministic."""
    paths = ["/", "/index.html", "/api/v1/items?id=", "/static/app.js", "/login"]
    agents = ["curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64)", "python-requests/2.31.0"]
    out = []
    for i in range(n):
        out.append(
            f'10.{i % 256}.{i // 256 % 256}.{i % 7} - - [06/Dec/2025:02:{i // 60000 % 60:02d}:{i // 1000 % 60:02d} +0000] '
            f'"GET {paths[i % 5]}{i if i % 5 == 2 else ""} HTTP/1.1" {200 if i % 13 else 404} {i % 5000} '
            f'"-" "{agents[i % 3]}"\n')
    return "".join(out)


def one_run(big, scratch, n, work, drop=True):
    d = tempfile.mkdtemp(prefix=f"run{n}-", dir=scratch)
    for sub in ("plugins", "conf.d", "logs"):
        os.makedirs(os.path.join(d, sub))
    shutil.copy(os.path.join(ROOT, "build/wasm/ticker.wasm"), os.path.join(d, "plugins/ticker.wasm"))
    with open(os.path.join(d, "conf.d/ticker.toml"), "w") as f:
        f.write(f'interval = "{TICK}"\n')
    log_path = os.path.join(d, "logs/app.log")
    open(log_path, "w").close()
    access_path = os.path.join(d, "logs/access.log")
    open(access_path, "w").close()
    shutil.copy(os.path.join(ROOT, "build/wasm/nginx.wasm"), os.path.join(d, "plugins/nginx.wasm"))
    with open(os.path.join(d, "sandkit.toml"), "w") as f:
        f.write(f"""data_dir = "data"
plugins_dir = "plugins"
conf_dir = "conf.d"
[output]
kind = "file"
path = "out.lp"
flush_interval = "100ms"
[http]
listen = "127.0.0.1:0"
[runtime]
jitter = 0.0
{f"compile_threads = {COMPILE_THREADS}" if COMPILE_THREADS else ""}
[[files]]
source = "tail"
paths = ["{log_path}"]
from_beginning = true
[[files]]
source = "nginx"
paths = ["{access_path}"]
pipeline = "nginx"
""")
    agent_log = open(os.path.join(d, "agent.log"), "w")
    agent = subprocess.Popen([BIN, "run", "-c", "sandkit.toml"], cwd=d, stdout=subprocess.DEVNULL,
                             stderr=agent_log)
    try:
        addr_file = os.path.join(d, "data/http.addr")
        end = time.monotonic() + 30
        while not os.path.exists(addr_file):
            if time.monotonic() > end:
                die(f"the agent did not start; see {d}/agent.log")
            time.sleep(0.05)
        addr = open(addr_file).read().strip()
        stop = threading.Event()
        health = []  # (wall time, seconds)

        def writer():
            with open(log_path, "a") as f:
                i = 0
                while not stop.is_set():
                    f.write(f"line {i} written_ns={time.time_ns()}\n")
                    f.flush()
                    i += 1
                    time.sleep(0.1)

        def prober():
            while not stop.is_set():
                t = time.time()
                secs, _ = get(addr, "/v1/health")
                health.append((t, secs))
                time.sleep(0.1)

        work_seen = []  # (wall time, records made by the nginx pipeline)

        def metrics():
            while not stop.is_set():
                _, body = get(addr, "/metrics")
                for line in body.decode().splitlines():
                    if line.startswith("sandkit_files_pipeline_records_total") and '"nginx"' in line:
                        work_seen.append((time.time(), int(float(line.split()[-1]))))
                time.sleep(0.05)

        threads = [threading.Thread(target=writer), threading.Thread(target=prober),
                   threading.Thread(target=metrics)]
        for t in threads:
            t.start()
        time.sleep(3)
        dropped = time.time()
        if drop:
            tmp = os.path.join(d, "plugins/.big.tmp")
            shutil.copy(big, tmp)
            os.rename(tmp, os.path.join(d, "plugins/big.wasm"))
        if work:
            # After the settle time of the plugins directory: the compile is under way.
            time.sleep(0.6)
            with open(access_path, "a") as f:
                f.write(work)
        work_written = time.time()
        running = None if drop else time.time() + 6
        seen_compiling = False
        while drop and time.time() - dropped < 60:
            _, body = get(addr, "/v1/plugins")
            st = {p["name"]: p for p in json.loads(body)}.get("big")
            if st and st["state"] == "compiling":
                seen_compiling = True
            if st and st["state"] == "running":
                running = time.time()
                break
            time.sleep(0.05)
        if running is None:
            die(f"big did not start within 60 s; see {d}/agent.log")
        time.sleep(2)
        while work and time.time() - dropped < 120 and (not work_seen or work_seen[-1][1] < WORK_LINES):
            time.sleep(0.1)
        stop.set()
        for t in threads:
            t.join()
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
        agent_log.close()
    ticks, tail = [], []
    for line in open(os.path.join(d, "out.lp")):
        ts = int(line.rsplit(" ", 1)[1]) / 1e9
        if line.startswith("ticker,"):
            ticks.append(ts)
        elif line.startswith("tail,") and "written_ns=" in line:
            written = int(line.split("written_ns=")[1].split()[0].rstrip('\\"')) / 1e9
            tail.append((written, ts - written))
    window = (dropped, running + 1)
    # A gap counts when it ends inside the window.
    gaps = [b - a for a, b in zip(ticks, ticks[1:]) if window[0] < b <= window[1] + 1]
    compiled = None
    for line in open(os.path.join(d, "agent.log")):
        if "plugin=big" in line and "compile_ms=" in line:
            for word in line.replace(",", " ").split():
                if word.startswith("compile_ms="):
                    compiled = int(word.split("=")[1]) / 1000
    result = {
        "drop_to_running_s": running - dropped,
        "compile_s": compiled,
        "seen_compiling": seen_compiling,
        "max_tick_gap_s": max(gaps) if gaps else None,
        "ticks_in_window": len(gaps),
        "max_tail_delay_s": max((lat for w, lat in tail if window[0] <= w <= window[1]), default=None),
        "max_health_s": max((s for t, s in health if window[0] <= t <= window[1]), default=None),
        # From the write of the access log lines until the pipeline made all their records.
        "nginx_s": next((t - work_written for t, n in work_seen if n >= WORK_LINES), None) if work else None,
    }
    if not KEEP:
        shutil.rmtree(d)
    return result


def main():
    if not os.access(BIN, os.X_OK):
        die(f"{BIN} not found: run `make build` first")
    if not os.path.exists(os.path.join(ROOT, "build/wasm/ticker.wasm")):
        die("build/wasm/ticker.wasm not found: run `make guests` first")
    scratch = tempfile.mkdtemp(prefix="sandkit-compile.")
    try:
        big = big_component(scratch)
        print(f"# {os.path.basename(big)}: {os.path.getsize(big) / 1e6:.1f} MB; ticker every {TICK}; "
              f"{RUNS} runs; load average {open('/proc/loadavg').read().split()[0]}")
        work = nginx_lines(WORK_LINES) if WORK_LINES else ""
        rows = []
        for n in range(RUNS):
            if os.environ.get("CONTROL") in ("1", "only"):
                r = one_run(big, scratch, n, work, drop=False)
                print("control", json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}))
                if os.environ.get("CONTROL") == "only":
                    continue
            r = one_run(big, scratch, n, work)
            rows.append(r)
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}))
        print("# medians")
        for k in rows[0] if rows else []:
            vals = [r[k] for r in rows if isinstance(r[k], (int, float)) and not isinstance(r[k], bool)]
            if vals:
                print(f"{k}: {statistics.median(vals):.3f}")
    finally:
        if KEEP:
            print(f"compile.py: kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
