"""carboy.db on MariaDB/MySQL, by URL: sessions, errors and create/drop, sync and async.

The server is the MariaDB on 127.0.0.1:3306 (``CARBOY_TEST_MYSQL_URL`` to
change it); the tests use tables of their own and drop them. A server that
cannot be reached skips these tests: MySQL support is "works by URL", the
suite's required databases are SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from sqlalchemy import String, create_engine, select, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.pool import NullPool

from carboy import Body
from carboy.db import AsyncSession, Database, Session, model_base
from carboy.testing import TestClient
from tests.db.conftest import make_app

MYSQL_URL = os.environ.get("CARBOY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")


@pytest.fixture(scope="module")
def mysql_url() -> str:
    engine = create_engine(Database(MYSQL_URL).sync_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.skip(f"MariaDB/MySQL at {MYSQL_URL} cannot be reached: {exc}")
    finally:
        engine.dispose()
    return MYSQL_URL


@pytest.fixture
def tag_model(mysql_url: str) -> Iterator[Any]:
    base = model_base()

    class Tag(base):  # type: ignore[misc, valid-type]
        __tablename__ = f"carboy_tag_{uuid.uuid4().hex[:8]}"
        name: Mapped[str] = mapped_column(String(50), unique=True)

    engine = create_engine(Database(mysql_url).sync_url, poolclass=NullPool)
    base.metadata.create_all(engine)
    yield Tag
    base.metadata.drop_all(engine)
    engine.dispose()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sessions_commit_and_integrity_errors_become_409(
    mysql_url: str, tag_model: Any, mode: str
) -> None:
    Tag = tag_model
    app, _ = make_app(mysql_url, Tag.__mro__[1])

    if mode == "sync":

        @app.post("/tags", status_code=201)
        def create_sync(session: Session, name: Annotated[str, Body(embed=True)]) -> dict:
            session.add(Tag(name=name))
            session.flush()
            return {"name": name}

        @app.get("/tags")
        def names_sync(session: Session) -> list:
            return list(session.scalars(select(Tag.name).order_by(Tag.name)))

    else:

        @app.post("/tags", status_code=201)
        async def create_async(
            session: AsyncSession, name: Annotated[str, Body(embed=True)]
        ) -> dict:
            session.add(Tag(name=name))
            await session.flush()
            return {"name": name}

        @app.get("/tags")
        async def names_async(session: AsyncSession) -> list:
            return list(await session.scalars(select(Tag.name).order_by(Tag.name)))

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/tags", json={"name": "b"}).status_code == 201
        assert client.post("/tags", json={"name": "a"}).status_code == 201
        duplicate = client.post("/tags", json={"name": "a"})
        assert duplicate.status_code == 409
        assert "name" in duplicate.text
        assert client.get("/tags").json() == ["a", "b"]


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (1062, "Duplicate entry 'a' for key 'name'", ("unique", ("name",), False)),
        (1048, "Column 'title' cannot be null", ("not_null", ("title",), False)),
        (
            1452,
            "Cannot add or update a child row: a foreign key constraint fails (`test`.`post`, "
            "CONSTRAINT `fk_post_author` FOREIGN KEY (`author_id`) REFERENCES `author` (`id`))",
            ("foreign_key", ("author_id",), False),
        ),
        (
            1451,
            "Cannot delete or update a parent row: a foreign key constraint fails (`test`.`post`, "
            "CONSTRAINT `fk_post_author` FOREIGN KEY (`author_id`) REFERENCES `author` (`id`))",
            ("foreign_key", (), True),
        ),
        (4025, "CONSTRAINT `views_not_negative` failed for `test`.`post`", ("check", (), False)),
    ],
)
def test_mysql_error_messages_name_the_constraint(
    code: int, message: str, expected: tuple[str, tuple[str, ...], bool]
) -> None:
    from carboy.db.errors import _describe_mysql

    violation = _describe_mysql(code, message, "INSERT INTO post (title) VALUES (%s)", [])
    assert (violation.kind, violation.columns, violation.referenced) == expected
