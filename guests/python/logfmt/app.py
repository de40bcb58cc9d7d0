"""logfmt: a log pipeline for logfmt lines (`level=info msg="hello world" dur=12ms status=200`).

One record per line:
- A pair is `key=value`, `key="quoted value"` (escapes \\" \\\\ \\/ \\n \\r \\t \\b \\f \\uXXXX; any
  other backslash is kept as written) or a bare `key`, which is a bool field true. `key=` is an
  empty text field. A bare value runs to the next space and may hold `=` (`q=a=b`).
- Keys in `tags` are tags, the others fields. With `typed`, a bare value that is a JSON number
  is an int field when it is an integer, a float field otherwise (text when it does not fit:
  an integer past 64 bits, `1e999`), and true/false is a bool field; anything else (`12ms`,
  `00042`, `.5`) and every quoted value is text, so `code="200"` stays "200".
- The first key of `time_keys` whose value is an RFC 3339 time (`2024-03-01T12:00:00.5Z`, an
  offset `+08:00`/`+0800`, a space for `T`; a time without an offset is not one) is the
  record's time and not a field; otherwise the host's read time is used.
- `message` (or failing that `msg`) is the record's `message` field. Without either, the raw
  line is kept as `message` when `keep_message` (and always when the record has no field).
- A key given twice keeps its first value (a point cannot hold a key twice).
- A line that is not logfmt passes through as its `message` with a `logfmt_error` tag: a quote
  left open (`unterminated_quote`), a quote inside a bare key or value or text right after a
  closing quote (`unexpected_quote`), `=` with no key (`missing_key`), or no `key=value` pair at
  all (`no_pairs`: free text, an empty line), never an error of the call.

Values that are plain slices of the line (bare values, quoted values without escapes) are sent
as references into the batch (`tag_span`/`text_span`): no copy.
"""
import math
import re

from sandkit_sdk import Measurement, pipeline
from sandkit_sdk.time import rfc3339_ns

_SPACE = re.compile(r"\s*")
# spaces, a key, then =value: group 2 a quoted value's inside, group 3 a bare value ("" for `key=`);
# neither for a bare key. A pair ends at a space or the end of the line.
_PAIR = re.compile(r'\s*([^\s="]+)(?:=(?:"((?:[^"\\]|\\.)*)"|([^\s"]*)))?(?=\s|\Z)', re.S)
_OPEN_QUOTE = re.compile(r'[^\s="]+="(?:[^"\\]|\\.)*(")?', re.S)
# JSON's numbers: no leading zeros (`id=00042` stays text), no `.5`, `+1`, `nan` or `inf`.
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?\Z")
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.S)
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "n": "\n", "r": "\r", "t": "\t", "b": "\b",
            "f": "\f"}
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1


def _unescape_one(m):
    s = m.group(1)
    if len(s) == 5:
        return chr(int(s[1:], 16))
    return _ESCAPES.get(s, m.group(0))


def unescape(s):
    """A quoted value's inside with its escapes read (lone UTF-16 surrogates become U+FFFD)."""
    out = _ESCAPE.sub(_unescape_one, s)
    if "\\u" in s:  # join surrogate pairs; what cannot be UTF-8 is replaced
        out = out.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return out


def _diagnose(line, pos):
    """Why no pair starts at `pos` (a logfmt_error tag value)."""
    c = line[pos]
    if c == "=":
        return "missing_key"
    m = _OPEN_QUOTE.match(line, pos)
    if m is not None and m.group(1) is None:
        return "unterminated_quote"
    return "unexpected_quote"


def _value(m):
    """The text of a pair's value (unescaped), or None for a bare key."""
    q = m.group(2)
    if q is not None:
        return unescape(q) if "\\" in q else q
    return m.group(3)


@pipeline(
    "logfmt",
    measurements=[
        Measurement("logfmt", "one logfmt line: a field per key, `tags` as tags (the "
                    "measurement is the source's)", category="logging",
                    tags={"logfmt_error": "why a line was not logfmt (it passed through)",
                          "*": "each key named in `tags` (default: level)"},
                    fields=[
                        ("message", "text", "", "the line's msg or message, else the raw line "
                         "(keep_message)"),
                        ("*", "text", "", "every other key: a quoted value, or (typed) a bare "
                         "value that is not a number or true/false"),
                        ("*", "int", "", "typed: a bare integer"),
                        ("*", "float", "", "typed: a bare number with a fraction or exponent"),
                        ("*", "bool", "", "typed: bare true/false; a bare key is true"),
                    ]),
    ],
)
class Logfmt:
    """logfmt lines (key=value pairs) into typed fields, tags, time and message."""

    def __init__(self, config):
        config.check_keys(["tags", "typed", "time_keys", "keep_message"])
        self.tags = frozenset(config.str_list("tags", ["level"]))
        self.typed = config.bool("typed", True)
        self.time_keys = config.str_list("time_keys", ["time", "ts"])
        self.keep_message = config.bool("keep_message", True)
        self.specials = frozenset(self.time_keys) | {"message", "msg"}

    def process_line(self, line, out):
        pairs = []
        special = {}  # the first occurrence of a time or message key
        specials = self.specials
        match = _PAIR.match
        pos = 0
        while True:
            m = match(line, pos)
            if m is None:
                break
            pairs.append(m)
            key = m.group(1)
            if key in specials and key not in special:
                special[key] = m
            pos = m.end()
        if pos < len(line) and not line[pos:].isspace():
            pos = _SPACE.match(line, pos).end()
            out.record().tag("logfmt_error", _diagnose(line, pos)).keep_message()
            return
        # lastindex: 1 for a bare key, 2 or 3 for a pair with a value
        if not any(m.lastindex > 1 for m in pairs):
            out.record().tag("logfmt_error", "no_pairs").keep_message()
            return

        time_ns = None
        seen = {"message"}
        for k in self.time_keys:
            m = special.get(k)
            v = _value(m) if m is not None else None
            if v:
                time_ns = rfc3339_ns(v)
                if time_ns is not None:
                    seen.add(k)
                    break
        message = None
        for k in ("message", "msg"):
            m = special.get(k)
            if m is not None and m.lastindex > 1:
                message = m
                seen.add(k)
                break

        r = out.record()
        tags, typed = self.tags, self.typed
        fields = 0
        for m in pairs:
            key, q, bare = m.groups()
            if key in seen:
                continue
            seen.add(key)
            if key in tags:
                if q is not None:
                    if "\\" in q:
                        r.tag(key, unescape(q))
                    elif q:
                        r.tag_span(key, m.start(2), m.end(2))
                elif bare is None:
                    r.tag(key, "true")
                elif bare:
                    r.tag_span(key, m.start(3), m.end(3))
                continue  # an empty tag carries nothing
            fields += 1
            if q is not None:
                if "\\" in q:
                    r.text(key, unescape(q))
                else:
                    r.text_span(key, m.start(2), m.end(2))
            elif bare is None:
                r.bool(key, True)
            elif typed and _INT.match(bare):
                v = int(bare)
                if I64_MIN <= v <= I64_MAX:
                    r.int(key, v)
                else:
                    r.text_span(key, m.start(3), m.end(3))
            elif typed and _FLOAT.match(bare):
                v = float(bare)
                if math.isfinite(v):
                    r.float(key, v)
                else:
                    r.text_span(key, m.start(3), m.end(3))
            elif typed and bare in ("true", "false"):
                r.bool(key, bare == "true")
            else:
                r.text_span(key, m.start(3), m.end(3))
        if message is not None:
            q = message.group(2)
            if q is not None and "\\" in q:
                r.text("message", unescape(q))
            elif q is not None:
                r.text_span("message", message.start(2), message.end(2))
            else:
                r.text_span("message", message.start(3), message.end(3))
        elif self.keep_message or fields == 0:
            r.keep_message()
        if time_ns is not None:
            r.time_ns(time_ns)
