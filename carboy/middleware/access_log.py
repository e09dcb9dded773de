"""One log line per request on ``carboy.request``: method, path, status, time, request id."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from carboy.types import ASGIApp, Message, Receive, Scope, Send

_logger = logging.getLogger("carboy.request")


class AccessLogMiddleware:
    """Log every HTTP request when its response has been sent (``access_log`` setting).

    The line reads ``GET /items?page=2 200 3.1ms id=4f2a...``; the fields are
    also on the record (``method``, ``path``, ``status``, ``duration_ms``,
    ``client``, ``request_id``), so JSON lines carry them one by one. The
    request id is the one :class:`~carboy.middleware.RequestIdMiddleware` put in
    ``scope["state"]``, when it runs. A request that fails before its
    response starts is logged with status 500.

    Args:
        app: The ASGI app to wrap.

    Example:
        >>> async def app(scope, receive, send): ...
        >>> app = AccessLogMiddleware(app)
    """

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, timing it and noting the status it sends."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            _log(scope, status, (time.perf_counter() - start) * 1000)


def _log(scope: Scope, status: int, duration_ms: float) -> None:
    if not _logger.isEnabledFor(logging.INFO):
        return
    path = scope.get("path", "")
    query: bytes = scope.get("query_string", b"")
    if query:
        path += "?" + query.decode("latin-1")
    state = scope.get("state")
    request_id = state.get("request_id") if isinstance(state, Mapping) else None
    client = scope.get("client")
    method = scope.get("method", "")
    _logger.info(
        "%s %s %d %.1fms%s",
        method,
        path,
        status,
        duration_ms,
        f" id={request_id}" if request_id else "",
        extra={
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(duration_ms, 3),
            "client": f"{client[0]}:{client[1]}" if client else None,
            "request_id": request_id,
        },
    )
