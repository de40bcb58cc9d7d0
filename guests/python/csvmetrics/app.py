"""csvmetrics: an input that turns a posted CSV body into points, one per row.

The first row is the header: column names. Every other row is a point:
- measurement: `measurement`, or the row's cell in `measurement_column` when the header has it
  (an empty cell: `measurement`);
- tags: the columns of `tag_columns` (an empty cell: no tag);
- time: the cell of `time_column` when the header has it (an empty cell, or no such column: the
  host's clock), read as `time_format`: "rfc3339" (`2024-03-01T12:00:00Z`, an offset, any
  fraction), "unix", "unix_ms", "unix_us", "unix_ns" (a decimal number, fraction allowed), or
  "auto": RFC 3339, else unix seconds;
- fields: every other column; an empty cell is no field. A column's type is the one of
  `column_types`, else inferred over the whole body, so a column has one type per body: int when
  every cell is an integer (no leading zeros), float when every cell is a number, bool when every
  cell is true or false (any case), else text.

Cells are stripped of surrounding spaces; blank lines are skipped; a UTF-8 byte order mark is
ignored. The delimiter is `delimiter`, or a tab for the content type text/tab-separated-values;
other content types than CSV's, text/plain and what curl sends by default are refused. Any error refuses the whole body (nothing of it is written, the client gets 400) with a
ValueError naming the row (data rows counted from 1), its line in the body and the column: a row
with another number of cells than the header, a cell that is not its column's type, a time that
does not parse, a row with no field, a header with an empty or repeated name.
"""
import csv
import io
import math
import re

from sandkit_sdk import FieldKind, Measurement, Point, input
from sandkit_sdk.time import rfc3339_ns

FORMATS = ("auto", "rfc3339", "unix", "unix_ms", "unix_us", "unix_ns")
_UNIX_DIGITS = {"unix": 9, "unix_ms": 6, "unix_us": 3, "unix_ns": 0}
KINDS = {"int": FieldKind.INT, "float": FieldKind.FLOAT, "bool": FieldKind.BOOL,
         "text": FieldKind.TEXT}
# curl --data-binary sends application/x-www-form-urlencoded unless told otherwise
CONTENT_TYPES = ("", "text/csv", "application/csv", "text/plain", "text/tab-separated-values",
                 "application/octet-stream", "application/x-www-form-urlencoded")

_INT = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?\Z")
# a declared int or float column takes a little more: leading zeros, a sign, `.5`
_LOOSE_INT = re.compile(r"[-+]?[0-9]+\Z")
_LOOSE_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
_DECIMAL = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?\Z")
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1


def decimal_ns(s, digits):
    """ns of a decimal number of seconds (`digits` 9), ms (6), us (3) or ns (0), or None (a
    fraction past ns is cut)."""
    m = _DECIMAL.match(s)
    if m is None:
        return None
    sign, whole, frac = m.group(1), m.group(2), m.group(3) or ""
    ns = int(whole) * 10**digits + (int(frac[:digits].ljust(digits, "0")) if digits else 0)
    ns = -ns if sign else ns
    return ns if I64_MIN <= ns <= I64_MAX else None


def parse_time(s, fmt):
    if fmt in _UNIX_DIGITS:
        return decimal_ns(s, _UNIX_DIGITS[fmt])
    ns = rfc3339_ns(s)
    if ns is None and fmt == "auto":
        ns = decimal_ns(s, 9)
    return ns


def infer(cells):
    """The kind of a column from its non-empty cells."""
    if all(_INT.match(c) and I64_MIN <= int(c) <= I64_MAX for c in cells):
        return "int"
    if all(_NUMBER.match(c) and math.isfinite(float(c)) for c in cells):
        return "float"
    if all(c.lower() in ("true", "false") for c in cells):
        return "bool"
    return "text"


def convert(cell, kind):
    """The value of a cell of a column of `kind`, or None when it is not one."""
    if kind == "text":
        return cell
    if kind == "int":
        if _LOOSE_INT.match(cell):
            v = int(cell)
            return v if I64_MIN <= v <= I64_MAX else None
        return None
    if kind == "float":
        if _LOOSE_FLOAT.match(cell):
            v = float(cell)
            return v if math.isfinite(v) else None
        return None
    low = cell.lower()
    return True if low == "true" else False if low == "false" else None


@input(
    "csvmetrics",
    measurements=[
        Measurement("*", "one CSV row: measurement `measurement` (default csv), or the row's "
                    "value of the measurement column",
                    tags={"*": "each column of `tag_columns`"},
                    fields=[
                        ("*", "int", "", "a column whose cells are all integers (or pinned int)"),
                        ("*", "float", "", "a column whose cells are all numbers (or pinned "
                         "float)"),
                        ("*", "bool", "", "a column whose cells are all true/false (or pinned "
                         "bool)"),
                        ("*", "text", "", "any other column (or pinned text)"),
                    ]),
    ],
)
class CsvMetrics:
    """CSV bodies (a header row, then one point per row) into typed points."""

    def __init__(self, config):
        config.check_keys(["measurement", "measurement_column", "tag_columns", "time_column",
                           "time_format", "column_types", "delimiter", "max_rows"])
        self.measurement = config.str("measurement", "csv")
        if not self.measurement:
            raise ValueError("[config] measurement is empty")
        self.measurement_column = config.str("measurement_column", "measurement")
        self.tag_columns = frozenset(config.str_list("tag_columns", []))
        self.time_column = config.str("time_column", "time")
        self.time_format = config.str("time_format", "auto")
        if self.time_format not in FORMATS:
            raise ValueError(f"[config] time_format = {self.time_format!r}: use one of "
                             + ", ".join(FORMATS))
        self.column_types = {}
        types = config.table("column_types", None)
        for col in types or ():
            kind = types[col]
            if kind not in KINDS:
                raise ValueError(f"[config] column_types.{col} = {kind!r}: use int, float, bool "
                                 "or text")
            self.column_types[col] = kind
        self.delimiter = config.str("delimiter", ",")
        if len(self.delimiter) != 1 or self.delimiter in "\"\r\n":
            raise ValueError(f"[config] delimiter = {self.delimiter!r}: one character, not a "
                             "quote or a line break")
        self.max_rows = config.int("max_rows", 5_000)

    def handle(self, content_type, body):
        media = content_type.split(";", 1)[0].strip().lower()
        if media not in CONTENT_TYPES:
            raise ValueError(f"content type {content_type!r} is not CSV (send text/csv)")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"the body is not UTF-8 (byte {e.start})") from None
        if text.startswith("\ufeff"):
            text = text[1:]
        delimiter = "\t" if media == "text/tab-separated-values" else self.delimiter
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        rows = []  # (line, cells)
        header = None
        try:
            for cells in reader:
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue  # a blank line
                cells = [c.strip() for c in cells]
                if header is None:
                    header = cells
                    continue
                if len(rows) == self.max_rows:
                    raise ValueError(f"more than max_rows = {self.max_rows} rows")
                rows.append((reader.line_num, cells))
        except csv.Error as e:
            raise ValueError(f"line {reader.line_num}: not CSV: {e}") from None
        if header is None:
            raise ValueError("the body has no header row")
        return self.points(header, rows)

    def points(self, header, rows):
        seen = set()
        for i, name in enumerate(header):
            if not name:
                raise ValueError(f"header: column {i + 1} has no name")
            if name in seen:
                raise ValueError(f"header: column {name!r} appears twice")
            seen.add(name)
        width = len(header)
        m_at = header.index(self.measurement_column) if self.measurement_column in seen else None
        t_at = header.index(self.time_column) if self.time_column in seen else None
        tag_at = [(i, c) for i, c in enumerate(header) if c in self.tag_columns]
        field_at = [(i, c) for i, c in enumerate(header)
                    if i != m_at and i != t_at and c not in self.tag_columns]
        for n, (line, cells) in enumerate(rows, 1):
            if len(cells) != width:
                raise ValueError(f"row {n} (line {line}): {len(cells)} cells, the header has "
                                 f"{width} columns")
        kinds = {}
        for i, col in field_at:
            kind = self.column_types.get(col)
            if kind is None:
                kind = infer([cells[i] for _, cells in rows if cells[i]])
            kinds[i] = kind

        points = []
        for n, (line, cells) in enumerate(rows, 1):
            p = Point(cells[m_at] if m_at is not None and cells[m_at] else self.measurement)
            for i, col in tag_at:
                if cells[i]:
                    p.tag(col, cells[i])
            for i, col in field_at:
                cell = cells[i]
                if not cell:
                    continue
                v = convert(cell, kinds[i])
                if v is None:
                    raise ValueError(f"row {n} (line {line}), column {col!r}: {cell!r} is not "
                                     f"{'an' if kinds[i] == 'int' else 'a'} {kinds[i]}")
                p.field(col, v, KINDS[kinds[i]])  # an enum: FieldKind.of a str is slower
            if not p.fields:
                raise ValueError(f"row {n} (line {line}): no field (every field cell is empty)")
            if t_at is not None and cells[t_at]:
                ns = parse_time(cells[t_at], self.time_format)
                if ns is None:
                    raise ValueError(f"row {n} (line {line}), column {header[t_at]!r}: "
                                     f"{cells[t_at]!r} is not a time ({self.time_format})")
                p.time_ns(ns)
            points.append(p)
        return points
