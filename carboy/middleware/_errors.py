"""The short error replies middleware sends itself, without running the app."""

from __future__ import annotations

from collections.abc import Mapping

from carboy import _json
from carboy.errors import ErrorDetails, default_envelope, envelope_of
from carboy.middleware._headers import first_header
from carboy.responses import PlainTextResponse, Response
from carboy.types import Receive, Scope, Send


class ErrorReply:
    """A fixed 4xx reply, built once: JSON or plain text.

    JSON (``{"status": 400, "detail": "..."}``, the shape of carboy's other
    errors, or the app's ``error_envelope``) goes to clients whose ``Accept``
    header mentions JSON, plain text to everyone else. The default bodies are
    encoded when the middleware is built.

    Example:
        >>> reply = ErrorReply(400, "Invalid Host header")
        >>> # in a middleware: await reply(scope, receive, send)
    """

    __slots__ = ("_headers", "_json", "_message", "_status", "_text")

    def __init__(
        self, status_code: int, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self._status = status_code
        self._message = message
        self._headers = headers
        self._text = PlainTextResponse(message, status_code, headers)
        self._json = Response(
            _json.dumps({"status": status_code, "detail": message}),
            status_code,
            headers,
            media_type="application/json",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the reply in the form the client prefers."""
        accept = first_header(scope.get("headers", ()), b"accept")
        if accept is None or b"json" not in accept:
            await self._text(scope, receive, send)
            return
        envelope = envelope_of(scope)
        if envelope is default_envelope:
            await self._json(scope, receive, send)
            return
        body = _json.dumps(envelope(ErrorDetails(self._status, self._message)))
        custom = Response(body, self._status, self._headers, media_type="application/json")
        await custom(scope, receive, send)
