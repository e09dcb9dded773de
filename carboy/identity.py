"""Who is making a request: the per-request user, credentials and session slots.

The core defines the slots and the small protocols behind them; an auth
backend (the ``carboy.auth`` battery, or your own middleware) fills them in.
With no backend installed every request is anonymous:
``request.user.is_authenticated`` is False and ``request.auth.scopes`` is empty.
``request.session`` needs session middleware: without one, reading it raises
a :class:`~carboy.ConfigurationError` that says what to install.

Example:
    >>> from carboy.identity import AnonymousUser
    >>> AnonymousUser().is_authenticated
    False
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

#: The scope keys an auth backend sets (the names Starlette's middleware use too).
USER_KEY = "user"
AUTH_KEY = "auth"
SESSION_KEY = "session"


@runtime_checkable
class BaseUser(Protocol):
    """What every user object offers: ``request.user`` is one.

    A user model satisfies it with two attributes; nothing needs subclassing.

    Example:
        >>> class Member:
        ...     is_authenticated = True
        ...     display_name = "ann"
        >>> isinstance(Member(), BaseUser)
        True
    """

    @property
    def is_authenticated(self) -> bool:
        """True for a user who proved who they are."""
        ...

    @property
    def display_name(self) -> str:
        """A name to show (``"ann"``); empty for the anonymous user."""
        ...


class AnonymousUser:
    """The user of a request that no auth backend identified.

    Falsy, so ``if request.user:`` reads naturally.

    Example:
        >>> user = AnonymousUser()
        >>> (user.is_authenticated, user.display_name, bool(user))
        (False, '', False)
    """

    __slots__ = ()

    @property
    def is_authenticated(self) -> bool:
        """Always False."""
        return False

    @property
    def display_name(self) -> str:
        """Always empty."""
        return ""

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnonymousUser)

    def __hash__(self) -> int:
        return hash(AnonymousUser)

    def __repr__(self) -> str:
        return "AnonymousUser()"


#: The one anonymous user handed to every unauthenticated request.
ANONYMOUS = AnonymousUser()


@dataclass(frozen=True, slots=True)
class AuthCredentials:
    """How a request authenticated: the scopes its credentials grant, and by what means.

    Attributes:
        scopes: The permissions the credentials grant (``"articles:write"``).
        method: Which backend recognised them (``"session"``, ``"token"``,
            ``"jwt"``); empty for an anonymous request. For logs and for code
            that treats the ways in differently.
        explicit: True when the credentials came in a header the client sets on
            purpose (``Authorization: Bearer ...``), never ones a browser attaches
            by itself (a session cookie, HTTP Basic, a client certificate). A
            cross-site page cannot make a browser send explicit credentials, so
            the CSRF check of ``carboy.auth`` lets such requests through; requests
            with a session, or signed in any other way, are checked.

    Example:
        >>> AuthCredentials(frozenset({"articles:write"})).has("articles:write")
        True
        >>> AuthCredentials().has("articles:write")
        False
        >>> AuthCredentials(frozenset(), method="token", explicit=True).explicit
        True
    """

    scopes: frozenset[str] = frozenset()
    method: str = ""
    explicit: bool = False

    def has(self, scope: str) -> bool:
        """True when the credentials grant ``scope``."""
        return scope in self.scopes


#: The credentials of an anonymous request: no scopes.
NO_CREDENTIALS = AuthCredentials()


class SessionStore(Protocol):
    """Where session data lives between requests; the auth battery implements it.

    Session middleware loads a request's data by the key in its cookie, hands
    it out as ``request.session`` (a mutable mapping) and saves it when the
    response starts. Keys are opaque strings the store makes (URL-safe
    characters only, so they fit in a cookie); data is a plain JSON-able dict.

    A *server-side* store keeps the data and hands out a random key: deleting
    the key ends the session for good. A store that is not server-side (a
    signed cookie) puts the data in the key itself, so a copy of an old
    cookie stays readable until it expires; sign-out then relies on the
    user's session generation instead.

    Example:
        >>> import secrets
        >>> class DictStore:
        ...     server_side = True
        ...     def __init__(self) -> None:
        ...         self.data: dict[str, dict] = {}
        ...     async def load(self, key: str) -> dict | None:
        ...         return self.data.get(key)
        ...     async def save(self, key: str | None, data: Mapping, max_age: int) -> str:
        ...         if key not in self.data:
        ...             key = secrets.token_urlsafe(32)
        ...         self.data[key] = dict(data)
        ...         return key
        ...     async def delete(self, key: str) -> None:
        ...         self.data.pop(key, None)
        ...     async def clear_expired(self) -> int:
        ...         return 0  # (this one never expires anything)
    """

    @property
    def server_side(self) -> bool:
        """True when :meth:`delete` destroys the data (it is not carried by the key)."""
        ...

    async def load(self, key: str) -> dict[str, Any] | None:
        """The data saved under ``key``, or None when it is unknown, expired or malformed.

        ``key`` comes from a cookie, so from anyone: a key the store never made
        gives None, never an error.
        """
        ...

    async def save(self, key: str | None, data: Mapping[str, Any], max_age: int) -> str:
        """Store ``data`` for ``max_age`` seconds and return its key.

        With ``key`` None, or a key the store no longer holds, the data goes
        under a new key; it never revives a deleted key.
        """
        ...

    async def delete(self, key: str) -> None:
        """Forget the data under ``key`` (logout, key rotation); unknown keys are ignored."""
        ...

    async def clear_expired(self) -> int:
        """Remove expired sessions that the store does not expire by itself; how many."""
        ...


#: What ``request.session`` is: the session's data, changed in place by handlers.
Session = MutableMapping[str, Any]
