"""The pipeline record encoding (docs/record-encoding.md), written in Python.

A pipeline's `process` returns one byte buffer for the whole batch::

    output := "SKR1" record*
    record := line:u32 flags:u8 time:i64 items:u16 item{items}
    item   := kind:u8 key-len:u16 key value

All integers little-endian. The host checks every byte it reads; this writer only produces what
the host accepts (keys cut to 65,535 bytes on a character boundary, at most 65,535 items).
"""

from __future__ import annotations

import struct
from typing import Any, Iterator, List, Optional, Sequence

from .point import FieldKind, seconds_ns, typed_value

MAGIC = b"SKR1"
F_TIME = 1
F_MESSAGE = 2
HEADER = 4 + 1 + 8 + 2
MAX_ITEMS = 0xFFFF
MAX_KEY = 0xFFFF

TAG = 0
TEXT = 1
TAG_REF = 2
TEXT_REF = 3
INT = 4
UINT = 5
FLOAT = 6
BOOL = 7
MEASUREMENT = 8

_HEADER = struct.Struct("<IBqH")
_KEY = struct.Struct("<BH")
_U32 = struct.Struct("<I")
_REF = struct.Struct("<II")
_I64 = struct.Struct("<q")
_U64 = struct.Struct("<Q")
_F64 = struct.Struct("<d")
_U16 = struct.Struct("<H")
_TIME = struct.Struct("<q")


class Batch:
    """A batch of raw lines as the host sends it: `data` holds every line, line i spans the UTF-8
    bytes ``ends[i-1]:ends[i]`` (a Python ``str`` is indexed by characters, so the SDK converts)."""

    __slots__ = ("source", "data", "ends", "_lines", "_starts", "_ascii")

    def __init__(self, source: str, data: str, ends: Sequence[int]):
        self.source = source
        self.data = data
        self.ends = list(ends)
        self._ascii = data.isascii()
        raw = data if self._ascii else data.encode("utf-8")
        lines: List[str] = []
        starts: List[int] = []
        prev = 0
        for i, end in enumerate(self.ends):
            if end < prev or end > len(raw):
                raise ValueError(
                    f"line {i} of the batch ends at byte {end}, which is not a line end "
                    f"in {len(raw)} bytes"
                )
            starts.append(prev)
            if self._ascii:
                lines.append(data[prev:end])
            else:
                try:
                    lines.append(raw[prev:end].decode("utf-8"))
                except UnicodeDecodeError:
                    raise ValueError(
                        f"line {i} of the batch ends at byte {end}, not on a character boundary"
                    ) from None
            prev = end
        self._lines = lines
        self._starts = starts

    @classmethod
    def of_lines(cls, lines: Sequence[str], source: str = "test") -> "Batch":
        """A batch of the given lines (for tests)."""
        ends, total = [], 0
        for line in lines:
            total += len(line.encode("utf-8"))
            ends.append(total)
        return cls(source, "".join(lines), ends)

    def __len__(self) -> int:
        return len(self._lines)

    def __iter__(self) -> Iterator[str]:
        return iter(self._lines)

    def line(self, i: int) -> str:
        return self._lines[i]

    @property
    def lines(self) -> List[str]:
        return self._lines


def _key(key: str) -> bytes:
    k = key.encode("utf-8")
    if len(k) > MAX_KEY:
        k = k[:MAX_KEY].decode("utf-8", "ignore").encode("utf-8")
    return k


class Records:
    """The records a pipeline makes from a batch, written straight into the output encoding."""

    __slots__ = ("_buf", "_batch", "_line", "_text", "_start", "_ascii")

    def __init__(self, batch: Optional[Batch] = None):
        self._buf = bytearray(MAGIC)
        self._batch = batch
        self._line = 0
        self._text = batch.line(0) if batch is not None and len(batch) else ""
        self._start = 0
        self._ascii = self._text.isascii()

    def set_line(self, i: int) -> None:
        """Set the input line the next records come from (the SDK's batch loop does this)."""
        self._line = i
        if self._batch is not None:
            self._text = self._batch._lines[i]
            self._start = self._batch._starts[i]
            # An ASCII batch has ASCII lines: no scan per line.
            self._ascii = self._batch._ascii or self._text.isascii()

    @property
    def line(self) -> str:
        """The current input line."""
        return self._text

    def record(self) -> "Record":
        """Start a record for the current line; add items with the builder's methods."""
        at = len(self._buf)
        self._buf += _HEADER.pack(self._line, 0, 0, 0)
        return Record(self, at)

    def passthrough(self) -> None:
        """A record that is the input line as it came, in the `message` field."""
        self.record().keep_message()

    def mark(self) -> int:
        """The current length, for `rollback`."""
        return len(self._buf)

    def rollback(self, mark: int) -> None:
        """Forget every record written since `mark`."""
        del self._buf[mark:]

    def __len__(self) -> int:
        return len(self._buf)

    def to_bytes(self) -> bytes:
        return bytes(self._buf)


class Record:
    """One record being written. Every method returns the record, for chaining."""

    __slots__ = ("_out", "_at", "_items")

    def __init__(self, out: Records, at: int):
        self._out = out
        self._at = at
        self._items = 0

    def _item(self, kind: int, key: str, value: bytes) -> "Record":
        if self._items >= MAX_ITEMS:
            return self
        k = _key(key)
        buf = self._out._buf
        buf += _KEY.pack(kind, len(k))
        buf += k
        buf += value
        self._items += 1
        _U16.pack_into(buf, self._at + 13, self._items)
        return self

    def _inline(self, kind: int, key: str, value: str) -> "Record":
        v = value.encode("utf-8")
        if len(v) > 0xFFFFFFFF:
            v = v[:0xFFFFFFFF].decode("utf-8", "ignore").encode("utf-8")
        return self._item(kind, key, _U32.pack(len(v)) + v)

    def _span(self, kind: int, key: str, start: int, end: Optional[int]) -> "Record":
        out = self._out
        text = out._text
        s, e, _ = slice(start, end).indices(len(text))
        if e < s:
            e = s
        if out._ascii:
            bs, bl = s, e - s
        else:
            bs = len(text[:s].encode("utf-8"))
            bl = len(text[s:e].encode("utf-8"))
        return self._item(kind, key, _REF.pack(out._start + bs, bl))

    def tag(self, key: str, value: Any) -> "Record":
        """A tag (indexed, low cardinality). An empty key is left out."""
        if not key:
            return self
        return self._inline(TAG, key, value if isinstance(value, str) else str(value))

    def field(self, key: str, value: Any, kind: "FieldKind | str | None" = None) -> "Record":
        """A field; its kind is inferred from the value unless given. An empty key is left out."""
        if not key:
            return self
        k, v = typed_value(key, value, None if kind is None else FieldKind.of(kind))
        if k is FieldKind.TEXT:
            return self._inline(TEXT, key, v)
        if k is FieldKind.INT:
            return self._item(INT, key, _I64.pack(v))
        if k is FieldKind.UINT:
            return self._item(UINT, key, _U64.pack(v))
        if k is FieldKind.FLOAT:
            return self._item(FLOAT, key, _F64.pack(v))
        return self._item(BOOL, key, b"\x01" if v else b"\x00")

    def int(self, key: str, value: int) -> "Record":
        return self.field(key, value, FieldKind.INT)

    def uint(self, key: str, value: int) -> "Record":
        return self.field(key, value, FieldKind.UINT)

    def float(self, key: str, value: float) -> "Record":
        return self.field(key, value, FieldKind.FLOAT)

    def bool(self, key: str, value: bool) -> "Record":
        return self.field(key, value, FieldKind.BOOL)

    def text(self, key: str, value: str) -> "Record":
        return self.field(key, value, FieldKind.TEXT)

    def tag_span(self, key: str, start: int, end: Optional[int] = None) -> "Record":
        """A tag whose value is ``line[start:end]`` of the current line, sent as a reference
        into the batch (no copy); offsets are character offsets, as Python slices."""
        if not key:
            return self
        return self._span(TAG_REF, key, start, end)

    def text_span(self, key: str, start: int, end: Optional[int] = None) -> "Record":
        """A text field whose value is ``line[start:end]`` of the current line, as a reference."""
        if not key:
            return self
        return self._span(TEXT_REF, key, start, end)

    def time_ns(self, ns: int) -> "Record":
        """The record's time in ns since the Unix epoch (default: when the line was read)."""
        buf = self._out._buf
        buf[self._at + 4] |= F_TIME
        _TIME.pack_into(buf, self._at + 5, ns)
        return self

    def time(self, seconds: float) -> "Record":
        return self.time_ns(seconds_ns(seconds))

    def keep_message(self) -> "Record":
        """Keep the input line as the `message` field (the host adds it from its own copy)."""
        self._out._buf[self._at + 4] |= F_MESSAGE
        return self

    def measurement(self, name: str) -> "Record":
        """Send the record under another measurement than the source's."""
        if not name:
            return self
        return self._inline(MEASUREMENT, "", name)


def decode(output: bytes, batch: Batch) -> List[dict]:
    """Read an output back (for tests): a list of dicts with line, time, keep_message and items
    as (kind, key, value) with references resolved."""
    if output[:4] != MAGIC:
        raise ValueError(f"no SKR1 magic (the first bytes are {bytes(output[:4])!r})")
    raw = batch.data.encode("utf-8")
    pos, records = 4, []
    names = {TAG: "tag", TEXT: "text", TAG_REF: "tag", TEXT_REF: "text", INT: "int",
             UINT: "uint", FLOAT: "float", BOOL: "bool", MEASUREMENT: "measurement"}
    while pos < len(output):
        line, flags, time, n = _HEADER.unpack_from(output, pos)
        pos += HEADER
        items = []
        for _ in range(n):
            kind, klen = _KEY.unpack_from(output, pos)
            pos += 3
            key = output[pos:pos + klen].decode("utf-8")
            pos += klen
            if kind in (TAG, TEXT, MEASUREMENT):
                (vlen,) = _U32.unpack_from(output, pos)
                value: Any = output[pos + 4:pos + 4 + vlen].decode("utf-8")
                pos += 4 + vlen
            elif kind in (TAG_REF, TEXT_REF):
                s, ln = _REF.unpack_from(output, pos)
                value = raw[s:s + ln].decode("utf-8")
                pos += 8
            elif kind == INT:
                (value,) = _I64.unpack_from(output, pos)
                pos += 8
            elif kind == UINT:
                (value,) = _U64.unpack_from(output, pos)
                pos += 8
            elif kind == FLOAT:
                (value,) = _F64.unpack_from(output, pos)
                pos += 8
            elif kind == BOOL:
                value = output[pos] == 1
                pos += 1
            else:
                raise ValueError(f"unknown item kind {kind} at byte {pos - 3 - klen}")
            items.append((names[kind], key, value))
        records.append({
            "line": line,
            "time": time if flags & F_TIME else None,
            "keep_message": bool(flags & F_MESSAGE),
            "items": items,
        })
    return records
