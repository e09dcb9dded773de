"""The bare RSGI callable, sending the very response headers carboy sends by default.

The RSGI twin of ``bare_secure_app``: ``bare_rsgi_app`` with carboy's four
security headers and its text charset on every response, so that under
granian's RSGI interface *carboy / bare RSGI + headers* is the framework's own
share and *bare RSGI + headers / bare RSGI* the price of the headers (granian
turns each ``(name, value)`` pair of text into a header of its own per
response). Written out again, not parametrized, for the reason
``bare_secure_app`` gives; ``tests/bench/test_baselines.py`` checks that its
headers and bodies are carboy's.
"""

from __future__ import annotations

from typing import Any

import orjson

from bench.common import MESSAGE, PLAINTEXT

#: carboy's defaults over plain HTTP as text pairs (what RSGI's ``response_bytes`` takes).
SECURITY_HEADERS = [
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("cross-origin-opener-policy", "same-origin"),
]
_PLAINTEXT_HEADERS = [("content-type", "text/plain; charset=utf-8"), *SECURITY_HEADERS]
_JSON_HEADERS = [("content-type", "application/json"), *SECURITY_HEADERS]
_NOT_FOUND = b"Not Found"


async def app(scope: Any, protocol: Any) -> None:
    if scope.proto != "http":
        return
    path: str = scope.path
    if path == "/plaintext":
        protocol.response_bytes(200, _PLAINTEXT_HEADERS, PLAINTEXT)
    elif path == "/json":
        protocol.response_bytes(200, _JSON_HEADERS, orjson.dumps({"message": MESSAGE}))
    elif path.startswith("/users/") and path[7:].isdigit():
        protocol.response_bytes(200, _JSON_HEADERS, orjson.dumps({"id": int(path[7:])}))
    else:
        protocol.response_bytes(404, _PLAINTEXT_HEADERS, _NOT_FOUND)
