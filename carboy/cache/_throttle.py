"""Throttles: at most N requests per window, counted in the cache, answered with 429.

A :class:`Throttle` counts hits per key (by default the client's address) in
**fixed windows aligned to the clock**: with ``"10/minute"`` the count of a
key starts at zero at each whole minute (Unix time divisible by 60), and the
11th hit within one minute is refused until that minute ends. The window is
in the counter's cache key, so:

* a hit is one atomic increment on any backend (Redis ``INCRBY`` with its
  expiry, one round trip), whatever the number of processes;
* ``Retry-After`` is exact: the seconds until the window ends;
* a hit given back (:meth:`Throttle.aundo`) goes to the window it was counted in.

The price of fixed windows: a client that spends its N hits at the end of one
window and N more at the start of the next makes 2N within a few seconds, and
then waits for a whole window. A sliding window would smooth that, at the
cost of a second read per hit and a ``Retry-After`` that is only an estimate.

The windows follow the wall clock (``time.time``) of each process: keep the
machines' clocks in sync (NTP), as for any expiry.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from carboy.connections import HTTPConnection
from carboy.exceptions import ConfigurationError, HTTPException
from carboy.requests import Request

if TYPE_CHECKING:
    from carboy.cache._cache import Cache

#: The period units a rate may name, in seconds.
_UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}  # fmt: skip
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*")
# Seconds a window's counter outlives the window, for processes whose clocks lag a little.
_GRACE = 5.0

#: A function that gives the throttle key of a request (None: this request is not counted).
KeyFunction = Callable[[HTTPConnection], "str | None"]


@dataclass(frozen=True, slots=True)
class Rate:
    """``limit`` hits per window of ``seconds``: what ``"10/minute"`` means.

    Example:
        >>> Rate.parse("10/minute")
        Rate(limit=10, seconds=60)
        >>> Rate.parse("5/15m")
        Rate(limit=5, seconds=900)
    """

    limit: int
    seconds: int

    def __post_init__(self) -> None:
        if self.limit < 1 or self.seconds < 1:
            raise ConfigurationError(
                f"Rate(limit={self.limit}, seconds={self.seconds}): both must be at least 1"
            )

    @classmethod
    def parse(cls, text: str | Rate) -> Rate:
        """``"N/period"``: N at least 1; the period a unit (second, minute, hour, day, or
        s, m, h, d) with an optional count before it (``"100/hour"``, ``"5/15minutes"``).

        Raises:
            ConfigurationError: What was wrong and how to write it.
        """
        if isinstance(text, Rate):
            return text
        found = _RATE.fullmatch(text.lower()) if isinstance(text, str) else None
        unit = _UNITS.get(found[3]) if found else None
        if found is None or unit is None:
            raise ConfigurationError(
                f"rate {text!r}: write it as 'N/period', such as '10/minute', '100/hour', "
                "'5/15m' or '1000/day'"
            )
        return cls(int(found[1]), int(found[2] or 1) * unit)

    def __str__(self) -> str:
        for name, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if self.seconds % size == 0:
                count = self.seconds // size
                return f"{self.limit}/{'' if count == 1 else count}{name}"
        return f"{self.limit}/{self.seconds}s"


@dataclass(frozen=True, slots=True)
class ThrottleResult:
    """What one hit (or a look) found: allowed or not, and how long until the window ends.

    Attributes:
        allowed: The count is within the limit.
        limit: Hits allowed per window.
        count: Hits counted in this window so far, this one included.
        reset_after: Seconds until this window ends and the count starts again.
        window_key: The counter's key in the cache (what :meth:`Throttle.aundo` decrements).
    """

    allowed: bool
    limit: int
    count: int
    reset_after: float
    window_key: str = field(repr=False)

    @property
    def remaining(self) -> int:
        """Hits left in this window."""
        return max(0, self.limit - self.count)

    @property
    def retry_after(self) -> int:
        """Whole seconds to wait before a refused hit may be tried again; 0 when allowed."""
        return 0 if self.allowed else max(1, math.ceil(self.reset_after))


class Throttled(HTTPException):
    """429 Too Many Requests, with ``Retry-After``: an HTML page for browsers, JSON for APIs.

    The app's error handling shapes the body (its ``429.html`` template or its
    error envelope), as for any :class:`~carboy.HTTPException`.

    Args:
        retry_after: Seconds until the client may try again (at least 1).
        detail: The message; by default it says how long to wait.

    Example:
        >>> raise Throttled(30)
    """

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(
            429,
            detail or f"Too many requests: try again in {wait_text(self.retry_after)}.",
            headers={"Retry-After": str(self.retry_after)},
        )


def wait_text(seconds: int) -> str:
    """``42`` -> ``"42 seconds"``, ``150`` -> ``"3 minutes"``: a wait, rounded up.

    Example:
        >>> wait_text(3600)
        '1 hour'
    """
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    count, unit = math.ceil(seconds / 60), "minute"
    if count >= 60:  # 59 min 25 s is "1 hour", not "60 minutes"
        count, unit = math.ceil(seconds / 3600), "hour"
    return f"{count} {unit}{'s' if count != 1 else ''}"


def client_ip(conn: HTTPConnection) -> str:
    """The client's address as a throttle key: IPv4 as is, IPv6 by its /64 network.

    One IPv6 subscriber usually holds a whole /64, so counting single IPv6
    addresses would let one client use billions of them. The address is the
    one the core found: the connection's peer, or what a proxy listed in
    ``settings.trusted_proxies`` forwarded (never an ``X-Forwarded-For``
    from anyone else). Without an address (a Unix socket) every such client
    shares the key ``"unknown"``.

    Example:
        >>> client_ip(request)
        '203.0.113.7'
    """
    client = conn.client
    if client is None or not client.host:
        return "unknown"
    try:
        address = ipaddress.ip_address(client.host)
    except ValueError:
        return client.host  # a proxy's obfuscated identifier (RFC 7239), a test peer
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class Throttle:
    """At most ``rate`` hits per key and window, counted in the cache; usable by any handler.

    As a dependency it counts each request under ``key(request)`` (the
    client's address by default) and answers :class:`Throttled` (429 with
    ``Retry-After``) past the limit. Called directly (:meth:`ahit`), it counts
    whatever key you give: an account, an API client, a route and a client.

    Counts live in the app's cache (:class:`~carboy.cache.Caching`) unless
    ``cache`` is given: on Redis every process of the site shares them.
    Throttles of the same ``scope`` and window length share their counts.

    Args:
        rate: ``"10/minute"``, ``"1000/day"``, ``"5/15m"`` or a :class:`Rate`.
        key: The key of a request; None leaves the request uncounted (staff,
            internal calls). Defaults to :func:`client_ip`.
        scope: Keeps this throttle's counts apart from other throttles'.
        cache: Where counts live; the app's cache when omitted.
        clock: Unix time now (``time.time``); tests give a clock they move.

    Example:
        >>> from carboy import Depends
        >>> from carboy.cache import Throttle
        >>> search_limit = Throttle("30/minute", scope="search")
        >>> @app.get("/search", dependencies=[Depends(search_limit)])
        ... async def search(q: str) -> list[str]: ...
    """

    def __init__(
        self,
        rate: str | Rate,
        *,
        key: KeyFunction = client_ip,
        scope: str = "default",
        cache: Cache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not callable(key):
            raise ConfigurationError(f"Throttle(key={key!r}): give a function of the request")
        self.rate = Rate.parse(rate)
        self.key = key
        self.scope = scope
        self.cache = cache
        self.clock = clock

    # -- the logic, once -------------------------------------------------------------
    def _window(self, key: str) -> tuple[str, float]:
        """The counter's key for ``key`` in the window of now, and the seconds left in it."""
        now = self.clock()
        seconds = self.rate.seconds
        index = math.floor(now / seconds)
        # Hashed: bounded keys whatever the input, and no addresses or e-mails in the store.
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"throttle:{self.scope}:{seconds}:{index}:{digest}", (index + 1) * seconds - now

    def _result(self, window_key: str, left: float, count: int) -> ThrottleResult:
        return ThrottleResult(count <= self.rate.limit, self.rate.limit, count, left, window_key)

    def _cache(self, cache: Cache | None) -> Cache:
        found = cache if cache is not None else self.cache
        if found is None:
            raise ConfigurationError(
                f"Throttle({str(self.rate)!r}, scope={self.scope!r}) has no cache: give it "
                "cache=..., or use it as a dependency of an app with Caching installed"
            )
        return found

    def cache_for(self, conn: HTTPConnection) -> Cache:
        """This throttle's cache, else the one installed on ``conn``'s app with ``Caching``.

        Raises:
            ConfigurationError: Neither is there.
        """
        if self.cache is not None:
            return self.cache
        from carboy.cache._cache import Caching

        try:
            return conn.app.get_module(Caching).cache
        except ConfigurationError:
            raise ConfigurationError(
                f"Throttle({str(self.rate)!r}, scope={self.scope!r}) keeps its counts in the "
                "app's cache: app.install(Caching(...)), or give the throttle cache=..."
            ) from None

    # -- sync ------------------------------------------------------------------------
    def hit(self, key: str, *, cache: Cache | None = None) -> ThrottleResult:
        """Count one hit of ``key``; whether it is within the limit.

        Example:
            >>> Throttle("3/minute", cache=cache).hit("ann").allowed
            True
        """
        window_key, left = self._window(key)
        count = self._cache(cache).incr(window_key, 1, ttl=left + _GRACE)
        return self._result(window_key, left, count)

    def peek(self, key: str, *, cache: Cache | None = None) -> ThrottleResult:
        """The count of ``key`` in this window, without counting a hit.

        ``allowed`` says whether one more hit would be.
        """
        window_key, left = self._window(key)
        count = self._cache(cache).incr(window_key, 0, ttl=left + _GRACE)
        return ThrottleResult(count < self.rate.limit, self.rate.limit, count, left, window_key)

    def undo(self, result: ThrottleResult, *, cache: Cache | None = None) -> None:
        """Give back the hit ``result`` counted (in the window it was counted in)."""
        self._cache(cache).incr(result.window_key, -1, ttl=result.reset_after + _GRACE)

    def reset(self, key: str, *, cache: Cache | None = None) -> None:
        """Forget the count of ``key`` in this window."""
        self._cache(cache).delete(self._window(key)[0])

    # -- async -----------------------------------------------------------------------
    async def ahit(self, key: str, *, cache: Cache | None = None) -> ThrottleResult:
        """Async :meth:`hit`."""
        window_key, left = self._window(key)
        count = await self._cache(cache).aincr(window_key, 1, ttl=left + _GRACE)
        return self._result(window_key, left, count)

    async def apeek(self, key: str, *, cache: Cache | None = None) -> ThrottleResult:
        """Async :meth:`peek`."""
        window_key, left = self._window(key)
        count = await self._cache(cache).aincr(window_key, 0, ttl=left + _GRACE)
        return ThrottleResult(count < self.rate.limit, self.rate.limit, count, left, window_key)

    async def aundo(self, result: ThrottleResult, *, cache: Cache | None = None) -> None:
        """Async :meth:`undo`."""
        await self._cache(cache).aincr(result.window_key, -1, ttl=result.reset_after + _GRACE)

    async def areset(self, key: str, *, cache: Cache | None = None) -> None:
        """Async :meth:`reset`."""
        await self._cache(cache).adelete(self._window(key)[0])

    # -- as a dependency ---------------------------------------------------------------
    async def __call__(self, request: Request) -> None:
        """Count this request; raise :class:`Throttled` past the limit (the dependency)."""
        key = self.key(request)
        if key is None:
            return
        result = await self.ahit(key, cache=self.cache_for(request))
        if not result.allowed:
            raise Throttled(result.retry_after)

    def __repr__(self) -> str:
        return f"Throttle({str(self.rate)!r}, scope={self.scope!r})"
