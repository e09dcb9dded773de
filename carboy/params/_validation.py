"""Turning raw request values into typed ones, collecting every error."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

import msgspec

from carboy import _json
from carboy.exceptions import FieldError

if TYPE_CHECKING:
    import pydantic

Validator = Callable[[Any, list[str | int], list[FieldError]], Any]

_SEQUENCE_ORIGINS = (list, tuple, set, frozenset, typing.Sequence)


def is_optional(annotation: Any) -> bool:
    """True for ``X | None`` / ``Optional[X]``."""
    origin = get_origin(annotation)
    return origin in (Union, types.UnionType) and type(None) in get_args(annotation)


def strip_optional(annotation: Any) -> Any:
    """``X | None`` -> ``X`` (unions of several types are left as they are)."""
    if is_optional(annotation):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def is_sequence(annotation: Any) -> bool:
    """True for ``list[X]``, ``tuple[X, ...]``, ``set[X]`` (multi-valued query/header)."""
    annotation = strip_optional(annotation)
    return annotation in _SEQUENCE_ORIGINS or get_origin(annotation) in _SEQUENCE_ORIGINS


def is_struct(annotation: Any) -> bool:
    """True for a msgspec Struct class."""
    return isinstance(annotation, type) and issubclass(annotation, msgspec.Struct)


def is_model(annotation: Any) -> bool:
    """True for types read from the body without a marker: models, Structs, dataclasses."""
    annotation = strip_optional(annotation)
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return isinstance(annotation, type) and (
        issubclass(annotation, msgspec.Struct)
        or dataclasses.is_dataclass(annotation)
        or _is_pydantic_model_class(annotation)
    )


def _is_pydantic_model_class(annotation: type) -> bool:
    base = _json.pydantic_base_model()
    return base is not None and issubclass(annotation, base)


def _pydantic_errors(
    exc: pydantic.ValidationError, loc: list[str | int], errors: list[FieldError]
) -> None:
    for err in exc.errors(include_url=False):
        errors.append(FieldError([*loc, *err["loc"]], err["msg"], err["type"]))


def _struct_validator(annotation: type[msgspec.Struct]) -> Validator:
    """Validate a Struct field by field so every bad field is listed (msgspec stops at one)."""
    info = msgspec.inspect.type_info(annotation)
    fields = [(f.encode_name, f.required, f) for f in getattr(info, "fields", ())]
    hints = typing.get_type_hints(annotation, include_extras=True)

    def validate(value: Any, loc: list[str | int], errors: list[FieldError]) -> Any:
        if not isinstance(value, dict):
            errors.append(FieldError(loc or ["body"], "Input should be an object", "type_error"))
            return None
        before = len(errors)
        for wire_name, required, field in fields:
            if wire_name in value:
                try:
                    msgspec.convert(value[wire_name], hints.get(field.name, Any), strict=False)
                except msgspec.ValidationError as exc:
                    errors.append(FieldError([*loc, wire_name], str(exc), "value_error"))
            elif required:
                errors.append(FieldError([*loc, wire_name], "Field required", "missing"))
        if len(errors) > before:
            return None
        try:
            return msgspec.convert(value, annotation, strict=False)
        except msgspec.ValidationError as exc:
            errors.append(FieldError(loc or ["body"], str(exc), "value_error"))
            return None

    return validate


#: The range of a plain ``int`` from the request: what a 64-bit database column holds.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


@functools.cache
def _int64(upper: bool, lower: bool) -> Any:
    """``int`` bounded on each side the parameter does not bound itself."""
    from pydantic import Field

    if upper:  # the parameter declares its upper bound
        return Annotated[int, Field(ge=INT64_MIN)]
    if lower:  # ... or its lower one
        return Annotated[int, Field(le=INT64_MAX)]
    return Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]


def bounded_ints(annotation: Any, constraints: dict[str, Any] | None = None) -> Any:
    """``annotation`` with each plain ``int`` in it (``int | None``, ``list[int]``) made 64-bit.

    An integer from a path, query string, header or cookie that no database
    column could hold is a 422 here, never a driver error later; a parameter
    that declares a bound of its own (``Query(le=...)``) keeps it on that side.
    """
    declared = set(constraints or ())
    upper, lower = bool(declared & {"le", "lt"}), bool(declared & {"ge", "gt"})
    if annotation is int:
        if upper and lower:
            return int
        return _int64(upper, lower)
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = tuple(bounded_ints(arg, constraints) for arg in get_args(annotation))
        return Union[args]  # noqa: UP007
    if origin in _SEQUENCE_ORIGINS and get_args(annotation):
        # Constraints of a list apply to the list, not its items: items get the full range.
        args = tuple(bounded_ints(arg) for arg in get_args(annotation))
        return origin[args if len(args) > 1 else args[0]]
    return annotation


def make_validator(annotation: Any, constraints: dict[str, Any] | None = None) -> Validator | None:
    """A function that validates a value against ``annotation``, or None if any value goes.

    Built once per parameter at start-up (a pydantic ``TypeAdapter`` or a
    Struct validator); errors are appended, never raised, so one request
    reports every bad field.
    """
    if annotation in (str, Any, typing.Any) and not constraints:
        return None
    if is_struct(annotation) and not constraints:
        return _struct_validator(annotation)
    import pydantic

    annotation = bounded_ints(annotation, constraints)
    target: Any = (
        Annotated[annotation, pydantic.Field(**constraints)] if constraints else annotation
    )
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(target)

    def validate(value: Any, loc: list[str | int], errors: list[FieldError]) -> Any:
        try:
            return adapter.validate_python(value)
        except pydantic.ValidationError as exc:
            _pydantic_errors(exc, loc, errors)
            return None

    return validate
