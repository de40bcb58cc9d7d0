"""The record writer and Batch in detail: limits, spans over non-ASCII lines, headers."""

import struct

import pytest

from sandkit_sdk import Batch, Records
from sandkit_sdk import records as R
from sandkit_sdk.records import decode


def header(buf: bytes, at: int = 4):
    """line, flags, time, count of the record at `at`."""
    return struct.unpack_from("<IBqH", buf, at)


def one(lines, build, line=0):
    """The decoded records of one record built on `line` of a batch of `lines`."""
    batch = Batch.of_lines(lines)
    out = Records(batch)
    out.set_line(line)
    build(out.record())
    return decode(out.to_bytes(), batch)


# Batch


def test_a_batch_of_non_ascii_lines():
    data = "héllo" + "" + "wörld🦀" + "x"
    ends = [6, 6, 6 + 10, 6 + 10 + 1]
    b = Batch("src", data, ends)
    assert b.source == "src"
    assert len(b) == 4
    assert list(b) == b.lines == ["héllo", "", "wörld🦀", "x"]
    assert b.line(2) == "wörld🦀"
    assert b._starts == [0, 6, 6, 16]


def test_an_ascii_batch_and_an_empty_one():
    b = Batch("s", "abcd", [1, 1, 4])
    assert b.lines == ["a", "", "bcd"]
    assert len(Batch("s", "", [])) == 0
    assert Batch("s", "ignored tail", []).lines == []
    assert Batch("s", "ab", [1]).lines == ["a"]  # bytes past the last end are not a line


def test_of_lines_counts_utf8_bytes():
    b = Batch.of_lines(["é", "ab", "🦀"], source="t")
    assert b.ends == [2, 4, 8]
    assert b.data == "éab🦀"
    assert b.source == "t"


@pytest.mark.parametrize("data,ends,message", [
    ("abc", [2, 1], "line 1 of the batch ends at byte 1, which is not a line end in 3 bytes"),
    ("abc", [4], "line 0 of the batch ends at byte 4, which is not a line end in 3 bytes"),
    ("é", [3], "line 0 of the batch ends at byte 3, which is not a line end in 2 bytes"),
    ("é", [1], "line 0 of the batch ends at byte 1, not on a character boundary"),
    ("aé", [1, 2], "line 1 of the batch ends at byte 2, not on a character boundary"),
    ("a🦀b", [3, 6], "line 0 of the batch ends at byte 3, not on a character boundary"),
    ("é", [-1], "line 0 of the batch ends at byte -1"),
])
def test_bad_ends_are_refused(data, ends, message):
    with pytest.raises(ValueError) as e:
        Batch("s", data, ends)
    assert str(e.value).startswith(message)


# Headers and flags


def test_an_empty_output_is_the_magic():
    out = Records(Batch.of_lines(["a"]))
    assert out.to_bytes() == b"SKR1" and len(out) == 4
    assert Records().to_bytes() == b"SKR1"


def test_header_flags_and_time_can_be_set_after_items():
    batch = Batch.of_lines(["a", "b"])
    out = Records(batch)
    out.set_line(1)
    r = out.record().int("n", 1)
    assert header(out.to_bytes()) == (1, 0, 0, 1)
    r.time_ns(-5).int("m", 2)
    assert header(out.to_bytes()) == (1, R.F_TIME, -5, 2)
    r.keep_message()
    assert header(out.to_bytes()) == (1, R.F_TIME | R.F_MESSAGE, -5, 2)
    r.time(2.5)
    assert header(out.to_bytes()) == (1, 3, 2_500_000_000, 2)
    assert out.line == "b"


def test_passthrough_mark_and_rollback():
    batch = Batch.of_lines(["a", "b"])
    out = Records(batch)
    out.passthrough()
    mark = out.mark()
    out.set_line(1)
    out.record().text("t", "dropped")
    out.rollback(mark)
    assert decode(out.to_bytes(), batch) == [
        {"line": 0, "time": None, "keep_message": True, "items": []}]


def test_time_ns_out_of_range_is_an_error():
    out = Records(Batch.of_lines(["a"]))
    with pytest.raises(struct.error):
        out.record().time_ns(1 << 63)


# Items


def test_inference_and_kinds_in_records():
    recs = one(["x"], lambda r: r.field("b", True).field("i", -1).field("u", 1 << 63)
               .field("f", 0.5).field("s", "é").tag("t", 42).field("k", 3, "float"))
    assert recs[0]["items"] == [("bool", "b", True), ("int", "i", -1), ("uint", "u", 1 << 63),
                                ("float", "f", 0.5), ("text", "s", "é"), ("tag", "t", "42"),
                                ("float", "k", 3.0)]


def test_field_errors_name_the_field():
    out = Records(Batch.of_lines(["x"]))
    r = out.record()
    with pytest.raises(ValueError, match="field 'big': 18446744073709551616 does not fit"):
        r.field("big", 1 << 64)
    with pytest.raises(TypeError, match="field 'n': a NoneType is not a field value"):
        r.field("n", None)
    with pytest.raises(TypeError, match="field 'i': True is not an int"):
        r.int("i", True)
    # Nothing of a refused field was written.
    assert header(out.to_bytes())[3] == 0 and len(out) == 4 + R.HEADER


def test_empty_keys_and_names_are_left_out():
    recs = one(["k v"], lambda r: r.tag("", "x").field("", 1).text("", "y").tag_span("", 0, 1)
               .text_span("", 0).measurement("").int("n", 1))
    assert recs[0]["items"] == [("int", "n", 1)]


def test_keys_are_cut_to_65535_bytes_on_a_character_boundary():
    def key_of(key):
        out = Records(Batch.of_lines(["x"]))
        out.record().int(key, 1)
        b = out.to_bytes()
        n = struct.unpack_from("<H", b, 4 + R.HEADER + 1)[0]
        k = b[4 + R.HEADER + 3:4 + R.HEADER + 3 + n]
        assert len(b) == 4 + R.HEADER + 3 + n + 8
        return k.decode("utf-8")  # still UTF-8

    assert key_of("a" * 70_000) == "a" * 65_535
    assert key_of("a" * 65_535) == "a" * 65_535
    assert key_of("é" * 40_000) == "é" * 32_767  # 65,534 bytes: the next é would straddle
    assert key_of("a" + "é" * 40_000) == "a" + "é" * 32_767  # exactly 65,535
    assert key_of("🦀" * 20_000) == "🦀" * 16_383  # 65,532 bytes
    assert key_of("ab" + "🦀" * 20_000).encode() == ("ab" + "🦀" * 16_383).encode()


def test_a_record_holds_at_most_65535_items():
    batch = Batch.of_lines(["x"])
    out = Records(batch)
    r = out.record()
    for _ in range(70_000):
        r.int("k", 1)
    r.measurement("ignored").tag("t", "ignored").tag_span("s", 0)
    b = out.to_bytes()
    assert header(b)[3] == 65_535
    assert len(b) == 4 + R.HEADER + 65_535 * (1 + 2 + 1 + 8)
    # The next record starts clean.
    out.record().int("after", 1)
    recs = decode(out.to_bytes(), batch)
    assert len(recs) == 2 and len(recs[0]["items"]) == 65_535
    assert recs[1]["items"] == [("int", "after", 1)]


LINES = ["ascii only", "héllo wörld", "日本語 テキスト", "🦀 crab 🦀", "", "é"]


@pytest.mark.parametrize("i", range(len(LINES)))
def test_spans_are_python_slices_of_the_line(i):
    """Every slice start:end (with negatives, None and past the ends) of every line, written as
    a reference and read back, is `line[start:end]`; references are offsets in the batch."""
    batch = Batch.of_lines(LINES)
    line = LINES[i]
    n = len(line)
    bounds = list(range(-n - 2, n + 3)) + [None]
    out = Records(batch)
    out.set_line(i)
    expected = []
    for s in bounds[:-1]:
        r = out.record()
        for e in bounds:
            r.text_span("t", s, e)
            expected.append(line[s:e])
        r.tag_span("g", s)
        expected.append(line[s:])
    got = [v for rec in decode(out.to_bytes(), batch) for _, _, v in rec["items"]]
    assert got == expected


def test_span_offsets_are_bytes_into_the_whole_batch():
    batch = Batch.of_lines(["héllo", "日本語 テキスト"])
    out = Records(batch)
    out.set_line(1)
    out.record().tag_span("t", 4, 8).text_span("e", 2, 2)
    b = out.to_bytes()
    at = 4 + R.HEADER
    assert b[at] == R.TAG_REF and b[at + 3:at + 4] == b"t"
    assert struct.unpack_from("<II", b, at + 4) == (6 + 10, 12)  # line 1 starts at byte 6
    at += 4 + 8
    assert b[at] == R.TEXT_REF
    assert struct.unpack_from("<II", b, at + 4) == (6 + 6, 0)


def test_spans_before_set_line_are_on_line_0():
    batch = Batch.of_lines(["ab", "cd"])
    out = Records(batch)
    out.record().tag_span("t", 1)
    assert decode(out.to_bytes(), batch)[0]["items"] == [("tag", "t", "b")]


def test_inline_values_are_never_references():
    batch = Batch.of_lines(["GET /"])
    out = Records(batch)
    out.record().tag("m", batch.line(0)[:3])
    b = out.to_bytes()
    assert b[4 + R.HEADER] == R.TAG and b.endswith(b"GET")


def test_float_bits_are_kept():
    recs = one(["x"], lambda r: r.float("z", -0.0).float("n", float("nan")).float("i", float("-inf")))
    z, n, i = (v for _, _, v in recs[0]["items"])
    assert struct.pack("<d", z) == struct.pack("<d", -0.0)
    assert n != n and i == float("-inf")


def test_decode_refuses_another_magic():
    with pytest.raises(ValueError, match="no SKR1 magic"):
        decode(b"SKR2", Batch.of_lines([]))
    with pytest.raises(ValueError, match="unknown item kind 9"):
        decode(b"SKR1" + struct.pack("<IBqH", 0, 0, 0, 1) + b"\x09\x01\x00k", Batch.of_lines(["x"]))
