"""Sign-in throttling: wrong passwords per account and per client address, in the cache.

:class:`LoginThrottle` is two :class:`~carboy.cache.Throttle` counters, one
keyed by the account typed in and one by the client's address. The sign-in
page counts an attempt in both *before* it looks the user up or hashes the
password, so a refused attempt costs one cache round trip, and an unknown
account counts exactly as a known one (the throttle tells no one which
accounts exist). A right password gives its attempt back: the counters hold
wrong passwords (and attempts under way), so a success resets nothing, and an
attacker who owns one account cannot clear an address's count by signing in
to it between guesses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from carboy.auth._protocols import AuthUser, UserStore
from carboy.cache import (
    Cache,
    Caching,
    MemoryBackend,
    Rate,
    Throttle,
    Throttled,
    ThrottleResult,
    client_ip,
    wait_text,
)
from carboy.connections import HTTPConnection
from carboy.exceptions import ConfigurationError
from carboy.modules import CheckLevel, CheckMessage

if TYPE_CHECKING:
    from carboy.app import Carboy


@dataclass(slots=True)
class LoginAttempt:
    """An attempt :meth:`LoginThrottle.abegin` counted; give it back if it succeeds."""

    counted: list[tuple[Throttle, ThrottleResult]] = field(default_factory=list)
    cache: Cache | None = None

    async def asucceeded(self) -> None:
        """The password (or code) was right: this attempt no longer counts."""
        for throttle, result in self.counted:
            await throttle.aundo(result, cache=self.cache)
        self.counted = []


class LoginThrottle:
    """At most ``rate`` wrong attempts per account and ``ip_rate`` per client address.

    The sign-in page (and every page that checks a password) uses one; the
    pages also use one for password-reset e-mails and one for two-factor codes
    (:class:`~carboy.auth.PagesConfig`). Attempts past either limit get 429
    with ``Retry-After``, even with the right password, until the window ends
    (fixed windows aligned to the clock: see :class:`~carboy.cache.Throttle`).

    The client's address is the core's (``settings.trusted_proxies`` decides
    whose ``X-Forwarded-For`` counts); IPv6 clients count by /64 network.

    Args:
        rate: Wrong attempts per account and window (``"10/minute"``); None
            counts no account.
        ip_rate: Wrong attempts per client address and window; None counts no address.
        scope: Keeps these counts apart from other throttles'.
        cache: Where counts live; the app's cache (:class:`~carboy.cache.Caching`)
            when omitted, so processes sharing a Redis cache share counts.
        clock: Unix time now; tests give a clock they move.

    Example:
        >>> from carboy.auth import Auth, LoginThrottle, PagesConfig
        >>> auth = Auth(pages=PagesConfig(login_throttle=LoginThrottle("5/minute")))
    """

    def __init__(
        self,
        rate: str | Rate | None = "10/minute",
        *,
        ip_rate: str | Rate | None = "10/minute",
        scope: str = "auth.login",
        cache: Cache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if rate is None and ip_rate is None:
            raise ConfigurationError(
                "LoginThrottle(rate=None, ip_rate=None) counts nothing: to turn a page's "
                "throttle off, give PagesConfig None instead of a LoginThrottle"
            )
        self.scope = scope
        self.cache = cache
        self.account = (
            None
            if rate is None
            else Throttle(rate, scope=f"{scope}:account", cache=cache, clock=clock)
        )
        self.ip = (
            None
            if ip_rate is None
            else Throttle(ip_rate, scope=f"{scope}:ip", cache=cache, clock=clock)
        )

    async def abegin(self, conn: HTTPConnection, account: str) -> LoginAttempt:
        """Count an attempt on ``account`` from ``conn``'s client, before anything is checked.

        ``account`` is what identifies the target (the login typed in, a user's
        pk); case and surrounding spaces do not matter.

        Raises:
            Throttled: The account or the address is over its limit; this attempt
                then counts for neither, and ``retry_after`` is the longer wait.

        Example:
            >>> attempt = await throttle.abegin(request, form.login)
            >>> if password_ok:
            ...     await attempt.asucceeded()
        """
        keys = ((self.account, account.strip().casefold()), (self.ip, client_ip(conn)))
        throttles = [(throttle, key) for throttle, key in keys if throttle is not None]
        cache = self.cache if self.cache is not None else throttles[0][0].cache_for(conn)
        attempt = LoginAttempt(cache=cache)
        for throttle, key in throttles:
            attempt.counted.append((throttle, await throttle.ahit(key, cache=cache)))
        waits = [result.retry_after for _, result in attempt.counted if not result.allowed]
        if waits:
            await attempt.asucceeded()  # a refused attempt is not a wrong password
            raise Throttled(max(waits), "Too many attempts: try again later.")
        return attempt

    def __repr__(self) -> str:
        rates = [
            f"{name}={str(throttle.rate)!r}"
            for name, throttle in (("rate", self.account), ("ip_rate", self.ip))
            if throttle is not None
        ]
        return f"LoginThrottle({', '.join(rates)}, scope={self.scope!r})"


def too_many_attempts(refused: Throttled) -> str:
    """What a page says to a throttled visitor: how long to wait."""
    return f"Too many attempts. Try again in {wait_text(refused.retry_after)}."


def throttled_headers(refused: Throttled) -> dict[str, str]:
    """The headers of a page answering 429: ``Retry-After``, and never cached."""
    return {**refused.headers, "Cache-Control": "no-store"}


async def check_password(
    throttle: LoginThrottle | None,
    conn: HTTPConnection,
    users: UserStore,
    user: AuthUser,
    password: str,
) -> bool:
    """Check a signed-in user's password (password change, two-factor settings), throttled.

    The attempt counts for the user's account and the client's address (the
    address counter the sign-in page uses), so a stolen session cannot guess
    the password through these forms either.

    Raises:
        Throttled: Too many wrong passwords; the password was not checked.
    """
    attempt = None if throttle is None else await throttle.abegin(conn, f"user:{user.pk}")
    matched = await users.check_password(user, password)
    if matched and attempt is not None:
        await attempt.asucceeded()
    return matched


def shared_counts_check(
    throttles: Sequence[LoginThrottle],
) -> Callable[[Carboy], list[CheckMessage]]:
    """A deploy check: the throttles must count where every process sees the counts."""

    def check(app: Carboy) -> list[CheckMessage]:
        if app.debug:
            return []
        for throttle in throttles:
            cache = throttle.cache
            if cache is None:
                try:
                    cache = app.get_module(Caching).cache
                except ConfigurationError:  # pragma: no cover - Auth installs one
                    continue
            if isinstance(cache.backend, MemoryBackend):
                return [
                    CheckMessage(
                        "auth.W020",
                        "The sign-in throttles count in this process's memory: each process "
                        "of the site counts alone, so N workers allow N times the limits",
                        "Set CARBOY_CACHE_URL to a Redis (redis://host:6379/0) shared by "
                        "every process, or give the throttles LoginThrottle(cache=...).",
                        obj="PagesConfig",
                        level=CheckLevel.WARNING,
                        deploy=True,
                    )
                ]
        return []

    return check
