"""The test client's RSGI server: an app's ``__rsgi__`` called in-process, as granian would.

:class:`RSGICall` is an :class:`~carboy.testing._protocol.AppCall` that calls
``app.__rsgi__(scope, protocol)`` instead of the ASGI app, with a scope and a
protocol object that behave as granian's (RSGI 1.6), and turns what the app
does with them back into the ASGI events the client's protocols read. So
``TestClient(app, interface="rsgi")`` shows what a client of granian would
see: the server counts a whole body's length, request header values that are
not visible ASCII are dropped, response header values are sent as UTF-8, a
WebSocket's close code never reaches the client (1005), and a refused
handshake is a bare HTTP status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from carboy.testing._protocol import DONE, ERROR, AppCall, Server
from carboy.types import Message, Scope

#: The RSGI version granian 2.x speaks.
RSGI_VERSION = "1.6"
#: What a server whose transport is closed raises (granian's are RuntimeErrors too).
_CLOSED = "RSGI transport is closed"


def _visible(value: bytes) -> bool:
    # http's HeaderValue::to_str: granian drops a value it cannot give as text.
    return all(32 <= b < 127 or b == 9 for b in value)


class RSGIHeaders:
    """A request's headers as granian gives them: lower-case names, text values."""

    __slots__ = ("_pairs",)

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._pairs = [
            (k.decode("latin-1").lower(), v.decode("ascii")) for k, v in raw if _visible(v)
        ]

    def __contains__(self, key: str) -> bool:
        return any(k == key for k, _ in self._pairs)

    def keys(self) -> list[str]:
        return [k for k, _ in self._pairs]

    def values(self) -> list[str]:
        return [v for _, v in self._pairs]

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def get(self, key: str, default: Any = None) -> Any:
        for k, v in self._pairs:
            if k == key:
                return v
        return default

    def get_all(self, key: str) -> list[str]:
        return [v for k, v in self._pairs if k == key]


class RSGIScope:
    """An RSGI scope made from the ASGI scope the client built."""

    def __init__(self, scope: Scope) -> None:
        self.proto = "http" if scope["type"] == "http" else "ws"
        self.rsgi_version = RSGI_VERSION
        self.http_version = scope.get("http_version", "1.1")
        self.scheme = {"ws": "http", "wss": "https"}.get(scope["scheme"], scope["scheme"])
        self.method = scope.get("method", "GET")
        self.path = scope["path"]
        self.query_string = scope.get("query_string", b"").decode("latin-1")
        self.authority: str | None = None
        self.headers = RSGIHeaders(scope["headers"])
        host, port = scope.get("client") or ("testclient", 50000)
        self.client = f"{host}:{port}"
        host, port = scope.get("server") or ("testserver", 80)
        self.server = f"{host}:{port}"


class _Message:
    __slots__ = ("data", "kind")

    def __init__(self, kind: int, data: bytes | str = b"") -> None:
        self.kind = kind
        self.data = data


class _StreamTransport:
    def __init__(self, emit: Callable[[Message], None]) -> None:
        self._emit = emit

    async def send_bytes(self, data: bytes) -> None:
        self._emit({"type": "http.response.body", "body": bytes(data), "more_body": True})

    async def send_str(self, data: str) -> None:
        await self.send_bytes(data.encode("utf-8"))


class HTTPProtocol:
    """granian's RSGI HTTP protocol, in-process: the body from the client, one response."""

    def __init__(self, call: RSGICall) -> None:
        self._call = call
        self._head = call.scope.get("method") == "HEAD"
        self._body_taken = False
        self._responded = False
        self._streaming = False

    async def __call__(self) -> bytes:
        return b"".join([chunk async for chunk in self])

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._body_taken:
            raise RuntimeError("The request body was already consumed")
        self._body_taken = True
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while True:
            message = await self._call.receive()
            if message["type"] != "http.request":
                break  # granian: a body cut short reads as its end
            body = message.get("body", b"")
            if body:
                yield body
            if not message.get("more_body", False):
                break
        yield b""  # as granian's stream does, before it stops

    async def client_disconnect(self) -> None:
        while (await self._call.receive())["type"] != "http.disconnect":
            pass

    def _start(self, status: int, headers: list[tuple[str, str]], length: int | None) -> None:
        if self._responded:
            raise RuntimeError("RSGI protocol error: the response was already sent")
        self._responded = True
        raw = [(k.lower().encode("latin-1"), v.encode("utf-8")) for k, v in headers]
        # hyper counts a whole body (not an empty one for HEAD, nor one a status forbids)
        bodiless = status < 200 or status in (204, 304) or (self._head and not length)
        if length is not None and not bodiless and all(k != b"content-length" for k, _ in raw):
            raw.append((b"content-length", b"%d" % length))
        self._call.emit_checked({"type": "http.response.start", "status": status, "headers": raw})

    def response_empty(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.response_bytes(status, headers, b"")

    def response_str(self, status: int, headers: list[tuple[str, str]], body: str) -> None:
        self.response_bytes(status, headers, body.encode("utf-8"))

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self._start(status, headers, len(body))
        self._call.emit_checked({"type": "http.response.body", "body": b"" if self._head else body})

    def response_file(self, status: int, headers: list[tuple[str, str]], file: str) -> None:
        with open(file, "rb") as f:
            self.response_bytes(status, headers, f.read())

    def response_file_range(
        self, status: int, headers: list[tuple[str, str]], file: str, start: int, end: int
    ) -> None:
        if start >= end:
            raise ValueError("Invalid range")
        with open(file, "rb") as f:
            f.seek(start)
            self.response_bytes(status, headers, f.read(end - start))

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> _StreamTransport:
        self._start(status, headers, None)
        self._streaming = True
        return _StreamTransport(self._write)

    def _write(self, message: Message) -> None:
        if self._call.client_gone:
            raise RuntimeError(_CLOSED)
        if not self._head:
            self._call.emit_checked(message)

    def finish(self) -> None:
        """What granian does when the app returns: end a stream, or answer 500."""
        if self._streaming:
            self._streaming = False
            if not self._call.client_gone:
                self._call.emit_checked({"type": "http.response.body", "body": b""})
        elif not self._responded:
            self.response_bytes(500, [], b"")


class _WebSocketTransport:
    def __init__(self, protocol: WebSocketProtocol) -> None:
        self._protocol = protocol

    async def receive(self) -> _Message:
        protocol = self._protocol
        if protocol.closed:
            raise RuntimeError(_CLOSED)
        message = await protocol.call.receive()
        if message["type"] == "websocket.receive":
            text = message.get("text")
            if text is not None:
                return _Message(2, text)
            return _Message(1, bytes(message.get("bytes") or b""))
        protocol.closed = True  # the client closed; RSGI does not say with which code
        return _Message(0)

    async def send_bytes(self, data: bytes) -> None:
        self._send({"type": "websocket.send", "bytes": bytes(data)})

    async def send_str(self, data: str) -> None:
        self._send({"type": "websocket.send", "text": data})

    def _send(self, message: Message) -> None:
        protocol = self._protocol
        if protocol.closed or protocol.call.client_gone:
            raise RuntimeError(_CLOSED)
        protocol.call.emit_checked(message)


class WebSocketProtocol:
    """granian's RSGI WebSocket protocol, in-process: accept, then frames; close has no code."""

    def __init__(self, call: RSGICall) -> None:
        self.call = call
        self.accepted = False
        self.closed = False

    async def accept(self) -> _WebSocketTransport:
        if self.accepted or self.closed:
            raise RuntimeError("RSGI protocol error: the WebSocket was already accepted or closed")
        message = await self.call.receive()  # the client's connect (the handshake request)
        if message["type"] != "websocket.connect":
            self.closed = True
            raise RuntimeError(_CLOSED)
        self.accepted = True
        # RSGI's accept() takes no subprotocol and no headers.
        self.call.emit_checked({"type": "websocket.accept", "subprotocol": None, "headers": []})
        return _WebSocketTransport(self)

    def close(self, status: int | None = None) -> None:
        if self.closed and self.accepted:
            return
        if not self.accepted:
            if self.closed:
                return
            self.closed = True
            # Before the handshake the status is the HTTP answer, with no body.
            start = {"type": "websocket.http.response.start", "status": status or 500}
            self.call.emit_checked({**start, "headers": []})
            self.call.emit_checked({"type": "websocket.http.response.body", "body": b""})
            return
        self.closed = True
        if not self.call.client_gone:
            # granian closes without a code: the client reads 1005 (no status).
            self.call.emit_checked({"type": "websocket.close", "code": 1005, "reason": ""})


class RSGICall(AppCall):
    """One run of ``app.__rsgi__`` on the event loop, seen by the client as ASGI events."""

    async def run(self) -> None:
        entry = self.app.__rsgi__  # type: ignore[attr-defined]  # Server checked it has one
        scope = RSGIScope(self.scope)
        protocol: HTTPProtocol | WebSocketProtocol
        protocol = HTTPProtocol(self) if scope.proto == "http" else WebSocketProtocol(self)
        try:
            await entry(scope, protocol)
        except BaseException as exc:
            self.emit({"type": ERROR, "exception": exc})
            if not isinstance(exc, Exception):
                raise
            return
        if isinstance(protocol, HTTPProtocol):
            protocol.finish()
        else:
            protocol.close(None)
        self.emit({"type": DONE})

    async def receive(self) -> Message:
        """The next message from the client (what the fake protocol reads)."""
        return await self._receive()

    def emit_checked(self, message: Message) -> None:
        """Check ``message`` against the protocol and hand it to the client (dropped
        once the client has gone, as granian drops it)."""
        if self.client_gone:
            return
        if self.scope["type"] == "http":
            self._check_http(message)
        else:
            self._check_websocket(message)
        self.emit(dict(message))


def new_call(server: Server, scope: Scope, first: Iterable[Message]) -> AppCall:
    """One run of the app for an HTTP request or a WebSocket, over the client's interface.

    The lifespan always runs over ASGI: a carboy app runs the same hooks
    either way (granian calls them through ``__rsgi_init__``).
    """
    if server.interface == "rsgi":
        return RSGICall(server.app, scope, first)
    return AppCall(server.app, scope, first)
