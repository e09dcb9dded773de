"""Dispatch past the fast path: what ``Carboy.__call__`` hands over when it has no endpoint.

``Carboy.__call__`` dispatches the common case itself (one dict lookup or one
tree walk, one method lookup, then the endpoint or the handler), and stays one
method so that a request costs one coroutine frame there. Everything else is
here: paths behind a ``root_path``, a lesser match that has the method, 405 and
automatic OPTIONS, mounts, trailing-slash redirects, 404; and WebSockets.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from carboy._table import Endpoints, RouteTable
from carboy.exceptions import HTTPException
from carboy.responses import RedirectResponse, Response
from carboy.types import ASGIApp, Receive, Scope, Send


async def unmatched_http(
    table: RouteTable,
    scope: Scope,
    receive: Receive,
    send: Send,
    entry: Endpoints | None,
    *,
    debug: bool,
) -> None:
    """Serve an HTTP request whose path matched nothing, or no endpoint for its method.

    ``entry`` is what the fast path matched on ``scope["path"]`` (None for nothing).
    Raises the 404 or 405 ``HTTPException`` the app's error handling answers.
    """
    method = scope["method"]
    path = route_path(scope)
    if entry is None and path != scope["path"]:
        # Behind a server's root_path (uvicorn --root-path), or mounted in another
        # app, "path" starts with "root_path": routes match what follows it.
        params: dict[str, Any] = {}
        entry = table.lookup(path, params)
        scope["path_params"] = params
        endpoint = entry.methods.get(method) if entry is not None else None
        if endpoint is not None:
            await endpoint(scope, receive, send)
            return
    if entry is not None:
        # The best match lacks this method; a lesser one may have it
        # (static GET /users/me, dynamic DELETE /users/{name}).
        allowed: set[str] = set()
        for other, other_params in table.lookup_all(path):
            endpoint = other.methods.get(method)
            if endpoint is not None:
                scope["path_params"] = other_params
                await endpoint(scope, receive, send)
                return
            allowed.update(other.methods)
        if allowed:
            allow = ", ".join(sorted(allowed | {"OPTIONS"}))
            if method == "OPTIONS":
                await Response(None, 204, {"allow": allow})(scope, receive, send)
                return
            raise HTTPException(405, f"Method {method} not allowed", {"allow": allow})
    mount = table.find_mount(path)
    if mount is not None:
        await call_mount(mount, scope, receive, send)
        return
    alternative = path[:-1] if path.endswith("/") and path != "/" else path + "/"
    found = None if alternative.startswith("//") else table.lookup(alternative, {})
    if found is not None and found.methods:
        location = quote(scope.get("root_path", "") + alternative)
        if scope.get("query_string"):
            location += "?" + scope["query_string"].decode("latin-1")
        await RedirectResponse(location, 308)(scope, receive, send)
        return
    raise HTTPException(404, f"No route matches {path!r}" if debug else "Not Found")


async def dispatch_websocket(table: RouteTable, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve a WebSocket handshake: its route, else a mount, else close with 1008."""
    path = route_path(scope)
    params: dict[str, Any] = {}
    entry = table.lookup(path, params)
    scope["path_params"] = params
    if entry is not None and entry.websocket is not None:
        await entry.websocket(scope, receive, send)
        return
    if entry is not None:
        for other, other_params in table.lookup_all(path):
            if other.websocket is not None:
                scope["path_params"] = other_params
                await other.websocket(scope, receive, send)
                return
    mount = table.find_mount(path)
    if mount is not None:
        await call_mount(mount, scope, receive, send)
        return
    await send({"type": "websocket.close", "code": 1008, "reason": "No such route"})


async def call_mount(
    mount: tuple[str, ASGIApp], scope: Scope, receive: Receive, send: Send
) -> None:
    """Call a mounted app with the mount's prefix added to ``root_path``."""
    prefix, app = mount
    scope["root_path"] = scope.get("root_path", "") + prefix
    await app(scope, receive, send)


def route_path(scope: Scope) -> str:
    """``scope["path"]`` without ``root_path`` in front (ASGI servers put it there)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :] or "/"
    return path
