"""Exceptions that turn into HTTP responses."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any


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
    """One field's validation failure, a JSON object as it goes to the client.

    ``{"loc": ["body", "article", "tagList", 0], "field": "article.tagList.0",
    "msg": "Input should be a valid string", "type": "string_type"}``: ``loc``
    is the full location, starting with the source (``path``, ``query``,
    ``header``, ``cookie``, ``body``, ``form``, ``file``); ``field`` is the same
    location after the source, dotted (the source itself when the error is
    about the whole of it, e.g. a missing body); ``type`` is a stable,
    machine-readable kind (pydantic's error types, or ``unique``, ``not_null``...).
    The same values are attributes: ``error.loc``, ``error.field``...

    Example:
        >>> error = FieldError(["body", "article", "tagList", 0], "Input should be a string")
        >>> error.field
        'article.tagList.0'
    """

    def __init__(self, loc: list[str | int], msg: str, type: str = "value_error") -> None:
        super().__init__(loc=loc, field=dotted_field(loc), msg=msg, type=type)

    @property
    def loc(self) -> list[str | int]:
        """The full location: the source, then each key or index."""
        loc: list[str | int] = self["loc"]
        return loc

    @property
    def field(self) -> str:
        """The location after the source, dotted: ``"article.tagList.0"``."""
        field: str = self["field"]
        return field

    @property
    def msg(self) -> str:
        """What is wrong, for a person."""
        msg: str = self["msg"]
        return msg

    @property
    def type(self) -> str:
        """What is wrong, for a program (``"missing"``, ``"unique"``...)."""
        kind: str = self["type"]
        return kind


def dotted_field(loc: list[str | int]) -> str:
    """The dotted field of a location: ``["body", "tags", 0]`` -> ``"tags.0"``.

    A location that is only a source (``["body"]``) gives the source.

    Example:
        >>> dotted_field(["query", "ids", 1])
        'ids.1'
    """
    if len(loc) <= 1:
        return str(loc[0]) if loc else ""
    return ".".join(str(part) for part in loc[1:])


class InvalidFields(HTTPException):
    """A 4xx whose body lists field errors: the base of every such exception.

    :class:`RequestValidationError` (422, bad input) and the database
    battery's ``IntegrityViolation`` (409/422, a violated constraint) are
    ones. Each has the same attributes, whatever raised it: ``status_code``,
    ``message`` (one sentence for the whole request), ``errors`` (a list of
    :class:`FieldError`) and ``headers``; ``detail`` is
    ``{"message": ..., "errors": [...]}``. An error handler or an
    ``error_envelope`` can therefore treat them all alike.

    Example:
        >>> raise InvalidFields(422, "Bad dates", [FieldError(["query", "from"], "Too early")])
    """

    def __init__(
        self,
        status_code: int,
        message: str,
        errors: list[FieldError],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message
        self.errors = errors
        super().__init__(status_code, {"message": message, "errors": errors}, headers)


class RequestValidationError(InvalidFields):
    """422: the request's path, query, headers, cookies or body did not validate.

    ``errors`` lists every field that failed, not just the first.

    Example:
        >>> raise RequestValidationError([FieldError(["query", "page"], "Must be positive")])
    """

    def __init__(self, errors: list[FieldError], message: str = "Validation failed") -> None:
        super().__init__(422, message, errors)


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
