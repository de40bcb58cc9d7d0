"""{{name}}: a Sandkit input. Turns each body posted to /v1/input/{{name}} into Points."""
from sandkit_sdk import Point, input


@input("{{name}}")
def handle(content_type, body):
    return [Point("{{name}}").tag("content_type", content_type or "none").field("bytes", len(body))]
