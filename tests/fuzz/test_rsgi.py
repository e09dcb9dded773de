"""The fuzz suite's RSGI driver: calls go through ``__rsgi__`` and keep every check."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.fuzz.asgi import call_http, call_websocket, http_scope, websocket_scope
from tests.fuzz.rsgi import over_rsgi


class RSGIOnly:
    """An app with nothing but an RSGI entry, answering ``status`` (or raising)."""

    def __init__(self, status: int = 200, error: Exception | None = None) -> None:
        self.status = status
        self.error = error
        self.calls = 0

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        self.calls += 1
        if self.error is not None:
            raise self.error
        if scope.proto == "ws":
            transport = await protocol.accept()
            await transport.send_str("hi")
            protocol.close(1000)
            return
        await protocol()
        protocol.response_bytes(self.status, [("content-type", "text/plain")], b"ok")


def _http(app: Any, method: str = "GET") -> Any:
    return asyncio.run(call_http(over_rsgi(app), http_scope(method, b"/", b"", []), []))


def test_a_request_goes_through_the_rsgi_entry() -> None:
    app = RSGIOnly()
    result = _http(app)
    assert app.calls == 1
    assert (result.status, result.body) == (200, b"ok")
    assert (b"content-length", b"2") in result.headers  # the server counts the body


def test_a_5xx_over_rsgi_is_caught() -> None:
    with pytest.raises(AssertionError):
        _http(RSGIOnly(status=503))


def test_an_exception_out_of_the_rsgi_entry_propagates() -> None:
    with pytest.raises(ValueError, match="boom"):
        _http(RSGIOnly(error=ValueError("boom")))


def test_a_websocket_goes_through_the_rsgi_entry() -> None:
    app = RSGIOnly()
    scope = websocket_scope(b"/ws", b"", [])
    result = asyncio.run(call_websocket(over_rsgi(app), scope, []))
    assert app.calls == 1
    assert result.accepted
    assert [m.get("text") for m in result.sent] == ["hi"]
