"""Times as the host wants them: nanoseconds since the Unix epoch (an int64)."""

from __future__ import annotations

import datetime
import re
from typing import Optional

I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):?([0-9]{2}))\Z"
)
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def rfc3339_ns(text: str) -> Optional[int]:
    """ns since the epoch of an RFC 3339 time (`2024-03-01T12:00:00.5Z`, an offset `+08:00` or
    `+0800`, a space for `T`), or None when it is not one (a time without an offset is not);
    digits past the ns are cut. Exact: no float on the way."""
    m = _RFC3339.match(text)
    if m is None:
        return None
    year, month, day, h, mi, sec = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    if h > 23 or mi > 59 or sec > 60:
        return None
    try:
        days = datetime.date(year, month, day).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    offset = 0
    if m.group(8):
        oh, om = int(m.group(9)), int(m.group(10))
        if oh > 23 or om > 59:
            return None
        offset = (oh * 3600 + om * 60) * (-1 if m.group(8) == "-" else 1)
    frac = m.group(7) or ""
    ns = (days * 86400 + h * 3600 + mi * 60 + sec - offset) * 1_000_000_000
    ns += int(frac[:9].ljust(9, "0")) if frac else 0
    return ns if I64_MIN <= ns <= I64_MAX else None
