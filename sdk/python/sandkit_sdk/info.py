"""What a plugin says about itself (`describe`): name, version, intervals, measurements."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple, Union

from .point import Category, FieldKind

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|min|s|m|h|d)\s*")


def duration_ms(value: Union[str, int, float], what: str = "interval") -> int:
    """Milliseconds of "10s", "250ms", "1m 30s", "1h" or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{what}: {value!r} is not a duration")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{what}: {value!r} is not a duration")
        if value < 0:
            raise ValueError(f"{what}: {value!r} is negative")
        return round(value * 1000)
    if not isinstance(value, str):
        raise ValueError(f"{what}: {value!r} is not a duration")
    pos, total, s = 0, 0.0, value.strip()
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m:
            raise ValueError(f'{what}: {value!r} is not a duration; write e.g. "10s" or "250ms"')
        total += float(m.group(1)) * _UNITS_MS[m.group(2)]
        pos = m.end()
    if not s:
        raise ValueError(f"{what}: empty duration")
    return round(total)


@dataclass
class FieldInfo:
    """A field a measurement carries, for `describe` (shown by `sandkit plugin list`)."""

    name: str
    kind: Union[FieldKind, str] = FieldKind.FLOAT
    unit: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        self.kind = FieldKind.of(self.kind)


@dataclass
class Measurement:
    """A measurement the plugin emits. `tags` maps tag names to descriptions."""

    name: str
    description: str = ""
    category: Union[Category, str] = Category.METRIC
    tags: Union[Dict[str, str], Sequence[Tuple[str, str]]] = field(default_factory=dict)
    fields: List[FieldInfo] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.category = Category.of(self.category)
        if isinstance(self.tags, dict):
            self.tags = list(self.tags.items())
        else:
            self.tags = [tuple(t) for t in self.tags]
        self.fields = [
            f if isinstance(f, FieldInfo) else FieldInfo(*f) for f in self.fields
        ]


@dataclass
class PluginInfo:
    """Name, version, description, intervals (ms) and measurements."""

    name: str
    version: str = "0.1.0"
    description: str = ""
    default_interval_ms: int = 10_000
    min_interval_ms: int = 1_000
    max_interval_ms: int = 3_600_000
    measurements: List[Measurement] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        name: str,
        version: str = "0.1.0",
        description: str = "",
        interval: Union[str, int, float] = "10s",
        min_interval: Union[str, int, float] = "1s",
        max_interval: Union[str, int, float] = "1h",
        measurements: Sequence[Measurement] = (),
    ) -> "PluginInfo":
        if not isinstance(name, str) or not name:
            raise ValueError(f"a plugin needs a name, got {name!r}")
        info = cls(
            name=name,
            version=version,
            description=description,
            default_interval_ms=duration_ms(interval, "interval"),
            min_interval_ms=duration_ms(min_interval, "min_interval"),
            max_interval_ms=duration_ms(max_interval, "max_interval"),
            measurements=list(measurements),
        )
        if not info.min_interval_ms <= info.default_interval_ms <= info.max_interval_ms:
            raise ValueError(
                f"plugin {name!r}: interval {info.default_interval_ms} ms is not within "
                f"[{info.min_interval_ms}, {info.max_interval_ms}] ms"
            )
        return info
