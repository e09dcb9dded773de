"""Fixtures of the database battery's tests: SQLite and PostgreSQL, sync and async.

PostgreSQL is the server on 127.0.0.1:5432 (``CARBOY_TEST_POSTGRES_URL`` to
change it). Each test session works in a database of its own,
``carboy_test_<random>``, dropped at the end, so parallel runs do not collide.
A PostgreSQL that cannot be reached fails the tests; set
``CARBOY_SKIP_POSTGRES=1`` to skip them instead on a machine without it (not
under ``CI=true``, where tests/conftest.py turns that skip into a failure).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import CheckConstraint, ForeignKey, String, Text, create_engine, text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.pool import NullPool

from carboy import Carboy
from carboy.db import Database, TimestampMixin, model_base
from carboy.db.testing import temporary_database

POSTGRES_URL = os.environ.get(
    "CARBOY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


def _postgres_problem() -> str | None:
    engine = create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool
    )
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        engine.dispose()
    return None


def require_postgres() -> None:
    """Fail (or, with ``CARBOY_SKIP_POSTGRES=1``, skip) when PostgreSQL is down."""
    problem = _postgres_problem()
    if problem is None:
        return
    if os.environ.get("CARBOY_SKIP_POSTGRES") == "1":
        pytest.skip(f"PostgreSQL tests skipped (CARBOY_SKIP_POSTGRES=1): {problem}")
    pytest.fail(
        f"PostgreSQL at {POSTGRES_URL} cannot be reached ({problem}). Start it "
        "(`.ci/run` does), or set CARBOY_SKIP_POSTGRES=1 to skip these tests.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test session on the PostgreSQL server (dropped at the end)."""
    require_postgres()
    with temporary_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database: a SQLite file of this test, or the session's PostgreSQL one."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def fresh_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database of this test alone (migrations need an empty one)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    require_postgres()
    with temporary_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


SECRET_KEY = "carboy-db-tests-" * 4


def new_app(root: Path | None = None, **options: Any) -> Carboy:
    """A production-mode app (no debug pages) that accepts the test client's host."""
    options.setdefault("secret_key", SECRET_KEY)
    options.setdefault("allowed_hosts", ["*"])
    return Carboy(root=root, **options)


def make_app(url: str, base: Any, **options: Any) -> tuple[Carboy, Database]:
    """An app with a ``Database`` on ``url`` for the models of ``base``."""
    app = new_app()
    db = Database(url, base=base, **options)
    app.install(db)
    return app, db


@pytest.fixture
def tables(database_url: str) -> Iterator[Any]:
    """A fresh declarative base; its tables are created by the test and dropped after."""
    base = model_base()
    yield base
    engine = create_engine(Database(database_url, base=base).sync_url, poolclass=NullPool)
    try:
        base.metadata.drop_all(engine)
    finally:
        engine.dispose()


class Blog:
    """The models most tests use, on a fresh base."""

    def __init__(self, base: Any) -> None:
        class Author(base):  # type: ignore[misc, valid-type]
            name: Mapped[str] = mapped_column(String(100), unique=True)

        class Post(TimestampMixin, base):  # type: ignore[misc, valid-type]
            title: Mapped[str] = mapped_column(String(200))
            body: Mapped[str | None] = mapped_column(Text)
            views: Mapped[int] = mapped_column(default=0)
            author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
            author: Mapped[Author] = relationship()
            __table_args__ = (CheckConstraint("views >= 0", name="views_not_negative"),)

        class Counter(base):  # type: ignore[misc, valid-type]
            name: Mapped[str] = mapped_column(String(50), unique=True)
            value: Mapped[int] = mapped_column(default=0)

        self.base = base
        self.Author = Author
        self.Post = Post
        self.Counter = Counter


@pytest.fixture
def blog(tables: Any) -> Blog:
    return Blog(tables)


@pytest.fixture(autouse=True)
def _dispose_sync_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close the pooled sync connections every test's databases opened.

    Async engines are disposed by the app's shutdown or by the test itself, on the
    loop their connections belong to.
    """
    created: list[Database] = []
    original = Database.__init__

    def recording_init(self: Database, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        created.append(self)

    monkeypatch.setattr(Database, "__init__", recording_init)
    yield
    for db in created:
        if db._engine is not None:
            db._engine.dispose()


@pytest.fixture
def postgres_blog(postgres_url: str) -> Iterator[Blog]:
    """The blog models for a PostgreSQL-only test; their tables are dropped after."""
    blog = Blog(model_base())
    yield blog
    engine = create_engine(Database(postgres_url).sync_url, poolclass=NullPool)
    try:
        blog.base.metadata.drop_all(engine)
    finally:
        engine.dispose()
