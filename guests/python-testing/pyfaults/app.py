"""A Python collector that misbehaves as `[config] mode` says, for the containment tests:

- ok: one point per call with a call counter (and a state counter that survives restarts);
- raise: an uncaught exception (a counted error, not a crash);
- loop: never returns (the deadline or fuel stops it: a crash);
- membomb: allocates until the memory cap (a crash);
- flood: emits more points than a call may (the host stops it: a crash);
- recurse: unbounded recursion (Python's RecursionError: a counted error);
- logflood / printflood: 20,000 lines a call through the host log / print() to stdout (the
  host rate-limits both; the plugin keeps running);
- exit: sys.exit() (SystemExit is not an error a plugin may return: a crash);
- http: GETs each URL of `[config] urls` and emits one `http` point per URL: `status` and
  `bytes`, or the error's `kind` and `error`; it logs each answer at info;
- files: reads each path of `[config] paths` with the host's files import (a directory is
  listed) and emits one `files` point per path: `ok`, `bytes`/`entries` or the `error`.
"""
import sys

from sandkit_sdk import FileError, HttpError, Point, collector, config, files, http, log, state

MODES = ("ok", "raise", "loop", "membomb", "flood", "recurse", "exit", "files", "http", "logflood", "printflood")
calls = 0


def _recurse(n):
    return _recurse(n + 1) + 1


@collector("pyfaults", interval="1s", min_interval="10ms")
def collect():
    global calls
    calls += 1
    mode = config().str("mode", "ok")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    if mode == "raise":
        raise RuntimeError(f"boom on call {calls}")
    if mode == "loop":
        while True:
            pass
    if mode == "membomb":
        hoard = []
        while True:
            hoard.append(bytearray(1 << 20))
    if mode == "flood":
        return (Point("flood").field("i", i) for i in range(10_000_000))
    if mode == "recurse":
        _recurse(0)
    if mode == "exit":
        sys.exit(3)
    if mode == "logflood":
        for i in range(20_000):
            log.info(f"flood line {i}\n[agent] a forged line")
        return None
    if mode == "printflood":
        for i in range(20_000):
            print(f"flood line {i}")
        return None
    if mode == "http":
        return [_get(url, i) for i, url in enumerate(config().str_list("urls", []))]
    if mode == "files":
        return [_read(path, i) for i, path in enumerate(config().str_list("paths", []))]
    total = int(state.get("total") or b"0") + 1
    state.set("total", str(total))
    return [Point("pyfaults").uint("calls", calls).uint("total", total)]


def _read(path, i):
    p = Point("files").tag("i", i).text("path", path)
    try:
        if path.endswith("/"):
            return p.bool("ok", True).int("entries", len(files.list_dir(path)))
        return p.int("bytes", len(files.read(path))).bool("ok", True)
    except FileError as e:
        return Point("files").tag("i", i).text("path", path).bool("ok", False).text("error", str(e))


def _get(url, i):
    p = Point("http").tag("i", i).text("url", url)
    try:
        r = http.get(url, headers={"x-test": "pyfaults"}, timeout_ms=2000)
    except HttpError as e:
        log.warn(f"GET {url}: {e.kind}")
        return p.text("kind", e.kind).text("error", e.message)
    log.info(f"GET {url}: {r.status}")
    return p.int("status", r.status).int("bytes", len(r.body)).text("type", r.header("content-type") or "")
