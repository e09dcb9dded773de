"""The WebSocket connection class, close_for_exception and finish."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from carboy.datastructures import Address, State
from carboy.exceptions import HTTPException, WebSocketDisconnect, WebSocketException
from carboy.responses import JSONResponse
from carboy.testing import TestClient, WebSocketDenied
from carboy.types import ASGIApp, Message, Receive, Scope, Send
from carboy.websockets import WebSocket, WebSocketState, close_for_exception, finish

Handler = Callable[[WebSocket], Awaitable[None]]


def endpoint(handler: Handler) -> ASGIApp:
    """Run ``handler`` the way carboy's router does: errors close, returning finishes."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        scope["app"] = "the-app"
        scope.setdefault("path_params", {"room": "lobby"})
        ws = WebSocket(scope, receive, send)
        try:
            await handler(ws)
        except Exception as exc:
            await close_for_exception(ws, exc)
            if isinstance(exc, WebSocketDisconnect | WebSocketException | HTTPException):
                return
            raise
        await finish(ws)

    return app


def client_for(handler: Handler, **options: Any) -> TestClient:
    return TestClient(endpoint(handler), **options)


# -- the connection's details ---------------------------------------------------------


def test_connection_details() -> None:
    seen: dict[str, Any] = {}

    async def handler(ws: WebSocket) -> None:
        seen.update(
            url=str(ws.url),
            path=ws.path,
            header=ws.headers["x-token"],
            query=ws.query_params.getlist("tag"),
            cookies=ws.cookies,
            path_params=ws.path_params,
            client=ws.client,
            app=ws.app,
            subprotocols=ws.subprotocols,
            states=(ws.client_state, ws.application_state),
            repr=repr(ws),
        )
        ws.state.user = "ann"
        seen["state"] = ws.state.user
        await ws.accept()
        seen["accepted"] = (ws.client_state, ws.application_state)

    with client_for(handler, cookies={"sid": "a b"}) as client:
        ws = client.websocket_connect(
            "/chat/caf%C3%A9?tag=x&tag=y", subprotocols=["v1"], headers={"X-Token": "t"}
        )
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        ws.close()
    assert info.value.code == 1000  # finish() closed it normally
    assert seen == {
        "url": "ws://testserver/chat/caf%C3%A9?tag=x&tag=y",
        "path": "/chat/café",
        "header": "t",
        "query": ["x", "y"],
        "cookies": {"sid": "a b"},
        "path_params": {"room": "lobby"},
        "client": Address("testclient", 50000),
        "app": "the-app",
        "subprotocols": ["v1"],
        "states": (WebSocketState.CONNECTING, WebSocketState.CONNECTING),
        "repr": "<WebSocket /chat/café CONNECTING>",
        "state": "ann",
        "accepted": (WebSocketState.CONNECTED, WebSocketState.CONNECTED),
    }


def test_a_websocket_needs_a_websocket_scope() -> None:
    async def nothing() -> Message:  # pragma: no cover - never called
        return {}

    async def ignore(message: Message) -> None:  # pragma: no cover - never called
        return None

    with pytest.raises(ValueError, match="needs a 'websocket' scope, got 'http'"):
        WebSocket({"type": "http"}, nothing, ignore)


# -- accepting ------------------------------------------------------------------------


def test_accept_with_subprotocol_and_headers() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept(subprotocol="v2", headers={"X-Room": "lobby"})
        await ws.send_text("welcome")

    with (
        client_for(handler) as client,
        client.websocket_connect("/ws", subprotocols=["v1", "v2"]) as ws,
    ):
        assert ws.accepted_subprotocol == "v2"
        assert ws.extra_headers["x-room"] == "lobby"
        assert ws.receive_text() == "welcome"


def test_accepting_a_subprotocol_the_client_did_not_offer_is_an_error() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept(subprotocol="v9")

    with (
        client_for(handler) as client,
        pytest.raises(ValueError, match=r"Subprotocol 'v9' was not offered by the client"),
    ):
        client.websocket_connect("/ws", subprotocols=["v1"])


def test_accept_twice_is_an_error() -> None:
    errors: list[str] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        try:
            await ws.accept()
        except RuntimeError as exc:
            errors.append(str(exc))

    with client_for(handler) as client:
        client.websocket_connect("/ws").close()
    assert errors == ["accept() was already called on this WebSocket"]


@pytest.mark.parametrize(
    ("action", "error"),
    [
        ("send", "Call accept() before sending 'websocket.send'"),
        ("receive", "Call accept() before receiving from a WebSocket"),
    ],
)
def test_talking_before_accept_is_an_error(action: str, error: str) -> None:
    async def handler(ws: WebSocket) -> None:
        if action == "send":
            await ws.send_text("too early")
        else:
            await ws.receive_text()

    with client_for(handler) as client, pytest.raises(RuntimeError) as info:
        client.websocket_connect("/ws")
    assert str(info.value) == error


def test_returning_without_accepting_denies_the_connection() -> None:
    async def handler(ws: WebSocket) -> None:
        return None

    with client_for(handler) as client, pytest.raises(WebSocketDenied) as info:
        client.websocket_connect("/ws")
    assert (info.value.status_code, info.value.code) == (403, 1000)


# -- receiving --------------------------------------------------------------------------


def test_iter_text_ends_cleanly_on_disconnect() -> None:
    log: list[Any] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        async for text in ws.iter_text():
            log.append(text)
            await ws.send_text(text.upper())
        log.append(("ended", ws.client_state))

    with client_for(handler) as client:
        with client.websocket_connect("/ws") as ws:
            for word in ("a", "b", "c"):
                ws.send_text(word)
                assert ws.receive_text() == word.upper()
        assert log == ["a", "b", "c", ("ended", WebSocketState.DISCONNECTED)]


def test_iter_bytes_and_iter_json() -> None:
    log: list[Any] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        if ws.query_params.get("kind") == "bytes":
            log.extend([chunk async for chunk in ws.iter_bytes()])
        else:
            log.extend([value async for value in ws.iter_json()])
        log.append("ended")

    with client_for(handler) as client:
        with client.websocket_connect("/ws?kind=bytes") as ws:
            ws.send_bytes(b"\x00")
            ws.send_bytes(b"\x01\x02")
        with client.websocket_connect("/ws?kind=json") as ws:
            ws.send_json({"a": 1})
            ws.send_json([1, "é"], mode="binary")
    assert log == [b"\x00", b"\x01\x02", "ended", {"a": 1}, [1, "é"], "ended"]


def test_malformed_json_can_be_caught_and_answered() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        while True:
            try:
                value = await ws.receive_json()
            except WebSocketException as exc:
                await ws.send_json({"error": exc.reason, "code": exc.code})
                continue
            await ws.send_json({"got": value})

    with client_for(handler) as client, client.websocket_connect("/ws") as ws:
        ws.send_text("{not json")
        reply = ws.receive_json()
        assert reply["code"] == 1007
        assert reply["error"].startswith("Malformed JSON: ")
        ws.send_bytes(b"\xff\xfe")
        assert ws.receive_json()["code"] == 1007
        ws.send_text('{"ok": true}')
        assert ws.receive_json() == {"got": {"ok": True}}


def test_uncaught_malformed_json_closes_with_1007() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        async for _ in ws.iter_json():
            pass  # pragma: no cover - the first message is malformed

    with client_for(handler) as client, client.websocket_connect("/ws") as ws:
        ws.send_text("[1, 2")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert info.value.code == 1007
    assert info.value.reason.startswith("Malformed JSON: ")


@pytest.mark.parametrize(
    ("wanted", "sent", "reason"),
    [
        ("text", {"bytes": b"\x00"}, "Expected a text message, got binary"),
        ("bytes", {"text": "hi"}, "Expected a binary message, got text"),
    ],
)
def test_wrong_frame_kind_closes_with_1003(wanted: str, sent: Message, reason: str) -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        if wanted == "text":
            await ws.receive_text()
        else:
            await ws.receive_bytes()

    with client_for(handler) as client, client.websocket_connect("/ws") as ws:
        ws.send({"type": "websocket.receive", **sent})
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
    assert (info.value.code, info.value.reason) == (1003, reason)


def test_receive_raises_disconnect_with_the_clients_code() -> None:
    caught: list[tuple[int, str]] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        try:
            await ws.receive_text()
        except WebSocketDisconnect as exc:
            caught.append((exc.code, exc.reason))
        try:  # and again, without waiting
            await ws.receive_bytes()
        except WebSocketDisconnect as exc:
            caught.append((exc.code, exc.reason))
        raise WebSocketDisconnect(0)  # handlers may let it escape; nothing is sent

    with client_for(handler) as client:
        client.websocket_connect("/ws").close(4000, "leaving")
    assert caught == [(4000, "leaving"), (4000, "leaving")]


# -- sending and closing ----------------------------------------------------------------


def test_send_text_bytes_json() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("t")
        await ws.send_bytes(b"b")
        await ws.send_json({"j": [1]})
        await ws.send_json({"j": 2}, mode="binary")

    with client_for(handler) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive() == {"type": "websocket.send", "text": "t"}
        assert ws.receive() == {"type": "websocket.send", "bytes": b"b"}
        assert ws.receive() == {"type": "websocket.send", "text": '{"j":[1]}'}
        assert ws.receive() == {"type": "websocket.send", "bytes": b'{"j":2}'}


def test_sending_after_close_is_a_clear_error() -> None:
    errors: list[str] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.close(4001, "done")
        for attempt in (ws.send_text("late"), ws.close()):
            try:
                await attempt
            except RuntimeError as exc:
                errors.append(str(exc))

    with (
        client_for(handler) as client,
        client.websocket_connect("/ws") as ws,
        pytest.raises(WebSocketDisconnect) as info,
    ):
        ws.receive_text()
    assert (info.value.code, info.value.reason) == (4001, "done")
    assert errors == [
        "Cannot send 'websocket.send': the WebSocket was already closed",
        "Cannot send 'websocket.close': the WebSocket was already closed",
    ]


def test_returning_after_accept_closes_normally() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("bye")

    with client_for(handler) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "bye"
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert info.value.code == 1000


# -- errors in handlers -----------------------------------------------------------------


def test_websocket_exception_before_accept_denies_with_its_code() -> None:
    async def handler(ws: WebSocket) -> None:
        raise WebSocketException(4401, "Login required")

    with client_for(handler) as client, pytest.raises(WebSocketDenied) as info:
        client.websocket_connect("/ws")
    assert (info.value.status_code, info.value.code, info.value.reason) == (
        403,
        4401,
        "Login required",
    )


def test_websocket_exception_after_accept_closes_with_its_code() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        raise WebSocketException(4002, "Room is full")

    with (
        client_for(handler) as client,
        client.websocket_connect("/ws") as ws,
        pytest.raises(WebSocketDisconnect) as info,
    ):
        ws.receive_text()
    assert (info.value.code, info.value.reason) == (4002, "Room is full")


def test_other_exceptions_close_with_1011_and_reach_the_test() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_text()
        raise ZeroDivisionError("bad math")

    with client_for(handler) as client, client.websocket_connect("/ws") as ws:
        ws.send_text("go")
        with pytest.raises(ZeroDivisionError, match="bad math") as info:
            ws.receive_text()
    closed = info.value.__context__
    assert isinstance(closed, WebSocketDisconnect)
    assert closed.code == 1011


def test_http_exception_before_accept_is_an_http_denial() -> None:
    async def handler(ws: WebSocket) -> None:
        raise HTTPException(401, "Login required", headers={"WWW-Authenticate": "Bearer"})

    with client_for(handler) as client, pytest.raises(WebSocketDenied) as info:
        client.websocket_connect("/ws", headers={"accept": "application/json"})
    denied = info.value
    assert denied.status_code == 401
    assert denied.headers["www-authenticate"] == "Bearer"
    assert json.loads(denied.body) == {"status": 401, "detail": "Login required"}


def test_http_exception_after_accept_closes_with_1008() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        raise HTTPException(403, "Not your room")

    with (
        client_for(handler) as client,
        client.websocket_connect("/ws") as ws,
        pytest.raises(WebSocketDisconnect) as info,
    ):
        ws.receive_text()
    assert (info.value.code, info.value.reason) == (1008, "Not your room")


def test_send_denial_response() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.send_denial_response(JSONResponse({"error": "no token"}, 401))

    with client_for(handler) as client, pytest.raises(WebSocketDenied) as info:
        client.websocket_connect("/ws")
    assert info.value.status_code == 401
    assert json.loads(info.value.body) == {"error": "no token"}
    assert info.value.headers["content-type"] == "application/json"


# -- against a bare ASGI server side: what servers may do ---------------------------------


class Peer:
    """The server's side of one connection: scripted client messages, recorded sends."""

    def __init__(self, *incoming: Message, extensions: dict[str, Any] | None = None) -> None:
        self.incoming = list(incoming)
        self.sent: list[Message] = []
        self.send_error: OSError | None = None
        self.scope: Scope = {
            "type": "websocket",
            "path": "/ws",
            "headers": [],
            "extensions": extensions or {},
        }

    async def receive(self) -> Message:
        return self.incoming.pop(0)

    async def send(self, message: Message) -> None:
        if self.send_error is not None:
            raise self.send_error
        self.sent.append(message)

    def websocket(self) -> WebSocket:
        return WebSocket(self.scope, self.receive, self.send)


CONNECT: Message = {"type": "websocket.connect"}


@pytest.mark.anyio
async def test_receive_after_disconnect_repeats_the_disconnect() -> None:
    bye = {"type": "websocket.disconnect", "code": 1001}
    peer = Peer(CONNECT, bye)
    ws = peer.websocket()
    await ws.accept()
    assert await ws.receive() == bye
    assert await ws.receive() == bye  # no second read from the server
    with pytest.raises(WebSocketDisconnect) as info:
        await ws.receive_json()
    assert (info.value.code, info.value.reason) == (1001, "")
    assert [chunk async for chunk in ws.iter_bytes()] == []


@pytest.mark.anyio
async def test_send_failing_because_the_client_left_becomes_disconnect() -> None:
    peer = Peer(CONNECT)
    ws = peer.websocket()
    await ws.accept()
    peer.send_error = ConnectionResetError("reset by peer")
    with pytest.raises(WebSocketDisconnect) as info:
        await ws.send_text("hello?")
    assert info.value.code == 1006
    assert ws.client_state is ws.application_state is WebSocketState.DISCONNECTED
    await finish(ws)  # nothing left to close
    assert peer.sent == [{"type": "websocket.accept", "subprotocol": None, "headers": []}]


@pytest.mark.anyio
async def test_after_the_client_left_close_is_a_no_op_and_send_raises() -> None:
    peer = Peer(CONNECT, {"type": "websocket.disconnect", "code": 1000})
    ws = peer.websocket()
    await ws.accept()
    assert [text async for text in ws.iter_text()] == []
    with pytest.raises(WebSocketDisconnect):
        await ws.send_text("anyone?")
    await ws.close()
    assert ws.application_state is WebSocketState.DISCONNECTED
    assert [m["type"] for m in peer.sent] == ["websocket.accept"]


@pytest.mark.anyio
async def test_accept_when_the_client_left_during_the_handshake() -> None:
    peer = Peer({"type": "websocket.disconnect", "code": 1006})
    ws = peer.websocket()
    with pytest.raises(WebSocketDisconnect) as info:
        await ws.accept()
    assert info.value.code == 1006
    assert peer.sent == []


@pytest.mark.anyio
async def test_out_of_order_messages_from_the_server_are_errors() -> None:
    ws = Peer({"type": "websocket.receive", "text": "x"}).websocket()
    with pytest.raises(RuntimeError, match=re.escape("Expected a 'websocket.connect' message")):
        await ws.receive()
    ws = Peer(CONNECT, {"type": "websocket.connect"}).websocket()
    await ws.accept()
    with pytest.raises(RuntimeError, match=re.escape("Expected a 'websocket.receive' message")):
        await ws.receive()


@pytest.mark.anyio
async def test_unknown_message_types_are_refused() -> None:
    ws = Peer(CONNECT).websocket()
    await ws.accept()
    with pytest.raises(RuntimeError, match=r"Cannot send 'websocket\.http\.response\.start'"):
        await ws.send({"type": "websocket.http.response.start", "status": 200})


@pytest.mark.anyio
async def test_close_reason_is_clipped_to_fit_a_close_frame() -> None:
    peer = Peer(CONNECT)
    ws = peer.websocket()
    await ws.accept()
    await ws.close(4000, "é" * 100)  # 200 bytes of UTF-8
    reason = peer.sent[-1]["reason"]
    assert reason == "é" * 61  # 122 bytes: the 123rd would split a character
    assert len(reason.encode()) <= 123


@pytest.mark.anyio
async def test_close_for_exception_codes() -> None:
    peer = Peer(CONNECT)
    ws = peer.websocket()
    await ws.accept()
    await close_for_exception(ws, WebSocketDisconnect(1001))
    assert peer.sent[-1]["type"] == "websocket.accept"  # nothing sent
    await close_for_exception(ws, KeyError("x"))
    assert peer.sent[-1] == {"type": "websocket.close", "code": 1011, "reason": ""}
    await close_for_exception(ws, ValueError("already closed: ignored"))
    assert len(peer.sent) == 2


@pytest.mark.anyio
async def test_close_for_exception_before_accept_rejects_the_handshake() -> None:
    peer = Peer(CONNECT)
    ws = peer.websocket()
    await close_for_exception(ws, RuntimeError("broken"))
    assert peer.sent == [{"type": "websocket.close", "code": 1011, "reason": ""}]


@pytest.mark.anyio
async def test_http_denial_falls_back_to_close_without_the_extension() -> None:
    peer = Peer(CONNECT)
    ws = peer.websocket()
    await close_for_exception(ws, HTTPException(401))
    assert peer.sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]


@pytest.mark.anyio
async def test_denial_response_only_before_accept() -> None:
    peer = Peer(CONNECT, extensions={"websocket.http.response": {}})
    ws = peer.websocket()
    await ws.accept()
    with pytest.raises(RuntimeError, match="only be sent before accept"):
        await ws.send_denial_response(JSONResponse({}, 400))


@pytest.mark.anyio
async def test_state_wraps_a_plain_dict_from_the_server() -> None:
    peer = Peer(CONNECT)
    peer.scope["state"] = {"db": "pool"}
    ws = peer.websocket()
    assert isinstance(ws.state, State)
    assert ws.state.db == "pool"
    assert ws.client is None
    assert ws.path_params == {}
    assert ws.subprotocols == []


# -- hostile input: nesting, size and rate -------------------------------------------


def test_deeply_nested_json_closes_with_1007_and_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The review's finding: RecursionError escaped (1011 and a logged traceback).
    from carboy import Carboy

    app = Carboy(debug=True)

    @app.websocket("/ws")
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_json()

    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        ws.send_text("[" * 100_000)
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert (info.value.code, info.value.reason) == (1007, "Malformed JSON: nested too deeply")
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def limited_app(**settings: Any) -> Any:
    from carboy import Carboy
    from carboy.settings import Settings

    app = Carboy(Settings(debug=True, **settings))

    @app.websocket("/ws")
    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        async for text in ws.iter_text():
            await ws.send_text(text)

    @app.websocket("/raw")
    async def raw(ws: WebSocket) -> None:
        await ws.accept()
        while True:
            message = await ws.receive()
            await ws.send_bytes(message.get("bytes") or b"")

    return app


@pytest.mark.parametrize(
    ("message", "too_big"),
    [
        ({"text": "x" * 10}, False),
        ({"text": "x" * 11}, True),
        ({"text": "\u00e9" * 5}, False),  # 10 bytes in UTF-8
        ({"text": "\u00e9" * 6}, True),  # 6 characters, 12 bytes
        ({"text": "\U0001f600" * 3}, True),  # 3 characters, 12 bytes
    ],
)
def test_message_size_limit_closes_with_1009(message: dict[str, Any], too_big: bool) -> None:
    with (
        TestClient(limited_app(websocket_max_message_size=10)) as client,
        client.websocket_connect("/ws") as ws,
    ):
        ws.send_text(message["text"])
        if not too_big:
            assert ws.receive_text() == message["text"]
            return
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert (info.value.code, info.value.reason) == (1009, "Message exceeds 10 bytes")


def test_message_size_limit_on_raw_receive_and_bytes(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="carboy.security"),
        TestClient(limited_app(websocket_max_message_size=10)) as client,
        client.websocket_connect("/raw") as ws,
    ):
        ws.send_bytes(b"x" * 10)
        assert ws.receive_bytes() == b"x" * 10
        ws.send_bytes(b"x" * 11)
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_bytes()
    assert info.value.code == 1009
    assert any("Closed WebSocket '/raw' with 1009" in r.getMessage() for r in caplog.records)


def test_size_limit_zero_means_none_and_the_default_is_one_mib() -> None:
    big = "x" * (1024 * 1024 + 1)
    with (
        TestClient(limited_app(websocket_max_message_size=0)) as client,
        client.websocket_connect("/ws") as ws,
    ):
        ws.send_text(big)
        assert ws.receive_text() == big
    with TestClient(limited_app()) as client, client.websocket_connect("/ws") as ws:
        ws.send_text(big)
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert info.value.code == 1009


def test_message_rate_limit_closes_with_1008() -> None:
    with (
        TestClient(limited_app(websocket_max_messages_per_second=3)) as client,
        client.websocket_connect("/ws") as ws,
    ):
        for i in range(10):
            ws.send_text(str(i))
        assert [ws.receive_text() for _ in range(3)] == ["0", "1", "2"]
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert (info.value.code, info.value.reason) == (1008, "More than 3 messages per second")


def test_rate_refills_over_time() -> None:
    import time

    with (
        TestClient(limited_app(websocket_max_messages_per_second=20)) as client,
        client.websocket_connect("/ws") as ws,
    ):
        for i in range(60):  # 3 s at the allowed pace: never refused
            ws.send_text(str(i))
            assert ws.receive_text() == str(i)
            time.sleep(0.05)


def test_rate_limit_zero_means_none_and_the_default_is_100() -> None:
    with (
        TestClient(limited_app(websocket_max_messages_per_second=0)) as client,
        client.websocket_connect("/ws") as ws,
    ):
        for i in range(300):
            ws.send_text(str(i))
        assert [ws.receive_text() for _ in range(300)] == [str(i) for i in range(300)]
    with TestClient(limited_app()) as client, client.websocket_connect("/ws") as ws:
        for i in range(300):
            ws.send_text(str(i))
        got: list[str] = []

        def drain() -> None:
            while True:
                got.append(ws.receive_text())

        with pytest.raises(WebSocketDisconnect) as info:
            drain()
    assert info.value.code == 1008
    assert 100 <= len(got) < 300
