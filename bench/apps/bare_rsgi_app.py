"""A bare RSGI callable: the ceiling under granian's RSGI interface.

The RSGI twin of ``bare_app``: no routing table, no request object, one
``protocol.response_bytes`` call per request (granian counts the body's length
itself), the JSON body serialized per request, ``/users/{id}`` parsed as an int.
"""

from __future__ import annotations

from typing import Any

import orjson

from bench.common import MESSAGE, PLAINTEXT

_PLAINTEXT_HEADERS = [("content-type", "text/plain")]
_JSON_HEADERS = [("content-type", "application/json")]
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
