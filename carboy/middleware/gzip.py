"""Compress responses with gzip for clients that accept it."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from carboy.exceptions import ConfigurationError
from carboy.middleware._headers import add_vary, check_names, copy_response_headers, first_header
from carboy.types import ASGIApp, Message, RawHeaders, Receive, Scope, Send

# zlib's window bits for a gzip container (16 + 15).
_GZIP_WBITS = 31
# Browsers send a handful of distinct Accept-Encoding values; remember that
# many verdicts so the usual request skips parsing (bounded against forgery).
_ACCEPT_CACHE_SIZE = 32


def _accepts_gzip(value: bytes) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip;q=0`` refuses it)."""
    star: bool | None = None
    for item in value.lower().split(b","):
        coding, _, params = item.partition(b";")
        coding = coding.strip()
        if coding != b"gzip" and coding != b"*":
            continue
        acceptable = True
        for param in params.split(b";"):
            name, _, q = param.partition(b"=")
            if name.strip() == b"q":
                try:
                    acceptable = float(q) > 0
                except ValueError:
                    acceptable = False
        if coding == b"gzip":
            return acceptable
        star = acceptable
    return bool(star)


class GZipMiddleware:
    """Gzip response bodies for clients whose ``Accept-Encoding`` allows it.

    A whole-body response is compressed when it has at least
    ``minimum_size`` bytes; a streaming one (sent in several parts) is
    compressed part by part as it goes, each part flushed so the client gets
    it without waiting for the next. Left alone: responses already encoded,
    media types in ``exclude_media_types`` (server-sent events by default:
    buffering would hold events back), partial content (206), ``HEAD``
    requests and responses marked ``Cache-Control: no-transform``.

    A compressed response gets ``Content-Encoding: gzip``, ``Vary:
    Accept-Encoding``, the new ``Content-Length`` (none when streaming) and a
    weak ``ETag``, as its bytes differ from the uncompressed ones.

    Args:
        app: The ASGI app to wrap.
        minimum_size: Smallest body, in bytes, worth compressing.
        compresslevel: zlib level, 1 (fastest) to 9 (smallest).
        exclude_media_types: Media types never compressed; ``"image/*"`` style allowed.

    Raises:
        ConfigurationError: An option is out of range.

    Example:
        >>> async def site(scope, receive, send): ...
        >>> site = GZipMiddleware(site, minimum_size=1000, compresslevel=5)
    """

    __slots__ = (
        "_accept_cache",
        "_excluded",
        "_excluded_families",
        "app",
        "compresslevel",
        "minimum_size",
    )

    def __init__(
        self,
        app: ASGIApp,
        *,
        minimum_size: int = 500,
        compresslevel: int = 6,
        exclude_media_types: Sequence[str] = ("text/event-stream",),
    ) -> None:
        if isinstance(minimum_size, bool) or not isinstance(minimum_size, int) or minimum_size < 0:
            raise ConfigurationError(
                f"minimum_size must be a whole number of bytes >= 0, got {minimum_size!r}"
            )
        if isinstance(compresslevel, bool) or compresslevel not in range(1, 10):
            raise ConfigurationError(f"compresslevel must be 1 to 9, got {compresslevel!r}")
        excluded = [
            name.lower() for name in check_names("exclude_media_types", exclude_media_types)
        ]
        self.app = app
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel
        self._excluded = frozenset(name.encode("ascii") for name in excluded if "*" not in name)
        self._excluded_families = tuple(
            name.removesuffix("*").encode("ascii") for name in excluded if name.endswith("/*")
        )
        self._accept_cache: dict[bytes, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, compressing its response if the client and response allow it."""
        if scope["type"] != "http" or scope.get("method") == "HEAD":
            await self.app(scope, receive, send)
            return
        accept = first_header(scope["headers"], b"accept-encoding")
        if accept is None or not self._accepts_gzip(accept):
            await self.app(scope, receive, send)
            return
        await _GZipResponder(self, send).run(scope, receive)

    def _accepts_gzip(self, accept: bytes) -> bool:
        verdict = self._accept_cache.get(accept)
        if verdict is None:
            verdict = _accepts_gzip(accept)
            if len(self._accept_cache) < _ACCEPT_CACHE_SIZE:
                self._accept_cache[accept] = verdict
        return verdict

    def _compressible(self, status: int, headers: RawHeaders) -> bool:
        """Whether a response with this status and these headers may be compressed."""
        if status < 200 or status in (204, 206, 304):
            return False
        for key, value in headers:
            if key == b"content-encoding" or key == b"content-range":
                return False
            if key == b"content-type":
                media_type = value.partition(b";")[0].strip().lower()
                if media_type in self._excluded or media_type.startswith(self._excluded_families):
                    return False
            elif key == b"content-length":
                if value.strip().isdigit() and int(value) < self.minimum_size:
                    return False
            elif key == b"cache-control" and b"no-transform" in value.lower():
                return False
        return True


class _GZipResponder:
    """One response on its way through :class:`GZipMiddleware`.

    The response start is held back until the first body part shows
    whether the body is whole (compress it if big enough) or streamed
    (compress as it goes).
    """

    __slots__ = ("_compressor", "_middleware", "_send", "_start", "_state")

    def __init__(self, middleware: GZipMiddleware, send: Send) -> None:
        self._middleware = middleware
        self._send = send
        self._start: Message | None = None
        self._state = "start"  # then "pass", "stream" or "done"
        self._compressor: zlib._Compress | None = None

    async def run(self, scope: Scope, receive: Receive) -> None:
        await self._middleware.app(scope, receive, self.send)
        if self._start is not None:  # the app never sent a body; pass on what it sent
            await self._send(self._start)

    async def send(self, message: Message) -> None:
        state = self._state
        if state == "pass":
            await self._send(message)
            return
        kind = message["type"]
        if state == "start":
            if kind != "http.response.start":
                await self._send(message)
                return
            headers = copy_response_headers(message.get("headers", ()))
            if self._middleware._compressible(message["status"], headers):
                self._start = {**message, "headers": headers}
                self._state = "body"
            else:
                self._state = "pass"
                await self._send(message)
            return
        if kind != "http.response.body":
            # Trailers, or a server extension such as a path send: not ours to
            # compress, so the held start goes out unchanged.
            await self._flush_start_unchanged()
            self._state = "pass"
            await self._send(message)
            return
        body: bytes = message.get("body", b"")
        more_body: bool = message.get("more_body", False)
        if state == "body":
            await self._first_body(body, more_body)
        elif state == "stream":
            await self._stream_body(body, more_body)
        # state "done": the app sent more after its last part; nothing is left to send.

    async def _flush_start_unchanged(self) -> None:
        start, self._start = self._start, None
        if start is not None:
            await self._send(start)

    async def _first_body(self, body: bytes, more_body: bool) -> None:
        start, self._start = self._start, None
        if start is None:  # pragma: no cover - the "body" state always holds a start
            raise RuntimeError("GZipMiddleware lost the response start")
        middleware = self._middleware
        if not more_body:
            self._state = "done"
            if len(body) < middleware.minimum_size:
                await self._send(start)
                await self._send({"type": "http.response.body", "body": body})
                return
            compressor = zlib.compressobj(middleware.compresslevel, zlib.DEFLATED, _GZIP_WBITS)
            data = compressor.compress(body) + compressor.flush()
            start["headers"] = _gzip_headers(start["headers"], len(data))
            await self._send(start)
            await self._send({"type": "http.response.body", "body": data})
            return
        self._state = "stream"
        self._compressor = zlib.compressobj(middleware.compresslevel, zlib.DEFLATED, _GZIP_WBITS)
        start["headers"] = _gzip_headers(start["headers"], None)
        await self._send(start)
        await self._stream_body(body, more_body)

    async def _stream_body(self, body: bytes, more_body: bool) -> None:
        compressor = self._compressor
        if compressor is None:  # pragma: no cover - the "stream" state always has one
            raise RuntimeError("GZipMiddleware lost its compressor")
        if more_body:
            if body:
                await self._send(
                    {
                        "type": "http.response.body",
                        "body": compressor.compress(body) + compressor.flush(zlib.Z_SYNC_FLUSH),
                        "more_body": True,
                    }
                )
            return
        self._state = "done"
        data = compressor.compress(body) + compressor.flush()
        await self._send({"type": "http.response.body", "body": data})


def _gzip_headers(headers: RawHeaders, length: int | None) -> RawHeaders:
    """The response headers for a gzipped body of ``length`` bytes (``None``: streamed)."""
    result: RawHeaders = []
    for key, value in headers:
        if key == b"content-length":
            continue
        if key == b"etag" and not value.startswith(b"W/"):
            value = b"W/" + value
        result.append((key, value))
    result.append((b"content-encoding", b"gzip"))
    if length is not None:
        result.append((b"content-length", str(length).encode("ascii")))
    add_vary(result, b"Accept-Encoding")
    return result
