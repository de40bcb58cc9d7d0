"""The host's imports as a plugin uses them (state, files, http, log, system), answered by
`testing.TestHost`, directly and through plugins."""

import json

import pytest

from sandkit_sdk import (FileError, HostError, HttpError, PluginError, StateError, _host, files,
                         http, log, state, system, testing)


@pytest.fixture
def host():
    h = testing.TestHost(files={"/proc/loadavg": "0.50 0.25 0.10 1/100 42\n",
                                "/proc/net/dev": b"\xff bytes",
                                "/proc/net/tcp": "", "/proc/net/sub/x": ""})
    old = _host.install(h)
    yield h
    _host.install(old)


def test_without_a_host_the_error_says_how_to_get_one():
    with pytest.raises(HostError, match="install one with sandkit_sdk.testing.TestHost"):
        state.get("k")


# State


def test_state_get_set_delete(host):
    assert state.get("k") is None
    state.set("k", b"\x00\x01")
    assert state.get("k") == b"\x00\x01"
    state.set("k", "é")
    assert state.get("k") == "é".encode() and host.state["k"] == b"\xc3\xa9"
    state.set("b", bytearray(b"ab"))
    assert state.get("b") == b"ab"
    state.delete("k")
    state.delete("never")
    assert state.get("k") is None
    with pytest.raises(TypeError, match=r"state.set\('k'\): a int is not bytes or str"):
        state.set("k", 3)


def test_state_json(host):
    assert state.get_json("j") is None
    assert state.get_json("j", {"d": 1}) == {"d": 1}
    state.set_json("j", {"a": [1, 2.5, "é"], "b": None})
    assert host.state["j"] == json.dumps({"a": [1, 2.5, "é"], "b": None},
                                         separators=(",", ":")).encode()
    assert state.get_json("j") == {"a": [1, 2.5, "é"], "b": None}


def test_state_cap(host):
    host.state_cap = 200
    state.set("a", b"x" * 100)  # 1 + 100 + 64 = 165
    with pytest.raises(StateError) as e:
        state.set("b", b"y")  # 165 + 1 + 1 + 64 = 231
    assert str(e.value) == "state would grow to 231 bytes, above the cap of 200"
    assert isinstance(e.value, HostError)
    assert state.get("b") is None
    state.set("a", b"x" * 135)  # replacing counts the new value only: 200
    with pytest.raises(StateError, match="state would grow to 201 bytes"):
        state.set("a", b"x" * 136)


def test_state_through_a_plugin():
    p = testing.load("plugins/state_collector.py", host=testing.TestHost(state_cap=4096))
    assert p.collect()[0].field_value("count") == 1
    assert p.collect()[0].field_value("count") == 2
    assert p.host.state["count"] == b"2" and p.host.state["raw"] == "é".encode()
    p.init({"big": 5000})
    with pytest.raises(PluginError) as e:
        p.collect()
    assert str(e.value).startswith("collect: StateError: state would grow to ")
    assert "above the cap of 4096 (state_collector.py:" in str(e.value)


# Files


def test_files(host):
    assert files.read("/proc/loadavg").startswith(b"0.50")
    assert files.read_text("/proc/net/dev") == "\ufffd bytes"
    assert files.list_dir("/proc/net") == ["dev", "sub", "tcp"]
    assert files.list_dir("/proc/net/") == ["dev", "sub", "tcp"]
    with pytest.raises(FileError) as e:
        files.read("/etc/shadow")
    assert str(e.value) == "files.read-file of '/etc/shadow': not given to the TestHost"
    assert isinstance(e.value, OSError) and isinstance(e.value, HostError)
    with pytest.raises(FileError, match="files.list-dir of '/nope': no file under it"):
        files.list_dir("/nope")


def test_files_through_a_plugin():
    host = testing.TestHost(files={"/proc/loadavg": "1.5 1 1 1/1 1", "/proc/net/a": "",
                                   "/proc/net/b": ""})
    p = testing.load("plugins/files_collector.py", host=host)
    point = p.collect()[0]
    assert point.field_value("load1") == 1.5 and point.field_value("entries") == 2
    p.init({"path": "/missing"})
    with pytest.raises(PluginError) as e:
        p.collect()
    assert str(e.value).startswith(
        "collect: FileError: files.read-file of '/missing': not given to the TestHost (")
    p.init({"dir": "/sys"})
    with pytest.raises(PluginError, match="files.list-dir of '/sys'"):
        p.collect()


# HTTP


def test_http_fetch_with_a_responder(host):
    seen = []

    def responder(method, url, headers, body):
        seen.append((method, url, headers, body))
        return 404 if url.endswith("/missing") else 200, [("server", "t")], b'{"a": 1}'

    host.http = responder
    r = http.get("http://h:1/x", headers={"accept": "json"}, timeout_ms=5)
    assert (r.status, r.ok, r.header("Server"), r.header("none")) == (200, True, "t", None)
    assert r.json() == {"a": 1} and r.text == '{"a": 1}'
    r = http.post("http://h:1/y", {"k": "é"}, headers=[("x-a", "1")])
    assert seen[-1] == ("POST", "http://h:1/y",
                        [("content-type", "application/json"), ("x-a", "1")],
                        json.dumps({"k": "é"}).encode())
    http.post("http://h:1/z", "text body")
    assert seen[-1] == ("POST", "http://h:1/z", [], b"text body")
    r = http.fetch("DELETE", "http://h:1/missing")
    assert r.status == 404 and not r.ok  # a 4xx is a response, not an error
    assert host.requests == [("GET", "http://h:1/x"), ("POST", "http://h:1/y"),
                             ("POST", "http://h:1/z"), ("DELETE", "http://h:1/missing")]


def test_http_without_a_responder_is_refused(host):
    with pytest.raises(HttpError) as e:
        http.get("http://h:1/")
    assert e.value.kind == "refused"
    assert str(e.value) == "refused: http://h:1/: the TestHost has no http responder"


def test_http_through_a_plugin():
    def responder(method, url, headers, body):
        if method == "GET":
            assert headers == [("accept", "application/json")]
            return 200, [("server", "nginx")], b'{"up": 3}'
        assert body == b'{"seen": 3}'
        return 202, [], b""

    p = testing.load("plugins/http_collector.py", host=testing.TestHost(http=responder),
                     config={"url": "http://status:8080"})
    point = p.collect()[0]
    assert (point.field_value("up"), point.field_value("ack"), point.tag_value("server")) == (
        3, 202, "nginx")
    p.host.http = lambda *a: (503, [], b"")
    with pytest.raises(PluginError, match=r"^collect: RuntimeError: status 503 \(http_collector.py:"):
        p.collect()
    p.host.http = None
    with pytest.raises(PluginError, match=r"^collect: HttpError: refused: http://status:8080"):
        p.collect()


# Log and system


def test_log_levels(host):
    log.trace("t")
    log.debug("d")
    log.info("i")
    log.warn("w")
    log.error(42)
    log.log("info", "direct")
    assert host.logs == [("trace", "t"), ("debug", "d"), ("info", "i"), ("warn", "w"),
                         ("error", "42"), ("info", "direct")]
    with pytest.raises(ValueError, match="unknown log level 'warning'"):
        log.log("warning", "x")


def test_system(host):
    assert system.hostname() == "test-host"
    u = system.statfs("/")
    assert isinstance(u, system.FsUsage)
    assert (u.total, u.available, u.free) == (100 << 30, 40 << 30, 50 << 30)
    assert testing.TestHost(hostname="h2").hostname() == "h2"


def test_test_host_refuses_points_without_fields():
    h = testing.TestHost()
    with pytest.raises(ValueError, match="point 'm' has no fields"):
        from sandkit_sdk import Point
        h.emit([Point("m")])
