"""A class pipeline that takes the whole batch: one record per pair of lines, in reverse."""
from sandkit_sdk import pipeline


@pipeline("pairs")
class Pairs:
    def process(self, batch, out):
        for i in reversed(range(0, len(batch), 2)):
            out.set_line(i)
            rec = out.record().text_span("first", 0)
            if i + 1 < len(batch):
                rec.text("second", batch.line(i + 1))
            if batch.source == "boom":
                raise ValueError(f"line {i}")
