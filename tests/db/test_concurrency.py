"""50 concurrent requests that write the same row lose no write.

The requests run at once on the event loop (``asyncio.gather`` over the app), each
with a session and a connection of its own, so they truly interleave: the naive
read-modify-write below loses updates, which is what the two safe patterns
(an atomic ``UPDATE ... SET value = value + 1``, or ``SELECT ... FOR UPDATE``)
are for.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select, update

from carboy.db import AsyncSession, Database, Session
from carboy.testing import AsyncTestClient
from tests.db.conftest import Blog, make_app

pytestmark = pytest.mark.anyio

REQUESTS = 50


class InFlight:
    """Counts the requests inside a handler at once, to prove they overlap."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0

    def __enter__(self) -> None:
        self.now += 1
        self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        self.now -= 1


def _counter_app(url: str, blog: Blog) -> tuple[Any, Database, InFlight]:
    app, db = make_app(url, blog.base, pool_size=10, max_overflow=10, pool_timeout=30)
    Counter = blog.Counter
    flight = InFlight()
    this = Counter.name == "hits"

    @app.post("/atomic")
    async def atomic(session: AsyncSession) -> str:
        with flight:
            await asyncio.sleep(0.001)
            await session.execute(update(Counter).where(this).values(value=Counter.value + 1))
        return "ok"

    @app.post("/for-update")
    async def for_update(session: AsyncSession) -> str:
        with flight:
            counter = (await session.scalars(select(Counter).where(this).with_for_update())).one()
            await asyncio.sleep(0.001)  # other requests wait on the row lock meanwhile
            counter.value += 1
        return "ok"

    @app.post("/naive")
    async def naive(session: AsyncSession) -> str:
        with flight:
            counter = (await session.scalars(select(Counter).where(this))).one()
            await asyncio.sleep(0.01)  # others read the same value meanwhile
            counter.value += 1
        return "ok"

    @app.post("/insert")
    async def insert(session: AsyncSession, n: int) -> str:
        with flight:
            session.add(Counter(name=f"row {n}"))
            await asyncio.sleep(0.001)
        return "ok"

    @app.post("/atomic-sync")
    def atomic_sync(session: Session) -> str:
        session.execute(update(Counter).where(this).values(value=Counter.value + 1))
        return "ok"

    @app.post("/for-update-sync")
    def for_update_sync(session: Session) -> str:
        # Each waiting request blocks a worker thread on the row lock: the battery
        # bounds them so that the request holding the lock still finds a thread to
        # commit in (50 requests, 40 threads).
        counter = session.scalars(select(Counter).where(this).with_for_update()).one()
        counter.value += 1
        return "ok"

    db.create_all()
    with db.transaction() as session:
        session.add(Counter(name="hits", value=0))
    return app, db, flight


async def _hit(app: Any, path: str) -> list[int]:
    async with AsyncTestClient(app, timeout=60) as client:
        responses = await asyncio.gather(
            *(client.post(path, params={"n": n}) for n in range(REQUESTS))
        )
    return [r.status_code for r in responses]


def _value(db: Database, blog: Blog) -> int:
    with db.session() as session:
        return int(
            session.scalar(select(blog.Counter.value).where(blog.Counter.name == "hits")) or 0
        )


@pytest.mark.parametrize("path", ["/atomic", "/atomic-sync"])
async def test_atomic_update_loses_no_write(database_url: str, blog: Blog, path: str) -> None:
    app, db, flight = _counter_app(database_url, blog)
    assert await _hit(app, path) == [200] * REQUESTS
    assert _value(db, blog) == REQUESTS
    if path == "/atomic":
        assert flight.most > 1


@pytest.mark.parametrize("path", ["/for-update", "/for-update-sync"])
async def test_select_for_update_loses_no_write(
    postgres_url: str, postgres_blog: Blog, path: str
) -> None:
    blog = postgres_blog
    app, db, flight = _counter_app(postgres_url, blog)
    assert await _hit(app, path) == [200] * REQUESTS
    assert _value(db, blog) == REQUESTS
    if path == "/for-update":
        assert flight.most > 1


async def test_concurrent_inserts_all_land(database_url: str, blog: Blog) -> None:
    app, db, flight = _counter_app(database_url, blog)
    assert await _hit(app, "/insert") == [200] * REQUESTS
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(blog.Counter)) == REQUESTS + 1
    assert flight.most > 1


async def test_read_modify_write_without_a_lock_loses_writes(
    postgres_url: str, postgres_blog: Blog
) -> None:
    # The control: the requests really do overlap, so the unsafe pattern loses updates.
    blog = postgres_blog
    app, db, flight = _counter_app(postgres_url, blog)
    assert await _hit(app, "/naive") == [200] * REQUESTS
    assert flight.most > 1
    assert _value(db, blog) < REQUESTS
