"""Exceptions that turn into HTTP responses."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

__all__ = [
    "ConfigurationError",
    "FieldError",
    "HTTPException",
    "RequestValidationError",
    "SetupError",
    "WebSocketDisconnect",
    "WebSocketException",
]


class HTTPException(Exception):
    """Raise to end a request with an HTTP error status.

    Example:
        >>> raise HTTPException(404, "No such post")
    """

    def __init__(
        self,
        status_code: int,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if detail is None:
            detail = HTTPStatus(status_code).phrase
        self.status_code = status_code
        self.detail = detail
        self.headers = dict(headers or {})
        super().__init__(status_code, detail)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, detail={self.detail!r})"


class FieldError(dict[str, Any]):
    """One field's validation failure: ``{"loc": [...], "field": ..., "msg": ..., "type": ...}``."""

    def __init__(self, loc: list[str | int], msg: str, type: str = "value_error") -> None:
        super().__init__(loc=loc, field=str(loc[-1]) if loc else "", msg=msg, type=type)


class RequestValidationError(HTTPException):
    """422: the request's path, query, headers, cookies or body did not validate.

    ``errors`` lists every field that failed, not just the first.
    """

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__(422, {"message": "Validation failed", "errors": errors})


class WebSocketDisconnect(Exception):
    """The client closed the WebSocket (or went away)."""

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""
        super().__init__(code, reason)


class WebSocketException(Exception):
    """Raise in a WebSocket handler to close the connection with ``code``."""

    def __init__(self, code: int = 1008, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""
        super().__init__(code, reason)


class ConfigurationError(Exception):
    """The app's settings or setup are wrong; the message says what to change."""


class SetupError(ConfigurationError):
    """A setup method was called at the wrong time (e.g. adding a route after start-up)."""
