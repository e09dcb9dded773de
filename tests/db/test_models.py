"""Model conventions: ids, table names, constraint names, str, timestamps, UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import ForeignKey, PrimaryKeyConstraint, String, select
from sqlalchemy.orm import Mapped, mapped_column

from carboy.db import Database, Model, TimestampMixin, UTCDateTime, model_base
from carboy.db.models import NAMING_CONVENTION, table_name_for


@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("Post", "post"),
        ("BlogPost", "blog_post"),
        ("HTTPLog", "http_log"),
        ("OAuth2Token", "o_auth2_token"),
        ("already_snake", "already_snake"),
    ],
)
def test_table_names(name: str, table: str) -> None:
    assert table_name_for(name) == table


def test_conventions() -> None:
    Base = model_base()

    class Author(Base):
        name: Mapped[str] = mapped_column(String(100), unique=True, index=True)

    class BlogPost(Base):
        __tablename__ = "posts"
        title: Mapped[str]
        author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))

    class Country(Base):
        code: Mapped[str] = mapped_column(String(2), primary_key=True)

    class Pair(Base):
        left: Mapped[int]
        right: Mapped[int]
        __table_args__ = (PrimaryKeyConstraint("left", "right"),)

    assert [c.name for c in Author.__table__.columns] == ["id", "name"]
    assert Author.__table__.c.id.primary_key
    assert BlogPost.__table__.name == "posts"
    assert [c.name for c in Country.__table__.primary_key] == ["code"]
    assert "id" not in Country.__table__.c
    assert [c.name for c in Pair.__table__.primary_key] == ["left", "right"]
    assert {c.name for c in BlogPost.__table__.constraints} == {
        "pk_posts",
        "fk_posts_author_id_author",
    }
    assert {i.name for i in Author.__table__.indexes} == {"ix_author_name"}
    assert set(Base.metadata.tables) == {"author", "posts", "country", "pair"}
    assert Base.metadata.naming_convention == NAMING_CONVENTION


def test_inheritance() -> None:
    Base = model_base()

    class Animal(Base):
        kind: Mapped[str]
        __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "animal"}

    class Dog(Animal):  # single table
        __mapper_args__ = {"polymorphic_identity": "dog"}

    class Cat(Animal):  # joined table
        id: Mapped[int] = mapped_column(ForeignKey("animal.id"), primary_key=True)
        lives: Mapped[int] = mapped_column(default=9)
        __mapper_args__ = {"polymorphic_identity": "cat"}

    assert Dog.__table__ is Animal.__table__
    assert Cat.__table__.name == "cat"
    assert set(Base.metadata.tables) == {"animal", "cat"}


def test_abstract_bases_and_mixins() -> None:
    Base = model_base()

    class Owned(Base):
        __abstract__ = True
        owner: Mapped[str] = mapped_column(String(50))

    class Invoice(TimestampMixin, Owned):
        total: Mapped[int]

    assert [c.name for c in Invoice.__table__.columns] == [
        "id",
        "total",
        "owner",
        "created_at",
        "updated_at",
    ]
    assert "owned" not in Base.metadata.tables


def test_each_base_has_its_own_metadata() -> None:
    first, second = model_base(), model_base()

    class Same(first):
        pass

    class Same2(second):
        __tablename__ = "same"

    assert first.metadata is not second.metadata
    assert first.metadata is not Model.metadata
    assert "same" not in Model.metadata.tables


def test_str_and_repr(tmp_path: Any) -> None:
    Base = model_base()

    class Note(Base):
        text: Mapped[str]

    class Pair(Base):
        a: Mapped[int] = mapped_column(primary_key=True)
        b: Mapped[int] = mapped_column(primary_key=True)

    note = Note(text="x")
    assert (str(note), repr(note)) == ("Note (unsaved)", "<Note (unsaved)>")
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", base=Base)
    db.create_all()
    with db.session() as session:
        session.add_all([note, Pair(a=1, b=2)])
        session.commit()
        assert (str(note), repr(note)) == ("Note #1", "<Note #1>")
        assert str(session.get(Pair, (1, 2))) == "Pair #(1, 2)"


def test_timestamps_and_datetimes_are_utc_aware(database_url: str, tables: Any) -> None:
    class Event(TimestampMixin, tables):
        starts_at: Mapped[datetime]
        ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    db = Database(database_url, base=tables)
    db.create_all()
    paris = timezone(timedelta(hours=2))
    before = datetime.now(UTC)
    with db.transaction() as session:
        session.add(
            Event(
                starts_at=datetime(2024, 6, 1, 14, 0, tzinfo=paris),
                ends_at=datetime(2024, 6, 1, 13, 0),
            )
        )  # naive: taken as UTC
    with db.session() as session:
        event = session.scalars(select(Event)).one()
        assert event.starts_at == datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
        assert event.starts_at.tzinfo is UTC
        assert event.ends_at == datetime(2024, 6, 1, 13, 0, tzinfo=UTC)
        assert before <= event.created_at <= datetime.now(UTC)
        assert event.created_at.tzinfo is UTC
        first_update = event.updated_at
        event.starts_at = datetime(2025, 1, 1, tzinfo=UTC)
        session.commit()
        assert event.updated_at > first_update


def test_utc_datetime_refuses_other_values() -> None:
    from sqlalchemy.dialects import postgresql

    with pytest.raises(TypeError, match="UTCDateTime takes a datetime, got str"):
        UTCDateTime().process_bind_param("2024-01-01", postgresql.dialect())  # type: ignore[arg-type]


def test_foreign_key_columns_are_indexed_by_default() -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import ForeignKey, create_engine
    from sqlalchemy.orm import mapped_column

    from carboy.db import model_base

    base = model_base()

    class Author(base):  # type: ignore[misc, valid-type]
        name: Mapped[str]

    class Book(base):  # type: ignore[misc, valid-type]
        author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
        editor_id: Mapped[int | None] = mapped_column(ForeignKey("author.id"), index=False)
        isbn_owner_id: Mapped[int] = mapped_column(ForeignKey("author.id"), unique=True)

    indexes = {index.name: [c.name for c in index.columns] for index in Book.__table__.indexes}
    assert indexes == {"ix_book_author_id": ["author_id"]}  # opted out and unique: none
    # Migrations see it: autogenerate against an empty database adds the index.
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), base.metadata)
    added = [step[1].name for step in diff if step[0] == "add_index"]
    assert "ix_book_author_id" in added
    engine.dispose()
