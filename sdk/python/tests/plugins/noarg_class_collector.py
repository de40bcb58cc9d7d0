"""A class collector without __init__: built with no arguments."""
from sandkit_sdk import Point, collector


@collector("noarg")
class Plain:
    def collect(self):
        return Point("plain").field("ok", True)
