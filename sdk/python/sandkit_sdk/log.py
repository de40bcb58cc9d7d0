"""Logging through the host: lines land in the agent's log tagged with the plugin's name
(rate-limited per plugin by the host)."""

from . import _host


def log(level: str, message: str) -> None:
    """Log `message` at `level`: trace, debug, info, warn or error."""
    if level not in ("trace", "debug", "info", "warn", "error"):
        raise ValueError(f"unknown log level {level!r}; use trace, debug, info, warn or error")
    _host.host().log(level, str(message))


def trace(message: str) -> None:
    log("trace", message)


def debug(message: str) -> None:
    log("debug", message)


def info(message: str) -> None:
    log("info", message)


def warn(message: str) -> None:
    log("warn", message)


def error(message: str) -> None:
    log("error", message)
