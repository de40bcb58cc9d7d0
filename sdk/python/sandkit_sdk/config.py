"""The plugin's `[config]` table from its conf.d file, with typed getters and clear errors."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, Iterator, List, Optional


class ConfigError(ValueError):
    """A `[config]` value is missing or has the wrong type; the message names the key."""


_MISSING = object()


class Config:
    """A read-only view of the `[config]` table. ``config["key"]`` and ``config.get`` give raw
    values; the typed getters check the type and name the key when it is wrong."""

    def __init__(self, values: Optional[Dict[str, Any]] = None):
        self._values: Dict[str, Any] = dict(values or {})

    @classmethod
    def from_json(cls, text: str) -> "Config":
        text = text.strip() or "{}"
        try:
            value = json.loads(text)
        except ValueError as e:
            raise ConfigError(f"the config is not JSON: {e}") from None
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ConfigError(f"the config is a {type(value).__name__}, not a table")
        return cls(value)

    def __getitem__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise ConfigError(f"[config] has no key {key!r}") from None

    def __contains__(self, key: str) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Config({self._values!r})"

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def as_dict(self) -> Dict[str, Any]:
        return dict(self._values)

    def check_keys(self, allowed: Iterable[str]) -> None:
        """Refuse keys the plugin does not know (a typo in conf.d is an error, not a no-op)."""
        allowed = list(allowed)
        for key in self._values:
            if key not in allowed:
                known = ", ".join(allowed) or "none"
                raise ConfigError(f"[config] has an unknown key {key!r} (known: {known})")

    def _typed(self, key: str, default: Any, types: tuple, what: str) -> Any:
        value = self._values.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise ConfigError(f"[config] {key} is missing ({what} expected)")
            return default
        if isinstance(value, bool) and bool not in types:
            raise ConfigError(f"[config] {key} = {value!r} is not {what}")
        if not isinstance(value, types):
            raise ConfigError(f"[config] {key} = {value!r} is not {what}")
        return value

    def str(self, key: str, default: Any = _MISSING) -> str:
        return self._typed(key, default, (str,), "a string")

    def int(self, key: str, default: Any = _MISSING) -> int:
        return self._typed(key, default, (int,), "an integer")

    def float(self, key: str, default: Any = _MISSING) -> float:
        value = self._typed(key, default, (int, float), "a number")
        return float(value) if value is not None else None

    def bool(self, key: str, default: Any = _MISSING) -> bool:
        return self._typed(key, default, (bool,), "true or false")

    def str_list(self, key: str, default: Any = _MISSING) -> List[str]:
        value = self._typed(key, default, (list,), "a list of strings")
        if value is default:
            return value
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise ConfigError(f"[config] {key}[{i}] = {item!r} is not a string")
        return list(value)

    def table(self, key: str, default: Any = _MISSING) -> "Config":
        value = self._typed(key, default, (dict,), "a table")
        return value if value is default else Config(value)
