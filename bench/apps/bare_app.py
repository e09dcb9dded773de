"""A bare ASGI callable: the ceiling every framework is measured against.

No routing table, no request object, no middleware: the least work an ASGI app
can do and still answer the plaintext, JSON and ``/users/{id}`` tests correctly (the JSON body
is serialized per request, as the rules require).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from bench.common import MESSAGE, PLAINTEXT

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_PLAINTEXT_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"text/plain"),
        (b"content-length", str(len(PLAINTEXT)).encode()),
    ],
}
_PLAINTEXT_BODY = {"type": "http.response.body", "body": PLAINTEXT}
_NOT_FOUND_START = {
    "type": "http.response.start",
    "status": 404,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"9")],
}
_NOT_FOUND_BODY = {"type": "http.response.body", "body": b"Not Found"}


async def _send_json(send: Send, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        path = scope["path"]
        if path == "/plaintext":
            await send(_PLAINTEXT_START)
            await send(_PLAINTEXT_BODY)
        elif path == "/json":
            await _send_json(send, orjson.dumps({"message": MESSAGE}))
        elif path.startswith("/users/") and path[7:].isdigit():
            await _send_json(send, orjson.dumps({"id": int(path[7:])}))
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
