"""granian's RSGI interface for a :class:`~carboy.Carboy` app: the one place that knows RSGI.

The app is an ASGI app; this adapter serves the same object over RSGI
(``Carboy.__rsgi__``, ``__rsgi_init__`` and ``__rsgi_del__`` hand over to it).
A request takes one of two paths:

- **native**: an app with no app-wide middleware, a route whose handler the
  dispatcher calls itself (it takes only its path parameters: see
  ``carboy.params.Direct``) and a ``str``, ``dict`` or ``list`` value. The
  handler's value is rendered once (``Direct.render``) and sent with one
  ``protocol.response_bytes(status, headers, body)`` call; the headers (its
  content type, then the app's default headers, as text) are built once per
  content type and scheme, and the server counts the body's length itself.
- **through ASGI**: everything else. The RSGI scope becomes an ASGI scope, and
  the app runs as it does under any ASGI server, with ``receive`` and ``send``
  made of the RSGI protocol (:class:`HTTPBridge`, :class:`WebSocketBridge`):
  streaming becomes ``response_stream``, a whole file ``response_file``. App-wide
  middleware (carboy's or any pure-ASGI middleware) therefore always runs.

What RSGI cannot carry (granian 2.x, RSGI 1.6) is listed in docs/deployment.md:
a WebSocket's close code and reason, its subprotocol and accept headers, an
HTTP denial response's body; request header values that are not visible ASCII
(granian drops them); and a response that fails half-way ends as if complete.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from carboy._lifespan import LifespanApp, serve_lifespan
from carboy.types import Message, RawHeaders, Receive, Scope, Send

logger = logging.getLogger("carboy.error")
_warnings = logging.getLogger("carboy.rsgi")

#: Request bodies up to this size that declare their length are read in one call.
WHOLE_BODY_LIMIT = 1024 * 1024
#: A body the app answered without reading is read and dropped up to this size (so the
#: connection stays open); past it the connection closes.
DRAIN_LIMIT = 64 * 1024

TextHeaders = list[tuple[str, str]]

#: The path parameters of every static route.
_NO_PARAMS: dict[str, Any] = {}


# -- what granian hands over (see granian's _granian.pyi) ---------------------
class RSGIHeaders(Protocol):
    """The request headers of an RSGI scope (lower-case names, text values)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def get_all(self, key: str) -> list[str]: ...

    def items(self) -> list[tuple[str, str]]: ...

    def __contains__(self, key: str) -> bool: ...


class RSGIScope(Protocol):
    """An RSGI connection scope (``proto`` is ``"http"`` or ``"ws"``)."""

    proto: str
    http_version: str
    server: str
    client: str
    scheme: str
    method: str
    path: str
    query_string: str
    authority: str | None

    @property
    def headers(self) -> RSGIHeaders: ...


class StreamTransport(Protocol):
    """What ``response_stream`` returns."""

    async def send_bytes(self, data: bytes) -> None: ...


class HTTPProtocol(Protocol):
    """The RSGI HTTP protocol object: the request body in, one response out."""

    def __call__(self) -> Awaitable[bytes]: ...

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    def client_disconnect(self) -> Awaitable[None]: ...

    def response_bytes(self, status: int, headers: TextHeaders, body: bytes) -> None: ...

    def response_file(self, status: int, headers: TextHeaders, file: str) -> None: ...

    def response_stream(self, status: int, headers: TextHeaders) -> StreamTransport: ...


class WebSocketMessage(Protocol):
    """One message from the client: ``kind`` 0 (closed), 1 (bytes) or 2 (text)."""

    kind: int
    data: bytes | str


class WebSocketTransport(Protocol):
    """What ``accept()`` returns."""

    async def receive(self) -> WebSocketMessage: ...

    async def send_bytes(self, data: bytes) -> None: ...

    async def send_str(self, data: str) -> None: ...


class WebSocketProtocol(Protocol):
    """The RSGI WebSocket protocol object."""

    def accept(self) -> Awaitable[WebSocketTransport]: ...

    def close(self, status: int | None) -> object: ...


class RSGIServedApp(LifespanApp, Protocol):
    """What the adapter reads of the app once it is built (``app.py`` imports this
    module, not the reverse)."""

    _direct: bool
    _static: dict[str, Any]
    _tree: Any
    _hosts: Any
    _http_headers: RawHeaders
    _https_headers: RawHeaders

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...

    def _fill_scope(self, scope: Scope, params: dict[str, Any]) -> None: ...

    async def _handle_error(
        self, scope: Scope, receive: Receive, send: Send, exc: Exception
    ) -> None: ...


class ClientDisconnected(OSError):
    """Sending failed because the client has gone (what ASGI servers raise, an OSError)."""


# -- the adapter ----------------------------------------------------------------
class RSGIAdapter:
    """Serves one app over RSGI: ``serve`` is ``app.__rsgi__``.

    Example:
        >>> adapter = RSGIAdapter(app)
        >>> adapter.init(loop)  # the lifespan's start-up (granian: __rsgi_init__)
        >>> await adapter.serve(scope, protocol)
    """

    __slots__ = (
        "_defaults",
        "_good_hosts",
        "_heads",
        "_hosts",
        "_lifespan",
        "_native",
        "_ready",
        "_static",
        "_tree",
        "app",
    )

    def __init__(self, app: RSGIServedApp) -> None:
        self.app = app
        self._ready = False
        #: The app is built and has no app-wide middleware: the native path may run.
        self._native = False
        self._static: dict[str, Any] = {}
        self._tree: Any = None
        self._hosts: Any = None
        #: Host values the Host check let through (as text: what granian gives).
        self._good_hosts: set[str] = set()
        #: The app's default headers as text: (over HTTP, over HTTPS).
        self._defaults: tuple[TextHeaders, TextHeaders] = ([], [])
        #: Pre-built response headers by content-type header: (over HTTP, over HTTPS).
        self._heads: tuple[dict[tuple[bytes, bytes], TextHeaders], ...] = ({}, {})
        self._lifespan: _Lifespan | None = None

    def prepare(self) -> None:
        """Build the app (once) and take what the native path reads."""
        app = self.app
        app.build()
        self._static = app._static
        self._tree = app._tree
        self._hosts = app._hosts
        self._defaults = (_text(app._http_headers), _text(app._https_headers))
        self._heads = ({}, {})
        self._native = app._direct
        self._ready = True

    async def serve(self, scope: RSGIScope, protocol: Any) -> None:
        """Serve one RSGI connection: an HTTP request or a WebSocket."""
        if self._native and scope.proto == "http":
            if self._hosts is not None:
                values = scope.headers.get_all("host")
                if len(values) != 1 or (
                    values[0] not in self._good_hosts and not self._allow_host(values[0])
                ):
                    await self._through_asgi(scope, protocol)  # the app answers 400
                    return
            path = scope.path
            entry = self._static.get(path)
            params = _NO_PARAMS  # a static path has none (never handed out: _after_direct)
            if entry is None:
                params = {}
                entry = self._tree.match(path, params)
            if entry is not None:
                method = scope.method
                direct = entry.direct.get(method)
                # A body the handler never reads: through ASGI, which drains it or closes.
                if direct is not None and (
                    method == "GET" or method == "HEAD" or not _has_body(scope.headers)
                ):
                    func, takes_params, _, _, general, render, status = direct
                    try:
                        rv = await (func(**params) if takes_params else func())
                        rendered = render(rv)
                    except Exception as exc:
                        await self._after_direct(scope, protocol, params, None, None, exc)
                        return
                    if rendered is None:
                        await self._after_direct(scope, protocol, params, general, rv)
                        return
                    ctype, body = rendered
                    https = scope.scheme == "https"  # one read: each is a call into granian
                    headers = self._heads[https].get(ctype) or self._make_head(ctype, https)
                    protocol.response_bytes(status, headers, body)
                    return
            await self._through_asgi(scope, protocol)
        elif not self._ready:  # served before __rsgi_init__ (or without it): build now
            self.prepare()
            await self.serve(scope, protocol)
        elif scope.proto == "http":
            await self._through_asgi(scope, protocol)
        else:
            await self._websocket(scope, protocol)

    def _allow_host(self, host: str) -> bool:
        """The Host check of a value not seen yet; a good one is remembered (up to 64)."""
        if not self._hosts.allows_value(host.encode("latin-1")):
            return False
        if len(self._good_hosts) < 64:
            self._good_hosts.add(host)
        return True

    def _make_head(self, ctype: tuple[bytes, bytes], https: bool) -> TextHeaders:
        """The headers of a native response of this content type: made once, then reused."""
        head = [(ctype[0].decode("latin-1"), ctype[1].decode("latin-1")), *self._defaults[https]]
        self._heads[https][ctype] = head
        return head

    async def _after_direct(
        self,
        scope: RSGIScope,
        protocol: HTTPProtocol,
        params: dict[str, Any],
        general: Callable[[Any], Callable[..., Awaitable[None]]] | None,
        rv: Any,
        exc: Exception | None = None,
    ) -> None:
        """Send a direct handler's value that is not plain text or JSON (``general(rv)``,
        the route's :func:`~carboy.params.to_response`), or its error, over ASGI."""
        bridge = HTTPBridge(protocol, scope)
        asgi = bridge.scope
        self.app._fill_scope(asgi, {} if params is _NO_PARAMS else params)
        try:
            if general is not None:
                try:
                    await general(rv)(asgi, bridge.receive, bridge.send)
                    return
                except Exception as error:
                    exc = error
            if exc is not None:
                await self.app._handle_error(asgi, bridge.receive, bridge.send, exc)
        finally:
            bridge.finish()

    async def _through_asgi(self, scope: RSGIScope, protocol: HTTPProtocol) -> None:
        """Run the app as an ASGI app for one HTTP request."""
        bridge = HTTPBridge(protocol, scope)
        try:
            await self.app(bridge.scope, bridge.receive, bridge.send)
        finally:
            bridge.finish()

    async def _websocket(self, scope: RSGIScope, protocol: WebSocketProtocol) -> None:
        bridge = WebSocketBridge(protocol, scope)
        await self.app(bridge.scope, bridge.receive, bridge.send)

    # -- the lifespan: granian calls these with its loop, not yet running ------
    def init(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the app's start-up (``__rsgi_init__``); exit the worker if it fails."""
        lifespan = _Lifespan(self.app)
        failure = loop.run_until_complete(lifespan.startup())
        if failure is not None:
            logger.error("carboy refuses to serve: the start-up failed (%s)", failure)
            raise SystemExit(1)
        self._lifespan = lifespan
        self.prepare()

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        """Stop background work and run the shutdown hooks (``__rsgi_del__``)."""
        lifespan, self._lifespan = self._lifespan, None
        if lifespan is not None:
            loop.run_until_complete(lifespan.shutdown())


class _Lifespan:
    """Drives the app's ASGI lifespan (start-up, then shutdown) outside an ASGI server."""

    def __init__(self, app: LifespanApp) -> None:
        self.app = app
        self._inbox: asyncio.Queue[Message] | None = None
        self._outbox: asyncio.Queue[Message] | None = None
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> str | None:
        """Run the start-up hooks; the failure's message, if one failed."""
        inbox = self._inbox = asyncio.Queue()
        outbox = self._outbox = asyncio.Queue()
        inbox.put_nowait({"type": "lifespan.startup"})
        self._task = asyncio.get_running_loop().create_task(
            serve_lifespan(self.app, inbox.get, outbox.put)
        )
        message = await outbox.get()
        if message["type"] == "lifespan.startup.complete":
            return None
        await self._task
        return str(message.get("message", ""))

    async def shutdown(self) -> None:
        """Stop the background tasks, then run the shutdown hooks (failures are logged)."""
        if self._inbox is None or self._task is None:
            return
        self._inbox.put_nowait({"type": "lifespan.shutdown"})
        await self._task


# -- ASGI over RSGI -------------------------------------------------------------
def _has_body(headers: RSGIHeaders) -> bool:
    return headers.get("content-length", "0") != "0" or "transfer-encoding" in headers


def _text(raw: RawHeaders) -> TextHeaders:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]


def _address(text: str) -> tuple[str, int] | None:
    """``"127.0.0.1:5000"`` or ``"[::1]:5000"`` -> ``(host, port)``."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def asgi_scope(scope: RSGIScope, kind: str, scheme: str) -> Scope:
    """The ASGI scope of an RSGI one (no ``raw_path``: RSGI gives the decoded path only)."""
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in scope.headers.items()]
    authority = scope.authority
    if authority and scope.headers.get("host") is None:  # HTTP/2's :authority
        headers.append((b"host", authority.encode("latin-1")))
    return {
        "type": kind,
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": scope.http_version,
        "scheme": scheme,
        "path": scope.path,
        "query_string": scope.query_string.encode("latin-1"),
        "root_path": "",
        "headers": headers,
        "client": _address(scope.client),
        "server": _address(scope.server),
    }


class HTTPBridge:
    """ASGI ``receive`` and ``send`` for one HTTP request, made of the RSGI protocol.

    ``send`` collects the start message and turns the first body message into
    ``response_bytes`` (a whole body) or ``response_stream`` (more to come); a
    start without ``content-length`` opens the stream at once (its head goes
    out now, as under ASGI); ``http.response.pathsend`` becomes ``response_file``.
    Writes after the client left are dropped, as ASGI servers do, and
    ``receive`` then says it left.
    """

    __slots__ = (
        "_chunks",
        "_declared",
        "_done",
        "_gone",
        "_headers",
        "_more",
        "_protocol",
        "_received",
        "_status",
        "_transport",
        "_unread",
        "scope",
    )

    def __init__(self, protocol: HTTPProtocol, scope: RSGIScope) -> None:
        self._protocol = protocol
        self.scope = asgi_scope(scope, "http", scope.scheme)
        self.scope["method"] = scope.method
        self.scope["extensions"] = {"http.response.pathsend": {}}
        declared = scope.headers.get("content-length")
        self._declared = int(declared) if declared and declared.isdigit() else None
        self._chunks: AsyncIterator[bytes] | None = None
        #: Until the last ``http.request`` message is given.
        self._more = True
        #: The request has a body not read to its end (a response then closes the connection).
        self._unread = _has_body(scope.headers)
        self._received = 0
        self._gone = False
        self._status: int | None = None
        self._headers: TextHeaders = []
        self._transport: StreamTransport | None = None
        self._done = False

    async def receive(self) -> Message:
        """The next ``http.request`` chunk; once the body is read, wait for the client to go."""
        if self._more and not self._gone:
            if not self._unread:  # no body at all
                self._more = False
                return {"type": "http.request", "body": b"", "more_body": False}
            declared = self._declared
            try:
                if declared is not None and declared <= WHOLE_BODY_LIMIT:
                    # Framed by its Content-Length (the server holds it to that): one call.
                    body = await self._protocol()
                    self._more = self._unread = False
                    self._received = len(body)
                    if len(body) == declared:
                        return {"type": "http.request", "body": body, "more_body": False}
                    self._gone = True  # cut short: the client left mid-body
                else:
                    if self._chunks is None:
                        self._chunks = self._protocol.__aiter__()
                    chunk = await anext(self._chunks, b"")
                    if chunk:
                        self._received += len(chunk)
                        return {"type": "http.request", "body": chunk, "more_body": True}
                    self._more = self._unread = False
                    if declared is None or self._received == declared:
                        return {"type": "http.request", "body": b"", "more_body": False}
                    self._gone = True
            except RuntimeError:  # granian's protocol errors: the body stream broke
                self._more = self._unread = False
                self._gone = True
        if not self._gone:
            await self._protocol.client_disconnect()
            self._gone = True
        return {"type": "http.disconnect"}

    async def _drain(self) -> bool:
        """Read and drop a small body nobody read, so the connection can be kept alive."""
        declared = self._declared
        if self._chunks is not None or declared is None or declared > DRAIN_LIMIT:
            return False
        try:
            await self._protocol()
        except RuntimeError:
            return False
        self._more = self._unread = False
        return True

    async def send(self, message: Message) -> None:
        """Take one ASGI message of the response."""
        kind = message["type"]
        if self._done:
            raise RuntimeError(f"Cannot send {kind!r}: the response is already complete")
        if kind == "http.response.start":
            if self._status is not None:
                raise RuntimeError("Cannot send 'http.response.start' twice")
            code = self._status = int(message["status"])
            raw = message.get("headers") or []
            self._headers = _text(raw)
            if self._unread and not await self._drain():
                # Answered before a large body was read (413, 401...): the connection
                # closes, as granian closes it under ASGI, rather than staying open for
                # a next request it could not read.
                self._headers.append(("connection", "close"))
            if (
                all(k != b"content-length" for k, _ in raw)
                and code >= 200
                and code not in (204, 304)
                and self.scope["method"] != "HEAD"
            ):
                # No length: a stream (server-sent events...), whose head the client
                # must get now, not with the first chunk.
                self._transport = self._protocol.response_stream(code, self._headers)
            return
        status = self._status
        if status is None:
            raise RuntimeError(f"Cannot send {kind!r} before 'http.response.start'")
        if kind == "http.response.body":
            body = bytes(message.get("body") or b"")
            more = bool(message.get("more_body", False))
            transport = self._transport
            if transport is None:
                if not more:
                    self._done = True
                    self._protocol.response_bytes(status, self._headers, body)
                    return
                transport = self._transport = self._protocol.response_stream(status, self._headers)
            if body and not self._gone:
                try:
                    await transport.send_bytes(body)
                except RuntimeError:
                    self._gone = True  # the client left; the app learns it from receive()
            if not more:
                self.finish()
        elif kind == "http.response.pathsend":
            self._done = True
            self._protocol.response_file(status, self._headers, str(message["path"]))
        else:
            raise RuntimeError(f"Unexpected ASGI message {kind!r} for an HTTP request")

    def finish(self) -> None:
        """End the response: a started one with no body yet is sent empty; a stream ends
        (granian ends it when its transport is dropped)."""
        if self._done:
            return
        self._done = True
        if self._transport is not None:
            self._transport = None
        elif self._status is not None:
            self._protocol.response_bytes(self._status, self._headers, b"")


class WebSocketBridge:
    """ASGI ``receive`` and ``send`` for one WebSocket, made of the RSGI protocol.

    RSGI has no close code after the handshake, in either direction: the
    client sees 1005 (no status) whatever the app sends, and a client's
    close reaches the app as 1005 too. Closing before ``accept()`` answers
    HTTP 403, as under ASGI; the ``websocket.http.response`` extension
    (denial bodies) is not offered, so a denial is a plain 403.
    """

    __slots__ = ("_connected", "_disconnect", "_protocol", "_transport", "scope")

    def __init__(self, protocol: WebSocketProtocol, scope: RSGIScope) -> None:
        self._protocol = protocol
        self.scope = asgi_scope(scope, "websocket", "wss" if scope.scheme == "https" else "ws")
        offered = scope.headers.get("sec-websocket-protocol") or ""
        self.scope["subprotocols"] = [p.strip() for p in offered.split(",") if p.strip()]
        self.scope["extensions"] = {}
        self._transport: WebSocketTransport | None = None
        self._connected = False
        self._disconnect: Message | None = None

    async def receive(self) -> Message:
        """``websocket.connect`` first, then the client's messages, then the disconnect."""
        if not self._connected:
            self._connected = True
            return {"type": "websocket.connect"}
        if self._disconnect is not None:
            return self._disconnect
        transport = self._transport
        if transport is None:
            raise RuntimeError("Cannot receive from a WebSocket before accepting it")
        try:
            message = await transport.receive()
        except RuntimeError:  # granian: the connection is closed
            return self._gone(1006)
        kind = message.kind
        if kind == 2:
            return {"type": "websocket.receive", "text": message.data}
        if kind == 1:
            return {"type": "websocket.receive", "bytes": message.data}
        return self._gone(1005)  # closed by the client; RSGI does not say with which code

    def _gone(self, code: int) -> Message:
        self._disconnect = {"type": "websocket.disconnect", "code": code, "reason": ""}
        return self._disconnect

    async def send(self, message: Message) -> None:
        """Take one ASGI message: accept, send, or close."""
        kind = message["type"]
        if kind == "websocket.send":
            transport = self._transport
            if transport is None:
                raise RuntimeError("Cannot send on a WebSocket before accepting it")
            text = message.get("text")
            try:
                if text is not None:
                    await transport.send_str(text)
                else:
                    await transport.send_bytes(message.get("bytes") or b"")
            except RuntimeError as exc:
                self._gone(1006)
                raise ClientDisconnected("The WebSocket client has gone") from exc
        elif kind == "websocket.accept":
            if message.get("subprotocol") or message.get("headers"):
                _warnings.warning(
                    "RSGI cannot send a WebSocket subprotocol or accept headers; %s accepted "
                    "without them. Serve with `carboy run --interface asgi` if clients need them.",
                    self.scope["path"],
                )
            try:
                self._transport = await self._protocol.accept()
            except RuntimeError as exc:
                self._gone(1006)
                raise ClientDisconnected("The WebSocket client has gone") from exc
        elif kind == "websocket.close":
            # Before accept() the status is the HTTP answer (403); after, granian
            # closes without a code.
            accepted = self._transport is not None
            self._protocol.close(int(message.get("code") or 1000) if accepted else 403)
            self._gone(int(message.get("code") or 1000))
        else:
            raise RuntimeError(f"Unexpected ASGI message {kind!r} for an RSGI WebSocket")
