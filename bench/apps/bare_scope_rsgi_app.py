"""The bare RSGI callable with carboy's headers, reading the scope as carboy's native path does.

``bare_secure_rsgi_app`` reads ``scope.proto`` and ``scope.path`` only. carboy's
native RSGI path also checks the Host header (``scope.headers.get_all("host")``:
exactly one value, one of the allowed hosts), and reads ``scope.method`` and
``scope.scheme`` (the headers over HTTPS differ: HSTS). Each read is a call into
granian that makes a Python object, so this callable makes those same reads: *carboy
/ this* is what carboy's routing, handler call and rendering cost over RSGI, and
*this / bare RSGI + headers* the price of the reads. Its answers are carboy's;
``tests/bench/test_baselines.py`` checks that.
"""

from __future__ import annotations

from typing import Any

import orjson

from bench.apps.bare_secure_rsgi_app import SECURITY_HEADERS
from bench.common import MESSAGE, PLAINTEXT

#: The bench app's ``allowed_hosts`` (any port).
ALLOWED_HOSTS = frozenset({"127.0.0.1", "localhost"})
#: Over HTTPS carboy adds HSTS.
_HSTS = ("strict-transport-security", "max-age=31536000; includeSubDomains")
_TEXT, _JSON = "text/plain; charset=utf-8", "application/json"
#: The headers by scheme: ``_HEADERS[https][json]``.
_HEADERS = tuple(
    tuple(
        [("content-type", ctype), *SECURITY_HEADERS, *([_HSTS] if https else [])]
        for ctype in (_TEXT, _JSON)
    )
    for https in (False, True)
)
_NOT_FOUND = b"Not Found"
_BAD_HOST = b"Invalid host header"
#: Host values seen and allowed (carboy remembers them too: a set lookup per request).
_good_hosts: set[str] = set()


def _allowed(values: list[str]) -> bool:
    if len(values) != 1:
        return False
    host = values[0]
    if host in _good_hosts:
        return True
    if host.partition(":")[0] in ALLOWED_HOSTS:
        _good_hosts.add(host)
        return True
    return False


async def app(scope: Any, protocol: Any) -> None:
    if scope.proto != "http":
        return
    if not _allowed(scope.headers.get_all("host")):
        protocol.response_bytes(400, _HEADERS[0][0], _BAD_HOST)
        return
    path: str = scope.path
    method: str = scope.method
    headers = _HEADERS[scope.scheme == "https"]
    if method != "GET" and method != "HEAD":
        protocol.response_bytes(405, headers[0], b"Method Not Allowed")
    elif path == "/plaintext":
        protocol.response_bytes(200, headers[0], PLAINTEXT)
    elif path == "/json":
        protocol.response_bytes(200, headers[1], orjson.dumps({"message": MESSAGE}))
    elif path.startswith("/users/") and path[7:].isdigit():
        protocol.response_bytes(200, headers[1], orjson.dumps({"id": int(path[7:])}))
    else:
        protocol.response_bytes(404, headers[0], _NOT_FOUND)
