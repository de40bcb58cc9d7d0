"""A generator collector of COUNT points (more than one chunk)."""
from sandkit_sdk import Point, collector

COUNT = 600


@collector("gen")
def collect():
    for i in range(COUNT):
        yield Point("gen").field("i", i)
