"""Counts collects in its state; `big` in config stores that many bytes."""
from sandkit_sdk import Point, collector, state


@collector("stateful")
def collect(config):
    n = state.get_json("count", 0) + 1
    state.set_json("count", n)
    state.set("raw", "é")
    big = config.int("big", 0)
    if big:
        state.set("big", b"x" * big)
    return Point("state").field("count", n)
