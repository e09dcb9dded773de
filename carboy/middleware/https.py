"""Send plain-HTTP requests to the same URL over HTTPS (``https_redirect``)."""

from __future__ import annotations

from urllib.parse import quote

from carboy.middleware._headers import first_header
from carboy.responses import RedirectResponse
from carboy.types import ASGIApp, Receive, Scope, Send

#: 308 keeps the method and the body (a POST stays a POST), and is permanent.
REDIRECT_STATUS = 308


class HTTPSRedirectMiddleware:
    """Answer every ``http`` request with ``308 Permanent Redirect`` to its ``https`` URL.

    The path and the query string are kept; the host is the request's
    ``Host`` (a ``:80`` port is dropped). 308 is used for every method, so a
    ``POST`` is repeated as a ``POST`` rather than turned into a ``GET``.
    A plain ``ws://`` WebSocket is closed (code 1008) before it is accepted:
    browsers do not follow redirects there.

    Behind a TLS-terminating proxy the request reaches the app as plain
    HTTP; list the proxy in ``trusted_proxies`` so that its
    ``X-Forwarded-Proto: https`` (or ``Forwarded: proto=https``) marks the
    request secure, or this would redirect forever. Carboy applies it when
    ``Settings.https_redirect`` is on; add it yourself only to wrap another app.

    Args:
        app: The ASGI app to protect.

    Example:
        >>> async def app(scope, receive, send): ...
        >>> app = HTTPSRedirectMiddleware(app)
    """

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Redirect ``http``/``ws`` requests; pass ``https``/``wss`` ones on."""
        kind = scope["type"]
        scheme = scope.get("scheme")
        if kind == "http" and scheme == "http":
            await RedirectResponse(https_url(scope), REDIRECT_STATUS)(scope, receive, send)
        elif kind == "websocket" and scheme == "ws":
            await send({"type": "websocket.close", "code": 1008, "reason": "Use wss://"})
        else:
            await self.app(scope, receive, send)


def https_url(scope: Scope) -> str:
    """The ``https://`` URL of a request: same host (``:80`` dropped), path and query.

    Example:
        >>> https_url({"headers": [(b"host", b"example.com:80")], "path": "/a b",
        ...            "query_string": b"x=1"})
        'https://example.com/a%20b?x=1'
    """
    raw_host = first_header(scope.get("headers", ()), b"host")
    if raw_host is not None:
        host = raw_host.decode("latin-1")
    else:
        server = scope.get("server") or ("localhost", None)
        host = str(server[0])
    host = host.removesuffix(":80")
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope.get("path", "/"))
    url = f"https://{host}{path or '/'}"
    query: bytes = scope.get("query_string", b"")
    if query:
        url += "?" + query.decode("latin-1")
    return url
