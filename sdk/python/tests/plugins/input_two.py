"""A class input whose handle takes the content type and the body."""
from sandkit_sdk import Point, input


@input("two-args")
class Json:
    def handle(self, content_type, body):
        if content_type != "application/json":
            raise ValueError(f"unsupported content type {content_type!r}")
        return [Point("body").field("bytes", len(body)).tag("type", content_type)]
