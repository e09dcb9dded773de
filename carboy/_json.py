"""One reused JSON encoder and decoder for the whole framework.

Dates and times have one format on every path (docs/responses.md, "Dates and
times"): RFC 3339 with six fractional digits and an offset always written,
``2024-01-01T09:30:00.000000Z`` -- UTC as ``Z``, a naive datetime taken as
UTC, another offset kept (``+05:30``). msgspec writes datetimes natively,
without calling a hook, and differently (no fraction when it is zero, no
offset when naive), so :func:`dumps` checks its output and re-encodes the rare
body that holds a datetime msgspec did not write this way; pydantic models are
serialized with a copy of their schema whose datetimes use the same format
(:func:`pydantic_serializer`, in :mod:`carboy._json_pydantic`, which loads
pydantic: this module does not, so neither does ``import carboy``).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import re
import sys
import types
import typing
import uuid
from collections import abc
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

import msgspec

from carboy._temporal import format_datetime, format_time

if TYPE_CHECKING:
    from pydantic import TypeAdapter
    from pydantic_core import SchemaSerializer

_TEMPORAL = (datetime.datetime, datetime.time)


def pydantic_base_model() -> type | None:
    """pydantic's ``BaseModel`` once pydantic is imported, else None, never importing it.

    No value or class can be a model before pydantic is imported, so while it
    is not, a check costs one dict lookup.
    """
    main = sys.modules.get("pydantic.main")
    return None if main is None else main.BaseModel


def is_pydantic_model(value: Any) -> bool:
    """True for an instance of a pydantic model, without importing pydantic."""
    base = pydantic_base_model()
    return base is not None and isinstance(value, base)


def pydantic_serializer(adapter: TypeAdapter[Any]) -> SchemaSerializer:
    """``adapter``'s serializer, writing datetimes and times in carboy's format (to JSON).

    Types that hold no datetime, time or inferred value keep pydantic's own.
    Loads :mod:`carboy._json_pydantic` (and so pydantic) on first use.
    """
    from carboy._json_pydantic import pydantic_serializer

    return pydantic_serializer(adapter)


# -- msgspec -------------------------------------------------------------------------


def _enc_hook(obj: Any) -> Any:
    if is_pydantic_model(obj):
        from carboy._json_pydantic import model_json

        return model_json(obj)
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
