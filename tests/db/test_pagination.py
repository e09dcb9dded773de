"""paginate / apaginate: items, totals, links; bad page numbers are 4xx, never 500."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from carboy import Request
from carboy.db import AsyncSession, Page, Session, apaginate, paginate
from carboy.testing import AsyncTestClient
from tests.db.conftest import Blog, make_app

pytestmark = pytest.mark.anyio


def _app(database_url: str, blog: Blog, mode: str) -> Any:
    app, db = make_app(database_url, blog.base)
    Author = blog.Author
    stmt = select(Author).order_by(Author.id)

    def render(page: Page[Any]) -> dict[str, Any]:
        return page.to_dict(lambda author: author.name)

    if mode == "sync":

        @app.get("/authors")
        def list_sync(
            request: Request, session: Session, page: int = 1, per_page: int = 3
        ) -> dict[str, Any]:
            return render(paginate(session, stmt, page, per_page, max_per_page=5, url=request.url))
    else:

        @app.get("/authors")
        async def list_async(
            request: Request, session: AsyncSession, page: int = 1, per_page: int = 3
        ) -> dict[str, Any]:
            return render(
                await apaginate(session, stmt, page, per_page, max_per_page=5, url=request.url)
            )

    db.create_all()
    with db.transaction() as session:
        session.add_all(Author(name=f"author {n}") for n in range(1, 8))
    return app


async def test_pages_have_items_totals_and_links(database_url: str, blog: Blog, mode: str) -> None:
    app = _app(database_url, blog, mode)
    async with AsyncTestClient(app) as client:
        first = (await client.get("/authors")).json()
        second = (await client.get("/authors", params={"page": 2, "sort": "x"})).json()
        last = (await client.get("/authors", params={"page": 3})).json()
    assert first == {
        "items": ["author 1", "author 2", "author 3"],
        "page": 1,
        "per_page": 3,
        "total": 7,
        "pages": 3,
        "links": {
            "self": "http://testserver/authors?page=1&per_page=3",
            "first": "http://testserver/authors?page=1&per_page=3",
            "prev": None,
            "next": "http://testserver/authors?page=2&per_page=3",
            "last": "http://testserver/authors?page=3&per_page=3",
        },
    }
    assert second["items"] == ["author 4", "author 5", "author 6"]
    assert second["links"]["prev"] == "http://testserver/authors?page=1&sort=x&per_page=3"
    assert last["items"] == ["author 7"]
    assert last["links"]["next"] is None


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"page": 0}, 404, "Page 0 does not exist: pages start at 1"),
        ({"page": -5}, 404, "Page -5 does not exist: pages start at 1"),
        ({"page": 4}, 404, "Page 4 does not exist: there are 3"),
        ({"page": 2**63 - 1}, 404, f"Page {2**63 - 1} does not exist: there are 3"),
        # Past 64 bits, an int query parameter is refused before the handler runs.
        ({"page": 10**30}, 422, "Validation failed"),
        ({"page": "two"}, 422, "Validation failed"),
        ({"per_page": 0}, 422, "Validation failed"),
    ],
)
async def test_bad_page_numbers_are_client_errors(
    database_url: str, blog: Blog, mode: str, params: dict[str, Any], status: int, detail: str
) -> None:
    app = _app(database_url, blog, mode)
    async with AsyncTestClient(app) as client:
        response = await client.get("/authors", params=params)
    assert response.status_code == status
    assert response.json()["detail"] == detail


async def test_per_page_is_clamped(database_url: str, blog: Blog, mode: str) -> None:
    app = _app(database_url, blog, mode)
    async with AsyncTestClient(app) as client:
        body = (await client.get("/authors", params={"per_page": 10**6})).json()
    assert (body["per_page"], body["pages"], len(body["items"])) == (5, 2, 5)


def test_an_empty_result_has_one_empty_page(tmp_path: Any, blog: Blog) -> None:
    from carboy.db import Database

    db = Database(f"sqlite:///{tmp_path / 'x.db'}", base=blog.base)
    db.create_all()
    with db.session() as session:
        page = paginate(session, select(blog.Author.name).order_by(blog.Author.name))
    assert (page.items, page.total, page.pages, page.has_next, page.has_prev) == (
        [],
        0,
        1,
        False,
        False,
    )
    assert page.links == {"self": None, "first": None, "prev": None, "next": None, "last": None}
    with db.session() as session:
        session.add(blog.Author(name="solo"))
        session.commit()
        page = paginate(session, select(blog.Author.name))
    assert page.items == ["solo"]  # a one-column select gives the values
    assert (page.prev_num, page.next_num) == (None, None)
