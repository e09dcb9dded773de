"""The forms of the add and change pages, and the version that catches conflicts.

The object's own form is a carboy.forms model form (:func:`admin_form_class`):
its fields, validation, choices, uploads and saving are the forms battery's;
the admin adds an autocomplete widget for foreign keys. Inline rows are a
carboy.forms formset of the child's model form.

The page also carries the object's *version*: a digest of every field's value
when the page was drawn, compared with the row's when it is saved, so a save
over someone else's change is shown as a conflict instead of overwriting it.
It needs no version column.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from carboy.admin._meta import FieldInfo, Kind, ModelInfo
from carboy.forms import ModelForm, Widget, model_form

if TYPE_CHECKING:
    from carboy.admin._options import ModelAdmin

#: The hidden field that carries the version.
VERSION_FIELD = "_version"


class AutocompleteSelect(Widget):
    """A foreign key picked by typing: an htmx search of the related model's admin.

    The chosen row's key is the field's value (a hidden input); the visible
    box searches, and the arrow keys and Enter pick a match (``admin.js``).
    """

    template = "admin/widgets/autocomplete.html"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url


def admin_form_class(
    admin: ModelAdmin, *, adding: bool, widgets: Mapping[str, Widget] | None = None
) -> type[ModelForm[Any]]:
    """The carboy.forms model form of a model's add (or change) page.

    Its fields are the admin's ``fields``/``fieldsets`` (read-only fields on the
    change page only: a new object has no value to show for them), its uploads
    the admin's ``file_fields``.
    """
    names = [n for n in admin.get_fields() if n in admin.info.fields]
    readonly = [n for n in names if n in admin.readonly_fields or not admin.info.fields[n].editable]
    if adding:
        names = [n for n in names if n not in readonly]
        readonly = []
    fieldsets = None
    if admin.fieldsets is not None:
        fieldsets = [
            (legend, [n for n in group if n in names]) for legend, group in admin.get_fieldsets()
        ]
    return model_form(
        admin.model,
        include=names,
        readonly=readonly,
        widgets=dict(widgets or {}),
        labels={n: admin.info.fields[n].label for n in names},
        overrides=dict(admin.file_fields),
        fieldsets=fieldsets,
    )


def value_text(value: Any) -> str:
    """A value as a form control holds it."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        moment = value.astimezone(dt.UTC) if value.tzinfo else value
        return moment.replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if hasattr(value, "name") and hasattr(value, "value") and not isinstance(value, str):
        return str(value.name)  # an Enum member
    if isinstance(value, bool):
        return "1" if value else ""
    return str(value)


def display_text(info: FieldInfo, value: Any) -> str:
    """A value as a person reads it (read-only fields, history)."""
    if value is None:
        return "—"
    if info.kind is Kind.BOOLEAN:
        return "Yes" if value else "No"
    if info.kind is Kind.CHOICE:
        labels = dict(info.choices)
        return labels.get(value_text(value), value_text(value))
    if info.kind is Kind.DATETIME and isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "—"
    return value_text(value) if not isinstance(value, str) else value


def _version_digest(value: Any) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()[:16]


def current_values(
    session: Session, info: ModelInfo, obj: Any, names: Sequence[str]
) -> dict[str, Any]:
    """The values of fields ``names`` of ``obj`` (related keys for many-to-many)."""
    values: dict[str, Any] = {}
    for name in names:
        f = info.fields.get(name)
        if f is None:
            continue
        if f.kind is Kind.MANY_TO_MANY:
            values[name] = sorted(_pk_of(item) for item in getattr(obj, name))
        else:
            values[name] = getattr(obj, name)
    return values


def _pk_of(obj: Any) -> Any:
    from sqlalchemy import inspect

    identity = inspect(obj).identity
    return identity[0] if identity else None


def version_of(values: Mapping[str, Any]) -> str:
    """The version token of an object's values: a digest per field, as JSON."""
    return json.dumps(
        {k: _version_digest(v) for k, v in sorted(values.items())}, separators=(",", ":")
    )


def changed_since(token: str, values: Mapping[str, Any]) -> list[str] | None:
    """The fields whose value differs from the one ``token`` was made from.

    None when the token cannot be read (a forged or truncated form): the save
    is then refused as a conflict too, never taken as "nothing changed".
    """
    try:
        seen = json.loads(token)
    except ValueError:
        return None
    if not isinstance(seen, dict):
        return None
    return [name for name, value in values.items() if seen.get(name) != _version_digest(value)]
