"""Config: the `[config]` table with typed getters whose errors name the key."""

import pytest

from sandkit_sdk import Config, ConfigError

CFG = Config({
    "name": "web", "port": 8080, "ratio": 0.5, "whole": 2, "on": True, "list": ["a", "b"],
    "mixed": ["a", 1], "table": {"inner": 1}, "none": None,
})


def test_typed_getters():
    assert CFG.str("name") == "web"
    assert CFG.int("port") == 8080
    assert CFG.float("ratio") == 0.5
    assert CFG.float("whole") == 2.0 and isinstance(CFG.float("whole"), float)
    assert CFG.bool("on") is True
    assert CFG.str_list("list") == ["a", "b"]
    t = CFG.table("table")
    assert isinstance(t, Config) and t.int("inner") == 1


def test_defaults_when_missing():
    assert CFG.str("nope", "dflt") == "dflt"
    assert CFG.int("nope", 3) == 3
    assert CFG.float("nope", 1) == 1.0
    assert CFG.float("nope", None) is None
    assert CFG.bool("nope", False) is False
    assert CFG.str_list("nope", []) == []
    assert CFG.table("nope", None) is None
    assert CFG.str("nope", None) is None


@pytest.mark.parametrize("call,message", [
    (lambda c: c.str("nope"), "[config] nope is missing (a string expected)"),
    (lambda c: c.int("nope"), "[config] nope is missing (an integer expected)"),
    (lambda c: c.float("nope"), "[config] nope is missing (a number expected)"),
    (lambda c: c.bool("nope"), "[config] nope is missing (true or false expected)"),
    (lambda c: c.str_list("nope"), "[config] nope is missing (a list of strings expected)"),
    (lambda c: c.table("nope"), "[config] nope is missing (a table expected)"),
    (lambda c: c.str("port"), "[config] port = 8080 is not a string"),
    (lambda c: c.int("name"), "[config] name = 'web' is not an integer"),
    (lambda c: c.int("on"), "[config] on = True is not an integer"),
    (lambda c: c.int("ratio"), "[config] ratio = 0.5 is not an integer"),
    (lambda c: c.float("on"), "[config] on = True is not a number"),
    (lambda c: c.float("name"), "[config] name = 'web' is not a number"),
    (lambda c: c.bool("port"), "[config] port = 8080 is not true or false"),
    (lambda c: c.str_list("name"), "[config] name = 'web' is not a list of strings"),
    (lambda c: c.str_list("mixed"), "[config] mixed[1] = 1 is not a string"),
    (lambda c: c.table("list"), "[config] list = ['a', 'b'] is not a table"),
    (lambda c: c.str("none"), "[config] none = None is not a string"),
    (lambda c: c["nope"], "[config] has no key 'nope'"),
])
def test_errors_name_the_key(call, message):
    with pytest.raises(ConfigError) as e:
        call(CFG)
    assert str(e.value) == message
    assert isinstance(e.value, ValueError)


def test_a_wrong_type_is_an_error_even_with_a_default():
    with pytest.raises(ConfigError, match="port = 8080 is not a string"):
        CFG.str("port", "dflt")


def test_raw_access():
    assert CFG["port"] == 8080
    assert CFG.get("nope") is None and CFG.get("nope", 1) == 1
    assert "port" in CFG and "nope" not in CFG
    assert len(CFG) == 9
    assert list(CFG)[:2] == ["name", "port"]
    d = CFG.as_dict()
    d["port"] = 1
    assert CFG.int("port") == 8080  # a copy
    assert repr(Config({"a": 1})) == "Config({'a': 1})"
    assert len(Config()) == 0 and len(Config(None)) == 0


def test_str_list_gives_a_copy():
    values = {"l": ["a"]}
    c = Config(values)
    got = c.str_list("l")
    got.append("b")
    assert c.str_list("l") == ["a"]


def test_check_keys():
    Config({"a": 1}).check_keys(["a", "b"])
    with pytest.raises(ConfigError) as e:
        Config({"a": 1, "c": 2}).check_keys(["a", "b"])
    assert str(e.value) == "[config] has an unknown key 'c' (known: a, b)"
    with pytest.raises(ConfigError, match=r"\(known: none\)"):
        Config({"a": 1}).check_keys([])
    Config({"a": 1}).check_keys(k for k in ["a"])


def test_from_json():
    assert Config.from_json('{"a": [1, 2]}')["a"] == [1, 2]
    assert len(Config.from_json("")) == 0
    assert len(Config.from_json("  \n")) == 0
    assert len(Config.from_json("null")) == 0
    with pytest.raises(ConfigError, match="^the config is not JSON: "):
        Config.from_json("{a = 1}")
    with pytest.raises(ConfigError, match="^the config is a list, not a table$"):
        Config.from_json("[1]")
    with pytest.raises(ConfigError, match="^the config is a int, not a table$"):
        Config.from_json("3")
