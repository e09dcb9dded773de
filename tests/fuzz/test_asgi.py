"""The fuzz suite's server catches each kind of broken response it is there to find."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.fuzz.asgi import call_http, call_websocket, http_scope, websocket_scope

Send = Callable[[dict[str, Any]], Any]


def _http_app(*messages: dict[str, Any], error: Exception | None = None) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Send) -> None:
        await receive()
        for message in messages:
            await send(message)
        if error is not None:
            raise error

    return app


def _start(status: int = 200, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {"type": "http.response.start", "status": status, "headers": headers or []}


def _body(data: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}


def _run_http(app: Any, method: str = "GET") -> Any:
    return asyncio.run(call_http(app, http_scope(method, b"/", b"", []), []))


def test_a_well_formed_response_passes() -> None:
    app = _http_app(_start(headers=[(b"content-length", b"5")]), _body(b"he", True), _body(b"llo"))
    assert _run_http(app).body == b"hello"
    assert _run_http(_http_app(_start(204), _body(b""))).status == 204


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ((_start(500, [(b"content-length", b"0")]), _body(b"")), "500"),
        ((_start(), _start(), _body(b"")), "second http.response.start"),
        ((_start(headers=[(b"content-length", b"3")]), _body(b"hello")), "3"),
        ((_start(), _body(b"hello")), "no content-length"),
        (
            (
                _start(headers=[(b"x-a", b"1\r\nset-cookie: x=1"), (b"content-length", b"0")]),
                _body(b""),
            ),
            "x-a",
        ),
        ((_body(b"x"),), "before http.response.start"),
        ((_start(headers=[(b"content-length", b"0")]),), "before the response ended"),
        ((_start(204), _body(b"not empty")), "204"),
    ],
)
def test_a_broken_response_fails(messages: tuple[dict[str, Any], ...], error: str) -> None:
    with pytest.raises(AssertionError, match=error):
        _run_http(_http_app(*messages))


def test_an_exception_out_of_the_app_escapes() -> None:
    app = _http_app(error=ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        _run_http(app)


def test_a_head_response_has_no_body() -> None:
    app = _http_app(_start(headers=[(b"content-length", b"5")]), _body(b"hello"))
    with pytest.raises(AssertionError):
        _run_http(app, "HEAD")


def _ws_app(*messages: dict[str, Any]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Send) -> None:
        await receive()
        for message in messages:
            await send(message)

    return app


def _run_ws(app: Any) -> Any:
    return asyncio.run(call_websocket(app, websocket_scope(b"/ws", b"", []), []))


def test_websocket_checks() -> None:
    accept = {"type": "websocket.accept"}
    assert _run_ws(_ws_app(accept, {"type": "websocket.close", "code": 1000})).close_code == 1000
    with pytest.raises(AssertionError):
        _run_ws(_ws_app(accept, {"type": "websocket.close", "code": 1011}))
    with pytest.raises(AssertionError, match=r"before websocket\.accept"):
        _run_ws(_ws_app({"type": "websocket.send", "text": "x"}))
    with pytest.raises(AssertionError, match="after the WebSocket was closed"):
        _run_ws(
            _ws_app(accept, {"type": "websocket.close"}, {"type": "websocket.send", "text": "x"})
        )
    with pytest.raises(AssertionError, match=r"second websocket\.accept"):
        _run_ws(_ws_app(accept, accept))
