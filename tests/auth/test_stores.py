"""The session stores' contract (carboy.identity.SessionStore), the same on every store."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from carboy.auth import CookieStore, MemoryStore, Signer
from carboy.identity import SessionStore

from .conftest import SECRET_KEY, run

HOSTILE_KEYS = [
    "",
    "x",
    "A" * 43,  # the shape of a server-side key, never made
    "A" * 100_000,
    "../../etc/passwd",
    "key' OR '1'='1",
    "*",
    "prefix:*",
    "\x00\x01",
    "é" * 43,
    ".eJyrVkpVsjI0tzQzMTYyNjHTUUpRsqqGEIlAiVodpWSIvKG5sSFIvhiZW1sLAOjRDx0.aw9tWg.forged",
]


def test_save_and_load(session_store: SessionStore) -> None:
    key = run(session_store, session_store.save(None, {"d": {"a": [1, "x"]}, "c": 1, "s": 2}, 60))
    assert isinstance(key, str) and key
    assert run(session_store, session_store.load(key)) == {"d": {"a": [1, "x"]}, "c": 1, "s": 2}


def test_keys_are_cookie_safe(session_store: SessionStore) -> None:
    key = run(session_store, session_store.save(None, {"text": 'é ; = " , \\'}, 60))
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert set(key) <= allowed


def test_save_under_a_held_key(session_store: SessionStore) -> None:
    key = run(session_store, session_store.save(None, {"n": 1}, 60))
    again = run(session_store, session_store.save(key, {"n": 2}, 60))
    assert run(session_store, session_store.load(again)) == {"n": 2}
    if session_store.server_side:
        assert again == key


def test_a_deleted_key_is_never_revived(session_store: SessionStore) -> None:
    key = run(session_store, session_store.save(None, {"n": 1}, 60))
    run(session_store, session_store.delete(key))
    run(session_store, session_store.delete(key))  # twice is fine
    if not session_store.server_side:
        return  # the data is in the key: nothing to delete
    assert run(session_store, session_store.load(key)) is None
    new = run(session_store, session_store.save(key, {"n": 2}, 60))
    assert new != key
    assert run(session_store, session_store.load(key)) is None
    assert run(session_store, session_store.load(new)) == {"n": 2}


def test_saved_data_is_a_copy(session_store: SessionStore) -> None:
    data: dict[str, Any] = {"items": [1]}
    key = run(session_store, session_store.save(None, data, 60))
    data["items"].append(2)
    assert run(session_store, session_store.load(key)) == {"items": [1]}


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_keys_are_unknown(session_store: SessionStore, key: str) -> None:
    assert run(session_store, session_store.load(key)) is None
    run(session_store, session_store.delete(key))
    new = run(session_store, session_store.save(key, {"n": 1}, 60))
    assert new != key


#: What clear_expired() finds to remove: stores that expire by themselves leave it nothing.
CLEARS = {"cookie": 0, "memory": 1, "sqlite": 1, "postgresql": 1, "redis": 0}


def test_sessions_expire(session_store: SessionStore, session_kind: str) -> None:
    short = run(session_store, session_store.save(None, {"n": 1}, 1))
    long = run(session_store, session_store.save(None, {"n": 2}, 100))
    time.sleep(1.1)
    assert run(session_store, session_store.clear_expired()) == CLEARS[session_kind]
    assert run(session_store, session_store.clear_expired()) == 0
    assert run(session_store, session_store.load(short)) is None
    assert run(session_store, session_store.load(long)) == {"n": 2}


def test_the_memory_store_sweeps_expired_sessions() -> None:
    now = [1000.0]
    session_store = MemoryStore(clock=lambda: now[0])
    for _ in range(10):
        run(session_store, session_store.save(None, {}, 5))
    now[0] += 10
    assert len(session_store) == 10
    for _ in range(990):
        run(session_store, session_store.save(None, {}, 5))
    assert len(session_store) == 990  # the 1000th save swept the 10 expired ones
    assert repr(session_store) == "MemoryStore(990 sessions)"


@pytest.mark.parametrize(
    "payload",
    [[1, 2], {"d": {}}, {"e": "soon", "d": {}}, {"e": 10**12, "d": [1]}, {"e": True, "d": 3}],
)
def test_the_cookie_store_refuses_signed_but_malformed_payloads(payload: Any) -> None:
    signer = Signer(SECRET_KEY, salt="carboy.auth.session")
    assert asyncio.run(CookieStore(signer).load(signer.dumps(payload))) is None


def test_the_cookie_store_refuses_a_cookie_signed_for_another_purpose() -> None:
    token = Signer(SECRET_KEY, salt="carboy.auth.csrf").dumps({"e": 10**12, "d": {}})
    session = CookieStore(Signer(SECRET_KEY, salt="carboy.auth.session"))
    assert asyncio.run(session.load(token)) is None
    assert asyncio.run(CookieStore(Signer(SECRET_KEY, salt="carboy.auth.csrf")).load(token)) == {}


def test_the_redis_store_takes_a_url_or_a_client() -> None:
    import redis.asyncio

    from carboy import ConfigurationError
    from carboy.auth import RedisStore

    from .conftest import redis_url, require_redis

    with pytest.raises(ConfigurationError, match="give a url or a client"):
        RedisStore()
    with pytest.raises(ConfigurationError, match="give a url or a client"):
        RedisStore("redis://x", client=redis.asyncio.Redis())
    require_redis()

    async def go() -> None:
        client = redis.asyncio.Redis.from_url(redis_url())
        session_store = RedisStore(client=client, prefix="carboy-test-client:")
        try:
            key = await session_store.save(None, {"n": 1}, 5)
            assert await session_store.load(key) == {"n": 1}
            await session_store.aclose()  # not ours to close: still usable
            assert await session_store.load(key) == {"n": 1}
            await client.set("carboy-test-client:" + "0" * 64, b"not json", ex=5)
            await client.set("carboy-test-client:" + "1" * 64, b"[1]", ex=5)
            await session_store.delete(key)
        finally:
            await client.aclose()
        assert repr(session_store) == "RedisStore(prefix='carboy-test-client:')"

    asyncio.run(go())


def test_the_clock_option_of_the_stores(tmp_path: Any) -> None:
    from carboy.auth import DatabaseStore
    from carboy.db import Database

    from .conftest import database_store

    now = [1_000_000.0]
    cookie = CookieStore(Signer(SECRET_KEY, salt="carboy.auth.session"), clock=lambda: now[0])
    tables = database_store(f"sqlite:///{tmp_path / 'clock.db'}")
    made = next(tables)  # the table exists until the generator ends
    database = DatabaseStore(Database(made.database.url), clock=lambda: now[0])
    for session_store in (cookie, database):
        key = run(session_store, session_store.save(None, {"n": 1}, 60))
        now[0] += 59
        assert run(session_store, session_store.load(key)) == {"n": 1}
        now[0] += 1
        assert run(session_store, session_store.load(key)) is None
        now[0] -= 60
    assert run(database, database.clear_expired()) == 0
    now[0] += 61
    assert run(database, database.clear_expired()) == 1
    tables.close()


def test_sessions_url_setting_picks_the_store(tmp_path: Any) -> None:
    """settings.sessions_url picks the store of an Auth given none; an explicit store wins."""
    from carboy import Carboy
    from carboy.auth import Auth, DatabaseStore, RedisStore, SessionConfig
    from carboy.db import Database
    from carboy.exceptions import ConfigurationError
    from carboy.settings import Settings

    from .conftest import redis_url, require_redis

    require_redis()
    for url, kind in (
        ("cookie://", CookieStore),
        ("memory://", MemoryStore),
        ("database://", DatabaseStore),
        (redis_url(), RedisStore),
    ):
        app = Carboy(Settings(debug=True, secret_key=SECRET_KEY, sessions_url=url), root=tmp_path)
        app.install(Database(f"sqlite:///{tmp_path / 'app.db'}"))
        auth = Auth()
        app.install(auth)
        app.build()
        assert isinstance(auth.session_store, kind), url
    explicit = MemoryStore()
    app = Carboy(Settings(debug=True, sessions_url=redis_url()), root=tmp_path)
    auth = Auth(sessions=SessionConfig(store=explicit))
    app.install(auth)
    app.build()
    assert auth.session_store is explicit
    for url, message in (
        ("database://", "install carboy.db"),
        ("postgres://x", "is not a session store"),
        ("cookie://extra", "is not a session store"),
    ):
        app = Carboy(Settings(debug=True, sessions_url=url), root=tmp_path)
        app.install(Auth())
        with pytest.raises(ConfigurationError, match=message):
            app.build()
