"""emit() from anywhere during collect, plus the points returned."""
from sandkit_sdk import Point, collector, emit


def helper(n):
    for i in range(n):
        emit(Point("emitted").field("i", i))


@collector("emitter")
def collect(config):
    helper(config.int("n"))
    emit(Point("emitted").field("i", -1), Point("emitted").field("i", -2))
    return Point("returned").field("ok", True)
