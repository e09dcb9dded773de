"""Rate limits of an API: carboy.cache's :class:`~carboy.cache.Throttle` on its routes.

``API(throttle="100/minute")`` (or a ``Throttle``) gives each client one quota
over the API's routes; a route or resource action with its own throttle
(``extra={"throttle": "5/minute"}``, ``Resource(throttles={"create": ...})``)
counts on that quota instead, and ``None`` there leaves it unthrottled. A
client is the authenticated user (or personal access token) when there is
one, else its address as the core resolved it (``settings.trusted_proxies``).

Every answer of a throttled route carries the IETF RateLimit fields
(draft-ietf-httpapi-ratelimit-headers)::

    RateLimit-Policy: "api";q=100;w=60
    RateLimit: "api";r=42;t=17

and past the quota the answer is a 429 in ``application/problem+json``
with ``Retry-After``. The throttle runs as route middleware: the handler,
the body parsing and the database never run for a refused request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from carboy.cache import Rate, Throttle, Throttled, ThrottleResult, client_ip
from carboy.connections import HTTPConnection
from carboy.exceptions import ConfigurationError
from carboy.identity import AUTH_KEY, USER_KEY
from carboy.middleware import Middleware
from carboy.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.routing import RouteInfo

#: The ``extra`` key of a route's own throttle (a rate, a Throttle, or None for none).
THROTTLE_KEY = "throttle"
_TOKEN = re.compile(r"[^A-Za-z0-9_.:-]")

#: What a throttle may be given as: a rate (``"10/minute"``), a Rate, or a Throttle.
ThrottleSpec = str | Rate | Throttle


def api_client(conn: HTTPConnection) -> str:
    """The client a request counts for: its access token, else its user, else its address.

    Example:
        >>> api_client(request)
        'user:42'
    """
    auth = conn.scope.get(AUTH_KEY)
    token = getattr(auth, "token", None)
    if token is not None and getattr(token, "key", None):
        return f"token:{token.key}"
    user = conn.scope.get(USER_KEY)
    if user is not None and getattr(user, "is_authenticated", False):
        ident = getattr(user, "pk", None)
        if ident is None:
            ident = getattr(user, "id", None)
        if ident is not None:
            return f"user:{ident}"
        return f"user:{user.display_name}"
    return f"ip:{client_ip(conn)}"


def make_throttle(spec: ThrottleSpec, scope: str) -> Throttle:
    """A :class:`Throttle` from a rate or a Throttle; a rate counts per :func:`api_client`.

    Raises:
        ConfigurationError: ``spec`` is none of these.
    """
    if isinstance(spec, Throttle):
        return spec
    if isinstance(spec, str | Rate):
        return Throttle(spec, key=api_client, scope=scope)
    raise ConfigurationError(
        f"throttle {spec!r} ({scope}): give a rate such as '100/minute', a "
        "carboy.cache.Throttle, or None for no throttle"
    )


def policy_name(throttle: Throttle) -> str:
    """The policy's name in the RateLimit fields: the throttle's scope, as a safe string."""
    return _TOKEN.sub("_", throttle.scope)


def policy_field(throttle: Throttle) -> str:
    """``RateLimit-Policy``'s value: ``"<name>";q=<quota>;w=<window seconds>``."""
    return f'"{policy_name(throttle)}";q={throttle.rate.limit};w={throttle.rate.seconds}'


def ratelimit_field(throttle: Throttle, result: ThrottleResult) -> str:
    """``RateLimit``'s value: ``"<name>";r=<remaining>;t=<seconds until the window resets>``."""
    reset = max(0, -int(-result.reset_after // 1))  # whole seconds, rounded up
    return f'"{policy_name(throttle)}";r={result.remaining};t={reset}'


class ThrottleMiddleware:
    """Counts each request of one route on ``throttle``; 429 past it, RateLimit fields always.

    A request whose key is None (``Throttle(key=...)`` said so) goes through
    uncounted and without the fields.
    """

    def __init__(self, app: ASGIApp, throttle: Throttle) -> None:
        self.app = app
        self.throttle = throttle
        self.policy = policy_field(throttle)
        self._policy_bytes = self.policy.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        throttle = self.throttle
        key = throttle.key(conn)
        if key is None:
            await self.app(scope, receive, send)
            return
        result = await throttle.ahit(key, cache=throttle.cache_for(conn))
        current = ratelimit_field(throttle, result)
        if not result.allowed:
            refused = Throttled(result.retry_after)
            refused.headers.update({"RateLimit-Policy": self.policy, "RateLimit": current})
            raise refused
        fields = [
            (b"ratelimit-policy", self._policy_bytes),
            (b"ratelimit", current.encode("latin-1")),
        ]

        async def send_with_fields(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *fields]}
            await send(message)

        await self.app(scope, receive, send_with_fields)


class APIThrottles:
    """Which throttle each of an API's routes counts on: the factory of its route middleware."""

    def __init__(self, default: Throttle | None, owns: Any) -> None:
        self.default = default
        self._owns = owns
        self._routes: dict[str, Throttle] = {}
        self._app: Carboy | None = None

    def for_route(self, info: RouteInfo) -> Throttle | None:
        """The route's own throttle when its ``extra`` names one (None: none), else the API's."""
        if info.websocket or not self._owns(info):
            return None
        if THROTTLE_KEY not in info.extra:
            return self.default
        spec = info.extra[THROTTLE_KEY]
        if spec is None:
            return None
        found = self._routes.get(info.name)
        if found is None:
            found = self._routes[info.name] = make_throttle(spec, f"route:{info.name}")
            self._require_cache(found)  # the app compiles its routes: still at build
        return found

    def check_cache(self, app: Carboy) -> None:
        """Refuse, at build, a throttle without a cache on an app without ``Caching``: the
        API's own now, each route's as the app compiles its routes.

        Raises:
            ConfigurationError: Where the counts would live is missing.
        """
        self._app = app
        self._require_cache(self.default)

    def _require_cache(self, throttle: Throttle | None) -> None:
        if throttle is None or throttle.cache is not None or self._app is None:
            return
        from carboy.cache import Caching

        try:
            self._app.get_module(Caching)
        except ConfigurationError:
            raise ConfigurationError(
                f"API throttle {throttle!r} keeps its counts in the app's cache: "
                "app.install(Caching(...)), or give a Throttle(..., cache=...)"
            ) from None

    def __call__(self, info: RouteInfo) -> Middleware | None:
        throttle = self.for_route(info)
        return None if throttle is None else Middleware(ThrottleMiddleware, throttle=throttle)


def check_route_throttles(throttles: Mapping[str, Any], where: str) -> None:
    """Check the specs of a resource's ``throttles`` (its action names are checked at build)."""
    for action, spec in throttles.items():
        if spec is not None:
            make_throttle(spec, f"{where}.{action}")
