"""{{name}}: a Sandkit log pipeline. Writes the records of one line with out.record()."""
from sandkit_sdk import pipeline


@pipeline("{{name}}")
def process(line, out):
    level, _, rest = line.partition(" ")
    out.record().tag("level", level.lower()).text("msg", rest)
