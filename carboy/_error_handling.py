"""What the app does with an exception raised while it serves a request.

The first matching handler (by status code for an ``HTTPException``, else by
the exception's type) answers; without one, or when the handler itself fails,
an ``HTTPException`` gets its standard error response and anything else a 500
(the debug page in debug mode), logged with its traceback. The response bodies
are :mod:`carboy.errors`'; a handler's return value becomes a response the way a
route's does (:func:`carboy.params.to_response`).
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from carboy.concurrency import run_sync
from carboy.errors import (
    ErrorHandler,
    ExceptionHandlers,
    debug_response,
    error_response,
    response_for_http_exception,
)
from carboy.exceptions import HTTPException
from carboy.params import to_response
from carboy.requests import Request
from carboy.responses import STARTED_KEY, Response
from carboy.types import Receive, Scope, Send

logger = logging.getLogger("carboy.error")


async def handle_error(
    handlers: ExceptionHandlers,
    scope: Scope,
    receive: Receive,
    send: Send,
    exc: Exception,
    *,
    debug: bool,
) -> None:
    """Answer ``exc`` with the app's handler for it, or the standard error response.

    After the response has started nothing can be sent: the error is logged and
    raised on to the server, which closes the connection.
    """
    if scope.get(STARTED_KEY):
        logger.error("Error after the response started on %s", scope.get("path"), exc_info=exc)
        raise exc
    response: Response | None = None
    handler = handlers.find(exc)
    if handler is not None:
        try:
            response = await call_handler(handler, Request(scope, receive), exc)
        except Exception as inner:
            logger.error("Error handler %r failed", handler, exc_info=inner)
            exc = inner
    if response is None:
        if isinstance(exc, HTTPException):
            response = response_for_http_exception(scope, exc)
        else:
            logger.error(
                "Unhandled error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc
            )
            response = debug_response(scope, exc) if debug else error_response(scope, 500)
    await response(scope, receive, send)


async def call_handler(handler: ErrorHandler, request: Request, exc: BaseException) -> Response:
    """Run a user error handler (sync or async) and turn its result into a Response."""
    result: Any
    if inspect.iscoroutinefunction(handler):
        result = await handler(request, exc)
    else:
        result = await run_sync(handler, request, exc)
        if inspect.isawaitable(result):
            result = await result
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return to_response(result, status_code=status)
