"""Session helpers: get_or_404, exists, count, sync and async."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import selectinload

from carboy import HTTPException
from carboy.db import Database, acount, aexists, aget_or_404, count, exists, get_or_404
from tests.db.conftest import Blog

pytestmark = pytest.mark.anyio


def _seed(db: Database, blog: Blog) -> None:
    db.create_all()
    with db.transaction() as session:
        ada = blog.Author(name="ada")
        session.add_all([ada, blog.Author(name="grace")])
        session.flush()
        session.add_all(
            [blog.Post(title=f"p{n}", views=n * 10, author_id=ada.id) for n in range(5)]
        )


async def test_sync_helpers(database_url: str, blog: Blog) -> None:
    db = Database(database_url, base=blog.base)
    _seed(db, blog)
    Author, Post = blog.Author, blog.Post
    with db.session() as session:
        assert get_or_404(session, Author, 1).name == "ada"
        with pytest.raises(HTTPException) as caught:
            get_or_404(session, Author, 99)
        assert (caught.value.status_code, caught.value.detail) == (404, "Author 99 not found")
        with pytest.raises(HTTPException, match="No such writer"):
            get_or_404(session, Author, 99, detail="No such writer")
        assert exists(session, Author, name="grace") is True
        assert exists(session, Author, Author.name.startswith("z")) is False
        assert count(session, Post) == 5
        assert count(session, Post, Post.views >= 20, author_id=1) == 3
        assert count(session, Post.__table__.select().where(Post.views > 30)) == 1


async def test_async_helpers(database_url: str, blog: Blog) -> None:
    db = Database(database_url, base=blog.base)
    _seed(db, blog)
    Author, Post = blog.Author, blog.Post
    async with db.async_session() as session:
        assert (await aget_or_404(session, Author, 2)).name == "grace"
        with pytest.raises(HTTPException) as caught:
            await aget_or_404(session, Author, 99)
        assert caught.value.status_code == 404
        assert await aexists(session, Author, name="ada") is True
        assert await aexists(session, Post, Post.views > 1000) is False
        assert await acount(session, Post, Post.views < 20) == 2
    await db.dispose()


async def test_get_or_404_takes_loader_options(database_url: str, blog: Blog) -> None:
    db = Database(database_url, base=blog.base)
    _seed(db, blog)
    Post = blog.Post
    with db.session() as session:
        plain = get_or_404(session, Post, 1)
        assert "author" in inspect(plain).unloaded
        session.expunge_all()
        loaded = get_or_404(session, Post, 1, selectinload(Post.author))
        assert "author" not in inspect(loaded).unloaded
        session.expunge_all()
    assert loaded.author.name == "ada"  # loaded with the row: no session needed
    async with db.async_session() as asession:
        aloaded = await aget_or_404(asession, Post, 2, selectinload(Post.author))
        assert "author" not in inspect(aloaded).unloaded
        assert aloaded.author.name == "ada"
        with pytest.raises(HTTPException, match="Post 99 not found"):
            await aget_or_404(asession, Post, 99, selectinload(Post.author))
    await db.dispose()
