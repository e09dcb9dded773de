"""Formsets: several forms of one class on one page (the rows of an inline, say).

Each form gets the prefix ``<prefix>-<n>``; two hidden fields say how many
forms were sent and how many edit existing rows (``<prefix>-TOTAL_FORMS``,
``<prefix>-INITIAL_FORMS``), as in Django. Extra forms left blank are
skipped, a ticked ``<prefix>-<n>-DELETE`` marks a row for deletion, and the
count a client claims is bounded: a formset never builds more than
``max_num`` forms.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from markupsafe import Markup

from carboy.forms._form import BaseForm, _normalize
from carboy.forms._rendering import render

if TYPE_CHECKING:
    from sqlalchemy import orm

    from carboy.datastructures import MultiDict
    from carboy.db import AsyncSession
    from carboy.requests import Request

F = TypeVar("F", bound=BaseForm)

TOTAL = "TOTAL_FORMS"
INITIAL = "INITIAL_FORMS"
DELETE = "DELETE"


class FormSet(Generic[F]):
    """A list of forms of ``form_class``, bound and validated together.

    Args:
        form_class: The form of one row (a :class:`~carboy.forms.ModelForm` for rows
            of a table: give their ``instances``).
        data: What was submitted (``await request.form()``), or None.
        prefix: Prepended to every field name.
        initial: Initial values of the first forms.
        instances: Existing rows, one form each (model formsets).
        extra: Blank forms added after them for new rows.
        min_num, max_num: How many rows the formset accepts; at most ``max_num``
            forms are ever built, whatever the client claims.
        can_delete: Each form gets a "Delete" checkbox.

    Example:
        >>> rows = FormSet(Form[Line], {"line-TOTAL_FORMS": "1", "line-INITIAL_FORMS": "0",
        ...                             "line-0-sku": "A1", "line-0-qty": "2"}, prefix="line")
        >>> rows.is_valid, rows.forms[0].data.qty
        (True, 2)
    """

    template = "forms/formset.html"

    def __init__(
        self,
        form_class: type[F],
        data: MultiDict | Mapping[str, Any] | None = None,
        *,
        prefix: str = "form",
        initial: Sequence[Mapping[str, Any]] = (),
        instances: Sequence[Any] = (),
        extra: int = 1,
        min_num: int = 0,
        max_num: int = 1000,
        can_delete: bool = False,
        request: Request | None = None,
        readonly: bool = False,
    ) -> None:
        self.form_class = form_class
        self.prefix = prefix
        self.initial = list(initial)
        self.instances = list(instances)
        self.extra = extra
        self.min_num = min_num
        self.max_num = max_num
        self.can_delete = can_delete
        self.request = request
        self.readonly = readonly
        self._raw = _normalize(data)
        self.non_form_errors: list[str] = []
        self.forms: list[F] = self._build()

    def _count(self, name: str) -> int | None:
        values = (self._raw or {}).get(f"{self.prefix}-{name}", [])
        text = values[-1] if values and isinstance(values[-1], str) else ""
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            return None
        return int(text)

    def _build(self) -> list[F]:
        initial_forms = max(len(self.instances), len(self.initial))
        if self._raw is None:
            total = min(initial_forms + (0 if self.readonly else self.extra), self.max_num)
        else:
            total_sent, initial_sent = self._count(TOTAL), self._count(INITIAL)
            if total_sent is None or initial_sent is None:
                self.non_form_errors.append(
                    "The form's row counts are missing or damaged; reload the page and try again."
                )
                total_sent = initial_sent = 0
            if total_sent > self.max_num:
                self.non_form_errors.append(f"Send at most {self.max_num} rows.")
            total = min(total_sent, self.max_num)
        forms = []
        for index in range(total):
            options: dict[str, Any] = {
                "prefix": f"{self.prefix}-{index}",
                "request": self.request,
                "readonly": self.readonly,
                "initial": self.initial[index] if index < len(self.initial) else None,
            }
            if index < len(self.instances):
                options["instance"] = self.instances[index]
            forms.append(self.form_class(self._raw if self._raw is not None else None, **options))
        return forms

    # -- state ---------------------------------------------------------------------
    @property
    def is_bound(self) -> bool:
        """The formset was given submitted data."""
        return self._raw is not None

    def is_extra(self, index: int) -> bool:
        """Form ``index`` is one of the blank ones for new rows."""
        return index >= max(len(self.instances), len(self.initial))

    def is_deleted(self, form: F) -> bool:
        """The form's "Delete" box was ticked."""
        if not self.can_delete or self._raw is None:
            return False
        values = self._raw.get(form.add_prefix(DELETE), [])
        return bool(values) and str(values[-1]).lower() not in ("", "false", "off", "0")

    def has_changed(self, form: F) -> bool:
        """Something was typed into the form (an extra form left blank has not)."""
        marker = form.add_prefix("")
        if not any(key.startswith(marker) for key in self._raw or {}):
            return False
        for field in form:
            if field.readonly:
                continue
            sent = [v for v in form.raw(field.html_name) if not isinstance(v, str) or v.strip()]
            shown = field.spec.initial_text(field.initial)
            if field.spec.is_bool:
                if bool(sent) != (field.initial is True):
                    return True
            elif [str(v).strip() for v in sent if isinstance(v, str)] != shown or any(
                not isinstance(v, str) for v in sent
            ):
                return True
        return False

    @property
    def active_forms(self) -> list[F]:
        """The forms that count: neither deleted nor blank extra ones."""
        return [
            form
            for index, form in enumerate(self.forms)
            if not self.is_deleted(form) and (not self.is_extra(index) or self.has_changed(form))
        ]

    @property
    def deleted_forms(self) -> list[F]:
        """The forms of existing rows whose "Delete" box was ticked."""
        return [f for i, f in enumerate(self.forms) if not self.is_extra(i) and self.is_deleted(f)]

    @property
    def is_valid(self) -> bool:
        """Bound, every active form valid, and the row count within bounds."""
        if not self.is_bound:
            return False
        valid = all(form.is_valid for form in self.active_forms)
        if len(self.active_forms) < self.min_num and not self.non_form_errors:
            self.non_form_errors.append(f"Send at least {self.min_num} rows.")
        return valid and not self.non_form_errors

    @property
    def errors(self) -> list[dict[str, list[str]]]:
        """Each form's errors, in order (an empty dict for a valid or skipped form)."""
        active = {id(f) for f in self.active_forms}
        return [form.errors if id(form) in active else {} for form in self.forms]

    @property
    def status_code(self) -> int:
        """200, or 422 when a bound formset is not valid."""
        return 422 if self.is_bound and not self.is_valid else 200

    def __iter__(self) -> Iterator[F]:
        return iter(self.forms)

    def __len__(self) -> int:
        return len(self.forms)

    # -- rendering -----------------------------------------------------------------
    def management_html(self) -> Markup:
        """The two hidden count fields."""
        initial = max(len(self.instances), len(self.initial))
        return Markup(
            f'<input type="hidden" name="{self.prefix}-{TOTAL}" value="{len(self.forms)}">'
            f'<input type="hidden" name="{self.prefix}-{INITIAL}" value="{initial}">'
        )

    def render(self) -> Markup:
        """The counts, the formset's errors and each form (``forms/formset.html``)."""
        renderer = self.forms[0].renderer if self.forms else None
        return render(renderer, self.template, {"formset": self, "request": self.request})

    def __html__(self) -> str:
        return str(self.render())

    def __str__(self) -> str:
        return str(self.render())

    # -- saving (model formsets) ----------------------------------------------------
    async def asave(self, session: AsyncSession, **values: Any) -> list[Any] | None:
        """Save every active form (with ``values`` set on each row: the parent's key) and
        delete the rows marked; None when one form is invalid or refused (errors on it).

        Example:
            >>> await lines.asave(session, order_id=order.id)  # doctest: +SKIP
        """
        if not self.is_valid:
            return None
        result: list[Any] | None = await session.run_sync(self.save, **values)
        return result

    def save(self, session: orm.Session, /, **values: Any) -> list[Any] | None:
        """:meth:`asave` for a sync ``Session``."""
        if not self.is_valid:
            return None
        saved: list[Any] = []
        nested = session.begin_nested()
        for form in self.deleted_forms:
            instance = getattr(form, "instance", None)
            if instance is not None:
                session.delete(instance)
        for form in self.active_forms:
            write = getattr(form, "_write", None)
            if write is None:
                raise TypeError(f"FormSet.save(): {self.form_class.__qualname__} is no ModelForm")
            if getattr(form, "instance", None) is None and values:
                form.instance = form.model(**values)  # type: ignore[attr-defined]
            instance = write(session, {})
            if instance is None:
                nested.rollback()
                return None
            saved.append(instance)
        session.flush()
        nested.commit()
        return saved
