"""{{name}}: a Sandkit collector. Runs on every tick; return (or yield) Points."""
from sandkit_sdk import Point, collector, files


@collector("{{name}}", interval="10s")
def collect():
    load1, load5, load15 = files.read_text("/proc/loadavg").split()[:3]
    return [Point("{{name}}").field("load1", float(load1)).field("load5", float(load5)).field("load15", float(load15))]
