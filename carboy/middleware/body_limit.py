"""Cap the size of request bodies for apps that do not cap it themselves.

carboy's :class:`~carboy.requests.Request` already enforces the app's
``max_body_size``. This middleware is for foreign ASGI apps mounted in
carboy, and for a group of routes that needs a different limit (larger
uploads, smaller API payloads).
"""

from __future__ import annotations

from carboy.exceptions import ConfigurationError, HTTPException
from carboy.middleware._errors import ErrorReply
from carboy.types import ASGIApp, Message, Receive, Scope, Send

#: Scope key carboy's Request reads its body limit from.
_LIMIT_KEY = "carboy.max_body"


class _BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the body has passed the limit."""


class BodyLimitMiddleware:
    """Answer 413 to request bodies larger than ``max_body_size`` bytes.

    A ``Content-Length`` over the limit is refused before a byte of the body
    is read; a malformed one gets 400. Bodies without a length (chunked) are
    counted as the app reads them, never buffered: the chunk that crosses the
    limit is not handed to the app, ``receive`` raises instead, and the
    client gets 413. If the app had already started its response by then,
    the 413 cannot be sent and the middleware re-raises, so the server
    drops the connection.

    Inside the middleware, carboy's own ``Request`` uses this limit too.

    Args:
        app: The ASGI app to protect.
        max_body_size: The largest body accepted, in bytes.

    Raises:
        ConfigurationError: ``max_body_size`` is not a whole number >= 0.

    Example:
        >>> async def uploads(scope, receive, send): ...
        >>> uploads = BodyLimitMiddleware(uploads, max_body_size=100 * 1024 * 1024)
    """

    __slots__ = ("_bad_length", "_too_large", "app", "max_body_size")

    def __init__(self, app: ASGIApp, *, max_body_size: int) -> None:
        if isinstance(max_body_size, bool) or not isinstance(max_body_size, int):
            raise ConfigurationError(
                f"max_body_size must be a whole number of bytes, got {max_body_size!r}"
            )
        if max_body_size < 0:
            raise ConfigurationError(f"max_body_size must be >= 0, got {max_body_size}")
        self.app = app
        self.max_body_size = max_body_size
        message = f"Request body exceeds {max_body_size} bytes"
        # The unread rest of a refused body is not worth reading: ask the
        # server to close the connection instead.
        self._too_large = ErrorReply(413, message, {"connection": "close"})
        self._bad_length = ErrorReply(400, "Invalid Content-Length header", {"connection": "close"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse oversized bodies up front, and count the rest as they are read."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_size
        declared = _content_length(scope["headers"])
        if declared is None:
            await self._bad_length(scope, receive, send)
            return
        if declared > limit:
            await self._too_large(scope, receive, send)
            return
        scope[_LIMIT_KEY] = limit

        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge(413, f"Request body exceeds {limit} bytes")
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge(413, f"Request body exceeds {limit} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the 413 below replaces whatever the app answers now
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            # Whatever the app made of the refused read (it may wrap or
            # rethrow it), the answer is still 413 while one can be sent.
            if not exceeded or started:
                raise
        if exceeded:
            if started:
                raise _BodyTooLarge(413, f"Request body exceeds {limit} bytes")
            await self._too_large(scope, receive, send)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The declared body length (-1 if none), or ``None`` if the header is malformed.

    Repeated headers must agree; anything but ASCII digits is malformed.
    """
    length = -1
    for key, value in headers:
        if key == b"content-length":
            digits = value.strip()
            if not digits.isdigit():
                return None
            # int() refuses very long digit strings; any length past 20
            # digits is more bytes than exist, so cap it instead.
            significant = digits.lstrip(b"0") or b"0"
            number = int(significant) if len(significant) <= 20 else 10**20
            if length not in (-1, number):
                return None
            length = number
    return length
