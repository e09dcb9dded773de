"""The small protocols the rest of carboy.auth talks to.

Sessions, pages, guards and tokens never touch the ORM: they go through a
:class:`UserStore`, and they accept any user object that satisfies
:class:`AuthUser`. The SQL implementation is the default; a store over an
LDAP directory or a remote service is a class with these methods.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from carboy.connections import HTTPConnection
from carboy.identity import AuthCredentials, BaseUser

#: (protocol, class) pairs: instances of the class were found to satisfy the protocol.
_CONFORMING: set[tuple[type, type]] = set()
#: Enough for every user class of a process; past it, classes are checked each time.
_MAX_REMEMBERED = 256


class _RememberingProtocolMeta(type(Protocol)):  # type: ignore[misc]
    """The metaclass of a runtime-checkable protocol whose ``isinstance`` is remembered.

    A protocol's own check calls ``hasattr`` for each of its members on every
    call: 30-40 µs for AuthUser's seven on Python 3.11, on every request a guard
    lets in, and in any handler that asks ``isinstance(request.user, AuthUser)``.
    Once an instance of a class passes, the class is taken to pass; a failure is
    never remembered, since another instance may carry the attribute this one
    lacks.
    """

    def __instancecheck__(cls, instance: Any) -> bool:
        key = (cls, type(instance))
        if key in _CONFORMING:
            return True
        conforms: bool = super().__instancecheck__(instance)
        if conforms and len(_CONFORMING) < _MAX_REMEMBERED:
            _CONFORMING.add(key)
        return conforms


@runtime_checkable
class AuthUser(BaseUser, Protocol, metaclass=_RememberingProtocolMeta):
    """A user that can sign in: what sessions, guards and pages need of it.

    The default :class:`~carboy.auth.User` model satisfies it, and so can your own.
    """

    @property
    def pk(self) -> str:
        """The user's stable id as a string (what the session stores)."""
        ...

    @property
    def is_active(self) -> bool:
        """False for a disabled account: it cannot sign in, and its sessions end."""
        ...

    @property
    def is_staff(self) -> bool:
        """True for users who may enter the admin."""
        ...

    @property
    def is_superuser(self) -> bool:
        """True for users who hold every permission."""
        ...

    @property
    def session_generation(self) -> int:
        """Bumped to end every session of the user at once ("log out everywhere")."""
        ...

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        """True when the user holds ``perm`` (``"blog.change_post"``), for ``obj`` if given."""
        ...


@runtime_checkable
class EmailUser(Protocol, metaclass=_RememberingProtocolMeta):
    """A user with an e-mail address: what the password-reset and sign-up pages need.

    The default :class:`~carboy.auth.User` model satisfies it; a user without
    these attributes can sign in, but not reset a password by e-mail.
    """

    @property
    def email(self) -> str | None:
        """The user's e-mail address, if they have one."""
        ...

    @property
    def email_verified(self) -> bool:
        """True once the user opened the verification link sent to ``email``."""
        ...


class UserStore(Protocol):
    """Where users live. All of carboy.auth talks to users through this."""

    async def get(self, pk: str) -> AuthUser | None:
        """The user with this id, permissions loaded, or None."""
        ...

    async def get_by_login(self, login: str) -> AuthUser | None:
        """The user whose username or e-mail (case-insensitive) is ``login``, or None."""
        ...

    async def create(self, *, password: str | None, **fields: Any) -> AuthUser:
        """Make a user; ``password`` None makes one that cannot sign in with a password."""
        ...

    async def check_password(self, user: AuthUser, password: str) -> bool:
        """Verify ``password``; rehash and save when the hasher's parameters changed."""
        ...

    async def set_password(self, user: AuthUser, password: str) -> None:
        """Hash and save a new password; bumps the session generation."""
        ...

    async def update(self, user: AuthUser, **fields: Any) -> None:
        """Save fields of the user (``last_login``, ``is_active``, ``email_verified``...)."""
        ...

    async def bump_generation(self, user: AuthUser) -> None:
        """End every session of the user (the next request of each is anonymous)."""
        ...


class AuthBackend(Protocol):
    """One way a request proves who it is (a session, a token, a JWT).

    The authentication middleware asks each backend in turn; the first that
    returns a pair sets ``request.user`` and ``request.auth``.
    """

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthUser, AuthCredentials] | None:
        """The user and credentials of ``conn``, or None when this backend does not apply.

        Raises:
            HTTPException: 401 when credentials are present but invalid.
        """
        ...
