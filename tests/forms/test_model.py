"""Model forms on SQLite and PostgreSQL: fields from columns, saving, constraints, versions."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import pytest
from sqlalchemy import Column, ForeignKey, Numeric, String, Table, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from carboy import Carboy, Request
from carboy.db import AsyncSession, Database, TimestampMixin, model_base
from carboy.forms import (
    Forms,
    ModelForm,
    Storage,
    Textarea,
    Upload,
    UploadedImage,
    model_form,
)
from carboy.responses import HTMLResponse, RedirectResponse
from carboy.settings import Settings
from carboy.testing import TestClient
from tests.forms.conftest import parse

Base = model_base()


class Status(enum.Enum):
    DRAFT = "draft"
    LIVE = "live"


class Category(Base):
    name: Mapped[str] = mapped_column(String(40), unique=True)

    def __str__(self) -> str:
        return self.name


post_tag = Table(
    "post_tag",
    Base.metadata,
    Column("post_id", ForeignKey("post.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True),
)


class Tag(Base):
    name: Mapped[str] = mapped_column(String(30))

    def __str__(self) -> str:
        return self.name


class Post(TimestampMixin, Base):
    title: Mapped[str] = mapped_column(String(100), comment="Shown in lists")
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    body: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    status: Mapped[Status] = mapped_column(default=Status.DRAFT)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    category: Mapped[Category] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=post_tag)
    cover: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class PostForm(ModelForm[Post]):
    exclude = ("cover",)


class CoverForm(ModelForm[Post]):
    include = ("title", "slug", "category_id", "cover")
    overrides = {"cover": Annotated[UploadedImage | None, Upload(max_size=50_000)]}
    upload_to = {"cover": "covers"}


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url, base=Base)
    Base.metadata.drop_all(database.engine)
    Base.metadata.create_all(database.engine)
    with database.transaction() as session:
        session.add_all(
            [Category(name="News"), Category(name="Tech"), Tag(name="a"), Tag(name="b")]
        )
    yield database
    Base.metadata.drop_all(database.engine)
    database.engine.dispose()


def run(db: Database, coro: Any) -> Any:
    """Run ``coro`` on a new event loop, then close the async engine's connections of that loop."""

    async def main() -> Any:
        try:
            return await coro
        finally:
            await db.dispose()

    return asyncio.run(main())


def posts(db: Database) -> list[tuple[str, str]]:
    with db.session() as session:
        return [(p.title, p.slug) for p in session.scalars(select(Post).order_by(Post.id))]


GOOD = {"title": "Hello", "slug": "hello", "category_id": "1"}


# -- the fields a model gives ---------------------------------------------------------
def test_fields_come_from_the_columns() -> None:
    specs = PostForm.specs
    # Generated columns (id, timestamps) are left out; the version is a hidden field.
    assert list(specs) == [
        "title",
        "slug",
        "body",
        "price",
        "status",
        "category_id",
        "tags",
        "version",
    ]
    assert specs["title"].html_constraints == {"maxlength": 100}
    assert specs["title"].required and specs["title"].help == "Shown in lists"
    assert isinstance(specs["body"].widget, Textarea) and not specs["body"].required
    assert specs["price"].optional and specs["price"].html_constraints["step"] == "0.01"
    assert [c.value for c in specs["status"].choices or []] == ["draft", "live"]
    assert specs["category_id"].label == "Category"
    assert specs["tags"].multiple
    assert specs["version"].widget.is_hidden
    assert PostForm.version_field == "version"


def test_include_exclude_and_model_form() -> None:
    made = model_form(Post, include=["title", "slug"], readonly=["slug"], labels={"slug": "URL"})
    assert list(made.specs) == ["title", "slug", "version"]
    assert made.readonly_fields == ("slug",)
    assert made()["slug"].label == "URL"
    from carboy import ConfigurationError

    with pytest.raises(ConfigurationError, match="'nope' is not a column"):
        model_form(Post, include=["title", "nope"])
    with pytest.raises(ConfigurationError, match="not a mapped model class"):
        ModelForm[int]  # type: ignore[type-var]


# -- saving -------------------------------------------------------------------------
def test_create_with_a_foreign_key_and_many_to_many(db: Database) -> None:
    async def create() -> Post | None:
        async with db.atransaction() as session:
            form = PostForm({**GOOD, "tags": ["1", "2"], "price": "3.50", "status": "live"})
            await form.aload(session)
            options = [(c.value, c.label) for c in form["category_id"].choices]
            assert options == [("1", "News"), ("2", "Tech")]
            assert form.is_valid, form.errors
            return await form.asave(session)

    post = run(db, create())
    assert post is not None and post.id is not None
    with db.session() as session:
        saved = session.scalars(select(Post).options(selectinload(Post.tags))).one()
        assert (saved.title, saved.price, saved.status) == ("Hello", Decimal("3.50"), Status.LIVE)
        assert sorted(t.name for t in saved.tags) == ["a", "b"]
        assert saved.version == 1


def test_update_shows_the_instance_and_writes_the_changes(db: Database) -> None:
    with db.transaction() as session:
        post = Post(title="Old", slug="old", category_id=1, tags=[])
        session.add(post)

    async def edit() -> None:
        async with db.atransaction() as session:
            post = (await session.scalars(select(Post))).one()
            shown = PostForm(instance=post)
            await shown.aload(session)
            page = parse(str(shown))
            assert page.by_id("id_title").attrs["value"] == "Old"
            assert page.by_id("id_version").attrs["value"] == "1"
            assert "selected" in page.by_id("id_category_id").find("option", value="1").attrs
            form = PostForm({**GOOD, "title": "New", "tags": ["2"], "version": "1"}, instance=post)
            await form.aload(session)
            saved = await form.asave(session)
            assert saved is post and post.version == 2

    run(db, edit())
    assert posts(db) == [("New", "hello")]


def test_sync_save_in_a_def_handlers_session(db: Database) -> None:
    with db.transaction() as session:
        form = PostForm({**GOOD, "tags": ["1"]})
        form.load(session)
        post = form.save(session)
        assert post is not None and [t.name for t in post.tags] == ["a"]
    assert posts(db) == [("Hello", "hello")]


def test_a_unique_violation_is_a_field_error_and_writes_nothing(db: Database) -> None:
    with db.transaction() as session:
        session.add(Post(title="First", slug="hello", category_id=1))

    async def again() -> PostForm:
        async with db.atransaction() as session:
            form = PostForm({**GOOD, "title": "Second"})
            await form.aload(session)
            assert await form.asave(session) is None
            # The session is still usable after the refused savepoint.
            assert await session.scalar(select(func.count()).select_from(Post)) == 1
            return form

    form = run(db, again())
    assert form.errors == {"slug": ["This value is already used by another post."]}
    assert form.status_code == 409
    assert posts(db) == [("First", "hello")]


def test_a_choice_that_is_not_offered_is_refused(db: Database) -> None:
    async def check() -> dict[str, list[str]]:
        async with db.atransaction() as session:
            form = PostForm({**GOOD, "category_id": "99", "tags": ["1", "77"]})
            await form.aload(session)
            return form.errors

    assert run(db, check()) == {
        "category_id": ["Select a valid choice; that one is not available."],
        "tags": ["Select a valid choice; that one is not available."],
    }


def test_a_foreign_key_past_the_choices_limit_is_checked_by_the_database(db: Database) -> None:
    class Limited(ModelForm[Post]):
        exclude = ("cover",)
        choices_limit = 1

    async def check() -> Limited:
        async with db.atransaction() as session:
            form = Limited({**GOOD, "category_id": "99"})
            await form.aload(session)
            assert len(form["category_id"].choices) == 1
            assert form.is_valid  # not every row was offered: the database decides
            assert await form.asave(session) is None
            return form

    form = run(db, check())
    assert "category_id" in form.errors and form.status_code == 422
    assert posts(db) == []


def test_a_stale_version_is_a_conflict_and_overwrites_nothing(db: Database) -> None:
    with db.transaction() as session:
        session.add(Post(title="Mine", slug="mine", category_id=1))

    async def two_tabs() -> tuple[PostForm, PostForm]:
        # Both tabs opened the form at version 1; the first save wins.
        async with db.atransaction() as session:
            post = (await session.scalars(select(Post))).one()
            first = PostForm(
                {**GOOD, "slug": "mine", "title": "Tab one", "version": "1"}, instance=post
            )
            await first.aload(session)
            assert await first.asave(session) is post
        async with db.atransaction() as session:
            post = (await session.scalars(select(Post))).one()
            second = PostForm(
                {**GOOD, "slug": "mine", "title": "Tab two", "version": "1"}, instance=post
            )
            await second.aload(session)
            assert await second.asave(session) is None
        return first, second

    _, second = run(db, two_tabs())
    assert "changed by someone else" in second.form_errors[0]
    assert second.status_code == 409
    assert posts(db) == [("Tab one", "mine")]


# SQLite has no row versions to race on: a writer there waits for the whole database.
@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_row_changed_between_load_and_write_is_a_conflict(db: Database) -> None:
    with db.transaction() as session:
        session.add(Post(title="Mine", slug="mine", category_id=1))

    with db.session() as session:
        post = session.scalars(select(Post)).one()
        form = PostForm({**GOOD, "slug": "mine", "title": "Late", "version": "1"}, instance=post)
        form.load(session)
        with db.transaction() as other:  # someone else saves in between
            other.scalars(select(Post)).one().title = "Early"
        assert form.save(session) is None
        session.rollback()
    assert "changed by someone else" in form.form_errors[0]
    assert posts(db) == [("Early", "mine")]


def test_readonly_fields_are_never_written(db: Database) -> None:
    Locked = model_form(Post, include=["title", "slug", "category_id"], readonly=["slug"])
    with db.transaction() as session:
        session.add(Post(title="T", slug="keep", category_id=1))
    with db.transaction() as session:
        post = session.scalars(select(Post)).one()
        form = Locked(
            {"title": "T2", "slug": "forged", "category_id": "1", "version": "1"}, instance=post
        )
        form.load(session)
        assert form.save(session) is post
    assert posts(db) == [("T2", "keep")]


# -- through requests, with an upload ----------------------------------------------------
def _app(db: Database, tmp_path: Path) -> Carboy:
    app = Carboy(Settings(debug=True), root=tmp_path)
    app.install(db)
    app.install(Forms())

    @app.post("/posts")
    async def create(form: CoverForm, session: AsyncSession, storage: Storage) -> Any:
        if form.is_valid and (post := await form.asave(session, storage=storage)):
            return RedirectResponse(f"/posts/{post.id}", status_code=303)
        return HTMLResponse(str(form), status_code=form.status_code)

    @app.post("/posts/{id:int}")
    async def edit(id: int, request: Request, session: AsyncSession) -> Any:
        post = await session.get(Post, id)
        form = await PostForm.from_request(request, session=session, instance=post)
        if form.is_valid and await form.asave(session):
            return HTMLResponse("saved")
        return HTMLResponse(str(form), status_code=form.status_code)

    return app


def test_a_model_form_in_a_handler_with_an_upload(db: Database, tmp_path: Path, png: bytes) -> None:
    with TestClient(_app(db, tmp_path)) as client:
        bad = client.post("/posts", data={**GOOD, "title": ""})
        assert bad.status_code == 422
        assert parse(bad.text).by_id("id_title").attrs["aria-invalid"] == "true"
        made = client.post(
            "/posts",
            data=GOOD,
            files={"cover": ("../x.png", png, "image/png")},
            follow_redirects=False,
        )
        assert made.status_code == 303, made.text
        taken = client.post(
            "/posts", data={**GOOD, "title": "Dup"}, files={"cover": ("x.png", png, "image/png")}
        )
        assert taken.status_code == 409
        assert "already used" in parse(taken.text).by_id("id_slug_errors").text
    with db.session() as session:
        post = session.scalars(select(Post)).one()
        assert post.cover is not None and post.cover.startswith("covers/")
    stored = list((tmp_path / "media" / "covers").iterdir())
    # The refused second post's file was removed again.
    assert [p.name for p in stored] == [post.cover.split("/")[1]]


def test_editing_through_from_request(db: Database, tmp_path: Path) -> None:
    with db.transaction() as session:
        session.add(Post(title="T", slug="t", category_id=1))
    with TestClient(_app(db, tmp_path)) as client:
        stale = client.post("/posts/1", data={**GOOD, "version": "0"})
        assert stale.status_code == 409
        assert "changed by someone else" in parse(stale.text).find("div", role="alert").text
        assert client.post("/posts/1", data={**GOOD, "version": "1"}).text == "saved"
        assert (
            client.post("/posts/1", data={**GOOD, "title": "x" * 101, "version": "2"}).status_code
            == 422
        )
    assert posts(db) == [("Hello", "hello")]
