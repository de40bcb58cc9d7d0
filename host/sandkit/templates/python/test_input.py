"""Tests of {{name}} on plain CPython: `python -m pytest` (pip install sandkit-sdk pytest)."""
from sandkit_sdk import testing


def test_counts_the_bytes_of_a_body():
    plugin = testing.load("app.py")
    points = plugin.handle(b"hello", "text/plain")
    assert [p.field_value("bytes") for p in points] == [5]
