"""Forms: a pydantic model drawn as HTML, bound to what a browser sent, validated by pydantic.

``Form[Contact]`` is the form of the pydantic model ``Contact``: its fields are
the model's fields, its validation the model's own (types, constraints,
``field_validator`` and ``model_validator``), and ``form.data`` a ``Contact``.
The form adds what HTML needs on top: reading the strings a browser sends,
keeping them to show again, the errors next to each field, and the markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

import jinja2
import pydantic
from markupsafe import Markup
from pydantic import BaseModel

from carboy.concurrency import run_sync
from carboy.datastructures import UploadFile
from carboy.exceptions import FieldError, HTTPException
from carboy.forms._fields import MISSING, Choice, FieldSpec, compile_fields, value_text
from carboy.forms._rendering import attributes, render
from carboy.forms._uploads import UploadError, check_upload
from carboy.forms._widgets import HiddenInput, Widget
from carboy.requests import Request
from carboy.responses import HTMLResponse

if TYPE_CHECKING:
    from carboy.datastructures import MultiDict

T = TypeVar("T", bound=BaseModel)

#: The key of the errors about the whole form in :attr:`BaseForm.errors`.
FORM_ERRORS = "__all__"
REQUIRED = "This field is required."

_PREFIXES = ("Value error, ", "Assertion failed, ")
_PREFIX_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def _message(error: Mapping[str, Any]) -> str:
    if error["type"] == "missing":
        return REQUIRED
    text = str(error["msg"])
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


@dataclass(frozen=True, slots=True)
class Fieldset:
    """A group of fields drawn in one ``<fieldset>`` (``legend`` None: no fieldset, only fields)."""

    legend: str | None
    fields: list[BoundField]
    description: str | None = None


class BoundField:
    """One field of one form: its value, errors and markup.

    ``{{ form.title }}`` in a template draws the field's row (label, control,
    help, errors); ``form["title"]`` is the same object in Python.

    Attributes:
        name: The field's name in the model.
        html_name: Its name in the HTML form (with the form's prefix).
        id: The control's id (``id_title``); the label's ``for``.
        label: The text of its label.
        help: Its help text (the model field's ``description``).
        errors: Its error messages.
        readonly: Drawn as text, never read from what is submitted.
    """

    def __init__(self, form: BaseForm, spec: FieldSpec) -> None:
        self.form = form
        self.spec = spec
        self.name = spec.name
        self.html_name = form.add_prefix(spec.name)
        self.id = f"id_{self.html_name}"
        self.label = form.labels.get(spec.name, spec.label)
        self.help = form.help_texts.get(spec.name, spec.help)
        self.widget = form.widgets.get(spec.name, spec.widget)
        self.readonly = form.is_readonly(spec.name)

    # -- state -----------------------------------------------------------------
    @property
    def errors(self) -> list[str]:
        """The field's error messages (validation runs on first access)."""
        return self.form.errors.get(self.name, [])

    @property
    def required(self) -> bool:
        """Must be filled in."""
        return self.spec.required and not self.readonly

    @property
    def is_hidden(self) -> bool:
        """Drawn as ``<input type="hidden">``."""
        return bool(self.widget.is_hidden)

    @property
    def multiple(self) -> bool:
        """Takes several values."""
        return self.spec.multiple

    @property
    def choices(self) -> list[Choice]:
        """The options of a choice field (loaded rows for a foreign key)."""
        return self.form.choices_for(self.name)

    @property
    def initial(self) -> Any:
        """The value the form starts with: ``initial=``, the instance's, or the default."""
        return self.form.initial_value(self.name)

    @property
    def values(self) -> list[str]:
        """What the control shows: the submitted strings when bound (so input is kept),
        else the initial value as text. Never the value of a password."""
        if self.widget.hides_value:
            return []
        if self.form.is_bound and not self.readonly:
            return [v for v in self.form.raw(self.html_name) if isinstance(v, str)]
        return self.spec.initial_text(self.initial)

    @property
    def value(self) -> str:
        """The one value shown (the last, for a field that has several)."""
        values = self.values
        return values[-1] if values else ""

    @property
    def checked(self) -> bool:
        """For a checkbox: ticked."""
        if self.form.is_bound and not self.readonly:
            return bool(self.spec.parse(list(self.form.raw(self.html_name))))
        return bool(self.initial is not MISSING and self.initial)

    def is_selected(self, choice: Choice) -> bool:
        """Whether ``choice`` is selected (or ticked) now."""
        return choice.value in self.values

    @property
    def display_value(self) -> str:
        """The value as text for a person (a choice's label, Yes/No): read-only fields."""
        value = self.initial
        if value is MISSING or value is None:
            return "—"
        if self.spec.is_bool:
            return "Yes" if value else "No"
        labels = {c.value: c.label for c in self.choices}
        if self.spec.multiple and isinstance(value, list | tuple | set | frozenset):
            return ", ".join(labels.get(value_text(v), value_text(v)) for v in value) or "—"
        text = value_text(value)
        return labels.get(text, text) or "—"

    # -- ids -----------------------------------------------------------------
    @property
    def help_id(self) -> str:
        """The id of the help text (``aria-describedby``)."""
        return f"{self.id}_help"

    @property
    def errors_id(self) -> str:
        """The id of the error messages (``aria-describedby``)."""
        return f"{self.id}_errors"

    @property
    def row_id(self) -> str:
        """The id of the field's row: what live validation replaces."""
        return f"{self.id}_row"

    @property
    def described_by(self) -> str | None:
        """The ``aria-describedby`` of the control: its help, then its errors."""
        ids = [self.help_id] if self.help else []
        if self.errors:
            ids.append(self.errors_id)
        return " ".join(ids) or None

    # -- markup ----------------------------------------------------------------
    def attrs(self, **extra: Any) -> dict[str, Any]:
        """The control's HTML attributes: id, name, constraints, ARIA, htmx, the widget's own."""
        widget = self.widget
        attrs: dict[str, Any] = {"id": self.id, "name": self.html_name}
        if widget.input_type and widget.template == "forms/widgets/input.html":
            attrs["type"] = widget.input_type
        if widget.is_hidden:
            attrs.update(widget.attrs)
            attrs.update(extra)
            return attrs
        if self.required and not (self.spec.multiple and widget.input_type == "checkbox"):
            attrs["required"] = True
        if self.spec.multiple and widget.template == "forms/widgets/select.html":
            attrs["multiple"] = True
        attrs.update(self.spec.html_constraints)
        if self.spec.upload is not None:
            accepted = self.spec.upload.accepted(self.spec.is_image)
            if accepted:
                attrs["accept"] = ",".join(accepted)
            if self.spec.multiple:
                attrs["multiple"] = True
        if self.errors:
            attrs["aria-invalid"] = "true"
        attrs["aria-describedby"] = self.described_by
        attrs.update(self.form.live_attrs(self))
        attrs.update(widget.attrs)
        attrs.update(extra)
        return attrs

    def attrs_html(self, **extra: Any) -> Markup:
        """:meth:`attrs` written out, escaped (`` id="id_title" name="title" ...``)."""
        return attributes(self.attrs(**extra))

    def widget_html(self) -> Markup:
        """The control alone (``<input>``, ``<select>``...), drawn by the widget's template."""
        return self.form.render_template(self.widget.template, field=self, widget=self.widget)

    def render(self) -> Markup:
        """The field's row: label, control, help and errors (``forms/field.html``)."""
        return self.form.render_template(self.form.field_template, field=self)

    def __html__(self) -> str:
        return str(self.render())

    def __str__(self) -> str:
        return str(self.render())

    def __repr__(self) -> str:
        return f"<BoundField {self.html_name!r} errors={self.errors!r}>"


class BaseForm:
    """What every form has: binding, validation, errors and rendering.

    Use :class:`Form` (``Form[Contact]``) or :class:`~carboy.forms.ModelForm`;
    this base carries the machinery and the options subclasses set:

    Attributes:
        template: The template of the whole form's fields (``{{ form }}``).
        field_template: The template of one field's row (``{{ form.title }}``).
        fieldsets: ``[(legend, [field, ...]), ...]`` to group the fields; None draws
            them in order.
        readonly_fields: Fields drawn as text and never taken from the submission.
        widgets, labels, help_texts: Per-field overrides of what the model says.
        method: ``"post"`` (the default) or ``"get"``: a GET form (search,
            filters) binds to the query string when it holds one of its fields.
        live_route: The name of the route that validates one field as it is typed
            (see :meth:`live_response`); its hx attributes are drawn on each control.
    """

    schema: ClassVar[type[BaseModel]]
    specs: ClassVar[dict[str, FieldSpec]] = {}
    template: ClassVar[str] = "forms/form.html"
    field_template: ClassVar[str] = "forms/field.html"
    fieldsets: ClassVar[Sequence[tuple[str | None, Sequence[str]]] | None] = None
    readonly_fields: ClassVar[Sequence[str]] = ()
    widgets: ClassVar[Mapping[str, Widget]] = {}
    labels: ClassVar[Mapping[str, str]] = {}
    help_texts: ClassVar[Mapping[str, str]] = {}
    method: ClassVar[str] = "post"
    live_route: ClassVar[str | None] = None

    def __init__(
        self,
        data: MultiDict | Mapping[str, Any] | None = None,
        *,
        initial: Mapping[str, Any] | None = None,
        prefix: str = "",
        request: Request | None = None,
        readonly: bool | Sequence[str] = False,
        live_url: str | None = None,
        renderer: jinja2.Environment | None = None,
    ) -> None:
        if prefix and not _PREFIX_RE.match(prefix):
            raise ValueError(f"Form prefix {prefix!r} must be letters, digits, '-' or '_'")
        self.prefix = prefix
        self.request = request
        self.initial: dict[str, Any] = dict(initial or {})
        self._raw: dict[str, list[str | UploadFile]] | None = _normalize(data)
        self._readonly_all = readonly is True
        self._readonly = set(self.readonly_fields) | (
            set(readonly) if not isinstance(readonly, bool) else set()
        )
        self._live_url = live_url
        self._renderer = renderer
        self._errors: dict[str, list[str]] | None = None
        self._data: Any = None
        self._choices: dict[str, list[Choice]] = {}
        self._status: int | None = None
        self._bound_fields: dict[str, BoundField] | None = None

    # -- building from a request ------------------------------------------------
    @classmethod
    async def from_request(
        cls,
        request: Request,
        *,
        initial: Mapping[str, Any] | None = None,
        prefix: str = "",
        readonly: bool | Sequence[str] = False,
    ) -> Self:
        """The form for this request: bound to the body of a POST (to the query string
        of a GET form), unbound for a GET; validated.

        A body the parser refuses (too big, too many fields or files, malformed,
        not a form) gives a bound form with one form-wide error and the status
        to answer with (:attr:`status_code`: 413, 400, 415), so the page can be
        drawn again rather than failing.

        Example:
            >>> form = await Form[Contact].from_request(request)  # doctest: +SKIP
        """
        form = cls(initial=initial, prefix=prefix, request=request, readonly=readonly)
        await form.bind_request(request)
        return form

    async def bind_request(self, request: Request) -> None:
        """Bind this form to ``request`` (see :meth:`from_request`) and validate it."""
        self.request = request
        await self.prepare(request)
        if request.method in ("GET", "HEAD"):
            if self.method == "get" and self._query_has_fields(request):
                self._raw = _normalize(request.query_params)
            else:
                return
        else:
            try:
                data = await request.form()
            except HTTPException as exc:
                if exc.status_code not in (400, 413, 415):
                    raise
                self._raw = {}
                self._errors = {FORM_ERRORS: [_refused_message(exc)]}
                self._status = exc.status_code
                return
            self._raw = _normalize(data)
        if any(spec.is_file for spec in self.specs.values()):
            await run_sync(self.full_clean)  # Pillow and file reads stay off the event loop
        else:
            self.full_clean()
        await self.after_clean()

    async def prepare(self, request: Request) -> None:
        """Called before binding: load what validation needs (a model form's choices)."""

    async def after_clean(self) -> None:
        """Called after validation of a bound form: checks that need I/O (uniqueness)."""

    @classmethod
    def dependency(cls) -> Callable[..., Any]:
        """The dependency that injects this form class into a handler (made once per class)."""

        async def build_form(request: Request) -> BaseForm:
            return await cls.from_request(request)

        build_form.__qualname__ = f"{cls.__qualname__}.from_request"
        return build_form

    def _query_has_fields(self, request: Request) -> bool:
        names = {self.add_prefix(n) for n in self.specs}
        return any(key in names for key in request.query_params)

    # -- the fields ---------------------------------------------------------------
    def add_prefix(self, name: str) -> str:
        """``name`` as it is in the HTML form: ``"prefix-name"`` with a prefix."""
        return f"{self.prefix}-{name}" if self.prefix else name

    @property
    def fields(self) -> dict[str, BoundField]:
        """Every field, by name, in order."""
        if self._bound_fields is None:
            self._bound_fields = {name: BoundField(self, spec) for name, spec in self.specs.items()}
        return self._bound_fields

    def __getitem__(self, name: str) -> BoundField:
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(
                f"{type(self).__qualname__} has no field {name!r}; its fields: "
                f"{', '.join(self.specs)}"
            ) from None

    def __iter__(self) -> Iterator[BoundField]:
        return iter(self.fields.values())

    def __contains__(self, name: object) -> bool:
        return name in self.specs

    @property
    def visible_fields(self) -> list[BoundField]:
        """The fields people see (not hidden)."""
        return [f for f in self if not f.is_hidden]

    @property
    def hidden_fields(self) -> list[BoundField]:
        """The hidden fields (``<input type="hidden">``)."""
        return [f for f in self if f.is_hidden]

    def grouped_fields(self) -> list[Fieldset]:
        """The visible fields in their :attr:`fieldsets` (or one group without a legend).

        Fields left out of the fieldsets are drawn after them.
        """
        visible = {f.name: f for f in self.visible_fields}
        if not self.fieldsets:
            return [Fieldset(None, list(visible.values()))]
        groups: list[Fieldset] = []
        used: set[str] = set()
        for legend, names in self.fieldsets:
            fields = [visible[n] for n in names if n in visible]
            used.update(names)
            groups.append(Fieldset(legend, fields))
        rest = [f for n, f in visible.items() if n not in used]
        if rest:
            groups.append(Fieldset(None, rest))
        return groups

    def is_readonly(self, name: str) -> bool:
        """Whether field ``name`` is read-only in this form."""
        return self._readonly_all or name in self._readonly

    @property
    def is_readonly_form(self) -> bool:
        """Every field is read-only (a view-only page)."""
        return self._readonly_all

    def choices_for(self, name: str) -> list[Choice]:
        """The choices of field ``name``: loaded ones (``set_choices``), else its type's."""
        if name in self._choices:
            return self._choices[name]
        return list(self.specs[name].choices or [])

    def set_choices(self, name: str, choices: Sequence[Choice]) -> None:
        """Give field ``name`` its options (a foreign key's rows, loaded per form)."""
        self._choices[name] = list(choices)

    def initial_value(self, name: str) -> Any:
        """The value field ``name`` starts with: ``initial=``, else the field's default."""
        if name in self.initial:
            return self.initial[name]
        return self.specs[name].initial()

    def raw(self, html_name: str) -> list[str | UploadFile]:
        """The values submitted under ``html_name`` (empty when unbound)."""
        return list((self._raw or {}).get(html_name, []))

    # -- validation ---------------------------------------------------------------
    @property
    def is_bound(self) -> bool:
        """The form was given submitted data (possibly empty)."""
        return self._raw is not None

    @property
    def is_valid(self) -> bool:
        """Bound and free of errors (validation runs on first access)."""
        return self.is_bound and not self.errors

    @property
    def errors(self) -> dict[str, list[str]]:
        """Error messages by field name; the form's own under ``"__all__"``."""
        if self._errors is None:
            if not self.is_bound:
                return {}
            self.full_clean()
        return self._errors or {}

    @property
    def form_errors(self) -> list[str]:
        """Errors about the whole form (cross-field checks, a refused body) and hidden fields."""
        errors = list(self.errors.get(FORM_ERRORS, []))
        for field in self.hidden_fields:
            errors.extend(f"{field.label}: {message}" for message in field.errors)
        return errors

    @property
    def data(self) -> Any:
        """The validated data (subclasses give it its type).

        Raises:
            ValueError: The form is not valid (check :attr:`is_valid` first).
        """
        if not self.is_valid:
            state = "not bound to any data" if not self.is_bound else "not valid"
            raise ValueError(
                f"{type(self).__qualname__}.data: the form is {state}; check form.is_valid first"
            )
        return self._data

    @property
    def status_code(self) -> int:
        """The status to answer with: 200, 422 when invalid, or what the body parser said."""
        if self._status is not None:
            return self._status
        return 422 if self.is_bound and self.errors else 200

    def add_error(self, field: str | None, message: str) -> None:
        """Record an error on ``field`` (None: the whole form); ``data`` is then gone.

        Example:
            >>> form.add_error("email", "This address is already registered")  # doctest: +SKIP
        """
        if field is not None and field not in self.specs:
            raise KeyError(f"{type(self).__qualname__} has no field {field!r}")
        errors = self.errors if self.is_bound else {}
        if self._errors is None:
            self._errors = errors
        self._errors.setdefault(field or FORM_ERRORS, []).append(message)
        self._data = None

    def error_list(self) -> list[FieldError]:
        """The errors as :class:`~carboy.FieldError` objects (``loc`` is ``["form", name]``)."""
        return [
            FieldError(["form"] if name == FORM_ERRORS else ["form", name], message)
            for name, messages in self.errors.items()
            for message in messages
        ]

    def input_values(self, errors: dict[str, list[str]]) -> dict[str, Any]:
        """What pydantic validates: each field's submitted value, read as its type needs."""
        values: dict[str, Any] = {}
        for name, spec in self.specs.items():
            if self.is_readonly(name):
                value = self.initial_value(name)
                if value is not MISSING:
                    values[name] = value
                continue
            raw = self.raw(self.add_prefix(name))
            if spec.is_file:
                value = self._clean_files(spec, raw, errors)
            else:
                value = spec.parse(raw)
                if value is MISSING and spec.required:
                    errors.setdefault(name, []).append(REQUIRED)
            if value is not MISSING:
                values[name] = value
        return values

    def _clean_files(
        self, spec: FieldSpec, raw: list[str | UploadFile], errors: dict[str, list[str]]
    ) -> Any:
        rules = spec.upload
        if rules is None:  # pragma: no cover - is_file implies an Upload
            return MISSING
        files = [v for v in raw if isinstance(v, UploadFile) and (v.filename or v.size)]
        if any(isinstance(v, str) and v for v in raw):
            errors.setdefault(spec.name, []).append("Expected a file, got text")
            return MISSING
        if not files:
            if spec.required:
                errors.setdefault(spec.name, []).append(REQUIRED)
                return MISSING
            return [] if spec.multiple and spec.default is MISSING else MISSING
        if not spec.multiple:
            files = files[-1:]
        if rules.max_files is not None and len(files) > rules.max_files:
            errors.setdefault(spec.name, []).append(
                f"Send at most {rules.max_files} file{'s' if rules.max_files != 1 else ''}"
            )
            return MISSING
        checked = []
        for upload in files:
            try:
                checked.append(check_upload(upload, rules, spec.is_image))
            except UploadError as exc:
                errors.setdefault(spec.name, []).append(f"{upload.filename or 'file'}: {exc}")
        if spec.name in errors:
            return MISSING
        return checked if spec.multiple else checked[0]

    def full_clean(self) -> None:
        """Validate the bound data with the schema; fills :attr:`errors` and :attr:`data`."""
        errors: dict[str, list[str]] = {}
        self._data = None
        if self._raw is None:
            self._errors = {}
            return
        values = self.input_values(errors)
        try:
            data = self.schema.model_validate(values)
        except pydantic.ValidationError as exc:
            for error in exc.errors(include_url=False):
                loc = error["loc"]
                name = str(loc[0]) if loc else FORM_ERRORS
                if name not in self.specs:
                    name = FORM_ERRORS
                elif name in errors and error["type"] == "missing":
                    continue  # already said: required, or a file that was refused
                errors.setdefault(name, []).append(_message(error))
        else:
            if not errors:
                self._data = data
        self._errors = errors
        if self._data is not None:
            self.clean(self._data)
            if self._errors:
                self._data = None

    def clean(self, data: Any) -> None:
        """Checks of your own once the data is valid; call :meth:`add_error` to refuse it.

        Cross-field rules usually belong in the model (``@model_validator``);
        this hook is for what needs the form (its request, its instance).
        """

    # -- rendering ----------------------------------------------------------------
    @property
    def renderer(self) -> jinja2.Environment | None:
        """The Jinja environment that draws the form: the app's when bound to a request
        (so an app's ``templates/forms/...`` override carboy's), else carboy.forms' own."""
        if self._renderer is not None:
            return self._renderer
        if self.request is not None:
            app = self.request.scope.get("app")
            templates = getattr(app, "templates", None)
            env = getattr(templates, "env", None)
            if isinstance(env, jinja2.Environment):
                return env
        return None

    def render_template(self, name: str, **context: Any) -> Markup:
        """Render one of the form's templates with ``form`` (and ``request``) in its context."""
        return render(self.renderer, name, {"form": self, "request": self.request, **context})

    def render(self) -> Markup:
        """The form's fields, errors first (``{{ form }}``): no ``<form>`` tag, no button."""
        return self.render_template(self.template)

    def __html__(self) -> str:
        return str(self.render())

    def __str__(self) -> str:
        return str(self.render())

    @property
    def enctype(self) -> str:
        """``multipart/form-data`` when the form has a file field, else urlencoded."""
        if any(spec.is_file for spec in self.specs.values()):
            return "multipart/form-data"
        return "application/x-www-form-urlencoded"

    @property
    def errors_id(self) -> str:
        """The id of the form-wide errors box."""
        return f"{self.prefix}-errors" if self.prefix else "form-errors"

    # -- live validation (htmx) ----------------------------------------------------
    @property
    def live_url(self) -> str | None:
        """Where a field's value is sent to be checked as it is typed (None: no live checks)."""
        if self._live_url is not None:
            return self._live_url
        if self.live_route is not None and self.request is not None:
            return self.request.url_for(self.live_route)
        return None

    def live_attrs(self, field: BoundField) -> dict[str, Any]:
        """The htmx attributes of ``field``'s control when live validation is on."""
        url = self.live_url
        if url is None or field.readonly or field.spec.is_file or field.widget.hides_value:
            return {}
        typing = field.widget.input_type not in ("checkbox", "radio") and not field.widget.choices
        return {
            "hx-post": url,
            "hx-trigger": "input changed delay:400ms, change" if typing else "change",
            "hx-target": f"#{field.row_id}",
            "hx-swap": "outerHTML",
            "hx-include": "closest form",
            "hx-sync": "closest form:abort" if not typing else "this:replace",
        }

    def live_field(self) -> BoundField:
        """The field whose control asked for a live check (htmx's ``HX-Trigger-Name``).

        Raises:
            HTTPException: 400 when the request names no field of this form.
        """
        name = self.request.htmx.trigger_name if self.request is not None else None
        for field in self:
            if field.html_name == name:
                return field
        raise HTTPException(400, f"No field {name!r} in this form to check")

    def live_response(self) -> HTMLResponse:
        """The checked field's row, drawn again with its errors: answer an htmx live check.

        Example:
            >>> @app.post("/contact/check")
            ... async def check(form: ContactForm) -> HTMLResponse:
            ...     return form.live_response()
        """
        field = self.live_field()
        return HTMLResponse(str(field.render()), status_code=200)

    def __repr__(self) -> str:
        state = "unbound" if not self.is_bound else ("valid" if self.is_valid else "invalid")
        return f"<{type(self).__qualname__} {state}>"


def _normalize(data: MultiDict | Mapping[str, Any] | None) -> dict[str, list[Any]] | None:
    if data is None:
        return None
    getlist = getattr(data, "getlist", None)
    if callable(getlist):
        return {key: list(getlist(key)) for key in dict.fromkeys(data.keys())}
    normalized: dict[str, list[Any]] = {}
    for key, value in data.items():
        if isinstance(value, list | tuple):
            normalized[str(key)] = list(value)
        else:
            normalized[str(key)] = [value]
    return normalized


def _refused_message(exc: HTTPException) -> str:
    detail = exc.detail if isinstance(exc.detail, str) else "The form could not be read"
    if exc.status_code == 413:
        return f"The form was too large to accept ({detail}). Nothing was saved."
    if exc.status_code == 415:
        return f"The form was not sent as a form ({detail}). Nothing was saved."
    return f"The form could not be read ({detail}). Nothing was saved."


class Form(BaseForm, Generic[T]):
    """The HTML form of a pydantic model: ``Form[Contact]``, or a subclass of it.

    Its fields are the model's fields, its validation the model's own; a
    subclass sets the options of :class:`BaseForm` (templates, fieldsets,
    widgets, labels...). In a handler, a parameter typed with the form is
    the form of that request (install :class:`~carboy.forms.Forms`).

    Example:
        >>> from pydantic import BaseModel, EmailStr
        >>> class Contact(BaseModel):
        ...     name: str
        ...     email: EmailStr
        >>> form = Form[Contact]({"name": "Ada", "email": "ada@example.com"})
        >>> form.is_valid, form.data.name
        (True, 'Ada')
    """

    _parametrized: ClassVar[dict[type[BaseModel], type[Form[Any]]]] = {}

    def __class_getitem__(cls, params: Any) -> Any:
        # Form[Contact] is a real subclass (as pydantic's generic models are), so it can be
        # injected, rendered and subclassed; a type variable keeps typing's own alias.
        if isinstance(params, type) and issubclass(params, BaseModel) and cls is Form:
            made = cls._parametrized.get(params)
            if made is None:
                made = type(f"Form[{params.__qualname__}]", (Form,), {"schema": params})
                made.__module__ = params.__module__
                cls._parametrized[params] = made
            return made
        return super().__class_getitem__(params)  # type: ignore[misc]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        schema = cls.__dict__.get("schema")
        if schema is None:
            for base in cls.__mro__[1:]:
                if isinstance(base.__dict__.get("schema"), type):
                    schema = base.__dict__["schema"]
                    break
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            cls.schema = schema
            cls.specs = compile_fields(schema)
            _check_options(cls)

    if TYPE_CHECKING:

        @property
        def data(self) -> T:
            """The validated data: an instance of the model."""
            ...


def _check_options(cls: type[BaseForm]) -> None:
    for option in ("readonly_fields", "widgets", "labels", "help_texts"):
        for name in getattr(cls, option):
            if name not in cls.specs:
                raise TypeError(
                    f"{cls.__qualname__}.{option} names {name!r}, which is not one of its "
                    f"fields ({', '.join(cls.specs)})"
                )
    for _, names in cls.fieldsets or ():
        for name in names:
            if name not in cls.specs:
                raise TypeError(
                    f"{cls.__qualname__}.fieldsets names {name!r}, which is not one of its fields"
                )
    for name, widget in cls.widgets.items():
        spec = cls.specs[name]
        if isinstance(widget, HiddenInput) and spec.required and spec.is_file:
            raise TypeError(f"{cls.__qualname__}: file field {name!r} cannot be hidden")
