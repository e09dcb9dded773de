"""ASGI over RSGI: an ASGI scope from granian's, and ``receive``/``send`` made of its protocol."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from carboy._rsgi._protocol import (
    ClientDisconnected,
    HTTPProtocol,
    RSGIHeaders,
    RSGIScope,
    StreamTransport,
    TextHeaders,
    WebSocketProtocol,
    WebSocketTransport,
)
from carboy.types import Message, RawHeaders, Scope

_warnings = logging.getLogger("carboy.rsgi")

#: Request bodies up to this size that declare their length are read in one call.
WHOLE_BODY_LIMIT = 1024 * 1024
#: A body the app answered without reading is read and dropped up to this size (so the
#: connection stays open); past it the connection closes.
DRAIN_LIMIT = 64 * 1024


def has_body(headers: RSGIHeaders) -> bool:
    return headers.get("content-length", "0") != "0" or "transfer-encoding" in headers


def text_headers(raw: RawHeaders) -> TextHeaders:
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
        self._unread = has_body(scope.headers)
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
            self._headers = text_headers(raw)
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
