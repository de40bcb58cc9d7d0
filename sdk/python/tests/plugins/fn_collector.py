"""A function collector with an init hook that reads its config."""
from sandkit_sdk import Point, collector, on_init

SEEN = {}


@collector("fn-collector", interval="30s")
def collect(config):
    """Counts its calls."""
    SEEN["calls"] = SEEN.get("calls", 0) + 1
    return [Point("calls").tag("who", config.str("who", "nobody")).field("n", SEEN["calls"])]


@on_init
def start(config):
    SEEN["init"] = config.as_dict()
    SEEN["calls"] = 0
