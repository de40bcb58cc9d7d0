"""Run a plugin on plain CPython, without the agent: a test double of the host and a loader.

    from sandkit_sdk import testing

    host = testing.TestHost(files={"/proc/loadavg": "0.5 0.2 0.1 1/99 42"})
    plugin = testing.load("app.py", host=host, config={"verbose": True})
    points = plugin.collect()

The double keeps what the plugin logs (`host.logs`), its state (`host.state`) and answers
`files` and `http` from what it was given. The code under test runs exactly as in the component
(the same SDK code turns exceptions into errors), only the imports differ.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import _host, plugin as _plugin
from ._host import FileError, HttpError, StateError
from .config import Config
from .point import Point
from .records import Batch, decode

Responder = Callable[[str, str, List[Tuple[str, str]], bytes], Tuple[int, List[Tuple[str, str]], bytes]]


class TestHost:
    """The host's imports, in memory."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        files: Optional[Mapping[str, Union[str, bytes]]] = None,
        http: Optional[Responder] = None,
        state_cap: int = 1 << 20,
        hostname: str = "test-host",
    ):
        self.files: Dict[str, bytes] = {
            k: v.encode("utf-8") if isinstance(v, str) else bytes(v) for k, v in (files or {}).items()
        }
        self.http = http
        self.state: Dict[str, bytes] = {}
        self.state_cap = state_cap
        self.logs: List[Tuple[str, str]] = []
        self.emitted: List[Point] = []
        self.requests: List[Tuple[str, str]] = []
        self._hostname = hostname

    def log(self, level: str, message: str) -> None:
        self.logs.append((level, message))

    def emit(self, points: Sequence[Point]) -> None:
        for p in points:
            if not p.fields:
                raise ValueError(f"point {p.measurement!r} has no fields (the host refuses it)")
        self.emitted.extend(points)

    def state_get(self, key: str) -> Optional[bytes]:
        return self.state.get(key)

    def state_set(self, key: str, value: bytes) -> None:
        size = sum(len(k) + len(v) + 64 for k, v in self.state.items() if k != key)
        size += len(key) + len(value) + 64
        if size > self.state_cap:
            raise StateError(f"state would grow to {size} bytes, above the cap of {self.state_cap}")
        self.state[key] = bytes(value)

    def state_delete(self, key: str) -> None:
        self.state.pop(key, None)

    def read_file(self, path: str) -> bytes:
        try:
            return self.files[path]
        except KeyError:
            raise FileError(f"files.read-file of {path!r}: not given to the TestHost") from None

    def list_dir(self, path: str) -> List[str]:
        prefix = path.rstrip("/") + "/"
        names = {p[len(prefix):].split("/", 1)[0] for p in self.files if p.startswith(prefix)}
        if not names:
            raise FileError(f"files.list-dir of {path!r}: no file under it given to the TestHost")
        return sorted(names)

    def http_fetch(self, method, url, headers, body, timeout_ms):  # type: ignore[no-untyped-def]
        self.requests.append((method, url))
        if self.http is None:
            raise HttpError("refused", f"{url}: the TestHost has no http responder")
        return self.http(method, url, headers, body)

    def statfs(self, path: str) -> Any:
        from .system import FsUsage

        return FsUsage(100 << 30, 40 << 30, 50 << 30, 1_000_000, 900_000)

    def hostname(self) -> str:
        return self._hostname


class Loaded:
    """A plugin loaded by `load`, with its host double."""

    def __init__(self, p: "_plugin.Plugin", host: TestHost):
        self.plugin = p
        self.host = host

    @property
    def info(self) -> Any:
        return self.plugin.info

    def _with_host(self, fn: Callable[[], Any]) -> Any:
        old = _host.install(self.host)
        try:
            return fn()
        finally:
            _host.install(old)

    def init(self, config: Optional[Mapping[str, Any]] = None) -> None:
        self._with_host(lambda: self.plugin.init(Config(dict(config or {}))))

    def collect(self) -> List[Point]:
        """One collect; the points it emitted. Raises PluginError as the host would log it."""
        start = len(self.host.emitted)
        self._with_host(self.plugin.collect)
        return self.host.emitted[start:]

    def handle(self, body: Union[bytes, str], content_type: str = "") -> List[Point]:
        if isinstance(body, str):
            body = body.encode("utf-8")
        start = len(self.host.emitted)
        self._with_host(lambda: self.plugin.handle(content_type, body))
        return self.host.emitted[start:]

    def process_bytes(self, lines: Sequence[str], source: str = "test") -> Tuple[Batch, bytes]:
        """The raw output of one batch (the record encoding)."""
        batch = Batch.of_lines(lines, source)
        return batch, self._with_host(lambda: self.plugin.process(batch))

    def process(self, lines: Sequence[str], source: str = "test") -> List[dict]:
        """The records of one batch, decoded: dicts with line, time, keep_message, items."""
        batch, out = self.process_bytes(lines, source)
        return decode(out, batch)


def load(
    path: str,
    host: Optional[TestHost] = None,
    config: Optional[Mapping[str, Any]] = None,
    init: bool = True,
) -> Loaded:
    """Import the plugin module at `path` (relative paths from the caller's directory or the
    current one), then call init with `config` unless `init` is False."""
    _plugin.reset()
    full = path
    if not os.path.isabs(full):
        caller = sys._getframe(1).f_globals.get("__file__")
        base = os.path.dirname(os.path.abspath(caller)) if caller else os.getcwd()
        full = os.path.join(base, path)
        if not os.path.exists(full):
            full = os.path.abspath(path)
    name = _plugin.TEST_MODULE_PREFIX + os.path.splitext(os.path.basename(full))[0]
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load a plugin from {full}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    loaded = Loaded(_plugin.registered(), host or TestHost())
    if init:
        loaded.init(config)
    return loaded
