"""What a plugin says about itself: durations, PluginInfo.build, measurements."""

import pytest

from sandkit_sdk import Category, FieldInfo, FieldKind, Measurement, PluginInfo, duration_ms


@pytest.mark.parametrize("text,ms", [
    ("10s", 10_000), ("250ms", 250), ("1m 30s", 90_000), ("1m30s", 90_000), ("1h", 3_600_000),
    ("2min", 120_000), ("1d", 86_400_000), ("1.5s", 1500), (" 10 s ", 10_000), ("0s", 0),
    ("1h 1m 1s 1ms", 3_661_001), ("0.5ms", 0), ("1.5ms", 2),
    (10, 10_000), (0.25, 250), (0, 0), (1.0005, 1000),
])
def test_durations(text, ms):
    assert duration_ms(text) == ms


@pytest.mark.parametrize("value,message", [
    ("10", "interval: '10' is not a duration; write e.g. \"10s\" or \"250ms\""),
    ("10sec", "interval: '10sec' is not a duration"),
    ("-5s", "interval: '-5s' is not a duration"),
    ("s", "interval: 's' is not a duration"),
    ("1.5.5s", "interval: '1.5.5s' is not a duration"),
    ("", "interval: empty duration"),
    ("   ", "interval: empty duration"),
    (-1, "interval: -1 is negative"),
    (True, "interval: True is not a duration"),
    (None, "interval: None is not a duration"),
    ([10], "interval: [10] is not a duration"),
    (float("inf"), "interval: inf is not a duration"),
    (float("nan"), "interval: nan is not a duration"),
])
def test_bad_durations_name_what_they_are_for(value, message):
    with pytest.raises(ValueError) as e:
        duration_ms(value)
    assert str(e.value).startswith(message)


def test_a_bad_duration_names_the_setting():
    with pytest.raises(ValueError, match="^max_interval: 'forever' is not a duration"):
        PluginInfo.build("p", max_interval="forever")


def test_build_with_defaults():
    info = PluginInfo.build("p")
    assert (info.name, info.version, info.description) == ("p", "0.1.0", "")
    assert (info.default_interval_ms, info.min_interval_ms, info.max_interval_ms) == (
        10_000, 1_000, 3_600_000)
    assert info.measurements == []


def test_build_with_everything():
    m = Measurement("cpu", "CPU usage", "metric", {"cpu": "the CPU"},
                    [FieldInfo("usage", "float", "percent", "busy"), ("ticks", "uint")])
    info = PluginInfo.build("p", "1.2.3", "desc", interval=30, min_interval="5s",
                            max_interval="1d", measurements=[m])
    assert (info.default_interval_ms, info.min_interval_ms, info.max_interval_ms) == (
        30_000, 5_000, 86_400_000)
    assert info.version == "1.2.3" and info.description == "desc"
    assert info.measurements[0].category is Category.METRIC
    assert info.measurements[0].tags == [("cpu", "the CPU")]
    assert info.measurements[0].fields == [
        FieldInfo("usage", FieldKind.FLOAT, "percent", "busy"),
        FieldInfo("ticks", FieldKind.UINT),
    ]


@pytest.mark.parametrize("kw,message", [
    ({"interval": "500ms"}, "plugin 'p': interval 500 ms is not within [1000, 3600000] ms"),
    ({"interval": "2h"}, "plugin 'p': interval 7200000 ms is not within [1000, 3600000] ms"),
    ({"min_interval": "1m", "interval": "10s"}, "interval 10000 ms is not within [60000, 3600000] ms"),
    ({"min_interval": "1h", "max_interval": "1m"}, "is not within [3600000, 60000] ms"),
])
def test_intervals_must_be_in_order(kw, message):
    with pytest.raises(ValueError) as e:
        PluginInfo.build("p", **kw)
    assert message in str(e.value)


def test_the_bounds_themselves_are_allowed():
    info = PluginInfo.build("p", interval="1s", min_interval="1s", max_interval="1s")
    assert info.default_interval_ms == info.min_interval_ms == info.max_interval_ms == 1000


@pytest.mark.parametrize("name", ["", None, 3])
def test_a_plugin_needs_a_name(name):
    with pytest.raises(ValueError, match="a plugin needs a name"):
        PluginInfo.build(name)


def test_measurements_take_names_and_tuples():
    m = Measurement("log", category="custom-object", tags=[("a", "b")], fields=[("msg", "string", "", "text")])
    assert m.category is Category.CUSTOM_OBJECT
    assert m.tags == [("a", "b")]
    assert m.fields == [FieldInfo("msg", FieldKind.TEXT, "", "text")]
    assert FieldInfo("x").kind is FieldKind.FLOAT
    with pytest.raises(ValueError, match="unknown field kind 'complex'"):
        FieldInfo("x", "complex")
    with pytest.raises(ValueError, match="unknown category 'metrix'"):
        Measurement("m", category="metrix")
