"""Per-view caching: whole responses kept, with ``Vary``, ``ETag`` and ``Cache-Control``."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from carboy.middleware import Middleware
from carboy.types import ASGIApp, Message, RawHeaders, Receive, Scope, Send

if TYPE_CHECKING:
    from carboy.cache._cache import Cache

#: Responses larger than this pass through uncached (bytes).
DEFAULT_MAX_SIZE = 1024 * 1024

_NEVER_STORE = (b"private", b"no-store", b"no-cache")


def cache_page(
    ttl: float,
    *,
    vary: Sequence[str] = (),
    cache: Cache | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
) -> Middleware:
    """Middleware that serves a route's GET responses from the cache for ``ttl`` seconds.

    Put it on one route (``extra={"middleware": [cache_page(60)]}``) or on a
    router or module (``Module(..., middleware=[cache_page(60)])``). A cached
    response carries an ``ETag`` (a hash of its body) and
    ``Cache-Control: max-age=<ttl>`` unless the handler set its own;
    ``If-None-Match`` with that tag answers 304 with no body.

    Responses are stored per URL and per value of every request header the
    response names in ``Vary`` (plus the ``vary`` headers given here): a page
    that varies by ``Cookie`` or ``Accept-Language`` is kept once per value.
    Never stored: other methods than GET and HEAD, requests with an
    ``Authorization`` header, statuses other than 200, responses that set a
    cookie, say ``Cache-Control: private``/``no-store``/``no-cache`` or
    ``Vary: *``, and bodies over ``max_size`` bytes.

    Args:
        ttl: Seconds a response stays cached.
        vary: More request headers the response depends on.
        cache: The cache to use; defaults to the one installed with :class:`Caching`.
        max_size: Largest body kept, in bytes.

    Example:
        >>> @app.get("/posts", extra={"middleware": [cache_page(60)]})
        ... async def posts() -> list[dict[str, str]]: ...
    """
    return Middleware(
        CachePageMiddleware, ttl=ttl, vary=tuple(vary), cache=cache, max_size=max_size
    )


class CachePageMiddleware:
    """The ASGI middleware behind :func:`cache_page`; see there."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        ttl: float,
        vary: Sequence[str] = (),
        cache: Cache | None = None,
        max_size: int = DEFAULT_MAX_SIZE,
    ) -> None:
        if ttl <= 0:
            from carboy.exceptions import ConfigurationError

            raise ConfigurationError(f"cache_page({ttl!r}): the time to live must be positive")
        self.app = app
        self.ttl = ttl
        self.vary = tuple(h.lower() for h in vary)
        self.cache = cache
        self.max_size = max_size

    def _cache(self, scope: Scope) -> Cache:
        if self.cache is None:
            from carboy.cache._cache import Caching

            self.cache = scope["app"].get_module(Caching).cache
        return self.cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        headers = _request_headers(scope)
        if b"authorization" in headers:
            await self.app(scope, receive, send)
            return
        cache = self._cache(scope)
        url = _url_key(scope)
        names: list[str] | None = await cache.aget(f"view:vary:{url}")
        if names is not None:
            stored = await cache.aget(_page_key(url, names, headers))
            if stored is not None:
                await _replay(stored, scope, headers, send)
                return
        if scope["method"] == "HEAD":  # only a GET's body can be stored
            await self.app(scope, receive, send)
            return
        recorder = _Recorder(self, cache, url, headers, send)
        await self.app(scope, receive, recorder.send)
        await recorder.finish()


def _request_headers(scope: Scope) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        name = name.lower()
        found[name] = found[name] + b", " + value if name in found else value
    return found


def _url_key(scope: Scope) -> str:
    host = _request_headers(scope).get(b"host", b"")
    raw = b"%s://%s%s?%s" % (
        scope.get("scheme", "http").encode(),
        host,
        scope.get("raw_path") or scope["path"].encode(),
        scope.get("query_string", b""),
    )
    return hashlib.sha256(raw).hexdigest()


def _page_key(url: str, names: Sequence[str], headers: dict[bytes, bytes]) -> str:
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0" + headers.get(name.encode(), b"") + b"\0")
    return f"view:page:{url}:{digest.hexdigest()}"


def _header(headers: RawHeaders, name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _etag_matches(if_none_match: bytes | None, etag: bytes) -> bool:
    if if_none_match is None:
        return False
    if if_none_match.strip() == b"*":
        return True
    tags = [t.strip().removeprefix(b"W/") for t in if_none_match.split(b",")]
    return etag.removeprefix(b"W/") in tags


async def _replay(
    stored: tuple[int, RawHeaders, bytes],
    scope: Scope,
    request_headers: dict[bytes, bytes],
    send: Send,
) -> None:
    status, headers, body = stored
    etag = _header(headers, b"etag")
    if etag is not None and _etag_matches(request_headers.get(b"if-none-match"), etag):
        kept = [(k, v) for k, v in headers if k.lower() in (b"etag", b"cache-control", b"vary")]
        await send({"type": "http.response.start", "status": 304, "headers": kept})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


class _Recorder:
    """Holds a response back until it is complete, then stores and sends it."""

    def __init__(
        self,
        middleware: CachePageMiddleware,
        cache: Cache,
        url: str,
        request_headers: dict[bytes, bytes],
        send: Send,
    ) -> None:
        self.middleware = middleware
        self.cache = cache
        self.url = url
        self.request_headers = request_headers
        self._send = send
        self.start: Message | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.passing = False  # sending through unchanged: not cacheable
        self.complete = False

    def _cacheable(self, message: Message) -> bool:
        if message["status"] != 200:
            return False
        headers: RawHeaders = list(message.get("headers", ()))
        if _header(headers, b"set-cookie") is not None:
            return False
        control = (_header(headers, b"cache-control") or b"").lower()
        if any(word in control for word in _NEVER_STORE):
            return False
        return (_header(headers, b"vary") or b"").strip() != b"*"

    async def send(self, message: Message) -> None:
        if self.passing:
            await self._send(message)
            return
        if message["type"] == "http.response.start":
            if not self._cacheable(message):
                self.passing = True
                await self._send(message)
                return
            self.start = message
            return
        if message["type"] != "http.response.body":  # pragma: no cover - trailers, extensions
            await self._send(message)
            return
        body: bytes = message.get("body", b"")
        self.size += len(body)
        if self.size > self.middleware.max_size:
            await self._flush_unchanged(message)
            return
        self.chunks.append(body)
        if not message.get("more_body", False):
            self.complete = True

    async def _flush_unchanged(self, message: Message) -> None:
        self.passing = True
        if self.start is not None:  # a body before its start: pass it on as it came
            await self._send(self.start)
        if self.chunks:
            await self._send(
                {"type": "http.response.body", "body": b"".join(self.chunks), "more_body": True}
            )
        await self._send(message)

    async def finish(self) -> None:
        if self.passing or self.start is None or not self.complete:
            return
        body = b"".join(self.chunks)
        headers: RawHeaders = list(self.start.get("headers", ()))
        etag = _header(headers, b"etag")
        if etag is None:
            etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
            headers.append((b"etag", etag))
        if _header(headers, b"cache-control") is None:
            headers.append((b"cache-control", b"max-age=%d" % int(self.middleware.ttl)))
        names = sorted(
            set(self.middleware.vary)
            | {
                token.strip().lower().decode("latin-1")
                for token in (_header(headers, b"vary") or b"").split(b",")
                if token.strip()
            }
        )
        ttl = self.middleware.ttl
        await self.cache.aset(f"view:vary:{self.url}", names, ttl)
        stored: tuple[int, RawHeaders, bytes] = (self.start["status"], headers, body)
        await self.cache.aset(_page_key(self.url, names, self.request_headers), stored, ttl)
        start: dict[str, Any] = dict(self.start)
        start["headers"] = headers
        if _etag_matches(self.request_headers.get(b"if-none-match"), etag):
            kept = [(k, v) for k, v in headers if k.lower() in (b"etag", b"cache-control", b"vary")]
            await self._send({"type": "http.response.start", "status": 304, "headers": kept})
            await self._send({"type": "http.response.body", "body": b""})
            return
        await self._send(start)
        await self._send({"type": "http.response.body", "body": body})
