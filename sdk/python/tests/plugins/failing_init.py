"""A class whose __init__ refuses its config."""
from sandkit_sdk import collector


@collector("failing-init")
class Strict:
    def __init__(self, config):
        config.check_keys(["url"])
        self.url = config.str("url")

    def collect(self):
        return None
