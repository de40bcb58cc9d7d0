"""The host behind the SDK: the component's imports when built with componentize-py, or a test
double (`sandkit_sdk.testing.TestHost`) on plain CPython."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

try:  # present only inside a component (componentize-py generates it from the WIT)
    import wit_world as _wit_world  # noqa: F401

    IN_COMPONENT = True
except ImportError:  # plain CPython: tests install a TestHost
    IN_COMPONENT = False


class HostError(Exception):
    """An import of the host failed; the message is the host's."""


class StateError(HostError):
    """`state.set` was refused (the plugin's state cap)."""


class FileError(HostError, OSError):
    """`files.read`/`files.list` was refused or failed: the message names the path and, for a
    missing grant, what to add to the plugin's conf.d file."""


class HttpError(HostError):
    """An outgoing request failed. `kind` is one of refused, invalid-request, timeout,
    too-large, failed."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


_INTERFACES = ("types", "host_log", "emit", "state", "files", "system", "http_client")


class ComponentHost:
    """The real imports, imported when the component is built (the snapshot keeps only what was
    imported then). A world lacks some (a pipeline has no `emit`): using one is an error that
    says so."""

    def __init__(self) -> None:
        import importlib

        self._mods = {}
        self._conv: Any = None
        for name in _INTERFACES:
            try:
                self._mods[name] = importlib.import_module(f"wit_world.imports.{name}")
            except ImportError:
                pass

    def _imports(self, name: str) -> Any:
        try:
            return self._mods[name]
        except KeyError:
            raise HostError(f"this plugin's world does not import {name!r}") from None

    def log(self, level: str, message: str) -> None:
        types = self._imports("types")
        self._imports("host_log").log(types.LogLevel[level.upper()], message)

    def emit(self, points: Sequence[Any]) -> None:
        emit = self._imports("emit")
        if self._conv is None:
            self._conv = _converters(self._imports("types"))
        kinds, cats, field, tag, point = self._conv
        emit.emit(
            [
                point(
                    p.measurement,
                    [tag(k, v) for k, v in p.tags],
                    [field(k, kinds[kind](v)) for k, kind, v in p.fields],
                    p.timestamp_ns,
                    cats[p.category],
                )
                for p in points
            ]
        )

    def state_get(self, key: str) -> Optional[bytes]:
        return self._imports("state").get(key)

    def state_set(self, key: str, value: bytes) -> None:
        from componentize_py_types import Err

        try:
            self._imports("state").set(key, value)
        except Err as e:
            raise StateError(str(e.value)) from None

    def state_delete(self, key: str) -> None:
        self._imports("state").delete(key)

    def read_file(self, path: str) -> bytes:
        from componentize_py_types import Err

        try:
            return self._imports("files").read_file(path)
        except Err as e:
            raise FileError(str(e.value)) from None

    def list_dir(self, path: str) -> List[str]:
        from componentize_py_types import Err

        try:
            return self._imports("files").list_dir(path)
        except Err as e:
            raise FileError(str(e.value)) from None

    def http_fetch(
        self,
        method: str,
        url: str,
        headers: List[Tuple[str, str]],
        body: bytes,
        timeout_ms: int,
    ) -> Tuple[int, List[Tuple[str, str]], bytes]:
        from componentize_py_types import Err

        h = self._imports("http_client")
        try:
            r = h.fetch(h.Request(method, url, list(headers), body, timeout_ms))
        except Err as e:
            err = e.value
            kind = type(err).__name__.split("_", 1)[-1]
            kind = {"InvalidRequest": "invalid-request", "TooLarge": "too-large"}.get(
                kind, kind.lower()
            )
            raise HttpError(kind, str(err.value)) from None
        return r.status, list(r.headers), bytes(r.body)

    def statfs(self, path: str) -> Any:
        from componentize_py_types import Err

        try:
            return self._imports("system").statfs(path)
        except Err as e:
            raise HostError(str(e.value)) from None

    def hostname(self) -> str:
        return self._imports("system").hostname()


def _converters(types: Any) -> Any:
    """The WIT constructors by SDK kind and category, looked up once: converting a point is
    then a few calls (it was a third of the cost of emitting one)."""
    from .point import Category, FieldKind

    kinds = {
        FieldKind.INT: types.FieldValue_Int,
        FieldKind.UINT: types.FieldValue_Uint,
        FieldKind.FLOAT: types.FieldValue_Float,
        FieldKind.BOOL: types.FieldValue_Boolean,
        FieldKind.TEXT: types.FieldValue_Text,
    }
    cats = {c: types.Category[c.name] for c in Category}
    return kinds, cats, types.Field, types.Tag, types.Point


_HOST: Any = ComponentHost() if IN_COMPONENT else None


def host() -> Any:
    if _HOST is None:
        raise HostError(
            "no host: outside a component, install one with sandkit_sdk.testing.TestHost()"
        )
    return _HOST


def install(h: Any) -> Any:
    """Replace the host (tests); returns the previous one."""
    global _HOST
    old, _HOST = _HOST, h
    return old
