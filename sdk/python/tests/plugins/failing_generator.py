"""A generator collector that fails half way, or yields a point the host refuses."""
from sandkit_sdk import Point, collector


@collector("failing-gen")
def collect(config):
    what = config.str("what")
    if what == "after-emit":
        yield Point("before").field("n", 1)
        raise RuntimeError("half way")
    if what == "no-fields":
        yield Point("bare")
