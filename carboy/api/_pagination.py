"""Pagination of a resource's list: page numbers, limit and offset, or signed cursors.

Every size is capped: by the pagination's own ``max_size``, and always by the
``api_max_page_size`` setting; a request past the cap is a 422 that says the
cap, never a query for ten million rows. A cursor is signed with the app's
secret key (for this resource only): one the client made up or changed is a
400, and its values are never read before the signature is checked.
"""

from __future__ import annotations

import base64
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import pydantic
import sqlalchemy as sa
from pydantic import BaseModel, create_model

from carboy.api._fields import column_type
from carboy.auth.signing import BadSignature, Signer
from carboy.datastructures import URL
from carboy.exceptions import ConfigurationError, FieldError, HTTPException, InvalidFields
from carboy.params import Query

#: The longest cursor read (a signed one is well under it).
MAX_CURSOR_LENGTH = 1000
#: Turns a cursor's values (datetimes, decimals, UUIDs) into JSON ones.
_ANY: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(Any)

Serialize = Callable[[Any], dict[str, Any]]
Ordering = Sequence[tuple[Any, bool]]


@dataclass
class PageRequest:
    """What one list request asked for: the statement, its ordering, the raw values."""

    stmt: sa.Select[Any]
    ordering: Ordering
    values: dict[str, Any]
    url: URL


def _param(name: str, tp: Any, default: Any, **marker: Any) -> inspect.Parameter:
    return inspect.Parameter(
        f"_page_{name}",
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[tp, Query(default, alias=name, **marker)],
    )


def _link(url: URL, **params: Any) -> str:
    return str(url.include_query_params(**params))


class Pagination:
    """The base of the paginations: its query parameters, its envelope, one page of rows."""

    #: The query parameters it reads.
    names: ClassVar[tuple[str, ...]] = ()
    #: Whether the client's ``ordering`` may change the order (a cursor needs a fixed one).
    orderable: ClassVar[bool] = True
    #: The error answers of its own, for the document.
    responses: ClassVar[dict[int, str]] = {}

    def __init__(self, size: int = 20, max_size: int | None = None) -> None:
        if size < 1 or (max_size is not None and max_size < size):
            raise ConfigurationError(
                f"{type(self).__name__}(size={size}, max_size={max_size}): size is at least 1 "
                "and max_size at least size"
            )
        self.size = size
        self.max_size = max_size
        self.cap = max_size or size

    def bind(self, setting: int, where: str) -> None:
        """Apply the ``api_max_page_size`` setting: the cap is the smaller of the two."""
        self.cap = min(self.max_size or setting, setting)
        self.size = min(self.size, self.cap)
        self.where = where

    def parameters(self) -> list[inspect.Parameter]:
        """The handler parameters that read its query string."""
        raise NotImplementedError

    def envelope(self, name: str, item: type[BaseModel]) -> type[BaseModel]:
        """The pydantic model of one page (for the document)."""
        raise NotImplementedError

    async def page(
        self, session: Any, request: PageRequest, serialize: Serialize
    ) -> dict[str, Any]:
        """The page's JSON body."""
        raise NotImplementedError


async def _count(session: Any, stmt: sa.Select[Any]) -> int:
    counted = sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())
    return int(await session.scalar(counted) or 0)


class PageNumberPagination(Pagination):
    """``?page=2&page_size=20``: numbered pages with a total.

    The count runs first; a page past the last is a 404 without an ``OFFSET``
    scan. The envelope is ``{"items", "count", "page", "pages", "next", "previous"}``.

    Example:
        >>> api.resource(Post, pagination=PageNumberPagination(size=20, max_size=50))
    """

    names = ("page", "page_size")
    responses: ClassVar[dict[int, str]] = {404: "The page is past the last one"}

    def parameters(self) -> list[inspect.Parameter]:
        return [
            _param("page", int, 1, ge=1, description="The page, from 1"),
            _param(
                "page_size",
                int,
                self.size,
                ge=1,
                le=self.cap,
                description=f"Items a page, at most {self.cap}",
            ),
        ]

    def envelope(self, name: str, item: type[BaseModel]) -> type[BaseModel]:
        return create_model(
            name,
            items=(list[item], ...),  # type: ignore[valid-type]
            count=(int, ...),
            page=(int, ...),
            pages=(int, ...),
            next=(str | None, ...),
            previous=(str | None, ...),
        )

    async def page(
        self, session: Any, request: PageRequest, serialize: Serialize
    ) -> dict[str, Any]:
        page = request.values["page"]
        size = request.values["page_size"]
        total = await _count(session, request.stmt)
        pages = max(1, -(-total // size))
        if page > pages:
            raise HTTPException(404, f"Page {page} does not exist: there are {pages}")
        rows = await session.scalars(request.stmt.limit(size).offset((page - 1) * size))
        url = request.url
        return {
            "items": [serialize(row) for row in rows],
            "count": total,
            "page": page,
            "pages": pages,
            "next": _link(url, page=page + 1, page_size=size) if page < pages else None,
            "previous": _link(url, page=page - 1, page_size=size) if page > 1 else None,
        }


class LimitOffsetPagination(Pagination):
    """``?limit=20&offset=40``: any window of the list, with a total.

    An offset past the end gives an empty page (without a query for the rows).

    Example:
        >>> api.resource(Post, pagination=LimitOffsetPagination(size=20))
    """

    names = ("limit", "offset")

    def parameters(self) -> list[inspect.Parameter]:
        return [
            _param(
                "limit",
                int,
                self.size,
                ge=1,
                le=self.cap,
                description=f"Items to return, at most {self.cap}",
            ),
            _param("offset", int, 0, ge=0, description="Items to skip"),
        ]

    def envelope(self, name: str, item: type[BaseModel]) -> type[BaseModel]:
        return create_model(
            name,
            items=(list[item], ...),  # type: ignore[valid-type]
            count=(int, ...),
            limit=(int, ...),
            offset=(int, ...),
            next=(str | None, ...),
            previous=(str | None, ...),
        )

    async def page(
        self, session: Any, request: PageRequest, serialize: Serialize
    ) -> dict[str, Any]:
        limit, offset = request.values["limit"], request.values["offset"]
        total = await _count(session, request.stmt)
        items: list[dict[str, Any]] = []
        if offset < total:
            rows = await session.scalars(request.stmt.limit(limit).offset(offset))
            items = [serialize(row) for row in rows]
        url = request.url
        back = max(0, offset - limit)
        return {
            "items": items,
            "count": total,
            "limit": limit,
            "offset": offset,
            "next": _link(url, limit=limit, offset=offset + limit)
            if offset + limit < total
            else None,
            "previous": _link(url, limit=limit, offset=back) if offset > 0 else None,
        }


class CursorPagination(Pagination):
    """``?cursor=...``: stable pages over a list that changes, without counts or offsets.

    The order is the resource's default ordering (the client's ``ordering`` is
    not read), on columns that are never null, with the primary key last. The
    cursor holds the last row's values, signed with the app's secret key; one
    that does not verify is a 400. The envelope is ``{"items", "next", "previous"}``.

    Example:
        >>> api.resource(Post, ordering=["created_at"], default_ordering=["-created_at"],
        ...              pagination=CursorPagination(size=20))
    """

    names = ("cursor", "page_size")
    orderable = False

    def __init__(self, size: int = 20, max_size: int | None = None) -> None:
        super().__init__(size, max_size)
        self.signer: Signer | None = None

    def bind_signer(self, signer: Signer) -> None:
        """The signer of this resource's cursors (made from the app's settings at build)."""
        self.signer = signer

    def parameters(self) -> list[inspect.Parameter]:
        return [
            _param(
                "cursor",
                str | None,
                None,
                max_length=MAX_CURSOR_LENGTH,
                description="From the next or previous link",
            ),
            _param(
                "page_size",
                int,
                self.size,
                ge=1,
                le=self.cap,
                description=f"Items a page, at most {self.cap}",
            ),
        ]

    def envelope(self, name: str, item: type[BaseModel]) -> type[BaseModel]:
        return create_model(
            name,
            items=(list[item], ...),  # type: ignore[valid-type]
            next=(str | None, ...),
            previous=(str | None, ...),
        )

    def check_ordering(self, ordering: Ordering, where: str) -> None:
        """Cursor columns must never be null (a keyset cannot step over nulls)."""
        for column, _ in ordering:
            if column.nullable:
                raise ConfigurationError(
                    f"{where}: CursorPagination orders by {column.key!r}, which may be null; "
                    "order by columns that are never null"
                )

    def _encode(self, values: list[Any], backwards: bool) -> str:
        if self.signer is None:
            raise ConfigurationError("CursorPagination used before the app was built")
        payload = {
            "v": [_ANY.dump_python(v, mode="json") for v in values],
            "b": backwards,
        }
        return base64.urlsafe_b64encode(self.signer.dumps(payload).encode()).decode().rstrip("=")

    def _decode(self, cursor: str, ordering: Ordering) -> tuple[list[Any], bool]:
        if self.signer is None:
            raise ConfigurationError("CursorPagination used before the app was built")
        try:
            signed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            payload = self.signer.loads(signed)
        except (BadSignature, ValueError, UnicodeDecodeError):
            raise _bad_cursor() from None
        raw = payload.get("v") if isinstance(payload, dict) else None
        if not isinstance(raw, list) or len(raw) != len(ordering):
            raise _bad_cursor()
        values = []
        for value, (column, _) in zip(raw, ordering, strict=True):
            python, _bounds = column_type(column)
            try:
                values.append(pydantic.TypeAdapter(python).validate_python(value))
            except pydantic.ValidationError:
                raise _bad_cursor() from None
        return values, bool(payload.get("b"))

    async def page(
        self, session: Any, request: PageRequest, serialize: Serialize
    ) -> dict[str, Any]:
        size = request.values["page_size"]
        ordering = list(request.ordering)
        cursor = request.values["cursor"]
        stmt = request.stmt
        backwards = False
        if cursor:
            values, backwards = self._decode(cursor, ordering)
            stmt = stmt.where(_after(ordering, values, backwards))
        directions = [(column, desc != backwards) for column, desc in ordering]
        stmt = stmt.order_by(None).order_by(
            *(column.desc() if desc else column.asc() for column, desc in directions)
        )
        rows = list(await session.scalars(stmt.limit(size + 1)))
        more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()
        keys = [column.key for column, _ in ordering]

        def values_of(row: Any) -> list[Any]:
            return [getattr(row, key) for key in keys]

        url = request.url
        has_next = (more and not backwards) or (backwards and bool(rows))
        has_previous = (bool(cursor) and not backwards and bool(rows)) or (backwards and more)
        return {
            "items": [serialize(row) for row in rows],
            "next": _link(url, cursor=self._encode(values_of(rows[-1]), False), page_size=size)
            if has_next and rows
            else None,
            "previous": _link(url, cursor=self._encode(values_of(rows[0]), True), page_size=size)
            if has_previous and rows
            else None,
        }


def _after(ordering: Ordering, values: list[Any], backwards: bool) -> Any:
    """Rows strictly after (or before) ``values`` in this ordering: a keyset condition."""
    ors = []
    for index, (column, desc) in enumerate(ordering):
        ands = [ordering[i][0] == values[i] for i in range(index)]
        later = (column < values[index]) if (desc != backwards) else (column > values[index])
        ors.append(sa.and_(*ands, later))
    return sa.or_(*ors)


def _bad_cursor() -> InvalidFields:
    return InvalidFields(
        400,
        "The cursor is not one this list made (it is signed): use the next or previous link "
        "of a page",
        [FieldError(["query", "cursor"], "Invalid cursor", "invalid_cursor")],
    )
