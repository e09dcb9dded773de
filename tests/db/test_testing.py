"""The helpers for users' tests: rolled-back transactions, temporary databases, clear()."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from carboy.db import AsyncSession, Database, Session
from carboy.db.testing import atransaction, clear, temporary_database, transaction
from carboy.testing import AsyncTestClient, TestClient
from tests.db.conftest import POSTGRES_URL, Blog, make_app, require_postgres

pytestmark = pytest.mark.anyio


def _count(db: Database, model: Any) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_transaction_rolls_back_what_the_test_and_the_requests_wrote(
    database_url: str, blog: Blog
) -> None:
    app, db = make_app(database_url, blog.base)

    @app.post("/authors")
    def create(session: Session, name: str) -> int:
        session.add(blog.Author(name=name))
        session.flush()
        return 1

    @app.get("/authors/count")
    def how_many(session: Session) -> int:
        return int(session.scalar(select(func.count()).select_from(blog.Author)) or 0)

    db.create_all()
    with TestClient(app) as client, transaction(db) as session:
        session.add(blog.Author(name="from the test"))
        session.commit()
        assert client.post("/authors", params={"name": "from a request"}).json() == 1
        assert client.get("/authors/count").json() == 2
        # A failed request rolls back to its savepoint only.
        assert client.post("/authors", params={"name": "from a request"}).status_code == 409
        assert client.get("/authors/count").json() == 2
    assert _count(db, blog.Author) == 0


async def test_atransaction_rolls_back_what_async_requests_wrote(
    database_url: str, blog: Blog
) -> None:
    app, db = make_app(database_url, blog.base)

    @app.post("/authors")
    async def create(session: AsyncSession, name: str) -> int:
        session.add(blog.Author(name=name))
        await session.flush()
        return 1

    @app.get("/authors/count")
    async def how_many(session: AsyncSession) -> int:
        return int(await session.scalar(select(func.count()).select_from(blog.Author)) or 0)

    db.create_all()
    async with AsyncTestClient(app) as client, atransaction(db) as session:
        session.add(blog.Author(name="from the test"))
        await session.commit()
        assert (await client.post("/authors", params={"name": "a request"})).json() == 1
        assert (await client.get("/authors/count")).json() == 2
    assert _count(db, blog.Author) == 0


def test_clear_deletes_every_row(database_url: str, blog: Blog) -> None:
    db = Database(database_url, base=blog.base)
    db.create_all()
    with db.transaction() as session:
        author = blog.Author(name="ada")
        session.add(author)
        session.flush()
        session.add(blog.Post(title="x", author_id=author.id))
    clear(db)
    assert (_count(db, blog.Author), _count(db, blog.Post)) == (0, 0)


def test_temporary_sqlite_database() -> None:
    with temporary_database("sqlite:///ignored.db") as url:
        engine = create_engine(url, poolclass=NullPool)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        engine.dispose()
        path = url.removeprefix("sqlite:///")
        assert path.endswith("/test.db")
    import os

    assert not os.path.exists(path)


def test_temporary_postgresql_database() -> None:
    require_postgres()
    server = create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"), poolclass=NullPool
    )

    def exists(name: str) -> bool:
        with server.connect() as connection:
            return bool(
                connection.scalar(
                    text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}
                )
            )

    with temporary_database(POSTGRES_URL, prefix="carboy_tmp") as url:
        name = url.rsplit("/", 1)[1]
        assert name.startswith("carboy_tmp_")
        assert exists(name)
        db = Database(url)
        with db.engine.connect() as connection:
            assert connection.scalar(text("SELECT current_database()")) == name
        # The connection stays open in the pool: the drop closes it by force.
    assert not exists(name)
    db.engine.dispose()
    server.dispose()


def test_temporary_database_of_another_kind() -> None:
    with pytest.raises(NotImplementedError, match="not mysql"), temporary_database("mysql://h/d"):
        pass
