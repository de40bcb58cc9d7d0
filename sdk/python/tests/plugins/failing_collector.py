"""Errors raised in collect, chosen by config."""
from sandkit_sdk import Point, PluginError, collector


def parse(text):
    return int(text)  # raises ValueError for "x"


@collector("failing")
def collect(config):
    what = config.str("what")
    if what == "value":
        raise ValueError("boom")
    if what == "nested":
        parse("x")
    if what == "sdk":
        Point("")  # the SDK raises; the error names this line
    if what == "plugin-error":
        raise PluginError("as written")
    if what == "memory":
        raise MemoryError()
    if what == "exit":
        raise SystemExit(3)
    if what == "empty":
        raise KeyError
