"""What one request's plan works with: the connection and its lazily built objects."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

from carboy.concurrency import run_sync_in
from carboy.exceptions import FieldError
from carboy.requests import Request
from carboy.types import Receive, Scope, Send


class Context:
    """What one request's plan works with: the connection and its lazily built objects."""

    __slots__ = (
        "_connection",
        "_thread_context",
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
        self._thread_context: contextvars.Context | None = None

    @property
    def thread_context(self) -> contextvars.Context:
        """The context variables every sync step of this request runs in.

        Copied from the event loop's on first use, then kept: what a ``def``
        dependency sets (``on_commit``'s open transaction, say) the ``def``
        handler and the cleanups after it see; the event loop never does.
        """
        if self._thread_context is None:
            self._thread_context = contextvars.copy_context()
        return self._thread_context

    async def run_sync(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking step of this request in the thread pool, in :attr:`thread_context`."""
        return await run_sync_in(self.thread_context, func, *args)

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
