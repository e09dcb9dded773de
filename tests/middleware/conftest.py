"""Helpers for driving middleware with hand-written ASGI conversations.

httpx's ASGITransport covers plain HTTP; these cover what it cannot send:
WebSockets, lifespan, malformed headers, and apps that fail mid-response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from carboy.types import ASGIApp, Message, Scope

CallASGI = Callable[..., Awaitable[list[Message]]]


def _make_scope(
    kind: str = "http",
    *,
    headers: Sequence[tuple[bytes, bytes]] = ((b"host", b"testserver"),),
    method: str = "GET",
    scheme: str | None = None,
    path: str = "/",
) -> Scope:
    """A minimal ASGI scope of type ``kind`` with these raw headers."""
    scope: dict[str, Any] = {
        "type": kind,
        "asgi": {"version": "3.0"},
        "headers": list(headers),
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
    }
    if kind == "http":
        scope.update(method=method, scheme=scheme or "http", http_version="1.1")
    elif kind == "websocket":
        scope.update(scheme=scheme or "ws", subprotocols=[])
    return scope


MakeScope = Callable[..., Scope]


@pytest.fixture
def make_scope() -> MakeScope:
    """``make_scope("websocket", headers=[...])`` -> a fresh minimal scope."""
    return _make_scope


@pytest.fixture
def call_asgi() -> CallASGI:
    """``await call_asgi(app, scope, [incoming messages])`` -> the messages the app sent."""

    async def call(app: ASGIApp, scope: Scope, incoming: Sequence[Message] = ()) -> list[Message]:
        queue = list(incoming)
        sent: list[Message] = []
        ended = {"http": "http.disconnect", "websocket": "websocket.disconnect"}

        async def receive() -> Message:
            if queue:
                return queue.pop(0)
            return {"type": ended.get(scope["type"], "lifespan.shutdown")}

        async def send(message: Message) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    return call
