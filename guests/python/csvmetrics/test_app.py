"""Golden tests of csvmetrics on plain CPython: `python -m pytest -q` with sdk/python on
PYTHONPATH. testdata/<name>.csv are bodies, testdata/<name>.expected their points, one a line
(line protocol without escapes; a point without a time has none)."""
import json
import os

import pytest

from sandkit_sdk import PluginError, testing

HERE = os.path.dirname(os.path.abspath(__file__))


def render(p):
    def value(kind, v):
        if kind.value == "int":
            return f"{v}i"
        if kind.value == "bool":
            return "true" if v else "false"
        if kind.value == "text":
            return json.dumps(v)
        return repr(v)

    tags = "".join(f",{k}={v}" for k, v in sorted(p.tags))
    fields = ",".join(f"{k}={value(kind, v)}" for k, kind, v in p.fields)
    time = "" if p.timestamp_ns is None else f" {p.timestamp_ns}"
    return f"{p.measurement}{tags} {fields}{time}"


def golden(name):
    with open(os.path.join(HERE, "testdata", name + ".csv"), "rb") as f:
        body = f.read()
    with open(os.path.join(HERE, "testdata", name + ".expected"), encoding="utf-8") as f:
        expected = f.read().splitlines()
    return body, expected


def test_golden_readings():
    body, expected = golden("readings")
    plugin = testing.load("app.py", config={"tag_columns": ["host", "sensor"]})
    assert [render(p) for p in plugin.handle(body, "text/csv; charset=utf-8")] == expected


def test_golden_energy_semicolons_bom_blank_lines_no_time():
    body, expected = golden("energy")
    plugin = testing.load("app.py", config={"measurement": "energy", "delimiter": ";",
                                            "tag_columns": ["device"]})
    points = plugin.handle(body, "")
    assert [render(p) for p in points] == expected
    assert all(p.timestamp_ns is None for p in points)  # the host's clock


def test_tab_separated_by_content_type_and_unix_ms():
    plugin = testing.load("app.py", config={"time_column": "ts", "time_format": "unix_ms"})
    points = plugin.handle("ts\tv\n1709294400123\t1\n-1500\t2\n", "text/tab-separated-values")
    assert [render(p) for p in points] == [
        "csv v=1i 1709294400123000000",
        "csv v=2i -1500000000",
    ]


def test_column_types_pin_a_type():
    plugin = testing.load("app.py", config={
        "column_types": {"code": "text", "level": "float", "n": "int", "up": "bool"},
        "measurement_column": "",
    })
    [p] = plugin.handle("measurement,code,level,n,up\nx,200,3,007,True\n")
    assert render(p) == 'csv measurement="x",code="200",level=3.0,n=7i,up=true'


def test_a_header_only_body_gives_no_point():
    assert testing.load("app.py").handle("a,b,c\r\n") == []


@pytest.mark.parametrize(
    "config,content_type,body,error",
    [
        ({}, "", "a,b,c\n1,2,3\n4,5\n",
         r"row 2 \(line 3\): 2 cells, the header has 3 columns"),
        ({"column_types": {"n": "int"}}, "", "n,m\n1,2\n12.5,3\n",
         r"row 2 \(line 3\), column 'n': '12.5' is not an int"),
        ({"column_types": {"ok": "bool"}}, "", "ok\nyes\n",
         r"row 1 \(line 2\), column 'ok': 'yes' is not a bool"),
        ({}, "", "time,v\n2024-03-01T12:00:00Z,1\nyesterday,2\n",
         r"row 2 \(line 3\), column 'time': 'yesterday' is not a time \(auto\)"),
        ({"time_format": "rfc3339"}, "", "time,v\n1709294400,1\n",
         r"row 1 \(line 2\), column 'time': '1709294400' is not a time \(rfc3339\)"),
        ({"tag_columns": ["host"]}, "", "host,v\nweb-1,1\nweb-2,\n",
         r"row 2 \(line 3\): no field \(every field cell is empty\)"),
        ({}, "", "a,,c\n1,2,3\n", r"header: column 2 has no name"),
        ({}, "", "a,b,a\n1,2,3\n", r"header: column 'a' appears twice"),
        ({}, "", 'a,b\n"x"y,1\n', r"line 2: not CSV: .*expected after"),
        ({}, "application/json", '{"a": 1}', r"content type 'application/json' is not CSV"),
        ({}, "", b"a,b\n\xff,1\n", r"the body is not UTF-8 \(byte 4\)"),
        ({}, "", "\n\n", r"the body has no header row"),
        ({"max_rows": 2}, "", "a\n1\n2\n3\n", r"more than max_rows = 2 rows"),
    ],
)
def test_a_bad_body_is_refused_whole_with_its_row_and_column(config, content_type, body, error):
    plugin = testing.load("app.py", config=config)
    with pytest.raises(PluginError, match=r"^handle: ValueError: " + error):
        plugin.handle(body, content_type)
    assert plugin.host.emitted == []  # nothing of the body


@pytest.mark.parametrize(
    "config,error",
    [
        ({"tags": ["a"]}, r"unknown key 'tags'"),
        ({"time_format": "epoch"}, r"time_format = 'epoch': use one of auto, rfc3339"),
        ({"column_types": {"a": "string"}}, r"column_types.a = 'string': use int, float"),
        ({"delimiter": ";;"}, r"delimiter = ';;': one character"),
        ({"measurement": ""}, r"measurement is empty"),
    ],
)
def test_bad_config_is_refused(config, error):
    with pytest.raises(PluginError, match=r"^init: \w+Error: .*" + error):
        testing.load("app.py", config=config)


def test_describe():
    info = testing.load("app.py").info
    assert info.name == "csvmetrics"
    assert [m.name for m in info.measurements] == ["*"]
