"""Point: the builder, type inference, explicit kinds, timestamps and categories."""

import pytest

from sandkit_sdk import Category, FieldKind, Point
from sandkit_sdk.point import I64_MAX, I64_MIN, U64_MAX, points_of, typed_value


def kinds(p):
    return [(k, kind.value, v) for k, kind, v in p.fields]


def test_inference_bool_before_int():
    p = Point("m").field("t", True).field("f", False).field("i", 1).field("z", 0)
    assert kinds(p) == [("t", "bool", True), ("f", "bool", False), ("i", "int", 1), ("z", "int", 0)]


def test_inference_of_every_type():
    p = (Point("m").field("i", -5).field("x", 1.5).field("s", "text").field("e", "")
         .field("big", I64_MAX).field("bigger", I64_MAX + 1).field("max", U64_MAX)
         .field("min", I64_MIN))
    assert kinds(p) == [
        ("i", "int", -5), ("x", "float", 1.5), ("s", "text", "text"), ("e", "text", ""),
        ("big", "int", I64_MAX), ("bigger", "uint", I64_MAX + 1), ("max", "uint", U64_MAX),
        ("min", "int", I64_MIN),
    ]


@pytest.mark.parametrize("value,message", [
    (U64_MAX + 1, "field 'k': 18446744073709551616 does not fit a 64-bit unsigned int"),
    (I64_MIN - 1, "field 'k': -9223372036854775809 does not fit a 64-bit signed int"),
])
def test_inferred_ints_out_of_range_name_the_field(value, message):
    with pytest.raises(ValueError) as e:
        Point("m").field("k", value)
    assert str(e.value) == message


@pytest.mark.parametrize("value,name", [(None, "NoneType"), ([1], "list"), (b"x", "bytes"),
                                        ({"a": 1}, "dict")])
def test_values_of_other_types_are_refused_naming_the_field(value, name):
    with pytest.raises(TypeError) as e:
        Point("m").field("cpu", value)
    assert str(e.value) == f"field 'cpu': a {name} is not a field value (use int, float, bool or str)"


def test_explicit_kinds():
    p = (Point("m").int("i", 3).uint("u", 3).float("f", 3).bool("b", False).text("t", "3")
         .field("g", 7, "float").field("h", 7, FieldKind.UINT).field("s", "x", "string")
         .field("n", 1, "integer").field("y", True, "boolean").field("w", "v", " Str "))
    assert kinds(p) == [
        ("i", "int", 3), ("u", "uint", 3), ("f", "float", 3.0), ("b", "bool", False),
        ("t", "text", "3"), ("g", "float", 7.0), ("h", "uint", 7), ("s", "text", "x"),
        ("n", "int", 1), ("y", "bool", True), ("w", "text", "v"),
    ]
    assert isinstance(p.field_value("f"), float)


@pytest.mark.parametrize("call,error,message", [
    (lambda p: p.int("k", True), TypeError, "field 'k': True is not an int"),
    (lambda p: p.int("k", 1.0), TypeError, "field 'k': 1.0 is not an int"),
    (lambda p: p.int("k", I64_MAX + 1), ValueError, "field 'k': 9223372036854775808 does not fit a 64-bit signed int"),
    (lambda p: p.uint("k", -1), ValueError, "field 'k': -1 does not fit a 64-bit unsigned int"),
    (lambda p: p.uint("k", False), TypeError, "field 'k': False is not an int"),
    (lambda p: p.float("k", "1"), TypeError, "field 'k': '1' is not a number"),
    (lambda p: p.float("k", True), TypeError, "field 'k': True is not a number"),
    (lambda p: p.bool("k", 1), TypeError, "field 'k': 1 is not a bool"),
    (lambda p: p.text("k", 1), TypeError, "field 'k': 1 is not a str"),
    (lambda p: p.field("k", 1, "decimal"), ValueError, "unknown field kind 'decimal'; use int, uint, float, bool or text"),
])
def test_explicit_kinds_check_the_value(call, error, message):
    with pytest.raises(error) as e:
        call(Point("m"))
    assert str(e.value) == message


def test_keys_and_names_are_needed():
    with pytest.raises(ValueError, match="a point needs a measurement name, got ''"):
        Point("")
    with pytest.raises(ValueError, match="a point needs a measurement name, got None"):
        Point(None)
    with pytest.raises(ValueError, match="point 'm': a tag needs a key, got ''"):
        Point("m").tag("", "v")
    with pytest.raises(ValueError, match="point 'm': a field needs a key, got 3"):
        Point("m").field(3, 1)


def test_tags_are_text_and_dicts_add_several():
    p = Point("m").tag("n", 5).tag("b", True).tags_from({"x": "y", "z": 1.5})
    assert p.tags == [("n", "5"), ("b", "True"), ("x", "y"), ("z", "1.5")]
    p.fields_from({"a": 1, "b": 2.0, "c": "s", "d": False})
    assert kinds(p) == [("a", "int", 1), ("b", "float", 2.0), ("c", "text", "s"), ("d", "bool", False)]


def test_lookups_give_the_last_value():
    p = Point("m").tag("t", "1").tag("t", "2").field("f", 1).field("f", 2)
    assert p.tag_value("t") == "2"
    assert p.field_value("f") == 2
    assert p.tag_value("none") is None and p.field_value("none") is None


def test_timestamps():
    p = Point("m")
    assert p.timestamp_ns is None
    assert p.time_ns(0).timestamp_ns == 0
    assert p.time_ns(I64_MIN).timestamp_ns == I64_MIN
    assert p.time_ns(I64_MAX).timestamp_ns == I64_MAX
    assert p.time(1.5).timestamp_ns == 1_500_000_000
    # Exact for the float given: 1.7e9 s has no room for the ns once multiplied by 1e9.
    assert p.time(1_700_000_000.25).timestamp_ns == 1_700_000_000_250_000_000
    assert p.time(1_700_000_000.123456).timestamp_ns == 1_700_000_000_123_456_001
    assert p.time(-1.25).timestamp_ns == -1_250_000_000
    assert p.time(0).timestamp_ns == 0
    assert p.time(3).timestamp_ns == 3_000_000_000
    for bad in (I64_MAX + 1, I64_MIN - 1, True, 1.0, "1"):
        with pytest.raises(ValueError, match="is not a timestamp in ns"):
            p.time_ns(bad)


@pytest.mark.parametrize("name,category", [
    ("metric", Category.METRIC), ("logging", Category.LOGGING), ("Object", Category.OBJECT),
    ("custom-object", Category.CUSTOM_OBJECT), ("custom_object", Category.CUSTOM_OBJECT),
    (" keyevent ", Category.KEYEVENT), ("network", Category.NETWORK), ("tracing", Category.TRACING),
    ("rum", Category.RUM), ("security", Category.SECURITY), ("PROFILING", Category.PROFILING),
    (Category.RUM, Category.RUM),
])
def test_categories_by_name(name, category):
    assert Point("m", name).category is category
    assert Point("m").with_category(name).category is category


def test_an_unknown_category_lists_the_known_ones():
    with pytest.raises(ValueError) as e:
        Point("m", "metrics")
    assert str(e.value) == (
        "unknown category 'metrics'; use one of metric, logging, object, custom_object, "
        "keyevent, network, tracing, rum, security, profiling"
    )
    assert Point("m").category is Category.METRIC


def test_equality_and_repr():
    a = Point("cpu").tag("cpu", "0").field("usage", 1.5).time_ns(5)
    b = Point("cpu").tag("cpu", "0").field("usage", 1.5).time_ns(5)
    assert a == b
    assert a != b.time_ns(6)
    assert a != Point("cpu", "logging").tag("cpu", "0").field("usage", 1.5).time_ns(5)
    assert Point("m").__eq__(1) is NotImplemented
    assert repr(Point("cpu").tag("cpu", "0").field("u", 1.5).field("s", "x")) == "Point(cpu,cpu=0 u=1.5,s='x')"
    assert repr(Point("m").field("n", 1)) == "Point(m n=1)"


def test_points_of_what_a_collect_returns():
    p = Point("m").field("n", 1)
    assert list(points_of(None)) == []
    assert list(points_of(p)) == [p]
    assert list(points_of([p, p])) == [p, p]
    assert list(points_of(x for x in [p])) == [p]


def test_typed_value_directly():
    assert typed_value("k", 2 ** 63) == (FieldKind.UINT, 2 ** 63)
    assert typed_value("k", 1, FieldKind.FLOAT) == (FieldKind.FLOAT, 1.0)


def test_rfc3339_times_are_exact_nanoseconds():
    from sandkit_sdk.time import rfc3339_ns

    assert rfc3339_ns("1970-01-01T00:00:00Z") == 0
    assert rfc3339_ns("2024-03-01T12:00:00.123456789Z") == 1709294400123456789
    assert rfc3339_ns("2024-03-01 20:00:00+08:00") == 1709294400000000000
    assert rfc3339_ns("2024-03-01T20:00:00+0800") == 1709294400000000000
    assert rfc3339_ns("2024-03-01T12:00:00.1234567891Z") == 1709294400123456789
    assert rfc3339_ns("2024-03-01T12:00:00") is None, "no offset: not RFC 3339"
    assert rfc3339_ns("2024-02-30T12:00:00Z") is None
    assert rfc3339_ns("2024-03-01T24:00:00Z") is None
    assert rfc3339_ns("3000-01-01T00:00:00Z") is None, "past the int64 range of ns"
