"""One reused JSON encoder and decoder for the whole framework.

Dates and times have one format on every path (docs/responses.md, "Dates and
times"): RFC 3339 with six fractional digits and an offset always written,
``2024-01-01T09:30:00.000000Z`` -- UTC as ``Z``, a naive datetime taken as
UTC, another offset kept (``+05:30``). msgspec writes datetimes natively,
without calling a hook, and differently (no fraction when it is zero, no
offset when naive), so :func:`dumps` checks its output and re-encodes the rare
body that holds a datetime msgspec did not write this way; pydantic models are
serialized with a copy of their schema whose datetimes use the same format
(:func:`pydantic_serializer`).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import functools
import re
import types
import typing
import uuid
from collections import abc
from collections.abc import Callable
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
from pydantic import BaseModel, TypeAdapter
from pydantic_core import SchemaSerializer, core_schema

_TEMPORAL = (datetime.datetime, datetime.time)
_MINUTE = datetime.timedelta(minutes=1)
_ANY_DATE = datetime.date(2000, 1, 1)


def format_datetime(value: datetime.datetime) -> str:
    """``value`` in carboy's JSON format: ``2024-01-01T09:30:00.000000Z``.

    Six fractional digits always; UTC (any zero offset, and a naive value,
    taken as UTC) as ``Z``; another offset as ``+05:30``. An offset that is no
    whole number of minutes (historical local mean time), which RFC 3339
    cannot write, is converted to UTC.
    """
    offset = value.utcoffset()
    if offset is None:
        return value.isoformat(timespec="microseconds") + "Z"
    if not offset or offset % _MINUTE:
        return (value.replace(tzinfo=None) - offset).isoformat(timespec="microseconds") + "Z"
    return value.isoformat(timespec="microseconds")


def format_time(value: datetime.time) -> str:
    """A time of day: ``09:30:00.000000``, with its offset (``Z``, ``+05:30``) when it has one.

    A naive time stays naive: a wall-clock time ("opens at 09:00") has no date
    to place it in UTC.
    """
    offset = value.utcoffset()
    if offset is None:
        return value.isoformat(timespec="microseconds")
    if not offset or offset % _MINUTE:
        moment = datetime.datetime.combine(_ANY_DATE, value.replace(tzinfo=None)) - offset
        return moment.time().isoformat(timespec="microseconds") + "Z"
    return value.isoformat(timespec="microseconds")


# -- pydantic: the model's own serializer, with carboy's datetimes ------------------------

# Keys of a core schema that hold user values or settings, not schemas.
_NOT_SCHEMAS = frozenset({"metadata", "default", "expected", "members", "config", "function"})


def _any_json(value: Any, handler: core_schema.SerializerFunctionWrapHandler) -> Any:
    return handler(_plain_temporal(value))


_DATETIME_JSON = core_schema.plain_serializer_function_ser_schema(
    format_datetime, return_schema=core_schema.str_schema(), when_used="json"
)
_TIME_JSON = core_schema.plain_serializer_function_ser_schema(
    format_time, return_schema=core_schema.str_schema(), when_used="json"
)
_ANY_JSON = core_schema.wrap_serializer_function_ser_schema(_any_json, when_used="json")
_ANY = core_schema.any_schema(serialization=_ANY_JSON)
# The schemas pydantic serializes by looking at the value ("inference", so with its
# own datetime format) get _ANY_JSON, which writes datetimes first. A PlainValidator
# ("function-plain") is one.
_ADDED = {
    "datetime": _DATETIME_JSON,
    "time": _TIME_JSON,
    "any": _ANY_JSON,
    "function-plain": _ANY_JSON,
}


def _stand_ins(schema: Any, models: dict[str, type]) -> None:
    """Name stand-ins for the models of a retimed copy (see :func:`_stand_in`), in place.

    Every model: one whose own fields did not change may still reach one that did
    through a ``definition-ref``.
    """
    if isinstance(schema, list | tuple):
        for item in schema:
            _stand_ins(item, models)
    elif isinstance(schema, dict):
        for key, value in schema.items():
            if key not in _NOT_SCHEMAS:
                _stand_ins(value, models)
        kind = schema.get("type")
        if kind == "model" and not isinstance(schema["cls"], _InstancesOf):
            schema["cls"] = _stand_in(schema["cls"])
        elif kind == "union":
            schema["choices"] = _subclasses_first(schema["choices"], models)


def _retimed(schema: Any, models: dict[str, type]) -> tuple[Any, bool]:
    """A copy of a pydantic core schema whose datetimes and times serialize to JSON
    in carboy's format, and whether anything changed. ``models``: ref -> model class."""
    if isinstance(schema, list | tuple):
        items = [_retimed(item, models) for item in schema]
        return type(schema)(item for item, _ in items), any(changed for _, changed in items)
    if not isinstance(schema, dict):
        return schema, False
    out: dict[str, Any] = {}
    changed = False
    for key, value in schema.items():
        if key in _NOT_SCHEMAS:
            out[key] = value
        elif key == "serialization":
            out[key], changed_here = _retimed_serializer(value, models)
            changed = changed or changed_here
        else:
            out[key], changed_here = _retimed(value, models)
            changed = changed or changed_here
    kind = out.get("type")
    if "serialization" not in out and kind in _ADDED:
        out["serialization"] = _ADDED[kind]
        changed = True
    return out, changed


def _retimed_serializer(
    serializer: dict[str, Any], models: dict[str, type]
) -> tuple[dict[str, Any], bool]:
    """A schema's own ``serialization`` (a user's serializer), retimed where it infers."""
    out = dict(serializer)
    changed = False
    for key in ("schema", "return_schema"):
        if key in out:
            out[key], changed_here = _retimed(out[key], models)
            changed = changed or changed_here
    if out.get("type") in ("function-plain", "function-wrap") and "return_schema" not in out:
        # pydantic would infer the format of what the user's function returns.
        out["return_schema"] = _ANY
        changed = True
    return out, changed


def _model_refs(schema: Any, found: dict[str, type]) -> dict[str, type]:
    """Every model of a core schema by its ref."""
    if isinstance(schema, list | tuple):
        for item in schema:
            _model_refs(item, found)
    elif isinstance(schema, dict):
        if schema.get("type") == "model" and "ref" in schema:
            found[schema["ref"]] = schema["cls"]
        for key, value in schema.items():
            if key not in _NOT_SCHEMAS:
                _model_refs(value, found)
    return found


def _subclasses_first(choices: list[Any], models: dict[str, type]) -> list[Any]:
    """A union's choices with each model before the models it subclasses.

    pydantic first looks for a choice of the value's exact type; a stand-in is no
    exact type, so the first choice the value is an instance of wins, and a ``Cat``
    must not be sent as the ``Animal`` listed before it.
    """

    def model_of(choice: Any) -> type | None:
        schema = choice[0] if isinstance(choice, tuple) else choice
        if schema.get("type") == "definition-ref":
            return models.get(schema["schema_ref"])
        cls = schema.get("cls") if schema.get("type") == "model" else None
        return getattr(cls, "_model", cls)

    classes = [model_of(choice) for choice in choices]
    found = [cls for cls in classes if cls is not None]

    def depth(cls: type | None) -> int:
        return 0 if cls is None else -sum(cls is not c and issubclass(cls, c) for c in found)

    order = sorted(range(len(choices)), key=lambda i: depth(classes[i]))
    return [choices[i] for i in order]


class _InstancesOf(type):
    """The type of a model's stand-in: any instance of the model is an instance of it."""

    _model: type

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls._model)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, cls._model)


@functools.cache
def _stand_in(model: type) -> type:
    """A stand-in for ``model`` in a retimed schema.

    pydantic-core serializes a nested model with the model's own prebuilt
    serializer (its datetime format) whenever the schema names the model class
    itself, so a retimed schema names this look-alike instead. It serializes the
    same fields: pydantic reads them from the instance.
    """
    namespace: dict[str, Any] = {"_model": model}
    descriptor_fields = getattr(model, "__pydantic_descriptor_fields__", None)
    if descriptor_fields is not None:
        namespace["__pydantic_descriptor_fields__"] = descriptor_fields
    return _InstancesOf(model.__name__, (), namespace)


def pydantic_serializer(adapter: TypeAdapter[Any]) -> SchemaSerializer:
    """``adapter``'s serializer, writing datetimes and times in carboy's format (to JSON).

    Types that hold no datetime, time or inferred value keep pydantic's own.
    """
    models = _model_refs(adapter.core_schema, {})
    schema, changed = _retimed(adapter.core_schema, models)
    if not changed:
        return adapter.serializer
    _stand_ins(schema, models)
    return SchemaSerializer(schema)


@functools.cache
def _model_serializer(model: type) -> SchemaSerializer:
    return pydantic_serializer(TypeAdapter(model))


def _plain_temporal(value: Any) -> Any:
    """``value`` for pydantic to infer, its datetimes and times already written as text."""
    if isinstance(value, datetime.datetime):
        return format_datetime(value)
    if isinstance(value, datetime.time):
        return format_time(value)
    if isinstance(value, dict):
        return {_plain_temporal(k): _plain_temporal(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain_temporal(item) for item in value]
    if isinstance(value, BaseModel) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    ):
        return _model_serializer(type(value)).to_python(value, mode="json", by_alias=True)
    if isinstance(value, msgspec.Struct):
        return jsonable(value)
    return value


# -- msgspec -------------------------------------------------------------------------


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return _model_serializer(type(obj)).to_python(obj, mode="json", by_alias=True)
    if isinstance(obj, set | frozenset):
        return list(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)

#: msgspec alone, for values that provably hold no datetime or time (see :func:`dumps_for`).
encode = _encoder.encode

# msgspec writes a datetime or time as "HH:MM:SS", then at most ".ffffff" and an offset.
# Where that is not ".ffffffZ" it is not carboy's format (no fraction, no offset, or an
# offset it may have cut to the minute). A string that only looks like a time matches
# too: that costs a second pass, which leaves the string as it is.
#: ``not_ours(body)`` is not None when msgspec's ``body`` may need :func:`redo`.
not_ours = re.compile(rb':\d\d:\d\d(?!\.\d{6}Z")').search


def dumps(value: Any) -> bytes:
    """Encode any JSON-able value (dicts, lists, dataclasses, msgspec Structs, pydantic
    models, UUID, datetime, Decimal, Enum) to bytes, as responses write it.

    Public as ``carboy.encode_json``: for JSON a handler or a module sends by
    another way (a message broker, a cache) that must read like a response.

    Example:
        >>> encode_json({"at": datetime.datetime(2024, 1, 1)})
        b'{"at":"2024-01-01T00:00:00.000000Z"}'
    """
    body = _encoder.encode(value)
    return body if not_ours(body) is None else redo(value)


def redo(value: Any) -> bytes:
    """The second pass of :func:`dumps`: ``value`` with its datetimes written first."""
    return _encoder.encode(jsonable(value))


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (dict, list, str, numbers...), as :func:`dumps` writes it."""
    return _text_temporal(msgspec.to_builtins(value, builtin_types=_TEMPORAL, enc_hook=_enc_hook))


def _text_temporal(value: Any) -> Any:
    if isinstance(value, dict):
        return {_text_temporal(k): _text_temporal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):  # to_builtins keeps tuples (NamedTuples too)
        return [_text_temporal(item) for item in value]
    if isinstance(value, datetime.datetime):
        return format_datetime(value)
    if isinstance(value, datetime.time):
        return format_time(value)
    return value


def loads(data: bytes | str) -> Any:
    """Decode JSON bytes; raises ``msgspec.DecodeError`` on malformed input."""
    return _decoder.decode(data)


_decoder = msgspec.json.Decoder()
DecodeError = msgspec.DecodeError


# -- which values need the check, decided once from a type ----------------------------------

# Types whose values msgspec writes without any datetime or time in them (and subclasses).
_PLAIN = (str, int, float, bytes, bytearray, decimal.Decimal, uuid.UUID, type(None))
_CONTAINERS = frozenset(
    {list, tuple, set, frozenset, dict}
    | {abc.Sequence, abc.MutableSequence, abc.Mapping, abc.MutableMapping, abc.Set}
)


def dumps_for(annotation: Any) -> Callable[[Any], bytes]:
    """The encoder for values of ``annotation`` (a return annotation, fixed at build):
    msgspec alone (:data:`encode`) when no value of that type can hold a datetime or
    time -- ``dict[str, str]``, ``list[int]`` -- else :func:`dumps`."""
    return dumps if _may_hold_temporal(annotation, set()) else encode


def _may_hold_temporal(annotation: Any, seen: set[Any]) -> bool:
    if annotation is None:
        return False
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return _may_hold_temporal(args[0], seen)
    if origin is Literal:
        return False  # Literal values are str, int, bool, bytes, Enum members or None
    if origin in (Union, types.UnionType):
        return any(_may_hold_temporal(arg, seen) for arg in args)
    if origin is not None:
        if origin in _CONTAINERS:
            return not args or any(
                _may_hold_temporal(arg, seen) for arg in args if arg is not Ellipsis
            )
        return True
    if not isinstance(annotation, type):
        return True  # Any, a TypeVar, a forward reference...
    if annotation in seen:
        return False  # a recursive type: its other fields decide
    seen.add(annotation)
    if issubclass(annotation, enum.Enum):
        return any(not isinstance(member.value, _PLAIN) for member in annotation)
    if issubclass(annotation, _PLAIN):
        return False
    if typing.is_typeddict(annotation):
        hints = typing.get_type_hints(annotation, include_extras=True)
        return any(_may_hold_temporal(hint, seen) for hint in hints.values())
    if issubclass(annotation, msgspec.Struct):
        return any(_may_hold_temporal(f.type, seen) for f in msgspec.structs.fields(annotation))
    return True
