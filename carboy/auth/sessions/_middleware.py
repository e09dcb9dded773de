"""Session middleware: load the session from its cookie, save it when the response starts."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from carboy.auth.sessions._cookie import CookieStore
from carboy.auth.sessions._session import Session
from carboy.connections import parse_cookies
from carboy.exceptions import ConfigurationError
from carboy.identity import SESSION_KEY, SessionStore
from carboy.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("carboy.auth")

DAY = 24 * 3600
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DOMAIN = re.compile(r"\.?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
#: What a cookie value may be to reach a store: URL-safe characters, bounded.
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_.\-]{1,8192}")
_WS_REASON = (
    "A WebSocket cannot change the session: its cookie was sent with the handshake. "
    "Change the session in an HTTP request."
)
_SAVED_REASON = (
    "The session was saved when the response started; change it before returning "
    "the response (not in a background task or a streaming body)."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionConfig:
    """How sessions are kept: the store, their lifetimes and their cookie.

    Args:
        store: Where sessions live; None means a :class:`CookieStore` signed
            with the app's secret key.
        cookie_name: The cookie's name. Over HTTPS it becomes ``__Host-<name>``
            (``__Secure-<name>`` with a ``domain``), which browsers accept only
            from this host, over HTTPS, for the whole site: a sibling subdomain
            cannot plant one.
        max_age: The absolute lifetime, in seconds: the session ends this long
            after it began (at sign-in, since sign-in rotates it), however active.
        idle_timeout: The session ends after this many seconds without a
            request; None for no idle expiry.
        renew_after: An active session is saved again (and its cookie re-sent)
            when it was last saved this many seconds ago, so the idle timeout
            slides; a request that changes the session saves it anyway. Smaller
            is more exact, larger writes less (the idle expiry may come up to
            this much early).
        samesite: The cookie's ``SameSite``: ``"lax"`` (sent on top-level
            navigation from other sites), ``"strict"`` (never cross-site), or
            ``"none"`` (always; needs HTTPS, for sites embedded by others).
        domain: The cookie's ``Domain`` (``"example.com"`` shares it with the
            subdomains); None keeps it to the host that set it.
        secure: ``Secure`` cookie with the prefixed name: None decides per
            request (HTTPS yes, plain HTTP no, so ``http://localhost`` works
            in development); True always (the cookie then never works over
            plain HTTP); False never.
        clock: The time source (UNIX seconds), for tests.

    Raises:
        ConfigurationError: A value out of range, or a malformed name or domain.

    Example:
        >>> from carboy.auth import Auth, SessionConfig, MemoryStore
        >>> auth = Auth(sessions=SessionConfig(store=MemoryStore(), idle_timeout=3600))
    """

    store: SessionStore | None = None
    cookie_name: str = "session"
    max_age: int = 14 * DAY
    idle_timeout: int | None = 3 * DAY
    renew_after: int = 3600
    samesite: Literal["lax", "strict", "none"] = "lax"
    domain: str | None = None
    secure: bool | None = None
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def __post_init__(self) -> None:
        name = self.cookie_name
        if not isinstance(name, str) or _COOKIE_NAME.fullmatch(name) is None:
            raise ConfigurationError(
                f"SessionConfig(cookie_name={name!r}): a cookie name is letters, digits and "
                "!#$%&'*+-.^_`|~ only"
            )
        if name.lower().startswith(("__host-", "__secure-")):
            raise ConfigurationError(
                f"SessionConfig(cookie_name={name!r}): give the name without the __Host- or "
                "__Secure- prefix; it is added over HTTPS"
            )
        if not isinstance(self.max_age, int) or self.max_age <= 0:
            raise ConfigurationError(
                f"SessionConfig(max_age={self.max_age!r}) must be a positive number of seconds"
            )
        if self.idle_timeout is not None:
            if not isinstance(self.idle_timeout, int) or self.idle_timeout <= 0:
                raise ConfigurationError(
                    f"SessionConfig(idle_timeout={self.idle_timeout!r}) must be a positive "
                    "number of seconds, or None"
                )
            if not 0 <= self.renew_after < self.idle_timeout:
                raise ConfigurationError(
                    f"SessionConfig(renew_after={self.renew_after!r}) must be at least 0 and "
                    f"less than idle_timeout ({self.idle_timeout}), or the session expires "
                    "before it is renewed"
                )
        if self.samesite not in ("lax", "strict", "none"):
            raise ConfigurationError(
                f"SessionConfig(samesite={self.samesite!r}) must be 'lax', 'strict' or 'none'"
            )
        if self.domain is not None and _DOMAIN.fullmatch(self.domain) is None:
            raise ConfigurationError(f"SessionConfig(domain={self.domain!r}) is not a domain name")
        if self.samesite == "none" and self.secure is False:
            raise ConfigurationError(
                "SessionConfig(samesite='none', secure=False): browsers refuse SameSite=None "
                "cookies without Secure"
            )


class SessionMiddleware:
    """Give every request ``request.session``, loaded from and saved to a store.

    The cookie holds the store's key (for the cookie store, the signed data).
    A session is saved, and its cookie sent, only when it changed or is due
    for renewal; an emptied or invalidated session is deleted from the store
    and its cookie removed. A response of 500 or more saves nothing (the
    request failed, as its database transaction did). Responses that read the
    session get ``Vary: Cookie``, so a shared cache never hands one visitor's
    page to another.

    WebSocket connections get the session of their handshake, read-only.

    Args:
        app: The ASGI app to wrap.
        config: The store, lifetimes and cookie; the store defaults to a
            :class:`CookieStore` signed with the app's secret key.

    Example:
        >>> from carboy import Carboy
        >>> from carboy.auth import MemoryStore, SessionConfig, SessionMiddleware
        >>> app = Carboy()
        >>> app.add_middleware(SessionMiddleware, SessionConfig(store=MemoryStore()))
    """

    __slots__ = ("_attributes", "_names", "app", "config", "store")

    def __init__(self, app: ASGIApp, config: SessionConfig | None = None) -> None:
        self.app = app
        self.config = config if config is not None else SessionConfig()
        #: The store; None until the first request when it comes from the app's settings.
        self.store: SessionStore | None = self.config.store
        c = self.config
        plain = ["Path=/", "HttpOnly", f"SameSite={c.samesite.capitalize()}"]
        if c.domain:
            plain.insert(1, f"Domain={c.domain}")
        prefix = "__Secure-" if c.domain else "__Host-"
        # (name, attributes) for plain HTTP and for HTTPS, made once.
        self._names = (c.cookie_name, prefix + c.cookie_name)
        self._attributes = ("; ".join(plain), "; ".join([*plain, "Secure"]))

    def _secure(self, scope: Scope) -> bool:
        secure = self.config.secure
        if secure is None:
            return scope.get("scheme") in ("https", "wss") or self.config.samesite == "none"
        return secure

    def _store(self, scope: Scope) -> SessionStore:
        store = self.store
        if store is None:
            store = self.store = CookieStore.from_settings(scope["app"].settings)
        return store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Load the session, run the app, save the session as the response starts."""
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        store = self.store or self._store(scope)
        secure = self._secure(scope)
        incoming = _cookie(scope, self._names[secure])
        # No cookie (most anonymous requests): a new session, without a store call.
        session = Session() if incoming is None else await self._load(store, incoming)
        scope[SESSION_KEY] = session
        if kind == "websocket":
            session.close(_WS_REASON)
            await self.app(scope, receive, send)
            return

        done = False

        async def send_with_session(message: Message) -> None:
            nonlocal done
            if message["type"] == "http.response.start" and not done:
                done = True
                session.close(_SAVED_REASON)
                if message.get("status", 200) < 500:
                    headers = list(message.get("headers", ()))
                    if incoming is None and session.is_empty:
                        # Nothing came and nothing is kept: at most the Vary header.
                        if session.accessed:
                            _add_vary_cookie(headers)
                    else:
                        await self._commit(store, session, incoming, secure, headers)
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_session)

    # -- loading ---------------------------------------------------------------
    async def _load(self, store: SessionStore, incoming: str | None) -> Session:
        if incoming is None:
            return Session()
        if _COOKIE_VALUE.fullmatch(incoming) is None:
            return Session(key=incoming)  # garbage: forgotten, and its cookie deleted
        envelope = await store.load(incoming)
        now = self.config.clock()
        data = _unwrap(envelope)
        if data is None:
            return Session(key=incoming)
        values, created, seen = data
        c = self.config
        expired = now >= created + c.max_age or (
            c.idle_timeout is not None and now >= seen + c.idle_timeout
        )
        if expired:
            await store.delete(incoming)
            return Session(key=incoming)
        return Session(values, key=incoming, created=created, seen=seen)

    # -- saving ----------------------------------------------------------------
    async def _commit(
        self,
        store: SessionStore,
        session: Session,
        incoming: str | None,
        secure: bool,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        if session.accessed or incoming is not None:
            _add_vary_cookie(headers)
        key = session.key
        if session.is_empty:
            if key is not None:
                await store.delete(key)
            if incoming is not None:
                headers.append(self._set_cookie(secure, "", 0))
            return
        c = self.config
        now = int(c.clock())
        renew = (
            c.idle_timeout is not None
            and session.seen is not None
            and now - session.seen >= c.renew_after
        )
        if not (session.modified or renew):
            return
        created: float = now
        if session.rotated or session.created is None or key is None:
            if key is not None:
                await store.delete(key)
            key = None
        else:
            created = session.created
        end = created + c.max_age
        if c.idle_timeout is not None:
            end = min(end, now + c.idle_timeout)
        lifetime = max(1, int(end - now))
        envelope = {"d": session.to_dict(), "c": created, "s": now}
        new_key = await store.save(key, envelope, lifetime)
        headers.append(self._set_cookie(secure, new_key, lifetime))

    def _set_cookie(self, secure: bool, value: str, max_age: int) -> tuple[bytes, bytes]:
        name = self._names[secure]
        attributes = self._attributes[secure]
        text = f"{name}={value}; Max-Age={max_age}; {attributes}"
        return (b"set-cookie", text.encode("latin-1"))


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            found = parse_cookies(value.decode("latin-1")).get(name)
            if found is not None:
                return found
    return None


def _unwrap(envelope: Any) -> tuple[dict[str, Any], float, float] | None:
    """The data, start and last renewal of a stored session; None when malformed."""
    if not isinstance(envelope, dict):
        return None
    data, created, seen = envelope.get("d"), envelope.get("c"), envelope.get("s")
    if not isinstance(data, dict):
        return None
    if not isinstance(created, int | float) or not isinstance(seen, int | float):
        return None
    if isinstance(created, bool) or isinstance(seen, bool):
        return None
    return data, float(created), float(seen)


def _add_vary_cookie(headers: list[tuple[bytes, bytes]]) -> None:
    for index, (key, value) in enumerate(headers):
        if key.lower() == b"vary":
            present = {part.strip().lower() for part in value.split(b",")}
            if b"cookie" not in present and b"*" not in present:
                headers[index] = (key, value + b", Cookie")
            return
    headers.append((b"vary", b"Cookie"))
