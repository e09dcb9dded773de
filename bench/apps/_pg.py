"""The raw asyncpg data layer shared by the ASGI peers (Starlette, FastAPI, Litestar).

This is how TechEmpower's own Python implementations talk to PostgreSQL: one
asyncpg pool per process, one connection per request, prepared statements for
repeated reads, and one ``executemany`` for the batched updates. Sharing it
keeps the SQL identical across peers, so their differences are framework cost.
"""

from __future__ import annotations

import asyncio
from operator import itemgetter
from typing import Any

import asyncpg

from bench.common import (
    ADDITIONAL_FORTUNE,
    DATABASE_URL,
    FORTUNES_SQL,
    POOL_SIZE,
    READ_NUMBER_SQL,
    WRITE_ROW_SQL,
    new_number,
    random_id,
    random_ids,
)

World = dict[str, int]
FortuneRow = tuple[int, str]

_by_message = itemgetter(1)


class Database:
    """An asyncpg pool opened at start-up (or lazily, on the first query)."""

    def __init__(self, dsn: str = DATABASE_URL, size: int = POOL_SIZE) -> None:
        self.dsn = dsn
        self.size = size
        self.pool: asyncpg.Pool[Any] | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> asyncpg.Pool[Any]:
        async with self._lock:
            if self.pool is None:
                self.pool = await asyncpg.create_pool(
                    self.dsn, min_size=self.size, max_size=self.size
                )
        return self.pool

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def world(self) -> World:
        pool = self.pool or await self.connect()
        row_id = random_id()
        async with pool.acquire() as conn:
            number = await conn.fetchval(READ_NUMBER_SQL, row_id)
        return {"id": row_id, "randomNumber": number}

    async def worlds(self, count: int) -> list[World]:
        pool = self.pool or await self.connect()
        async with pool.acquire() as conn:
            statement = await conn.prepare(READ_NUMBER_SQL)
            worlds = []
            for _ in range(count):
                row_id = random_id()
                worlds.append({"id": row_id, "randomNumber": await statement.fetchval(row_id)})
        return worlds

    async def fortunes(self) -> list[FortuneRow]:
        """All fortunes plus the request-time one, sorted by message."""
        pool = self.pool or await self.connect()
        async with pool.acquire() as conn:
            rows: list[Any] = await conn.fetch(FORTUNES_SQL)
        rows.append((0, ADDITIONAL_FORTUNE))
        rows.sort(key=_by_message)
        return rows

    async def update_worlds(self, count: int) -> list[World]:
        """Read ``count`` rows one by one, then write them back in one batch."""
        pool = self.pool or await self.connect()
        async with pool.acquire() as conn:
            statement = await conn.prepare(READ_NUMBER_SQL)
            updates = []
            for row_id in random_ids(count):
                old = await statement.fetchval(row_id)
                updates.append((row_id, new_number(old)))
            await conn.executemany(WRITE_ROW_SQL, updates)
        return [{"id": row_id, "randomNumber": number} for row_id, number in updates]
