"""Tests of {{name}} on plain CPython: `python -m pytest` (pip install sandkit-sdk pytest)."""
from sandkit_sdk import testing


def test_collects_the_load_average(tmp_path):
    host = testing.TestHost(files={"/proc/loadavg": "0.50 0.25 0.10 1/100 4242\n"})
    plugin = testing.load("app.py", host=host)
    points = plugin.collect()
    assert [p.field_value("load1") for p in points] == [0.5]
