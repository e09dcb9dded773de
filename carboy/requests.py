"""The HTTP request: everything is parsed lazily, on first read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from carboy import _json
from carboy._forms import FormLimits, check_form, parse_multipart, parse_urlencoded
from carboy.connections import HTTPConnection
from carboy.datastructures import FormData, Headers
from carboy.exceptions import HTTPException
from carboy.types import Receive, Scope, Send

if TYPE_CHECKING:
    pass


#: Used when a request is built outside a carboy app (plain ASGI use).
DEFAULT_MAX_BODY = 10 * 1024 * 1024

#: Scope key of what was read of the request body (:class:`ReadBody`). Every
#: :class:`Request` of one request shares it, so middleware that reads the form
#: (the CSRF check of ``carboy.auth``) leaves it parsed for the handler: one
#: parse, and the body stream is not asked twice.
BODY_KEY = "carboy.body"


class ReadBody:
    """What was read of one request's body, shared by its :class:`Request` objects.

    Attributes:
        content: The whole body, once something read it with ``body()``.
        form: The parsed form, once something read it with ``form()``.
        limits: The :class:`FormLimits` the form was parsed within.
        consumed: True once the body stream was read (by ``stream()``, ``body()``
            or ``form()``): it cannot be read again from the server.
    """

    __slots__ = ("consumed", "content", "form", "limits")

    def __init__(self) -> None:
        self.content: bytes | None = None
        self.form: FormData | None = None
        self.limits: FormLimits | None = None
        self.consumed = False


async def _no_receive() -> dict[str, Any]:
    raise RuntimeError("This request has no body stream (receive was not given)")


class HtmxDetails:
    """What htmx tells the server about a request (``HX-*`` headers).

    Truthy when the request was made by htmx.

    Example:
        >>> if request.htmx: ...  # render a partial
    """

    __slots__ = ("_headers",)

    def __init__(self, headers: Headers) -> None:
        self._headers = headers

    def __bool__(self) -> bool:
        return bool(self._headers.get("hx-request") == "true")

    def _get(self, name: str) -> str | None:
        value: str | None = self._headers.get(name)
        return value

    boosted = property(lambda self: self._get("hx-boosted") == "true", doc="From hx-boost.")
    target = property(lambda self: self._get("hx-target"), doc="Id of the target element.")
    trigger = property(lambda self: self._get("hx-trigger"), doc="Id of the triggering element.")
    trigger_name = property(lambda self: self._get("hx-trigger-name"), doc="Its name.")
    current_url = property(lambda self: self._get("hx-current-url"), doc="The browser's URL.")
    history_restore = property(
        lambda self: self._get("hx-history-restore-request") == "true",
        doc="A history restore after a cache miss.",
    )


class Request(HTTPConnection):
    """An incoming HTTP request.

    Handlers ask for it by type (``request: Request``); most never need it,
    because typed parameters bring path, query, header, cookie and body values.

    Example:
        >>> @app.post("/echo")
        ... async def echo(request: Request) -> dict:
        ...     return {"got": await request.json(), "ua": request.headers.get("user-agent")}
    """

    __slots__ = (
        "_json",
        "_read",
        "_receive",
        "_send",
    )

    def __init__(self, scope: Scope, receive: Receive = _no_receive, send: Send | None = None):
        super().__init__(scope)
        self._receive = receive
        self._send = send
        self._json: Any = _UNSET
        self._read: ReadBody | None = None

    # -- what was asked ------------------------------------------------
    @property
    def method(self) -> str:
        """``GET``, ``POST``..."""
        method: str = self.scope["method"]
        return method

    @property
    def content_type(self) -> str:
        """The media type of the body, without parameters (``application/json``)."""
        value: str = self.headers.get("content-type", "")
        return value.partition(";")[0].strip().lower()

    @property
    def htmx(self) -> HtmxDetails:
        """htmx details; truthy for requests made by htmx."""
        return HtmxDetails(self.headers)

    # -- the body ------------------------------------------------------
    def _shared(self) -> ReadBody:
        """What was read of the body so far, by this or another Request of the request."""
        read = self._read
        if read is None:
            read = self.scope.get(BODY_KEY)
            if not isinstance(read, ReadBody):
                read = self.scope[BODY_KEY] = ReadBody()
            self._read = read
        return read

    def _max_body(self) -> int:
        limit = self.scope.get("carboy.max_body")
        if limit is not None:
            return int(limit)
        app = self.scope.get("app")
        return int(getattr(app, "max_body_size", DEFAULT_MAX_BODY))

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the body in chunks as they arrive; 413 past the body limit.

        The limit is checked against ``Content-Length`` before anything is read,
        and against the bytes actually received while streaming.
        """
        read = self._shared()
        if read.content is not None:
            yield read.content
            return
        if read.consumed:
            raise RuntimeError(
                "The request body was already read as a stream"
                + (" (parsed as a form: use request.form())" if read.form is not None else "")
            )
        read.consumed = True
        limit = self._max_body()
        declared = self.headers.get("content-length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):  # "²".isdigit() is True
                raise HTTPException(400, "Content-Length is not a number")
            # int() refuses strings of more than 4300 digits; 20 digits already
            # exceed any body that exists.
            significant = declared.lstrip("0") or "0"
            if len(significant) > 20 or int(significant) > limit:
                raise HTTPException(413, f"Request body exceeds {limit} bytes")
        received = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise HTTPException(400, "Client disconnected before the body was complete")
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                raise HTTPException(413, f"Request body exceeds {limit} bytes")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                break

    async def body(self) -> bytes:
        """The whole body as bytes (read once, then cached)."""
        read = self._shared()
        if read.content is None:
            chunks = [chunk async for chunk in self.stream()]
            read.content = b"".join(chunks)
        return read.content

    async def json(self) -> Any:
        """The body parsed as JSON; 400 with the parser's message if it is malformed."""
        if self._json is _UNSET:
            body = await self.body()
            if not body:
                raise HTTPException(400, "Expected a JSON body, got an empty body")
            try:
                self._json = _json.loads(body)
            except _json.DecodeError as exc:
                raise HTTPException(400, f"Malformed JSON body: {exc}") from None
            except RecursionError:
                raise HTTPException(400, "Malformed JSON body: nested too deeply") from None
        return self._json

    async def form(self, *, limits: FormLimits | None = None) -> FormData:
        """The body parsed as a form (urlencoded or multipart); files spool to disk.

        Both kinds are parsed while the body streams in, within ``limits`` (by
        default the app's :attr:`~carboy.Carboy.form_limits`): 413 past a limit,
        415 for any other content type and 400 for a malformed body.

        The form is parsed once per request: a later call, from this or another
        ``Request`` of the same request (middleware that read the form first),
        gets the same :class:`~carboy.datastructures.FormData`, checked again
        against its own ``limits`` when they differ from those it was parsed with.
        """
        if limits is None:
            app = self.scope.get("app")
            found = getattr(app, "form_limits", None)
            limits = found if isinstance(found, FormLimits) else FormLimits()
        read = self._shared()
        form = read.form
        if form is not None:
            if read.limits != limits:
                check_form(form, limits)
            return form
        ctype = self.content_type
        if ctype == "multipart/form-data":
            raw_ctype = self.headers.get("content-type", "").encode("latin-1")
            form = await parse_multipart(raw_ctype, self.stream(), limits)
        elif ctype in ("application/x-www-form-urlencoded", ""):
            form = await parse_urlencoded(self.stream(), limits)
        else:
            raise HTTPException(415, f"Expected a form body, got Content-Type {ctype!r}")
        read.form, read.limits = form, limits
        return form

    async def close(self) -> None:
        """Release uploaded files."""
        read = self._read
        if read is not None and read.form is not None:
            await read.form.close()

    async def is_disconnected(self) -> bool:
        """Whether the client has gone away (only meaningful once the body is read)."""
        import asyncio

        try:
            async with asyncio.timeout(0.000001):
                message = await self._receive()
        except TimeoutError:
            return False
        return bool(message.get("type") == "http.disconnect")

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


class _Unset:
    pass


_UNSET: Any = _Unset()
