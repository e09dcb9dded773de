"""The user stores keep one contract: in memory, and SQL on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg.transaction
import pytest
from sqlalchemy import select

from carboy.auth import (
    AuthUser,
    MemoryUser,
    MemoryUserStore,
    SQLUserStore,
    User,
    UserExists,
)
from carboy.auth.passwords import is_usable
from carboy.auth.users import clean_fields, normalize_email, validate_username
from carboy.db import Database
from tests.auth.conftest import drop_auth_tables, fast_hasher, make_auth_database

pytestmark = pytest.mark.anyio


async def test_create_and_get(store: Any) -> None:
    ann = await store.create(username="ann", email="Ann@Example.COM", password="plum-tree-9")
    assert isinstance(ann, AuthUser)
    assert ann.username == "ann"
    assert ann.email == "Ann@example.com"  # the domain is case-insensitive
    assert (ann.is_active, ann.is_staff, ann.is_superuser) == (True, False, False)
    assert ann.email_verified is False
    assert ann.session_generation == 0
    assert ann.last_login is None
    assert ann.date_joined.tzinfo is not None
    assert abs(ann.date_joined - datetime.now(UTC)) < timedelta(minutes=1)
    assert ann.password.startswith("$argon2id$") and "plum" not in ann.password
    assert ann.display_name == "ann" and ann.is_authenticated

    again = await store.get(ann.pk)
    assert again is not None and again is not ann
    assert (again.pk, again.username, again.email) == (ann.pk, "ann", "Ann@example.com")
    assert again.has_perm("blog.change_post") is False  # permissions are loaded: no error


@pytest.mark.parametrize(
    "pk", ["", "0", "999", "abc", "1.0", "-1", " 1", "1 ", "١", "9" * 19, "9" * 40, "2147483648"]
)
async def test_get_with_hostile_ids_is_none(store: Any, pk: str) -> None:
    await store.create(username="ann", password=None)
    assert await store.get(pk) is None


async def test_get_with_non_string_is_none(store: Any) -> None:
    assert await store.get(1) is None
    assert await store.get(None) is None


async def test_get_by_login_ignores_case_and_prefers_the_username(store: Any) -> None:
    ann = await store.create(username="Ann", email="ann@example.com", password=None)
    # Another user whose username is ann's e-mail: a username match wins.
    other = await store.create(username="bob@example.com", password=None)
    await store.create(username="cy", email="bob@example.com", password=None)
    assert (await store.get_by_login("ANN")).pk == ann.pk
    assert (await store.get_by_login("ann@EXAMPLE.com")).pk == ann.pk
    assert (await store.get_by_login("Bob@example.com")).pk == other.pk
    assert await store.get_by_login("nobody") is None
    assert await store.get_by_login("") is None
    assert await store.get_by_login("x" * 10_000) is None
    assert await store.get_by_login(None) is None


async def test_get_by_login_folds_case_beyond_ascii(store: Any) -> None:
    user = await store.create(username="Straße", password=None)
    assert (await store.get_by_login("STRASSE")).pk == user.pk


@pytest.mark.parametrize(("field", "value"), [("username", "ANN"), ("email", "ANN@example.com")])
async def test_usernames_and_emails_are_unique_ignoring_case(
    store: Any, field: str, value: str
) -> None:
    await store.create(username="ann", email="ann@example.com", password=None)
    fields = {"username": "other", "email": "other@example.com", field: value}
    with pytest.raises(UserExists, match=f"A user with this {field} already exists"):
        await store.create(password=None, **fields)
    bob = await store.create(username="bob", password=None)
    with pytest.raises(UserExists):
        await store.update(bob, **{field: value})
    assert getattr(await store.get(bob.pk), field) != value


async def test_many_users_without_email(store: Any) -> None:
    first = await store.create(username="a", email="", password=None)
    second = await store.create(username="b", password=None)
    assert first.email is None and second.email is None


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({}, ValueError, "A username is required"),
        ({"username": ""}, ValueError, "A username is required"),
        ({"username": "ann lee"}, ValueError, "only letters, digits"),
        ({"username": "<script>"}, ValueError, "only letters, digits"),
        ({"username": "a" * 151}, ValueError, "at most 150"),
        ({"username": "ann", "email": "not-an-email"}, ValueError, "valid e-mail"),
        ({"username": "ann", "email": "@example.com"}, ValueError, "valid e-mail"),
        ({"username": "ann", "email": "a b@example.com"}, ValueError, "valid e-mail"),
        ({"username": "ann", "email": 3}, ValueError, "e-mail is text"),
        ({"username": "ann", "is_staff": "yes"}, ValueError, "is_staff is True or False"),
        ({"username": "ann", "last_login": "2020"}, ValueError, "last_login is a datetime"),
        ({"username": "ann", "id": 5}, TypeError, "Unknown user field"),
        ({"username": "ann", "session_generation": 5}, TypeError, "Unknown user field"),
    ],
)
async def test_create_refuses_bad_fields(
    store: Any, fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await store.create(password=None, **fields)
    assert await store.get_by_login("ann") is None


async def test_update_cannot_set_the_password(store: Any) -> None:
    ann = await store.create(username="ann", password="plum-tree-9")
    with pytest.raises(TypeError, match="use set_password"):
        await store.update(ann, password="x")


async def test_password_none_cannot_sign_in(store: Any) -> None:
    ann = await store.create(username="ann", password=None)
    assert not is_usable(ann.password)
    assert await store.check_password(ann, "") is False
    assert await store.check_password(ann, ann.password) is False


async def test_check_password(store: Any) -> None:
    ann = await store.create(username="ann", password="plum-tree-9")
    assert await store.check_password(ann, "plum-tree-9") is True
    assert await store.check_password(ann, "Plum-tree-9") is False
    assert await store.check_password(ann, "") is False
    assert await store.check_password(ann, "p" * 100_000) is False


async def test_set_password_ends_sessions(store: Any) -> None:
    ann = await store.create(username="ann", password="plum-tree-9")
    await store.set_password(ann, "new-plum-tree-9")
    assert ann.session_generation == 1  # the caller's object follows
    fresh = await store.get(ann.pk)
    assert fresh.session_generation == 1
    assert await store.check_password(fresh, "new-plum-tree-9")
    assert not await store.check_password(fresh, "plum-tree-9")
    await store.set_password(fresh, None)
    assert not await store.check_password(await store.get(ann.pk), "new-plum-tree-9")


async def test_bump_generation(store: Any) -> None:
    ann = await store.create(username="ann", password=None)
    stale = await store.get(ann.pk)
    await store.bump_generation(ann)
    await store.bump_generation(ann)
    assert ann.session_generation == 2
    assert (await store.get(ann.pk)).session_generation == 2
    await store.bump_generation(stale)  # from an old copy: counts from the stored value
    assert (await store.get(ann.pk)).session_generation == 3


async def test_update_fields(store: Any) -> None:
    ann = await store.create(username="ann", password=None)
    moment = datetime(2025, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    await store.update(
        ann, last_login=moment, email_verified=True, is_staff=True, email="ann@x.example"
    )
    assert ann.last_login == moment and ann.email_verified
    fresh = await store.get(ann.pk)
    assert fresh.last_login == moment
    assert fresh.last_login.utcoffset() == timedelta(0)  # stored and given back in UTC
    assert (fresh.email_verified, fresh.is_staff, fresh.email) == (True, True, "ann@x.example")
    assert (await store.get_by_login("ANN@x.example")).pk == ann.pk
    await store.update(ann, username="Annie")
    assert (await store.get_by_login("annie")).username == "Annie"
    assert await store.get_by_login("ann") is None
    naive = datetime(2025, 3, 1, 12, 30)
    await store.update(ann, last_login=naive)
    assert (await store.get(ann.pk)).last_login == naive.replace(tzinfo=UTC)
    await store.update(ann)  # nothing to change
    assert (await store.get(ann.pk)).username == "Annie"


async def test_inactive_users(store: Any) -> None:
    ann = await store.create(username="ann", password="plum-tree-9", is_superuser=True)
    assert ann.has_perm("anything.at_all")
    await store.update(ann, is_active=False)
    fresh = await store.get(ann.pk)
    assert fresh.is_active is False
    assert fresh.has_perm("anything.at_all") is False


async def test_delete(store: Any) -> None:
    ann = await store.create(username="ann", password=None)
    await store.delete(ann)
    assert await store.get(ann.pk) is None
    with pytest.raises(LookupError):
        await store.update(ann, is_staff=True)


async def test_a_store_refuses_users_of_another_kind(store: Any) -> None:
    foreign: Any = MemoryUser(id=1, username="x") if isinstance(store, SQLUserStore) else User()
    with pytest.raises(TypeError, match="manages"):
        await store.check_password(foreign, "pw")


# -- transparent rehash -------------------------------------------------------------------
async def test_changed_parameters_rehash_at_the_next_sign_in(store: Any) -> None:
    ann = await store.create(username="ann", password="plum-tree-9")
    old = ann.password
    assert "t=1" in old
    store.hasher = fast_hasher(time_cost=2)
    assert store.hasher.needs_rehash(old)
    assert await store.check_password(ann, "wrong") is False
    assert (await store.get(ann.pk)).password == old  # a wrong password changes nothing
    assert await store.check_password(ann, "plum-tree-9") is True
    saved = (await store.get(ann.pk)).password
    assert saved != old and "t=2" in saved
    assert not store.hasher.needs_rehash(saved)
    assert ann.password == saved
    assert await store.check_password(await store.get(ann.pk), "plum-tree-9")
    # A rehash is not a password change: sessions go on.
    assert (await store.get(ann.pk)).session_generation == 0


# -- the SQL store ------------------------------------------------------------------------
def test_sql_store_needs_a_user_model(auth_database: Database) -> None:
    with pytest.raises(TypeError, match=r"built on carboy\.auth\.models\.UserMixin"):
        SQLUserStore(auth_database, model=MemoryUser)  # type: ignore[arg-type]


async def test_sql_users_are_rows(auth_database: Database) -> None:
    store = SQLUserStore(auth_database, hasher=fast_hasher())
    ann = await store.create(username="Ann", email="ann@example.com", password=None)
    with auth_database.session() as session:
        row = session.execute(select(User).where(User.id == int(ann.pk))).scalar_one()
        assert (row.username, row.username_key, row.email_key) == (
            "Ann",
            "ann",
            "ann@example.com",
        )
    await auth_database.dispose()


async def test_sql_duplicate_insert_race_is_user_exists(auth_database: Database) -> None:
    # The database's unique key catches what the check before the insert cannot.
    store = SQLUserStore(auth_database, hasher=fast_hasher())
    await store.create(username="ann", password=None)

    async def no_check(*args: Any) -> None:
        return None

    store._check_unique = no_check  # type: ignore[method-assign]
    with pytest.raises(UserExists):
        await store.create(username="ANN", password=None)
    bob = await store.create(username="bob", password=None)
    with pytest.raises(UserExists):
        await store.update(bob, username="Ann")
    await auth_database.dispose()


# -- the memory store ---------------------------------------------------------------------
async def test_memory_store_hands_out_copies() -> None:
    store = MemoryUserStore(hasher=fast_hasher())
    ann = await store.create(username="ann", password=None)
    ann.is_superuser = True  # a change to a copy is not saved
    assert (await store.get(ann.pk)).is_superuser is False
    assert len(store) == 1
    with pytest.raises(LookupError):
        await store.update(MemoryUser(id=99, username="ghost"), is_staff=True)


# -- field cleaning -------------------------------------------------------------------------
def test_helpers() -> None:
    assert normalize_email(None) is None
    assert normalize_email("  ") is None
    assert normalize_email("Ann@Example.COM") == "Ann@example.com"
    assert validate_username("ann.lee+1@x") == "ann.lee+1@x"
    assert clean_fields({"is_active": False}, creating=False) == {"is_active": False}


async def test_sql_get_reads_the_user_without_a_transaction_on_postgresql(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lookup runs on every signed-in request: no BEGIN and ROLLBACK round trips.
    begins: list[object] = []
    start = asyncpg.transaction.Transaction.start

    async def counted(self: Any) -> None:  # asyncpg sends BEGIN here
        begins.append(self)
        await start(self)

    db = make_auth_database(postgres_url)
    try:
        store = SQLUserStore(db, hasher=fast_hasher())
        created = await store.create(username="ada", password="pw-1234567")
        monkeypatch.setattr(asyncpg.transaction.Transaction, "start", counted)
        found = await store.get(str(created.id))
        assert found is not None and found.username == "ada"
        assert found.has_perm("x.y") is False  # permissions were loaded with it
        assert begins == []
        async with db.async_session() as session:  # a session does begin: the spy works
            await session.scalar(select(1))
        assert len(begins) == 1
    finally:
        drop_auth_tables(db)
        await db.dispose()
