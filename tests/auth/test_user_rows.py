"""The signed-in user's lookup on asyncpg's own connection (carboy.auth._user_rows):
the same user, permissions and ORM state as the session path gives."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg

from carboy.auth import Group, Permission, SQLUserStore, User
from carboy.auth._user_rows import compile_user_rows
from carboy.db import Database
from tests.auth.conftest import drop_auth_tables, fast_hasher, make_auth_database

pytestmark = pytest.mark.anyio

COLUMNS = [column.key for column in User.__table__.columns]


def _values(user: Any) -> dict[str, Any]:
    return {key: getattr(user, key) for key in COLUMNS}


@pytest.fixture
async def pg(postgres_url: str) -> Any:
    db = make_auth_database(postgres_url)
    try:
        yield db
    finally:
        drop_auth_tables(db)
        await db.dispose()


async def _user_with_permissions(db: Database, store: SQLUserStore) -> Any:
    created = await store.create(username="ada", email="Ada@Example.com", password="pw-1234567")
    with db.transaction() as session:
        user = session.get(User, created.id)
        assert user is not None
        own = Permission(label="blog", codename="add_post")
        shared = Permission(label="blog", codename="change_post")
        editors = Group(name="editors", permissions=[shared])
        user.user_permissions.append(own)
        user.groups.append(editors)
        user.last_login = created.date_joined
    return created


async def test_the_driver_lookup_gives_what_the_session_path_gives(pg: Database) -> None:
    store = SQLUserStore(pg, hasher=fast_hasher())
    created = await _user_with_permissions(pg, store)
    fast = await store.get(str(created.id))
    assert store._rows is not None and store._rows[1] is not None  # the driver path ran
    store._rows = (pg.async_engine, None)  # the session path, for comparison
    slow = await store.get(str(created.id))
    assert fast is not None and slow is not None
    assert _values(fast) == _values(slow)
    assert fast.last_login is not None and fast.last_login.tzinfo is not None  # UTCDateTime
    assert (
        fast._carboy_permissions
        == slow._carboy_permissions
        == {
            "blog.add_post",
            "blog.change_post",
        }
    )
    assert fast.has_perm("blog.change_post") and not fast.has_perm("blog.delete_post")
    state = sa_inspect(fast)
    assert state.detached and state.key == sa_inspect(slow).key
    assert not state.modified


async def test_a_user_from_the_driver_lookup_updates_when_added_to_a_session(
    pg: Database,
) -> None:
    store = SQLUserStore(pg, hasher=fast_hasher())
    created = await store.create(username="bea", password="pw-1234567")
    found = await store.get(str(created.id))
    assert found is not None
    with pg.transaction() as session:
        user = found
        session.add(user)  # detached with its identity: an UPDATE, never an INSERT
        user.is_staff = True
    with pg.session() as session:
        assert session.scalars(select(User.is_staff)).all() == [True]


async def test_no_user_and_bad_ids_are_none(pg: Database) -> None:
    store = SQLUserStore(pg, hasher=fast_hasher())
    assert await store.get("12345") is None
    assert await store.get("not a number") is None
    assert store._rows is not None and store._rows[1] is not None


def test_only_postgresql_on_asyncpg_takes_the_driver_path() -> None:
    assert compile_user_rows(User, pg_asyncpg.dialect()) is not None
    for dialect in (pg_psycopg.dialect(), sqlite.dialect(), mysql.dialect()):
        assert compile_user_rows(User, dialect) is None


async def test_sqlite_keeps_the_session_path(tmp_path: Any) -> None:
    db = make_auth_database(f"sqlite:///{tmp_path / 'users.db'}")
    try:
        store = SQLUserStore(db, hasher=fast_hasher())
        created = await store.create(username="cy", password="pw-1234567")
        found = await store.get(str(created.id))
        assert found is not None and found.username == "cy"
        assert store._rows is not None and store._rows[1] is None
    finally:
        await db.dispose()
