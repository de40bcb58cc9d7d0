"""The WIT shipped with the Python SDK, if it ships one, is the contract's."""

import os

import pytest

SDK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
COPY = os.path.join(SDK, "sandkit_sdk", "wit", "plugin.wit")
CONTRACT = os.path.join(SDK, "..", "..", "wit", "plugin.wit")


@pytest.mark.skipif(not os.path.exists(COPY), reason="the SDK has no copy of the WIT")
def test_the_sdk_copy_of_the_wit_is_the_contract():
    with open(COPY, "rb") as a, open(CONTRACT, "rb") as b:
        assert a.read() == b.read(), "sdk/python/sandkit_sdk/wit/plugin.wit differs from wit/plugin.wit"
