"""Sessions, and the small query helpers every app writes: get-or-404, exists, count.

A handler parameter typed :class:`Session` (in ``def`` handlers) or
:class:`AsyncSession` (in ``async def`` handlers) gets a session for the request:
committed when the handler returns, rolled back when it raises, closed always.
Both are SQLAlchemy's own sessions, so everything in SQLAlchemy's documentation
applies; a parameter typed with SQLAlchemy's class gets the same session.

The helpers build their statement once (plain functions, no I/O) and run it
through a thin sync or async driver, ``get_or_404`` / ``aget_or_404`` and so on.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import BigInteger, ColumnElement, Integer, Select, SmallInteger, func, select
from sqlalchemy import exists as sa_exists
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession as _SAAsyncSession
from sqlalchemy.orm import Session as _SASession
from sqlalchemy.orm.interfaces import ORMOption

from carboy.exceptions import HTTPException

M = TypeVar("M")


class Session(_SASession):
    """A SQLAlchemy ORM session; injected per request into ``def`` handlers.

    Example:
        >>> @app.post("/posts")
        ... def create_post(title: str, session: Session) -> dict[str, int]:
        ...     post = Post(title=title)
        ...     session.add(post)
        ...     session.flush()  # assigns post.id; the commit follows the handler
        ...     return {"id": post.id}
    """


class AsyncSession(_SAAsyncSession):
    """A SQLAlchemy asyncio session; injected per request into ``async def`` handlers.

    Example:
        >>> @app.get("/posts/{id:int}")
        ... async def show_post(id: int, session: AsyncSession) -> dict[str, str]:
        ...     post = await aget_or_404(session, Post, id)
        ...     return {"title": post.title}
    """


# -- statements (no I/O) ---------------------------------------------------------------
Criterion = ColumnElement[bool]


def _where(
    model_or_stmt: Any, criteria: tuple[Criterion, ...], filters: dict[str, Any]
) -> Select[Any]:
    if isinstance(model_or_stmt, Select):
        stmt: Select[Any] = model_or_stmt
    else:
        stmt = select(model_or_stmt)
    if criteria:
        stmt = stmt.where(*criteria)
    if filters:
        stmt = stmt.filter_by(**filters)
    return stmt


def _count_statement(
    model_or_stmt: Any, criteria: tuple[Criterion, ...], filters: dict[str, Any]
) -> Select[int]:
    stmt = _where(model_or_stmt, criteria, filters).order_by(None)
    return select(func.count()).select_from(stmt.subquery())


def _exists_statement(
    model_or_stmt: Any, criteria: tuple[Criterion, ...], filters: dict[str, Any]
) -> Select[bool]:
    stmt = _where(model_or_stmt, criteria, filters).order_by(None).limit(1)
    return select(sa_exists(stmt))


def _not_found(model: Any, ident: Any, detail: str | None) -> HTTPException:
    name = getattr(model, "__name__", str(model))
    return HTTPException(404, detail or f"{name} {ident!r} not found")


def _outside_key_range(session: _SASession | _SAAsyncSession, model: Any, ident: Any) -> bool:
    """Whether an integer ``ident`` cannot be a primary key of ``model`` at all.

    The column's type says how far it goes (``SmallInteger`` 16 bits, ``Integer``
    32 bits on PostgreSQL and MySQL but 64 on SQLite, ``BigInteger`` 64): a value
    past it is a row that cannot exist, so a 404 without asking the database
    (which would refuse the value with an error).
    """
    if isinstance(ident, bool) or not isinstance(ident, int):
        return False
    columns = sa_inspect(model).primary_key
    if len(columns) != 1:
        return False
    column_type = columns[0].type
    if not isinstance(column_type, Integer):
        return False
    if isinstance(column_type, SmallInteger):
        bits = 16
    elif isinstance(column_type, BigInteger):
        bits = 64
    else:
        bind = (
            session.get_bind()
            if isinstance(session, _SASession)
            else session.sync_session.get_bind()
        )
        bits = 64 if bind.dialect.name == "sqlite" else 32
    return not -(2 ** (bits - 1)) <= ident < 2 ** (bits - 1)


# -- drivers -------------------------------------------------------------------------
def get_or_404(
    session: _SASession,
    model: type[M],
    ident: Any,
    *options: ORMOption,
    detail: str | None = None,
) -> M:
    """The row of ``model`` with primary key ``ident``, or a 404 error.

    Loader options (``selectinload(Post.comments)``, ``joinedload(...)``) are
    passed on to ``session.get``: load what a template will follow in the same
    query, rather than one lazy load per row. An integer ``ident`` that the key
    column cannot hold (``Integer`` is 32 bits on PostgreSQL) is a 404 without
    a query, not a database error.

    Example:
        >>> post = get_or_404(session, Post, 3)
        >>> post = get_or_404(session, Post, 3, selectinload(Post.comments))
    """
    if _outside_key_range(session, model, ident):
        raise _not_found(model, ident, detail)
    obj = session.get(model, ident, options=options or None)
    if obj is None:
        raise _not_found(model, ident, detail)
    return obj


async def aget_or_404(
    session: _SAAsyncSession,
    model: type[M],
    ident: Any,
    *options: ORMOption,
    detail: str | None = None,
) -> M:
    """Async :func:`get_or_404`; takes the same loader options.

    Example:
        >>> post = await aget_or_404(session, Post, 3)
        >>> post = await aget_or_404(session, Post, 3, selectinload(Post.comments))
    """
    if _outside_key_range(session, model, ident):
        raise _not_found(model, ident, detail)
    obj = await session.get(model, ident, options=options or None)
    if obj is None:
        raise _not_found(model, ident, detail)
    return obj


def exists(session: _SASession, model_or_stmt: Any, *criteria: Criterion, **filters: Any) -> bool:
    """Whether any row matches: ``model`` (or a ``select()``), filtered.

    Example:
        >>> exists(session, User, email="ada@example.com")
        True
        >>> exists(session, Post, Post.views > 1000)
        False
    """
    return bool(session.scalar(_exists_statement(model_or_stmt, criteria, filters)))


async def aexists(
    session: _SAAsyncSession, model_or_stmt: Any, *criteria: Criterion, **filters: Any
) -> bool:
    """Async :func:`exists`.

    Example:
        >>> await aexists(session, User, email="ada@example.com")
        True
    """
    return bool(await session.scalar(_exists_statement(model_or_stmt, criteria, filters)))


def count(session: _SASession, model_or_stmt: Any, *criteria: Criterion, **filters: Any) -> int:
    """How many rows match: ``model`` (or a ``select()``), filtered.

    Example:
        >>> count(session, Post, published=True)
        12
    """
    return int(session.scalar(_count_statement(model_or_stmt, criteria, filters)) or 0)


async def acount(
    session: _SAAsyncSession, model_or_stmt: Any, *criteria: Criterion, **filters: Any
) -> int:
    """Async :func:`count`.

    Example:
        >>> await acount(session, Post, published=True)
        12
    """
    return int(await session.scalar(_count_statement(model_or_stmt, criteria, filters)) or 0)
