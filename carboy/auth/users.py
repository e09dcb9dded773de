"""User stores: where users live. ``SQLUserStore`` (the default) and ``MemoryUserStore``.

The rest of carboy.auth (sessions, pages, guards, tokens, the CLI) talks to a
:class:`~carboy.auth.UserStore`, never to the ORM. :class:`SQLUserStore` keeps
users in the app's database with the :class:`~carboy.auth.models.User` model
(or your own); :class:`MemoryUserStore` keeps them in the process, for tests
and for apps without a database, and shows what another store (LDAP, a remote
service) has to do.

Users come back with their permissions loaded, so ``user.has_perm(...)`` is
a plain sync call in a handler or a template.

Example:
    >>> store = MemoryUserStore()
    >>> ann = await store.create(username="ann", email="ann@example.com", password="plum-tree-9")
    >>> await store.check_password(ann, "plum-tree-9")
    True
    >>> (await store.get_by_login("ANN@example.com")).username
    'ann'
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Integer, case, delete, or_, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, attributes

from carboy.auth._has_perm import ObjectPermissionHook, check_permission
from carboy.auth._user_rows import UserRows, compile_user_rows
from carboy.auth.models import User, UserMixin, fold
from carboy.auth.passwords import PasswordHasher, make_unusable_password
from carboy.auth.permissions import _attach, _get_user, aload_permissions

if TYPE_CHECKING:
    from carboy.auth._protocols import AuthUser
    from carboy.db import Database

#: What a username may contain: letters, digits and ``@ . + - _`` (as in Django).
USERNAME_PATTERN = re.compile(r"[\w.@+-]+")
USERNAME_MAX_LENGTH = 150
EMAIL_MAX_LENGTH = 254

#: The fields ``create`` and ``update`` take (besides ``password`` for ``create``).
USER_FIELDS = frozenset(
    {
        "username",
        "email",
        "is_active",
        "is_staff",
        "is_superuser",
        "email_verified",
        "last_login",
        "date_joined",
    }
)
_BOOLEAN_FIELDS = frozenset({"is_active", "is_staff", "is_superuser", "email_verified"})
_DATE_FIELDS = frozenset({"last_login", "date_joined"})


class UserExists(ValueError):
    """Another user already has this username or e-mail (ignoring case).

    Example:
        >>> await store.create(username="ANN", password=None)
        Traceback (most recent call last):
        ...
        carboy.auth.users.UserExists: A user with this username already exists.
    """

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(f"A user with this {field} already exists.")


def normalize_email(email: str | None) -> str | None:
    """The e-mail as stored: stripped, domain lowercased; empty becomes None.

    Example:
        >>> normalize_email("  Ann@Example.COM ")
        'Ann@example.com'
    """
    if email is None:
        return None
    if not isinstance(email, str):
        raise ValueError(f"An e-mail is text, got {type(email).__name__}")
    email = email.strip()
    if not email:
        return None
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or len(email) > EMAIL_MAX_LENGTH or " " in email:
        raise ValueError(f"Enter a valid e-mail address (got {email[:60]!r}).")
    return f"{local}@{domain.lower()}"


def validate_username(username: Any) -> str:
    """``username`` if it can be one; a ValueError that says why not otherwise.

    Example:
        >>> validate_username("ann.lee")
        'ann.lee'
    """
    if not isinstance(username, str) or not username:
        raise ValueError("A username is required.")
    if len(username) > USERNAME_MAX_LENGTH:
        raise ValueError(f"A username has at most {USERNAME_MAX_LENGTH} characters.")
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValueError("A username may contain only letters, digits and @ . + - _ characters.")
    return username


def clean_fields(fields: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """Check and normalize the fields given to ``create`` or ``update``.

    Raises:
        TypeError: A field that users do not have (``password`` in ``update``).
        ValueError: A value it cannot take (a username with spaces, a bad e-mail).
    """
    unknown = sorted(set(fields) - USER_FIELDS)
    if unknown:
        hint = " (use set_password)" if "password" in unknown else ""
        known = ", ".join(sorted(USER_FIELDS))
        raise TypeError(f"Unknown user field(s) {', '.join(unknown)}{hint}; known: {known}")
    cleaned = dict(fields)
    if "username" in cleaned or creating:
        cleaned["username"] = validate_username(cleaned.get("username"))
    if "email" in cleaned:
        cleaned["email"] = normalize_email(cleaned["email"])
    for name in _BOOLEAN_FIELDS & set(cleaned):
        if not isinstance(cleaned[name], bool):
            raise ValueError(f"{name} is True or False, got {cleaned[name]!r}")
    for name in _DATE_FIELDS & set(cleaned):
        value = cleaned[name]
        if value is not None and not isinstance(value, datetime):
            raise ValueError(f"{name} is a datetime, got {value!r}")
        if isinstance(value, datetime):
            # Naive values are taken to be UTC, as UTCDateTime columns take them.
            aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
            cleaned[name] = aware.astimezone(UTC)
    return cleaned


# -- in memory -----------------------------------------------------------------------------
@dataclasses.dataclass(eq=False)
class MemoryUser:
    """A user of :class:`MemoryUserStore`; satisfies :class:`~carboy.auth.AuthUser`.

    Example:
        >>> user = MemoryUser(id=1, username="ann")
        >>> (user.pk, user.display_name, user.is_authenticated)
        ('1', 'ann', True)
    """

    id: int
    username: str
    email: str | None = None
    password: str = dataclasses.field(default="", repr=False)
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    email_verified: bool = False
    last_login: datetime | None = None
    date_joined: datetime = dataclasses.field(default_factory=lambda: datetime.now(UTC))
    session_generation: int = 0
    #: Permissions given to the user directly, and the names of the user's groups.
    user_permissions: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    #: Every permission, own and from groups (filled by the store).
    permissions: frozenset[str] = frozenset()
    object_permissions: ObjectPermissionHook | None = dataclasses.field(default=None, repr=False)

    @property
    def pk(self) -> str:
        """The id as a string."""
        return str(self.id)

    @property
    def is_authenticated(self) -> bool:
        """Always True."""
        return True

    @property
    def display_name(self) -> str:
        """The username, or the e-mail when there is none."""
        return self.username or self.email or ""

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        """True when the user holds ``perm``, for ``obj`` if given (see ``User.has_perm``)."""
        return check_permission(self, perm, obj, lambda: self.permissions, self.object_permissions)

    def has_perms(self, perms: Any, obj: Any = None) -> bool:
        """True when the user holds every permission of ``perms``."""
        return all(self.has_perm(perm, obj) for perm in perms)

    def __str__(self) -> str:
        return self.display_name


class MemoryUserStore:
    """Users in a dict of this process: for tests, and apps without a database.

    Lost when the process ends, and not shared between processes. Each read
    hands out a copy, as a database would: change users through the store.

    Args:
        hasher: The password hasher (argon2id defaults).
        object_permissions: The hook ``has_perm(perm, obj)`` asks (see
            ``Auth(object_permissions=...)``).

    Example:
        >>> store = MemoryUserStore()
        >>> app.install(Auth(users=store))
        >>> ann = await store.create(username="ann", password="plum-tree-9")
        >>> await store.grant(ann, "blog.change_post")
        >>> (await store.get(ann.pk)).has_perm("blog.change_post")
        True
    """

    def __init__(
        self,
        *,
        hasher: PasswordHasher | None = None,
        object_permissions: ObjectPermissionHook | None = None,
    ) -> None:
        self.hasher = hasher if hasher is not None else PasswordHasher()
        self.object_permissions = object_permissions
        self._users: dict[int, MemoryUser] = {}
        self._group_permissions: dict[str, frozenset[str]] = {}
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._users)

    def _copy(self, user: MemoryUser) -> MemoryUser:
        permissions = set(user.user_permissions)
        for group in user.groups:
            permissions |= self._group_permissions.get(group, frozenset())
        return dataclasses.replace(
            user, permissions=frozenset(permissions), object_permissions=self.object_permissions
        )

    def _record(self, user: Any) -> MemoryUser:
        if not isinstance(user, MemoryUser):
            raise TypeError(f"MemoryUserStore manages MemoryUser objects, got {user!r}")
        found = self._users.get(user.id)
        if found is None:
            raise LookupError(f"{user!r} is not in this store (deleted?)")
        return found

    def _taken(self, field: str, value: str | None, but: int | None) -> bool:
        if value is None:
            return False
        wanted = fold(value)
        return any(
            fold(getattr(u, field) or "") == wanted for u in self._users.values() if u.id != but
        )

    def _check_unique(self, fields: Mapping[str, Any], but: int | None) -> None:
        for field in ("username", "email"):
            if field in fields and self._taken(field, fields[field], but):
                raise UserExists(field)

    def _sync(self, record: MemoryUser, given: Any) -> None:
        # The caller's object follows the change, as with the SQL store.
        for field in dataclasses.fields(record):
            if field.name not in ("permissions", "object_permissions"):
                setattr(given, field.name, getattr(record, field.name))

    async def get(self, pk: str) -> MemoryUser | None:
        """The user with this id, or None (for any string, well-formed or not)."""
        if not isinstance(pk, str) or not pk.isascii() or not pk.isdecimal() or len(pk) > 18:
            return None
        user = self._users.get(int(pk))
        return self._copy(user) if user is not None else None

    async def get_by_login(self, login: str) -> MemoryUser | None:
        """The user whose username or e-mail is ``login`` (ignoring case), or None."""
        if not isinstance(login, str) or not login:
            return None
        wanted = fold(login)
        for field in ("username", "email"):
            for user in self._users.values():
                if fold(getattr(user, field) or "") == wanted:
                    return self._copy(user)
        return None

    async def create(self, *, password: str | None, **fields: Any) -> MemoryUser:
        """Make a user; ``password`` None makes one that cannot sign in with a password.

        Raises:
            UserExists: The username or e-mail is taken.
            TypeError / ValueError: A field it does not have, or a value it cannot take.
        """
        cleaned = clean_fields(fields, creating=True)
        self._check_unique(cleaned, None)
        encoded = make_unusable_password() if password is None else self.hasher.hash(password)
        user = MemoryUser(id=next(self._ids), password=encoded, **cleaned)
        self._users[user.id] = user
        return self._copy(user)

    async def check_password(self, user: AuthUser, password: str) -> bool:
        """Verify ``password``; save a new hash when the hasher's parameters changed."""
        record = self._record(user)
        if not self.hasher.verify(record.password, password):
            return False
        if self.hasher.needs_rehash(record.password):
            record.password = self.hasher.hash(password)
            self._sync(record, user)
        return True

    async def set_password(self, user: AuthUser, password: str | None) -> None:
        """Save a new password (None: unusable) and end the user's sessions."""
        record = self._record(user)
        record.password = (
            make_unusable_password() if password is None else self.hasher.hash(password)
        )
        record.session_generation += 1
        self._sync(record, user)

    async def update(self, user: AuthUser, **fields: Any) -> None:
        """Save fields of the user (``last_login``, ``is_active``, ``email``...)."""
        record = self._record(user)
        cleaned = clean_fields(fields, creating=False)
        self._check_unique(cleaned, record.id)
        for name, value in cleaned.items():
            setattr(record, name, value)
        self._sync(record, user)

    async def bump_generation(self, user: AuthUser) -> None:
        """End every session of the user."""
        record = self._record(user)
        record.session_generation += 1
        self._sync(record, user)

    async def delete(self, user: AuthUser) -> None:
        """Remove the user."""
        self._users.pop(self._record(user).id)

    async def grant(self, user: AuthUser, *perms: str) -> None:
        """Give the user permissions directly (``"blog.change_post"``)."""
        record = self._record(user)
        record.user_permissions = record.user_permissions | frozenset(perms)
        self._sync(record, user)
        if isinstance(user, MemoryUser):
            user.permissions = self._copy(record).permissions

    async def add_to_group(self, user: AuthUser, group: str) -> None:
        """Put the user in ``group`` (whose permissions :meth:`set_group` sets)."""
        record = self._record(user)
        record.groups = record.groups | {group}
        self._sync(record, user)
        if isinstance(user, MemoryUser):
            user.permissions = self._copy(record).permissions

    async def set_group(self, group: str, perms: frozenset[str] | set[str] | list[str]) -> None:
        """Say which permissions ``group`` holds (replacing what it held)."""
        self._group_permissions[group] = frozenset(perms)


# -- SQL -------------------------------------------------------------------------------------
class SQLUserStore:
    """Users in the app's database: the default store of :class:`~carboy.auth.Auth`.

    Every method runs on the database's async engine, in a transaction of its
    own. Users come back detached, with their permissions loaded.

    Args:
        database: The app's :class:`~carboy.db.Database`.
        model: The user model: :class:`~carboy.auth.models.User`, or your own
            built on :class:`~carboy.auth.models.UserMixin`.
        hasher: The password hasher.
        object_permissions: The hook ``has_perm(perm, obj)`` asks.

    Example:
        >>> store = SQLUserStore(app.get_module(Database))
        >>> ann = await store.create(username="ann", password="plum-tree-9")
        >>> (await store.get(ann.pk)).username
        'ann'
    """

    def __init__(
        self,
        database: Database,
        *,
        model: type[UserMixin] = User,
        hasher: PasswordHasher | None = None,
        object_permissions: ObjectPermissionHook | None = None,
    ) -> None:
        if not (isinstance(model, type) and issubclass(model, UserMixin)):
            raise TypeError(
                f"SQLUserStore(model={model!r}): a user model is a carboy.db model built on "
                "carboy.auth.models.UserMixin"
            )
        self.database = database
        self.model = model
        self.hasher = hasher if hasher is not None else PasswordHasher()
        self.object_permissions = object_permissions
        #: (the engine, its driver-level user lookup or None), made on first use.
        self._rows: tuple[Any, UserRows | None] | None = None
        column = model.__mapper__.primary_key[0]  # type: ignore[attr-defined]
        self._key_bits = 63 if isinstance(column.type, BigInteger) else 31
        if not isinstance(column.type, Integer):  # pragma: no cover - UserMixin needs an int id
            raise TypeError(f"{model.__name__}: the user model needs an integer id")

    def _key(self, pk: object) -> int | None:
        if not isinstance(pk, str) or not pk.isascii() or not pk.isdecimal() or len(pk) > 19:
            return None
        key = int(pk)
        return key if key < 2**self._key_bits else None

    def _own(self, user: Any) -> Any:
        if not isinstance(user, self.model):
            raise TypeError(f"This store manages {self.model.__name__} objects, got {user!r}")
        return user

    async def get(self, pk: str) -> AuthUser | None:
        """The user with this id (permissions loaded), or None; any string is safe to pass."""
        key = self._key(pk)
        if key is None:
            return None
        # On every signed-in request: the user and their permissions in one query, on a
        # connection in autocommit mode (a read needs no BEGIN and ROLLBACK round trips).
        # On asyncpg, on the driver's connection (carboy/auth/_user_rows.py); elsewhere
        # in one pass through SQLAlchemy's greenlet bridge.
        engine = self.database.async_engine
        if self._rows is None or self._rows[0] is not engine:
            self._rows = (engine, compile_user_rows(self.model, engine.dialect))
        rows = self._rows[1]
        if rows is not None:
            async with self.database.driver_connection() as driver:
                found = rows.build(await driver.fetch(rows.sql, key))
            if found is None:
                return None
            _attach(found[0], found[1], self.object_permissions)
            return found[0]  # type: ignore[no-any-return]
        async with engine.connect() as connection:
            user: AuthUser | None = await connection.run_sync(self._get_on, key)
            return user

    def _get_on(self, connection: Connection, key: int) -> AuthUser | None:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        with Session(bind=connection, expire_on_commit=False) as session:
            user: AuthUser | None = _get_user(session, self.model, key, self.object_permissions)
            return user

    async def get_by_login(self, login: str) -> AuthUser | None:
        """The user whose username or e-mail is ``login`` (ignoring case), or None.

        A username match wins over another user's e-mail.
        """
        if not isinstance(login, str) or not login or len(login) > EMAIL_MAX_LENGTH:
            return None
        wanted = fold(login)
        model: Any = self.model
        username = model.username_key == wanted
        query = (
            select(model)
            .where(or_(username, model.email_key == wanted))
            .order_by(case((username, 0), else_=1))
            .limit(1)
        )
        async with self.database.async_session() as session:
            user = (await session.execute(query)).scalar_one_or_none()
            if user is None:
                return None
            await aload_permissions(session, user, self.object_permissions)
            return user  # type: ignore[no-any-return]

    async def _check_unique(self, session: Any, fields: Mapping[str, Any], but: int | None) -> None:
        model: Any = self.model
        for field in ("username", "email"):
            value = fields.get(field)
            if value is None:
                continue
            query = select(model.id).where(getattr(model, f"{field}_key") == fold(value))
            if but is not None:
                query = query.where(model.id != but)
            if (await session.execute(query.limit(1))).first() is not None:
                raise UserExists(field)

    async def create(self, *, password: str | None, **fields: Any) -> AuthUser:
        """Make a user; ``password`` None makes one that cannot sign in with a password.

        Raises:
            UserExists: The username or e-mail is taken (ignoring case).
            TypeError / ValueError: A field users do not have, or a bad value.
        """
        cleaned = clean_fields(fields, creating=True)
        encoded = make_unusable_password() if password is None else self.hasher.hash(password)
        model: Any = self.model
        user = model(password=encoded, **cleaned)
        async with self.database.async_session() as session:
            await self._check_unique(session, cleaned, None)
            session.add(user)
            try:
                await session.commit()
            except sa_exc.IntegrityError:
                # Another request made the same user between the check and the insert.
                await session.rollback()
                raise UserExists("username or e-mail") from None
            await aload_permissions(session, user, self.object_permissions)
        return user  # type: ignore[no-any-return]

    async def _save(self, user: Any, values: Mapping[str, Any], *, bump: bool = False) -> None:
        model: Any = self.model
        keys = {
            f"{name}_key": fold(values[name]) if values[name] is not None else None
            for name in ("username", "email")
            if name in values
        }
        statement = update(model).where(model.id == user.id).values(**values, **keys)
        if bump:
            statement = statement.values(session_generation=model.session_generation + 1)
        async with self.database.async_session() as session:
            if "username" in values or "email" in values:
                await self._check_unique(session, values, user.id)
            try:
                result = await session.execute(statement)
                if bump:
                    generation = await session.scalar(
                        select(model.session_generation).where(model.id == user.id)
                    )
                await session.commit()
            except sa_exc.IntegrityError:
                await session.rollback()
                raise UserExists("username or e-mail") from None
        if getattr(result, "rowcount", 1) == 0:
            raise LookupError(f"{user!r} is not in the database (deleted?)")
        for name, value in {**values, **keys}.items():
            attributes.set_committed_value(user, name, value)
        if bump:
            attributes.set_committed_value(user, "session_generation", generation)

    async def check_password(self, user: AuthUser, password: str) -> bool:
        """Verify ``password``; save a new hash when the hasher's parameters changed."""
        own = self._own(user)
        if not self.hasher.verify(own.password, password):
            return False
        if self.hasher.needs_rehash(own.password):
            await self._save(own, {"password": self.hasher.hash(password)})
        return True

    async def set_password(self, user: AuthUser, password: str | None) -> None:
        """Save a new password (None: unusable) and end the user's sessions."""
        own = self._own(user)
        encoded = make_unusable_password() if password is None else self.hasher.hash(password)
        await self._save(own, {"password": encoded}, bump=True)

    async def update(self, user: AuthUser, **fields: Any) -> None:
        """Save fields of the user (``last_login``, ``is_active``, ``email_verified``...).

        Raises:
            UserExists: A new username or e-mail is taken.
            TypeError / ValueError: A field users do not have, or a bad value.
        """
        own = self._own(user)
        cleaned = clean_fields(fields, creating=False)
        if cleaned:
            await self._save(own, cleaned)

    async def bump_generation(self, user: AuthUser) -> None:
        """End every session of the user."""
        await self._save(self._own(user), {}, bump=True)

    async def delete(self, user: AuthUser) -> None:
        """Remove the user (and their group and permission links)."""
        own = self._own(user)
        model: Any = self.model
        async with self.database.async_session() as session:
            # The link rows go with it: their foreign keys cascade on delete.
            await session.execute(delete(model).where(model.id == own.id))
            await session.commit()
