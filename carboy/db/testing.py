"""Helpers for your own tests: a database per test run, a transaction per test.

* :func:`temporary_database` creates an empty database (PostgreSQL: a new database
  on the same server; SQLite: a new file) and drops it afterwards.
* :func:`transaction` runs a block (a test) inside one transaction that is rolled
  back at the end. The app's sessions join it: a handler's commit becomes a
  savepoint release, so requests see each other's writes and nothing is left
  behind. :func:`atransaction` does the same for ``AsyncSession`` handlers when the
  app runs on the test's event loop (``AsyncTestClient``).
* :func:`clear` deletes every row, for tests that cannot share a transaction
  (real servers, several threads).

Example (``conftest.py``):

    >>> @pytest.fixture(scope="session")
    ... def database_url():
    ...     with temporary_database("postgresql://localhost/app") as url:
    ...         yield url
    >>> @pytest.fixture
    ... def session(app, database_url):
    ...     db = app.get_module(Database)
    ...     with transaction(db) as session:
    ...         yield session
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from sqlalchemy import URL, create_engine, delete, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool

from carboy.db._database import Database
from carboy.db._engines import parse_url
from carboy.db.sessions import AsyncSession, Session


@contextmanager
def transaction(db: Database) -> Iterator[Session]:
    """A session in a transaction rolled back at the end; the app's ``Session``\\ s join it.

    Example:
        >>> with transaction(db) as session:
        ...     session.add(Post(title="draft"))
        ...     session.commit()                     # a savepoint: visible to requests
        ...     assert client.get("/posts").json()["total"] == 1
        >>> # rolled back here: the table is empty again
    """
    with db.engine.connect() as connection:
        outer = connection.begin()
        factory = sessionmaker(
            bind=connection,
            class_=Session,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
        )
        try:
            with db._sessions_bound_to(sessions=factory), factory() as session:
                yield session
        finally:
            if outer.is_active:
                outer.rollback()


@asynccontextmanager
async def atransaction(db: Database) -> AsyncIterator[AsyncSession]:
    """Async :func:`transaction`: the app's ``AsyncSession``\\ s join it.

    The app must run on the same event loop (``AsyncTestClient``), since an async
    connection belongs to its loop.

    Example:
        >>> async with atransaction(db) as session, AsyncTestClient(app) as client:
        ...     session.add(Post(title="draft"))
        ...     await session.commit()
        ...     assert (await client.get("/posts")).json()["total"] == 1
    """
    async with db.async_engine.connect() as connection:
        outer = await connection.begin()
        factory = async_sessionmaker(
            bind=connection,
            class_=AsyncSession,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
        )
        try:
            with db._sessions_bound_to(async_sessions=factory):
                async with factory() as session:
                    yield session
        finally:
            if outer.is_active:
                await outer.rollback()


def clear(db: Database) -> None:
    """Delete every row of every model's table (children first).

    Example:
        >>> clear(db)
    """
    with db.engine.begin() as connection:
        for table in reversed(db.metadata.sorted_tables):
            connection.execute(delete(table))


def _server_url(url: URL) -> URL:
    return url.set(drivername="postgresql+psycopg", database="postgres")


@contextmanager
def temporary_database(url: str | URL, *, prefix: str = "carboy_test") -> Iterator[str]:
    """An empty database for a test run, dropped at the end; yields its URL.

    For PostgreSQL the server of ``url`` gets a database named
    ``<prefix>_<random>`` (the user needs CREATEDB); for SQLite a file in a
    temporary folder is used.

    Example:
        >>> with temporary_database("postgresql://postgres@localhost/app") as url:
        ...     app.install(Database(url))
    """
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix=prefix) as folder:
            yield parsed.set(database=str(Path(folder) / "test.db")).render_as_string(
                hide_password=False
            )
        return
    if backend != "postgresql":
        raise NotImplementedError(
            f"temporary_database() supports PostgreSQL and SQLite, not {backend}"
        )
    name = f"{prefix}_{secrets.token_hex(6)}"
    server = create_engine(_server_url(parsed), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with server.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield parsed.set(database=name).render_as_string(hide_password=False)
        finally:
            with server.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        server.dispose()
