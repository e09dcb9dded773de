"""A form's fields, read once from its pydantic model: widget, label, constraints, choices.

:func:`compile_fields` turns each field of the schema into a :class:`FieldSpec`
when the form class is made. The spec knows how the field is drawn (its
widget, HTML constraints and choices) and how the strings a browser sends
become the input pydantic validates; pydantic does the validation itself.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NamedTuple, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from carboy.datastructures import UploadFile
from carboy.forms._uploads import Upload, UploadedFile, UploadedImage
from carboy.forms._widgets import (
    Checkbox,
    FileInput,
    PasswordInput,
    Select,
    SelectMultiple,
    TextInput,
    Widget,
)

#: A field with no value (absent, or sent empty).
MISSING: Any = PydanticUndefined

_SEQUENCES = (list, tuple, set, frozenset, Sequence, typing.Sequence)
_CONSTRAINT_NAMES = (
    "max_length",
    "min_length",
    "ge",
    "gt",
    "le",
    "lt",
    "multiple_of",
    "pattern",
    "decimal_places",
)


class Choice(NamedTuple):
    """One option of a choice field: the string sent, the text shown, the Python value."""

    value: str
    label: str
    python: Any


def value_text(value: Any) -> str:
    """How a Python value is written in a form control (``date`` -> ``2024-05-01``...).

    Example:
        >>> value_text(dt.datetime(2024, 5, 1, 9, 30))
        '2024-05-01T09:30'
    """
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        return value_text(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        # What <input type="datetime-local"> shows: local wall time, minutes (seconds if set).
        text = value.replace(tzinfo=None).isoformat(timespec="seconds")
        return text[:-3] if text.endswith(":00") else text
    if isinstance(value, dt.time):
        text = value.replace(tzinfo=None).isoformat(timespec="seconds")
        return text[:-3] if text.endswith(":00") else text
    if isinstance(value, dt.date | decimal.Decimal):
        return str(value)
    if isinstance(value, SecretStr):
        return ""
    return str(value)


def _enum_label(member: enum.Enum) -> str:
    label = getattr(member, "label", None)
    if isinstance(label, str):
        return label
    return member.name.replace("_", " ").capitalize()


def choices_of(annotation: Any) -> list[Choice] | None:
    """The choices an ``Enum`` or ``Literal`` type allows, or None for other types.

    Example:
        >>> [c.value for c in choices_of(Literal["a", "b"])]
        ['a', 'b']
    """
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [Choice(value_text(m.value), _enum_label(m), m) for m in annotation]
    if get_origin(annotation) is Literal:
        return [Choice(value_text(v), str(v), v) for v in get_args(annotation)]
    return None


def _split_optional(annotation: Any) -> tuple[Any, bool]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) != len(get_args(annotation)) and len(args) == 1:
            return args[0], True
    return annotation, False


def _unwrap(annotation: Any, metadata: list[Any]) -> Any:
    """The type without ``Annotated``; its metadata (nested FieldInfos' too) go to ``metadata``."""
    while get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        for item in extra:
            metadata.append(item)
            if isinstance(item, FieldInfo):
                metadata.extend(item.metadata)
    return annotation


@dataclass(slots=True)
class FieldSpec:
    """One field of a form, as compiled from its pydantic model (once, per form class)."""

    name: str
    label: str
    help: str | None
    #: The type of one value (``list[X]`` gives ``X``), without ``Optional``.
    base: Any
    #: None is a valid value (``X | None``): an empty input becomes None.
    optional: bool
    #: The field's default (MISSING when it has none and is required).
    default: Any
    #: A ``list[...]`` of values.
    multiple: bool
    widget: Widget
    #: ``maxlength``, ``min``, ``step``... as HTML attributes.
    html_constraints: dict[str, Any] = field(default_factory=dict)
    choices: list[Choice] | None = None
    upload: Upload | None = None
    #: The type is a pydantic secret or the widget hides what was typed.
    secret: bool = False
    #: ``default`` is a factory (pydantic's ``default_factory``), called for each form.
    default_is_factory: bool = False

    def initial(self) -> Any:
        """The value an unbound form shows: the default (made anew by a factory), or MISSING."""
        if self.default_is_factory:
            return self.default()
        return self.default

    @property
    def required(self) -> bool:
        """Whether the field must be filled in (no default, None not allowed)."""
        return self.default is MISSING and not self.optional and not self.is_bool

    @property
    def is_bool(self) -> bool:
        """A single checkbox: unticked is False, never missing."""
        return self.base is bool and not self.multiple

    @property
    def is_file(self) -> bool:
        """An uploaded file (or several)."""
        return self.upload is not None

    @property
    def is_image(self) -> bool:
        """An uploaded image, checked with Pillow."""
        return isinstance(self.base, type) and issubclass(self.base, UploadedImage)

    # -- what the browser sent -> what pydantic validates --------------------
    def parse(self, raw: list[str | UploadFile]) -> Any:
        """The values a browser sent for this field, as pydantic's input (MISSING if none).

        Empty strings are no value, as a browser sends an empty input: the
        default, None for an optional field, else a missing-field error.
        Choices are matched by the string each option sends.
        """
        texts = [v for v in raw if isinstance(v, str)]
        if self.is_bool:
            return bool(texts) and texts[-1].strip().lower() not in ("", "false", "off", "0")
        if not self.secret and not isinstance(self.widget, PasswordInput):
            texts = [t.strip() for t in texts]
        texts = [t for t in texts if t != ""]
        if self.multiple:
            return [self._choice_value(t) for t in texts] if texts else self._empty(multi=True)
        if not texts:
            return self._empty(multi=False)
        return self._choice_value(texts[-1])

    def _empty(self, *, multi: bool) -> Any:
        if self.default is not MISSING:
            return MISSING  # pydantic fills the default in
        if self.optional:
            return None
        return [] if multi and not self.required else MISSING

    def _choice_value(self, text: str) -> Any:
        if self.choices:
            for choice in self.choices:
                if choice.value == text:
                    return choice.python
        return text

    def initial_text(self, value: Any) -> list[str]:
        """A Python value as the strings the control shows (one per value of a list)."""
        if value is MISSING or value is None:
            return []
        if self.multiple and isinstance(value, list | tuple | set | frozenset):
            return [value_text(v) for v in value]
        return [value_text(value)]


def _html_constraints(base: Any, metadata: list[Any], widget: Widget) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in metadata:
        for name in _CONSTRAINT_NAMES:
            value = getattr(item, name, None)
            if value is not None and name not in found:
                found[name] = value
    attrs: dict[str, Any] = {}
    if isinstance(widget, Select | Checkbox | FileInput) or widget.choices:
        return attrs
    text_like = base is str or base is SecretStr or not _is_number(base)
    if text_like:
        if "max_length" in found:
            attrs["maxlength"] = found["max_length"]
        if "min_length" in found:
            attrs["minlength"] = found["min_length"]
        pattern = found.get("pattern")
        if isinstance(pattern, str) and _html_pattern(pattern) is not None:
            attrs["pattern"] = _html_pattern(pattern)
        return attrs
    for python_name, html_name in (("ge", "min"), ("le", "max")):
        if python_name in found:
            attrs[html_name] = found[python_name]
    if "gt" in found and "min" not in attrs and base is int:
        attrs["min"] = found["gt"] + 1
    if "lt" in found and "max" not in attrs and base is int:
        attrs["max"] = found["lt"] - 1
    if "multiple_of" in found:
        attrs["step"] = found["multiple_of"]
    elif base is int:
        attrs["step"] = 1
    elif base is decimal.Decimal and "decimal_places" in found:
        attrs["step"] = str(decimal.Decimal(1).scaleb(-int(found["decimal_places"])))
    else:
        attrs["step"] = "any"
    return attrs


def _html_pattern(pattern: str) -> str | None:
    """A Python ``pattern`` as the HTML ``pattern`` attribute, or None when it does not carry over.

    HTML anchors the pattern at both ends itself and uses JavaScript's syntax;
    a pattern with Python-only syntax (named groups, inline flags) is checked
    on the server only.
    """
    if "(?P" in pattern or "(?i" in pattern or "(?x" in pattern or "(?s" in pattern:
        return None
    text = pattern
    if text.startswith("^"):
        text = text[1:]
    elif not text.startswith(".*"):
        text = ".*" + text
    if text.endswith("$") and not text.endswith("\\$"):
        text = text[:-1]
    elif not text.endswith(".*"):
        text = text + ".*"
    return text


def _is_number(base: Any) -> bool:
    return base in (int, float, decimal.Decimal)


def _default_widget(base: Any, multiple: bool, choices: list[Choice] | None) -> Widget:
    if isinstance(base, type) and issubclass(base, UploadedFile):
        return FileInput()
    if choices is not None:
        return SelectMultiple() if multiple else Select()
    if base is bool:
        return Checkbox()
    if base is SecretStr:
        return PasswordInput()
    return TextInput(input_type=_input_type(base))


def _input_type(base: Any) -> str:
    if base in (int, float, decimal.Decimal):
        return "number"
    if base is dt.datetime:
        return "datetime-local"
    if base is dt.date:
        return "date"
    if base is dt.time:
        return "time"
    name = getattr(base, "__name__", "")
    if name == "EmailStr" or name == "NameEmail":
        return "email"
    if name.endswith(("Url", "URL")):
        return "url"
    return "text"


def _label(name: str, info: FieldInfo) -> str:
    if info.title:
        return info.title
    return name.replace("_", " ").strip().capitalize()


def compile_field(name: str, info: FieldInfo) -> FieldSpec:
    """The :class:`FieldSpec` of one pydantic field.

    Raises:
        TypeError: For a type a form cannot send (a nested model, a dict).
    """
    metadata: list[Any] = list(info.metadata)
    annotation = _unwrap(info.annotation, metadata)
    annotation, optional = _split_optional(annotation)
    annotation = _unwrap(annotation, metadata)
    multiple = False
    origin = get_origin(annotation)
    if annotation in _SEQUENCES or origin in _SEQUENCES:
        multiple = True
        args = get_args(annotation)
        annotation = _unwrap(args[0] if args else str, metadata)
        annotation, _ = _split_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        raise TypeError(
            f"Field {name!r} is a nested model ({annotation.__name__}); an HTML form sends "
            "flat fields: give the form one field per value, or use a FormSet for rows"
        )
    if origin is dict or annotation is dict:
        raise TypeError(f"Field {name!r} is a dict; an HTML form sends flat fields")
    choices = choices_of(annotation)
    upload = next((m for m in metadata if isinstance(m, Upload)), None)
    is_upload = isinstance(annotation, type) and issubclass(annotation, UploadedFile)
    if is_upload and upload is None:
        upload = Upload()
    if upload is not None and not is_upload:
        raise TypeError(
            f"Field {name!r} has Upload(...) but its type is {annotation!r}: declare it "
            "UploadedFile or UploadedImage"
        )
    widget = next((m for m in metadata if isinstance(m, Widget)), None)
    if widget is None:
        widget = _default_widget(annotation, multiple, choices)
    if widget.choices and choices is None:
        choices = []  # filled in later (a foreign key's rows)
    if info.default_factory is not None:
        default: Any = info.default_factory
    else:
        default = MISSING if info.default is PydanticUndefined else info.default
    return FieldSpec(
        name=name,
        label=_label(name, info),
        help=info.description,
        base=annotation,
        optional=optional,
        default=default,
        multiple=multiple,
        widget=widget,
        html_constraints=_html_constraints(annotation, metadata, widget),
        choices=choices,
        upload=upload,
        secret=annotation is SecretStr or widget.hides_value,
        default_is_factory=info.default_factory is not None,
    )


def compile_fields(schema: type[BaseModel]) -> dict[str, FieldSpec]:
    """Every field of ``schema`` as a :class:`FieldSpec`, in declaration order."""
    fields: dict[str, FieldSpec] = {}
    for name, info in schema.model_fields.items():
        try:
            fields[name] = compile_field(name, info)
        except TypeError as exc:
            raise TypeError(f"{schema.__qualname__}: {exc}") from None
    return fields
