"""Responses: in-memory, streaming, server-sent events and files."""

from carboy.responses._base import (
    DEFAULT_HEADERS_KEY,
    STARTED_KEY,
    HTMLResponse,
    JSONResponse,
    MountGuard,
    PlainTextResponse,
    RedirectResponse,
    Response,
    status_phrase,
    with_default_headers,
)
from carboy.responses._file import FileResponse
from carboy.responses._streaming import EventSourceResponse, ServerSentEvent, StreamingResponse

__all__ = [
    "DEFAULT_HEADERS_KEY",
    "STARTED_KEY",
    "EventSourceResponse",
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "MountGuard",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "ServerSentEvent",
    "StreamingResponse",
    "status_phrase",
    "with_default_headers",
]
