"""The ``Database`` module: engines, per-request sessions, error answers, commands.

``app.install(Database())`` is the whole setup. One URL configures both a sync
engine (``def`` handlers, migrations, commands) and an async engine (``async def``
handlers); neither connects before the first query, so the app starts and serves
the routes that need no database while the database is down.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Engine, MetaData, create_engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.util import greenlet_spawn

from carboy.concurrency import run_sync
from carboy.db import _commit
from carboy.db._engines import (
    CONNECT_TIMEOUT,
    configure_engine,
    driver_url,
    is_memory,
    parse_url,
)
from carboy.db._lane import DriverConnection, LanePool, check_in, lane_allowed
from carboy.db._lifecycle import aend, end, raise_translated
from carboy.db.errors import translate_error
from carboy.db.models import Model, _import_models, _import_sibling_models
from carboy.db.sessions import AsyncSession, Session
from carboy.errors import debug_response, error_response
from carboy.exceptions import ConfigurationError, HTTPException
from carboy.log import RateLimitedLogger
from carboy.modules import Module
from carboy.requests import Request
from carboy.responses import Response

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.db.migrations import MigrationPlan, Migrations


logger = logging.getLogger("carboy.db")
#: While the database is down every request fails the same way: one line per interval.
_unavailable_log = RateLimitedLogger(logger, interval=10.0)

#: The database used when neither ``Database(url)`` nor ``settings.database_url`` is set.
DEFAULT_URL = "sqlite:///app.db"


@dataclass(frozen=True, slots=True)
class MigrationSource:
    """A module that ships its own migration history (an Alembic branch).

    Attributes:
        label: The branch label, usually the module's name (``"auth"``).
        directory: The folder of its revision files.
        packages: Python packages whose models' tables this history owns.

    Example:
        >>> [s.label for s in app.get_module(Database).migration_sources]
        ['shop']
    """

    label: str
    directory: Path
    packages: tuple[str, ...]


class Database(Module):
    """The database battery: models, per-request sessions, migrations and commands.

    Args:
        url: The database URL; defaults to ``settings.database_url``, then to
            ``sqlite:///app.db`` in the app's folder. ``sqlite``, ``postgresql``
            (psycopg 3 sync, asyncpg async) and ``mysql`` URLs configure both engines.
        base: The declarative base whose models this database holds (:class:`Model`).
        models: Modules to import so their models are known (``"blog.models"``);
            each installed module's sibling ``models.py`` is imported anyway.
        migrations: The project's migration folder, relative to the app's folder.
        echo: Log every SQL statement.
        pool_size: Connections kept open per engine (PostgreSQL, MySQL).
        max_overflow: Extra connections opened under load, closed when idle.
        pool_timeout: Seconds to wait for a free connection before answering 503.
        pool_pre_ping: Test each connection when it is taken from the pool (one
            round trip). Off by default: a broken connection is found by the query
            that fails (503), and the whole pool is renewed at once.
        engine_options: More keyword arguments for both ``create_engine`` calls.

    Example:
        >>> from carboy import Carboy
        >>> from carboy.db import Database
        >>> app = Carboy()
        >>> app.install(Database("postgresql://localhost/blog"))
    """

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        base: type[DeclarativeBase] | None = None,
        models: Sequence[str] = (),
        migrations: str | os.PathLike[str] = "migrations",
        echo: bool = False,
        pool_size: int = 10,
        max_overflow: int = 10,
        pool_timeout: float = 10.0,
        pool_pre_ping: bool = False,
        engine_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__("db", root=Path(__file__).parent)
        self.base: type[DeclarativeBase] = base if base is not None else Model
        self.model_modules = tuple(models)
        self.migrations_dir = Path(migrations)
        self.echo = echo
        self.pool_options: dict[str, Any] = {
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "pool_timeout": pool_timeout,
            "pool_pre_ping": pool_pre_ping,
        }
        self.engine_options = dict(engine_options or {})
        self.migration_sources: list[MigrationSource] = []
        self.migrate_hooks: list[Callable[[Database, MigrationPlan], None]] = []
        self._raw_url = url
        self._app: Module | None = None
        self._app_root: Path | None = None
        self._url: URL | None = None
        self._engine: Engine | None = None
        self._async_engine: AsyncEngine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._async_sessions: async_sessionmaker[AsyncSession] | None = None
        self._migrations: Migrations | None = None

        self.provide(
            Session,
            factory=self._request_session,
            sync_factory=self._request_session_in_thread,
        )
        self.provide(AsyncSession, factory=self._request_async_session)
        self.provide(Database, self)
        self.on_shutdown(self.dispose)
        self.add_readiness_check("database", self.ping)
        for kind in (sa_exc.DBAPIError, sa_exc.TimeoutError, sa_exc.DisconnectionError):
            self.add_exception_handler(kind, self._error_handler)
        from carboy.db.checks import check_database

        self.check(functools.partial(check_database, database_type=Database))
        # Imported when the CLI lists commands: serving never loads click groups or rich.
        self.add_commands(lambda: importlib.import_module("carboy.db.cli").commands())

    # -- wiring ----------------------------------------------------------------------
    def setup(self, app: Carboy) -> None:
        """Take the URL from the settings, the app's folder, and import the models."""
        self._app = app
        self._app_root = Path(app.root)
        if self._raw_url is None and app.settings.database_url:
            self._raw_url = app.settings.database_url
        if self._engine is None and self._async_engine is None:
            self._url = None  # resolve again, against the app's folder
        self.discover_models()

    def discover_models(self) -> None:
        """Import the modules that define the app's models (done when the app builds).

        These are the modules listed in ``Database(models=...)`` and the
        ``models.py`` next to the file of each installed module. ``makemigrations``
        runs it again, for modules installed late by other modules' ``setup``.

        An exception raised by the code of a models module propagates with its
        traceback (and a note naming the module): start-up and every database
        command stop, rather than carry on with that module's tables missing.

        Example:
            >>> db.discover_models()
        """
        for name in self.model_modules:
            if _import_models(name, f"{name!r}, listed in Database(models=[...])") is None:
                raise ConfigurationError(
                    f"Database(models=[...]): cannot import {name!r}: no module of that name"
                )
        if self._app is not None:
            for module in self._app.walk():
                _import_sibling_models(module)

    def add_migrations(
        self, label: str, directory: str | os.PathLike[str], packages: Sequence[str]
    ) -> None:
        """Declare that a module ships its own migration history.

        A battery calls this from its ``setup(app)``. Its revisions form the
        Alembic branch ``label``; the tables of models defined in ``packages`` are
        left out of the project's own migrations, which depend on the branch.

        Example:
            >>> app.get_module(Database).add_migrations(
            ...     "auth", Path(__file__).parent / "migrations", ["carboy.auth"])
        """
        source = MigrationSource(label, Path(directory), tuple(packages))
        if not any(s.label == label for s in self.migration_sources):
            self.migration_sources.append(source)

    def on_migrate(
        self, func: Callable[[Database, MigrationPlan], None]
    ) -> Callable[[Database, MigrationPlan], None]:
        """Decorator: run ``func(db, plan)`` after each successful ``migrate``.

        It runs after every ``carboy migrate`` (and ``db.migrations.migrate()``),
        whether or not there was something to apply, and after reverting too,
        once the migrations are committed; ``plan`` says what was done. A
        battery uses it to keep rows in step with the models (the auth battery
        adds the permissions of new models). An exception it raises fails the
        command; the migrations stay applied.

        Example:
            >>> @db.on_migrate
            ... def seed(db: Database, plan: MigrationPlan) -> None:
            ...     print(plan.direction, len(plan.revisions))
        """
        self.migrate_hooks.append(func)
        return func

    # -- URLs and engines -------------------------------------------------------------
    @property
    def url(self) -> URL:
        """The database URL, as configured (before choosing the sync or async driver)."""
        if self._url is None:
            raw = self._raw_url if self._raw_url is not None else DEFAULT_URL
            self._url = parse_url(raw, self._app_root or Path.cwd())
        return self._url

    @property
    def sync_url(self) -> URL:
        """The URL of the sync engine (``postgresql+psycopg``, ``sqlite+pysqlite``...)."""
        return driver_url(self.url, asynchronous=False)

    @property
    def async_url(self) -> URL:
        """The URL of the async engine (``postgresql+asyncpg``, ``sqlite+aiosqlite``...)."""
        return driver_url(self.url, asynchronous=True)

    @property
    def metadata(self) -> MetaData:
        """The ``MetaData`` of every model: what ``create_all`` and migrations use."""
        return self.base.metadata

    @property
    def project_root(self) -> Path:
        """The app's folder (the current directory before the app is built)."""
        return self._app_root or Path.cwd()

    def _engine_arguments(self, url: URL, *, asynchronous: bool) -> dict[str, Any]:
        options: dict[str, Any] = {"echo": self.echo}
        backend = url.get_backend_name()
        if is_memory(url):
            options["poolclass"] = StaticPool
            options["connect_args"] = {"check_same_thread": False}
        else:
            options.update(self.pool_options)
            if backend == "postgresql" and "connect_timeout" not in url.query:
                key = "timeout" if asynchronous else "connect_timeout"
                options["connect_args"] = {key: CONNECT_TIMEOUT}
        options.update(self.engine_options)
        return options

    @property
    def engine(self) -> Engine:
        """The sync engine (created on first use; it connects on the first query)."""
        if self._engine is None:
            url = self.sync_url
            engine = create_engine(url, **self._engine_arguments(url, asynchronous=False))
            configure_engine(engine, url)
            self._engine = engine
        return self._engine

    @property
    def async_engine(self) -> AsyncEngine:
        """The async engine (created on first use; it connects on the first query)."""
        if self._async_engine is None:
            url = self.async_url
            options = self._engine_arguments(url, asynchronous=True)
            if lane_allowed(url.get_backend_name(), url.get_driver_name(), options):
                options["poolclass"] = LanePool
            engine = create_async_engine(url, **options)
            configure_engine(engine.sync_engine, url)
            self._async_engine = engine
        return self._async_engine

    @property
    def migrations(self) -> Migrations:
        """The project's migrations (see :mod:`carboy.db.migrations`)."""
        if self._migrations is None:
            from carboy.db.migrations import Migrations

            self._migrations = Migrations(self)
        return self._migrations

    async def dispose(self) -> None:
        """Close every pooled connection of both engines (runs at shutdown).

        Example:
            >>> await db.dispose()
        """
        if self._async_engine is not None:
            pool = self._async_engine.sync_engine.pool
            if isinstance(pool, LanePool):
                await greenlet_spawn(check_in, pool.drain())
            await self._async_engine.dispose()
        if self._engine is not None:
            self._engine.dispose()

    # -- sessions --------------------------------------------------------------------
    def session(self) -> Session:
        """A new session of the sync engine; you commit and close it.

        Example:
            >>> with db.session() as session:
            ...     session.add(Post(title="Hello"))
            ...     session.commit()
        """
        if self._sessions is None:
            self._sessions = sessionmaker(self.engine, class_=Session, expire_on_commit=False)
        return self._sessions()

    def async_session(self) -> AsyncSession:
        """A new session of the async engine; you commit and close it.

        Example:
            >>> async with db.async_session() as session:
            ...     session.add(Post(title="Hello"))
            ...     await session.commit()
        """
        if self._async_sessions is None:
            self._async_sessions = async_sessionmaker(
                self.async_engine, class_=AsyncSession, expire_on_commit=False
            )
        return self._async_sessions()

    @contextmanager
    def _sessions_bound_to(
        self,
        sessions: sessionmaker[Session] | None = None,
        async_sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> Iterator[None]:
        """Make ``session()`` / ``async_session()`` (and so the handlers) use these
        factories for a while: :mod:`carboy.db.testing` binds them to one connection."""
        previous = self._sessions, self._async_sessions
        if sessions is not None:
            self._sessions = sessions
        if async_sessions is not None:
            self._async_sessions = async_sessions
        try:
            yield
        finally:
            self._sessions, self._async_sessions = previous

    def shell_context(self) -> dict[str, Any]:
        """Names ``carboy shell`` starts with: ``db``, ``session``, ``select`` and every model.

        Example:
            >>> sorted(db.shell_context())[:3]
            ['Post', 'db', 'select']
        """
        from sqlalchemy import select

        names: dict[str, Any] = {"db": self, "session": self.session(), "select": select}
        for mapper in self.base.registry.mappers:
            names.setdefault(mapper.class_.__name__, mapper.class_)
        return names

    def _translate(self, exc: BaseException) -> HTTPException | None:
        translated = translate_error(exc, (self.metadata,))
        if translated is not None and translated.status_code == 503:
            _unavailable_log.warning("Database unavailable (answering 503): %s", exc)
        return translated

    async def _request_session(self) -> AsyncIterator[Session]:
        # The provider of ``Session`` parameters outside a ``def`` handler's thread hop
        # (an ``async def`` handler's, which db.W001 warns about): opened on the loop,
        # ended in a worker thread.
        session = self.session()
        pending, token = _commit._open()
        try:
            yield session
        except BaseException as exc:
            _commit._close(token)
            await run_sync(end, session, exc, self._translate)
            raise
        _commit._close(token)
        await run_sync(end, session, None, self._translate, pending)

    def _request_session_in_thread(self) -> Iterator[Session]:
        # The provider of ``Session`` parameters of ``def`` handlers: the session opens,
        # serves, commits and closes in the handler's own thread hop (carboy.params runs
        # them together), so a request holding a row lock never waits for a free thread
        # to commit in, and no bound on the requests holding sync sessions is needed.
        with self.transaction() as session:
            yield session

    async def _request_async_session(self) -> AsyncIterator[AsyncSession]:
        async with self.atransaction() as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session committed at the end of the block, rolled back if it raises.

        Database errors become the same HTTP errors as in a handler (409, 422, 503).

        Example:
            >>> with db.transaction() as session:
            ...     session.add(Post(title="Hello"))
        """
        session = self.session()
        pending, token = _commit._open()
        try:
            yield session
        except BaseException as exc:
            _commit._close(token)
            end(session, exc, self._translate)
            raise
        _commit._close(token)
        end(session, None, self._translate, pending)

    @asynccontextmanager
    async def atransaction(self) -> AsyncIterator[AsyncSession]:
        """Async :meth:`transaction`.

        Example:
            >>> async with db.atransaction() as session:
            ...     session.add(Post(title="Hello"))
        """
        session = self.async_session()
        pending, token = _commit._open()
        try:
            yield session
        except BaseException as exc:
            _commit._close(token)
            await aend(session, exc, self._translate)
            raise
        _commit._close(token)
        await aend(session, None, self._translate, pending)

    async def ping(self) -> None:
        """Run ``SELECT 1`` on a pooled connection (``/readyz`` calls it); raises if it cannot.

        Example:
            >>> await db.ping()
        """
        from sqlalchemy import text

        async with self.async_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    # -- Core connections: the fast path -------------------------------------------------
    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled async Core connection, for reads that need no ORM objects.

        You begin and commit transactions yourself (``await conn.commit()``);
        uncommitted work is rolled back when the block ends.

        Example:
            >>> async with db.connection() as conn:
            ...     rows = (await conn.execute(select(World.id).limit(5))).all()
        """
        try:
            async with self.async_engine.connect() as conn:
                yield conn
        except BaseException as exc:
            raise_translated(exc, self._translate)

    def driver_connection(self) -> DriverConnection:
        """The async driver's own connection (asyncpg, aiosqlite), from the engine's pool.

        The fastest path: prepared statements and the driver's API, no SQLAlchemy
        per query. SQL is the driver's dialect (``$1`` placeholders on asyncpg). The
        connection is in autocommit mode unless you open a transaction on it; one
        left open is rolled back when the block ends. A connection that breaks is
        dropped from the pool (503); use ``pool_pre_ping=True`` to test each one
        before use instead. On asyncpg, a connection given back clean is kept for
        the next ``driver_connection()`` without a round trip through SQLAlchemy's
        pool (about 30 µs less per use; see ``carboy/db/_lane.py``).

        Example:
            >>> async with db.driver_connection() as conn:
            ...     number = await conn.fetchval("SELECT randomnumber FROM world WHERE id = $1", 7)
        """
        return DriverConnection(self.async_engine, self._translate)

    # -- schema without migrations (tests, scripts) ---------------------------------------
    def create_all(self) -> None:
        """Create every model's table that does not exist yet (no migrations).

        Example:
            >>> db.create_all()
        """
        self.metadata.create_all(self.engine)

    def drop_all(self) -> None:
        """Drop every model's table.

        Example:
            >>> db.drop_all()
        """
        self.metadata.drop_all(self.engine)

    async def acreate_all(self) -> None:
        """Async :meth:`create_all`.

        Example:
            >>> await db.acreate_all()
        """
        async with self.async_engine.begin() as conn:
            await conn.run_sync(self.metadata.create_all)

    async def adrop_all(self) -> None:
        """Async :meth:`drop_all`.

        Example:
            >>> await db.adrop_all()
        """
        async with self.async_engine.begin() as conn:
            await conn.run_sync(self.metadata.drop_all)

    # -- errors raised outside an injected session -----------------------------------------
    def _error_handler(self, request: Request, exc: Exception) -> Response:
        translated = self._translate(exc)
        scope = request.scope
        if translated is None:
            logger.error(
                "Database error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc
            )
            app = scope.get("app")
            if app is not None and getattr(app, "debug", False):
                return debug_response(scope, exc)
            return error_response(scope, 500)
        return error_response(
            scope, translated.status_code, translated.detail, headers=translated.headers
        )

    def __repr__(self) -> str:
        return f"<Database {self.url.render_as_string(hide_password=True)!r}>"
