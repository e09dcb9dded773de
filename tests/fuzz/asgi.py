"""A bare ASGI server for the fuzz suite: one call of the app, every message checked.

No network and no test client in between: the app gets exactly the scope and
messages a server would give it, and everything it sends is checked against the
invariants the suite asserts (one response start, a body that matches its
``Content-Length``, no CR/LF in a header, no 5xx, no exception out of the app).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from carboy.types import ASGIApp, Message

#: Seconds one fuzzed call may take before it counts as a hang.
CALL_TIMEOUT = 10.0


def http_scope(
    method: str, raw_path: bytes, query_string: bytes, headers: Sequence[tuple[bytes, bytes]]
) -> dict[str, Any]:
    """The scope a server builds for one HTTP request (path decoded as uvicorn does)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path.decode("latin-1")),
        "raw_path": raw_path,
        "query_string": query_string,
        "root_path": "",
        "headers": list(headers),
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def websocket_scope(
    raw_path: bytes, query_string: bytes, headers: Sequence[tuple[bytes, bytes]]
) -> dict[str, Any]:
    """The scope of a WebSocket handshake."""
    scope = http_scope("GET", raw_path, query_string, headers)
    del scope["method"]
    scope.update(
        type="websocket",
        scheme="ws",
        subprotocols=[],
        extensions={"websocket.http.response": {}},
    )
    return scope


@dataclass
class HTTPResult:
    """What the app answered, already checked."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def _check_header(name: bytes, value: bytes) -> None:
    assert isinstance(name, bytes) and isinstance(value, bytes), (name, value)
    for forbidden in (b"\r", b"\n", b"\x00"):
        assert forbidden not in name and forbidden not in value, (name, value)


async def call_http(app: ASGIApp, scope: dict[str, Any], chunks: Sequence[bytes]) -> HTTPResult:
    """Run one request through ``app``; assert the response is well formed and not a 5xx."""
    inbox: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks or [b""])
    ]
    if not chunks:
        inbox = [{"type": "http.request", "body": b"", "more_body": False}]
    starts: list[Message] = []
    body: list[bytes] = []
    ended = asyncio.Event()

    async def receive() -> Message:
        if inbox:
            return inbox.pop(0)
        await ended.wait()  # a real client stays until the response is complete
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            assert not starts, "a second http.response.start"
            starts.append(message)
        elif kind == "http.response.body":
            assert starts, "a body before http.response.start"
            assert not ended.is_set(), "a body after the response ended"
            body.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                ended.set()
        else:
            raise AssertionError(f"an unknown message {kind!r}")

    await asyncio.wait_for(app(scope, receive, send), CALL_TIMEOUT)
    assert starts, "the app returned without a response"
    assert ended.is_set(), "the app returned before the response ended"
    start = starts[0]
    status = int(start["status"])
    headers = [(bytes(k), bytes(v)) for k, v in start.get("headers", [])]
    for name, value in headers:
        _check_header(name, value)
    assert 100 <= status < 500, (status, b"".join(body)[:500])
    data = b"".join(body)
    lengths = [v for k, v in headers if k.lower() == b"content-length"]
    assert len(lengths) <= 1, lengths
    if scope["method"] == "HEAD" or status in (204, 304):
        assert data == b"", (status, data[:200])
    else:
        assert lengths, ("no content-length", status, headers)
        assert int(lengths[0]) == len(data), (lengths[0], len(data))
    return HTTPResult(status, headers, data)


@dataclass
class WebSocketResult:
    """What the app did on a WebSocket."""

    accepted: bool = False
    close_code: int | None = None
    denial_status: int | None = None
    sent: list[Message] = field(default_factory=list)


async def call_websocket(
    app: ASGIApp, scope: dict[str, Any], frames: Sequence[Message]
) -> WebSocketResult:
    """Run one WebSocket session: the handshake, ``frames``, then the client leaves."""
    result = WebSocketResult()
    inbox: list[Message] = [{"type": "websocket.connect"}, *frames]
    closed = asyncio.Event()
    denial_ended = False

    async def receive() -> Message:
        if inbox:
            return inbox.pop(0)
        if not closed.is_set():
            return {"type": "websocket.disconnect", "code": 1001, "reason": ""}
        return {"type": "websocket.disconnect", "code": result.close_code or 1000, "reason": ""}

    async def send(message: Message) -> None:
        nonlocal denial_ended
        kind = message["type"]
        assert not closed.is_set(), f"{kind!r} after the WebSocket was closed"
        if kind == "websocket.accept":
            assert not result.accepted, "a second websocket.accept"
            assert result.denial_status is None
            result.accepted = True
            for name, value in message.get("headers", []):
                _check_header(name, value)
        elif kind == "websocket.send":
            assert result.accepted, "websocket.send before websocket.accept"
            result.sent.append(message)
        elif kind == "websocket.close":
            result.close_code = int(message.get("code") or 1000)
            closed.set()
        elif kind == "websocket.http.response.start":
            assert not result.accepted and result.denial_status is None
            result.denial_status = int(message["status"])
            for name, value in message.get("headers", []):
                _check_header(name, value)
        elif kind == "websocket.http.response.body":
            assert result.denial_status is not None and not denial_ended
            if not message.get("more_body", False):
                denial_ended = True
                closed.set()
        else:
            raise AssertionError(f"an unknown message {kind!r}")

    await asyncio.wait_for(app(scope, receive, send), CALL_TIMEOUT)
    # 1011 is the WebSocket's 500: an exception the app did not handle.
    assert result.close_code != 1011, result
    assert result.denial_status is None or result.denial_status < 500, result
    return result
