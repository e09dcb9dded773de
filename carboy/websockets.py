"""The WebSocket connection: accept, send and receive text, bytes or JSON, close.

A :class:`WebSocket` wraps one ASGI ``websocket`` scope. Like
:class:`~carboy.requests.Request`, it parses headers, query and cookies only
when something reads them.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import AsyncIterator, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal

from carboy import _json
from carboy.connections import HTTPConnection
from carboy.exceptions import HTTPException, WebSocketDisconnect, WebSocketException
from carboy.types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    from carboy.responses import Response


#: Close codes (RFC 6455, section 7.4.1) that carboy itself uses.
NORMAL_CLOSURE = 1000
ABNORMAL_CLOSURE = 1006
UNSUPPORTED_DATA = 1003
INVALID_PAYLOAD = 1007
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011

#: Limits of a WebSocket outside a carboy app (plain ASGI use); an app takes
#: them from its settings (``websocket_max_message_size``...).
DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024
DEFAULT_MAX_MESSAGES_PER_SECOND = 100

_logger = logging.getLogger("carboy.security")

#: A close frame carries at most 125 bytes: a 2-byte code and a 123-byte reason.
_MAX_REASON_BYTES = 123

#: The ASGI extension that lets an app answer a WebSocket request with HTTP.
_DENIAL_EXTENSION = "websocket.http.response"


class WebSocketState(enum.Enum):
    """Where one side of a WebSocket connection is.

    Example:
        >>> ws.application_state is WebSocketState.CONNECTED  # accept() was called
    """

    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2


class WebSocket(HTTPConnection):
    """A WebSocket connection.

    Handlers ask for it by type (``ws: WebSocket``), accept it, then talk.
    ``receive_*`` raise :class:`~carboy.exceptions.WebSocketDisconnect` when the
    client goes away; the ``iter_*`` loops simply end.

    Example:
        >>> @app.websocket("/ws")
        ... async def echo(ws: WebSocket) -> None:
        ...     await ws.accept()
        ...     async for text in ws.iter_text():
        ...         await ws.send_text(text)
    """

    __slots__ = (
        "_allowance",
        "_checked_at",
        "_disconnect",
        "_max_size",
        "_rate",
        "_receive",
        "_send",
        "application_state",
        "client_state",
    )

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            raise ValueError(f"WebSocket needs a 'websocket' scope, got {scope['type']!r}")
        super().__init__(scope)
        self._receive = receive
        self._send = send
        self._disconnect: Message | None = None
        #: What the client has done: connected, then maybe disconnected.
        self.client_state = WebSocketState.CONNECTING
        #: What the app has done: accepted, then maybe closed.
        self.application_state = WebSocketState.CONNECTING
        settings = getattr(scope.get("app"), "settings", None)
        self._max_size: int = getattr(
            settings, "websocket_max_message_size", DEFAULT_MAX_MESSAGE_SIZE
        )
        self._rate: int = getattr(
            settings, "websocket_max_messages_per_second", DEFAULT_MAX_MESSAGES_PER_SECOND
        )
        # A token bucket: one message per token, refilled at the rate, holding
        # at most one second's worth.
        self._allowance = float(self._rate)
        self._checked_at = 0.0

    # -- what was asked ------------------------------------------------
    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered, in its order of preference."""
        offered: list[str] = self.scope.get("subprotocols", [])
        return offered

    # -- raw ASGI messages ---------------------------------------------
    async def receive(self) -> Message:
        """The next raw ASGI message from the client.

        After the client disconnected, the ``websocket.disconnect`` message is
        returned again rather than waiting forever. A message bigger than the
        app's ``websocket_max_message_size`` closes the connection with 1009,
        one past ``websocket_max_messages_per_second`` with 1008; both then
        raise :class:`~carboy.exceptions.WebSocketDisconnect` with that code.

        Example:
            >>> message = await ws.receive()  # {"type": "websocket.receive", "text": "hi"}
        """
        if self._disconnect is not None:
            return self._disconnect
        message = await self._receive()
        kind = message["type"]
        if kind == "websocket.disconnect":
            self.client_state = WebSocketState.DISCONNECTED
            self._disconnect = message
        elif self.client_state is WebSocketState.CONNECTING:
            if kind != "websocket.connect":
                raise RuntimeError(f"Expected a 'websocket.connect' message, got {kind!r}")
            self.client_state = WebSocketState.CONNECTED
        elif kind != "websocket.receive":
            raise RuntimeError(f"Expected a 'websocket.receive' message, got {kind!r}")
        else:
            await self._check_limits(message)
        return message

    async def _check_limits(self, message: Message) -> None:
        """Close the connection and raise if ``message`` is too big or came too fast."""
        if self._max_size and self._too_big(message):
            await self._refuse(MESSAGE_TOO_BIG, f"Message exceeds {self._max_size} bytes")
        if self._rate:
            now = time.monotonic()
            if self._checked_at:
                self._allowance = min(
                    float(self._rate), self._allowance + (now - self._checked_at) * self._rate
                )
            self._checked_at = now
            if self._allowance < 1.0:
                await self._refuse(POLICY_VIOLATION, f"More than {self._rate} messages per second")
            self._allowance -= 1.0

    def _too_big(self, message: Message) -> bool:
        limit = self._max_size
        text: str | None = message.get("text")
        if text is None:
            return len(message.get("bytes") or b"") > limit
        # A character is 1 to 4 bytes: encode only when the length cannot tell.
        if len(text) > limit:
            return True
        return len(text) * 4 > limit and len(text.encode("utf-8")) > limit

    async def _refuse(self, code: int, reason: str) -> None:
        _logger.warning("Closed WebSocket %.200r with %d: %s", self.path, code, reason)
        try:
            await self.close(code, reason)
        finally:
            # The app is done with this connection: every later receive says so.
            self._disconnect = {"type": "websocket.disconnect", "code": code, "reason": reason}
        raise self._disconnected()

    async def send(self, message: Message) -> None:
        """Send a raw ASGI message, checking that it fits the connection's state.

        Raises:
            RuntimeError: the message is out of order (data before ``accept()``,
                anything after ``close()``).
            WebSocketDisconnect: the client has gone away.

        Example:
            >>> await ws.send({"type": "websocket.send", "text": "hi"})
        """
        kind = message["type"]
        state = self.application_state
        if state is WebSocketState.DISCONNECTED:
            raise RuntimeError(f"Cannot send {kind!r}: the WebSocket was already closed")
        if state is WebSocketState.CONNECTING:
            if kind not in ("websocket.accept", "websocket.close") and not kind.startswith(
                "websocket.http.response."
            ):
                raise RuntimeError(f"Call accept() before sending {kind!r}")
        elif kind == "websocket.accept":
            raise RuntimeError("accept() was already called on this WebSocket")
        elif kind not in ("websocket.send", "websocket.close"):
            raise RuntimeError(f"Cannot send {kind!r} on an accepted WebSocket")
        if kind == "websocket.send" and self._disconnect is not None:
            raise self._disconnected()
        try:
            await self._send(message)
        except OSError as exc:
            # ASGI servers raise an OSError subclass when the client is gone.
            self.application_state = WebSocketState.DISCONNECTED
            self.client_state = WebSocketState.DISCONNECTED
            raise WebSocketDisconnect(ABNORMAL_CLOSURE, "The client went away") from exc
        if kind == "websocket.accept":
            self.application_state = WebSocketState.CONNECTED
        elif kind == "websocket.close":
            self.application_state = WebSocketState.DISCONNECTED

    # -- the handshake ---------------------------------------------------
    async def accept(
        self, subprotocol: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        """Accept the connection, optionally choosing one of the offered subprotocols.

        Raises:
            ValueError: ``subprotocol`` was not offered by the client.
            WebSocketDisconnect: the client left before being accepted.

        Example:
            >>> await ws.accept(subprotocol="chat.v2", headers={"x-room": "lobby"})
        """
        if self.client_state is WebSocketState.CONNECTING:
            await self.receive()  # the websocket.connect message
        if self._disconnect is not None:
            raise self._disconnected()
        if subprotocol is not None and subprotocol not in self.subprotocols:
            raise ValueError(
                f"Subprotocol {subprotocol!r} was not offered by the client "
                f"(offered: {self.subprotocols!r})"
            )
        raw = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()
        ]
        await self.send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": raw})

    async def close(self, code: int = NORMAL_CLOSURE, reason: str | None = None) -> None:
        """Close the connection with ``code`` (1000 is a normal closure).

        Closing before :meth:`accept` rejects the handshake: the client gets
        HTTP 403. Closing after the client has gone is a no-op.

        Raises:
            RuntimeError: the app already closed the connection.

        Example:
            >>> await ws.close(4001, "Login required")
        """
        if (
            self._disconnect is not None
            and self.application_state is not WebSocketState.DISCONNECTED
        ):
            self.application_state = WebSocketState.DISCONNECTED
            return
        await self.send({"type": "websocket.close", "code": code, "reason": _clip(reason or "")})

    async def send_denial_response(self, response: Response) -> None:
        """Reject the handshake with an HTTP response (status, headers and body).

        Servers that lack the ASGI ``websocket.http.response`` extension cannot
        send one; the connection is then closed before accepting, which the
        client sees as HTTP 403.

        Example:
            >>> await ws.send_denial_response(JSONResponse({"error": "no token"}, 401))
        """
        if self.application_state is not WebSocketState.CONNECTING:
            raise RuntimeError("A denial response can only be sent before accept()")
        if _DENIAL_EXTENSION not in self.scope.get("extensions", {}):
            await self.close()
            return

        async def send_prefixed(message: Message) -> None:
            await self.send({**message, "type": "websocket." + message["type"]})

        await response(self.scope, self.receive, send_prefixed)
        self.application_state = WebSocketState.DISCONNECTED

    # -- receiving data --------------------------------------------------
    async def _receive_data(self) -> Message:
        if self.application_state is WebSocketState.CONNECTING:
            raise RuntimeError("Call accept() before receiving from a WebSocket")
        message = await self.receive()
        if message["type"] == "websocket.disconnect":
            raise self._disconnected()
        return message

    async def receive_text(self) -> str:
        """The next text message.

        Raises:
            WebSocketDisconnect: the client closed the connection.
            WebSocketException: (1003) the client sent a binary message.

        Example:
            >>> name = await ws.receive_text()
        """
        message = await self._receive_data()
        text: str | None = message.get("text")
        if text is None:
            raise WebSocketException(UNSUPPORTED_DATA, "Expected a text message, got binary")
        return text

    async def receive_bytes(self) -> bytes:
        """The next binary message.

        Raises:
            WebSocketDisconnect: the client closed the connection.
            WebSocketException: (1003) the client sent a text message.

        Example:
            >>> chunk = await ws.receive_bytes()
        """
        message = await self._receive_data()
        data: bytes | None = message.get("bytes")
        if data is None:
            raise WebSocketException(UNSUPPORTED_DATA, "Expected a binary message, got text")
        return data

    async def receive_json(self) -> Any:
        """The next message (text or binary) decoded as JSON.

        Raises:
            WebSocketDisconnect: the client closed the connection.
            WebSocketException: (1007, "invalid frame payload data") the message
                is not valid JSON. Catch it to answer the client and carry on;
                left uncaught, the connection closes with code 1007.

        Example:
            >>> try:
            ...     command = await ws.receive_json()
            ... except WebSocketException:
            ...     await ws.send_json({"error": "send JSON"})
        """
        message = await self._receive_data()
        data = message.get("text")
        if data is None:
            data = message.get("bytes") or b""
        try:
            return _json.loads(data)
        except _json.DecodeError as exc:
            raise WebSocketException(INVALID_PAYLOAD, f"Malformed JSON: {exc}") from None
        except RecursionError:
            raise WebSocketException(INVALID_PAYLOAD, "Malformed JSON: nested too deeply") from None

    async def iter_text(self) -> AsyncIterator[str]:
        """Yield text messages until the client disconnects.

        Example:
            >>> async for text in ws.iter_text():
            ...     await ws.send_text(text.upper())
        """
        while True:
            try:
                text = await self.receive_text()
            except WebSocketDisconnect:
                return
            yield text

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """Yield binary messages until the client disconnects.

        Example:
            >>> async for chunk in ws.iter_bytes():
            ...     total += len(chunk)
        """
        while True:
            try:
                data = await self.receive_bytes()
            except WebSocketDisconnect:
                return
            yield data

    async def iter_json(self) -> AsyncIterator[Any]:
        """Yield JSON messages until the client disconnects.

        Malformed JSON raises :class:`~carboy.exceptions.WebSocketException`
        (1007) out of the loop, like :meth:`receive_json`.

        Example:
            >>> async for event in ws.iter_json():
            ...     await ws.send_json({"ack": event["id"]})
        """
        while True:
            try:
                value = await self.receive_json()
            except WebSocketDisconnect:
                return
            yield value

    # -- sending data ----------------------------------------------------
    async def send_text(self, text: str) -> None:
        """Send a text message.

        Example:
            >>> await ws.send_text("hello")
        """
        await self.send({"type": "websocket.send", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message.

        Example:
            >>> await ws.send_bytes(b"\\x00\\x01")
        """
        await self.send({"type": "websocket.send", "bytes": data})

    async def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        """Send ``data`` as JSON, in a text message (or binary with ``mode="binary"``).

        Example:
            >>> await ws.send_json({"event": "joined", "user": "ann"})
        """
        encoded = _json.dumps(data)
        if mode == "binary":
            await self.send({"type": "websocket.send", "bytes": encoded})
        else:
            await self.send({"type": "websocket.send", "text": encoded.decode("utf-8")})

    # -- helpers -----------------------------------------------------------
    def _disconnected(self) -> WebSocketDisconnect:
        message = self._disconnect or {}
        return WebSocketDisconnect(
            message.get("code", NORMAL_CLOSURE), message.get("reason") or None
        )

    def __repr__(self) -> str:
        return f"<WebSocket {self.path} {self.application_state.name}>"


def _clip(reason: str) -> str:
    """``reason`` cut to what fits in a close frame, on a character boundary."""
    encoded = reason.encode("utf-8")
    if len(encoded) <= _MAX_REASON_BYTES:
        return reason
    return encoded[:_MAX_REASON_BYTES].decode("utf-8", errors="ignore")


async def close_for_exception(ws: WebSocket, exc: BaseException) -> None:
    """Close ``ws`` the way an exception raised by its handler calls for.

    * :class:`~carboy.exceptions.WebSocketDisconnect`: the client is gone;
      nothing to do.
    * :class:`~carboy.exceptions.WebSocketException`: close with its code and
      reason (before ``accept()`` this rejects the handshake: HTTP 403).
    * :class:`~carboy.exceptions.HTTPException` (a 422 from validating the
      handler's parameters, a 401 from a dependency): before ``accept()``, an
      HTTP denial response with carboy's usual error body (403 where the
      server cannot send one); after, close with 1008 (policy violation).
    * anything else: close with 1011 (internal error). Re-raising or logging
      the exception is the caller's business.

    Example:
        >>> try:
        ...     await handler(ws)
        ... except Exception as exc:
        ...     await close_for_exception(ws, exc)
        ...     raise
    """
    if isinstance(exc, WebSocketDisconnect):
        return
    if ws.application_state is WebSocketState.DISCONNECTED:
        return
    try:
        if isinstance(exc, WebSocketException):
            await ws.close(exc.code, exc.reason)
        elif isinstance(exc, HTTPException):
            await _close_for_http_error(ws, exc)
        else:
            await ws.close(INTERNAL_ERROR)
    except WebSocketDisconnect:
        pass


async def _close_for_http_error(ws: WebSocket, exc: HTTPException) -> None:
    if ws.application_state is WebSocketState.CONNECTING:
        from carboy.errors import response_for_http_exception

        await ws.send_denial_response(response_for_http_exception(ws.scope, exc))
    else:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        await ws.close(POLICY_VIOLATION, detail)


async def finish(ws: WebSocket) -> None:
    """Close ``ws`` normally (1000) if its handler returned without closing it.

    A handler that returned without even accepting rejects the handshake
    (the client gets HTTP 403).

    Example:
        >>> await handler(ws)
        >>> await finish(ws)
    """
    if ws.application_state is WebSocketState.DISCONNECTED:
        return
    try:
        await ws.close(NORMAL_CLOSURE)
    except WebSocketDisconnect:
        pass
