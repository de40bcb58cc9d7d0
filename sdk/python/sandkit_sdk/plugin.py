"""Declaring a plugin (`@collector`, `@pipeline`, `@input`) and running it for the host.

One component holds one plugin. The decorator runs when the module is imported, which for a
component is at build time (componentize-py snapshots the interpreter): keep module-level code to
declarations; read files, the network or the clock in `init`/`collect`.
"""

from __future__ import annotations

import inspect
import os
import traceback
from typing import Any, Callable, List, Optional, Sequence, Union

from . import _host
from .config import Config
from .info import Measurement, PluginInfo
from .point import Point, points_of
from .records import Batch, Records

#: Points are handed to the host in chunks of this many (as the Rust SDK's Emitter does).
CHUNK = 256


class PluginError(Exception):
    """What a plugin's code raised, as the message the host logs and counts."""


_PLUGIN: Optional["Plugin"] = None
_CONFIG = Config()
_PENDING: List[Point] = []


def config() -> Config:
    """The plugin's `[config]` table (set before `init` runs)."""
    return _CONFIG


def emit(*points: Point) -> None:
    """Send points from anywhere in `collect`/`handle` (besides returning or yielding them)."""
    for p in points:
        if not isinstance(p, Point):
            raise TypeError(f"emit() takes Points, got a {type(p).__name__}")
        _PENDING.append(p)
        if len(_PENDING) >= CHUNK:
            _flush()


def _flush() -> None:
    if _PENDING:
        chunk = list(_PENDING)
        _PENDING.clear()
        _host.host().emit(chunk)


def describe_error(e: BaseException) -> str:
    """`Type: message (file.py:line in function)`, naming the innermost frame of the plugin's
    own code (not the SDK's)."""
    sdk_dir = os.path.dirname(os.path.abspath(__file__))
    where = ""
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        if not os.path.abspath(frame.filename).startswith(sdk_dir):
            where = f" ({os.path.basename(frame.filename)}:{frame.lineno} in {frame.name})"
            break
    text = str(e)
    return f"{type(e).__name__}: {text}{where}" if text else f"{type(e).__name__}{where}"


def _arity(fn: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    return sum(
        1
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    )


class Plugin:
    """A registered plugin: its kind, what it says about itself and the author's code."""

    def __init__(self, kind: str, target: Any, info: PluginInfo):
        self.kind = kind
        self.target = target
        self.info = info
        self.is_class = inspect.isclass(target)
        self.instance: Any = None
        self.arity = 0 if self.is_class else _arity(target)

    # Each call turns what the author's code raises into a PluginError (a counted error for the
    # host); MemoryError and BaseExceptions are not caught: they trap, and the host counts a crash.
    def _guard(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except MemoryError:
            raise
        except PluginError:
            raise
        except Exception as e:  # the plugin's own error, reported with where it was raised
            raise PluginError(f"{what}: {describe_error(e)}") from e

    def init(self, cfg: Config) -> None:
        global _CONFIG
        _CONFIG = cfg
        if self.is_class:
            cls = self.target
            takes = _arity(cls.__init__) - 1 if cls.__init__ is not object.__init__ else 0
            self.instance = self._guard("init", lambda: cls(cfg) if takes else cls())
        else:
            self.instance = None
            hook = getattr(self.target, "_sandkit_init", None)
            if hook is not None:
                self._guard("init", lambda: hook(cfg) if _arity(hook) else hook())

    def _method(self, name: str) -> Callable[..., Any]:
        if not self.is_class:
            return self.target
        if self.instance is None:
            raise PluginError(f"{name} before init")
        return getattr(self.instance, name)

    def collect(self) -> None:
        fn = self._method("collect")
        _PENDING.clear()

        def run() -> None:
            result = fn(_CONFIG) if self.arity >= 1 else fn()
            for p in points_of(result):
                emit(p)
            _flush()

        try:
            self._guard("collect", run)
        finally:
            _PENDING.clear()

    def handle(self, content_type: str, body: bytes) -> None:
        fn = self._method("handle")
        _PENDING.clear()
        arity = _arity(fn)

        def run() -> None:
            result = fn(content_type, body) if arity >= 2 else fn(body)
            for p in points_of(result):
                emit(p)
            _flush()

        try:
            self._guard("handle", run)
        finally:
            _PENDING.clear()

    def process(self, batch: Batch) -> bytes:
        out = Records(batch)
        whole = getattr(self.instance, "process", None) if self.is_class else None
        if whole is not None:
            self._guard("process", lambda: whole(batch, out))
            return out.to_bytes()
        fn = self._method("process_line") if self.is_class else self.target
        for i, line in enumerate(batch.lines):
            out.set_line(i)
            try:
                fn(line, out)
            except MemoryError:
                raise
            except Exception as e:
                raise PluginError(f"process: line {i} of the batch: {describe_error(e)}") from e
        return out.to_bytes()


def _register(kind: str, target: Any, info: PluginInfo) -> Any:
    global _PLUGIN
    if _PLUGIN is not None and _PLUGIN.target is not target:
        raise RuntimeError(
            f"this component already holds the {_PLUGIN.kind} {_PLUGIN.info.name!r}; "
            f"one plugin per component (found {kind} {info.name!r} too)"
        )
    needs = {"collector": "collect", "input": "handle", "pipeline": None}[kind]
    if inspect.isclass(target):
        if kind == "pipeline":
            if not any(hasattr(target, m) for m in ("process_line", "process")):
                raise TypeError(f"pipeline {info.name!r}: the class needs process_line or process")
        elif not hasattr(target, needs):
            raise TypeError(f"{kind} {info.name!r}: the class needs a {needs} method")
    elif not callable(target):
        raise TypeError(f"@{kind} decorates a function or a class, not {target!r}")
    _PLUGIN = Plugin(kind, target, info)
    target._sandkit_plugin = _PLUGIN
    return target


def _decorator(kind: str, interval_default: str):
    def declare(
        name: Union[str, Callable[..., Any], None] = None,
        *,
        version: str = "0.1.0",
        description: str = "",
        interval: Union[str, int, float] = interval_default,
        min_interval: Union[str, int, float] = "1s",
        max_interval: Union[str, int, float] = "1h",
        measurements: Sequence[Measurement] = (),
    ) -> Any:
        def wrap(target: Any) -> Any:
            plugin_name = name if isinstance(name, str) else _default_name(target)
            doc = description or (inspect.getdoc(target) or "").split("\n", 1)[0]
            info = PluginInfo.build(
                plugin_name,
                version=version,
                description=doc,
                interval=interval,
                min_interval=min_interval,
                max_interval=max_interval,
                measurements=measurements,
            )
            return _register(kind, target, info)

        if callable(name):  # used bare: @collector
            return wrap(name)
        return wrap

    return declare


#: `testing.load` imports `x.py` as this prefix + "x" (the component imports it as `x`).
TEST_MODULE_PREFIX = "sandkit_plugin_"


def _default_name(target: Any) -> str:
    module = getattr(target, "__module__", "") or ""
    if module.startswith(TEST_MODULE_PREFIX):
        module = module[len(TEST_MODULE_PREFIX):]
    if module and module not in ("__main__", "app"):
        return module.rsplit(".", 1)[-1]
    return getattr(target, "__name__", "plugin").lower()


collector = _decorator("collector", "10s")
collector.__doc__ = """Declare a scheduled collector: a function that returns (or yields) Points,
or a class with ``__init__(self, config)`` and ``collect(self)``::

    @collector("hello", interval="10s")
    def collect():
        return [Point("hello").field("count", 1)]
"""

pipeline = _decorator("pipeline", "10s")
pipeline.__doc__ = """Declare a log pipeline: a function ``process(line, out)`` that writes the
records of one line with ``out.record()``, or a class with ``process_line(self, line, out)`` (or
``process(self, batch, out)`` for a whole batch)."""

input = _decorator("input", "10s")
input.__doc__ = """Declare a passive input: a function ``handle(body)`` or
``handle(content_type, body)`` that returns (or yields) Points, or a class with ``handle``."""


def on_init(fn: Callable[..., Any]) -> Callable[..., Any]:
    """For function plugins: run `fn(config)` when the plugin starts (after the decorator)."""
    if _PLUGIN is None or _PLUGIN.is_class:
        raise RuntimeError("@on_init follows a function plugin's decorator")
    _PLUGIN.target._sandkit_init = fn
    return fn


def registered() -> Plugin:
    """The plugin of this component."""
    if _PLUGIN is None:
        raise RuntimeError(
            "no plugin: decorate a function or a class with @collector, @pipeline or @input"
        )
    return _PLUGIN


def reset() -> None:
    """Forget the registered plugin (tests load several in one process)."""
    global _PLUGIN, _CONFIG
    _PLUGIN = None
    _CONFIG = Config()
    _PENDING.clear()
