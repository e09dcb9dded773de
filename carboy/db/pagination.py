"""Pagination: one page of a query's rows, with totals and links to the other pages.

``paginate(session, select(Post).order_by(Post.id), page=2, per_page=20)`` runs two
statements (a count and a ``LIMIT``/``OFFSET`` select) and returns a :class:`Page`.
A page number past the last page, or below 1, is a 404 (the page does not exist);
``per_page`` is clamped to ``max_per_page`` so a client cannot ask for every row.
The arithmetic and the statements are built once, without I/O, and run by
:func:`paginate` (sync sessions) or :func:`apaginate` (async sessions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession as _SAAsyncSession
from sqlalchemy.orm import Session as _SASession

from carboy.datastructures import URL
from carboy.exceptions import FieldError, HTTPException, RequestValidationError

T = TypeVar("T")

#: The default and largest page sizes.
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results.

    Attributes:
        items: The rows on this page (model instances for ``select(Model)``).
        page: This page's number, from 1.
        per_page: Rows per page.
        total: Rows across all pages.
        url: The URL the links are built from (the request's), if given.

    Example:
        >>> page = paginate(session, select(Post).order_by(Post.id), page=1, per_page=10)
        >>> page.total, page.pages, page.has_next
        (25, 3, True)
        >>> page.links["next"]
        'http://testserver/posts?page=2&per_page=10'
    """

    items: Sequence[T]
    page: int
    per_page: int
    total: int
    url: str | None = field(default=None, repr=False)

    @property
    def pages(self) -> int:
        """How many pages there are (at least 1: an empty result has one empty page)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        """Whether a page comes before this one."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """Whether a page comes after this one."""
        return self.page < self.pages

    @property
    def prev_num(self) -> int | None:
        """The previous page's number, or None on the first page."""
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        """The next page's number, or None on the last page."""
        return self.page + 1 if self.has_next else None

    def url_for_page(self, number: int) -> str | None:
        """The URL of page ``number`` (the request's URL with ``page`` and ``per_page`` set)."""
        if self.url is None:
            return None
        return str(URL(self.url).include_query_params(page=number, per_page=self.per_page))

    @property
    def links(self) -> dict[str, str | None]:
        """URLs of the ``self``, ``first``, ``prev``, ``next`` and ``last`` pages."""
        return {
            "self": self.url_for_page(self.page),
            "first": self.url_for_page(1),
            "prev": self.url_for_page(self.page - 1) if self.has_prev else None,
            "next": self.url_for_page(self.page + 1) if self.has_next else None,
            "last": self.url_for_page(self.pages),
        }

    def to_dict(self, item: Callable[[T], Any] | None = None) -> dict[str, Any]:
        """The page as JSON-ready data; ``item`` turns each row into a dict.

        Example:
            >>> page.to_dict(lambda post: {"id": post.id, "title": post.title})["total"]
            25
        """
        return {
            "items": [item(row) for row in self.items] if item else list(self.items),
            "page": self.page,
            "per_page": self.per_page,
            "total": self.total,
            "pages": self.pages,
            "links": self.links,
        }


@dataclass(frozen=True, slots=True)
class _Plan:
    count: Select[int]
    rows: Select[Any]
    scalars: bool
    page: int
    per_page: int


def _plan(stmt: Select[Any], page: int, per_page: int, max_per_page: int) -> _Plan:
    if per_page < 1:
        raise RequestValidationError(
            [FieldError(["query", "per_page"], "per_page must be at least 1", "greater_than")]
        )
    if page < 1:
        raise HTTPException(404, f"Page {page} does not exist: pages start at 1")
    per_page = min(per_page, max_per_page)
    count = select(func.count()).select_from(stmt.order_by(None).subquery())
    rows = stmt.limit(per_page).offset((page - 1) * per_page)
    return _Plan(count, rows, len(stmt.column_descriptions) == 1, page, per_page)


def _finish(plan: _Plan, total: int, items: Sequence[Any], url: URL | str | None) -> Page[Any]:
    page = Page(items, plan.page, plan.per_page, total, str(url) if url is not None else None)
    if plan.page > page.pages:
        raise HTTPException(404, f"Page {plan.page} does not exist: there are {page.pages}")
    return page


def paginate(
    session: _SASession,
    stmt: Select[Any],
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
    *,
    max_per_page: int = MAX_PER_PAGE,
    url: URL | str | None = None,
) -> Page[Any]:
    """One page of ``stmt``'s rows; give ``url=request.url`` for the page links.

    Order the statement (``order_by``) so pages are stable.

    Example:
        >>> @app.get("/posts")
        ... def posts(request: Request, session: Session, page: int = 1) -> dict:
        ...     found = paginate(session, select(Post).order_by(Post.id), page, url=request.url)
        ...     return found.to_dict(lambda p: {"id": p.id, "title": p.title})
    """
    plan = _plan(stmt, page, per_page, max_per_page)
    total = int(session.scalar(plan.count) or 0)
    if plan.page > 1 and (plan.page - 1) * plan.per_page >= total:
        return _finish(plan, total, [], url)
    result = session.execute(plan.rows)
    items = result.scalars().all() if plan.scalars else result.all()
    return _finish(plan, total, items, url)


async def apaginate(
    session: _SAAsyncSession,
    stmt: Select[Any],
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
    *,
    max_per_page: int = MAX_PER_PAGE,
    url: URL | str | None = None,
) -> Page[Any]:
    """Async :func:`paginate`.

    Example:
        >>> found = await apaginate(session, select(Post).order_by(Post.id), page=2)
    """
    plan = _plan(stmt, page, per_page, max_per_page)
    total = int(await session.scalar(plan.count) or 0)
    if plan.page > 1 and (plan.page - 1) * plan.per_page >= total:
        return _finish(plan, total, [], url)
    result = await session.execute(plan.rows)
    items = result.scalars().all() if plan.scalars else result.all()
    return _finish(plan, total, items, url)
