"""Models, databases (SQLite and PostgreSQL) and signed-in clients for the resource tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carboy.db import TimestampMixin, model_base
from carboy.db.testing import temporary_database
from tests.cache.conftest import backend, cache, redis_url  # noqa: F401  (memory and Redis)
from tests.db.conftest import POSTGRES_URL, require_postgres

#: The resource tests' own tables (not carboy's shared Model.metadata).
ApiBase = model_base()

BACKENDS = ["sqlite", "postgresql"]

post_tag = Table(
    "post_tag",
    ApiBase.metadata,
    Column("post_id", ForeignKey("post.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True),
)


class Author(ApiBase):
    __permission_label__ = "blog"

    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))


class Tag(ApiBase):
    __permission_label__ = "blog"

    name: Mapped[str] = mapped_column(String(30), unique=True)


class Post(TimestampMixin, ApiBase):
    __permission_label__ = "blog"

    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    body: Mapped[str] = mapped_column(Text, default="")
    published: Mapped[bool] = mapped_column(default=False)
    views: Mapped[int] = mapped_column(default=0)
    secret: Mapped[str | None] = mapped_column(String(100))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=post_tag)

    @property
    def excerpt(self) -> str:
        return self.body[:20]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test session on the PostgreSQL server (dropped at the end)."""
    require_postgres()
    with temporary_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database with the tables above: a SQLite file, or the PostgreSQL one."""
    from carboy.db import Database

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'api.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    db = Database(url, base=ApiBase)
    ApiBase.metadata.drop_all(db.engine)
    ApiBase.metadata.create_all(db.engine)
    db.engine.dispose()
    yield url
    ApiBase.metadata.drop_all(db.engine)
    db.engine.dispose()


def bearer(token: str) -> dict[str, Any]:
    """The Authorization header of a JWT."""
    return {"authorization": f"Bearer {token}"}
