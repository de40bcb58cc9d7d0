"""The Python twin of guests/testing/recwriter: writes the records a line spells out (see
that guest for the mini-language), so a test can check that both SDKs give the host the same
records. One token is its own: `raise` raises a ValueError (the Rust twin skips it), to show
that an exception costs one line, not the batch."""
from sandkit_sdk import pipeline


def _int(text, lo, hi):
    try:
        x = int(text, 10)
    except ValueError:
        return None
    return x if lo <= x <= hi and text.lstrip("+-").isdigit() else None


def _float(text):
    try:
        return float(text)
    except ValueError:
        return None


@pipeline("pyrecwriter")
def process(line, out):
    pos = 0
    for spec in line.split(" | "):
        start, pos = pos, pos + len(spec) + 3
        if spec == "drop":
            continue
        r = out.record()
        at = start
        for tok in spec.split(" "):
            tok_at, at = at, at + len(tok) + 1
            if tok == "raise":
                raise ValueError("this line asked to fail")
            if tok == "keep":
                r.keep_message()
                continue
            if tok.startswith("@"):
                ns = _int(tok[1:], -(1 << 63), (1 << 63) - 1)
                if ns is not None:
                    r.time_ns(ns)
                continue
            head, eq, value = tok.partition("=")
            kind, colon, key = head.partition(":")
            if not eq or not colon:
                continue
            if kind == "t":
                r.tag(key, value)
            elif kind == "s":
                r.text(key, value)
            elif kind == "r":
                v0 = tok_at + len(head) + 1
                r.text_span(key, v0, v0 + len(value))
            elif kind == "i":
                x = _int(value, -(1 << 63), (1 << 63) - 1)
                if x is not None:
                    r.int(key, x)
            elif kind == "u":
                x = _int(value, 0, (1 << 64) - 1)
                if x is not None and not value.startswith("-"):
                    r.uint(key, x)
            elif kind == "f":
                x = _float(value)
                if x is not None:
                    r.float(key, x)
            elif kind == "b":
                if value in ("true", "false"):
                    r.bool(key, value == "true")
            elif kind == "m":
                r.measurement(value)
