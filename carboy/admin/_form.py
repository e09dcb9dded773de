"""The forms of the add and change pages, and the version that catches conflicts.

The object's own form is a carboy.forms model form (:func:`admin_form_class`):
its fields, validation, choices, uploads and saving are the forms battery's;
the admin adds an autocomplete widget for foreign keys. Inline rows are drawn
and read by :class:`ObjectForm`, from the columns.

The page also carries the object's *version*: a digest of every field's value
when the page was drawn, compared with the row's when it is saved, so a save
over someone else's change is shown as a conflict instead of overwriting it.
It needs no version column.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carboy.admin._meta import FieldInfo, Kind, ModelInfo
from carboy.forms import ModelForm, Widget, model_form

if TYPE_CHECKING:
    from carboy.admin._options import ModelAdmin

REQUIRED = "This field is required."
#: Most rows a foreign-key select or a many-to-many multi-select lists.
MAX_OPTIONS = 500
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


class Invalid(ValueError):
    """A submitted value a field cannot take; the message is shown beside it."""


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


def _parse(info: FieldInfo, text: str) -> Any:
    """``text`` as a value of ``info``'s kind; raises :class:`Invalid`."""
    kind = info.kind
    try:
        if kind is Kind.INTEGER:
            return int(text)
        if kind is Kind.FLOAT:
            return float(text)
        if kind is Kind.DECIMAL:
            return decimal.Decimal(text)
        if kind is Kind.DATE:
            return dt.date.fromisoformat(text)
        if kind is Kind.DATETIME:
            moment = dt.datetime.fromisoformat(text)
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        if kind is Kind.TIME:
            return dt.time.fromisoformat(text)
        if kind is Kind.UUID:
            return uuid.UUID(text)
    except (ValueError, decimal.InvalidOperation):
        raise Invalid(_WRONG[kind]) from None
    if kind is Kind.CHOICE:
        known = dict(info.choices)
        if text not in known:
            raise Invalid("Choose one of the options.")
        return info.enum[text] if info.enum is not None else text
    if info.max_length is not None and len(text) > info.max_length:
        raise Invalid(f"At most {info.max_length} characters (this has {len(text)}).")
    return text


_WRONG = {
    Kind.INTEGER: "Enter a whole number.",
    Kind.FLOAT: "Enter a number.",
    Kind.DECIMAL: "Enter a number.",
    Kind.DATE: "Enter a date (YYYY-MM-DD).",
    Kind.DATETIME: "Enter a date and time (YYYY-MM-DD HH:MM).",
    Kind.TIME: "Enter a time (HH:MM).",
    Kind.UUID: "Enter a UUID.",
}

_INPUT_TYPES = {
    Kind.TEXT: "text",
    Kind.INTEGER: "number",
    Kind.FLOAT: "number",
    Kind.DECIMAL: "number",
    Kind.DATE: "date",
    Kind.DATETIME: "datetime-local",
    Kind.TIME: "time",
    Kind.UUID: "text",
}


@dataclass(slots=True)
class FormField:
    """One field on the page: what it shows, and what was wrong with what was sent.

    Attributes:
        info: The model field.
        html_name: Its name in the form (with the inline prefix).
        value: The text the control holds (the submitted text when bound).
        values: The selected values of a multi-select.
        errors: Messages about the submitted value.
        readonly: Shown as text, never read from the submission.
        options: ``(value, label)`` of a select (None: a free input).
        autocomplete_url: For an autocomplete foreign key: where it searches.
    """

    info: FieldInfo
    html_name: str
    value: str = ""
    values: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    readonly: bool = False
    required: bool = False
    options: list[tuple[str, str]] | None = None
    display: str = ""
    autocomplete_url: str | None = None
    selected_label: str = ""

    @property
    def id(self) -> str:
        """The control's id, the label's ``for``."""
        return f"id_{self.html_name}"

    @property
    def label(self) -> str:
        """The label's text."""
        return self.info.label

    @property
    def widget(self) -> str:
        """Which control draws it: ``input``, ``textarea``, ``checkbox``, ``select``,
        ``multiselect``, ``autocomplete`` or ``readonly``."""
        if self.readonly:
            return "readonly"
        kind = self.info.kind
        if kind is Kind.LONGTEXT:
            return "textarea"
        if kind is Kind.BOOLEAN:
            return "checkbox"
        if kind is Kind.MANY_TO_MANY:
            return "multiselect"
        if self.autocomplete_url is not None:
            return "autocomplete"
        if self.options is not None:
            return "select"
        return "input"

    @property
    def input_type(self) -> str:
        """The ``type`` of an ``<input>``."""
        return _INPUT_TYPES.get(self.info.kind, "text")

    @property
    def step(self) -> str | None:
        """The ``step`` of a number or time input."""
        if self.info.kind in (Kind.FLOAT, Kind.DECIMAL):
            return "any"
        if self.info.kind in (Kind.DATETIME, Kind.TIME):
            return "1"
        return None

    @property
    def checked(self) -> bool:
        """A ticked checkbox."""
        return self.value == "1"


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


class ObjectForm:
    """The form of one inline row (``prefix``: its place in the page), from the columns."""

    def __init__(
        self,
        admin: ModelAdmin,
        session: Session,
        obj: Any | None,
        *,
        names: Sequence[str],
        readonly: bool | Sequence[str] = False,
        prefix: str = "",
        autocomplete: Mapping[str, str] | None = None,
    ) -> None:
        self.admin = admin
        self.session = session
        self.obj = obj
        self.adding = obj is None
        self.prefix = prefix
        info = admin.info
        self.readonly_names = (
            set(names) if readonly is True else set(readonly or ()) | set(admin.readonly_fields)
        )
        self.fields: dict[str, FormField] = {}
        self.errors: list[str] = []
        for name in names:
            f = info.fields.get(name)
            if f is None:
                continue
            ro = name in self.readonly_names or not f.editable
            # Text with a default ("") may be left empty; other columns that hold no
            # NULL must have a value once the object exists.
            can_be_empty = f.kind in (Kind.TEXT, Kind.LONGTEXT) and not f.required
            required = (
                not f.nullable
                and f.kind is not Kind.BOOLEAN
                and f.kind is not Kind.MANY_TO_MANY
                and not can_be_empty
                and (f.required or not self.adding)
            )
            ff = FormField(f, self._html(name), readonly=ro, required=required and not ro)
            if autocomplete and name in autocomplete and f.kind is Kind.FOREIGN_KEY:
                ff.autocomplete_url = autocomplete[name]
            self.fields[name] = ff
        self._initial()

    def _html(self, name: str) -> str:
        return f"{self.prefix}-{name}" if self.prefix else name

    # -- drawing ----------------------------------------------------------------------
    def _initial(self) -> None:
        for name, ff in self.fields.items():
            f = ff.info
            value = getattr(self.obj, name) if self.obj is not None else _default(f)
            if f.kind is Kind.MANY_TO_MANY:
                items = list(value or [])
                ff.values = [str(_pk_of(i)) for i in items]
                ff.display = ", ".join(str(i) for i in items) or "—"
            else:
                ff.value = value_text(value)
                ff.display = display_text(f, value)
            if f.kind is Kind.FOREIGN_KEY and self.obj is not None and f.relation:
                related = getattr(self.obj, f.relation)
                ff.selected_label = str(related) if related is not None else ""
                if related is not None:
                    ff.display = str(related)
        self._load_options()

    def _load_options(self) -> None:
        for ff in self.fields.values():
            f = ff.info
            if ff.readonly or ff.autocomplete_url is not None:
                continue
            if f.kind is Kind.CHOICE:
                ff.options = list(f.choices)
            elif f.kind in (Kind.FOREIGN_KEY, Kind.MANY_TO_MANY) and f.target is not None:
                ff.options = related_options(self.session, f.target)

    # -- reading ---------------------------------------------------------------------
    def bind(self, data: Any) -> None:
        """Read the submission (a ``FormData``) into the fields; errors per field."""
        for name, ff in self.fields.items():
            if ff.readonly:
                continue
            key = self._html(name)
            if ff.info.kind is Kind.MANY_TO_MANY:
                ff.values = [v for v in data.getlist(key) if isinstance(v, str)]
            elif ff.info.kind is Kind.BOOLEAN:
                ff.value = "1" if data.get(key) in ("1", "on", "true") else ""
            else:
                raw = data.get(key)
                ff.value = raw if isinstance(raw, str) else ""
            if ff.autocomplete_url is not None and ff.value:
                ff.selected_label = self._label_of(ff.info, ff.value)

    def _label_of(self, info: FieldInfo, text: str) -> str:
        try:
            related = self._related(info, text)
        except Invalid:
            return ""
        return str(related) if related is not None else ""

    def _related(self, info: FieldInfo, text: str) -> Any:
        from carboy.admin._meta import read_model

        target_info = read_model(info.target) if info.target is not None else None
        if target_info is None:
            raise Invalid("This field has no related model.")
        try:
            pk = target_info.pk_value(text)
        except ValueError:
            raise Invalid("Choose one of the options.") from None
        found = self.session.get(info.target, pk)  # type: ignore[arg-type]
        if found is None:
            raise Invalid(f"No {info.label.lower()} has the id {text[:40]!r}.")
        return found

    def cleaned(self) -> dict[str, Any]:
        """The values to set, by field; fills ``errors`` of the fields that are wrong."""
        values: dict[str, Any] = {}
        for name, ff in self.fields.items():
            if ff.readonly:
                continue
            try:
                values_or_skip = self._clean_one(ff)
            except Invalid as exc:
                ff.errors.append(str(exc))
                continue
            if values_or_skip is not _SKIP:
                values[name] = values_or_skip
        return values

    def _clean_one(self, ff: FormField) -> Any:
        f = ff.info
        if f.kind is Kind.MANY_TO_MANY:
            return self._clean_many(f, ff.values)
        if f.kind is Kind.BOOLEAN:
            return ff.value == "1"
        text = ff.value.strip() if f.kind is not Kind.LONGTEXT else ff.value
        if text == "":
            if f.kind in (Kind.TEXT, Kind.LONGTEXT) and not f.nullable:
                if ff.required and f.required:
                    raise Invalid(REQUIRED)
                return ""
            if f.nullable:
                return None
            if ff.required:
                raise Invalid(REQUIRED)
            return _SKIP  # a new object: the column's default applies
        if f.kind is Kind.FOREIGN_KEY:
            related = self._related(f, text)
            column = next(iter(f.column.foreign_keys)).column  # type: ignore[union-attr]
            return getattr(related, _attr(related, column))
        return _parse(f, text)

    def _clean_many(self, f: FieldInfo, texts: list[str]) -> list[Any]:
        from carboy.admin._meta import read_model

        if f.target is None:
            return []
        target_info = read_model(f.target)
        pks = []
        for text in texts:
            try:
                pks.append(target_info.pk_value(text))
            except ValueError:
                raise Invalid("Choose among the options.") from None
        if not pks:
            return []
        found: Sequence[Any] = self.session.scalars(
            select(f.target).where(target_info.pk.in_(pks))
        ).all()
        if len(found) != len(set(pks)):
            raise Invalid("Some of the chosen items do not exist.")
        return list(found)

    @property
    def has_errors(self) -> bool:
        """A field or the form has a message."""
        return bool(self.errors) or any(ff.errors for ff in self.fields.values())

    def add_error(self, name: str | None, message: str) -> None:
        """A message for field ``name`` (or for the whole form)."""
        if name is not None and name in self.fields:
            self.fields[name].errors.append(message)
        else:
            self.errors.append(message)


_SKIP = object()


def _attr(obj: Any, column: Any) -> str:
    from sqlalchemy import inspect

    mapper = inspect(type(obj))
    for prop in mapper.column_attrs:
        if column in prop.columns:
            return str(prop.key)
    return str(column.key)


def _default(info: FieldInfo) -> Any:
    column = info.column
    if column is None or column.default is None:
        return None
    arg = getattr(column.default, "arg", None)
    if callable(arg) or arg is None:
        return None
    return arg


def related_options(session: Session, target: type) -> list[tuple[str, str]]:
    """``(pk, str(obj))`` of the first :data:`MAX_OPTIONS` rows of ``target``."""
    from carboy.admin._meta import read_model

    pk = read_model(target).pk
    rows: Sequence[Any] = session.scalars(select(target).order_by(pk).limit(MAX_OPTIONS)).all()
    return [(value_text(_pk_of(row)), str(row)) for row in rows]
