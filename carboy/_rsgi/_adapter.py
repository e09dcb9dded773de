"""The RSGI adapter: the native path of direct routes, and the hand-over to ASGI for the rest."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from carboy._lifespan import LifespanApp, serve_lifespan
from carboy._rsgi._bridges import HTTPBridge, WebSocketBridge, has_body, text_headers
from carboy._rsgi._protocol import (
    HTTPProtocol,
    RSGIScope,
    RSGIServedApp,
    TextHeaders,
    WebSocketProtocol,
)
from carboy.types import Message

logger = logging.getLogger("carboy.error")

#: The path parameters of every static route.
_NO_PARAMS: dict[str, Any] = {}


class RSGIAdapter:
    """Serves one app over RSGI: ``serve`` is ``app.__rsgi__``.

    Example:
        >>> adapter = RSGIAdapter(app)
        >>> adapter.init(loop)  # the lifespan's start-up (granian: __rsgi_init__)
        >>> await adapter.serve(scope, protocol)
    """

    __slots__ = (
        "_defaults",
        "_good_hosts",
        "_heads",
        "_hosts",
        "_lifespan",
        "_native",
        "_ready",
        "_static",
        "_tree",
        "app",
    )

    def __init__(self, app: RSGIServedApp) -> None:
        self.app = app
        self._ready = False
        #: The app is built and has no app-wide middleware: the native path may run.
        self._native = False
        self._static: dict[str, Any] = {}
        self._tree: Any = None
        self._hosts: Any = None
        #: Host values the Host check let through (as text: what granian gives).
        self._good_hosts: set[str] = set()
        #: The app's default headers as text: (over HTTP, over HTTPS).
        self._defaults: tuple[TextHeaders, TextHeaders] = ([], [])
        #: Pre-built response headers by content-type header: (over HTTP, over HTTPS).
        self._heads: tuple[dict[tuple[bytes, bytes], TextHeaders], ...] = ({}, {})
        self._lifespan: _Lifespan | None = None

    def prepare(self) -> None:
        """Build the app (once) and take what the native path reads."""
        app = self.app
        app.build()
        self._static = app._static
        self._tree = app._tree
        self._hosts = app._hosts
        self._defaults = (text_headers(app._http_headers), text_headers(app._https_headers))
        self._heads = ({}, {})
        self._native = app._direct
        self._ready = True

    async def serve(self, scope: RSGIScope, protocol: Any) -> None:
        """Serve one RSGI connection: an HTTP request or a WebSocket."""
        if self._native and scope.proto == "http":
            if self._hosts is not None:
                values = scope.headers.get_all("host")
                if len(values) != 1 or (
                    values[0] not in self._good_hosts and not self._allow_host(values[0])
                ):
                    await self._through_asgi(scope, protocol)  # the app answers 400
                    return
            path = scope.path
            entry = self._static.get(path)
            params = _NO_PARAMS  # a static path has none (never handed out: _after_direct)
            if entry is None:
                params = {}
                entry = self._tree.match(path, params)
            if entry is not None:
                method = scope.method
                direct = entry.direct.get(method)
                # A body the handler never reads: through ASGI, which drains it or closes.
                if direct is not None and (
                    method == "GET" or method == "HEAD" or not has_body(scope.headers)
                ):
                    func, takes_params, _, _, general, render, status = direct
                    try:
                        rv = await (func(**params) if takes_params else func())
                        rendered = render(rv)
                    except Exception as exc:
                        await self._after_direct(scope, protocol, params, None, None, exc)
                        return
                    if rendered is None:
                        await self._after_direct(scope, protocol, params, general, rv)
                        return
                    ctype, body = rendered
                    https = scope.scheme == "https"  # one read: each is a call into granian
                    headers = self._heads[https].get(ctype) or self._make_head(ctype, https)
                    protocol.response_bytes(status, headers, body)
                    return
            await self._through_asgi(scope, protocol)
        elif not self._ready:  # served before __rsgi_init__ (or without it): build now
            self.prepare()
            await self.serve(scope, protocol)
        elif scope.proto == "http":
            await self._through_asgi(scope, protocol)
        else:
            await self._websocket(scope, protocol)

    def _allow_host(self, host: str) -> bool:
        """The Host check of a value not seen yet; a good one is remembered (up to 64)."""
        if not self._hosts.allows_value(host.encode("latin-1")):
            return False
        if len(self._good_hosts) < 64:
            self._good_hosts.add(host)
        return True

    def _make_head(self, ctype: tuple[bytes, bytes], https: bool) -> TextHeaders:
        """The headers of a native response of this content type: made once, then reused."""
        head = [(ctype[0].decode("latin-1"), ctype[1].decode("latin-1")), *self._defaults[https]]
        self._heads[https][ctype] = head
        return head

    async def _after_direct(
        self,
        scope: RSGIScope,
        protocol: HTTPProtocol,
        params: dict[str, Any],
        general: Callable[[Any], Callable[..., Awaitable[None]]] | None,
        rv: Any,
        exc: Exception | None = None,
    ) -> None:
        """Send a direct handler's value that is not plain text or JSON (``general(rv)``,
        the route's :func:`~carboy.params.to_response`), or its error, over ASGI."""
        bridge = HTTPBridge(protocol, scope)
        asgi = bridge.scope
        self.app._fill_scope(asgi, {} if params is _NO_PARAMS else params)
        try:
            if general is not None:
                try:
                    await general(rv)(asgi, bridge.receive, bridge.send)
                    return
                except Exception as error:
                    exc = error
            if exc is not None:
                await self.app._handle_error(asgi, bridge.receive, bridge.send, exc)
        finally:
            bridge.finish()

    async def _through_asgi(self, scope: RSGIScope, protocol: HTTPProtocol) -> None:
        """Run the app as an ASGI app for one HTTP request."""
        bridge = HTTPBridge(protocol, scope)
        try:
            await self.app(bridge.scope, bridge.receive, bridge.send)
        finally:
            bridge.finish()

    async def _websocket(self, scope: RSGIScope, protocol: WebSocketProtocol) -> None:
        bridge = WebSocketBridge(protocol, scope)
        await self.app(bridge.scope, bridge.receive, bridge.send)

    # -- the lifespan: granian calls these with its loop, not yet running ------
    def init(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the app's start-up (``__rsgi_init__``); exit the worker if it fails."""
        lifespan = _Lifespan(self.app)
        failure = loop.run_until_complete(lifespan.startup())
        if failure is not None:
            logger.error("carboy refuses to serve: the start-up failed (%s)", failure)
            raise SystemExit(1)
        self._lifespan = lifespan
        self.prepare()

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        """Stop background work and run the shutdown hooks (``__rsgi_del__``)."""
        lifespan, self._lifespan = self._lifespan, None
        if lifespan is not None:
            loop.run_until_complete(lifespan.shutdown())


class _Lifespan:
    """Drives the app's ASGI lifespan (start-up, then shutdown) outside an ASGI server."""

    def __init__(self, app: LifespanApp) -> None:
        self.app = app
        self._inbox: asyncio.Queue[Message] | None = None
        self._outbox: asyncio.Queue[Message] | None = None
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> str | None:
        """Run the start-up hooks; the failure's message, if one failed."""
        inbox = self._inbox = asyncio.Queue()
        outbox = self._outbox = asyncio.Queue()
        inbox.put_nowait({"type": "lifespan.startup"})
        self._task = asyncio.get_running_loop().create_task(
            serve_lifespan(self.app, inbox.get, outbox.put)
        )
        message = await outbox.get()
        if message["type"] == "lifespan.startup.complete":
            return None
        await self._task
        return str(message.get("message", ""))

    async def shutdown(self) -> None:
        """Stop the background tasks, then run the shutdown hooks (failures are logged)."""
        if self._inbox is None or self._task is None:
            return
        self._inbox.put_nowait({"type": "lifespan.shutdown"})
        await self._task
