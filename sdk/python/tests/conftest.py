"""Tests of the Python SDK on plain CPython: `sandkit_sdk` is imported from this checkout."""

import os
import sys

import pytest

SDK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if SDK not in sys.path:
    sys.path.insert(0, SDK)

from sandkit_sdk import plugin as _plugin  # noqa: E402
from sandkit_sdk import _host  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_sdk():
    """Every test starts without a registered plugin, pending points or installed host."""
    _plugin.reset()
    old = _host.install(None)
    yield
    _host.install(old)
    _plugin.reset()
