"""The ASGI protocol of the in-process server, written once for both clients.

:class:`AppCall` runs the app on an event loop and checks what it sends; the
``*Protocol`` classes turn the app's messages into a response, WebSocket
frames or a lifespan outcome. They never wait: the sync and async drivers
feed them the messages.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal
from urllib.parse import unquote

import httpx

from carboy import _json
from carboy._lifespan import IN_PROCESS_KEY
from carboy.exceptions import WebSocketDisconnect
from carboy.types import ASGIApp, Message, RawHeaders, Scope

#: Request bodies reach the app in ``http.request`` messages of at most this size.
CHUNK_SIZE = 64 * 1024
#: Seconds a client waits for an HTTP response (unless given ``timeout=``).
DEFAULT_TIMEOUT = 30.0
#: Seconds ``receive_*`` on a WebSocket session wait before raising TimeoutError.
WEBSOCKET_TIMEOUT = 5.0
#: Seconds the app gets to return once the client has left, before it is cancelled.
CLOSE_GRACE = 1.0
#: Seconds lifespan startup or shutdown may take.
LIFESPAN_TIMEOUT = 60.0

_CLIENT_ADDRESS = ("testclient", 50000)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# Two events of our own follow the app's messages: it returned, or it raised.
DONE = "carboy.testing.done"
ERROR = "carboy.testing.error"


class WebSocketDenied(Exception):
    """The app refused a WebSocket connection instead of accepting it.

    ``status_code`` is what the client would see: 403 when the app closed
    before accepting (``code`` and ``reason`` are the close frame's), or the
    status of the HTTP denial response the app sent (``headers``, ``body``).

    Example:
        >>> with pytest.raises(WebSocketDenied) as info:
        ...     client.websocket_connect("/admin/ws")
        >>> info.value.status_code
        403
    """

    def __init__(
        self,
        status_code: int = 403,
        *,
        code: int | None = None,
        reason: str = "",
        headers: RawHeaders | None = None,
        body: bytes = b"",
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.reason = reason
        self.headers = httpx.Headers(headers or [])
        self.body = body
        detail = f" (close code {code}{': ' + reason if reason else ''})" if code else ""
        super().__init__(f"The app denied the WebSocket with HTTP {status_code}{detail}")


class ClientGone(OSError):
    """Raised in the app's ``send`` after the test client has disconnected."""


def expected_after_disconnect(exc: BaseException) -> bool:
    # What an app normally raises once its client has left; not a test failure.
    return isinstance(exc, ClientGone | WebSocketDisconnect | asyncio.CancelledError)


# -- the app side: runs on the event loop ------------------------------------
class AppCall:
    """One run of the app on the event loop.

    Everything the app sends is checked against the ASGI protocol and handed
    to ``emit``, followed by a ``DONE`` or ``ERROR`` event; everything it
    receives comes from ``inbox``.
    """

    def __init__(self, app: ASGIApp, scope: Scope, first: Iterable[Message]) -> None:
        self.app = app
        self.scope = scope
        self.emit: Callable[[Message], None] = _unbound_emit
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        for message in first:
            self.inbox.put_nowait(message)
        self.client_gone = False
        self._started = False  # http.response.start or websocket.accept was sent
        self._ended = False  # the response is complete or the socket closed

    async def run(self) -> None:
        try:
            await self.app(self.scope, self._receive, self._send)
        except BaseException as exc:
            self.emit({"type": ERROR, "exception": exc})
            if not isinstance(exc, Exception):
                raise
        else:
            self.emit({"type": DONE})

    def disconnect(self, message: Message) -> None:
        """The client left (call on the loop): ``receive`` gives ``message``."""
        self.client_gone = True
        self.inbox.put_nowait(message)

    async def _receive(self) -> Message:
        message = await self.inbox.get()
        if message["type"] in ("http.disconnect", "websocket.disconnect"):
            self.inbox.put_nowait(message)  # every later receive() sees it too
        return message

    async def _send(self, message: Message) -> None:
        if self.client_gone:
            raise ClientGone(f"Cannot send {message['type']!r}: the client disconnected")
        kind = self.scope["type"]
        if kind == "http":
            self._check_http(message)
        elif kind == "websocket":
            self._check_websocket(message)
        self.emit(dict(message))

    def _check_http(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self._started:
                raise RuntimeError("The app sent 'http.response.start' twice")
            self._started = True
        elif kind == "http.response.body":
            if not self._started:
                raise RuntimeError("The app sent 'http.response.body' before 'http.response.start'")
            if self._ended:
                raise RuntimeError("The app sent 'http.response.body' after the response ended")
            if not message.get("more_body", False):
                self._ended = True
                self.inbox.put_nowait({"type": "http.disconnect"})
        else:
            raise RuntimeError(f"The app sent an unknown HTTP message {kind!r}")

    def _check_websocket(self, message: Message) -> None:
        kind = message["type"]
        if self._ended:
            raise RuntimeError(f"The app sent {kind!r} after closing the WebSocket")
        if kind == "websocket.accept":
            if self._started:
                raise RuntimeError("The app sent 'websocket.accept' twice")
            self._started = True
        elif kind == "websocket.send":
            if not self._started:
                raise RuntimeError("The app sent 'websocket.send' before 'websocket.accept'")
        elif kind == "websocket.close":
            self._closed(message.get("code") or 1000)
        elif kind.startswith("websocket.http.response."):
            if self._started:
                raise RuntimeError(f"The app sent {kind!r} after 'websocket.accept'")
            if kind == "websocket.http.response.body" and not message.get("more_body", False):
                self._closed(1000)
        else:
            raise RuntimeError(f"The app sent an unknown WebSocket message {kind!r}")

    def _closed(self, code: int) -> None:
        # A real server finishes the closing handshake, then tells the app.
        self._ended = True
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": code, "reason": ""})


def _unbound_emit(message: Message) -> None:  # pragma: no cover - replaced before run()
    raise RuntimeError("AppCall.emit was not set")


# -- the protocols: what the app's messages mean to the client ----------------
class ResponseProtocol:
    """Builds an HTTP response from the app's messages."""

    def __init__(self, raise_server_exceptions: bool) -> None:
        self.raise_server_exceptions = raise_server_exceptions
        self.status: int | None = None
        self.headers: RawHeaders = []
        self.complete = False  # the last body chunk was sent
        self.finished = False  # the app returned or raised
        self.client_gone = False

    def feed(self, event: Message) -> bytes:
        """Take one event; return the body bytes it carries (maybe none)."""
        kind = event["type"]
        if kind == "http.response.start":
            self.status = int(event["status"])
            self.headers = list(event.get("headers", []))
        elif kind == "http.response.body":
            self.complete = not event.get("more_body", False)
            return bytes(event.get("body", b""))
        elif kind == DONE:
            self.finished = True
            if self.status is None:
                error = RuntimeError("The app returned without sending a response")
                return self._failed(error)
        elif kind == ERROR:
            self.finished = True
            return self._failed(event["exception"])
        return b""

    def _failed(self, exc: BaseException) -> bytes:
        if self.client_gone and expected_after_disconnect(exc):
            return b""
        # An app that sent a whole 5xx response has dealt with its error.
        handled = self.complete and self.status is not None and self.status >= 500
        if self.raise_server_exceptions and not handled:
            raise exc
        if self.status is None:
            self.status = 500
            self.headers = [(b"content-type", b"text/plain; charset=utf-8")]
            return b"Internal Server Error"
        return b""


class WebSocketProtocol:
    """The client's side of a WebSocket: the handshake, frames and closing."""

    def __init__(self) -> None:
        self.accepted = False
        self.subprotocol: str | None = None
        self.headers: RawHeaders = []
        self.finished = False  # the app returned or raised
        self.close_code: int | None = None  # set once either side closed
        self.close_reason = ""
        self.client_closed = False
        self._denial: tuple[int, RawHeaders, list[bytes]] | None = None

    def handshake(self, event: Message) -> bool:
        """Take one event before the connection is open; True once accepted."""
        kind = event["type"]
        if kind == "websocket.accept":
            self.accepted = True
            self.subprotocol = event.get("subprotocol")
            self.headers = list(event.get("headers", []))
            return True
        if kind == "websocket.close":
            self._closed_by_app(event)
            raise WebSocketDenied(403, code=self.close_code, reason=self.close_reason)
        if kind == "websocket.http.response.start":
            self._denial = (int(event["status"]), list(event.get("headers", [])), [])
            return False
        if kind == "websocket.http.response.body" and self._denial is not None:
            status, headers, body = self._denial
            body.append(bytes(event.get("body", b"")))
            if event.get("more_body", False):
                return False
            self.close_code = 1000
            raise WebSocketDenied(status, headers=headers, body=b"".join(body))
        self._ended(event, "The app returned without accepting or closing the WebSocket")
        return False  # pragma: no cover - _ended always raises here

    def message(self, event: Message) -> Message:
        """Take one event after the handshake; return the frame or raise the close."""
        kind = event["type"]
        if kind == "websocket.send":
            return event
        if kind == "websocket.close":
            self._closed_by_app(event)
        else:
            self._ended(event, None)
        raise self.disconnect_error()

    def after_close(self, event: Message) -> None:
        """Take one event once closed: only an unexpected app error matters now."""
        if event["type"] in (DONE, ERROR):
            self.finished = True
            exc = event.get("exception")
            if exc is not None and not expected_after_disconnect(exc):
                raise exc

    def disconnect_error(self) -> WebSocketDisconnect:
        return WebSocketDisconnect(self.close_code or 1000, self.close_reason or None)

    def _closed_by_app(self, event: Message) -> None:
        self.close_code = int(event.get("code") or 1000)
        self.close_reason = event.get("reason") or ""

    def _ended(self, event: Message, silent_return: str | None) -> None:
        self.finished = True
        if self.close_code is None:
            self.close_code = 1006  # abnormal closure: no close frame
            self.close_reason = "The app returned without closing the WebSocket"
        if event["type"] == ERROR:
            raise event["exception"]
        if event["type"] == DONE and silent_return is not None:
            raise RuntimeError(silent_return)
        if event["type"] != DONE:
            raise RuntimeError(f"The app sent an unexpected message {event['type']!r}")


class LifespanProtocol:
    """The server's side of the ASGI lifespan protocol."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}
        self.scope: Scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
            IN_PROCESS_KEY: True,  # no gc.freeze() in a test process (gc_freeze)
        }
        self.supported = True
        self.finished = False

    def startup(self, event: Message) -> bool:
        """Take one event during startup; True once it is over."""
        kind = event["type"]
        if kind == "lifespan.startup.complete":
            return True
        if kind == "lifespan.startup.failed":
            raise RuntimeError(f"Lifespan startup failed: {event.get('message', '')}")
        if kind == DONE:  # returned without a word: the app has no lifespan
            self.finished = True
            self.supported = False
            return True
        return self._other(event)

    def shutdown(self, event: Message) -> bool:
        """Take one event during shutdown; True once it is over."""
        kind = event["type"]
        if kind == "lifespan.shutdown.complete":
            return True
        if kind == "lifespan.shutdown.failed":
            raise RuntimeError(f"Lifespan shutdown failed: {event.get('message', '')}")
        if kind == DONE:
            self.finished = True
            return True
        return self._other(event)

    def feed(self, event: Message) -> None:
        """Take one event after shutdown: the app returning, or raising."""
        if event["type"] == ERROR:
            self._other(event)
        self.finished = self.finished or event["type"] == DONE

    def ended(self, event: Message) -> None:
        """Take one event after a failed startup: only the app's end matters."""
        self.finished = self.finished or event["type"] in (DONE, ERROR)

    def _other(self, event: Message) -> bool:
        if event["type"] == ERROR:
            self.finished = True
            raise event["exception"]
        raise RuntimeError(f"The app sent an unexpected lifespan message {event['type']!r}")


# -- scopes ------------------------------------------------------------------
Interface = Literal["asgi", "rsgi"]


class Server:
    """What the in-process server knows: the app, its options, the lifespan state."""

    def __init__(
        self, app: ASGIApp, raise_server_exceptions: bool, interface: Interface = "asgi"
    ) -> None:
        if interface not in ("asgi", "rsgi"):
            raise ValueError(f"interface must be 'asgi' or 'rsgi', not {interface!r}")
        if interface == "rsgi" and not hasattr(app, "__rsgi__"):
            raise TypeError(f"{app!r} has no __rsgi__ method: it cannot be served over RSGI")
        self.app = app
        self.raise_server_exceptions = raise_server_exceptions
        self.interface = interface
        self.state: dict[str, Any] | None = None

    def http_scope(self, request: httpx.Request) -> Scope:
        scope = self._scope("http", request, request.url.scheme)
        scope["method"] = request.method
        return scope

    def websocket_scope(self, request: httpx.Request, subprotocols: Sequence[str]) -> Scope:
        scheme = {"http": "ws", "https": "wss"}.get(request.url.scheme, request.url.scheme)
        scope = self._scope("websocket", request, scheme)
        drop = {b"connection", b"upgrade", b"sec-websocket-protocol", b"content-length"}
        headers = [(k, v) for k, v in scope["headers"] if k not in drop]
        headers += [
            (b"connection", b"upgrade"),
            (b"upgrade", b"websocket"),
            (b"sec-websocket-version", b"13"),
            (b"sec-websocket-key", base64.b64encode(os.urandom(16))),
        ]
        if subprotocols:
            headers.append((b"sec-websocket-protocol", ", ".join(subprotocols).encode()))
        scope["headers"] = headers
        scope["subprotocols"] = list(subprotocols)
        scope["extensions"] = {"websocket.http.response": {}}
        return scope

    def _scope(self, kind: str, request: httpx.Request, scheme: str) -> Scope:
        url = request.url
        raw_path = url.raw_path.partition(b"?")[0]
        scope: Scope = {
            "type": kind,
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "scheme": scheme,
            "path": unquote(raw_path.decode("ascii")),
            "raw_path": raw_path,
            "query_string": url.query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "client": _CLIENT_ADDRESS,
            "server": (url.host, url.port or _DEFAULT_PORTS.get(scheme, 80)),
        }
        if self.state is not None:
            scope["state"] = dict(self.state)  # a shallow copy per request, as ASGI says
        return scope


def request_messages(chunks: Iterable[bytes]) -> list[Message]:
    """The body as ``http.request`` messages of at most CHUNK_SIZE bytes."""
    pieces = [
        chunk[i : i + CHUNK_SIZE] for chunk in chunks for i in range(0, len(chunk), CHUNK_SIZE)
    ]
    if not pieces:
        return [{"type": "http.request", "body": b"", "more_body": False}]
    last = len(pieces) - 1
    return [
        {"type": "http.request", "body": piece, "more_body": i < last}
        for i, piece in enumerate(pieces)
    ]


def read_timeout(request: httpx.Request) -> float | None:
    timeout: float | None = request.extensions.get("timeout", {}).get("read")
    return timeout


def timed_out(request: httpx.Request, timeout: float | None) -> httpx.ReadTimeout:
    return httpx.ReadTimeout(f"The app sent nothing for {timeout} seconds", request=request)


CONNECT: tuple[Message, ...] = ({"type": "websocket.connect"},)


class SessionBase:
    """What both WebSocket sessions share: encoding frames, reading the protocol."""

    _protocol: WebSocketProtocol

    @property
    def accepted_subprotocol(self) -> str | None:
        """The subprotocol the app chose in ``accept()``, if any.

        Example:
            >>> client.websocket_connect("/ws", subprotocols=["v2"]).accepted_subprotocol
            'v2'
        """
        return self._protocol.subprotocol

    @property
    def extra_headers(self) -> httpx.Headers:
        """Headers the app added to its ``accept()``.

        Example:
            >>> ws.extra_headers["x-room"]
            'lobby'
        """
        return httpx.Headers(self._protocol.headers)

    @staticmethod
    def _as_text(message: Message) -> str:
        text: str | None = message.get("text")
        if text is None:
            raise TypeError(
                f"Expected a text message, the app sent bytes: {message.get('bytes')!r}"
            )
        return text

    @staticmethod
    def _as_bytes(message: Message) -> bytes:
        data: bytes | None = message.get("bytes")
        if data is None:
            raise TypeError(
                f"Expected a binary message, the app sent text: {message.get('text')!r}"
            )
        return data

    @staticmethod
    def _as_json(message: Message) -> Any:
        data = message.get("text")
        return _json.loads(data if data is not None else message.get("bytes", b""))

    @staticmethod
    def _json_frame(data: Any, mode: Literal["text", "binary"]) -> Message:
        encoded = _json.dumps(data)
        if mode == "binary":
            return {"type": "websocket.receive", "bytes": encoded}
        return {"type": "websocket.receive", "text": encoded.decode("utf-8")}
