"""Sessions in the app's database: the ``auth_session`` table, through SQLAlchemy Core."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from carboy.auth.sessions._keys import digest, key_hash, new_key
from carboy.exceptions import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy import Table

    from carboy.db import Database


class DatabaseStore:
    """Keep sessions in the ``auth_session`` table of the app's database.

    Shared by every process on the database, and destroyed for good by
    sign-out. The table comes with the auth battery's migrations
    (``carboy migrate``); run ``carboy clearsessions`` daily to delete
    expired rows. Keys are kept as their SHA-256 only.

    Args:
        database: The app's :class:`~carboy.db.Database`.
        clock: The time source (UNIX seconds), for tests.

    Example:
        >>> from carboy.db import Database
        >>> db = Database("sqlite:///app.db")
        >>> app.install(db)
        >>> app.install(Auth(sessions=SessionConfig(store=DatabaseStore(db))))
    """

    server_side = True

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        from carboy.auth.sessions.models import auth_session
        from carboy.db import Database

        if not isinstance(database, Database):
            raise ConfigurationError(
                f"DatabaseStore(database) takes the app's carboy.db.Database, got {database!r}"
            )
        self.database = database
        self._clock = clock
        self._table: Table = auth_session

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def load(self, key: str) -> dict[str, Any] | None:
        """The data under ``key``; None when unknown, expired or unreadable."""
        from sqlalchemy import select

        stored = key_hash(key)
        if stored is None:
            return None
        t = self._table
        query = select(t.c.data).where(t.c.key == stored, t.c.expires_at > self._now())
        async with self.database.connection() as conn:
            text = (await conn.execute(query)).scalar_one_or_none()
        if text is None:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    async def save(self, key: str | None, data: Mapping[str, Any], max_age: int) -> str:
        """Store ``data`` for ``max_age`` seconds; a new key unless ``key`` is still held."""
        from sqlalchemy import insert, update

        t = self._table
        now = self._now()
        values = {"data": json.dumps(dict(data)), "expires_at": now + timedelta(seconds=max_age)}
        stored = key_hash(key) if key is not None else None
        async with self.database.connection() as conn:
            if key is not None and stored is not None:
                held = update(t).where(t.c.key == stored, t.c.expires_at > now).values(**values)
                if (await conn.execute(held)).rowcount == 1:
                    await conn.commit()
                    return key
            key = new_key()
            await conn.execute(insert(t).values(key=digest(key), **values))
            await conn.commit()
        return key

    async def delete(self, key: str) -> None:
        """Delete the row of ``key``."""
        from sqlalchemy import delete

        stored = key_hash(key)
        if stored is None:
            return
        async with self.database.connection() as conn:
            await conn.execute(delete(self._table).where(self._table.c.key == stored))
            await conn.commit()

    async def clear_expired(self) -> int:
        """Delete the expired rows; how many."""
        from sqlalchemy import delete

        t = self._table
        async with self.database.connection() as conn:
            removed = (await conn.execute(delete(t).where(t.c.expires_at <= self._now()))).rowcount
            await conn.commit()
        return int(removed)

    def __repr__(self) -> str:
        return f"DatabaseStore({self.database!r})"
