"""The admin's reading pages: the dashboard and its chart, the list, CSV export,
autocomplete and history. The writing pages are in ``_editing``.

Each handler is ``async``: it checks the permission, then does its database
work in one ``AsyncSession.run_sync`` call, where ORM attributes load as
they do in any sync code (computed columns may follow relations).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carboy.admin._changelist import (
    build_filters,
    fetch_page,
    read_changelist,
    search_condition,
)
from carboy.admin._counts import table_size
from carboy.admin._csv import header_line, row_line
from carboy.admin._editing import EditViews
from carboy.admin._form import display_text, value_text
from carboy.admin._meta import Kind, read_model
from carboy.admin._site import (
    CSRF,
    base_context,
    model_admin_for,
    object_url,
    pick_template,
    pk_text,
    require,
    template_names,
)
from carboy.admin.models import LogEntry
from carboy.db import AsyncSession
from carboy.exceptions import HTTPException
from carboy.requests import Request
from carboy.responses import JSONResponse, StreamingResponse
from carboy.templating import TemplateResponse, render

if TYPE_CHECKING:
    from carboy.admin._options import Column
    from carboy.admin._site import Admin
    from carboy.modules import Module

#: Days the dashboard's chart covers.
CHART_DAYS = 30
#: History entries on the dashboard.
RECENT = 10
#: Rows fetched per round trip by the CSV export.
EXPORT_BATCH = 1000
#: Results an autocomplete shows.
AUTOCOMPLETE_RESULTS = 20


def add_routes(site: Admin, module: Module) -> None:
    """Add the admin's pages to its module."""
    reading = ReadViews(site)
    editing = EditViews(site)
    module.get("/", name="index")(reading.index)
    module.get("/chart", name="chart")(reading.chart)
    module.get("/{label}/{model}/", name="changelist")(reading.changelist)
    module.get("/{label}/{model}/export.csv", name="export")(reading.export)
    module.get("/{label}/{model}/autocomplete", name="autocomplete")(reading.autocomplete)
    module.post("/{label}/{model}/action", name="action", extra=CSRF)(editing.action)
    module.get("/{label}/{model}/add", name="add")(editing.add_form)
    module.post("/{label}/{model}/add", name="add_submit", extra=CSRF)(editing.add_submit)
    module.get("/{label}/{model}/{pk}/change", name="change")(editing.change_form)
    module.post("/{label}/{model}/{pk}/change", name="change_submit", extra=CSRF)(
        editing.change_submit
    )
    module.get("/{label}/{model}/{pk}/delete", name="delete")(editing.delete_form)
    module.post("/{label}/{model}/{pk}/delete", name="delete_submit", extra=CSRF)(
        editing.delete_submit
    )
    module.get("/{label}/{model}/{pk}/history", name="history")(reading.history)


@dataclass(slots=True)
class Cell:
    """One cell of the list: its text (or a yes/no mark) and its link."""

    text: str
    boolean: bool | None = None
    url: str | None = None


@dataclass(slots=True)
class Row:
    """One row of the list: the object's key and its cells."""

    pk: str
    cells: list[Cell]


@dataclass(slots=True)
class ModelCard:
    """One model on the dashboard."""

    name: str
    count: int
    exact: bool
    url: str | None
    add_url: str | None

    @property
    def count_text(self) -> str:
        if self.exact:
            return f"{self.count:,}"
        if self.count >= 1_000_000:
            return f"≈ {self.count / 1_000_000:.1f}M"
        if self.count >= 1_000:
            return f"≈ {self.count / 1_000:.0f}k"
        return f"≈ {self.count:,}"


def cell_text(value: Any, column: Column) -> Cell:
    """A list cell for ``value``."""
    if column.boolean or isinstance(value, bool):
        return Cell("Yes" if value else ("—" if value is None else "No"), boolean=value)
    if column.field is not None:
        return Cell(display_text(column.field, value) if value is not None else "—")
    if value is None:
        return Cell("—")
    return Cell(str(value) if not isinstance(value, dt.datetime) else value_text(value))


def export_value(value: Any, column: Column) -> Any:
    """A value as the CSV holds it: numbers and booleans as they are, a choice's label."""
    info = column.field
    if info is not None and info.kind is Kind.CHOICE and value is not None:
        return display_text(info, value)
    if value is not None and not isinstance(value, str | int | float | bool | dt.date):
        return str(value)
    return value


class ReadViews:
    """Handlers of the pages that read."""

    def __init__(self, site: Admin) -> None:
        self.site = site

    # -- dashboard ---------------------------------------------------------------------
    async def index(self, request: Request, session: AsyncSession) -> TemplateResponse:
        """The dashboard: each model with its count, the recent changes, the chart."""
        site = self.site
        viewable = [a for a in site.registry.values() if a.has_view_permission(request)]

        def load(sync: Session) -> tuple[list[tuple[str, list[ModelCard]]], list[Any]]:
            groups: dict[str, list[ModelCard]] = {}
            for admin in sorted(site.registry.values(), key=lambda a: a.key):
                can_view = admin.has_view_permission(request)
                can_add = admin.has_add_permission(request)
                if not (can_view or can_add):
                    continue
                count, exact = (
                    table_size(sync, admin.info, site.count_limit) if can_view else (0, True)
                )
                params = {"label": admin.label, "model": admin.model_name}
                groups.setdefault(admin.label.capitalize(), []).append(
                    ModelCard(
                        admin.name_plural.capitalize(),
                        count,
                        exact,
                        request.url_for("admin.changelist", **params) if can_view else None,
                        request.url_for("admin.add", **params) if can_add else None,
                    )
                )
            keys = [a.key for a in viewable]
            recent: list[Any] = []
            if keys:
                entries = sync.scalars(
                    select(LogEntry)
                    .where(LogEntry.model.in_(keys))
                    .order_by(LogEntry.id.desc())
                    .limit(RECENT)
                ).all()
                recent = [self._entry_view(request, entry) for entry in entries]
            return list(groups.items()), recent

        groups, recent = await session.run_sync(load)
        charted = [a for a in viewable if a.get_date_field()]
        context = base_context(
            site,
            request,
            None,
            site.title,
            groups=groups,
            recent=recent,
            chart_url=request.url_for("admin.chart") if charted else None,
        )
        return render(pick_template(request, ["admin/index.html"]), context)

    def _entry_view(self, request: Request, entry: LogEntry) -> dict[str, Any]:
        label, _, model = entry.model.partition(".")
        admin = self.site.registry.get((label, model))
        url = None
        if admin is not None and entry.kind.value != "delete":
            url = request.url_for(
                "admin.change", label=label, model=model, pk=quote(entry.object_id, safe="")
            )
        return {"entry": entry, "url": url, "model": admin.name if admin else entry.model}

    async def chart(self, request: Request, session: AsyncSession) -> JSONResponse:
        """Rows created per day over the last 30 days, per model the user may see."""
        admins = [
            a
            for a in self.site.registry.values()
            if a.has_view_permission(request) and a.get_date_field()
        ]
        today = dt.datetime.now(dt.UTC).date()
        start = today - dt.timedelta(days=CHART_DAYS - 1)
        days = [start + dt.timedelta(days=i) for i in range(CHART_DAYS)]

        def load(sync: Session) -> list[dict[str, Any]]:
            series = []
            for admin in sorted(admins, key=lambda a: a.key):
                name = admin.get_date_field()
                column = admin.info.fields[name].column if name else None
                if column is None:
                    continue
                since = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
                day = func.date(column)
                rows = sync.execute(
                    select(day, func.count()).where(column >= since).group_by(day)
                ).all()
                counts = {str(d)[:10]: int(n) for d, n in rows}
                series.append(
                    {
                        "name": admin.name_plural.capitalize(),
                        "counts": [counts.get(d.isoformat(), 0) for d in days],
                    }
                )
            return series

        series = await session.run_sync(load)
        return JSONResponse({"days": [d.isoformat() for d in days], "series": series})

    # -- the list ----------------------------------------------------------------------
    async def changelist(
        self, request: Request, session: AsyncSession, label: str, model: str
    ) -> TemplateResponse:
        """The list of a model's objects: search, filters, sorting, pages, actions."""
        site = self.site
        admin = model_admin_for(site, label, model)
        require(admin, request, "view")
        filters = build_filters(admin)
        changelist = read_changelist(admin, request.query_params, filters)
        links = set(admin.list_display_links or [changelist.columns[0].name])

        def load(sync: Session) -> dict[str, Any]:
            page = fetch_page(
                sync,
                changelist,
                admin.get_queryset(request),
                per_page=admin.per_page,
                count_limit=site.count_limit,
                query=request.query_params,
            )
            rows = []
            for obj in page.objects:
                pk = pk_text(obj)
                url = request.url_for(
                    "admin.change", label=label, model=model, pk=quote(pk, safe="")
                )
                cells = []
                for column in changelist.columns:
                    cell = cell_text(column.value(obj), column)
                    if column.name in links:
                        cell.url = url
                    cells.append(cell)
                rows.append(Row(pk, cells))
            filter_choices = [(flt, flt.choices(sync, value)) for flt, value in changelist.filters]
            return {"page": page, "rows": rows, "filter_choices": filter_choices}

        loaded = await session.run_sync(load)
        actions = [
            (name, admin.action_label(fn))
            for name, fn in admin.get_actions().items()
            if all(admin.has_permission(request, p) for p in getattr(fn, "allowed_permissions", ()))
        ]
        context = base_context(
            site,
            request,
            admin,
            admin.name_plural.capitalize(),
            cl=changelist,
            actions=actions,
            searchable=bool(admin.get_search_fields()),
            can_add=admin.has_add_permission(request),
            export_url=request.url_for("admin.export", label=label, model=model)
            + changelist.url(p=None, after=None, before=None).rstrip("?"),
            query=changelist.url(),
            **loaded,
        )
        names = template_names(admin, "change_list.html", admin.change_list_template)
        return render(pick_template(request, names), context)

    # -- CSV export --------------------------------------------------------------------
    async def export(
        self, request: Request, session: AsyncSession, label: str, model: str
    ) -> StreamingResponse:
        """The searched and filtered list as CSV, every row (streamed in batches)."""
        admin = model_admin_for(self.site, label, model)
        require(admin, request, "view")
        changelist = read_changelist(admin, request.query_params, build_filters(admin))
        columns = changelist.columns
        base = changelist.statement(admin.get_queryset(request))
        pk = admin.info.pk
        database = self.site.database

        def batch(sync: Session, after: Any) -> tuple[list[list[Any]], Any]:
            stmt = base.order_by(pk).limit(EXPORT_BATCH)
            if after is not None:
                stmt = stmt.where(pk > after)
            objects = sync.scalars(stmt).all()
            rows = [
                [export_value(column.value(obj), column) for column in columns] for obj in objects
            ]
            last = getattr(objects[-1], admin.info.pk_name) if objects else None
            return rows, last

        async def rows() -> AsyncIterator[list[Any]]:
            async with database.async_session() as own:
                after: Any = None
                while True:
                    found, after = await own.run_sync(batch, after)
                    for row in found:
                        yield row
                    if len(found) < EXPORT_BATCH:
                        return

        async def body() -> AsyncIterator[bytes]:
            yield header_line([column.label for column in columns])
            async for row in rows():
                yield row_line(row)

        filename = f"{admin.model_name}-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.csv"
        return StreamingResponse(
            body(),
            media_type="text/csv; charset=utf-8",
            headers={
                "content-disposition": f'attachment; filename="{filename}"',
                "x-content-type-options": "nosniff",
            },
        )

    # -- autocomplete ------------------------------------------------------------------
    async def autocomplete(
        self, request: Request, session: AsyncSession, label: str, model: str, q: str = ""
    ) -> TemplateResponse:
        """Objects matching ``q``, as options for an autocomplete field (an htmx fragment)."""
        admin = model_admin_for(self.site, label, model)
        require(admin, request, "view")
        text = q.strip()[:200]
        field = request.query_params.get("field") or ""
        if not field.replace("-", "").replace("_", "").isalnum():
            raise HTTPException(400, "autocomplete needs the field's name (field=...)")

        def load(sync: Session) -> list[tuple[str, str]]:
            stmt = admin.get_queryset(request)
            if text:
                stmt = stmt.where(search_condition(admin, text))
            objects = sync.scalars(stmt.order_by(admin.info.pk).limit(AUTOCOMPLETE_RESULTS)).all()
            return [(pk_text(obj), str(obj)) for obj in objects]

        results = await session.run_sync(load)
        return render("admin/autocomplete.html", {"results": results, "field": field, "q": text})

    # -- history -----------------------------------------------------------------------
    async def history(
        self, request: Request, session: AsyncSession, label: str, model: str, pk: str
    ) -> TemplateResponse:
        """Who changed the object, when, and which fields from what to what."""
        site = self.site
        admin = model_admin_for(site, label, model)
        key = _pk_parser(admin.model)(pk)

        def load(sync: Session) -> tuple[Any, list[LogEntry]]:
            obj = sync.scalars(admin.get_queryset(request).where(admin.info.pk == key)).first()
            if obj is not None:
                require(admin, request, "view", obj)
            else:
                require(admin, request, "view")
            entries = sync.scalars(
                select(LogEntry)
                .where(LogEntry.model == admin.key, LogEntry.object_id == pk)
                .order_by(LogEntry.id.desc())
                .limit(500)
            ).all()
            if obj is None and not entries:
                raise HTTPException(404, f"No {admin.name} has the key {pk[:40]!r}")
            return obj, list(entries)

        obj, entries = await session.run_sync(load)
        name = str(obj) if obj is not None else (entries[0].object_repr if entries else pk)
        context = base_context(
            site,
            request,
            admin,
            f"History: {name}",
            obj=obj,
            object_name=name,
            entries=entries,
            change_url=object_url(site, request, obj) if obj is not None else None,
        )
        names = template_names(admin, "history.html", admin.history_template)
        return render(pick_template(request, names), context)


def _pk_parser(model: type | None) -> Any:
    """A function turning URL text into ``model``'s primary key (a 404 when it cannot be one)."""
    if model is None:
        return None
    info = read_model(model)

    def parse(text: str) -> Any:
        try:
            return info.pk_value(text)
        except ValueError:
            raise HTTPException(404, f"No {model.__name__} has the key {text[:40]!r}") from None

    return parse
