"""Reads /proc/loadavg and lists /proc/net."""
from sandkit_sdk import Point, collector, files


@collector("loadavg")
def collect(config):
    load1 = float(files.read_text(config.str("path", "/proc/loadavg")).split()[0])
    names = files.list_dir(config.str("dir", "/proc/net"))
    return Point("load").field("load1", load1).field("entries", len(names))
