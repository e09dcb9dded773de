"""Error responses: JSON or HTML by ``Accept``, custom handlers, and the debug page."""

from __future__ import annotations

import html
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from carboy.connections import CSP_NONCE_KEY
from carboy.exceptions import FieldError, HTTPException, InvalidFields
from carboy.requests import Request
from carboy.responses import HTMLResponse, JSONResponse, Response, status_phrase
from carboy.types import Scope

ErrorHandler = Callable[[Request, Any], Any | Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class ErrorDetails:
    """What an error response says, before it is shaped into a JSON body.

    Attributes:
        status: The HTTP status code.
        detail: The message (``"Validation failed"``, ``"Not Found"``), or whatever
            an ``HTTPException`` was given as ``detail``.
        errors: The field errors, for an :class:`~carboy.InvalidFields` (422 and
            the like); None for errors about the request as a whole.
    """

    status: int
    detail: Any
    errors: list[FieldError] | None = None


#: Shapes every JSON error body of an app: ``Carboy(error_envelope=fn)``.
ErrorEnvelope = Callable[[ErrorDetails], Any]


def default_envelope(error: ErrorDetails) -> dict[str, Any]:
    """carboy's own error body: ``{"status": 422, "detail": "...", "errors": [...]}``.

    ``errors`` is there only when the error has field errors.

    Example:
        >>> default_envelope(ErrorDetails(404, "Not Found"))
        {'status': 404, 'detail': 'Not Found'}
    """
    content: dict[str, Any] = {"status": error.status, "detail": error.detail}
    if error.errors is not None:
        content["errors"] = error.errors
    return content


def envelope_of(scope: Scope) -> ErrorEnvelope:
    """The error envelope of the app serving ``scope`` (carboy's default without one)."""
    # The scope may belong to another framework's app (carboy middleware used there).
    envelope: ErrorEnvelope | None = getattr(scope.get("app"), "error_envelope", None)
    return envelope if envelope is not None else default_envelope


def wants_html(scope: Scope) -> bool:
    """True when the client prefers HTML (a browser) over JSON."""
    accept = ""
    for k, v in scope.get("headers", ()):
        if k == b"accept":
            accept = v.decode("latin-1").lower()
            break
    html_at = accept.find("text/html")
    if html_at < 0:
        return False
    json_at = accept.find("application/json")
    return json_at < 0 or html_at < json_at


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{status} {phrase}</title>
<style{nonce}>body{{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:4rem auto;
padding:0 1rem;color:#222}}h1{{font-size:1.6rem}}code,pre{{background:#f4f4f4;padding:.1rem .3rem}}
pre{{padding:1rem;overflow:auto}}li{{margin:.2rem 0}}</style></head>
<body><h1>{status} {phrase}</h1>{body}</body></html>"""


def _page(scope: Scope, status: int, phrase: str, body: str) -> str:
    """A built-in error page; its style carries the request's CSP nonce, when it has one."""
    nonce = scope.get(CSP_NONCE_KEY)
    attribute = f' nonce="{html.escape(nonce)}"' if isinstance(nonce, str) else ""
    return _PAGE.format(status=status, phrase=html.escape(phrase), body=body, nonce=attribute)


def error_response(
    scope: Scope,
    status_code: int,
    detail: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The standard error response: a JSON body shaped by the app's envelope, or an HTML page.

    The JSON body is ``{"status", "detail", "errors"?}`` unless the app was made
    with another ``error_envelope``.
    """
    phrase = status_phrase(status_code)
    errors = None
    if isinstance(detail, dict) and "errors" in detail:
        errors = detail["errors"]
        detail = detail.get("message", phrase)
    if detail is None:
        detail = phrase
    if wants_html(scope):
        # The app's own <status>.html, when it has one (duck-typed: the scope may
        # belong to another framework's app).
        render_page = getattr(scope.get("app"), "error_page", None)
        if render_page is not None:
            text = render_page(scope, status_code, detail, errors)
            if text is not None:
                return HTMLResponse(text, status_code, headers)
        body = f"<p>{html.escape(str(detail))}</p>"
        if errors:
            items = "".join(
                f"<li><code>{html.escape('.'.join(map(str, e['loc'])))}</code>: "
                f"{html.escape(str(e['msg']))}</li>"
                for e in errors
            )
            body += f"<ul>{items}</ul>"
        return HTMLResponse(_page(scope, status_code, phrase, body), status_code, headers)
    content = envelope_of(scope)(ErrorDetails(status_code, detail, errors))
    return JSONResponse(content, status_code, headers)


def debug_response(scope: Scope, exc: BaseException) -> Response:
    """A 500 with the traceback and request details. Only ever used in debug mode."""
    frames = traceback.format_exception(type(exc), exc, exc.__traceback__)
    request_info = {
        "method": scope.get("method"),
        "path": scope.get("path"),
        "query_string": scope.get("query_string", b"").decode("latin-1"),
        "headers": {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())},
        "client": scope.get("client"),
    }
    if not wants_html(scope):
        return JSONResponse(
            {
                "status": 500,
                "detail": f"{type(exc).__name__}: {exc}",
                "traceback": "".join(frames),
                "request": request_info,
            },
            500,
        )
    rows = "".join(
        f"<li><code>{html.escape(str(k))}</code>: {html.escape(str(v))}</li>"
        for k, v in request_info.items()
        if k != "headers"
    )
    headers = "".join(
        f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>"
        for k, v in request_info["headers"].items()
    )
    body = (
        f"<p><strong>{html.escape(type(exc).__name__)}</strong>: {html.escape(str(exc))}</p>"
        f"<pre>{html.escape(''.join(frames))}</pre><h2>Request</h2><ul>{rows}</ul>"
        f"<h2>Headers</h2><ul>{headers}</ul>"
        "<p><em>This page shows because debug is on. It never shows in production.</em></p>"
    )
    return HTMLResponse(_page(scope, 500, "Internal Server Error", body), 500)


class ExceptionHandlers:
    """Handlers by status code (for ``HTTPException``) and by exception type (MRO order)."""

    def __init__(self) -> None:
        self.by_status: dict[int, ErrorHandler] = {}
        self.by_type: dict[type[BaseException], ErrorHandler] = {}

    def add(self, key: int | type[BaseException], handler: ErrorHandler) -> None:
        """Register ``handler`` for a status code or an exception class."""
        if isinstance(key, int):
            self.by_status[key] = handler
        elif isinstance(key, type) and issubclass(key, BaseException):
            self.by_type[key] = handler
        else:
            raise TypeError(
                f"exception_handler() takes a status code or an exception class, got {key!r}"
            )

    def update(self, other: ExceptionHandlers) -> None:
        """Add ``other``'s handlers where this one has none (the app's own win)."""
        for status, handler in other.by_status.items():
            self.by_status.setdefault(status, handler)
        for kind, handler in other.by_type.items():
            self.by_type.setdefault(kind, handler)

    def find(self, exc: BaseException) -> ErrorHandler | None:
        """The handler for ``exc``, if one is registered."""
        if isinstance(exc, HTTPException):
            handler = self.by_status.get(exc.status_code)
            if handler is not None:
                return handler
        for kind in type(exc).__mro__:
            handler = self.by_type.get(kind)
            if handler is not None:
                return handler
        return None


def response_for_http_exception(scope: Scope, exc: HTTPException) -> Response:
    """The default response for an ``HTTPException`` (including 422 validation errors)."""
    detail = exc.detail
    if isinstance(exc, InvalidFields):
        detail = {"message": exc.message, "errors": exc.errors}
    return error_response(scope, exc.status_code, detail, headers=exc.headers)
