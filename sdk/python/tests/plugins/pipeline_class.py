"""A class pipeline with process_line and its own state from config."""
from sandkit_sdk import pipeline


@pipeline("levels")
class Levels:
    def __init__(self, config):
        self.measurement = config.str("measurement", "")
        self.seen = 0

    def process_line(self, line, out):
        self.seen += 1
        level, _, rest = line.partition(" ")
        rec = out.record().tag("level", level.lower()).text("msg", rest).int("seen", self.seen)
        if self.measurement:
            rec.measurement(self.measurement)
