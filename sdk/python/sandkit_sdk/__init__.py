"""Write Sandkit plugins (collectors, pipelines, inputs) in Python.

A minimal collector::

    from sandkit_sdk import collector, Point

    @collector("hello", interval="10s")
    def collect():
        return [Point("hello").tag("who", "world").field("count", 1)]

Build it with ``sandkit plugin build`` (componentize-py underneath) and drop ``hello.wasm`` into
the agent's plugins directory. An exception raised by your code becomes the call's error (logged
and counted by the host, the instance keeps running); a trap (memory cap, deadline) is a crash
the host counts and recovers from with a fresh instance.
"""

from . import files, http, log, state, system, testing
from ._host import FileError, HostError, HttpError, StateError
from .config import Config, ConfigError
from .info import FieldInfo, Measurement, PluginInfo, duration_ms
from .plugin import PluginError, collector, config, emit, input, on_init, pipeline
from .point import Category, FieldKind, Point
from .records import Batch, Record, Records

__version__ = "0.1.1"

__all__ = [
    "Batch",
    "Category",
    "Config",
    "ConfigError",
    "FieldInfo",
    "FieldKind",
    "FileError",
    "HostError",
    "HttpError",
    "Measurement",
    "PluginError",
    "PluginInfo",
    "Point",
    "Record",
    "Records",
    "StateError",
    "collector",
    "config",
    "duration_ms",
    "emit",
    "files",
    "http",
    "input",
    "log",
    "on_init",
    "pipeline",
    "state",
    "system",
    "testing",
]
