"""TestClient(interface="rsgi"): the app's ``__rsgi__`` driven as granian drives it.

What RSGI cannot carry shows here as it does to granian's clients (tests/test_rsgi.py
checks the same against real granian processes): WebSocket close codes read 1005,
a refused handshake is a bare status, subprotocols are not sent, request header
values that are not visible ASCII are dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest

from carboy import (
    Carboy,
    Header,
    HTTPException,
    JSONResponse,
    Request,
    StreamingResponse,
    WebSocket,
    WebSocketDisconnect,
)
from carboy.testing import AsyncTestClient, TestClient, WebSocketDenied
from carboy.types import Receive, Scope, Send


def make_app() -> Carboy:
    app = Carboy(debug=True)

    @app.get("/hello")
    async def hello() -> str:
        return "hello"

    @app.get("/header")
    async def header(x_name: Annotated[str, Header()] = "-") -> str:
        return x_name

    @app.post("/body")
    async def body(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    @app.get("/value-error")
    async def value_error() -> str:
        raise ValueError("bad value")

    @app.exception_handler(ValueError)
    async def on_value_error(request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"handled": str(exc)}, 409)

    @app.websocket("/ws")
    async def ws(ws: WebSocket) -> None:
        await ws.accept(subprotocol="chat" if "chat" in ws.subprotocols else None)
        async for text in ws.iter_text():
            if text == "close":
                await ws.close(4001, "bye")
                return
            await ws.send_text(text.upper())

    @app.websocket("/ws/listen")
    async def listen(ws: WebSocket) -> None:
        await ws.accept()
        try:
            await ws.receive_text()
        except WebSocketDisconnect as exc:
            app.state.client_code = exc.code

    @app.websocket("/ws/deny")
    async def deny(ws: WebSocket) -> None:
        raise HTTPException(401, "Login required")

    @app.websocket("/ws/denial")
    async def denial(ws: WebSocket) -> None:
        await ws.send_denial_response(JSONResponse({"error": "no"}, 401))

    return app


def test_interface_must_be_known_and_the_app_must_speak_rsgi() -> None:
    async def plain_asgi(scope: Scope, receive: Receive, send: Send) -> None:  # pragma: no cover
        pass

    with pytest.raises(TypeError, match="has no __rsgi__ method"):
        TestClient(plain_asgi, interface="rsgi")
    with pytest.raises(ValueError, match="interface must be 'asgi' or 'rsgi', not 'wsgi'"):
        TestClient(make_app(), interface="wsgi")  # type: ignore[arg-type]


def test_the_rsgi_entry_does_not_build_the_app() -> None:
    app = Carboy(debug=True)
    assert callable(app.__rsgi__)  # what granian reads first, before __rsgi_init__
    assert app.__rsgi__ == app.__rsgi__

    @app.get("/late")  # setup is still open
    async def late() -> str:
        return "late"

    with TestClient(app, interface="rsgi") as client:
        assert client.get("/late").text == "late"


def test_without_the_lifespan_the_first_request_builds_the_app() -> None:
    client = TestClient(make_app(), interface="rsgi")
    assert client.get("/hello").text == "hello"
    assert client.get("/hello").text == "hello"  # now natively
    client.close()


def test_header_values_that_are_not_visible_ascii_are_dropped() -> None:
    app = make_app()
    raw = {"x-name": "caf\xe9".encode("latin-1")}
    with TestClient(app) as asgi, TestClient(app, interface="rsgi") as rsgi:
        assert asgi.get("/header", headers=raw).text == "café"
        assert rsgi.get("/header", headers=raw).text == "-"
        assert rsgi.get("/header", headers={"x-name": "ok"}).text == "ok"


def test_an_error_in_a_natively_served_handler_reaches_the_apps_handlers() -> None:
    with TestClient(make_app(), interface="rsgi") as client:
        response = client.get("/value-error")
    assert (response.status_code, response.json()) == (409, {"handled": "bad value"})


def test_a_large_body_streams_in_and_a_small_one_is_read_at_once() -> None:
    with TestClient(make_app(), interface="rsgi") as client:
        assert client.post("/body", content=b"x" * 10).json() == {"length": 10}
        big = b"y" * (3 * 1024 * 1024)  # past WHOLE_BODY_LIMIT: read chunk by chunk
        assert client.post("/body", content=big).json() == {"length": len(big)}

        def chunks() -> Any:
            yield b"a" * 1000
            yield b"b" * 1000

        assert client.post("/body", content=chunks()).json() == {"length": 2000}


def test_websocket_frames_go_both_ways() -> None:
    with (
        TestClient(make_app(), interface="rsgi") as client,
        client.websocket_connect("/ws") as ws,
    ):
        ws.send_text("hi")
        assert ws.receive_text() == "HI"


def test_websocket_close_codes_do_not_cross_rsgi() -> None:
    app = make_app()
    with TestClient(app, interface="rsgi") as client:
        with client.websocket_connect("/ws") as ws:
            ws.send_text("close")
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_text()
        assert info.value.code == 1005  # the app closed with 4001
        with client.websocket_connect("/ws/listen") as ws:
            ws.close(4005, "leaving")
        assert app.state.client_code == 1005  # the client closed with 4005
    with TestClient(app) as client, client.websocket_connect("/ws/listen") as ws:
        ws.close(4005, "leaving")
    assert app.state.client_code == 4005  # over ASGI it arrives


def test_a_refused_handshake_is_a_bare_403() -> None:
    with TestClient(make_app(), interface="rsgi") as client:
        for path in ("/ws/deny", "/ws/denial", "/ws/missing"):
            with pytest.raises(WebSocketDenied) as info:
                client.websocket_connect(path)
            assert (info.value.status_code, info.value.body) == (403, b""), path


def test_a_subprotocol_is_not_sent_and_a_warning_says_so(caplog: pytest.LogCaptureFixture) -> None:
    app = make_app()
    with TestClient(app) as client, client.websocket_connect("/ws", subprotocols=["chat"]) as ws:
        assert ws.accepted_subprotocol == "chat"
    with (
        caplog.at_level(logging.WARNING, logger="carboy.rsgi"),
        TestClient(app, interface="rsgi") as client,
        client.websocket_connect("/ws", subprotocols=["chat"]) as ws,
    ):
        assert ws.accepted_subprotocol is None
        ws.send_text("still works")
        assert ws.receive_text() == "STILL WORKS"
    assert "RSGI cannot send a WebSocket subprotocol or accept headers; /ws accepted" in (
        caplog.text
    )


def test_a_client_leaving_a_stream_stops_it() -> None:
    app = Carboy(debug=True)
    sent: list[int] = []
    stopped = asyncio.Event()

    @app.get("/forever")
    async def forever() -> StreamingResponse:
        async def numbers() -> AsyncIterator[str]:
            try:
                for i in range(10_000):
                    sent.append(i)
                    yield f"{i}\n"
                    await asyncio.sleep(0.001)
            finally:
                stopped.set()

        return StreamingResponse(numbers(), media_type="text/plain")

    with TestClient(app, interface="rsgi") as client:
        with client.stream("GET", "/forever") as response:
            first = next(response.iter_lines())
        assert first == "0"
    assert stopped.is_set()
    assert len(sent) < 10_000


@pytest.mark.anyio
async def test_the_async_client_speaks_rsgi_too() -> None:
    async with AsyncTestClient(make_app(), interface="rsgi") as client:
        assert (await client.get("/hello")).text == "hello"
        assert (await client.post("/body", content=b"abc")).json() == {"length": 3}
        async with client.websocket_connect("/ws") as ws:
            await ws.send_text("async")
            assert await ws.receive_text() == "ASYNC"


class RawRSGI:
    """A bare RSGI app (no carboy): the rest of granian's protocol, as the client mimics it."""

    def __init__(self, path: str) -> None:
        self.file = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # the client's lifespan is ASGI
            return
        raise AssertionError("served over ASGI")  # pragma: no cover

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto == "ws":
            transport = await protocol.accept()
            message = await transport.receive()
            await transport.send_bytes(message.data.encode() if message.kind == 2 else b"?")
            protocol.close(1000)
            return
        headers = scope.headers
        if scope.path == "/str":
            names = ",".join(headers.keys())
            protocol.response_str(
                200, [("x-names", names), ("x-has-a", str("x-a" in headers))], "é"
            )
        elif scope.path == "/empty":
            protocol.response_empty(201, [("x-values", ";".join(headers.values()))])
        elif scope.path == "/range":
            protocol.response_file_range(206, [], self.file, 2, 5)
        elif scope.path == "/body":
            protocol.response_bytes(200, [], await protocol())
        elif scope.path == "/stream":
            transport = protocol.response_stream(200, [("content-type", "text/plain")])
            await transport.send_str("a")
            await transport.send_bytes(b"b")
        # anything else: no response at all (granian answers 500)


def test_a_bare_rsgi_app_sees_granians_protocol(tmp_path: Any) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"0123456789")
    with TestClient(RawRSGI(str(path)), interface="rsgi") as client:
        text = client.get("/str", headers={"x-a": "1"})
        assert (text.text, text.headers["content-length"]) == ("é", "2")
        assert text.headers["x-has-a"] == "True"
        assert "x-a" in text.headers["x-names"].split(",")
        empty = client.get("/empty", headers={"x-b": "2"})
        assert (empty.status_code, empty.content) == (201, b"")
        assert "2" in empty.headers["x-values"].split(";")
        assert client.get("/range").content == b"234"
        assert client.post("/body", content=b"abc").content == b"abc"
        assert client.get("/stream").text == "ab"
        assert client.get("/nothing").status_code == 500
        with client.websocket_connect("/ws") as ws:
            ws.send_text("hi")
            assert ws.receive_bytes() == b"hi"
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_text()
        assert info.value.code == 1005
