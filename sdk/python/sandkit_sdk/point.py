"""Points: one measurement at one instant, with tags and typed fields."""

from __future__ import annotations

import enum
import math
from typing import Any, Dict, Iterable, List, Optional, Tuple

I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1
U64_MAX = (1 << 64) - 1


class Category(enum.Enum):
    """Where a point goes on the gateway: ``/v1/write/{category}``."""

    METRIC = "metric"
    LOGGING = "logging"
    OBJECT = "object"
    CUSTOM_OBJECT = "custom_object"
    KEYEVENT = "keyevent"
    NETWORK = "network"
    TRACING = "tracing"
    RUM = "rum"
    SECURITY = "security"
    PROFILING = "profiling"

    @classmethod
    def of(cls, value: "Category | str") -> "Category":
        """A category from itself or its name ("metric", "custom-object", ...)."""
        if isinstance(value, Category):
            return value
        key = str(value).strip().lower().replace("-", "_")
        for c in cls:
            if c.value == key:
                return c
        names = ", ".join(c.value for c in cls)
        raise ValueError(f"unknown category {value!r}; use one of {names}")


class FieldKind(enum.Enum):
    """The type of a field value."""

    INT = "int"
    UINT = "uint"
    FLOAT = "float"
    BOOL = "bool"
    TEXT = "text"

    @classmethod
    def of(cls, value: "FieldKind | str") -> "FieldKind":
        if isinstance(value, FieldKind):
            return value
        # One dict lookup for the usual spellings: this runs for every typed field.
        kind = _KIND_NAMES.get(value) if isinstance(value, str) else None
        if kind is None:
            kind = _KIND_NAMES.get(str(value).strip().lower())
        if kind is None:
            raise ValueError(f"unknown field kind {value!r}; use int, uint, float, bool or text")
        return kind


_KIND_NAMES = {k.value: k for k in FieldKind}
_KIND_NAMES.update(
    {"boolean": FieldKind.BOOL, "string": FieldKind.TEXT, "str": FieldKind.TEXT,
     "integer": FieldKind.INT}
)


def seconds_ns(seconds: float) -> int:
    """Nanoseconds of a time in seconds, exact for the float given (`round(seconds * 1e9)`
    is off by up to 128 ns at today's times: the product has no room for the nanoseconds)."""
    whole = math.floor(seconds)
    return whole * 1_000_000_000 + round((seconds - whole) * 1_000_000_000)


def typed_value(key: str, value: Any, kind: Optional[FieldKind] = None) -> Tuple[FieldKind, Any]:
    """Check `value` against `kind` (or infer the kind) and return both.

    Inference: bool -> bool, int -> int (uint when above the int64 range), float -> float,
    str -> text. Anything else is an error that names the field.
    """
    if kind is None:
        if isinstance(value, bool):
            kind = FieldKind.BOOL
        elif isinstance(value, int):
            kind = FieldKind.INT if value <= I64_MAX else FieldKind.UINT
        elif isinstance(value, float):
            kind = FieldKind.FLOAT
        elif isinstance(value, str):
            kind = FieldKind.TEXT
        else:
            raise TypeError(
                f"field {key!r}: a {type(value).__name__} is not a field value "
                "(use int, float, bool or str)"
            )
    if kind is FieldKind.BOOL:
        if not isinstance(value, bool):
            raise TypeError(f"field {key!r}: {value!r} is not a bool")
    elif kind is FieldKind.INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"field {key!r}: {value!r} is not an int")
        if not I64_MIN <= value <= I64_MAX:
            raise ValueError(f"field {key!r}: {value} does not fit a 64-bit signed int")
    elif kind is FieldKind.UINT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"field {key!r}: {value!r} is not an int")
        if not 0 <= value <= U64_MAX:
            raise ValueError(f"field {key!r}: {value} does not fit a 64-bit unsigned int")
    elif kind is FieldKind.FLOAT:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"field {key!r}: {value!r} is not a number")
        value = float(value)
    elif kind is FieldKind.TEXT:
        if not isinstance(value, str):
            raise TypeError(f"field {key!r}: {value!r} is not a str")
    return kind, value


class Point:
    """One measurement at one instant. Build it with chained calls::

        Point("cpu").tag("cpu", "cpu0").field("usage", 12.5).uint("ticks", 42)

    Tags may come in any order (the host sorts them); a point needs at least one field.
    The timestamp defaults to the host's clock when the point is emitted.
    """

    __slots__ = ("measurement", "tags", "fields", "timestamp_ns", "category")

    def __init__(self, measurement: str, category: "Category | str" = Category.METRIC):
        if not isinstance(measurement, str) or not measurement:
            raise ValueError(f"a point needs a measurement name, got {measurement!r}")
        self.measurement = measurement
        self.tags: List[Tuple[str, str]] = []
        self.fields: List[Tuple[str, FieldKind, Any]] = []
        self.timestamp_ns: Optional[int] = None
        self.category = Category.of(category)

    def tag(self, key: str, value: Any) -> "Point":
        """Add a tag; the value is turned into text with str()."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"point {self.measurement!r}: a tag needs a key, got {key!r}")
        self.tags.append((key, value if isinstance(value, str) else str(value)))
        return self

    def tags_from(self, tags: Dict[str, Any]) -> "Point":
        """Add every item of a dict as a tag."""
        for k, v in tags.items():
            self.tag(k, v)
        return self

    def field(self, key: str, value: Any, kind: "FieldKind | str | None" = None) -> "Point":
        """Add a field; its kind is inferred from the value unless given."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"point {self.measurement!r}: a field needs a key, got {key!r}")
        k, v = typed_value(key, value, None if kind is None else FieldKind.of(kind))
        self.fields.append((key, k, v))
        return self

    def fields_from(self, fields: Dict[str, Any]) -> "Point":
        """Add every item of a dict as a field (kinds inferred)."""
        for k, v in fields.items():
            self.field(k, v)
        return self

    def int(self, key: str, value: int) -> "Point":
        return self.field(key, value, FieldKind.INT)

    def uint(self, key: str, value: int) -> "Point":
        return self.field(key, value, FieldKind.UINT)

    def float(self, key: str, value: float) -> "Point":
        return self.field(key, value, FieldKind.FLOAT)

    def bool(self, key: str, value: bool) -> "Point":
        return self.field(key, value, FieldKind.BOOL)

    def text(self, key: str, value: str) -> "Point":
        return self.field(key, value, FieldKind.TEXT)

    def time_ns(self, ns: int) -> "Point":
        """Set the timestamp in nanoseconds since the Unix epoch."""
        if isinstance(ns, bool) or not isinstance(ns, int) or not I64_MIN <= ns <= I64_MAX:
            raise ValueError(f"point {self.measurement!r}: {ns!r} is not a timestamp in ns")
        self.timestamp_ns = ns
        return self

    def time(self, seconds: float) -> "Point":
        """Set the timestamp in seconds since the Unix epoch (a float, as time.time() gives)."""
        return self.time_ns(seconds_ns(seconds))

    def with_category(self, category: "Category | str") -> "Point":
        self.category = Category.of(category)
        return self

    def field_value(self, key: str) -> Any:
        """The value of field `key` (the last one added), or None."""
        for k, _, v in reversed(self.fields):
            if k == key:
                return v
        return None

    def tag_value(self, key: str) -> Optional[str]:
        for k, v in reversed(self.tags):
            if k == key:
                return v
        return None

    def __repr__(self) -> str:
        tags = ",".join(f"{k}={v}" for k, v in self.tags)
        fields = ",".join(f"{k}={v!r}" for k, _, v in self.fields)
        return f"Point({self.measurement}{',' if tags else ''}{tags} {fields})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Point):
            return NotImplemented
        return all(getattr(self, s) == getattr(other, s) for s in Point.__slots__)


def points_of(result: Any) -> Iterable[Point]:
    """What a collect/handle function returned, as points: None, one Point, or an iterable."""
    if result is None:
        return ()
    if isinstance(result, Point):
        return (result,)
    return result
