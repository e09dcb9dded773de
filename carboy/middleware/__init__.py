"""Pure-ASGI middleware, and :class:`Middleware` to declare it on an app or router.

Every middleware here is a class built as ``X(app, **options)`` that is
itself an ASGI app. Declare one with ``app.add_middleware(X, **options)``,
or ``Middleware(X, **options)`` in a ``middleware=[...]`` list of the app or
of a router.
"""

from __future__ import annotations

from typing import Any, ParamSpec, Protocol

from carboy.middleware.access_log import AccessLogMiddleware
from carboy.middleware.body_limit import BodyLimitMiddleware
from carboy.middleware.cors import CORSMiddleware
from carboy.middleware.gzip import GZipMiddleware
from carboy.middleware.hosts import TrustedHostMiddleware, host_allowed
from carboy.middleware.https import HTTPSRedirectMiddleware
from carboy.middleware.origins import TrustedOrigins, WebSocketOriginMiddleware, parse_origin
from carboy.middleware.proxy import ProxyHeadersMiddleware
from carboy.middleware.request_id import RequestIdMiddleware
from carboy.middleware.security import SecurityHeaders, SecurityHeadersMiddleware
from carboy.types import ASGIApp

__all__ = [
    "AccessLogMiddleware",
    "BodyLimitMiddleware",
    "CORSMiddleware",
    "GZipMiddleware",
    "HTTPSRedirectMiddleware",
    "Middleware",
    "ProxyHeadersMiddleware",
    "RequestIdMiddleware",
    "SecurityHeaders",
    "SecurityHeadersMiddleware",
    "TrustedHostMiddleware",
    "TrustedOrigins",
    "WebSocketOriginMiddleware",
    "host_allowed",
    "parse_origin",
]

_P = ParamSpec("_P")


class _MiddlewareFactory(Protocol[_P]):
    """Anything called as ``factory(app, *args, **kwargs)`` that returns an ASGI app."""

    def __call__(self, app: ASGIApp, /, *args: _P.args, **kwargs: _P.kwargs) -> ASGIApp: ...


class Middleware:
    """A middleware class and its options, to be wrapped around an app later.

    Type checkers check the options against the class's signature.

    Args:
        cls: The middleware class (or any factory called as ``cls(app, ...)``).
        *args: Positional options passed after the app.
        **kwargs: Keyword options.

    Example:
        >>> gzip = Middleware(GZipMiddleware, minimum_size=1000)
        >>> async def app(scope, receive, send): ...
        >>> wrapped = gzip.wrap(app)
    """

    __slots__ = ("args", "cls", "kwargs")

    def __init__(self, cls: _MiddlewareFactory[_P], /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        self.cls: _MiddlewareFactory[Any] = cls
        self.args: tuple[Any, ...] = args
        self.kwargs: dict[str, Any] = kwargs

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app`` wrapped in this middleware, built with its options.

        Example:
            >>> async def app(scope, receive, send): ...
            >>> Middleware(CORSMiddleware, allow_origins=["*"]).wrap(app)  # doctest: +ELLIPSIS
            <carboy.middleware.cors.CORSMiddleware object at ...>
        """
        return self.cls(app, *self.args, **self.kwargs)

    def __repr__(self) -> str:
        name = getattr(self.cls, "__name__", repr(self.cls))
        options = [repr(arg) for arg in self.args]
        options += [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return f"Middleware({', '.join([name, *options])})"
