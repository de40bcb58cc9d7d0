"""Golden tests of logfmt on plain CPython: `python -m pytest -q` with sdk/python on PYTHONPATH.

testdata/input.log holds the input lines; testdata/expected.jsonl, for each line in order, the
line and the exact records it decodes to (`items` as [kind, key, value]). After a deliberate
change, `LOGFMT_UPDATE_GOLDEN=1 python -m pytest -q` rewrites it: read the diff before keeping it.
"""
import json
import os

import pytest

from sandkit_sdk import PluginError, testing

HERE = os.path.dirname(os.path.abspath(__file__))
INPUT = os.path.join(HERE, "testdata", "input.log")
EXPECTED = os.path.join(HERE, "testdata", "expected.jsonl")


def read_lines():
    with open(INPUT, encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


def by_line(lines, records):
    """For each input line: the line and its records (without the line index)."""
    out = [{"line": line, "records": []} for line in lines]
    for r in records:
        out[r["line"]]["records"].append(
            {"time": r["time"], "keep_message": r["keep_message"],
             "items": [list(i) for i in r["items"]]}
        )
    return out


def test_golden():
    lines = read_lines()
    got = by_line(lines, testing.load("app.py").process(lines))
    if os.environ.get("LOGFMT_UPDATE_GOLDEN"):
        with open(EXPECTED, "w", encoding="utf-8") as f:
            for g in got:
                f.write(json.dumps(g, ensure_ascii=False) + "\n")
    with open(EXPECTED, encoding="utf-8") as f:
        expected = [json.loads(x) for x in f]
    assert len(expected) == len(lines)
    for g, e in zip(got, expected):
        assert g == e


def items(plugin, line):
    [r] = plugin.process([line])
    return r["items"]


def test_the_example_of_the_brief():
    plugin = testing.load("app.py")
    [r] = plugin.process(['level=info msg="hello world" dur=12ms status=200'])
    assert r == {
        "line": 0,
        "time": None,
        "keep_message": False,
        "items": [
            ("tag", "level", "info"),
            ("text", "dur", "12ms"),
            ("int", "status", 200),
            ("text", "message", "hello world"),
        ],
    }


def test_plain_values_are_references_into_the_batch():
    from sandkit_sdk import records

    plugin = testing.load("app.py")
    _, out = plugin.process_bytes(['level=info msg="a b" k=v esc="x\\ty"'])
    kinds = []
    pos = 4 + records.HEADER
    while pos < len(out):
        kind, klen = records._KEY.unpack_from(out, pos)
        kinds.append(kind)
        pos += 3 + klen
        pos += 8 if kind in (records.TAG_REF, records.TEXT_REF) else 4 + records._U32.unpack_from(out, pos)[0]
    # level and k and the message are slices; the escaped value is a copy
    assert kinds == [records.TAG_REF, records.TEXT_REF, records.TEXT, records.TEXT_REF]


def test_config_tags_untyped_no_time_no_message():
    plugin = testing.load(
        "app.py",
        config={"tags": ["service", "env"], "typed": False, "time_keys": [],
                "keep_message": False},
    )
    records = plugin.process([
        "time=2024-03-01T12:00:00Z service=api env=prod level=info n=3 ok=true bare",
        "service=api",
    ])
    assert records == [
        {"line": 0, "time": None, "keep_message": False, "items": [
            ("text", "time", "2024-03-01T12:00:00Z"),
            ("tag", "service", "api"),
            ("tag", "env", "prod"),
            ("text", "level", "info"),
            ("text", "n", "3"),
            ("text", "ok", "true"),
            ("bool", "bare", True),
        ]},
        # tags only: the line is kept as message, a record needs a field
        {"line": 1, "time": None, "keep_message": True, "items": [("tag", "service", "api")]},
    ]


def test_non_ascii_lines_refer_to_the_right_bytes():
    plugin = testing.load("app.py")
    lines = ["a=é msg=x", "level=ünïcode k=日本 msg=\"☃ snow\""]
    assert [r["items"] for r in plugin.process(lines)] == [
        [("text", "a", "é"), ("text", "message", "x")],
        [("tag", "level", "ünïcode"), ("text", "k", "日本"), ("text", "message", "☃ snow")],
    ]


@pytest.mark.parametrize(
    "value,ns",
    [
        ("1970-01-01T00:00:01.5+01:00", -3_598_500_000_000),
        ("2024-03-01T12:00:00Z", 1_709_294_400_000_000_000),
        ("2024-03-01t12:00:00.123456789123z", 1_709_294_400_123_456_789),
        ("2024-02-29 12:00:00+0000", 1_709_208_000_000_000_000),
        ("2023-02-29T12:00:00Z", None),
        ("2024-03-01T12:00:00", None),
        ("2024-03-01T24:00:00Z", None),
        ("2024-03-01T12:00:00+24:00", None),
        ("2024-03-01", None),
    ],
)
def test_rfc3339(value, ns):
    plugin = testing.load("app.py")
    [r] = plugin.process([f'time="{value}" x=1'])
    assert r["time"] == ns
    assert (("text", "time", value) in r["items"]) == (ns is None)


def test_a_malformed_line_never_fails_the_batch():
    plugin = testing.load("app.py")
    records = plugin.process(['a="open', "ok=1", 'x="1"y', "=v", '"k"=v'])
    assert [(r["line"], r["keep_message"], r["items"]) for r in records] == [
        (0, True, [("tag", "logfmt_error", "unterminated_quote")]),
        (1, True, [("int", "ok", 1)]),
        (2, True, [("tag", "logfmt_error", "unexpected_quote")]),
        (3, True, [("tag", "logfmt_error", "missing_key")]),
        (4, True, [("tag", "logfmt_error", "unexpected_quote")]),
    ]


def test_bad_config_is_refused():
    with pytest.raises(PluginError, match=r"unknown key 'tag'"):
        testing.load("app.py", config={"tag": ["level"]})
    with pytest.raises(PluginError, match=r"typed = 'yes' is not true or false"):
        testing.load("app.py", config={"typed": "yes"})


def test_describe():
    info = testing.load("app.py").info
    assert info.name == "logfmt"
    assert [m.name for m in info.measurements] == ["logfmt"]
