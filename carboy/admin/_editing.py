"""The admin's writing pages: add, change (with inlines and the conflict check),
delete with what it cascades to, and bulk actions with their confirmation.

Every POST checks the user's permission again, whatever the page showed:
a view-only user's forged POST is a 403 and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session

from carboy.admin._deletion import DeletePlan, collect
from carboy.admin._form import (
    VERSION_FIELD,
    AutocompleteSelect,
    admin_form_class,
    changed_since,
    current_values,
    display_text,
    version_of,
)
from carboy.admin._meta import Kind
from carboy.admin._site import (
    back_query,
    base_context,
    log,
    model_admin_for,
    object_url,
    pick_template,
    pk_text,
    require,
    template_names,
)
from carboy.admin.models import ChangeKind
from carboy.db import AsyncSession
from carboy.exceptions import HTTPException, InvalidFields
from carboy.forms import FormSet, model_form
from carboy.requests import Request
from carboy.responses import RedirectResponse, Response
from carboy.templating import render

if TYPE_CHECKING:
    from carboy.admin._options import Inline, ModelAdmin
    from carboy.admin._site import Admin
    from carboy.datastructures import FormData

#: Most objects one bulk action takes.
MAX_SELECTED = 10_000


def _storage(request: Request) -> Any:
    from carboy.forms import Forms

    return request.app.get_module(Forms).storage


async def _discard(request: Request, stored: list[str]) -> None:
    """Remove the files stored for a save that did not happen."""
    if stored:
        storage = _storage(request)
        for name in stored:
            await storage.delete(name)


def _inline_errors(tables: list[InlineTable]) -> bool:
    return any(
        t.can_change and t.formset.is_bound and (t.stale or not t.formset.is_valid) for t in tables
    )


def _sync(session: AsyncSession) -> Session:
    return session.sync_session


def _flash(request: Request, message: str, category: str = "success") -> None:
    from carboy.auth import flash

    flash(request, message, category)


@dataclass(slots=True)
class InlineTable:
    """The children of one inline on the page: a carboy.forms formset, one form per row.

    Attributes:
        admin: The inline's admin (the child model's).
        formset: The rows' forms: the existing children, then blank ones for new rows.
        keys: The existing children's keys, in the order of their forms; each row
            carries its key, so a row never lands on another child when the list
            changed since the page was drawn (``stale``).
    """

    admin: Inline
    formset: FormSet[Any]
    keys: list[str]
    can_add: bool = False
    can_change: bool = False
    can_delete: bool = False
    stale: bool = False

    @property
    def headers(self) -> list[str]:
        forms = self.formset.forms
        if not forms:
            return []
        return [field.label for field in forms[0] if not field.is_hidden]


class EditViews:
    """Handlers of the pages that write."""

    def __init__(self, site: Admin) -> None:
        self.site = site
        self._form_classes: dict[tuple[str, bool], Any] = {}
        self._inline_classes: dict[tuple[str, str], Any] = {}

    # -- helpers -------------------------------------------------------------------------
    def _autocomplete(self, request: Request, admin: ModelAdmin) -> dict[str, str]:
        found = {}
        for name in admin.autocomplete_fields:
            info = admin.info.fields.get(name)
            target = self.site.admin_for(info.target) if info and info.target else None
            if target is not None:
                found[name] = request.url_for(
                    "admin.autocomplete", label=target.label, model=target.model_name
                )
        return found

    def _inline_form(self, inline: Inline) -> Any:
        key = (inline.key, "inline")
        if key not in self._inline_classes:
            names = [n for n in inline.get_fields() if n in inline.info.fields]
            readonly = [
                n
                for n in names
                if n in inline.readonly_fields or not inline.info.fields[n].editable
            ]
            self._inline_classes[key] = model_form(
                inline.model,
                include=names,
                readonly=readonly,
                labels={n: inline.info.fields[n].label for n in names},
            )
        return self._inline_classes[key]

    def _inlines(
        self, request: Request, admin: ModelAdmin, sync: Session, obj: Any, data: FormData | None
    ) -> list[InlineTable]:
        tables = []
        for inline in admin.inline_admins:
            if not inline.has_view_permission(request):
                continue
            can_change = inline.has_change_permission(request)
            can_add = can_change and inline.has_add_permission(request)
            can_delete = can_change and inline.has_delete_permission(request)
            children: list[Any] = []
            if obj is not None:
                fk_column: Any = inline.info.fields[inline.fk].column
                children = list(
                    sync.scalars(
                        select(inline.model)
                        .where(fk_column == getattr(obj, admin.info.pk_name))
                        .order_by(inline.info.pk)
                        .limit(inline.max_num)
                    ).all()
                )
            # A submission without this inline's row counts leaves its rows alone.
            sent = data if data is not None and f"{inline.prefix}-TOTAL_FORMS" in data else None
            formset: FormSet[Any] = FormSet(
                self._inline_form(inline),
                sent,
                prefix=inline.prefix,
                instances=children,
                extra=inline.extra if can_add else 0,
                # Without "add", no form beyond the existing rows is ever built.
                max_num=len(children) + (inline.max_num if can_add else 0),
                can_delete=can_delete,
                request=request,
                readonly=not can_change,
            )
            for form in formset:
                form.load(sync)
            keys = [pk_text(child) for child in children]
            table = InlineTable(inline, formset, keys, can_add, can_change, can_delete)
            if sent is not None and can_change:
                table.stale = [
                    sent.get(f"{inline.prefix}-{i}-id") for i in range(len(keys))
                ] != keys
                if table.stale:
                    formset.non_form_errors.append(
                        f"The {inline.name_plural} changed since the page was drawn: "
                        "reload it and make your changes again."
                    )
            tables.append(table)
        return tables

    def _save_inlines(
        self, sync: Session, admin: ModelAdmin, obj: Any, tables: list[InlineTable]
    ) -> tuple[bool, list[str]]:
        """Write the inline rows the user may change: ``(ok, notes for the history)``."""
        notes: list[str] = []
        parent_key = getattr(obj, admin.info.pk_name)
        for table in tables:
            if not table.can_change or not table.formset.is_bound:
                continue
            formset, inline = table.formset, table.admin
            active = {id(f) for f in formset.active_forms}
            added = [
                f for i, f in enumerate(formset.forms) if formset.is_extra(i) and id(f) in active
            ]
            changed = [
                f
                for i, f in enumerate(formset.forms)
                if not formset.is_extra(i) and id(f) in active and formset.has_changed(f)
            ]
            deleted = [str(f.instance) for f in formset.deleted_forms]
            if formset.save(sync, **{inline.fk: parent_key}) is None:
                return False, notes
            notes.extend(f"Added {inline.name} “{f.instance}”." for f in added)
            notes.extend(f"Changed {inline.name} “{f.instance}”." for f in changed)
            notes.extend(f"Deleted {inline.name} “{name}”." for name in deleted)
        return True, notes

    def _page(
        self,
        request: Request,
        admin: ModelAdmin,
        form: Any,
        *,
        obj: Any,
        inlines: list[InlineTable],
        title: str,
        editable: bool,
        version: str = "",
        conflict: list[dict[str, str]] | None = None,
        status_code: int = 200,
    ) -> Response:
        params = {"label": admin.label, "model": admin.model_name}
        pk = quote(pk_text(obj), safe="") if obj is not None else None
        context = base_context(
            self.site,
            request,
            admin,
            title,
            form=form,
            file_urls=self._file_urls(request, admin, obj),
            object_name=str(obj) if obj is not None else "",
            inlines=inlines,
            obj=obj,
            adding=obj is None,
            editable=editable,
            version=version,
            version_field=VERSION_FIELD,
            conflict=conflict,
            action_url=(
                request.url_for("admin.change_submit", pk=pk, **params)
                if pk is not None
                else request.url_for("admin.add_submit", **params)
            ),
            list_url=request.url_for("admin.changelist", **params)
            if admin.has_view_permission(request)
            else None,
            delete_url=request.url_for("admin.delete", pk=pk, **params)
            if pk is not None and admin.has_delete_permission(request, obj)
            else None,
            history_url=request.url_for("admin.history", pk=pk, **params) if pk else None,
            can_add=admin.has_add_permission(request),
        )
        names = template_names(admin, "change_form.html", admin.change_form_template)
        return render(pick_template(request, names), context, status_code=status_code)

    def _after_save(
        self, request: Request, admin: ModelAdmin, obj: Any, data: FormData
    ) -> Response:
        params = {"label": admin.label, "model": admin.model_name}
        pk = quote(pk_text(obj), safe="")
        if "_continue" in data:
            target = request.url_for("admin.change", pk=pk, **params)
        elif "_addanother" in data and admin.has_add_permission(request):
            target = request.url_for("admin.add", **params)
        elif admin.has_view_permission(request):
            target = request.url_for("admin.changelist", **params)
        else:
            target = request.url_for("admin.index")
        return RedirectResponse(target, 303)

    # -- the object's form (carboy.forms) --------------------------------------------------
    def _form_class(self, request: Request, admin: ModelAdmin, *, adding: bool) -> Any:
        """The carboy.forms model form of ``admin``'s page (made once per model and page)."""
        key = (admin.key, adding)
        if key not in self._form_classes:
            widgets = {
                name: AutocompleteSelect(url)
                for name, url in self._autocomplete(request, admin).items()
            }
            self._form_classes[key] = admin_form_class(admin, adding=adding, widgets=widgets)
        return self._form_classes[key]

    def _draw(
        self, request: Request, admin: ModelAdmin, sync: Session, obj: Any, *, readonly: bool
    ) -> Any:
        """An unbound form of ``obj`` (or of a new object), its choices loaded."""
        form = self._form_class(request, admin, adding=obj is None)(
            instance=obj, request=request, readonly=readonly
        )
        form.load(sync)
        return form

    def _file_urls(self, request: Request, admin: ModelAdmin, obj: Any) -> dict[str, str]:
        if not admin.file_fields or obj is None:
            return {}
        storage = _storage(request)
        return {
            name: storage.url(getattr(obj, name))
            for name in admin.file_fields
            if getattr(obj, name, None)
        }

    def _submitted(self, admin: ModelAdmin, data: FormData) -> dict[str, None]:
        """The file fields whose "remove it" box was ticked (nullable ones only)."""
        return {
            name: None
            for name in admin.file_fields
            if data.get(f"{name}-clear") in ("1", "on") and admin.info.fields[name].nullable
        }

    # -- add ---------------------------------------------------------------------------
    async def add_form(
        self, request: Request, session: AsyncSession, label: str, model: str
    ) -> Response:
        """The empty form of a new object."""
        admin = model_admin_for(self.site, label, model)
        require(admin, request, "add")

        def load(sync: Session) -> Response:
            form = self._draw(request, admin, sync, None, readonly=False)
            inlines = self._inlines(request, admin, sync, None, None)
            return self._page(
                request,
                admin,
                form,
                obj=None,
                inlines=inlines,
                title=f"Add {admin.name}",
                editable=True,
            )

        return await session.run_sync(load)

    async def add_submit(
        self, request: Request, session: AsyncSession, label: str, model: str
    ) -> Response:
        """Create the object (and its inline children), or show the form's errors."""
        admin = model_admin_for(self.site, label, model)
        require(admin, request, "add")
        data = await request.form()
        form = await self._form_class(request, admin, adding=True).from_request(
            request, session=session
        )
        inlines = await session.run_sync(self._checked_inlines, request, admin, None, data)
        if form.is_valid and not _inline_errors(inlines):
            response = await self._write(request, session, admin, form, None, inlines, data, None)
            if response is not None:
                return response
        await session.rollback()  # nothing of this request is kept

        def page(sync: Session) -> Response:
            return self._page(
                request,
                admin,
                form,
                obj=None,
                inlines=inlines,
                title=f"Add {admin.name}",
                editable=True,
                status_code=max(form.status_code, 422),
            )

        return await session.run_sync(page)

    # -- change ------------------------------------------------------------------------
    def _get(
        self, sync: Session, admin: ModelAdmin, request: Request, pk: str, *, lock: bool = False
    ) -> Any:
        """The object ``pk`` among ``admin.get_queryset(request)``'s rows, or a 404."""
        try:
            key = admin.info.pk_value(pk)
        except ValueError:
            raise HTTPException(404, f"No {admin.name} has the key {pk[:40]!r}") from None
        stmt = admin.get_queryset(request).where(admin.info.pk == key)
        if lock:
            stmt = stmt.with_for_update()
        obj = sync.scalars(stmt).first()
        if obj is None:
            raise HTTPException(404, f"No {admin.name} has the key {pk[:40]!r}")
        return obj

    async def change_form(
        self, request: Request, session: AsyncSession, label: str, model: str, pk: str
    ) -> Response:
        """The object's form: editable with the change permission, read-only with view."""
        admin = model_admin_for(self.site, label, model)
        require(admin, request, "view")

        def load(sync: Session) -> Response:
            obj = self._get(sync, admin, request, pk)
            require(admin, request, "view", obj)
            editable = admin.has_change_permission(request, obj)
            form = self._draw(request, admin, sync, obj, readonly=not editable)
            inlines = self._inlines(request, admin, sync, obj, None)
            version = version_of(current_values(sync, admin.info, obj, list(form.specs)))
            verb = "Change" if editable else "View"
            return self._page(
                request,
                admin,
                form,
                obj=obj,
                inlines=inlines,
                title=f"{verb} {admin.name}: {obj}",
                editable=editable,
                version=version,
            )

        return await session.run_sync(load)

    async def change_submit(
        self, request: Request, session: AsyncSession, label: str, model: str, pk: str
    ) -> Response:
        """Save the changes, unless someone else changed the object since the form was drawn."""
        admin = model_admin_for(self.site, label, model)
        require(admin, request, "change")
        data = await request.form()

        def lock(sync: Session) -> tuple[Any, dict[str, Any], dict[str, str]]:
            obj = self._get(sync, admin, request, pk, lock=True)
            require(admin, request, "change", obj)
            names = list(self._form_class(request, admin, adding=False).specs)
            before = current_values(sync, admin.info, obj, names)
            return obj, before, {n: self._text(sync, admin, n, v, obj) for n, v in before.items()}

        obj, before, before_text = await session.run_sync(lock)
        form = await self._form_class(request, admin, adding=False).from_request(
            request, session=session, instance=obj
        )
        now = version_of(before)
        token = data.get(VERSION_FIELD)
        changed = changed_since(token if isinstance(token, str) else "", before)
        inlines = await session.run_sync(self._checked_inlines, request, admin, obj, data)
        title = f"Change {admin.name}: {obj}"
        if changed is None or changed:
            conflict = [
                {"label": admin.info.fields[n].label, "now": before_text[n]}
                for n in (changed or [])
            ]
            form.add_error(
                None,
                f"This {admin.name} was changed by someone else since you opened it; "
                "your changes are not saved. Check the values below: saving again "
                "replaces theirs with yours.",
            )

            def clash(sync: Session) -> Response:
                return self._page(
                    request,
                    admin,
                    form,
                    obj=obj,
                    inlines=inlines,
                    title=title,
                    editable=True,
                    version=now,
                    conflict=conflict,
                    status_code=409,
                )

            return await session.run_sync(clash)
        if form.is_valid and not _inline_errors(inlines):
            response = await self._write(
                request, session, admin, form, obj, inlines, data, (before, before_text)
            )
            if response is not None:
                return response
        await session.rollback()

        def page(sync: Session) -> Response:
            return self._page(
                request,
                admin,
                form,
                obj=obj,
                inlines=inlines,
                title=title,
                editable=True,
                version=now,
                status_code=max(form.status_code, 422),
            )

        return await session.run_sync(page)

    def _storage_if(self, request: Request, admin: ModelAdmin) -> Any:
        return _storage(request) if admin.file_fields else None

    async def _write(
        self,
        request: Request,
        session: AsyncSession,
        admin: ModelAdmin,
        form: Any,
        obj: Any,
        inlines: list[InlineTable],
        data: FormData,
        before: tuple[dict[str, Any], dict[str, str]] | None,
    ) -> Response | None:
        """Save the form, ``save_model`` and :meth:`_finish`: the answer, or None when refused.

        The files the form stored for this save are removed again when any later
        step refuses it or raises: the caller rolls the row back, and a file
        nothing points at must not stay behind.
        """
        had = {name: getattr(obj, name, None) for name in admin.file_fields} if obj else {}
        saved = await form.asave(session, storage=self._storage_if(request, admin))
        if saved is None:
            return None  # asave removed its files itself
        stored = [
            value
            for name in admin.file_fields
            if (value := getattr(saved, name, None)) and value != had.get(name)
        ]
        try:
            admin.save_model(_sync(session), request, saved, obj is not None)
            response = await session.run_sync(
                self._finish, request, admin, saved, form, inlines, data, before
            )
        except BaseException:
            await _discard(request, stored)
            raise
        if response is None:
            await _discard(request, stored)
        return response

    def _checked_inlines(
        self, sync: Session, request: Request, admin: ModelAdmin, obj: Any, data: FormData
    ) -> list[InlineTable]:
        inlines = self._inlines(request, admin, sync, obj, data)
        for table in inlines:
            if table.can_change and table.formset.is_bound:
                table.formset.is_valid  # noqa: B018  # validates every active row now
        return inlines

    def _finish(
        self,
        sync: Session,
        request: Request,
        admin: ModelAdmin,
        obj: Any,
        form: Any,
        inlines: list[InlineTable],
        data: FormData,
        before: tuple[dict[str, Any], dict[str, str]] | None,
    ) -> Response | None:
        """After the object is written: its removed files, the inline rows, the history."""
        for name, value in self._submitted(admin, data).items():
            setattr(obj, name, value)
        ok, notes = self._save_inlines(sync, admin, obj, inlines)
        if not ok:
            return None
        try:
            with sync.begin_nested():
                sync.flush()
        except sa_exc.DBAPIError as exc:
            from carboy.db.errors import translate_error

            translated = translate_error(exc, [admin.info.table.metadata])
            if not isinstance(translated, InvalidFields):
                raise
            form.add_error(None, translated.message)
            return None
        if before is None:
            log(sync, request, admin, obj, ChangeKind.ADD, message=" ".join(notes))
            _flash(request, f"Added {admin.name} “{obj}”.")
        else:
            values, texts = before
            after = current_values(sync, admin.info, obj, list(values))
            changes = [
                {
                    "field": n,
                    "label": admin.info.fields[n].label,
                    "old": texts[n],
                    "new": self._text(sync, admin, n, after[n], obj),
                }
                for n in values
                if values.get(n) != after.get(n)
            ]
            if changes or notes:
                log(sync, request, admin, obj, ChangeKind.CHANGE, changes, " ".join(notes))
            _flash(request, f"Saved {admin.name} “{obj}”.")
        return self._after_save(request, admin, obj, data)

    @staticmethod
    def _text(sync: Session, admin: ModelAdmin, name: str, value: Any, obj: Any) -> str:
        info = admin.info.fields[name]
        if info.kind is Kind.MANY_TO_MANY:
            return ", ".join(str(item) for item in getattr(obj, name)) or "—"
        if info.kind is Kind.FOREIGN_KEY and info.target is not None and value is not None:
            related = sync.get(info.target, value)
            if related is not None:
                return str(related)
        return display_text(info, value)

    # -- delete ------------------------------------------------------------------------
    def _plan(
        self, request: Request, sync: Session, admin: ModelAdmin, objects: list[Any]
    ) -> DeletePlan:
        keys = [getattr(obj, admin.info.pk_name) for obj in objects]
        return collect(sync, admin.info, keys, lambda obj: object_url(self.site, request, obj))

    async def delete_form(
        self, request: Request, session: AsyncSession, label: str, model: str, pk: str
    ) -> Response:
        """The confirmation: the object and everything the delete takes with it."""
        admin = model_admin_for(self.site, label, model)
        require(admin, request, "delete")

        def load(sync: Session) -> Response:
            obj = self._get(sync, admin, request, pk)
            require(admin, request, "delete", obj)
            plan = self._plan(request, sync, admin, [obj])
            return self._delete_page(request, admin, obj, plan)

        return await session.run_sync(load)

    def _delete_page(
        self,
        request: Request,
        admin: ModelAdmin,
        obj: Any,
        plan: DeletePlan,
        status_code: int = 200,
    ) -> Response:
        params = {"label": admin.label, "model": admin.model_name}
        pk = quote(pk_text(obj), safe="")
        context = base_context(
            self.site,
            request,
            admin,
            f"Delete {admin.name}: {obj}",
            obj=obj,
            plan=plan,
            action_url=request.url_for("admin.delete_submit", pk=pk, **params),
            cancel_url=request.url_for("admin.change", pk=pk, **params),
        )
        names = template_names(admin, "delete_confirmation.html", admin.delete_template)
        return render(pick_template(request, names), context, status_code=status_code)

    async def delete_submit(
        self, request: Request, session: AsyncSession, label: str, model: str, pk: str
    ) -> Response:
        """Delete the object (refused while something protects it)."""
        admin = model_admin_for(self.site, label, model)
        require(admin, request, "delete")

        def delete(sync: Session) -> Response:
            obj = self._get(sync, admin, request, pk, lock=True)
            require(admin, request, "delete", obj)
            plan = self._plan(request, sync, admin, [obj])
            if plan.blocked:
                return self._delete_page(request, admin, obj, plan, status_code=409)
            name = str(obj)
            log(sync, request, admin, obj, ChangeKind.DELETE, object_id=pk_text(obj))
            admin.delete_model(sync, request, obj)
            sync.flush()
            _flash(request, f"Deleted {admin.name} “{name}”.")
            target = (
                request.url_for("admin.changelist", label=label, model=model)
                if admin.has_view_permission(request)
                else request.url_for("admin.index")
            )
            return RedirectResponse(target, 303)

        return await session.run_sync(delete)

    # -- bulk actions ------------------------------------------------------------------
    async def action(
        self, request: Request, session: AsyncSession, label: str, model: str
    ) -> Response:
        """Run a bulk action on the selected objects (after its confirmation page, if any)."""
        admin = model_admin_for(self.site, label, model)
        require(admin, request, "view")
        data = await request.form()
        name = data.get("action")
        actions = admin.get_actions()
        fn = actions.get(name) if isinstance(name, str) else None
        if fn is None or not isinstance(name, str):
            raise HTTPException(400, f"No action {str(name)[:40]!r} on {admin.name_plural}")
        for what in getattr(fn, "allowed_permissions", ("change",)):
            require(admin, request, what)
        back = back_query(data.get("_back"))
        list_url = request.url_for("admin.changelist", label=label, model=model) + back
        texts = [v for v in data.getlist("_selected") if isinstance(v, str)]
        if len(texts) > MAX_SELECTED:
            raise HTTPException(400, f"Select at most {MAX_SELECTED:,} {admin.name_plural} at once")
        if not texts:
            _flash(request, f"Select some {admin.name_plural} first: nothing was done.", "error")
            return RedirectResponse(list_url, 303)
        try:
            keys = [admin.info.pk_value(text) for text in texts]
        except ValueError:
            raise HTTPException(400, "A selected key is not a key of this model") from None
        confirmed = data.get("_confirmed") == "1"

        def run(sync: Session) -> Response:
            objects = list(
                sync.scalars(
                    admin.get_queryset(request)
                    .where(admin.info.pk.in_(keys))
                    .order_by(admin.info.pk)
                ).all()
            )
            if not objects:
                raise HTTPException(404, f"None of the selected {admin.name_plural} exist")
            for what in getattr(fn, "allowed_permissions", ("change",)):
                for obj in objects:
                    require(admin, request, what, obj)
            is_delete = name == "delete_selected"
            plan = self._plan(request, sync, admin, objects) if is_delete else None
            if (getattr(fn, "confirm", False) and not confirmed) or (plan and plan.blocked):
                context = base_context(
                    self.site,
                    request,
                    admin,
                    admin.action_label(fn),
                    objects=[(obj, object_url(self.site, request, obj)) for obj in objects],
                    plan=plan,
                    action=name,
                    action_label=admin.action_label(fn),
                    selected=[pk_text(obj) for obj in objects],
                    back=back,
                    action_url=request.url_for("admin.action", label=label, model=model),
                    cancel_url=list_url,
                )
                names = template_names(admin, "action_confirmation.html")
                status = 409 if plan is not None and plan.blocked else 200
                return render(pick_template(request, names), context, status_code=status)
            if is_delete:
                for obj in objects:
                    log(sync, request, admin, obj, ChangeKind.DELETE, object_id=pk_text(obj))
            else:
                for obj in objects:
                    log(
                        sync,
                        request,
                        admin,
                        obj,
                        ChangeKind.CHANGE,
                        message=f"Action: {admin.action_label(fn)}",
                    )
            result = fn(admin, request, sync, objects)
            sync.flush()
            if isinstance(result, Response):
                return result
            _flash(request, str(result) if result else f"{admin.action_label(fn)}: done.")
            return RedirectResponse(list_url, 303)

        return await session.run_sync(run)
