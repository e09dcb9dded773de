"""What granian hands an RSGI app: the scope, its headers, the protocol objects (as types)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Any, Protocol

from carboy._lifespan import LifespanApp
from carboy.types import RawHeaders, Receive, Scope, Send

TextHeaders = list[tuple[str, str]]


# -- what granian hands over (see granian's _granian.pyi) ---------------------
class RSGIHeaders(Protocol):
    """The request headers of an RSGI scope (lower-case names, text values)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def get_all(self, key: str) -> list[str]: ...

    def items(self) -> list[tuple[str, str]]: ...

    def __contains__(self, key: str) -> bool: ...


class RSGIScope(Protocol):
    """An RSGI connection scope (``proto`` is ``"http"`` or ``"ws"``)."""

    proto: str
    http_version: str
    server: str
    client: str
    scheme: str
    method: str
    path: str
    query_string: str
    authority: str | None

    @property
    def headers(self) -> RSGIHeaders: ...


class StreamTransport(Protocol):
    """What ``response_stream`` returns."""

    async def send_bytes(self, data: bytes) -> None: ...


class HTTPProtocol(Protocol):
    """The RSGI HTTP protocol object: the request body in, one response out."""

    def __call__(self) -> Awaitable[bytes]: ...

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    def client_disconnect(self) -> Awaitable[None]: ...

    def response_bytes(self, status: int, headers: TextHeaders, body: bytes) -> None: ...

    def response_file(self, status: int, headers: TextHeaders, file: str) -> None: ...

    def response_stream(self, status: int, headers: TextHeaders) -> StreamTransport: ...


class WebSocketMessage(Protocol):
    """One message from the client: ``kind`` 0 (closed), 1 (bytes) or 2 (text)."""

    kind: int
    data: bytes | str


class WebSocketTransport(Protocol):
    """What ``accept()`` returns."""

    async def receive(self) -> WebSocketMessage: ...

    async def send_bytes(self, data: bytes) -> None: ...

    async def send_str(self, data: str) -> None: ...


class WebSocketProtocol(Protocol):
    """The RSGI WebSocket protocol object."""

    def accept(self) -> Awaitable[WebSocketTransport]: ...

    def close(self, status: int | None) -> object: ...


class RSGIServedApp(LifespanApp, Protocol):
    """What the adapter reads of the app once it is built (``app.py`` imports this
    module, not the reverse)."""

    _direct: bool
    _static: dict[str, Any]
    _tree: Any
    _hosts: Any
    _http_headers: RawHeaders
    _https_headers: RawHeaders

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...

    def _fill_scope(self, scope: Scope, params: dict[str, Any]) -> None: ...

    async def _handle_error(
        self, scope: Scope, receive: Receive, send: Send, exc: Exception
    ) -> None: ...


class ClientDisconnected(OSError):
    """Sending failed because the client has gone (what ASGI servers raise, an OSError)."""
