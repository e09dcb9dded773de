"""The list page's query: search, filters, sorting and pagination, built from the URL.

Pagination never counts a large table. When the table is small (the
database's estimate, then a count bounded by ``count_limit``) the page has
numbers and a total; when it is large it has "previous" and "next" only, by
keyset (``WHERE (sort, pk) > (last row's)``) when every sort column is a
non-null column of the model, else by offset, fetching one row more than the
page to know whether a next one exists.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Select, and_, false, or_
from sqlalchemy.orm import Session, selectinload

from carboy.admin._counts import bounded_count, estimate_rows
from carboy.admin._filters import FieldFilter, make_filter
from carboy.admin._meta import FieldInfo, Kind, read_model
from carboy.exceptions import HTTPException

if TYPE_CHECKING:
    from carboy.admin._options import Column, ModelAdmin
    from carboy.datastructures import QueryParams

#: Query parameters of the list page itself (filters use the field names).
RESERVED = frozenset({"q", "o", "p", "after", "before"})
#: The longest search text taken.
MAX_SEARCH = 200
#: The most page numbers linked.
MAX_PAGE_LINKS = 9


@dataclass(slots=True)
class SortKey:
    """One column of the ORDER BY."""

    name: str
    info: FieldInfo
    descending: bool

    @property
    def expression(self) -> Any:
        column = self.info.column
        return column.desc() if self.descending else column.asc()  # type: ignore[union-attr]


@dataclass(slots=True)
class Page:
    """One page of the list, and how to reach the others.

    Attributes:
        objects: The objects on this page.
        total: Rows matching the search and filters, when counted (small tables).
        estimate: The table's estimated rows, when too many to count.
        number: The page number (offset pagination), from 1.
        pages: How many pages (when counted).
        next_url, prev_url: Links to the neighbouring pages, or None.
        page_links: ``(number or None, url)`` for numbered pagination (None: a gap).
        keyset: Pages are reached by keyset.
    """

    objects: list[Any]
    total: int | None
    estimate: int | None
    number: int
    pages: int | None
    next_url: str | None = None
    prev_url: str | None = None
    page_links: list[tuple[int | None, str]] = field(default_factory=list)
    keyset: bool = False


@dataclass(slots=True)
class ChangeList:
    """The list page's state read from the query string, and its statement."""

    admin: ModelAdmin
    params: dict[str, list[str]]
    search: str
    sort: list[SortKey]
    filters: list[tuple[FieldFilter, str | None]]
    columns: list[Column]

    def url(self, **changes: str | None) -> str:
        """The query string of this list with ``changes`` (None drops a parameter)."""
        params = {k: list(v) for k, v in self.params.items()}
        for key, value in changes.items():
            params.pop(key, None)
            if value is not None:
                params[key] = [value]
        pairs = [(k, v) for k, values in params.items() for v in values]
        return "?" + urlencode(pairs) if pairs else "?"

    def page_url(self, **changes: str | None) -> str:
        """:meth:`url` without the page position (a new search, sort or filter)."""
        return self.url(p=None, after=None, before=None, **changes)

    def sort_url(self, column: Column) -> str | None:
        """The link of a column header: sort by it, or flip its direction."""
        if column.order_by is None:
            return None
        name = column.order_by.lstrip("-")
        first = self.sort[0] if self.sort else None
        if first is not None and first.name == name:
            return self.page_url(o=name if first.descending else f"-{name}")
        return self.page_url(o=name)

    def sorted_as(self, column: Column) -> str | None:
        """``"ascending"`` / ``"descending"`` when the list is sorted by ``column`` first."""
        if column.order_by is None or not self.sort:
            return None
        first = self.sort[0]
        if first.name != column.order_by.lstrip("-"):
            return None
        return "descending" if first.descending else "ascending"

    @property
    def is_filtered(self) -> bool:
        """A search or a filter narrows the list."""
        return bool(self.search) or any(value is not None for _, value in self.filters)

    def statement(self, base: Select[Any]) -> Select[Any]:
        """``base`` searched and filtered (not yet sorted)."""
        stmt = base
        if self.search:
            stmt = stmt.where(search_condition(self.admin, self.search))
        for flt, value in self.filters:
            if value is not None:
                stmt = flt.apply(stmt, value)
        return stmt


def read_changelist(
    admin: ModelAdmin, query: QueryParams, filters: list[FieldFilter]
) -> ChangeList:
    """The list's search, sort and filters from the query string; a 400 for bad ones."""
    params: dict[str, list[str]] = {}
    for key in query:
        params[key] = list(query.getlist(key))
    search = (query.get("q") or "").strip()
    if len(search) > MAX_SEARCH:
        raise HTTPException(400, f"The search is at most {MAX_SEARCH} characters")
    columns = admin.columns()
    sort = _read_sort(admin, query.get("o"), columns)
    known = {f.param: f for f in filters}
    for key in params:
        if key not in RESERVED and key not in known:
            raise HTTPException(400, f"The list of {admin.name_plural} has no filter {key[:40]!r}")
    chosen = [(f, query.get(f.param) if f.param in params else None) for f in filters]
    return ChangeList(admin, params, search, sort, chosen, columns)


def _read_sort(admin: ModelAdmin, raw: str | None, columns: list[Column]) -> list[SortKey]:
    names = [p for p in (raw or "").split(",") if p] if raw else admin.get_ordering()
    sortable = {c.order_by.lstrip("-") for c in columns if c.order_by}
    keys: list[SortKey] = []
    for name in names:
        descending = name.startswith("-")
        bare = name.lstrip("-")
        info = admin.info.fields.get(bare)
        if raw and bare not in sortable and bare != admin.info.pk_name:
            raise HTTPException(
                400, f"The list of {admin.name_plural} cannot be sorted by {bare[:40]!r}"
            )
        if info is None or info.column is None:
            raise HTTPException(400, f"{bare[:40]!r} is not a field of {admin.model.__name__}")
        keys.append(SortKey(bare, info, descending))
    pk = admin.info.pk_name
    if not any(k.name == pk for k in keys):
        # The key last: a total order, so pages never repeat or skip a row.
        descending = keys[-1].descending if keys else True
        keys.append(SortKey(pk, admin.info.fields[pk], descending))
    return keys


def search_condition(admin: ModelAdmin, text: str) -> ColumnElement[bool]:
    """Every word of ``text`` in one of the search fields (Django's rule)."""
    fields = admin.get_search_fields()
    if not fields:
        return and_(True)
    conditions = []
    for word in text.split():
        alternatives = []
        for entry in fields:
            mode, name = (entry[0], entry[1:]) if entry[:1] in "^=" else ("", entry)
            column = admin.info.fields[name].column
            if column is None:
                continue
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            if mode == "=":
                alternatives.append(column == word)
            elif mode == "^":
                alternatives.append(column.ilike(f"{escaped}%", escape="\\"))
            else:
                alternatives.append(column.ilike(f"%{escaped}%", escape="\\"))
        conditions.append(or_(*alternatives) if alternatives else false())
    return and_(*conditions)


# -- cursors ----------------------------------------------------------------------------
def _encode_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if hasattr(value, "name") and hasattr(value, "value"):  # an Enum member
        return value.name
    return value


def _decode_value(info: FieldInfo, value: Any) -> Any:
    kind = info.kind
    if kind is Kind.DATETIME:
        moment = dt.datetime.fromisoformat(str(value))
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    if kind is Kind.DATE:
        return dt.date.fromisoformat(str(value))
    if kind is Kind.TIME:
        return dt.time.fromisoformat(str(value))
    if kind is Kind.DECIMAL:
        return decimal.Decimal(str(value))
    if kind is Kind.UUID:
        return uuid.UUID(str(value))
    if kind is Kind.CHOICE and info.enum is not None:
        return info.enum[str(value)]
    if kind in (Kind.INTEGER, Kind.FOREIGN_KEY) and not isinstance(value, int):
        raise ValueError("not a number")
    if kind in (Kind.TEXT, Kind.LONGTEXT) and not isinstance(value, str):
        raise ValueError("not text")
    return value


def encode_cursor(keys: list[SortKey], obj: Any) -> str:
    """The position after (or before) ``obj`` in this order, as URL-safe text."""
    values = [_encode_value(getattr(obj, k.name)) for k in keys]
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(keys: list[SortKey], token: str) -> list[Any]:
    """The values of a cursor; a 400 for one this order cannot have made."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError("wrong length")
        return [_decode_value(k.info, v) for k, v in zip(keys, values, strict=True)]
    except (ValueError, TypeError, KeyError, binascii.Error, decimal.InvalidOperation):
        raise HTTPException(
            400, "This page link is not valid (the list changed?): start again"
        ) from None


def _column(key: SortKey) -> Any:
    return key.info.column


def _after(keys: list[SortKey], values: list[Any], forward: bool) -> ColumnElement[bool]:
    """Rows after ``values`` in the order of ``keys`` (before them when not ``forward``)."""
    ors = []
    for i, key in enumerate(keys):
        column: Any = key.info.column
        equal = [_column(keys[j]) == values[j] for j in range(i)]
        beyond = (column < values[i]) if key.descending == forward else (column > values[i])
        ors.append(and_(*equal, beyond))
    return or_(*ors)


def keyset_possible(keys: list[SortKey]) -> bool:
    """Every sort column is a non-null column: rows compare with ``<`` and ``>``."""
    return all(
        k.info.column is not None and not k.info.column.nullable and k.info.kind is not Kind.OTHER
        for k in keys
    )


def _eager(admin: ModelAdmin, columns: list[Column]) -> list[Any]:
    options = []
    for column in columns:
        info = column.field
        if (
            info is not None
            and info.relation
            and info.kind in (Kind.FOREIGN_KEY, Kind.MANY_TO_MANY)
        ):
            options.append(selectinload(getattr(admin.model, info.relation)))
    return options


def fetch_page(
    session: Session,
    changelist: ChangeList,
    base: Select[Any],
    *,
    per_page: int,
    count_limit: int,
    query: QueryParams,
) -> Page:
    """The rows of the requested page, counted only when that is cheap."""
    admin = changelist.admin
    stmt = changelist.statement(base).options(*_eager(admin, changelist.columns))
    keys = changelist.sort
    estimate = estimate_rows(session, admin.info)
    total: int | None = None
    if estimate is None or estimate <= count_limit:
        counted = bounded_count(session, changelist.statement(base), count_limit)
        if counted <= count_limit:
            total = counted
    if total is not None:
        return _numbered(session, changelist, stmt, keys, total, per_page, query)
    big = estimate if estimate is not None and not changelist.is_filtered else None
    if keyset_possible(keys):
        return _by_keyset(session, changelist, stmt, keys, per_page, query, big)
    return _by_offset(session, changelist, stmt, keys, per_page, query, big)


def _page_number(query: QueryParams) -> int:
    raw = query.get("p") or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        raise HTTPException(400, f"Page {raw[:20]!r} is not a page number")
    return int(raw)


def _numbered(
    session: Session,
    changelist: ChangeList,
    stmt: Select[Any],
    keys: list[SortKey],
    total: int,
    per_page: int,
    query: QueryParams,
) -> Page:
    number = _page_number(query)
    pages = max(1, -(-total // per_page))
    if number > pages:
        raise HTTPException(404, f"Page {number} does not exist: there are {pages}")
    rows = session.scalars(
        stmt.order_by(*[k.expression for k in keys]).limit(per_page).offset((number - 1) * per_page)
    ).all()
    links: list[tuple[int | None, str]] = []
    if pages > 1:
        shown = sorted({1, pages, *range(max(1, number - 3), min(pages, number + 3) + 1)})[
            : MAX_PAGE_LINKS + 2
        ]
        previous = 0
        for n in shown:
            if n - previous > 1:
                links.append((None, ""))
            links.append((n, changelist.url(p=str(n))))
            previous = n
    return Page(
        list(rows),
        total,
        None,
        number,
        pages,
        next_url=changelist.url(p=str(number + 1)) if number < pages else None,
        prev_url=changelist.url(p=str(number - 1)) if number > 1 else None,
        page_links=links,
    )


def _by_keyset(
    session: Session,
    changelist: ChangeList,
    stmt: Select[Any],
    keys: list[SortKey],
    per_page: int,
    query: QueryParams,
    estimate: int | None,
) -> Page:
    after, before = query.get("after"), query.get("before")
    if after and before:
        raise HTTPException(400, "A page link has 'after' or 'before', not both")
    forward = before is None
    if after:
        stmt = stmt.where(_after(keys, decode_cursor(keys, after), True))
    if before:
        stmt = stmt.where(_after(keys, decode_cursor(keys, before), False))
    order = (
        [k.expression for k in keys]
        if forward
        else [
            (k.info.column.asc() if k.descending else k.info.column.desc())  # type: ignore[union-attr]
            for k in keys
        ]
    )
    rows = list(session.scalars(stmt.order_by(*order).limit(per_page + 1)).all())
    more = len(rows) > per_page
    rows = rows[:per_page]
    if not forward:
        rows.reverse()
    has_next = more if forward else True
    has_prev = bool(after) if forward else more
    next_url = prev_url = None
    if rows and has_next:
        next_url = changelist.url(after=encode_cursor(keys, rows[-1]), before=None, p=None)
    if rows and has_prev:
        prev_url = changelist.url(before=encode_cursor(keys, rows[0]), after=None, p=None)
    if not rows and before is not None:
        prev_url = None
    return Page(rows, None, estimate, 1, None, next_url, prev_url, keyset=True)


def _by_offset(
    session: Session,
    changelist: ChangeList,
    stmt: Select[Any],
    keys: list[SortKey],
    per_page: int,
    query: QueryParams,
    estimate: int | None,
) -> Page:
    number = _page_number(query)
    rows = list(
        session.scalars(
            stmt.order_by(*[k.expression for k in keys])
            .limit(per_page + 1)
            .offset((number - 1) * per_page)
        ).all()
    )
    more = len(rows) > per_page
    return Page(
        rows[:per_page],
        None,
        estimate,
        number,
        None,
        next_url=changelist.url(p=str(number + 1)) if more else None,
        prev_url=changelist.url(p=str(number - 1)) if number > 1 else None,
    )


def build_filters(admin: ModelAdmin) -> list[FieldFilter]:
    """The list page's filters, from ``list_filter``."""
    found = []
    for name in admin.get_list_filter():
        info = admin.info.fields[name]
        target_pk = read_model(info.target).pk_value if info.target is not None else None
        found.append(make_filter(info, target_pk))
    return found
