"""Driver connections handed back and forth without SQLAlchemy's greenlet bridge.

``Database.driver_connection()`` takes a connection from the async engine's
pool and gives it back; each of the two goes through SQLAlchemy's greenlet
bridge (``greenlet_spawn``), because the pool's code is synchronous and may
have to wait or connect. That bridge is most of what a checkout costs.

The lane keeps the connections ``driver_connection()`` gave back, clean (no
transaction open) and still checked out of the pool, in a short LIFO list,
and the next ``driver_connection()`` takes one from there: no pool, no
greenlet. The pool stays the only owner of the connections:

- whoever else needs a connection (an ORM session) when the pool has none
  free gets one of the lane's first, checked back into the pool (the pool's
  ``_do_get`` drains the lane before it waits or opens an overflow
  connection), and while anyone waits for the pool, connections given back
  go to the pool, not the lane: the lane never starves a session;
- a connection given back in a transaction (one the caller left open) is
  rolled back first (``Database.driver_connection()``), and never kept;
- at most ``pool_size`` connections wait in the lane;
- when any of the pool's connections is invalidated (a disconnect), every
  connection in the lane goes back to the pool, which reconnects the stale
  ones as it does for its own; so does ``Database.dispose()``.

It runs on asyncpg only (the driver whose state it can read: ``is_closed()``
and ``is_in_transaction()``), and not with ``pool_pre_ping`` or
``pool_recycle``, whose checks happen at checkout.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.util import await_only, greenlet_spawn

from carboy.db._lifecycle import Translate, raise_translated
from carboy.db.errors import DatabaseUnavailable


class LanePool(AsyncAdaptedQueuePool):
    """The async engine's pool: a lane of idle driver connections in front, and a fair line.

    SQLAlchemy's async queue lets a checkout that arrives just as a connection
    comes back take it (``get_nowait`` first) while the longest waiter, already
    woken, finds the queue empty again and waits anew at the back: under load
    (more requests than connections) some requests wait far longer than
    others. Here, once anyone waits, every checkout queues behind them and a
    connection given back goes to the oldest waiter.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Connections given back by ``driver_connection()``, still checked out; newest last.
        self.lane: list[PoolProxiedConnection] = []
        #: Connections the lane may hold (the pool's size).
        self.lane_size = self.size()
        # Moves when one of the pool's connections is invalidated; the lane is stale
        # until drained, when it catches up.
        self._generation = 0
        self._drained_at = 0
        #: Checkouts waiting for (or opening) a connection in the pool right now.
        self._waiting = 0
        #: Checkouts waiting for a connection to come back, oldest first.
        self._line: deque[asyncio.Future[ConnectionPoolEntry]] = deque()
        event.listen(self, "invalidate", self._invalidated)
        event.listen(self, "soft_invalidate", self._invalidated)

    def _invalidated(self, *args: Any) -> None:
        self._generation += 1

    def _do_get(self) -> ConnectionPoolEntry:
        # Someone else wants a connection and none is free: the lane's first.
        lane = self.lane
        while lane and self._pool.empty():
            lane.pop().close()
        # While anyone waits here, connections given back go to the pool, not the lane.
        self._waiting += 1
        try:
            if self._line or (self._pool.empty() and not self._can_open()):
                return self._wait_in_line()
            return super()._do_get()
        finally:
            self._waiting -= 1

    def _can_open(self) -> bool:
        return self._max_overflow == -1 or self._overflow < self._max_overflow

    def _wait_in_line(self) -> ConnectionPoolEntry:
        # First come, first served: a connection given back goes to the longest waiter
        # (_do_return_conn), never to a checkout that arrives as it comes back.
        future: asyncio.Future[ConnectionPoolEntry] = asyncio.get_running_loop().create_future()
        self._line.append(future)
        try:
            return await_only(asyncio.wait_for(future, self._timeout))
        except BaseException as exc:
            if future.done() and not future.cancelled():
                self._do_return_conn(future.result())  # handed over as this one gave up
            if isinstance(exc, asyncio.TimeoutError):
                raise sa_exc.TimeoutError(
                    f"QueuePool limit of size {self.size()} overflow {self.overflow()} "
                    f"reached, connection timed out, timeout {self._timeout:.2f}",
                    code="3o7r",
                ) from None
            raise

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        line = self._line
        while line:
            future = line.popleft()
            if not future.done():
                future.set_result(record)
                return
        super()._do_return_conn(record)

    @property
    def stale(self) -> bool:
        """True when a connection was invalidated since the lane was last drained."""
        return self._generation != self._drained_at

    def give_back(self, connection: PoolProxiedConnection, driver: Any) -> bool:
        """Keep ``connection`` in the lane if it is clean; False: check it in instead."""
        if (
            self.stale
            or self._waiting
            or len(self.lane) >= self.lane_size
            or driver.is_closed()
            or driver.is_in_transaction()
        ):
            return False
        self.lane.append(connection)
        return True

    def drain(self) -> list[PoolProxiedConnection]:
        """Empty the lane; the caller checks the connections back in (in the greenlet bridge)."""
        drained, self.lane = self.lane, []
        self._drained_at = self._generation
        return drained


def check_in(connections: list[PoolProxiedConnection]) -> None:
    """Give ``connections`` back to their pool (run it in the greenlet bridge)."""
    for connection in connections:
        connection.close()


class DriverConnection:
    """``async with``: the driver's connection from the engine's lane or pool.

    What ``Database.driver_connection()`` returns. A class rather than an
    ``@asynccontextmanager`` generator, which costs about as much again as the
    lane saves.
    """

    __slots__ = ("_driver", "_engine", "_lane", "_proxied", "_translate")

    def __init__(self, engine: AsyncEngine, translate: Translate) -> None:
        self._engine = engine
        self._translate = translate
        self._lane: LanePool | None = None
        self._proxied: PoolProxiedConnection | None = None
        self._driver: Any = None

    async def __aenter__(self) -> Any:
        engine = self._engine
        pool = engine.sync_engine.pool
        lane = self._lane = pool if isinstance(pool, LanePool) else None
        proxied = await lane_connection(lane) if lane is not None and lane.lane else None
        if proxied is None:
            try:
                proxied = await engine.raw_connection()
            except BaseException as exc:
                raise_translated(exc, self._translate)
        self._proxied = proxied
        driver = self._driver = proxied.driver_connection
        return driver

    async def __aexit__(self, kind: Any, exc: BaseException | None, traceback: Any) -> None:
        proxied, driver = self._proxied, self._driver
        if proxied is None:
            return
        self._proxied = self._driver = None
        if exc is not None:
            translated = self._translate(exc)
            if translated is None and _is_closed(driver) and isinstance(exc, Exception):
                # Whatever the driver raised, its connection is gone: the database is.
                translated = DatabaseUnavailable(f"{type(exc).__name__}: {exc}")
            if translated is not None and translated.status_code == 503:
                await greenlet_spawn(proxied.invalidate, exc)
            else:
                await greenlet_spawn(proxied.close)
            if translated is not None:
                raise translated from exc
            return  # the caller's exception goes on
        if _in_transaction(driver):
            # Left open by the caller: SQLAlchemy's reset on return would not end it.
            try:
                await driver.execute("ROLLBACK")
            except BaseException as error:
                await greenlet_spawn(proxied.invalidate, error)
                raise_translated(error, self._translate)
        lane = self._lane
        if lane is None or not lane.give_back(proxied, driver):
            await greenlet_spawn(proxied.close)


async def lane_connection(pool: LanePool) -> PoolProxiedConnection | None:
    """A connection from the lane of ``pool``, or None: take one from the pool itself.

    A stale lane (a connection was invalidated since) goes back to the pool
    whole, and so does a connection whose driver has seen its socket close.
    """
    if pool.stale:
        await greenlet_spawn(check_in, pool.drain())
        return None
    lane = pool.lane
    while lane:
        connection = lane.pop()
        driver = connection.driver_connection
        if driver is not None and not driver.is_closed():
            return connection
        await greenlet_spawn(connection.invalidate)
    return None


def lane_allowed(backend: str, driver: str, options: dict[str, Any]) -> bool:
    """True when the async engine's pool can be a :class:`LanePool` (see the module)."""
    if backend != "postgresql" or driver != "asyncpg":
        return False
    if "poolclass" in options or "pool" in options or options.get("pool_pre_ping"):
        return False
    recycle = options.get("pool_recycle", -1)
    return recycle is None or recycle < 0


def _in_transaction(driver: Any) -> bool:
    check = getattr(driver, "is_in_transaction", None)  # asyncpg
    return bool(check()) if callable(check) else False


def _is_closed(driver: Any) -> bool:
    check = getattr(driver, "is_closed", None)  # asyncpg
    try:
        return bool(check()) if callable(check) else False
    except Exception:  # pragma: no cover - a broken driver object
        return True
