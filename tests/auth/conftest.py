"""Fixtures of the auth battery's tests: a fast password hasher, user stores, databases,
and every session store.

Session stores run against real servers: SQLite and PostgreSQL through
tests/db's fixtures, Redis at 127.0.0.1:6379 (``CARBOY_TEST_REDIS_URL`` to
change it; ``CARBOY_SKIP_REDIS=1`` skips instead of failing, except under CI).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Table, create_engine
from sqlalchemy.pool import NullPool

from carboy import Carboy
from carboy.auth import (
    AuthUser,
    CookieStore,
    DatabaseStore,
    MemoryStore,
    MemoryUserStore,
    PasswordHasher,
    RedisStore,
    Signer,
    SQLUserStore,
)
from carboy.db import Database, Model
from carboy.identity import SessionStore
from tests.db.conftest import (  # noqa: F401  (fixtures)
    backend,
    database_url,
    fresh_database_url,
    postgres_url,
    require_postgres,
)


def fast_hasher(**options: Any) -> PasswordHasher:
    """argon2id with the smallest parameters: the same code path, in microseconds."""
    options.setdefault("time_cost", 1)
    options.setdefault("memory_cost", 8)
    options.setdefault("parallelism", 1)
    return PasswordHasher(**options)


class CountingHasher(PasswordHasher):
    """Test-speed argon2id that counts the hashes it checks (real or dummy)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8 * 1024, parallelism=1)
        self.verifications = 0

    def verify(self, encoded: str, password: str) -> bool:
        self.verifications += 1
        return super().verify(encoded, password)

    def dummy_verify(self) -> None:
        self.verifications += 1
        super().dummy_verify()


@pytest.fixture
def hasher() -> PasswordHasher:
    return fast_hasher()


def auth_tables() -> list[Table]:
    """The tables of the auth battery on the shared metadata."""
    return [table for name, table in Model.metadata.tables.items() if name.startswith("auth_")]


@pytest.fixture
def auth_database(database_url: str) -> Iterator[Database]:  # noqa: F811  (the fixture)
    """A ``Database`` (SQLite or PostgreSQL) with empty auth tables, dropped after."""
    db = make_auth_database(database_url)
    yield db
    drop_auth_tables(db)


def make_auth_database(url: str) -> Database:
    db = Database(url)
    Model.metadata.drop_all(db.engine, tables=auth_tables())
    Model.metadata.create_all(db.engine, tables=auth_tables())
    return db


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store(
    store_kind: str, hasher: PasswordHasher, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Any]:
    """Each user store: in memory, and SQL on SQLite and PostgreSQL."""
    if store_kind == "memory":
        yield MemoryUserStore(hasher=hasher)
        return
    if store_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'users.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    db = make_auth_database(url)
    yield SQLUserStore(db, hasher=hasher)
    await db.dispose()
    drop_auth_tables(db)


def drop_auth_tables(db: Database) -> None:
    Model.metadata.drop_all(db.engine, tables=auth_tables())
    db.engine.dispose()


# -- sessions --------------------------------------------------------------------
SECRET_KEY = "auth-tests-k3J9xQ2mV7pL0aZr8TtY5uWc1bN4sD6fG"
STORES = ["cookie", "memory", "sqlite", "postgresql", "redis"]
T = TypeVar("T")


@dataclass
class Member:
    """A user of the tests' store: what AuthUser asks, and no more."""

    id: int
    username: str
    password: str = "pw"
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    session_generation: int = 0
    last_login: Any = None
    perms: set[str] = field(default_factory=set)

    @property
    def pk(self) -> str:
        return str(self.id)

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return self.is_superuser or perm in self.perms


class DictUsers:
    """A UserStore over a dict: the protocol and nothing else (no ORM)."""

    def __init__(self) -> None:
        self.users: dict[str, Member] = {}
        self.updates: list[tuple[str, dict[str, Any]]] = []

    async def get(self, pk: str) -> AuthUser | None:
        return self.users.get(pk)

    async def get_by_login(self, login: str) -> AuthUser | None:
        return next((u for u in self.users.values() if u.username.lower() == login.lower()), None)

    async def create(self, *, password: str | None, **fields: Any) -> AuthUser:
        user = Member(id=len(self.users) + 1, password=password or "", **fields)
        self.users[user.pk] = user
        return user

    async def check_password(self, user: AuthUser, password: str) -> bool:
        return self.users[user.pk].password == password

    async def set_password(self, user: AuthUser, password: str) -> None:
        member = self.users[user.pk]
        member.password = password
        member.session_generation += 1

    async def update(self, user: AuthUser, **fields: Any) -> None:
        self.updates.append((user.pk, fields))
        for name, value in fields.items():
            setattr(self.users[user.pk], name, value)

    async def bump_generation(self, user: AuthUser) -> None:
        self.users[user.pk].session_generation += 1


@pytest.fixture
def users() -> DictUsers:
    return DictUsers()


def new_app(**options: Any) -> Carboy:
    """A production-mode app that accepts the test client's host."""
    options.setdefault("secret_key", SECRET_KEY)
    options.setdefault("allowed_hosts", ["*"])
    return Carboy(**options)


def cookie_store(**options: Any) -> CookieStore:
    return CookieStore(Signer(SECRET_KEY, salt="carboy.auth.session"), **options)


@pytest.fixture(params=STORES)
def session_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def redis_url() -> str:
    return os.environ.get("CARBOY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_redis() -> None:
    """Fail (or, with ``CARBOY_SKIP_REDIS=1``, skip) when Redis is down."""
    import redis

    try:
        redis.Redis.from_url(redis_url(), socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CARBOY_SKIP_REDIS") == "1":
            pytest.skip(f"Redis tests skipped (CARBOY_SKIP_REDIS=1): {exc}")
        pytest.fail(
            f"Redis at {redis_url()} cannot be reached ({exc}). Start it, or set "
            "CARBOY_SKIP_REDIS=1 to skip these tests.",
            pytrace=False,
        )


def database_store(url: str) -> Iterator[DatabaseStore]:
    """A DatabaseStore on ``url`` with an empty ``auth_session`` table (dropped after)."""
    session_store = DatabaseStore(Database(url))
    table = session_store._table
    engine = create_engine(session_store.database.sync_url, poolclass=NullPool)
    try:
        table.drop(engine, checkfirst=True)
        table.create(engine)
        yield session_store
        table.drop(engine, checkfirst=True)
    finally:
        engine.dispose()


@pytest.fixture
def session_store(
    session_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """A fresh, empty session store of each kind, on a real server where it has one."""
    if session_kind == "cookie":
        yield cookie_store()
    elif session_kind == "memory":
        yield MemoryStore()
    elif session_kind == "sqlite":
        yield from database_store(f"sqlite:///{tmp_path / 'sessions.db'}")
    elif session_kind == "postgresql":
        require_postgres()
        yield from database_store(str(request.getfixturevalue("postgres_url")))
    elif session_kind == "redis":
        require_redis()
        prefix = f"carboy-test:{secrets.token_hex(6)}:"
        yield RedisStore(redis_url(), prefix=prefix)
        import redis

        client = redis.Redis.from_url(redis_url())
        try:
            for name in client.scan_iter(match=prefix + "*"):
                client.delete(name)
        finally:
            client.close()
    else:  # pragma: no cover - a kind listed in STORES without a branch
        raise AssertionError(session_kind)


async def close_store(session_store: SessionStore) -> None:
    """Close what a store holds open on the running loop (each test client has its own)."""
    if isinstance(session_store, DatabaseStore):
        await session_store.database.dispose()
    elif isinstance(session_store, RedisStore):
        await session_store.aclose()


def run(session_store: SessionStore, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` (a call on ``store``) on a loop of its own, then close the store's
    connections on that loop."""

    async def go() -> T:
        try:
            return await coro
        finally:
            await close_store(session_store)

    return asyncio.run(go())


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test alone (migrations need one)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    require_postgres()
    from carboy.db.testing import temporary_database
    from tests.db.conftest import POSTGRES_URL

    with temporary_database(POSTGRES_URL) as url:
        yield url
