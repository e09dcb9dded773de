"""What one request's plan works with: the connection and its lazily built objects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from carboy.exceptions import FieldError
from carboy.requests import Request
from carboy.types import Receive, Scope, Send


class Context:
    """What one request's plan works with: the connection and its lazily built objects."""

    __slots__ = (
        "_connection",
        "cache",
        "errors",
        "exits",
        "make_connection",
        "receive",
        "scope",
        "send",
    )

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        make_connection: Callable[[Scope, Receive, Send], Any] = Request,
    ) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.make_connection = make_connection
        self._connection: Any = None
        self.cache: dict[Any, Any] = {}
        self.errors: list[FieldError] = []
        self.exits: list[Any] = []

    @property
    def connection(self) -> Any:
        """The ``Request`` (or ``WebSocket``), built on first use."""
        if self._connection is None:
            self._connection = self.make_connection(self.scope, self.receive, self.send)
        return self._connection


#: Fetches one argument without I/O.
Extractor = Callable[[Context], Any]
#: Fetches one argument from the body (awaited).
BodyExtractor = Callable[[Context], Awaitable[Any]]
