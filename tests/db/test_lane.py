"""Tests for carboy.db._lane: driver connections given back without the pool, on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc

from carboy.db import Database
from carboy.db._lane import LanePool, lane_allowed
from carboy.exceptions import HTTPException
from tests.db.conftest import POSTGRES_URL

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[Database]:
    database = Database(postgres_url, pool_size=2, max_overflow=0, pool_timeout=2)
    yield database
    await database.dispose()


def checkouts(database: Database) -> list[int]:
    """A list that grows by one at each checkout from the async engine's pool."""
    seen: list[int] = []
    event.listen(database.async_engine.sync_engine.pool, "checkout", lambda *a: seen.append(1))
    return seen


async def pid(database: Database) -> int:
    async with database.driver_connection() as conn:
        return int(await conn.fetchval("SELECT pg_backend_pid()"))


async def test_a_driver_connection_given_back_clean_is_taken_again_without_the_pool(
    db: Database,
) -> None:
    first = await pid(db)
    pool = db.async_engine.sync_engine.pool
    assert isinstance(pool, LanePool)
    seen = checkouts(db)
    for _ in range(20):
        assert await pid(db) == first
    assert seen == []  # not one checkout: every use came from the lane
    assert pool.checkedout() == 1  # the lane's connection is still the pool's, checked out


async def test_a_connection_left_in_a_transaction_is_rolled_back_when_given_back(
    db: Database,
) -> None:
    first = await pid(db)
    async with db.driver_connection() as conn:
        transaction = conn.transaction()
        await transaction.start()  # and never ended
        await conn.execute("CREATE TEMPORARY TABLE scratch (n int)")
    async with db.driver_connection() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT pg_backend_pid()") == first  # kept, cleaned
        assert await conn.fetchval("SELECT to_regclass('pg_temp.scratch')") is None


async def test_an_orm_session_gets_the_lanes_connection_when_the_pool_has_none_free(
    postgres_url: str,
) -> None:
    # One connection in all, and it waits in the lane: a session must not time out.
    db = Database(postgres_url, pool_size=1, max_overflow=0, pool_timeout=1)
    try:
        lane_pid = await pid(db)
        assert len(db.async_engine.sync_engine.pool.lane) == 1
        async with db.async_session() as session:
            session_pid = await session.scalar(text("SELECT pg_backend_pid()"))
        assert session_pid == lane_pid
        assert await pid(db) == lane_pid  # and back through the pool, into the lane again
    finally:
        await db.dispose()


async def test_concurrent_driver_connections_and_sessions_share_the_pool(
    postgres_url: str,
) -> None:
    db = Database(postgres_url, pool_size=3, max_overflow=0, pool_timeout=5)

    async def raw() -> int:
        async with db.driver_connection() as conn:
            await asyncio.sleep(0)
            return int(await conn.fetchval("SELECT 1"))

    async def orm() -> int:
        async with db.async_session() as session:
            return int(await session.scalar(text("SELECT 1")) or 0)

    try:
        results = await asyncio.gather(*(raw() if i % 2 else orm() for i in range(60)))
        assert results == [1] * 60
        pool = db.async_engine.sync_engine.pool
        assert len(pool.lane) <= pool.size()
        assert pool.checkedout() == len(pool.lane)
    finally:
        await db.dispose()


async def test_dispose_checks_the_lane_back_in(postgres_url: str) -> None:
    db = Database(postgres_url)
    await pid(db)
    pool = db.async_engine.sync_engine.pool
    assert pool.lane
    await db.dispose()  # warnings are errors here: a connection left out would warn
    assert pool.lane == []
    assert pool.checkedout() == 0


async def test_an_invalidated_connection_sends_the_whole_lane_back(postgres_url: str) -> None:
    db = Database(postgres_url, pool_size=3)
    try:

        async def hold(event_: asyncio.Event) -> int:
            async with db.driver_connection() as conn:
                await event_.wait()
                return int(await conn.fetchval("SELECT pg_backend_pid()"))

        release = asyncio.Event()
        tasks = [asyncio.create_task(hold(release)) for _ in range(2)]
        await asyncio.sleep(0.05)
        release.set()
        pids = set(await asyncio.gather(*tasks))
        pool = db.async_engine.sync_engine.pool
        assert len(pool.lane) == 2
        # The database goes away under one connection of the pool (a session's).
        async with db.async_session() as session:
            doomed = await session.scalar(text("SELECT pg_backend_pid()"))
        admin = await asyncpg.connect(POSTGRES_URL)
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", doomed)
        finally:
            await admin.close()
        with pytest.raises(sa_exc.DBAPIError) as info:
            async with db.async_session() as session:
                await session.scalar(text("SELECT 1"))
        assert info.value.connection_invalidated
        assert pool.stale
        # The next driver connection drains the stale lane and comes from the pool.
        seen = checkouts(db)
        async with db.driver_connection() as conn:
            assert await conn.fetchval("SELECT 1") == 1
        assert seen == [1]
        assert not pool.stale
        assert pids  # the two lane connections were real ones
    finally:
        await db.dispose()


async def test_a_lane_connection_whose_socket_closed_is_not_handed_out(db: Database) -> None:
    lane_pid = await pid(db)
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", lane_pid)
    finally:
        await admin.close()
    pool = db.async_engine.sync_engine.pool
    driver = pool.lane[0].driver_connection
    for _ in range(100):  # asyncpg sees the socket close on the loop
        if driver.is_closed():
            break
        await asyncio.sleep(0.01)
    assert driver.is_closed()
    assert await pid(db) != lane_pid  # a fresh connection, not a 503


@pytest.mark.parametrize(
    ("backend_name", "driver", "options", "allowed"),
    [
        ("postgresql", "asyncpg", {"pool_size": 5}, True),
        ("postgresql", "asyncpg", {"pool_pre_ping": True}, False),
        ("postgresql", "asyncpg", {"pool_recycle": 3600}, False),
        ("postgresql", "asyncpg", {"pool_recycle": -1}, True),
        ("postgresql", "asyncpg", {"poolclass": object}, False),
        ("postgresql", "psycopg", {}, False),
        ("sqlite", "aiosqlite", {}, False),
        ("mysql", "aiomysql", {}, False),
    ],
)
def test_the_lane_runs_where_its_checks_hold(
    backend_name: str, driver: str, options: dict[str, Any], allowed: bool
) -> None:
    assert lane_allowed(backend_name, driver, options) is allowed


async def test_pool_pre_ping_keeps_every_use_on_the_pool(postgres_url: str) -> None:
    db = Database(postgres_url, pool_pre_ping=True)
    try:
        await pid(db)
        assert not isinstance(db.async_engine.sync_engine.pool, LanePool)
        seen = checkouts(db)
        for _ in range(3):
            await pid(db)
        assert seen == [1, 1, 1]
    finally:
        await db.dispose()


async def test_a_connection_given_back_goes_to_the_longest_waiter(postgres_url: str) -> None:
    # One connection; B and C wait for it; A gives it back and at once asks again.
    # SQLAlchemy's own queue hands it to A again (get_nowait first); the line does not.
    db = Database(postgres_url, pool_size=1, max_overflow=0, pool_timeout=5)
    order: list[str] = []

    async def use(name: str) -> None:
        async with db.driver_connection() as conn:
            await conn.fetchval("SELECT 1")
            order.append(name)

    try:
        async with db.driver_connection() as conn:
            await conn.fetchval("SELECT 1")
            waiters = [asyncio.create_task(use(name)) for name in ("B", "C")]
            await asyncio.sleep(0.1)  # both wait in line now
        await use("A again")
        await asyncio.gather(*waiters)
        assert order == ["B", "C", "A again"]
        assert db.async_engine.sync_engine.pool.checkedout() == len(
            db.async_engine.sync_engine.pool.lane
        )
    finally:
        await db.dispose()


async def test_a_waiter_that_times_out_or_is_cancelled_leaves_the_line(postgres_url: str) -> None:
    db = Database(postgres_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        async with db.driver_connection():
            with pytest.raises(HTTPException) as info:
                async with db.driver_connection():
                    pass  # pragma: no cover - never reached: the pool is empty
            assert info.value.status_code == 503
            cancelled = asyncio.create_task(pid(db))
            await asyncio.sleep(0.05)
            cancelled.cancel()
            with pytest.raises(asyncio.CancelledError):
                await cancelled
        # The connection came back past two waiters who gave up: the next one gets it.
        assert await pid(db) > 0
        pool = db.async_engine.sync_engine.pool
        assert pool.checkedout() == len(pool.lane) == 1
    finally:
        await db.dispose()
