"""A small key-value store per plugin that outlives an instance (a restart after a crash keeps
it), capped in bytes by the host (`[limits] state_bytes`)."""

from __future__ import annotations

import json
from typing import Any, Optional, Union

from . import _host
from ._host import StateError

__all__ = ["get", "set", "delete", "get_json", "set_json", "StateError"]


def get(key: str) -> Optional[bytes]:
    """The bytes stored under `key`, or None."""
    value = _host.host().state_get(key)
    return None if value is None else bytes(value)


def set(key: str, value: Union[bytes, bytearray, str]) -> None:
    """Store `value` (text is stored as UTF-8). Raises StateError past the plugin's cap."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, (bytes, bytearray)):
        raise TypeError(f"state.set({key!r}): a {type(value).__name__} is not bytes or str")
    _host.host().state_set(key, bytes(value))


def delete(key: str) -> None:
    _host.host().state_delete(key)


def get_json(key: str, default: Any = None) -> Any:
    """The JSON value stored under `key` by `set_json`, or `default`."""
    raw = get(key)
    return default if raw is None else json.loads(raw)


def set_json(key: str, value: Any) -> None:
    set(key, json.dumps(value, separators=(",", ":")))
