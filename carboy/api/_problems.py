"""RFC 9457 problem details: the error bodies of an API's routes.

An API's routes answer every error (400, 404, 412, 422...) as
``application/problem+json``::

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "Validation failed", "instance": "/api/posts",
     "errors": [{"loc": ["body", "title"], "field": "title", "msg": "...", "type": "missing"}]}

``errors`` (the field errors of a 422, as everywhere in carboy) is an
extension member, as RFC 9457 section 3.2 allows. An app made with its own
``error_envelope`` keeps it: the envelope shapes the API's errors too, so one
app has one error shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from carboy.errors import ErrorDetails, default_envelope
from carboy.exceptions import HTTPException, InvalidFields
from carboy.responses import STARTED_KEY, JSONResponse, Response, status_phrase
from carboy.types import ASGIApp, Receive, Scope, Send

#: The media type of RFC 9457 problem details.
PROBLEM_JSON = "application/problem+json"


def problem_details(error: ErrorDetails, *, instance: str | None = None) -> dict[str, Any]:
    """The RFC 9457 body of an error: ``type``, ``title``, ``status``, ``detail``, ``instance``.

    ``type`` is ``about:blank`` (the status says what happened) and ``title``
    its phrase; the field errors of a 422 go in ``errors``.

    Example:
        >>> problem_details(ErrorDetails(404, "Post 3 not found"), instance="/api/posts/3")
        {'type': 'about:blank', 'title': 'Not Found', 'status': 404, 'detail': 'Post 3 not found', 'instance': '/api/posts/3'}
    """  # noqa: E501
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": status_phrase(error.status),
        "status": error.status,
        "detail": error.detail if isinstance(error.detail, str) else str(error.detail),
    }
    if instance is not None:
        body["instance"] = instance
    if error.errors is not None:
        body["errors"] = error.errors
    return body


class ProblemResponse(JSONResponse):
    """A JSON response sent as ``application/problem+json``.

    Example:
        >>> ProblemResponse({"type": "about:blank", "title": "Gone", "status": 410}, 410)
    """

    media_type = PROBLEM_JSON


def details_of(exc: HTTPException) -> ErrorDetails:
    """The :class:`~carboy.errors.ErrorDetails` of an HTTP exception (field errors included)."""
    if isinstance(exc, InvalidFields):
        return ErrorDetails(exc.status_code, exc.message, exc.errors)
    detail = exc.detail
    if isinstance(detail, Mapping) and "errors" in detail:
        return ErrorDetails(
            exc.status_code, detail.get("message", status_phrase(exc.status_code)), detail["errors"]
        )
    return ErrorDetails(exc.status_code, detail)


def problem_response(scope: Scope, exc: HTTPException) -> Response:
    """The error response of an API route: problem details, or the app's own envelope."""
    error = details_of(exc)
    envelope = getattr(scope.get("app"), "error_envelope", None)
    if envelope is not None and envelope is not default_envelope:
        return JSONResponse(envelope(error), exc.status_code, exc.headers)
    path = scope.get("root_path", "") + scope.get("path", "")
    return ProblemResponse(problem_details(error, instance=path), exc.status_code, exc.headers)


class ProblemMiddleware:
    """Answer the ``HTTPException`` of the routes it wraps with problem details.

    It wraps an :class:`~carboy.api.API`'s routes. An exception for which a
    module registered a handler (``@app.exception_handler(404)``) goes on to
    that handler, as does anything that is not an ``HTTPException`` (the
    database battery's handlers, a 500); after the response has started,
    nothing can be sent and the exception goes on.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except HTTPException as exc:
            if scope.get(STARTED_KEY) or _has_handler(scope, exc):
                raise
            await problem_response(scope, exc)(scope, receive, send)


def _has_handler(scope: Scope, exc: HTTPException) -> bool:
    app = scope.get("app")
    walk = getattr(app, "walk", None)
    if walk is None:
        return False
    return any(module.exception_handlers.find(exc) is not None for module in walk())
