"""How a handler's return value becomes the bytes sent to the client.

The rule (documented in docs/responses.md):

- ``Response`` objects are sent as they are;
- ``str`` is ``text/html`` (or the route's ``media_type``, e.g. ``text/plain``);
- ``bytes`` is ``application/octet-stream`` (or the route's ``media_type``);
- ``None`` is an empty ``204 No Content`` (or the route's ``status_code``);
- ``(body, status)`` and ``(body, status, headers)`` tuples set status and headers;
- anything else (dict, list, dataclass, pydantic model, msgspec Struct...) is JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from carboy import _json
from carboy.responses import DEFAULT_HEADERS_KEY, JSONResponse, Response
from carboy.types import Message, RawHeaders, Receive, Scope, Send

Responder = Callable[[Any, Scope, Receive, Send], Awaitable[None]]

_JSON_TYPE = (b"content-type", b"application/json")


def _content_type(media_type: str) -> tuple[bytes, bytes]:
    if media_type.startswith("text/") and "charset" not in media_type:
        media_type += "; charset=utf-8"
    return (b"content-type", media_type.encode("latin-1"))


def to_response(rv: Any, media_type: str | None = None, status_code: int | None = None) -> Response:
    """The :class:`Response` for any value a handler may return (the slow, general path)."""
    if isinstance(rv, Response):
        return rv
    if isinstance(rv, tuple):
        if not 2 <= len(rv) <= 3 or not isinstance(rv[1], int):
            raise TypeError(
                "A handler may return (body, status) or (body, status, headers); "
                f"got a tuple of {len(rv)} item(s)"
            )
        response = to_response(rv[0], media_type, rv[1])
        response.status_code = rv[1]
        if len(rv) == 3:
            headers: Mapping[str, str] = rv[2]
            response.headers.update(headers)
        return response
    if rv is None:
        return Response(None, status_code or 204)
    if isinstance(rv, str):
        return Response(rv, status_code or 200, media_type=media_type or "text/html")
    if isinstance(rv, bytes | bytearray | memoryview):
        return Response(
            bytes(rv), status_code or 200, media_type=media_type or "application/octet-stream"
        )
    return JSONResponse(rv, status_code or 200)


Encoded = tuple[Message, Message]
Encoder = Callable[[Any, RawHeaders], "Encoded | None"]

#: ``content-length`` header pairs by length, made once each (up to 64 KiB bodies).
_LENGTH_HEADERS: dict[int, tuple[bytes, bytes]] = {}
_LENGTH_CACHE_LIMIT = 65_536


def _length_header(length: int) -> tuple[bytes, bytes]:
    header = (b"content-length", b"%d" % length)
    if length < _LENGTH_CACHE_LIMIT:
        _LENGTH_HEADERS[length] = header
    return header


def make_encoder(media_type: str | None, status_code: int | None, *, head: bool = False) -> Encoder:
    """Compile the fast encoder of one route: ``str``, ``dict`` and ``list`` values to the
    two ASGI messages, synchronously; None for anything else (see :func:`to_response`).

    The encoder takes the value and the app's default headers for the request's
    scheme. ``head=True`` compiles the HEAD variant: same headers, empty body.
    """
    text_type = _content_type(media_type or "text/html")
    status = status_code or 200
    lengths = _LENGTH_HEADERS

    def encode(rv: Any, defaults: RawHeaders) -> Encoded | None:
        kind = type(rv)
        if kind is str:
            body = rv.encode()
            ctype = text_type
        elif kind is dict or kind is list:
            body = _json.dumps(rv)
            ctype = _JSON_TYPE
        else:
            return None
        length = len(body)
        return (
            {
                "type": "http.response.start",
                "status": status,
                "headers": [ctype, lengths.get(length) or _length_header(length), *defaults],
            },
            {"type": "http.response.body", "body": b"" if head else body},
        )

    return encode


def make_responder(media_type: str | None, status_code: int | None) -> Responder:
    """Compile the return-value sender for one route (its media type and status fixed)."""
    encode = make_encoder(media_type, status_code)
    encode_head = make_encoder(media_type, status_code, head=True)

    async def respond(rv: Any, scope: Scope, receive: Receive, send: Send) -> None:
        messages = (encode_head if scope["method"] == "HEAD" else encode)(
            rv, scope[DEFAULT_HEADERS_KEY]
        )
        if messages is None:
            await to_response(rv, media_type, status_code)(scope, receive, send)
        else:
            await send(messages[0])
            await send(messages[1])

    return respond
