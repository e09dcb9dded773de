"""Give every request an id, for logs and for support tickets."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, MutableMapping

from carboy.exceptions import ConfigurationError
from carboy.middleware._headers import copy_response_headers
from carboy.types import ASGIApp, Message, Receive, Scope, Send

# What an id from outside may look like: short, and nothing that could break
# a log line or a header (no spaces, quotes, control characters).
_SAFE_ID = re.compile(rb"[A-Za-z0-9._:+=/-]{1,200}")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _uuid4_hex() -> str:
    """A random (version 4) UUID as 32 hex digits, like ``uuid4().hex`` at half the cost."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    return raw.hex()


class RequestIdMiddleware:
    """Put a request id in ``scope["state"]["request_id"]`` and on the response.

    The id comes from the request's ``X-Request-ID`` header (set by a load
    balancer or the calling service) when ``trust_incoming`` is on and the
    value is short (at most 200 characters) and made of safe characters
    (letters, digits, ``._:+=/-``); otherwise a new one is made. Handlers
    read it as ``request.state.request_id``; the response echoes it in the
    same header unless the app set that header itself. WebSocket
    connections get an id too, sent back with the handshake's accept.

    Args:
        app: The ASGI app to wrap.
        header_name: The header that carries the id, in and out.
        trust_incoming: Reuse a well-formed id from the request. Turn it off
            when clients are not your own services and could forge ids.
        generator: Makes a new id; a random UUID in hex by default.

    Raises:
        ConfigurationError: ``header_name`` is not a valid header name.

    Example:
        >>> async def app(scope, receive, send): ...
        >>> app = RequestIdMiddleware(app, header_name="X-Correlation-ID", trust_incoming=False)
    """

    __slots__ = ("_checked", "_generator", "_header", "app", "trust_incoming")

    def __init__(
        self,
        app: ASGIApp,
        *,
        header_name: str = "X-Request-ID",
        trust_incoming: bool = True,
        generator: Callable[[], str] = _uuid4_hex,
    ) -> None:
        if not isinstance(header_name, str) or _TOKEN.fullmatch(header_name) is None:
            raise ConfigurationError(
                f"header_name must be a valid header name, got {header_name!r}"
            )
        if not callable(generator):
            raise ConfigurationError(
                f"generator must be a function returning a str, got {generator!r}"
            )
        self.app = app
        self.trust_incoming = trust_incoming
        self._header = header_name.lower().encode("ascii")
        self._generator = generator
        # Ids from our own generator are known safe; someone else's are checked.
        self._checked = generator is not _uuid4_hex

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Attach the id to the scope's state and to the response."""
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        raw_id = self._incoming(scope) if self.trust_incoming else None
        if raw_id is None:
            raw_id = self._new_id()
        request_id = raw_id.decode("ascii")
        state = scope.get("state")
        if state is None:
            scope["state"] = {"request_id": request_id}
        elif isinstance(state, MutableMapping):
            state["request_id"] = request_id
        else:  # carboy's State, or any attribute bag
            state.request_id = request_id
        header = (self._header, raw_id)
        start = "http.response.start" if kind == "http" else "websocket.accept"

        async def send_with_id(message: Message) -> None:
            if message["type"] == start:
                headers = copy_response_headers(message.get("headers", ()))
                if all(key != header[0] for key, _ in headers):
                    headers.append(header)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)

    def _incoming(self, scope: Scope) -> bytes | None:
        name = self._header
        for key, value in scope["headers"]:
            if key == name:
                return value if _SAFE_ID.fullmatch(value) is not None else None
        return None

    def _new_id(self) -> bytes:
        request_id = self._generator()
        if self._checked and (
            not isinstance(request_id, str)
            or _SAFE_ID.fullmatch(request_id.encode("ascii", "replace")) is None
        ):
            raise ConfigurationError(
                f"RequestIdMiddleware generator returned {request_id!r}: ids must be strings "
                "of 1 to 200 letters, digits or ._:+=/-"
            )
        return request_id.encode("ascii")
