"""A class collector: __init__(self, config) once, collect(self) per interval, yielding."""
from sandkit_sdk import Point, collector


@collector("class-collector")
class Counter:
    def __init__(self, config):
        self.step = config.int("step", 1)
        self.n = 0

    def collect(self):
        self.n += self.step
        yield Point("counter").field("n", self.n)
        yield Point("counter").tag("kind", "double").field("n", self.n * 2)
