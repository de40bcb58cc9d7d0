"""Tests of {{name}} on plain CPython: `python -m pytest` (pip install sandkit-sdk pytest)."""
from sandkit_sdk import testing


def test_the_first_word_is_the_level():
    plugin = testing.load("app.py")
    records = plugin.process(["WARN disk almost full", "info ok"])
    assert [r["items"] for r in records] == [
        [("tag", "level", "warn"), ("text", "msg", "disk almost full")],
        [("tag", "level", "info"), ("text", "msg", "ok")],
    ]
