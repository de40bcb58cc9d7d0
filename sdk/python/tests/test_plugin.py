"""The plugin machinery on plain CPython, through `sandkit_sdk.testing`: how collectors,
pipelines and inputs are declared, called, and how their errors reach the host."""

import os

import pytest

from sandkit_sdk import Point, PluginError, collector, on_init, pipeline, plugin, testing

PLUGINS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugins")


def line_of(module: str, text: str) -> int:
    """The 1-based line of the plugin file `module` that contains `text`."""
    with open(os.path.join(PLUGINS, module), encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if text in line:
                return n
    raise AssertionError(f"{text!r} not in {module}")


class ChunkHost(testing.TestHost):
    """Records the size of every emit call."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.chunks = []

    def emit(self, points):
        self.chunks.append(len(points))
        super().emit(points)


# Collectors


def test_a_function_collector_with_an_init_hook():
    p = testing.load("plugins/fn_collector.py", config={"who": "me"})
    module = __import__("sandkit_plugin_fn_collector")
    assert module.SEEN["init"] == {"who": "me"}
    assert p.info.name == "fn-collector"
    assert p.info.description == "Counts its calls."
    assert p.info.default_interval_ms == 30_000
    assert p.plugin.kind == "collector"
    points = p.collect()
    assert points == [Point("calls").tag("who", "me").field("n", 1)]
    assert p.collect()[0].field_value("n") == 2
    assert len(p.host.emitted) == 2


def test_load_without_init_and_a_path_from_the_current_directory(monkeypatch):
    monkeypatch.chdir(os.path.dirname(PLUGINS))
    p = testing.load(os.path.join(PLUGINS, "fn_collector.py"), init=False)
    module = __import__("sandkit_plugin_fn_collector")
    assert "init" not in module.SEEN
    p.init({"who": "later"})
    assert p.collect()[0].tag_value("who") == "later"


def test_a_class_collector_gets_its_config_in_init():
    p = testing.load("plugins/class_collector.py", config={"step": 5})
    assert p.collect() == [
        Point("counter").field("n", 5),
        Point("counter").tag("kind", "double").field("n", 10),
    ]
    assert [x.field_value("n") for x in p.collect()] == [10, 20]
    # A fresh init is a fresh instance.
    p.init({})
    assert p.collect()[0].field_value("n") == 1


def test_a_class_without_init_and_a_single_point_returned():
    p = testing.load("plugins/noarg_class_collector.py")
    assert p.collect() == [Point("plain").field("ok", True)]


def test_a_bare_decorator_names_the_plugin_after_its_module():
    p = testing.load("plugins/bare_collector.py")
    assert p.info.name == "bare_collector"
    assert p.collect() == []


def test_a_bare_decorator_in_app_py_names_the_plugin_after_the_function(tmp_path):
    # As in the component, where `sandkit plugin build` imports app.py as the module `app`.
    (tmp_path / "app.py").write_text(
        "from sandkit_sdk import collector\n\n@collector\ndef Hello():\n    return None\n"
    )
    assert testing.load(str(tmp_path / "app.py")).info.name == "hello"


def test_generators_are_emitted_in_chunks():
    host = ChunkHost()
    p = testing.load("plugins/gen_collector.py", host=host)
    points = p.collect()
    assert [x.field_value("i") for x in points] == list(range(600))
    assert plugin.CHUNK == 256
    assert host.chunks == [256, 256, 88]


def test_emit_from_helpers_and_returned_points_share_the_chunks():
    host = ChunkHost()
    p = testing.load("plugins/emit_collector.py", host=host, config={"n": 510})
    points = p.collect()
    assert len(points) == 510 + 2 + 1
    assert [x.field_value("i") for x in points[:512]] == list(range(510)) + [-1, -2]
    assert points[-1] == Point("returned").field("ok", True)
    assert host.chunks == [256, 256, 1]
    # Exactly one chunk's worth: no empty emit at the end.
    host.chunks.clear()
    p.init({"n": 253})
    assert len(p.collect()) == 256
    assert host.chunks == [256]


def test_emit_takes_points_only():
    testing.load("plugins/noarg_class_collector.py")
    with pytest.raises(TypeError, match="emit\\(\\) takes Points, got a dict"):
        plugin.emit({"not": "a point"})


def test_an_exception_becomes_a_plugin_error_naming_where_it_was_raised():
    p = testing.load("plugins/failing_collector.py", config={"what": "value"})
    with pytest.raises(PluginError) as e:
        p.collect()
    n = line_of("failing_collector.py", 'raise ValueError("boom")')
    assert str(e.value) == f"collect: ValueError: boom (failing_collector.py:{n} in collect)"
    assert isinstance(e.value.__cause__, ValueError)


def test_the_innermost_frame_of_the_plugin_is_named():
    p = testing.load("plugins/failing_collector.py", config={"what": "nested"})
    with pytest.raises(PluginError) as e:
        p.collect()
    n = line_of("failing_collector.py", "return int(text)")
    assert str(e.value) == (
        "collect: ValueError: invalid literal for int() with base 10: 'x' "
        f"(failing_collector.py:{n} in parse)"
    )


def test_an_error_raised_by_the_sdk_names_the_plugin_line_that_called_it():
    p = testing.load("plugins/failing_collector.py", config={"what": "sdk"})
    with pytest.raises(PluginError) as e:
        p.collect()
    n = line_of("failing_collector.py", 'Point("")')
    assert str(e.value) == (
        "collect: ValueError: a point needs a measurement name, got '' "
        f"(failing_collector.py:{n} in collect)"
    )


def test_an_exception_without_a_message_is_named_by_its_type():
    p = testing.load("plugins/failing_collector.py", config={"what": "empty"})
    with pytest.raises(PluginError) as e:
        p.collect()
    n = line_of("failing_collector.py", "raise KeyError")
    assert str(e.value) == f"collect: KeyError (failing_collector.py:{n} in collect)"


def test_a_plugin_error_raised_by_the_plugin_passes_as_it_is():
    p = testing.load("plugins/failing_collector.py", config={"what": "plugin-error"})
    with pytest.raises(PluginError, match="^as written$"):
        p.collect()


def test_memory_errors_and_base_exceptions_are_not_caught():
    p = testing.load("plugins/failing_collector.py", config={"what": "memory"})
    with pytest.raises(MemoryError):
        p.collect()
    p.init({"what": "exit"})
    with pytest.raises(SystemExit):
        p.collect()


def test_a_config_error_in_collect_is_a_plugin_error():
    p = testing.load("plugins/failing_collector.py", config={})
    with pytest.raises(PluginError, match=r"^collect: ConfigError: \[config\] what is missing"):
        p.collect()


def test_points_before_a_failure_in_a_generator_are_not_sent():
    host = ChunkHost()
    p = testing.load("plugins/failing_generator.py", host=host, config={"what": "after-emit"})
    with pytest.raises(PluginError) as e:
        p.collect()
    n = line_of("failing_generator.py", 'raise RuntimeError("half way")')
    assert str(e.value) == f"collect: RuntimeError: half way (failing_generator.py:{n} in collect)"
    assert host.chunks == [] and host.emitted == []
    # Nothing pending is left over for the next call.
    assert plugin._PENDING == []


def test_a_point_the_host_refuses_is_an_error_of_the_call():
    p = testing.load("plugins/failing_generator.py", config={"what": "no-fields"})
    with pytest.raises(PluginError, match="point 'bare' has no fields"):
        p.collect()


def test_an_error_in_init_is_a_plugin_error():
    with pytest.raises(PluginError) as e:
        testing.load("plugins/failing_init.py", config={"url": "x", "urll": "y"})
    n = line_of("failing_init.py", "config.check_keys")
    assert str(e.value) == (
        "init: ConfigError: [config] has an unknown key 'urll' (known: url) "
        f"(failing_init.py:{n} in __init__)"
    )
    p = testing.load("plugins/failing_init.py", init=False)
    with pytest.raises(PluginError, match="collect before init"):
        p.collect()


# Pipelines


def test_a_function_pipeline_gives_zero_one_or_several_records_per_line():
    p = testing.load("plugins/pipeline_fn.py")
    assert p.plugin.kind == "pipeline"
    records = p.process(["a=1 b=two", "drop this", "split x yy", "ville=Zürich note=é"])
    assert records == [
        {"line": 0, "time": None, "keep_message": True,
         "items": [("tag", "a", "1"), ("tag", "b", "two")]},
        {"line": 2, "time": None, "keep_message": False, "items": [("text", "word", "x")]},
        {"line": 2, "time": None, "keep_message": False, "items": [("text", "word", "yy")]},
        {"line": 3, "time": None, "keep_message": True,
         "items": [("tag", "ville", "Zürich"), ("tag", "note", "é")]},
    ]
    # References, not copies: the values are slices of the batch.
    batch, out = p.process_bytes(["ville=Zürich"])
    assert b"Z\xc3\xbcrich" not in out
    assert out.endswith((6).to_bytes(4, "little") + (7).to_bytes(4, "little"))


def test_a_pipeline_error_names_the_line():
    p = testing.load("plugins/pipeline_fn.py")
    with pytest.raises(PluginError) as e:
        p.process(["a=1", "b=2", "fail here"])
    n = line_of("pipeline_fn.py", 'raise KeyError("missing")')
    assert str(e.value) == f"process: line 2 of the batch: KeyError: 'missing' (pipeline_fn.py:{n} in process)"
    with pytest.raises(MemoryError):
        p.process(["oom"])


def test_a_class_pipeline_keeps_its_state_across_lines_and_batches():
    p = testing.load("plugins/pipeline_class.py", config={"measurement": "app"})
    first = p.process(["WARN disk full", "info ok"], source="syslog")
    assert [r["items"] for r in first] == [
        [("tag", "level", "warn"), ("text", "msg", "disk full"), ("int", "seen", 1),
         ("measurement", "", "app")],
        [("tag", "level", "info"), ("text", "msg", "ok"), ("int", "seen", 2),
         ("measurement", "", "app")],
    ]
    assert p.process(["ERROR x"])[0]["items"][2] == ("int", "seen", 3)
    assert p.process([]) == []


def test_a_batch_pipeline_sets_its_lines_itself():
    p = testing.load("plugins/pipeline_batch.py")
    records = p.process(["a", "b", "ç", "d", "e"])
    assert records == [
        {"line": 4, "time": None, "keep_message": False, "items": [("text", "first", "e")]},
        {"line": 2, "time": None, "keep_message": False,
         "items": [("text", "first", "ç"), ("text", "second", "d")]},
        {"line": 0, "time": None, "keep_message": False,
         "items": [("text", "first", "a"), ("text", "second", "b")]},
    ]
    with pytest.raises(PluginError, match=r"^process: ValueError: line 4 \(pipeline_batch.py:\d+ in process\)$"):
        p.process(["a"] * 5, source="boom")


# Inputs


def test_an_input_with_the_body_only():
    p = testing.load("plugins/input_one.py")
    assert p.plugin.kind == "input"
    points = p.handle("cpu 1.5\nmem 2\n")
    assert points == [Point("cpu").field("value", 1.5), Point("mem").field("value", 2.0)]
    with pytest.raises(PluginError) as e:
        p.handle(b"cpu high")
    n = line_of("input_one.py", "float(value)")
    assert str(e.value) == (
        "handle: ValueError: could not convert string to float: 'high' "
        f"(input_one.py:{n} in handle)"
    )


def test_an_input_with_the_content_type_and_the_body():
    p = testing.load("plugins/input_two.py")
    points = p.handle(b'{"a": 1}', content_type="application/json")
    assert points == [Point("body").field("bytes", 8).tag("type", "application/json")]
    with pytest.raises(PluginError, match="unsupported content type 'text/plain'"):
        p.handle("x", content_type="text/plain")


# Declarations


def test_one_plugin_per_component():
    @collector("first")
    def first():
        return None

    with pytest.raises(RuntimeError, match="already holds the collector 'first'"):
        @pipeline("second")
        def second(line, out):
            pass


def test_declarations_are_checked():
    with pytest.raises(TypeError, match="the class needs a collect method"):
        @collector("c")
        class NoCollect:
            pass

    plugin.reset()
    with pytest.raises(TypeError, match="the class needs process_line or process"):
        @pipeline("p")
        class NoProcess:
            pass

    plugin.reset()
    with pytest.raises(TypeError, match="decorates a function or a class"):
        collector("x")(42)

    plugin.reset()
    with pytest.raises(ValueError, match="interval 500 ms is not within"):
        @collector("fast", interval="500ms")
        def fast():
            return None


def test_on_init_follows_a_function_plugin():
    with pytest.raises(RuntimeError, match="@on_init follows"):
        @on_init
        def early(config):
            pass


def test_without_a_plugin():
    with pytest.raises(RuntimeError, match="no plugin"):
        plugin.registered()
