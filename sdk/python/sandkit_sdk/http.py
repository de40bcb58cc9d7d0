"""Outgoing HTTP for collectors, to `host:port` targets on the plugin's `[sandbox] http`
allowlist. Redirects are not followed; the body is capped and the time bounded by the host."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import _host
from ._host import HttpError

__all__ = ["Response", "HttpError", "fetch", "get", "post"]

Headers = Union[Mapping[str, str], Sequence[Tuple[str, str]], None]


@dataclass
class Response:
    status: int
    #: Names in lower case, in the order received.
    headers: List[Tuple[str, str]]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _headers(headers: Headers) -> List[Tuple[str, str]]:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(k), str(v)) for k, v in items]


def fetch(
    method: str,
    url: str,
    headers: Headers = None,
    body: Union[bytes, str] = b"",
    timeout_ms: int = 0,
) -> Response:
    """Send one request; raises HttpError (refused, invalid-request, timeout, too-large,
    failed). A 4xx or 5xx is a Response, not an error."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    status, hdrs, data = _host.host().http_fetch(method, url, _headers(headers), bytes(body), timeout_ms)
    return Response(status, hdrs, data)


def get(url: str, headers: Headers = None, timeout_ms: int = 0) -> Response:
    return fetch("GET", url, headers, b"", timeout_ms)


def post(url: str, body: Union[bytes, str, Dict[str, Any]], headers: Headers = None, timeout_ms: int = 0) -> Response:
    if isinstance(body, dict):
        body = json.dumps(body).encode("utf-8")
        headers = [("content-type", "application/json")] + _headers(headers)
    return fetch("POST", url, headers, body, timeout_ms)
