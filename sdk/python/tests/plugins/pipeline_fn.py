"""A function pipeline: `key=value` pairs as fields; a line starting with "drop" gives no record,
"split" one record per word, "fail" raises."""
from sandkit_sdk import pipeline


@pipeline("kv")
def process(line, out):
    if line.startswith("drop"):
        return
    if line.startswith("fail"):
        raise KeyError("missing")
    if line.startswith("oom"):
        raise MemoryError()
    if line.startswith("split"):
        pos = 0
        for word in line.split(" ")[1:]:
            pos = line.index(word, pos)
            out.record().text_span("word", pos, pos + len(word))
            pos += len(word)
        return
    rec = out.record().keep_message()
    pos = 0
    for pair in line.split(" "):
        key, _, _ = pair.partition("=")
        start = line.index(pair, pos) + len(key) + 1
        rec.tag_span(key, start, start + len(pair) - len(key) - 1)
        pos = start
