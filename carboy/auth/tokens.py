"""Personal access tokens: long-lived API credentials a user makes, names and revokes.

A token reads ``cby_<key>_<secret>``: the prefix says what it is (secret
scanners and people can spot one), the key finds its row, and the secret
(256 random bits) is checked against the SHA-256 hash that is all the
database keeps, in constant time. The full token is shown once, when
:meth:`TokenBackend.create` makes it; it cannot be recovered afterwards.

Each token has scopes (``request.auth.scopes``), an optional expiry, and can be
revoked; ``last_used_at`` records when it was last seen, written at most once
per ``touch_interval`` so that a busy token does not cost a write per request.

Tokens live in the ``auth_token`` table (the auth battery's migrations) and
name their user by ``pk``, through the :class:`~carboy.auth.UserStore`: there
is no foreign key, so a user store that is not SQL works too.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import JSON, String, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from carboy.auth._bearer import check_scheme, read_token, refusal
from carboy.auth._protocols import AuthUser, UserStore
from carboy.connections import HTTPConnection
from carboy.db import Database, Model
from carboy.exceptions import ConfigurationError, HTTPException
from carboy.identity import AuthCredentials

_PREFIX = re.compile(r"[a-z][a-z0-9]{0,15}")
#: 16 hex characters of key, then a 43-character url-safe secret (32 bytes).
_KEY_BYTES, _SECRET_BYTES = 8, 32
_SECRET_LENGTH = 43


def _now() -> datetime:
    return datetime.now(UTC)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


class AccessToken(Model):
    """A personal access token's row (table ``auth_token``); the secret is only hashed.

    Example:
        >>> [t.name for t in await tokens.tokens_of(user) if t.is_usable]
        ['deploy bot']
    """

    __tablename__ = "auth_token"

    key: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    @property
    def is_usable(self) -> bool:
        """True when the token is neither revoked nor expired."""
        expired = self.expires_at is not None and self.expires_at <= _now()
        return self.revoked_at is None and not expired


@dataclass(frozen=True)
class NewToken:
    """A token just made: ``token`` is the only time its full text exists.

    Attributes:
        token: What the client sends (``cby_...``); show it once, then forget it.
        record: The stored row (no secret in it).
    """

    token: str = field(repr=False)
    record: AccessToken


@dataclass(frozen=True, slots=True)
class TokenCredentials(AuthCredentials):
    """``request.auth`` of a request that came in with a personal access token.

    Example:
        >>> if isinstance(request.auth, TokenCredentials): request.auth.token.name
    """

    token: AccessToken | None = field(default=None, compare=False)


class TokenBackend:
    """Personal access tokens: make, list and revoke them, and authenticate requests by them.

    An :class:`~carboy.auth.AuthBackend` for ``Authorization: Bearer cby_...``.
    A bearer token without this backend's prefix is left to the other backends
    (a JWT, say).

    Args:
        users: Where the token's user is looked up; :class:`~carboy.auth.Auth`
            gives its own store to a backend registered without one.
        db: The database of the ``auth_token`` table; Auth gives the app's.
        prefix: What every token starts with (``cby`` -> ``cby_...``):
            lowercase letters and digits.
        scheme: The Authorization scheme (``"Bearer"``, or ``"Token"`` as
            some APIs have it).
        touch_interval: ``last_used_at`` is written when it is older than this,
            so a token used a thousand times a minute costs one write a minute.
            ``timedelta(0)`` writes on every request.

    Example:
        >>> tokens = TokenBackend(users, db=db)
        >>> new = await tokens.create(user, "deploy bot", scopes={"deploy"})
        >>> new.token[:4]
        'cby_'
    """

    method = "token"

    def __init__(
        self,
        users: UserStore | None = None,
        *,
        db: Database | None = None,
        prefix: str = "cby",
        scheme: str = "Bearer",
        touch_interval: timedelta = timedelta(minutes=5),
    ) -> None:
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
            raise ConfigurationError(
                f"TokenBackend(prefix={prefix!r}): use 1 to 16 lowercase letters and digits, "
                "starting with a letter"
            )
        if touch_interval < timedelta(0):
            raise ConfigurationError("TokenBackend(touch_interval=...) must not be negative")
        self.users = users
        self.db = db
        self.prefix = prefix
        self.scheme = check_scheme(scheme, "TokenBackend")
        self.touch_interval = touch_interval
        self._format = re.compile(
            rf"{prefix}_([0-9a-f]{{{_KEY_BYTES * 2}}})_([A-Za-z0-9_-]{{{_SECRET_LENGTH}}})"
        )

    def _database(self) -> Database:
        if self.db is None:
            raise ConfigurationError(
                "TokenBackend has no database: pass db=..., or register it with Auth "
                "in an app that installs carboy.db's Database"
            )
        return self.db

    # -- managing tokens -----------------------------------------------------------------
    async def create(
        self,
        user: AuthUser,
        name: str,
        *,
        scopes: Iterable[str] = (),
        expires_in: timedelta | None = None,
    ) -> NewToken:
        """Make a token for ``user``; the returned ``token`` text is never stored.

        Args:
            user: Whose token it is.
            name: What the user calls it (``"laptop"``, ``"CI"``), up to 100 characters.
            scopes: What it may do; ``request.auth.scopes`` of its requests.
            expires_in: How long it works; None for until revoked.

        Example:
            >>> new = await tokens.create(user, "CI", expires_in=timedelta(days=90))
        """
        name = name.strip()
        if not name or len(name) > 100:
            raise ValueError("A token's name must be 1 to 100 characters")
        if expires_in is not None and expires_in <= timedelta(0):
            raise ValueError("expires_in must be positive (or None for no expiry)")
        key = secrets.token_hex(_KEY_BYTES)
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        now = _now()
        record = AccessToken(
            key=key,
            secret_hash=_hash(secret),
            user_id=user.pk,
            name=name,
            scopes=sorted(set(scopes)),
            created_at=now,
            expires_at=now + expires_in if expires_in is not None else None,
        )
        async with self._database().atransaction() as session:
            session.add(record)
        return NewToken(f"{self.prefix}_{key}_{secret}", record)

    async def tokens_of(self, user: AuthUser) -> list[AccessToken]:
        """Every token of ``user``, revoked and expired ones too, newest first.

        Example:
            >>> [t.name for t in await tokens.tokens_of(user)]
            ['CI', 'laptop']
        """
        async with self._database().async_session() as session:
            found = await session.scalars(
                select(AccessToken)
                .where(AccessToken.user_id == user.pk)
                .order_by(AccessToken.created_at.desc(), AccessToken.id.desc())
            )
            return list(found)

    async def revoke(self, token_id: int, *, user: AuthUser | None = None) -> bool:
        """Revoke a token (its next request is refused); True if one was revoked.

        With ``user``, only a token of that user is revoked: what a "revoke"
        button of a user's own token page passes.

        Example:
            >>> await tokens.revoke(new.record.id, user=request.user)
            True
        """
        statement = (
            update(AccessToken)
            .where(AccessToken.id == token_id, AccessToken.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
        if user is not None:
            statement = statement.where(AccessToken.user_id == user.pk)
        async with self._database().atransaction() as session:
            result = await session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    async def revoke_all(self, user: AuthUser) -> int:
        """Revoke every token of ``user`` (a lost laptop, an account taken over).

        Example:
            >>> await tokens.revoke_all(user)
            2
        """
        statement = (
            update(AccessToken)
            .where(AccessToken.user_id == user.pk, AccessToken.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
        async with self._database().atransaction() as session:
            result = await session.execute(statement)
        return int(getattr(result, "rowcount", 0))

    # -- authenticating ------------------------------------------------------------------
    async def verify(self, token: str) -> AccessToken:
        """The usable token row for ``token`` (recording its use), or a 401.

        Raises:
            HTTPException: 401 when the token is malformed, unknown, wrong,
                revoked or expired.

        Example:
            >>> (await tokens.verify(new.token)).name
            'CI'
        """
        match = self._format.fullmatch(token)
        if match is None:
            raise self._refuse("The token is malformed")
        key, secret = match.groups()
        async with self._database().async_session() as session:
            record = await session.scalar(select(AccessToken).where(AccessToken.key == key))
        # Hashed whether or not the key exists, so both paths cost the same.
        offered = _hash(secret)
        stored = record.secret_hash if record is not None else _hash("")
        if not hmac.compare_digest(offered, stored) or record is None:
            raise self._refuse("The token is not valid")
        if record.revoked_at is not None:
            raise self._refuse("The token has been revoked")
        now = _now()
        if record.expires_at is not None and record.expires_at <= now:
            raise self._refuse("The token has expired")
        await self._touch(record, now)
        return record

    async def _touch(self, record: AccessToken, now: datetime) -> None:
        """Write ``last_used_at``, unless it was written less than touch_interval ago."""
        if record.last_used_at is not None and now - record.last_used_at < self.touch_interval:
            return
        stale = now - self.touch_interval
        statement = (
            update(AccessToken)
            .where(AccessToken.id == record.id)
            # The condition again in SQL: of concurrent requests only one writes.
            .where(or_(AccessToken.last_used_at.is_(None), AccessToken.last_used_at <= stale))
            .values(last_used_at=now)
        )
        async with self._database().atransaction() as session:
            await session.execute(statement)
        record.last_used_at = now

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthUser, TokenCredentials] | None:
        """The user of the request's token; None when it carries none of this backend's.

        Raises:
            HTTPException: 401 when the token has this backend's prefix and is
                not valid, or its user is unknown or inactive.
        """
        token = read_token(conn, self.scheme, max_length=256)
        if token is None or not token.startswith(self.prefix + "_"):
            return None
        record = await self.verify(token)
        if self.users is None:
            raise ConfigurationError(
                "TokenBackend has no user store: pass users=..., or register it with Auth"
            )
        user = await self.users.get(record.user_id)
        if user is None or not user.is_active:
            raise self._refuse("The token's user does not exist or is inactive")
        scopes = frozenset(record.scopes)
        return user, TokenCredentials(scopes, method=self.method, explicit=True, token=record)

    def _refuse(self, description: str) -> HTTPException:
        return refusal(self.scheme, description)

    def __repr__(self) -> str:
        return f"TokenBackend(prefix={self.prefix!r}, scheme={self.scheme!r})"
