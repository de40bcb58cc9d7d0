"""An input whose handle takes the body only."""
from sandkit_sdk import Point, input


@input("one-arg")
def handle(body):
    for line in body.decode().splitlines():
        name, _, value = line.partition(" ")
        yield Point(name).field("value", float(value))
