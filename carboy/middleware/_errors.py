"""The short error replies middleware sends itself, without running the app."""

from __future__ import annotations

from collections.abc import Mapping

from carboy import _json
from carboy.middleware._headers import first_header
from carboy.responses import PlainTextResponse, Response
from carboy.types import Receive, Scope, Send


class ErrorReply:
    """A fixed 4xx reply, built once: JSON or plain text.

    JSON (``{"status": 400, "detail": "..."}``, the shape of carboy's other
    errors) goes to clients whose ``Accept`` header mentions JSON, plain text
    to everyone else. Both bodies are encoded when the middleware is built.

    Example:
        >>> reply = ErrorReply(400, "Invalid Host header")
        >>> # in a middleware: await reply(scope, receive, send)
    """

    __slots__ = ("_json", "_text")

    def __init__(
        self, status_code: int, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
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
        response = self._json if accept is not None and b"json" in accept else self._text
        await response(scope, receive, send)
