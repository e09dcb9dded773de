"""How a handler's return value becomes the bytes sent to the client.

The rule (documented in docs/responses.md):

- ``Response`` objects are sent as they are;
- ``str`` is ``text/html`` (or the route's ``media_type``, e.g. ``text/plain``);
- ``bytes`` is ``application/octet-stream`` (or the route's ``media_type``);
- ``None`` is an empty ``204 No Content`` (or the route's ``status_code``);
- ``(body, status)`` and ``(body, status, headers)`` tuples set status and headers;
- anything else (dict, list, dataclass, pydantic model, msgspec Struct...) is JSON.

A route whose return annotation (or ``response_model=``) is a model type -- a
pydantic model, msgspec Struct, dataclass, or ``list[...]`` of one -- sends its
value *as that type*: see :func:`make_shaper`. This module is the one place
that turns a return value into a response: each route gets a compiled
:class:`Responder`; the endpoints send with it, the app's direct dispatch calls
its encoder and general path, and error handlers go through :func:`to_response`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, get_args, get_origin

import msgspec

from carboy import _json
from carboy.responses import DEFAULT_HEADERS_KEY, JSONResponse, Response
from carboy.types import Message, RawHeaders, Receive, Scope, Send

if TYPE_CHECKING:
    from pydantic import TypeAdapter

_JSON_TYPE = (b"content-type", b"application/json")


def _content_type(media_type: str) -> tuple[bytes, bytes]:
    if media_type.startswith("text/") and "charset" not in media_type:
        media_type += "; charset=utf-8"
    return (b"content-type", media_type.encode("latin-1"))


Shaper = Callable[[Any], bytes]


def _model_of(output: Any) -> tuple[Any, bool] | None:
    """(the model class, whether ``output`` is a list of it), or None if it is no model type."""
    from carboy.params._validation import is_model, strip_optional

    many = get_origin(output) in (list, tuple) and output is not None
    inner = get_args(output)[0] if many and get_args(output) else output
    inner = strip_optional(inner)
    if not isinstance(inner, type) or not is_model(inner):
        return None
    return inner, many


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def make_shaper(output: Any, *, convert: bool, exclude_none: bool = False) -> Shaper | None:
    """Compile the serializer of a route's output type, or None when it is not a model type.

    ``output`` is a pydantic model, msgspec Struct or dataclass, or a ``list[...]``
    of one. pydantic models and dataclasses go through a pydantic ``TypeAdapter``
    (aliases applied: ``by_alias=True``); Structs through msgspec (``rename=`` is
    the fast path); datetimes in carboy's one format (``_json``). ``convert``:
    the value is first converted to ``output``,
    reading attributes of any object (``response_model=``), which drops the
    fields ``output`` does not declare; otherwise only a value that is not already
    an instance is. ``exclude_none`` leaves ``None`` fields out.
    """
    found = _model_of(output)
    if found is None:
        return None
    model, many = found
    if isinstance(model, type) and issubclass(model, msgspec.Struct):
        target: Any = list[model] if many else model  # type: ignore[valid-type]
        dumps = _json.dumps_for(target)

        def shape_struct(rv: Any) -> bytes:
            if convert or not isinstance(rv, model if not many else list):
                rv = msgspec.convert(rv, target, from_attributes=True)
            if exclude_none:
                return _json.encode(_drop_none(_json.jsonable(rv)))
            return dumps(rv)

        return shape_struct
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(list[model] if many else model)  # type: ignore[valid-type]
    serializer = _json.pydantic_serializer(adapter)

    def shape(rv: Any) -> bytes:
        if convert or many or type(rv) is not model:
            rv = adapter.validate_python(rv, from_attributes=True)
        return serializer.to_json(rv, by_alias=True, exclude_none=exclude_none)

    return shape


def to_response(
    rv: Any,
    media_type: str | None = None,
    status_code: int | None = None,
    shape: Shaper | None = None,
) -> Response:
    """The :class:`Response` for any value a handler may return (the slow, general path).

    ``shape`` (from :func:`make_shaper`) serializes any value that is not a
    ``Response``, tuple or ``None``.
    """
    if isinstance(rv, Response):
        return rv
    if isinstance(rv, tuple):
        if not 2 <= len(rv) <= 3 or not isinstance(rv[1], int):
            raise TypeError(
                "A handler may return (body, status) or (body, status, headers); "
                f"got a tuple of {len(rv)} item(s)"
            )
        response = to_response(rv[0], media_type, rv[1], shape)
        response.status_code = rv[1]
        if len(rv) == 3:
            headers: Mapping[str, str] = rv[2]
            response.headers.update(headers)
        return response
    if rv is None:
        return Response(None, status_code or 204)
    if shape is not None:
        return Response(shape(rv), status_code or 200, media_type="application/json")
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


def make_encoder(
    media_type: str | None,
    status_code: int | None,
    *,
    head: bool = False,
    shape: Shaper | None = None,
    returns: Any = Any,
) -> Encoder:
    """Compile the fast encoder of one route: ``str``, ``dict`` and ``list`` values to the
    two ASGI messages, synchronously; None for anything else (see :func:`to_response`).

    The encoder takes the value and the app's default headers for the request's
    scheme. ``head=True`` compiles the HEAD variant: same headers, empty body.
    With ``shape`` (a route whose output is a model type), every value but a
    ``Response``, a tuple and ``None`` is serialized by it. ``returns`` is the
    handler's return annotation: one that cannot hold a datetime (``dict[str,
    str]``) skips the datetime check (see ``_json.dumps_for``).
    """
    text_type = _content_type(media_type or "text/html")
    status = status_code or 200
    encode_json = _json.encode
    # msgspec's own output is checked for datetimes (and redone) unless no value of
    # the return annotation can hold one; the check is inlined: this is the hot path.
    not_ours = None if _json.dumps_for(returns) is _json.encode else _json.not_ours
    lengths = _LENGTH_HEADERS
    if shape is not None:

        def encode_shaped(rv: Any, defaults: RawHeaders) -> Encoded | None:
            if rv is None or isinstance(rv, Response | tuple):
                return None
            body = shape(rv)
            length = len(body)
            return (
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        _JSON_TYPE,
                        lengths.get(length) or _length_header(length),
                        *defaults,
                    ],
                },
                {"type": "http.response.body", "body": b"" if head else body},
            )

        return encode_shaped

    def encode(rv: Any, defaults: RawHeaders) -> Encoded | None:
        kind = type(rv)
        if kind is str:
            body = rv.encode()
            ctype = text_type
        elif kind is dict or kind is list:
            body = encode_json(rv)
            if not_ours is not None and not_ours(body) is not None:
                body = _json.redo(rv)
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


#: A body with its ``content-type`` header: what :func:`make_renderer` gives.
Rendered = tuple[tuple[bytes, bytes], bytes]
Renderer = Callable[[Any], "Rendered | None"]


def make_renderer(
    media_type: str | None, *, shape: Shaper | None = None, returns: Any = Any
) -> Renderer:
    """Compile one route's renderer: a ``str``, ``dict`` or ``list`` value to its
    ``content-type`` header and body; None for anything else (see :func:`to_response`).

    The same rule as :func:`make_encoder`, for an interface that takes the
    status, the headers and the whole body in one call and counts the body's
    length itself (granian's RSGI). The ``content-type`` header is one of two
    objects per route (its text type, or JSON), so an adapter can key
    pre-built headers on it. A HEAD request renders the same: the server
    sends the length and no body.
    """
    text_type = _content_type(media_type or "text/html")
    encode_json = _json.encode
    not_ours = None if _json.dumps_for(returns) is _json.encode else _json.not_ours
    if shape is not None:

        def render_shaped(rv: Any) -> Rendered | None:
            if rv is None or isinstance(rv, Response | tuple):
                return None
            return _JSON_TYPE, shape(rv)

        return render_shaped

    def render(rv: Any) -> Rendered | None:
        kind = type(rv)
        if kind is str:
            return text_type, rv.encode()
        if kind is dict or kind is list:
            body = encode_json(rv)
            if not_ours is not None and not_ours(body) is not None:
                body = _json.redo(rv)
            return _JSON_TYPE, body
        return None

    return render


Sender = Callable[[Any, Scope, Receive, Send], Awaitable[None]]


class Responder(NamedTuple):
    """How one route's return values become responses: compiled once, at build.

    The fast encoders turn ``str``, ``dict`` and ``list`` values into the two
    ASGI messages (``render`` into a content type and a body, for RSGI);
    ``general`` is :func:`to_response` with the route's media type, status and
    shape bound, for everything else. The endpoints send with ``send``; the
    app's direct dispatch calls ``encode`` and ``general`` itself
    (one coroutine frame less per request).
    """

    #: A value -> the two ASGI messages, or None when ``general`` must make it.
    encode: Encoder
    #: ``encode`` for HEAD: same headers, empty body.
    encode_head: Encoder
    #: Any value -> its :class:`Response` (the slow, general path).
    general: Callable[[Any], Response]
    #: Sends any value: the fast encoder when it can, else ``general``.
    send: Sender
    #: A value -> its content-type header and body, or None (see :func:`make_renderer`).
    render: Renderer
    #: The status of a value the encoders and ``render`` take.
    status: int

    async def finish(self, rv: Any, scope: Scope, receive: Receive) -> Response:
        """The Response of ``rv`` with its body made now, while dependencies are still open.

        Run before cleanup, so a value that cannot be sent rolls back too, and a
        template body renders while the request's session is open (lazy loads
        work, inside SQLAlchemy's greenlet bridge for an ``AsyncSession``).
        """
        response = self.general(rv)
        prerender = getattr(response, "render_now", None)
        if prerender is not None:
            await prerender(scope, receive)
        return response

    def finish_sync(
        self, rv: Any, scope: Scope, receive: Receive, loop: asyncio.AbstractEventLoop
    ) -> Response:
        """:meth:`finish` in a ``def`` handler's worker thread (``loop``: the app's loop).

        A response with a ``render_in_thread(scope, receive, loop)`` method (a
        :class:`~carboy.templating.TemplateResponse`) renders here, where a sync
        session's lazy loads may block; one with only ``render_now`` renders on
        the loop while this thread waits.
        """
        response = self.general(rv)
        in_thread = getattr(response, "render_in_thread", None)
        if in_thread is not None:
            in_thread(scope, receive, loop)
        else:
            prerender = getattr(response, "render_now", None)
            if prerender is not None:
                asyncio.run_coroutine_threadsafe(prerender(scope, receive), loop).result()
        return response


def make_responder(
    media_type: str | None,
    status_code: int | None,
    shape: Shaper | None = None,
    returns: Any = Any,
) -> Responder:
    """Compile how one route's values become responses (its media type, status, shape
    and return annotation)."""
    encode = make_encoder(media_type, status_code, shape=shape, returns=returns)
    encode_head = make_encoder(media_type, status_code, head=True, shape=shape, returns=returns)
    general = functools.partial(
        to_response, media_type=media_type, status_code=status_code, shape=shape
    )

    async def send_value(rv: Any, scope: Scope, receive: Receive, send: Send) -> None:
        messages = (encode_head if scope["method"] == "HEAD" else encode)(
            rv, scope[DEFAULT_HEADERS_KEY]
        )
        if messages is None:
            await general(rv)(scope, receive, send)
        else:
            await send(messages[0])
            await send(messages[1])

    render = make_renderer(media_type, shape=shape, returns=returns)
    return Responder(encode, encode_head, general, send_value, render, status_code or 200)
