"""The golden vectors of the pipeline record encoding (testdata/records/golden.json, the format in
docs/record-encoding.md): the Python writer gives exactly their bytes, and `decode` reads them
back as expected."""

import json
import math
import os
import struct

import pytest

from sandkit_sdk.records import Batch, Records, decode

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
GOLDEN = os.path.join(ROOT, "testdata", "records", "golden.json")

with open(GOLDEN, encoding="utf-8") as f:
    CASES = json.load(f)


def _float(v):
    if isinstance(v, dict):
        return struct.unpack("<d", int(v["bits"], 16).to_bytes(8, "little"))[0]
    return float(v)


def _chars(line: str, start: int, end: int):
    """Byte offsets in `line` as the character offsets `tag_span`/`text_span` take."""
    raw = line.encode("utf-8")
    return len(raw[:start].decode("utf-8")), len(raw[:end].decode("utf-8"))


def write(case) -> bytes:
    batch = Batch.of_lines(case["lines"], "golden")
    out = Records(batch)
    for r in case["records"]:
        out.set_line(r["line"])
        line = batch.line(r["line"])
        rec = out.record()
        if r["time"] is not None:
            rec.time_ns(r["time"])
        if r["keep_message"]:
            rec.keep_message()
        for kind, key, value in r.get("writer_items", r["items"]):
            if kind == "tag":
                rec.tag(key, value)
            elif kind == "text":
                rec.text(key, value)
            elif kind == "tag_ref":
                rec.tag_span(key, *_chars(line, *value))
            elif kind == "text_ref":
                rec.text_span(key, *_chars(line, *value))
            elif kind == "int":
                rec.int(key, value)
            elif kind == "uint":
                rec.uint(key, value)
            elif kind == "float":
                rec.float(key, _float(value))
            elif kind == "bool":
                rec.bool(key, value)
            elif kind == "measurement":
                rec.measurement(value)
            else:
                raise AssertionError(f"unknown kind {kind!r}")
    return out.to_bytes()


def expected(case):
    """The records as `decode` gives them: references resolved, kinds without the _ref."""
    recs = []
    for r in case["records"]:
        raw = case["lines"][r["line"]].encode("utf-8")
        items = []
        for kind, key, value in r["items"]:
            if kind.endswith("_ref"):
                kind, value = kind[:-4], raw[value[0]:value[1]].decode("utf-8")
            elif kind == "float":
                value = _float(value)
            items.append((kind, key, value))
        recs.append({"line": r["line"], "time": r["time"], "keep_message": r["keep_message"],
                     "items": items})
    return recs


def _same(a, b):
    """Equal, floats by their bits (NaN, -0.0)."""
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def test_there_are_vectors():
    assert len(CASES) >= 10
    assert any(not c["records"] for c in CASES)
    kinds = {i[0] for c in CASES for r in c["records"] for i in r["items"]}
    assert kinds == {"tag", "text", "tag_ref", "text_ref", "int", "uint", "float", "bool",
                     "measurement"}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_writer_gives_the_golden_bytes(case):
    assert write(case).hex() == case["hex"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_decode_reads_the_golden_bytes(case):
    batch = Batch.of_lines(case["lines"], "golden")
    got = decode(bytes.fromhex(case["hex"]), batch)
    want = expected(case)
    assert _same(got, want), f"{got!r}\n!=\n{want!r}"


def test_same_compares_floats_by_bits():
    assert _same(math.nan, math.nan)
    assert not _same(0.0, -0.0)
    assert not _same(1, True)
