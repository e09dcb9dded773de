"""The bare ASGI callable, sending the very response headers carboy sends by default.

carboy is secure by default: every response carries ``X-Frame-Options``,
``X-Content-Type-Options``, ``Referrer-Policy`` and
``Cross-Origin-Opener-Policy``, and text has an explicit charset. Under uvicorn
each response header costs Python work in the server (two regex checks, a
lower-casing, a join), so a response with four more headers is slower before
any framework runs. This baseline sends carboy's bytes with the least work, so
that *carboy / bare + headers* is the framework's own share and
*bare + headers / bare* the price of the headers.

It is ``bare_app`` written out again rather than parametrized: a closure or an
empty ``*extra`` would make the plain baseline slower (by ~1% in callgrind),
which would flatter every framework. The header list is written out too (no
carboy import, so its cold start stays bare); ``tests/bench/test_baselines.py``
checks that it matches carboy's defaults.
"""

from __future__ import annotations

import orjson

from bench.apps.bare_app import _NOT_FOUND_BODY, _NOT_FOUND_START, Receive, Scope, Send
from bench.common import MESSAGE, PLAINTEXT

#: ``SecurityHeaders().encode(https=False)``: carboy's defaults over plain HTTP.
SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
#: carboy's content type for ``media_type="text/plain"``.
TEXT_TYPE = b"text/plain; charset=utf-8"

_PLAINTEXT_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", TEXT_TYPE),
        (b"content-length", str(len(PLAINTEXT)).encode()),
        *SECURITY_HEADERS,
    ],
}
_PLAINTEXT_BODY = {"type": "http.response.body", "body": PLAINTEXT}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        path = scope["path"]
        if path == "/plaintext":
            await send(_PLAINTEXT_START)
            await send(_PLAINTEXT_BODY)
        elif path == "/json":
            body = orjson.dumps({"message": MESSAGE})
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        *SECURITY_HEADERS,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        else:
            await send(_NOT_FOUND_START)
            await send(_NOT_FOUND_BODY)
    elif scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
