"""Engines: one URL made into a sync and an async engine, and SQLite set up properly."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, event, make_url
from sqlalchemy import exc as sa_exc

from carboy.exceptions import ConfigurationError

# Sync and async drivers by dialect: one URL configures both engines.
_SYNC_DRIVERS = {
    "sqlite": "pysqlite",
    "postgresql": "psycopg",
    "mysql": "pymysql",
    "mariadb": "pymysql",
}
_ASYNC_DRIVERS = {
    "sqlite": "aiosqlite",
    "postgresql": "asyncpg",
    "mysql": "aiomysql",
    "mariadb": "aiomysql",
}
_ASYNC_ONLY = frozenset({"aiosqlite", "asyncpg", "psycopg_async", "aiomysql", "asyncmy"})
#: Seconds to wait for a connection to open before answering 503.
CONNECT_TIMEOUT = 5


def is_memory(url: URL) -> bool:
    """Whether ``url`` is an in-memory SQLite database."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def driver_url(url: URL, *, asynchronous: bool) -> URL:
    """``url`` with the sync (psycopg, pysqlite) or async (asyncpg, aiosqlite) driver."""
    backend = url.get_backend_name()
    driver = url.get_driver_name()
    given_async = driver in _ASYNC_ONLY
    if given_async == asynchronous and "+" in url.drivername:
        return url
    table = _ASYNC_DRIVERS if asynchronous else _SYNC_DRIVERS
    wanted = table.get(backend)
    if wanted is None:
        kind = "async" if asynchronous else "sync"
        raise ConfigurationError(
            f"carboy.db does not know a {kind} driver for {backend!r} databases: give the "
            f"driver in the URL (e.g. '{backend}+<driver>://...')"
        )
    url = url.set(drivername=f"{backend}+{wanted}")
    if asynchronous and wanted == "asyncpg" and "sslmode" in url.query:
        query = dict(url.query)
        query["ssl"] = query.pop("sslmode")
        url = url.set(query=query)
    if not asynchronous and wanted == "psycopg" and "ssl" in url.query:
        query = dict(url.query)
        query["sslmode"] = query.pop("ssl")
        url = url.set(query=query)
    return url


_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@]*@")


def parse_url(raw: str | URL, root: Path | None = None) -> URL:
    """Parse a database URL; relative SQLite paths are taken from ``root``.

    ``postgres://`` (as some hosts give it) is read as ``postgresql://``.

    Example:
        >>> parse_url("sqlite:///app.db", Path("/srv/site")).database
        '/srv/site/app.db'
    """
    if isinstance(raw, str):
        if raw.startswith("postgres://"):
            raw = "postgresql://" + raw[len("postgres://") :]
        try:
            url = make_url(raw)
        except (sa_exc.ArgumentError, ValueError):
            shown = _PASSWORD_IN_URL.sub(r"\1***@", raw)  # never echo a password
            raise ConfigurationError(
                f"Database URL {shown!r} is not valid; use e.g. 'sqlite:///app.db' or "
                "'postgresql://user:password@localhost:5432/name'"
            ) from None
    else:
        url = raw
    if url.get_backend_name() == "sqlite" and not is_memory(url) and root is not None:
        path = Path(str(url.database))
        if not path.is_absolute() and not str(url.database).startswith("file:"):
            url = url.set(database=str(root / path))
    return url


# -- SQLite: WAL, foreign keys, real transactions -------------------------------------------
def _sqlite_on_connect(memory: bool, foreign_keys: bool) -> Any:
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        # carboy sends BEGIN itself (below) so that DDL is transactional and
        # SAVEPOINTs work: the sqlite3 module's own transaction handling does neither.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cursor.execute("PRAGMA busy_timeout=5000")
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    return on_connect


def _sqlite_on_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def _connect_translating_os_errors(dialect: Any, record: Any, cargs: Any, cparams: Any) -> Any:
    # asyncpg lets socket errors through as OSError; make them the DBAPI's
    # OperationalError so SQLAlchemy wraps them and carboy answers 503.
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as exc:
        error = getattr(dialect.loaded_dbapi, "OperationalError", None)
        if error is None:  # pragma: no cover - every DBAPI has one
            raise
        raise error(f"cannot connect to the database: {exc}") from exc


def configure_engine(engine: Engine, url: URL, *, foreign_keys: bool = True) -> None:
    """Install carboy's connection set-up on a (sync, or an async's ``sync_engine``) engine.

    SQLite gets WAL, foreign keys, a busy timeout and transactional DDL; every
    driver's connection errors become SQLAlchemy ``OperationalError``.

    Example:
        >>> engine = create_engine("sqlite:///app.db")
        >>> configure_engine(engine, engine.url)
    """
    event.listen(engine, "do_connect", _connect_translating_os_errors)
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect(is_memory(url), foreign_keys))
        event.listen(engine, "begin", _sqlite_on_begin)
